import CSpoolShims
import Glibc

/// An open file descriptor. Its holder closes it exactly once with `close()`.
///
/// Every descriptor the spool opens carries `O_CLOEXEC`, so handlers inherit only the
/// descriptors that the spawner hands them on purpose.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Closes the descriptor. Errors from close(2) are not actionable after the data has been
    /// written (and fsynced where it matters), so they are ignored here.
    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// Reads up to `buffer.count` bytes into the array's storage (read(2)); 0 means end of file.
    package func read(into buffer: inout [UInt8], path: String? = nil) throws(SystemError) -> Int {
        let descriptor = rawValue
        let result = buffer.withUnsafeMutableBytes { raw in
            retryingInterrupts { Glibc.read(descriptor, raw.baseAddress, raw.count) }
        }
        return try result.orThrow("read", path: path)
    }

    /// Reads the whole file from its current offset; past `limit` bytes it throws EFBIG
    /// (`SystemError.isTooLarge`).
    package func readEntirely(limit: Int, path: String) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = try read(into: &chunk, path: path)
            if count == 0 { return bytes }
            if bytes.count + count > limit { throw SystemError("read", path: path, code: EFBIG) }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes every byte (write(2) until done).
    package func writeAll(_ bytes: some Collection<UInt8>, path: String? = nil) throws(SystemError) {
        try FaultInjection.check("write", path: path)
        FaultInjection.killPoint("before", "write", path: path)
        let contiguous = Array(bytes)
        let descriptor = rawValue
        let result: SyscallResult<Int> = contiguous.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let step = retryingInterrupts {
                    Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                }
                switch step {
                case .success(let written): offset += written
                case .failure: return step
                }
            }
            return .success(offset)
        }
        _ = try result.orThrow("write", path: path)
    }

    /// Flushes the file's data and metadata to stable storage (fsync(2)).
    public func sync(path: String? = nil) throws(SystemError) {
        try FaultInjection.check("fsync", path: path)
        _ = try retryingInterrupts { Glibc.fsync(rawValue) }.orThrow("fsync", path: path)
        // XFS answers fsync of a directory opened before the file system shut down (after an
        // I/O error, or FS_IOC_SHUTDOWN) with success, although the renames it should cover were
        // never written: the directory is no longer pinned in the log, so nothing is forced.
        // fstat fails with EIO then, so a flush is believed only if the file is still there.
        _ = try status(path: path)
    }

    /// Takes an exclusive flock(2). Returns false when another open file holds it and
    /// `wait` is false.
    package func lockExclusive(wait: Bool = false, path: String? = nil) throws(SystemError) -> Bool {
        FaultInjection.killPoint("before", "lock", path: path)
        let operation = LOCK_EX | (wait ? 0 : LOCK_NB)
        let lockFile: (Int32, Int32) -> Int32 = Glibc.flock(_:_:)
        switch retryingInterrupts({ lockFile(rawValue, operation) }) {
        case .success: return true
        case .failure(let code) where code == EWOULDBLOCK: return false
        case .failure(let code): throw SystemError("lock", path: path, code: code)
        }
    }

    /// The status of the open file (fstat(2)).
    package func status(path: String? = nil) throws(SystemError) -> FileStatus {
        var raw = stat()
        _ = try retryingInterrupts { Glibc.fstat(rawValue, &raw) }.orThrow("stat", path: path)
        return FileStatus(raw)
    }

    /// Truncates the file to zero length (ftruncate(2)).
    package func truncate(path: String? = nil) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.ftruncate(rawValue, 0) }.orThrow("truncate", path: path)
    }

    /// A second descriptor for the same open file (sharing its offset), close-on-exec.
    package func duplicate(path: String? = nil) throws(SystemError) -> FileDescriptor {
        let raw = try retryingInterrupts { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) }.orThrow("dup", path: path)
        return FileDescriptor(rawValue: raw)
    }

    /// Switches the descriptor to non-blocking mode.
    package func setNonBlocking() throws(SystemError) {
        let flags = try retryingInterrupts { fcntl(rawValue, F_GETFL) }.orThrow("fcntl")
        _ = try retryingInterrupts { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }.orThrow("fcntl")
    }

    /// Gives the open file to another user (fchown(2)). For a pipe, its one inode: a handler
    /// that switched to that user can then reopen it through `/dev/stderr` or `/proc/self/fd`
    /// (the kernel checks the inode's owner and mode, 0600, on such an open).
    package func changeOwner(uid: UInt32, gid: UInt32) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.fchown(rawValue, uid, gid) }.orThrow("chown")
    }

    /// Sets the open file's permission bits (fchmod(2)), whatever the umask made them.
    package func changeMode(_ mode: UInt32) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.fchmod(rawValue, mode_t(mode)) }.orThrow("chmod")
    }

    /// A pipe whose both ends are close-on-exec.
    package static func pipe() throws(SystemError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try retryingInterrupts { spool_pipe_cloexec(&fds) }.orThrow("create a pipe")
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}

/// What `stat` says of a file, reduced to what a spool needs.
public struct FileStatus: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case regular, directory, symbolicLink, fifo, socket, characterDevice, blockDevice, unknown
    }

    public let kind: Kind
    public let size: Int
    public let linkCount: Int
    public let inode: UInt64
    public let device: UInt64
    public let ownerID: UInt32
    /// Permission bits (`st_mode & 0o7777`).
    public let permissions: UInt32
    /// Last status change (a rename sets it): the spool's arrival time for a queued file.
    public let changeTimeNanoseconds: Int64
    public let modificationTimeNanoseconds: Int64

    package init(_ raw: stat) {
        switch raw.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        default: kind = .unknown
        }
        size = Int(raw.st_size)
        linkCount = Int(raw.st_nlink)
        inode = UInt64(raw.st_ino)
        device = UInt64(raw.st_dev)
        ownerID = raw.st_uid
        permissions = UInt32(raw.st_mode & 0o7777)
        changeTimeNanoseconds = Int64(raw.st_ctim.tv_sec) * 1_000_000_000 + Int64(raw.st_ctim.tv_nsec)
        modificationTimeNanoseconds = Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec)
    }

    /// Whether two statuses name the same file (same device and inode).
    package func isSameFile(as other: FileStatus) -> Bool { inode == other.inode && device == other.device }

    /// A human name for the kind, used in rejection reasons ("a symbolic link").
    public var kindDescription: String {
        switch kind {
        case .regular: return "a regular file"
        case .directory: return "a directory"
        case .symbolicLink: return "a symbolic link"
        case .fifo: return "a FIFO (named pipe)"
        case .socket: return "a socket"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .unknown: return "a file of unknown kind"
        }
    }
}
