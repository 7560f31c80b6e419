import SpoolSystem

/// Counts of what one `spool run` did, printed when it exits.
public struct RunSummary: Sendable, Equatable {
    public var done = 0
    public var failed = 0
    public var cancelled = 0
    public var retried = 0
    public var rejected = 0
    public var interrupted = 0
    public var recovered = 0
    /// Jobs sent to another spool by a route, and forwarded jobs whose outcome came back.
    public var forwarded = 0
    public var returned = 0
    public var seconds = 0.0
    /// A drain that ended with jobs in `queued/`: how many, and the earliest time one is due
    /// (nil when all are due but were not started; see `storageRefusal`).
    public var leftQueued = 0
    public var earliestLeft: Double?
    /// Why a drain gave up while the storage refused writes (what it answered), if it did.
    public var storageRefusal: String?

    public init() {}

    public var finished: Int { done + failed }

    public var sentence: String {
        var parts = ["\(done) done", "\(failed) failed"]
        if cancelled > 0 { parts.append("\(cancelled) cancelled") }
        if retried > 0 { parts.append("\(retried) retried") }
        if rejected > 0 { parts.append("\(rejected) rejected") }
        if interrupted > 0 { parts.append("\(interrupted) put back in the queue") }
        if recovered > 0 { parts.append("\(recovered) recovered") }
        if forwarded > 0 { parts.append("\(forwarded) forwarded") }
        if returned > 0 { parts.append("\(returned) returned") }
        let rate = seconds > 0 ? Double(finished) / seconds : 0
        let secondsText = String(Double(Int(seconds * 100)) / 100)
        return "processed \(finished) jobs in \(secondsText) s (\(Int(rate)) jobs/s): " + parts.joined(separator: ", ")
    }
}
