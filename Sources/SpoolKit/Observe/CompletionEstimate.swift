import SpoolSystem

/// When a queued or running job is likely to finish (seed 003's "estimates completion time"):
/// from the recent durations of its type, how far a running job has got, and the queue ahead.
public struct CompletionEstimate: Sendable, Equatable {
    /// Seconds since the epoch.
    public let finishAt: Double
    /// The mean duration of the recent finished jobs of the type, and how many there were.
    public let typicalSeconds: Double
    public let sample: Int
    /// Queued jobs that run before this one (higher priority, or the same and earlier).
    public let ahead: Int
    public let workers: Int

    /// How many recent `done/` jobs of the type are read for their durations, at most.
    static let sampleSize = 50
    /// Queued files read to count the jobs ahead, at most (beyond, the order of arrival alone).
    static let queueReadLimit = 5000

    /// The estimate for `id`, or nil when it is not queued or running, or no job of its type
    /// has finished yet (nothing to go by).
    public static func estimate(for id: String, spool: Spool, now: Double = ProcessInfoLite.now())
        -> CompletionEstimate?
    {
        let listing = JobListing(spool: spool)
        let store = JobStore(spool: spool)
        guard let state = try? store.locate(id).state, state == .queued || state == .processing,
            let record = listing.summary(id: id, state: state).record
        else { return nil }
        let durations = recentDurations(of: record.type, listing: listing)
        guard !durations.isEmpty else { return nil }
        let typical = durations.reduce(0, +) / Double(durations.count)
        let workers = max(1, spool.configuration.workers)
        if state == .processing {
            let started = record.fields["startedAt"]?.stringValue.flatMap(Timestamp.parse) ?? now
            let elapsed = max(0, now - started)
            var remaining = max(0, typical - elapsed)
            if let progress = record.progress, progress > 0, progress < 100 {
                remaining = elapsed * Double(100 - progress) / Double(progress)
            }
            return CompletionEstimate(
                finishAt: now + remaining, typicalSeconds: typical, sample: durations.count, ahead: 0,
                workers: workers)
        }
        let ahead = jobsAhead(of: id, record: record, listing: listing)
        // The jobs ahead share the workers; then this one runs.
        let waiting = Double(ahead) / Double(workers) * typical
        let notBefore = max(now, record.notBefore ?? now)
        return CompletionEstimate(
            finishAt: max(now + waiting, notBefore) + typical, typicalSeconds: typical, sample: durations.count,
            ahead: ahead, workers: workers)
    }

    /// Durations of the most recent finished jobs of a type (ids made by `spool submit` sort
    /// by time; the last `sampleSize × 4` ids of `done/` are looked at).
    static func recentDurations(of type: String, listing: JobListing) -> [Double] {
        var durations: [Double] = []
        for id in listing.ids(in: .done).suffix(sampleSize * 4).reversed() {
            guard durations.count < sampleSize, let record = listing.summary(id: id, state: .done).record,
                record.type == type, let seconds = record.fields["durationSeconds"]?.doubleValue
            else { continue }
            durations.append(seconds)
        }
        return durations
    }

    /// Queued jobs dispatched before this one: higher priority, or the same and earlier arrival.
    static func jobsAhead(of id: String, record: JobRecord, listing: JobListing) -> Int {
        let directory = listing.layout.directory(.queued)
        let ids = listing.ids(in: .queued).filter { $0 != id }
        guard let mine = try? FileSystem.statusNotFollowing(directory + "/" + id + ".json") else { return ids.count }
        var ahead = 0
        for (index, other) in ids.enumerated() {
            guard let status = try? FileSystem.statusNotFollowing(directory + "/" + other + ".json") else { continue }
            let earlier = status.changeTimeNanoseconds < mine.changeTimeNanoseconds
            if index >= queueReadLimit {
                if earlier { ahead += 1 }
                continue
            }
            let priority = listing.summary(id: other, state: .queued).record?.priority ?? 0
            if priority > record.priority || (priority == record.priority && earlier) { ahead += 1 }
        }
        return ahead
    }

    /// `2026-11-23T17:50:00.000Z (in about 3 min; mean of the last 20 done jobs of its type: 12.3 s; 14 jobs ahead, 2 workers)`
    public func sentence(now: Double = ProcessInfoLite.now()) -> String {
        let seconds = max(0, finishAt - now)
        let within =
            seconds < 90
            ? "\(Int(seconds.rounded())) s"
            : seconds < 5400
                ? "\(Int((seconds / 60).rounded())) min"
                : "\(Int((seconds / 3600).rounded())) h"
        let mean = Double(Int(typicalSeconds * 10)) / 10
        return Timestamp.format(finishAt)
            + " (in about \(within); mean of the last \(sample) done job(s) of its type: \(mean) s; "
            + "\(ahead) job(s) ahead, \(workers) worker(s))"
    }
}
