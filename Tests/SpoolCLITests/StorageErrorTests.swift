import Foundation
import Glibc
import SpoolSystem
import Testing

/// Storage errors (issue 8, group 6): an injected EIO (the `SPOOL_INJECT_FAULTS` seam) and a
/// real full file system (a small tmpfs, root only). No success is reported for what did not
/// reach the disk, the job stays in its previous state, and the processor goes on and says why.
@Suite("Storage errors: EIO and ENOSPC", .serialized)
struct StorageErrorTests {
    /// Runs `spool` with extra environment variables; returns (status, stdout, stderr).
    static func run(_ arguments: [String], environment: [String: String]) throws -> (Int32, String, String) {
        try TestSpool.execute(TestSpool.binary, arguments, environment: environment)
    }

    /// Starts `spool run` on `root` with its standard error in `errorPath` and optional faults.
    static func startProcessor(_ root: String, errorPath: String, faults: String? = nil) throws -> Process {
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSpool.binary)
        process.arguments = ["run", "--spool", root, "--quiet"] + TestSpool.rootHandlerArguments
        if let faults {
            process.environment = ProcessInfo.processInfo.environment.merging(["SPOOL_INJECT_FAULTS": faults]) { $1 }
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("an injected EIO on submit's flush or rename: submit fails, says why, and reports no id")
    func submitEIO() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        for fault in ["rename:/queued/", "write:/tmp/"] {
            let (status, output, error) = try Self.run(
                ["submit", "--spool", spool.root, "--type", "ok"], environment: ["SPOOL_INJECT_FAULTS": fault])
            #expect(status != 0, "\(fault)")
            #expect(output.isEmpty, "\(fault): \(output)")
            #expect(error.contains("Input/output error") || error.contains("EIO"), "\(fault): \(error)")
            #expect(spool.names(in: "queued").isEmpty)
        }
    }

    @Test("an injected EIO on the flush of done/: the job is not reported done, stays in processing/, then finishes")
    func finishEIO() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        try spool.drop("j.json", #"{"type": "ok"}"#)
        let errorPath = spool.scratch + "/faulty.err"
        let process = try Self.startProcessor(spool.root, errorPath: errorPath, faults: "fsync:/done")
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let said = spool.waitUntil(timeout: 30) {
            ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").contains("could not move job j to done/")
        }
        let message = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        #expect(said, "\(message)")
        #expect(message.contains("Input/output error") || message.contains("EIO"), "\(message)")
        #expect(spool.jobIDs(in: "done").isEmpty)
        #expect(spool.jobIDs(in: "processing") == ["j"])
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // A healthy disk again: recovery completes the move the record says was under way.
        #expect(try spool.spool(["run", "--drain", "--quiet"]).status == 0)
        #expect(spool.jobIDs(in: "done") == ["j"])
        #expect(try spool.spool(["fsck"]).status == 0)
    }

    @Test(
        "a full file system (tmpfs): nothing reported, the processor goes on, all done once space is back",
        .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func fullDisk() throws {
        let base = try TestSpool(configuration: "{}")
        let disk = try #require(SmallFileSystem(at: base.scratch + "/small"), "mount tmpfs failed (errno \(errno))")
        defer { disk.unmount() }
        let root = try StorageFullDiskTests.makeSpool(on: disk)
        // Jobs staged on the same file system, renamed in once it is full (a rename needs no space).
        let staged = try disk.stageJobs(5)
        // The processor starts while there is room (it registers itself under processors/).
        let errorPath = base.scratch + "/full.err"
        let processor = try Self.startProcessor(root, errorPath: errorPath)
        defer {
            if processor.isRunning { kill(processor.processIdentifier, SIGKILL) }
            processor.waitUntilExit()
        }
        #expect(
            base.waitUntil(timeout: 30) {
                ((try? FileManager.default.contentsOfDirectory(atPath: root + "/processors")) ?? []).contains {
                    $0.hasSuffix(".lock")
                }
            })
        // Fill the file system, the last blocks with small files too, so nothing new can be written.
        #expect(disk.fill(thenQueue: staged, in: root))
        let submit = try TestSpool.run(["submit", "--spool", root, "--type", "ok"])
        #expect(submit.status != 0)
        #expect(submit.standardOutput.isEmpty)
        let said = base.waitUntil(timeout: 30) {
            ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").contains("No space left on device")
        }
        #expect(said, "\((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")")
        usleep(500_000)
        // The processor did not crash; whatever it could not write is not in done/.
        #expect(processor.isRunning)
        kill(processor.processIdentifier, SIGKILL)
        processor.waitUntilExit()
        let doneWhileFull = (try? FileManager.default.contentsOfDirectory(atPath: root + "/done")) ?? []
        for name in doneWhileFull {
            // Anything reported done is complete and parseable.
            let data = try Data(contentsOf: URL(fileURLWithPath: root + "/done/" + name))
            #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "\(name)")
        }

        // Space is back: every job finishes, exactly once, and the spool is consistent.
        disk.free()
        #expect(try TestSpool.run(["run", "--spool", root, "--drain", "--quiet"]).status == 0)
        let done = ((try? FileManager.default.contentsOfDirectory(atPath: root + "/done")) ?? []).sorted()
        #expect(done == staged.map { ($0 as NSString).lastPathComponent })
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: root + "/failed")) ?? []).isEmpty)
        #expect(try TestSpool.run(["fsck", "--spool", root]).status == 0)
    }
}
