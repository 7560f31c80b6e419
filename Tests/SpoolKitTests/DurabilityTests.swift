import Foundation
import Testing

@testable import SpoolKit

@Suite("Durability modes and the group committer")
struct DurabilityTests {
    @Test("spool.json: durability defaults to durable, accepts relaxed, refuses anything else")
    func configuration() throws {
        #expect(try SpoolConfiguration(parsing: Array("{}".utf8), path: "s").durability == .durable)
        let relaxed = try SpoolConfiguration(parsing: Array(#"{"durability": "relaxed"}"#.utf8), path: "s")
        #expect(relaxed.durability == .relaxed)
        #expect(throws: SpoolError.self) {
            try SpoolConfiguration(parsing: Array(#"{"durability": "fast"}"#.utf8), path: "s")
        }
        #expect(throws: SpoolError.self) {
            try SpoolConfiguration(parsing: Array(#"{"durability": true}"#.utf8), path: "s")
        }
    }

    @Test("a processor's store groups its commits; one-shot stores flush at once; relaxed never")
    func strategies() {
        if case .grouped = CommitStrategy.forStore(.durable, isProcessor: true, root: "/tmp") {} else { Issue.record("not grouped") }
        if case .immediate = CommitStrategy.forStore(.durable, isProcessor: false, root: "/tmp") {
        } else {
            Issue.record("not immediate")
        }
        if case .immediate = CommitStrategy.forStore(.unbatched, isProcessor: true, root: "/tmp") {
        } else {
            Issue.record("not immediate")
        }
        if case .none = CommitStrategy.forStore(.relaxed, isProcessor: true, root: "/tmp") {} else { Issue.record("not none") }
    }

    @Test("concurrent commits all return once flushed, sharing flushes")
    func concurrentCommits() throws {
        let directory = NSTemporaryDirectory() + "spool-commit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let committer = GroupCommitter()
        let threads = 16
        let perThread = 50
        let failures = Locked(0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for step in 0..<perThread {
                let path = directory + "/f-\(thread)-\(step)"
                _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
                do { try committer.commit([path, directory]) } catch { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        let counts = committer.counts
        #expect(counts.requests == threads * perThread)
        #expect(counts.flushes >= 1 && counts.flushes <= counts.requests)
    }

    @Test("with the spool's root, a group of several paths is flushed by one syncfs; one path by fsync")
    func fileSystemSync() throws {
        let directory = NSTemporaryDirectory() + "spool-commit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let committer = GroupCommitter(root: directory)
        let file = directory + "/job.json"
        _ = FileManager.default.createFile(atPath: file, contents: Data("{}".utf8))
        try committer.commit([directory])
        #expect(committer.counts.fileSystemSyncs == 0)
        try committer.commit([file, directory])
        #expect(committer.counts.fileSystemSyncs == 1)
        #expect(committer.counts.flushes == 2)
    }

    @Test("a failed flush is reported to every caller of its group, and the committer goes on")
    func failedFlush() throws {
        let committer = GroupCommitter()
        // A path below a regular file: ENOTDIR, a real error (a vanished path is not one).
        #expect(throws: SystemError.self) { try committer.commit(["/proc/self/status/below-a-file"]) }
        try committer.commit([NSTemporaryDirectory()])
        try committer.commit(["/nonexistent-spool-path-\(UUID().uuidString)"])
    }
}
