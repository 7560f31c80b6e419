import Glibc

/// An operating-system error: which call failed, on which path(s), and the `errno` it returned.
///
/// The description is a sentence a user can act on, for example
/// `Can't rename 'queued/a.json' to 'done/a.json': File exists (EEXIST)`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call or operation that failed, as a verb ("open", "rename", "spawn").
    public let operation: String
    /// The path the call worked on, when it had one.
    public let path: String?
    /// The second path of a two-path call (rename, link).
    public let secondPath: String?
    /// The raw `errno` value.
    public let code: Int32
    /// Why the spool refused the call, when it was the spool and not the kernel (a file of the
    /// spool that is a link, a FIFO, a device): replaces the C library's message.
    public let explanation: String?

    public init(
        _ operation: String, path: String? = nil, secondPath: String? = nil, code: Int32, explanation: String? = nil
    ) {
        self.operation = operation
        self.path = path
        self.secondPath = secondPath
        self.code = code
        self.explanation = explanation
    }

    /// The symbolic errno name, such as `ENOENT`, or `errno N` when unknown.
    public var codeName: String { Errno.name(of: code) }

    /// The C library's message for the error, such as "No such file or directory", or the
    /// spool's own `explanation`.
    public var reason: String { explanation ?? String(cString: strerror(code)) }

    public var description: String {
        var sentence = "Can't \(operation)"
        if let path { sentence += " '\(path)'" }
        if let secondPath { sentence += " to '\(secondPath)'" }
        return sentence + (explanation.map { ": " + $0 } ?? ": \(reason) (\(codeName))")
    }

    public var isNotFound: Bool { code == ENOENT }
    /// A read stopped at its limit (`readEntirely`).
    public var isTooLarge: Bool { code == EFBIG }
    public var isAlreadyExists: Bool { code == EEXIST }
    public var isWouldBlock: Bool { code == EWOULDBLOCK || code == EAGAIN }
}

/// Names for the errno values a spool meets; used in error messages and tests.
package enum Errno {
    package static func name(of code: Int32) -> String {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case EMFILE: return "EMFILE"
        case ENFILE: return "ENFILE"
        case ETXTBSY: return "ETXTBSY"
        case EFBIG: return "EFBIG"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EPIPE: return "EPIPE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case ELOOP: return "ELOOP"
        case ECHILD: return "ECHILD"
        case ESRCH: return "ESRCH"
        case EDQUOT: return "EDQUOT"
        case ENXIO: return "ENXIO"
        default: return "errno \(code)"
        }
    }
}

/// The value of a system call, or the errno it failed with.
package enum SyscallResult<Value> {
    case success(Value)
    case failure(Int32)

    package var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

/// Runs a system call, retrying while it fails with EINTR, and returns its value or the errno.
@inline(__always)
package func retryingInterrupts<Value: FixedWidthInteger>(_ call: () -> Value) -> SyscallResult<Value> {
    while true {
        let value = call()
        if value != -1 { return .success(value) }
        let code = errno
        if code == EINTR { continue }
        return .failure(code)
    }
}

extension SyscallResult {
    /// Turns an errno failure into a `SystemError` naming the operation and the paths.
    @inline(__always)
    package func orThrow(_ operation: String, path: String? = nil, secondPath: String? = nil) throws(SystemError)
        -> Value
    {
        switch self {
        case .success(let value): return value
        case .failure(let code): throw SystemError(operation, path: path, secondPath: secondPath, code: code)
        }
    }
}
