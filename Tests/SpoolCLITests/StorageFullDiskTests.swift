import Foundation
import Glibc
import SpoolSystem
import Testing

/// A small tmpfs for a spool that can run out of space (root only), unmounted when released,
/// whatever the test did.
final class SmallFileSystem {
    let mountPoint: String
    private var fillers: [String] = []

    /// Mounts a tmpfs of `size` at `mountPoint` (made if missing); nil when that fails.
    init?(at mountPoint: String, size: String = "4m") {
        self.mountPoint = mountPoint
        guard (try? FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)) != nil,
            mount("tmpfs", mountPoint, "tmpfs", 0, "size=" + size) == 0
        else { return nil }
    }

    private var mounted = true

    /// Unmounts it (lazily: at once for every path, for good once nothing uses it). Call it from
    /// a `defer`, which also keeps the object alive until then; releasing it does it too.
    func unmount() {
        if mounted { umount2(mountPoint, Int32(MNT_DETACH)) }
        mounted = false
    }

    deinit { unmount() }

    /// Fills the file system: one file written until ENOSPC, then small files until none fits.
    /// Returns whether the large file's last write failed with ENOSPC.
    @discardableResult
    func fill() -> Bool {
        let large = mountPoint + "/filler"
        fillers.append(large)
        let fd = open(large, O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0, count: 64 * 1024)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        let full = errno == ENOSPC
        close(fd)
        while fillers.count <= 10_000 {
            let small = mountPoint + "/f\(fillers.count)"
            guard FileManager.default.createFile(atPath: small, contents: Data(repeating: 1, count: 4096)) else {
                break
            }
            fillers.append(small)
        }
        return full
    }

    /// Fills the file system, then renames the staged `jobs` into `root`'s `queued/`; returns
    /// whether it filled up and every rename worked.
    func fill(thenQueue jobs: [String], in root: String) -> Bool {
        let full = fill()
        return jobs.reduce(full) { worked, path in
            rename(path, root + "/queued/" + (path as NSString).lastPathComponent) == 0 && worked
        }
    }

    /// Removes what `fill` wrote.
    func free() {
        for path in fillers { try? FileManager.default.removeItem(atPath: path) }
        fillers = []
    }

    /// Writes `count` job files of `type` into `staging/` on this file system, to be renamed into
    /// `queued/` once it is full (a rename needs no space); returns their paths.
    func stageJobs(_ count: Int, type: String = "ok") throws -> [String] {
        let staging = mountPoint + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        return try (0..<count).map { index in
            let path = staging + "/" + String(format: "job-%03d", index) + ".json"
            try #"{"type": "\#(type)"}"#.write(toFile: path, atomically: false, encoding: .utf8)
            return path
        }
    }
}

/// A full disk under a running processor (issue 21): claiming pauses instead of moving the queue
/// into `processing/`, a job that could not start goes back to `queued/` at once, claiming resumes
/// within about a second of space coming back, and the event journal counts the lines it lost.
@Suite("Storage errors: claiming pauses on a full disk", .serialized)
struct StorageFullDiskTests {
    static let isRoot = getuid() == 0

    /// `spool init` on the small file system, with a noop type `ok` and this durability.
    static func makeSpool(on disk: SmallFileSystem, durability: String = "durable") throws -> String {
        let root = disk.mountPoint + "/spool"
        #expect(try TestSpool.run(["init", root]).status == 0)
        try #"{"durability": "\#(durability)", "handlers": {"ok": {"builtin": "noop"}}}"#.write(
            toFile: root + "/spool.json", atomically: true, encoding: .utf8)
        return root
    }

    /// Starts `spool run ARGS` on `root`, its standard error in `errorPath` (off the small disk).
    static func startProcessor(_ root: String, _ arguments: [String] = [], errorPath: String) throws -> Process {
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSpool.binary)
        process.arguments = ["run", "--spool", root, "--quiet"] + TestSpool.rootHandlerArguments + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Kills the process if it still runs, and waits for it.
    static func reap(_ process: Process) {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    static func names(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Writes one line into today's journal file (a note that readers pass over) so that its
    /// last page has `bytes` left.
    static func padJournal(_ root: String, leaving bytes: Int) throws {
        let start = #"{"time":"2000-01-01T00:00:00.000Z","note":"padding","pad":""#
        let line = start + String(repeating: "x", count: 4096 - bytes - start.utf8.count - 3) + "\"}\n"
        let day = String(Date().formatted(Date.ISO8601FormatStyle()).prefix(10))
        try line.write(toFile: root + "/events/" + day + ".ndjson", atomically: false, encoding: .utf8)
    }

    static func waitForRegistration(_ root: String, _ base: TestSpool) -> Bool {
        base.waitUntil(timeout: 30) { names(root + "/processors").contains { $0.hasSuffix(".lock") } }
    }

    @Test(
        "a full disk: few claims, nothing left in processing/, every job done within seconds of space coming back, lost journal lines counted",
        .enabled(if: isRoot, "mounting a tmpfs needs root"), arguments: ["durable", "relaxed"])
    func claimingPausesWhileFull(durability: String) throws {
        let base = try TestSpool(configuration: "{}")
        let disk = try #require(SmallFileSystem(at: base.scratch + "/small"), "mount tmpfs failed (errno \(errno))")
        defer { disk.unmount() }
        let root = try Self.makeSpool(on: disk, durability: durability)
        let jobs = try disk.stageJobs(30)
        try Self.padJournal(root, leaving: 100)
        let errorPath = base.scratch + "/processor.err"
        let processor = try Self.startProcessor(root, errorPath: errorPath)
        defer { Self.reap(processor) }
        #expect(Self.waitForRegistration(root, base))
        // Full with 100 bytes left in the journal's last page: the first line written is cut
        // short there, and every line after it is lost until space comes back.
        #expect(disk.fill(thenQueue: jobs, in: root))
        let paused = base.waitUntil(timeout: 20) {
            Self.text(errorPath).contains("storage refuses writes (No space left on device): claiming paused")
        }
        #expect(paused, "\(Self.text(errorPath))")
        // Several probes' worth of time on a full disk.
        sleep(3)
        let whileFull = Self.text(errorPath)
        let failedStarts = whileFull.components(separatedBy: "could not start job").count - 1
        #expect(failedStarts >= 1 && failedStarts <= 4, "\(whileFull)")
        #expect(whileFull.components(separatedBy: "put back in queued/").count - 1 == failedStarts, "\(whileFull)")
        #expect(whileFull.components(separatedBy: "claiming paused").count - 1 == 1, "\(whileFull)")
        #expect(!whileFull.contains("claiming resumed"))
        #expect(Self.names(root + "/processing").isEmpty)
        #expect(Self.names(root + "/queued").count == 30)
        #expect(processor.isRunning)

        // Space is back: the next probe resumes claiming, without waiting for a rescan (30 s).
        disk.free()
        let freed = Date()
        let allDone = base.waitUntil(timeout: 20) { Self.names(root + "/done").count == 30 }
        let seconds = Date().timeIntervalSince(freed)
        let said = Self.text(errorPath)
        #expect(allDone, "\(said)")
        #expect(seconds < 5, "\(seconds) s")
        #expect(said.contains("storage accepts writes again: claiming resumed"), "\(said)")
        #expect(Self.names(root + "/processing").isEmpty)
        #expect(Self.names(root + "/failed").isEmpty)

        // The journal's losses: said on stderr and noted in the journal, which readers still read.
        let lossLine = try #require(said.split(separator: "\n").first { $0.contains("the event journal lost ") })
        let lost = try #require(Int(lossLine.split(separator: "lost ")[1].prefix { $0.isNumber }))
        #expect(lost >= failedStarts, "\(said)")
        let journal = Self.names(root + "/events").map { Self.text(root + "/events/" + $0) }.joined()
        let lines = journal.split(separator: "\n")
        // The line cut short stays a line of its own, which readers pass over; none is glued to it.
        let damaged = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) == nil }
        #expect(damaged.count == 1, "\(damaged)")
        #expect(damaged.allSatisfy { $0.utf8.count == 100 && $0.hasPrefix(#"{"time":"#) }, "\(damaged)")
        let notes = lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["note"] as? String == "lost" }
        #expect(notes.count == 1)
        #expect(notes.first?["lost"] as? Int == lost)
        let events = try TestSpool.run(["events", "--spool", root, "--json"])
        #expect(events.status == 0)
        #expect(events.standardOutput.components(separatedBy: #""to":"done""#).count - 1 == 30)
        #expect(try TestSpool.run(["stats", "--spool", root]).status == 0)

        kill(processor.processIdentifier, SIGTERM)
        processor.waitUntilExit()
        #expect(processor.terminationStatus == 0)
        #expect(try TestSpool.run(["fsck", "--spool", root]).status == 0)
    }

    @Test(
        "a drain gives up after --drain-wait seconds of a full disk: exit 74, the jobs left in queued/",
        .enabled(if: isRoot, "mounting a tmpfs needs root"))
    func drainGivesUpOnFullDisk() throws {
        let base = try TestSpool(configuration: "{}")
        let disk = try #require(SmallFileSystem(at: base.scratch + "/small"), "mount tmpfs failed (errno \(errno))")
        defer { disk.unmount() }
        let root = try Self.makeSpool(on: disk)
        let jobs = try disk.stageJobs(5)
        // A job due in 4 s keeps the drain (waiting up to 5 s) going while the disk fills.
        let due = Date(timeIntervalSinceNow: 4).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        try #"{"type": "ok", "notBefore": "\#(due)"}"#.write(
            toFile: root + "/queued/keeper.json", atomically: true, encoding: .utf8)
        let errorPath = base.scratch + "/drain.err"
        let started = Date()
        let drain = try Self.startProcessor(root, ["--drain", "--drain-wait", "5"], errorPath: errorPath)
        defer { Self.reap(drain) }
        #expect(Self.waitForRegistration(root, base))
        #expect(disk.fill(thenQueue: jobs, in: root))
        #expect(base.waitUntil(timeout: 30) { !drain.isRunning }, "\(Self.text(errorPath))")
        let said = Self.text(errorPath)
        #expect(drain.terminationStatus == 74, "\(said)")
        #expect(Date().timeIntervalSince(started) >= 5)
        #expect(said.contains("drain gave up: storage has refused writes for 5 s or more"), "\(said)")
        #expect(Self.names(root + "/processing").isEmpty)
        #expect(Self.names(root + "/queued").count == 6, "\(Self.names(root + "/queued"))")

        disk.free()
        #expect(try TestSpool.run(["run", "--spool", root, "--drain", "--quiet"]).status == 0)
        #expect(Self.names(root + "/done").count == 6)
        #expect(try TestSpool.run(["fsck", "--spool", root]).status == 0)
    }
}
