import Foundation
import SpoolJSON
import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("Durability modes and the group committer")
struct DurabilityTests {
    /// A fresh directory for one test (the caller removes it).
    static func scratchDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "spool-commit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

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
        if case .grouped = CommitStrategy.forStore(.durable, isProcessor: true, root: "/tmp") {
        } else {
            Issue.record("not grouped")
        }
        if case .immediate = CommitStrategy.forStore(.durable, isProcessor: false, root: "/tmp") {
        } else {
            Issue.record("not immediate")
        }
        if case .immediate = CommitStrategy.forStore(.unbatched, isProcessor: true, root: "/tmp") {
        } else {
            Issue.record("not immediate")
        }
        if case .none = CommitStrategy.forStore(.relaxed, isProcessor: true, root: "/tmp") {
        } else {
            Issue.record("not none")
        }
    }

    @Test("concurrent commits all return once flushed, sharing flushes")
    func concurrentCommits() throws {
        let directory = try Self.scratchDirectory()
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
        let directory = try Self.scratchDirectory()
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

    /// Root, mkfs.xfs and a free loop device: what an XFS loop image needs.
    static let canMakeXFSImages: Bool =
        getuid() == 0
        && (FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.xfs")
            || FileManager.default.isExecutableFile(atPath: "/sbin/mkfs.xfs"))
        && ((try? runTool(["losetup", "-f"])) == 0)

    @Test(
        "a directory flush after XFS has shut down fails, though fsync itself answers success",
        .enabled(if: canMakeXFSImages, "needs root, mkfs.xfs (xfsprogs) and a free loop device"))
    func flushAfterShutdown() throws {
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
        try #require(try Self.runTool(["mount", "-o", "loop", image, mountPoint]) == 0)
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

    @Test("a deferred commit's callback runs only after a flush that began after the request")
    func deferredCommits() throws {
        let directory = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let committer = GroupCommitter(root: directory)
        let early = Locked(0)
        let called = Locked(0)
        let requests = 2_000
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for step in 0..<(requests / 8) {
                let path = directory + "/f-\(thread)-\(step)"
                _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
                // Requests made while flush N runs belong to flush N + 1 or later.
                let startedBefore = committer.flushProgress.started
                committer.commitLater([path]) { failure in
                    if failure != nil || committer.flushProgress.ended <= startedBefore { early.withLock { $0 += 1 } }
                    called.withLock { $0 += 1 }
                }
            }
        }
        let deadline = Date(timeIntervalSinceNow: 60)
        while called.withLock({ $0 }) < requests && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(called.withLock { $0 } == requests)
        #expect(early.withLock { $0 } == 0)
    }

    @Test("a failed flush is reported to every caller of its group, and the committer goes on")
    func failedFlush() throws {
        let committer = GroupCommitter()
        // A path below a regular file: ENOTDIR, a real error (a vanished path is not one).
        #expect(throws: SystemError.self) { try committer.commit(["/proc/self/status/below-a-file"]) }
        try committer.commit([NSTemporaryDirectory()])
        try committer.commit(["/nonexistent-spool-path-\(UUID().uuidString)"])
    }

    @Test(
        "a start under group commit: the handler reads the running record at once, it lands after its commit, recovery never takes the job meanwhile"
    )
    func recordLanding() throws {
        let directory = NSTemporaryDirectory() + "spool-landing-" + JobID.randomSuffix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool.create(directory)
        let layout = spool.layout
        let identity = try ProcessorIdentity(layout: layout)
        defer { identity.release() }
        let store = JobStore(spool: spool, processor: identity, inProcessTypes: ["work"])
        // Another processor's recovery pass, as it would run beside this one.
        let otherIdentity = try ProcessorIdentity(layout: layout)
        defer { otherIdentity.release() }
        let other = JobStore(spool: spool, processor: otherIdentity, inProcessTypes: ["work"])
        func processingRecord(_ id: String) throws -> JobRecord {
            try JobRecord(parsing: FileSystem.readFile(layout.jobPath(id, in: .processing)), path: id)
        }
        func start(_ id: String) throws -> (record: JobRecord, landing: RecordLanding, input: FileDescriptor) {
            guard case .claimed(let claimed) = store.claim(id) else {
                throw SystemError("claim", path: id, code: ErrnoCode.tryAgain)
            }
            // A committer that lingers half a second, so the landing is still pending while we look.
            return try store.beginLanding(claimed, committer: GroupCommitter(maximumDelay: 0.5))
        }

        let landed = try store.submit(JobRecord(fields: JSONObject([("type", .string("work"))])))
        let first = try start(landed)
        defer { first.input.close() }
        let input = try JobRecord(parsing: first.input.readAll(limit: 1 << 20, path: "input"), path: "input")
        #expect(input.status == "running" && input.attempts == 1 && input.processorName == identity.name)
        #expect(try processingRecord(landed).processorName == nil)
        #expect(other.recoverOrphans().moved.isEmpty)
        #expect(first.landing.waitUntilSettled() == .landed)
        let after = try processingRecord(landed)
        #expect(after.status == "running" && after.attempts == 1 && after.processorName == identity.name)
        #expect(other.recoverOrphans().moved.isEmpty)

        // A landing that fails (its staged record vanished before the flush) leaves the claimed
        // file, still locked by the claim until the job leaves processing/; then recovery can have it.
        let failing = try store.submit(JobRecord(fields: JSONObject([("type", .string("work"))])))
        let second = try start(failing)
        defer { second.input.close() }
        let staged = try FileManager.default.contentsOfDirectory(atPath: layout.temporaryDirectory)
            .filter { $0.hasPrefix(JobStore.startLabel(failing) + ".") }
        #expect(staged.count == 1)
        for name in staged { try FileManager.default.removeItem(atPath: layout.temporaryDirectory + "/" + name) }
        #expect(second.landing.waitUntilSettled() == .failed)
        #expect(try processingRecord(failing).processorName == nil)
        #expect(other.recoverOrphans().moved.isEmpty)
        // Look-alike start records that recovery must not believe: another owner, and a second
        // name of a file (a hard link).
        let forgedOwner = layout.temporaryDirectory + "/" + JobStore.startLabel(failing) + ".1-2.3.tmp"
        try
            #"{"type": "work", "status": "running", "attempts": 1, "processor": {"name": "gone-1-1"}, "ownerUID": 4242}"#
            .write(toFile: forgedOwner, atomically: false, encoding: .utf8)
        let linkedTarget = directory + "/elsewhere.json"
        try
            #"{"type": "work", "status": "running", "attempts": 1, "processor": {"name": "gone-1-1"}, "ownerUID": \#(getuid())}"#
            .write(toFile: linkedTarget, atomically: false, encoding: .utf8)
        try FileManager.default.linkItem(
            atPath: linkedTarget, toPath: layout.temporaryDirectory + "/" + JobStore.startLabel(failing) + ".1-2.4.tmp")
        second.landing.jobLeftProcessing()
        let recovered = other.recoverOrphans().moved
        #expect(recovered.map(\.id) == [failing] && recovered.first?.state == .queued)
        let requeuedFailing = try JobRecord(
            parsing: FileSystem.readFile(layout.jobPath(failing, in: .queued)), path: failing)
        #expect(requeuedFailing.attempts == 0 && requeuedFailing.ownerUID != 4242)

        // Its processor dies before the running record lands: recovery finds the staged record
        // and counts the attempt, as if it had landed.
        let dyingIdentity = try ProcessorIdentity(layout: layout)
        let dying = JobStore(spool: spool, processor: dyingIdentity, inProcessTypes: ["work"])
        let orphan = try dying.submit(JobRecord(fields: JSONObject([("type", .string("work"))])))
        guard case .claimed(let claimed) = dying.claim(orphan) else {
            Issue.record("could not claim \(orphan)")
            return
        }
        let third = try dying.beginLanding(claimed, committer: GroupCommitter(maximumDelay: 1))
        third.input.close()
        dyingIdentity.release()
        third.landing.jobLeftProcessing()  // its claim lock goes with the process
        let adopted = other.recoverOrphans().moved
        #expect(adopted.map(\.id) == [orphan] && adopted.first?.state == .queued)
        let requeued = try JobRecord(parsing: FileSystem.readFile(layout.jobPath(orphan, in: .queued)), path: orphan)
        #expect(requeued.attempts == 1)
        #expect(requeued.error?.contains("stopped during attempt 1") == true)
        // Nothing of the staged record is left to land over the requeued job.
        #expect(third.landing.waitUntilSettled() == .failed)
        #expect(!FileSystem.exists(layout.jobPath(orphan, in: .processing)))
    }

    @Test("staging names are recognised for their own label only, even when ids contain dots")
    func stagingNames() throws {
        let layout = SpoolLayout(root: "/spool")
        let name = { (label: String) in String(layout.temporaryPath(label).split(separator: "/").last!) }
        #expect(layout.isTemporaryName(name("a.b"), for: "a.b"))
        #expect(!layout.isTemporaryName(name("a.b"), for: "a"))
        #expect(layout.isTemporaryName(name("p/3"), for: "p/3"))
        #expect(!layout.isTemporaryName(name("result-a"), for: "a"))
        #expect(!layout.isTemporaryName("a.1-2.3.tmp.x", for: "a"))
        #expect(!layout.isTemporaryName("a.x-2.3.tmp", for: "a"))
    }
}
