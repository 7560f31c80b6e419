import Dispatch
import Foundation
import SpoolJSON
import SpoolKit
import SpoolSystem
import Synchronization

/// A producer on a dedicated thread that keeps dropping job files into a queue while a
/// processor runs: each file is written in a staging directory and renamed into `queued/`, as
/// a producer should. How many jobs should exist by now is the caller's rule: a steady rate
/// (background load) or "what finished plus a backlog" (a sustained run).
final class JobStream: Sendable {
    private let queued: String
    private let staging: String
    private let prefix: String
    private let contents: [UInt8]
    /// How many jobs should have been made `elapsed` seconds after the start.
    private let target: @Sendable (_ elapsed: Double) -> Int
    /// Seconds between two looks at the target.
    private let interval: Double
    private let stopRequested = Atomic<Bool>(false)
    private let made = Atomic<Int>(0)
    private let failure = Mutex<String?>(nil)
    private let finished = DispatchGroup()

    init(
        queued: String, staging: String, prefix: String, contents: [UInt8], interval: Double = 0.002,
        target: @escaping @Sendable (_ elapsed: Double) -> Int
    ) {
        self.interval = interval
        self.queued = queued
        self.staging = staging
        self.prefix = prefix
        self.contents = contents
        self.target = target
    }

    /// A stream of `rate` jobs per second.
    convenience init(queued: String, staging: String, prefix: String, contents: [UInt8], rate: Double) {
        self.init(queued: queued, staging: staging, prefix: prefix, contents: contents) { Int($0 * rate) }
    }

    /// Starts the producing thread.
    func start() throws(BenchmarkFailure) {
        try systemCall { () throws(SystemError) in try FileSystem.makeDirectory(staging) }
        finished.enter()
        let thread = Thread { [self] in
            produce()
            finished.leave()
        }
        thread.name = "spool-bench-stream"
        thread.start()
    }

    /// Jobs made so far.
    var count: Int { made.load(ordering: .relaxed) }

    /// Stops the thread and waits for it; returns the jobs made, or fails if it could not
    /// write one.
    @discardableResult
    func stop() throws(BenchmarkFailure) -> Int {
        stopRequested.store(true, ordering: .relaxed)
        finished.wait()
        if let message = failure.withLock({ $0 }) { throw BenchmarkFailure("job stream: \(message)") }
        return count
    }

    private func produce() {
        let began = ProcessInfoLite.monotonicNow()
        var index = 0
        while !stopRequested.load(ordering: .relaxed) {
            let due = target(ProcessInfoLite.monotonicNow() - began)
            while index < due && !stopRequested.load(ordering: .relaxed) {
                let file = "/" + JobFiles.name(prefix, index) + ".json"
                do {
                    try FixtureFiles.create(staging + file, contents: contents)
                    try FixtureFiles.move(staging + file, to: queued + file)
                } catch {
                    failure.withLock { $0 = error.description }
                    return
                }
                index += 1
                made.store(index, ordering: .relaxed)
            }
            ProcessInfoLite.sleep(seconds: interval)
        }
    }
}
