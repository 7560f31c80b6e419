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

    @Test("a directory flush after XFS has shut down fails, though fsync itself answers success")
    func flushAfterShutdown() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.xfs")
            || FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.xfs")
        else {
            print("skipped: needs root and mkfs.xfs (xfsprogs) for an XFS loop image")
            return
        }
        let work = NSTemporaryDirectory() + "spool-xfs-\(UUID().uuidString)"
        let image = work + "/image"
        let mountPoint = work + "/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer {
            _ = try? Self.runTool(["umount", mountPoint])
            try? FileManager.default.removeItem(atPath: work)
        }
        #expect(try Self.runTool(["truncate", "-s", "300M", image]) == 0)
        #expect(try Self.runTool(["mkfs.xfs", "-q", "-f", image]) == 0)
        guard try Self.runTool(["mount", "-o", "loop", image, mountPoint]) == 0 else {
            print("skipped: cannot mount a loop image here")
            return
        }
        let queued = mountPoint + "/queued"
        try FileManager.default.createDirectory(atPath: queued, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: mountPoint + "/job.json", contents: Data("{}".utf8)))
        try FileSystem.rename(mountPoint + "/job.json", to: queued + "/job.json")
        // Opened before the cut, flushed after it: what a submit in flight at the cut does.
        let directory = try FileSystem.open(queued, O_RDONLY | O_DIRECTORY)
        defer { directory.close() }
        let root = try FileSystem.open(mountPoint, O_RDONLY | O_DIRECTORY)
        defer { root.close() }
        var flags: UInt32 = 2  // FS_GOINGDOWN_NOSYNC: nothing more reaches the disk
        #expect(ioctl(root.rawValue, 0x8004_587D, &flags) == 0)
        #expect(throws: SystemError.self) { try directory.sync(path: queued) }
    }

    static func runTool(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
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
