import Foundation
import Glibc
import SpoolSystem
import Testing

/// Lock files of processors that are gone (issue 21): `processors/NAME.lock` of a processor killed
/// with -9 is removed by the next processor's recovery pass and by `fsck --repair`, and reported by
/// `fsck`; one whose lock is still held (by its handlers, or here by the test) is never touched.
@Suite("Dead processors' lock files")
struct DeadProcessorLockTests {
    static let configuration = #"{"handlers": {"noop": {"builtin": "noop"}}}"#

    /// The lock files in processors/ (dot files such as .recovery.lock are no processor's).
    static func lockFiles(_ spool: TestSpool) -> [String] {
        spool.names(in: "processors").filter { $0.hasSuffix(".lock") }
    }

    /// Starts `spool run`, waits until it is ready (its lock file there, every dead processor's
    /// gone after its first recovery pass), kills it with SIGKILL; the name of its lock file.
    static func killedProcessor(_ spool: TestSpool) throws -> String {
        let before = Set(lockFiles(spool))
        let processor = try spool.startProcessor()
        #expect(
            spool.waitUntil(timeout: 30) {
                let now = Set(lockFiles(spool))
                return now.count == 1 && now.isDisjoint(with: before)
            }, "\(lockFiles(spool))")
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        return try #require(Set(lockFiles(spool)).subtracting(before).first)
    }

    /// `spool fsck --json`'s problems of kind dead-processor-lock: (path, repaired).
    static func deadLocks(_ spool: TestSpool, repair: Bool = false) throws -> (status: Int32, found: [String: Bool]) {
        let result = try spool.spool(["fsck", "--json"] + (repair ? ["--repair"] : []))
        guard let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
            let problems = object["problems"] as? [[String: Any]]
        else { throw TestFailure("fsck printed no JSON: \(result.standardOutput) \(result.standardError)") }
        var found: [String: Bool] = [:]
        for problem in problems where problem["kind"] as? String == "dead-processor-lock" {
            found[problem["path"] as? String ?? "?"] = problem["repaired"] as? Bool ?? false
        }
        return (result.status, found)
    }

    @Test("a processor killed with -9 leaves its lock file: fsck reports it, the next processor removes it")
    func nextProcessorRemoves() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let first = try Self.killedProcessor(spool)
        let check = try spool.spool(["fsck"])
        #expect(check.status == 1)
        #expect(check.standardOutput.contains("dead-processor-lock processors/\(first): its processor (pid "))
        #expect(try Self.deadLocks(spool).found == ["processors/" + first: false])
        // A plain fsck changes nothing.
        #expect(Self.lockFiles(spool) == [first])
        // The next processor's recovery pass at its start removes it; killed too, it leaves its own.
        let second = try Self.killedProcessor(spool)
        #expect(Self.lockFiles(spool) == [second])
        #expect(try Self.deadLocks(spool).found == ["processors/" + second: false])
        // A draining processor's passes remove it too; its own goes at its clean exit.
        _ = try spool.dropMany(3) { _ in #"{"type": "noop"}"# }
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(spool.jobIDs(in: "done").count == 3)
        #expect(Self.lockFiles(spool).isEmpty, "\(Self.lockFiles(spool))")
        #expect(try spool.spool(["fsck"]).status == 0)
    }

    @Test("fsck --repair removes dead processors' lock files, never one whose lock is held")
    func repairRemovesOnlyDead() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let dead = try Self.killedProcessor(spool)
        // A processor that is gone while its lock is still held (as by handlers it started that
        // still run): held here by the test itself, on a lock file made as a processor makes one.
        let heldName = "otherhost-4242-1700000000000.lock"
        let heldPath = spool.root + "/processors/" + heldName
        try "otherhost 4242 2023-11-14T22:13:20.000Z\n".write(toFile: heldPath, atomically: false, encoding: .utf8)
        let held = open(heldPath, O_RDONLY | O_CLOEXEC)
        #expect(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0)

        #expect(try Self.deadLocks(spool).found == ["processors/" + dead: false])
        let repaired = try Self.deadLocks(spool, repair: true)
        #expect(repaired.status == 0)
        #expect(repaired.found == ["processors/" + dead: true])
        #expect(Self.lockFiles(spool) == [heldName])

        // Once nothing holds it, it is a dead processor's too.
        close(held)
        #expect(try Self.deadLocks(spool).found == ["processors/" + heldName: false])
        let text = try spool.spool(["fsck", "--repair"])
        #expect(text.status == 0)
        #expect(
            text.standardOutput.contains(
                "repaired dead-processor-lock processors/\(heldName): its processor (pid 4242 on otherhost"))
        #expect(Self.lockFiles(spool).isEmpty)
        #expect(try spool.spool(["fsck"]).status == 0)
    }

    @Test("a running processor's lock file is never reported or removed")
    func liveProcessorUntouched() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let processor = try spool.startProcessor()
        #expect(spool.waitUntil(timeout: 30) { Self.lockFiles(spool).count == 1 })
        let live = Self.lockFiles(spool)
        #expect(try Self.deadLocks(spool, repair: true).found.isEmpty)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(Self.lockFiles(spool) == live)
        #expect(spool.stop(processor) == 0)
        #expect(Self.lockFiles(spool).isEmpty)
    }
}
