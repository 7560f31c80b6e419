import Foundation
import SpoolSystem

/// The running record of a job started under group commit, on its way into `processing/`.
///
/// Starting a job rewrites its record (status running, attempt counted, owner named). The new
/// file may replace the claimed one only once its data is on stable storage, or a power cut could
/// leave the job's only file empty. Waiting for that flush before the handler starts would cost
/// every job one commit on the worker's thread; instead the handler starts at once (reading the
/// new record from the staged file) and a finishing thread publishes the record when its commit
/// is done. Until then the claim's own lock on the claimed file keeps recovery away, exactly as
/// between claim and start; it is held until the record has landed, or, if landing failed,
/// until the job has left `processing/`.
///
/// Every later rewrite of the job's record (progress, the outcome) waits for the landing first,
/// so an older record never lands over a newer one.
final class RecordLanding: @unchecked Sendable {
    enum State { case pending, landed, failed }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var state = State.pending
    private var claimLock: FileDescriptor?
    private var whenSettled: [@Sendable () -> Void] = []

    init(claimLock: FileDescriptor) {
        self.claimLock = claimLock
    }

    /// Blocks until the record has landed or landing has failed.
    @discardableResult
    func waitUntilSettled() -> State {
        condition.lock()
        defer { condition.unlock() }
        while state == .pending { condition.wait() }
        return state
    }

    /// Runs `action` once the landing has settled (at once if it has): on the thread that
    /// settles it, the committer's, so `action` must only hand work on.
    func afterSettling(_ action: @escaping @Sendable () -> Void) {
        condition.lock()
        if state == .pending {
            whenSettled.append(action)
            condition.unlock()
            return
        }
        condition.unlock()
        action()
    }

    /// The new record is in `processing/`: the claimed file's lock has done its work.
    func landed() { settle(.landed, releasingClaim: true) }

    /// The new record could not be published: the claimed file stays, still locked, until the
    /// job moves on (`jobLeftProcessing`).
    func failed() { settle(.failed, releasingClaim: false) }

    /// The job has left `processing/`: nothing is left for the claim's lock to protect.
    func jobLeftProcessing() {
        condition.lock()
        let lock = claimLock
        claimLock = nil
        condition.unlock()
        lock?.close()
    }

    private func settle(_ outcome: State, releasingClaim: Bool) {
        condition.lock()
        state = outcome
        let lock = releasingClaim ? claimLock : nil
        if releasingClaim { claimLock = nil }
        let actions = whenSettled
        whenSettled = []
        condition.broadcast()
        condition.unlock()
        lock?.close()
        for action in actions { action() }
    }
}
