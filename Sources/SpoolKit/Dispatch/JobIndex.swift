import SpoolSystem

/// What dispatch needs to know of a queued job, read once when it arrives.
public struct IndexEntry: Sendable, Equatable {
    public let id: String
    public let type: String
    public let priority: Int
    /// Arrival in `queued/` (the file's ctime, nanoseconds): FIFO order within a priority.
    public let arrival: Int64
    /// Not before this time (seconds since the epoch), for retries waiting out their backoff.
    public let notBefore: Double?

    public init(id: String, type: String, priority: Int, arrival: Int64, notBefore: Double? = nil) {
        self.id = id
        self.type = type
        self.priority = priority
        self.arrival = arrival
        self.notBefore = notBefore
    }

    /// Dispatch order: higher priority first, then earlier arrival, then id.
    static func runsBefore(_ lhs: IndexEntry, _ rhs: IndexEntry) -> Bool {
        if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
        if lhs.arrival != rhs.arrival { return lhs.arrival < rhs.arrival }
        return lhs.id < rhs.id
    }
}

/// The in-memory dispatch index of one processor: a heap of ready jobs per type (so a type at
/// its concurrency limit never blocks others), and a heap of jobs waiting for their `notBefore`.
/// Taking the next job costs O(types + log n), whatever the queue's length.
public struct JobIndex: Sendable {
    private var readyByType: [String: Heap<IndexEntry>] = [:]
    private var delayed = Heap<IndexEntry>(by: { ($0.notBefore ?? 0) < ($1.notBefore ?? 0) })
    private var known = Set<String>()
    private var countByType: [String: Int] = [:]

    public init() {}

    /// Jobs indexed (ready or delayed) whose type `isCounted` accepts.
    public func count(where isCounted: (String) -> Bool) -> Int {
        countByType.reduce(0) { $0 + (isCounted($1.key) ? $1.value : 0) }
    }

    /// Jobs indexed, ready or delayed.
    public var count: Int { known.count }
    public var isEmpty: Bool { known.isEmpty }

    public func contains(_ id: String) -> Bool { known.contains(id) }

    /// Adds a job; returns false when the id is already indexed.
    @discardableResult
    public mutating func insert(_ entry: IndexEntry, now: Double) -> Bool {
        guard known.insert(entry.id).inserted else { return false }
        countByType[entry.type, default: 0] += 1
        if let notBefore = entry.notBefore, notBefore > now {
            delayed.insert(entry)
        } else {
            readyByType[entry.type, default: Heap(by: IndexEntry.runsBefore)].insert(entry)
        }
        return true
    }

    /// The earliest time a delayed job becomes due, if any wait.
    public var nextDueTime: Double? { delayed.first?.notBefore }

    /// Moves delayed jobs whose time has come to the ready heaps.
    public mutating func promoteDue(now: Double) {
        while let first = delayed.first, (first.notBefore ?? 0) <= now {
            let entry = delayed.removeFirst()!
            readyByType[entry.type, default: Heap(by: IndexEntry.runsBefore)].insert(entry)
        }
    }

    /// Removes and returns the job to run next among the types `isEligible` allows.
    public mutating func removeNext(where isEligible: (String) -> Bool) -> IndexEntry? {
        var bestType: String?
        var best: IndexEntry?
        for (type, heap) in readyByType where isEligible(type) {
            guard let head = heap.first else { continue }
            if best == nil || IndexEntry.runsBefore(head, best!) {
                best = head
                bestType = type
            }
        }
        guard let bestType else { return nil }
        let entry = readyByType[bestType]!.removeFirst()!
        if readyByType[bestType]!.isEmpty { readyByType[bestType] = nil }
        known.remove(entry.id)
        countByType[entry.type, default: 1] -= 1
        if countByType[entry.type] == 0 { countByType[entry.type] = nil }
        return entry
    }

    /// Number of jobs ready to run now.
    public var readyCount: Int { readyByType.values.reduce(0) { $0 + $1.count } }

    /// Among jobs whose type `isCounted` accepts: how many are ready or due by `horizon`
    /// (seconds since the epoch), how many only later, and the earliest of those later times.
    /// Call `promoteDue` first.
    public func outlook(horizon: Double, where isCounted: (String) -> Bool)
        -> (dueBy: Int, later: Int, earliestLater: Double?)
    {
        var dueBy = readyByType.reduce(0) { $0 + (isCounted($1.key) ? $1.value.count : 0) }
        var later = 0
        var earliestLater: Double?
        for entry in delayed.storage where isCounted(entry.type) {
            let time = entry.notBefore ?? 0
            if time <= horizon {
                dueBy += 1
            } else {
                later += 1
                earliestLater = min(earliestLater ?? time, time)
            }
        }
        return (dueBy, later, earliestLater)
    }
}
