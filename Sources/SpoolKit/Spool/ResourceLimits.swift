import SpoolJSON
import SpoolSystem

/// Resource limits of a handler: set per type in spool.json (`"limits"`), and per job within
/// the type's ceiling (a job's `"limits"` may only lower them).
///
/// - `memory`: resident memory of the handler's whole process group (bytes, or "512 MiB");
/// - `cpu`: CPU seconds per process (RLIMIT_CPU: SIGXCPU, then SIGKILL);
/// - `openFiles`: descriptors per process (RLIMIT_NOFILE);
/// - `output`: size of the result (bytes, or "100 MiB");
/// - `log`: bytes the handler writes to standard error (its part of the job's log).
public struct ResourceLimits: Sendable, Equatable {
    public var memoryBytes: Int?
    public var cpuSeconds: Int?
    public var openFiles: Int?
    public var outputBytes: Int?
    public var logBytes: Int?

    public init(
        memoryBytes: Int? = nil, cpuSeconds: Int? = nil, openFiles: Int? = nil, outputBytes: Int? = nil,
        logBytes: Int? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpuSeconds = cpuSeconds
        self.openFiles = openFiles
        self.outputBytes = outputBytes
        self.logBytes = logBytes
    }

    public var isEmpty: Bool { self == ResourceLimits() }

    /// These limits, lowered (never raised) by a job's own.
    public func lowered(by job: ResourceLimits) -> ResourceLimits {
        func lower(_ ceiling: Int?, _ requested: Int?) -> Int? {
            guard let requested else { return ceiling }
            return ceiling.map { min($0, requested) } ?? requested
        }
        return ResourceLimits(
            memoryBytes: lower(memoryBytes, job.memoryBytes), cpuSeconds: lower(cpuSeconds, job.cpuSeconds),
            openFiles: lower(openFiles, job.openFiles), outputBytes: lower(outputBytes, job.outputBytes),
            logBytes: lower(logBytes, job.logBytes))
    }

    /// Parses a `limits` object; the error names the key.
    public init(parsing value: JSONValue, name: String) throws(LimitsError) {
        guard let object = value.objectValue else { throw LimitsError("\"\(name)\" must be an object") }
        for (key, setting) in object.members {
            let fullName = name + "." + key
            switch key {
            case "memory": memoryBytes = try Self.bytes(setting, fullName)
            case "output": outputBytes = try Self.bytes(setting, fullName)
            case "log": logBytes = try Self.bytes(setting, fullName)
            case "cpu": cpuSeconds = try Self.positive(setting, fullName, unit: "whole seconds")
            case "openFiles": openFiles = try Self.positive(setting, fullName, unit: "a count")
            default: throw LimitsError("unknown key \"\(fullName)\" (known: memory, cpu, openFiles, output, log)")
            }
        }
    }

    private static func positive(_ value: JSONValue, _ name: String, unit: String) throws(LimitsError) -> Int {
        guard let number = value.intValue, number >= 1 else {
            throw LimitsError("\"\(name)\" must be a positive integer (\(unit))")
        }
        return number
    }

    /// A byte count: an integer, or a string such as "512 MiB", "2GiB", "100 KiB", "4096".
    static func bytes(_ value: JSONValue, _ name: String) throws(LimitsError) -> Int {
        if let number = value.intValue, number >= 1 { return number }
        if let text = value.stringValue {
            let trimmed = text.filter { $0 != " " }
            let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1), ("", 1)]
            for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
                if let number = Int(trimmed.dropLast(suffix.count)), number >= 1 { return number * factor }
            }
        }
        throw LimitsError("\"\(name)\" must be a positive byte count, such as 536870912 or \"512 MiB\"")
    }

    /// "512 MiB", "100 KiB", "1 GiB", else bytes.
    public static func describe(bytes: Int) -> String {
        for (suffix, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= factor && bytes % factor == 0 {
            return "\(bytes / factor) \(suffix)"
        }
        return "\(bytes) bytes"
    }
}

/// Why a `limits` object is not valid.
public struct LimitsError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}
