import SpoolSystem

/// Every error the spool reports to a user: a sentence that names the file and the problem,
/// and a sysexits-style exit code for the CLI.
public enum SpoolError: Error, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(SystemError)
    /// The directory is not a spool (no spool.json, or a state directory missing).
    case notASpool(path: String, reason: String)
    /// A directory of the spool is there but is not a real directory (a symbolic link, a file):
    /// the spool refuses it rather than work through it.
    case unsafeSpool(path: String, reason: String)
    /// The spool's configuration is invalid.
    case invalidConfiguration(path: String, reason: String)
    /// A file is larger than the limit that applies to it.
    case fileTooLarge(path: String, limit: Int)
    /// A job file or submitted job is not a valid job.
    case invalidJob(path: String, reason: String)
    /// A job id is not valid.
    case invalidJobID(String, reason: String)
    /// No job with this id exists in the spool.
    case jobNotFound(id: String)
    /// A job with this id already exists.
    case duplicateJobID(id: String, state: String)
    /// The job exists, but a request does not apply to it in its state (cancel of a finished
    /// job, retry of a queued one): `reason` says why and what can be done instead.
    case jobInState(id: String, state: String, reason: String)
    /// Another process holds the job's file (a processor claiming it) for longer than a user's
    /// command waits for it.
    case jobBusy(id: String)
    /// The command line was wrong.
    case usage(String)

    public var description: String {
        switch self {
        case .system(let error):
            return error.description
        case .notASpool(let path, let reason):
            return "'\(path)' is not a spool: \(reason). Create one with 'spool init \(path)'."
        case .unsafeSpool(let path, let reason):
            return "'\(path)' cannot be used as a spool: \(reason)"
        case .invalidConfiguration(let path, let reason):
            return "Invalid configuration in '\(path)': \(reason)"
        case .fileTooLarge(let path, let limit):
            return "'\(path)' is larger than the limit of \(limit) bytes (maxJobBytes in spool.json)"
        case .invalidJob(let path, let reason):
            return "'\(path)' is not a valid job: \(reason)"
        case .invalidJobID(let id, let reason):
            return "'\(id)' is not a valid job id: \(reason)"
        case .jobNotFound(let id):
            return "No job '\(id)' in this spool (see 'spool list')"
        case .duplicateJobID(let id, let state):
            return "A job '\(id)' already exists in \(state)/; choose another id"
        case .jobInState(let id, let state, let reason):
            return "Job '\(id)' \(state == "failed" ? "has failed" : "is " + state): \(reason)"
        case .jobBusy(let id):
            return "Job '\(id)' is being claimed by a processor; try again"
        case .usage(let message):
            return message
        }
    }

    /// The sysexits(3) code the CLI exits with.
    public var exitCode: Int32 {
        switch self {
        case .usage: return ExitCode.usage
        case .invalidJob, .invalidJobID, .jobInState: return ExitCode.dataError
        case .jobBusy: return ExitCode.temporaryFailure
        case .fileTooLarge: return ExitCode.dataError
        case .jobNotFound, .notASpool, .unsafeSpool: return ExitCode.noInput
        case .duplicateJobID: return ExitCode.cannotCreate
        case .invalidConfiguration: return ExitCode.configuration
        case .system(let error):
            switch error.code {
            case ErrnoCode.noSuchFile: return ExitCode.noInput
            case ErrnoCode.alreadyExists: return ExitCode.cannotCreate
            case ErrnoCode.accessDenied, ErrnoCode.notPermitted: return ExitCode.noPermission
            case ErrnoCode.tryAgain, ErrnoCode.interrupted: return ExitCode.temporaryFailure
            default: return ExitCode.ioError
            }
        }
    }
}

/// sysexits(3) exit codes.
public enum ExitCode {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
    public static let dataError: Int32 = 65
    public static let noInput: Int32 = 66
    /// A program the command needs is missing (`spool bench` without `spool-bench` beside it).
    public static let unavailable: Int32 = 69
    public static let software: Int32 = 70
    public static let cannotCreate: Int32 = 73
    public static let ioError: Int32 = 74
    public static let temporaryFailure: Int32 = 75
    public static let noPermission: Int32 = 77
    public static let configuration: Int32 = 78
}
