import Foundation
import Glibc
import Testing

/// `spool submit --id ID` run by several processes at once: exactly one succeeds per id, the
/// others exit 73, whether or not a processor is moving the winner's job along meanwhile.
@Suite("Submit --id races", .serialized)
struct SubmitIDTests {
    static let configuration = #"{"handlers": {"quick": {"builtin": "noop"}}}"#

    /// What one `spool submit --id` of the race reported.
    struct Attempt {
        let id: String
        let status: Int32?
        let standardError: String
    }

    /// Starts `copies` submitters of each of `ids` at once (real processes, all in the
    /// background of one shell), waits for all of them, and returns what each reported.
    static func race(_ spool: TestSpool, ids: [String], copies: Int) throws -> [Attempt] {
        let out = spool.scratch + "/race"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let script = """
            for id in \(ids.joined(separator: " ")); do
              for copy in \((1...copies).map(String.init).joined(separator: " ")); do
                ( "$0" submit --spool "$1" --type quick --id "$id" >/dev/null 2>"$2/$id.$copy.err"
                  echo $? >"$2/$id.$copy.rc" ) &
              done
            done
            wait
            """
        #expect(try runShell(script, [TestSpool.binary, spool.root, out]) == 0)
        return ids.flatMap { id in
            (1...copies).map { copy in
                let file = out + "/\(id).\(copy)"
                let status = (try? String(contentsOfFile: file + ".rc", encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                return Attempt(
                    id: id, status: status,
                    standardError: (try? String(contentsOfFile: file + ".err", encoding: .utf8)) ?? "")
            }
        }
    }

    /// Runs `sh -c script ARGS...` to completion through posix_spawn, with an empty signal mask:
    /// started by Foundation's Process from a thread that blocks SIGCHLD, the shell's `wait`
    /// would never return. Returns the exit status.
    static func runShell(_ script: String, _ arguments: [String]) throws -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var argv: [UnsafeMutablePointer<CChar>?] = (["/bin/sh", "-c", script] + arguments).map { strdup($0) } + [nil]
        defer { for word in argv { free(word) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ) == 0 else {
            throw TestFailure("spawn failed")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : -1
    }

    /// One exit 0 per id, exit 73 naming the id for every other attempt.
    static func expectOneWinnerEach(_ attempts: [Attempt], ids: [String]) {
        for id in ids {
            let mine = attempts.filter { $0.id == id }
            let won = mine.filter { $0.status == 0 }
            #expect(won.count == 1, "\(id): \(won.count) submitters succeeded")
            for attempt in mine where attempt.status != 0 {
                #expect(
                    attempt.status == 73,
                    "\(id): exit \(attempt.status.map(String.init) ?? "?"): \(attempt.standardError)")
                #expect(attempt.standardError.contains("A job '\(id)' already exists in "), "\(attempt.standardError)")
            }
        }
    }

    @Test("with a processor claiming the jobs: one winner per id, the others exit 73, nothing in failed/")
    func racingWithProcessor() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let processor = try spool.startProcessor(["--quiet"])
        let ids = (1...40).map { "race-\($0)" }
        let attempts = try Self.race(spool, ids: ids, copies: 3)
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").count >= ids.count })
        #expect(
            spool.waitUntil(timeout: 10) { spool.names(in: "queued").isEmpty && spool.names(in: "processing").isEmpty })
        #expect(spool.stop(processor) == 0)
        Self.expectOneWinnerEach(attempts, ids: ids)
        #expect(spool.jobIDs(in: "done").sorted() == ids.sorted())
        #expect(spool.names(in: "failed").isEmpty, "rejected as duplicates: \(spool.names(in: "failed"))")
        #expect(!spool.processorErrors().contains("duplicate id"))
        #expect(spool.names(in: "tmp").isEmpty)
    }

    @Test("without a processor: one submitter per id succeeds, the others exit 73")
    func racingWithoutProcessor() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        let ids = (1...40).map { "idle-\($0)" }
        let attempts = try Self.race(spool, ids: ids, copies: 3)
        Self.expectOneWinnerEach(attempts, ids: ids)
        #expect(spool.jobIDs(in: "queued").sorted() == ids.sorted())
        #expect(spool.names(in: "tmp").isEmpty)
    }

    /// A finished job keeps its id; `purge` frees it; a lock file left by a killed submitter
    /// (unlocked) does not hold the next one up.
    @Test("an id is taken while its job exists, free once purged; a leftover lock file is no obstacle")
    func idLifetime() throws {
        let spool = try TestSpool(configuration: Self.configuration)
        #expect(try spool.spool(["submit", "--type", "quick", "--id", "again"]).status == 0)
        #expect(try spool.spool(["run", "--drain", "--quiet"]).status == 0)
        let finished = try spool.spool(["submit", "--type", "quick", "--id", "again"])
        #expect(finished.status == 73)
        #expect(finished.standardError.contains("A job 'again' already exists in done/"))
        #expect(try spool.spool(["purge", "--state", "done", "--older-than", "0"]).status == 0)
        #expect(try spool.spool(["submit", "--type", "quick", "--id", "again"]).status == 0)
        #expect(spool.jobIDs(in: "queued") == ["again"])

        // What a submitter killed while holding the lock leaves: the file, unlocked.
        let leftover = spool.root + "/tmp/id~orphan.lock"
        #expect(FileManager.default.createFile(atPath: leftover, contents: nil))
        let after = try spool.spool(["submit", "--type", "quick", "--id", "orphan"])
        #expect(after.status == 0, "\(after.standardError)")
        #expect(!FileManager.default.fileExists(atPath: leftover))
    }
}
