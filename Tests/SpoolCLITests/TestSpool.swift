import Foundation
import Glibc
import SpoolSystem
import Testing

/// A temporary spool driven through the built `spool` binary, removed when the test ends.
final class TestSpool: @unchecked Sendable {
    let root: String
    private var processors: [Process] = []

    /// The `spool` executable built beside the test bundle.
    static let binary: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("spool").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        var directory = URL(fileURLWithPath: #filePath)
        while directory.path != "/" {
            directory.deleteLastPathComponent()
            let candidate = directory.appendingPathComponent(".build/debug/spool").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return beside
    }()

    /// Creates a spool with `spool init` and writes `configuration` as its spool.json.
    init(configuration: String) throws {
        var template = Array("/tmp/spool-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestFailure("mkdtemp failed") }
        root = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/spool"
        let result = try TestSpool.run(["init", root])
        guard result.status == 0 else { throw TestFailure("spool init failed: \(result.standardError)") }
        try configuration.write(toFile: root + "/spool.json", atomically: true, encoding: .utf8)
    }

    deinit {
        for process in processors where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent)
    }

    // MARK: Running the binary

    struct Result {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    /// `spool run` as root refuses handlers without a `"user"` (issue 8). The tests' handlers
    /// have none and are meant to run as whoever runs the tests, so under root (as in CI) every
    /// `spool run` the tests start gets `--allow-root-handlers`: these arguments, else none.
    static let rootHandlerArguments: [String] = geteuid() == 0 ? ["--allow-root-handlers"] : []

    /// `arguments` with `rootHandlerArguments` after a leading `run`.
    static func allowingRootHandlers(_ arguments: [String]) -> [String] {
        guard arguments.first == "run" else { return arguments }
        return ["run"] + rootHandlerArguments + arguments.dropFirst()
    }

    /// Runs `spool ARGS --spool ROOT` to completion. `allowRootHandlers: false` leaves out the
    /// root-handler flag of `spool run` (for the tests of that rule).
    func spool(
        _ arguments: [String], input: String? = nil, environment: [String: String] = [:],
        allowRootHandlers: Bool = true
    ) throws -> Result {
        try TestSpool.run(
            arguments + ["--spool", root], input: input, environment: environment, allowRootHandlers: allowRootHandlers)
    }

    /// Runs `program` (the `spool` binary unless given) to completion.
    static func run(
        _ arguments: [String], input: String? = nil, environment: [String: String] = [:],
        allowRootHandlers: Bool = true, program: String = binary
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = allowRootHandlers ? allowingRootHandlers(arguments) : arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(Data(input.utf8))
            try inputPipe.fileHandleForWriting.close()
        }
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        let errorData = Locked(Data())
        let errorDone = DispatchSemaphore(value: 0)
        let errorHandle = error.fileHandleForReading
        Thread {
            errorData.set(errorHandle.readDataToEndOfFile())
            errorDone.signal()
        }.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        errorDone.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.get(), as: UTF8.self))
    }

    /// Starts `spool run` in the background; its output goes to files in the spool's parent.
    @discardableResult
    func startProcessor(_ arguments: [String] = [], environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSpool.binary)
        process.arguments = ["run", "--spool", root] + TestSpool.rootHandlerArguments + arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let logBase = (root as NSString).deletingLastPathComponent + "/processor-\(processors.count)"
        _ = FileManager.default.createFile(atPath: logBase + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: logBase + ".err", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: logBase + ".out")
        process.standardError = FileHandle(forWritingAtPath: logBase + ".err")
        process.standardInput = FileHandle.nullDevice
        try process.run()
        processors.append(process)
        return process
    }

    /// What a background processor printed on standard error so far.
    func processorErrors(_ index: Int = 0) -> String {
        let path = (root as NSString).deletingLastPathComponent + "/processor-\(index).err"
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// Sends SIGTERM and waits for the exit status (SIGKILL after `timeout`).
    func stop(_ process: Process, timeout: Double = 30) -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    // MARK: Files

    /// Publishes a job the way a producer should: written under a dot name, renamed into queued/.
    func drop(_ name: String, _ contents: String) throws {
        let hidden = root + "/queued/." + name + ".writing"
        try contents.write(toFile: hidden, atomically: false, encoding: .utf8)
        guard rename(hidden, root + "/queued/" + name) == 0 else { throw TestFailure("rename failed: \(errno)") }
    }

    /// Writes many jobs into a staging directory, then renames them all into queued/ quickly.
    func dropMany(_ count: Int, prefix: String = "job", contents: (Int) -> String) throws -> [String] {
        let staging = (root as NSString).deletingLastPathComponent + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var ids: [String] = []
        for index in 0..<count {
            let id = "\(prefix)-\(String(format: "%06d", index))"
            try contents(index).write(toFile: staging + "/" + id + ".json", atomically: false, encoding: .utf8)
            ids.append(id)
        }
        for id in ids {
            guard rename(staging + "/" + id + ".json", root + "/queued/" + id + ".json") == 0 else {
                throw TestFailure("rename failed: \(errno)")
            }
        }
        return ids
    }

    func names(in state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + state)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
    }

    func jobIDs(in state: String) -> [String] {
        names(in: state).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
    }

    /// The parsed record of a job in a state directory.
    func record(_ id: String, in state: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + state + "/" + id + ".json"))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("\(state)/\(id).json is not an object")
        }
        return object
    }

    func contents(_ relativePath: String) -> String? {
        try? String(contentsOfFile: root + "/" + relativePath, encoding: .utf8)
    }

    /// Waits until `condition` holds, polling; false on timeout.
    func waitUntil(timeout: Double = 60, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// Handler configuration JSON for a command run with /bin/sh -c (test-only: spool.json is
    /// trusted; jobs never choose commands).
    static func shellHandler(_ script: String, extra: String = "") -> String {
        let escaped = script.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "{\"command\": [\"/bin/sh\", \"-c\", \"\(escaped)\"]\(extra.isEmpty ? "" : ", " + extra)}"
    }

    /// The times (`date +%s.%N`, one per line) a handler appended to a trace file.
    static func times(inTrace path: String) throws -> [Double] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { Double($0) }
    }

    /// The directory holding this spool (scratch space for tests).
    var scratch: String { (root as NSString).deletingLastPathComponent }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A tiny lock-protected box for test threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func get() -> Value {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func set(_ newValue: Value) {
        lock.lock()
        value = newValue
        lock.unlock()
    }
}

extension TestSpool {
    /// Runs a program to completion, with extra environment variables; (status, stdout, stderr).
    static func execute(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (
        Int32, String, String
    ) {
        let result = try run(arguments, environment: environment, allowRootHandlers: false, program: program)
        return (result.status, result.standardOutput, result.standardError)
    }
}
