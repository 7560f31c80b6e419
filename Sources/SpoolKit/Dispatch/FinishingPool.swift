import Foundation
import SpoolSystem

/// Threads that finish jobs whose handlers have ended (record the outcome, publish the result,
/// move the job on) while the worker that ran the handler goes on to the next job.
///
/// Under group commit a finish waits for two commits (the outcome record's data, then the move's
/// directories). A worker waiting for them would leave its slot idle for two flushes per job, and
/// with only a few workers a group would never hold more than a few transitions. Handed over
/// here, the finishes of many jobs wait side by side, so one flush covers all of them, and the
/// workers keep running handlers. Nothing is reported earlier: a finish reports the job (event
/// journal, waiters, dependents, batch parent, notifications) only after its commit, as before.
///
/// At most `capacity` finishes wait here; a worker handing over one more blocks until one ends,
/// so a slow disk slows the workers down instead of letting finished jobs pile up in memory.
final class FinishingPool: @unchecked Sendable {
    typealias Work = @Sendable () -> Void

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var waiting: [Work] = []
    private var waitingStart = 0
    /// Finishes handed over and not yet ended (waiting or being run).
    private var unfinished = 0
    private var stopping = false
    private var threadsRunning = 0
    /// Threads waiting for something other than work (space, emptiness, the end of the
    /// threads). While there are none, one hand-over wakes one idle thread, not all of them.
    private var otherWaiters = 0

    let capacity: Int

    /// `threads` finishes run at once; up to `capacity` are accepted before `submit` blocks.
    init(threads: Int, capacity: Int) {
        let threadCount = max(1, threads)
        self.capacity = max(threadCount, capacity)
        for number in 0..<threadCount {
            threadsRunning += 1
            let thread = Thread { [self] in serve() }
            thread.name = "spool-finish-\(number)"
            thread.start()
        }
    }

    /// The pool a processor with `workers` workers uses: enough finishes at once to fill a
    /// commit group while the workers run the next handlers.
    static func forWorkers(_ workers: Int) -> FinishingPool {
        // 32 measured best with 2 workers on ext4 with a journal (16 and 64 slightly slower).
        let threads = min(64, max(32, 4 * workers))
        return FinishingPool(threads: threads, capacity: 4 * threads)
    }

    /// Hands `work` to a finishing thread; blocks while `capacity` finishes are unfinished.
    func submit(_ work: @escaping Work) {
        condition.lock()
        otherWaiters += 1
        while unfinished >= capacity && !stopping { condition.wait() }
        otherWaiters -= 1
        unfinished += 1
        waiting.append(work)
        if otherWaiters == 0 { condition.signal() } else { condition.broadcast() }
        condition.unlock()
    }

    /// Lets the threads end once every finish handed over has run, and waits for them.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        otherWaiters += 1
        while threadsRunning > 0 { condition.wait() }
        otherWaiters -= 1
        condition.unlock()
    }

    private func serve() {
        condition.lock()
        while true {
            while waitingStart == waiting.count && !stopping { condition.wait() }
            if waitingStart == waiting.count {
                threadsRunning -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let work = waiting[waitingStart]
            waitingStart += 1
            // Drop taken entries once they outnumber the bound, so the array never grows past it.
            if waitingStart == waiting.count || waitingStart > capacity {
                waiting.removeFirst(waitingStart)
                waitingStart = 0
            }
            condition.unlock()
            work()
            condition.lock()
            unfinished -= 1
            if otherWaiters > 0 { condition.broadcast() }
        }
    }
}
