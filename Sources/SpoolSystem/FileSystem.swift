import CSpoolShims
import Glibc

/// Path-based file-system calls. Each wraps exactly one libc call, retries EINTR, and throws a
/// `SystemError` naming the path(s).
public enum FileSystem {
    /// Opens a file (open(2)); `O_CLOEXEC` is always added.
    ///
    /// A path opened with `O_NOFOLLOW` is one of the spool's own files (a lock, a record, a
    /// marker): it is opened with `O_NONBLOCK` too, so a FIFO put in its place cannot hold the
    /// caller in open(2), and anything but a regular file or a directory (a FIFO, a socket, a
    /// device) is refused, naming the path; `O_NONBLOCK` is then cleared unless asked for. A
    /// file just made with `O_CREAT | O_EXCL` is ours and needs no check.
    package static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor
    {
        let ownFile = flags & O_NOFOLLOW != 0
        let guarded = ownFile && flags & (O_CREAT | O_EXCL) != O_CREAT | O_EXCL
        let descriptor: FileDescriptor
        switch retryingInterrupts({ Glibc.open(path, flags | O_CLOEXEC | (guarded ? O_NONBLOCK : 0), mode) }) {
        case .success(let fd): descriptor = FileDescriptor(rawValue: fd)
        case .failure(let code) where ownFile && (code == ELOOP || code == ENXIO):
            // A link (ELOOP), or a FIFO without a reader or a socket (ENXIO): say which.
            throw SystemError("open", path: path, code: code, explanation: refusal(of: path))
        case .failure(let code):
            throw SystemError("open", path: path, code: code)
        }
        guard guarded else { return descriptor }
        return try checked(descriptor, path: path, flags: flags, allowingDirectory: true)
    }

    /// Opens a file for reading without following a symbolic link and without blocking on a FIFO.
    package static func openForReadingSafely(_ path: String) throws(SystemError) -> FileDescriptor {
        try open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
    }

    /// Creates a new file that must not exist yet (`O_CREAT | O_EXCL`), open for writing.
    package static func createExclusive(_ path: String, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        try open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
    }

    /// Renames, replacing any existing target (rename(2)). Used only where the target is ours.
    package static func rename(_ source: String, to target: String) throws(SystemError) {
        try rename(source, to: target) { Glibc.rename(source, target) }
    }

    /// Makes the rename `call` (of `source` to `target`), with injected faults and lost NFS
    /// replies recognised.
    package static func rename(_ source: String, to target: String, _ call: () -> Int32) throws(SystemError) {
        try FaultInjection.check("rename", path: target)
        FaultInjection.killPoint("before", renaming: source, to: target)
        let before = AmbiguousRenames.identity(of: Array(source.utf8CString))
        var result = retryingInterrupts(call)
        if case .success = result, let fault = LostReplyInjection.renameFault() { result = .failure(fault) }
        if case .failure(let code) = result,
            !AmbiguousRenames.happenedDespite(
                code, sourceBefore: before, source: Array(source.utf8CString), target: target)
        {
            throw SystemError("rename", path: source, secondPath: target, code: code)
        }
        FaultInjection.killPoint("after", renaming: source, to: target)
    }

    /// Renames only if the target does not exist (renameat2 with RENAME_NOREPLACE); EEXIST otherwise.
    /// Falls back to link(2) + unlink(2) on file systems without renameat2 flags. A failure that
    /// a lost NFS reply explains (the source gone, the target the same file) is a success.
    package static func renameNoReplace(_ source: String, to target: String) throws(SystemError) {
        FaultInjection.killPoint("before", renaming: source, to: target)
        try renameNoReplaceOnce(source, to: target)
        FaultInjection.killPoint("after", renaming: source, to: target)
    }

    private static func renameNoReplaceOnce(_ source: String, to target: String) throws(SystemError) {
        try FaultInjection.check("rename", path: target)
        let before = AmbiguousRenames.identity(of: Array(source.utf8CString))
        var result = retryingInterrupts { spool_rename_noreplace(AT_FDCWD, source, AT_FDCWD, target) }
        if case .success = result, let fault = LostReplyInjection.renameFault() { result = .failure(fault) }
        switch result {
        case .success: return
        case .failure(let code)
        where AmbiguousRenames.happenedDespite(
            code, sourceBefore: before, source: Array(source.utf8CString), target: target):
            return
        case .failure(let code) where code == EINVAL || code == ENOSYS:
            try link(source, to: target)
            try unlink(source)
        case .failure(let code):
            throw SystemError("rename", path: source, secondPath: target, code: code)
        }
    }

    /// Creates a hard link (link(2)); EEXIST when the target exists.
    package static func link(_ source: String, to target: String) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.link(source, target) }.orThrow("link", path: source, secondPath: target)
    }

    /// Removes a file (unlink(2)).
    package static func unlink(_ path: String) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.unlink(path) }.orThrow("remove", path: path)
    }

    /// Removes a file, ignoring a file that is already gone.
    package static func unlinkIfPresent(_ path: String) throws(SystemError) {
        do { try unlink(path) } catch  where error.isNotFound {}
    }

    /// Creates a directory (mkdir(2)); succeeds if it already exists as a directory.
    package static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        switch retryingInterrupts({ Glibc.mkdir(path, mode) }) {
        case .success: return
        case .failure(let code) where code == EEXIST:
            if (try? statusNotFollowing(path))??.kind == .directory { return }
            throw SystemError("create directory", path: path, code: code)
        case .failure(let code):
            throw SystemError("create directory", path: path, code: code)
        }
    }

    /// The directory part of a path (everything before its last '/').
    package static func directoryName(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return String(path[..<slash])
    }

    /// Renames a directory to a name that must not exist yet: renameat2(RENAME_NOREPLACE), or,
    /// where the file system lacks it (link() cannot stand in for directories), a check and a
    /// plain rename — callers hold the claim that makes them the only one publishing this name.
    package static func renameDirectoryNoReplace(_ source: String, to target: String) throws(SystemError) {
        switch retryingInterrupts({ spool_rename_noreplace(AT_FDCWD, source, AT_FDCWD, target) }) {
        case .success: return
        case .failure(let code) where code == EINVAL || code == ENOSYS:
            if exists(target) { throw SystemError("rename", path: source, secondPath: target, code: EEXIST) }
            try rename(source, to: target)
        case .failure(let code):
            throw SystemError("rename", path: source, secondPath: target, code: code)
        }
    }

    /// Removes a directory and the files directly in it (a staging directory, a finished
    /// batch); best effort. The directory is opened without following a link, and its entries
    /// are removed through that descriptor (`/proc/self/fd/N/NAME`), so a directory swapped for
    /// a link meanwhile never leads the removal elsewhere.
    package static func removeShallowTree(_ path: String) {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        guard case .success(let descriptor) = retryingInterrupts({ Glibc.open(path, flags) }) else { return }
        removeEntries(of: descriptor)
        _ = Glibc.rmdir(path)
    }

    /// Removes the files directly in an open directory, through its descriptor, and closes it.
    package static func removeEntries(of descriptor: Int32) {
        let handle = "/proc/self/fd/" + String(descriptor)
        for entry in (try? listDirectory(handle)) ?? [] {
            _ = FileSystem.rawPath(handle, entry.rawName).withUnsafeBufferPointer { Glibc.unlink($0.baseAddress!) }
        }
        _ = Glibc.close(descriptor)
    }

    /// Makes (or finds) a directory that only this process's user can enter: created 0700, and
    /// refused (EPERM) when it is a link, someone else's, or open to others — a directory
    /// another user made in its place could read or plant what is written there.
    package static func makePrivateDirectory(_ path: String) throws(SystemError) {
        try makeDirectory(path, mode: 0o700)
        guard let status = try statusNotFollowing(path), status.kind == .directory,
            status.ownerID == geteuid(), status.permissions & 0o077 == 0
        else { throw SystemError("use as a private directory", path: path, code: EPERM) }
    }

    /// Whether `path` is a real directory (not a link to one).
    package static func isRealDirectory(_ path: String) -> Bool {
        (try? statusNotFollowing(path))?.kind == .directory
    }

    /// Removes an empty directory (rmdir(2)).
    package static func removeDirectory(_ path: String) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.rmdir(path) }.orThrow("remove directory", path: path)
    }

    /// The status of a path without following a final symbolic link (lstat(2)); nil when absent.
    package static func statusNotFollowing(_ path: String) throws(SystemError) -> FileStatus? {
        var raw = stat()
        switch retryingInterrupts({ Glibc.lstat(path, &raw) }) {
        case .success: return FileStatus(raw)
        case .failure(let code) where code == ENOENT || code == ENOTDIR: return nil
        case .failure(let code): throw SystemError("stat", path: path, code: code)
        }
    }

    /// Whether anything (of any kind, even a dangling link) exists at the path.
    package static func exists(_ path: String) -> Bool {
        var raw = stat()
        return retryingInterrupts({ Glibc.lstat(path, &raw) }).isSuccess
    }

    /// Flushes a directory's entries to stable storage, so that renames into it survive a power cut.
    package static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { fd.close() }
        try fd.sync(path: path)
    }

    /// Makes a file's (or directory's) data and metadata durable: open it and fsync(2) it.
    package static func syncPath(_ path: String) throws(SystemError) {
        let fd = try open(path, O_RDONLY | O_NOFOLLOW)
        defer { fd.close() }
        try fd.sync(path: path)
    }

    /// Writes back every dirty file and directory of the file system that `fd` (a directory on
    /// it, kept open) lies on, with syncfs(2): one call that makes many files and renames durable
    /// at once. `paths` are those the caller needs durable: each is checked against injected
    /// faults as its own fsync would be.
    package static func syncFileSystem(_ fd: FileDescriptor, covering paths: [String], root: String) throws(SystemError)
    {
        for path in paths { try FaultInjection.check("fsync", path: path) }
        _ = try retryingInterrupts { spool_syncfs(fd.rawValue) }.orThrow("syncfs", path: root)
    }

    /// Reads a whole regular file up to `limit` bytes (EFBIG past it), never through a link and
    /// never blocking on a FIFO.
    package static func readWholeFile(_ path: String, limit: Int = 64 * 1024 * 1024) throws(SystemError) -> [UInt8] {
        let fd = try openForReadingSafely(path)
        defer { fd.close() }
        return try fd.readEntirely(limit: limit, path: path)
    }

    /// Writes `bytes` to `path` crash-safely: a new file beside it, optionally fsynced, renamed
    /// over the target. Used for files the spool owns (config, metrics), never for job transitions.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool, mode: mode_t = 0o644)
        throws(SystemError)
    {
        // Unique per process and call: two threads may write the same file (a marker) at once.
        let temporary =
            path + "." + TemporaryNames.processPrefix + "."
            + String(TemporaryNames.counter.add(1, ordering: .relaxed).newValue) + ".tmp"
        let fd = try createExclusive(temporary, mode: mode)
        do {
            defer { fd.close() }  // once, on every path
            try fd.writeAll(bytes, path: temporary)
            if durable { try fd.sync(path: temporary) }
        } catch {
            try? unlink(temporary)
            throw error
        }
        do { try rename(temporary, to: path) } catch {
            try? unlink(temporary)
            throw error
        }
    }

    /// The path of the running executable, from /proc/self/exe.
    package static func currentExecutablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension FileSystem {
    /// The canonical absolute path of an existing directory or file (realpath(3)).
    package static func canonicalPath(_ path: String) throws(SystemError) -> String {
        guard let resolved = realpath(path, nil) else { throw SystemError("resolve", path: path, code: errno) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The environment of this process as `NAME=value` strings.
    package static func currentEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}

/// The value of an environment variable of this process.
public func environmentValue(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}

/// Ends the process at once with a status (after output was flushed by the caller).
public func exitProcess(_ status: Int32) -> Never { exit(status) }

/// Reads all of standard input.
public func readStandardInput() -> [UInt8] {
    (try? FileDescriptor(rawValue: 0).readEntirely(limit: 64 * 1024 * 1024, path: "standard input")) ?? []
}

extension FileSystem {
    /// Whether the path is a regular file this process may execute (access(2) X_OK).
    package static func isExecutableFile(_ path: String) -> Bool {
        guard (try? statusNotFollowing(path))??.kind != .directory else { return false }
        return access(path, X_OK) == 0
    }
}

extension FileSystem {
    /// Reads a file from `offset` to its end (at most `limit` bytes); empty when it is absent.
    public static func readFile(_ path: String, from offset: Int, limit: Int = 16 * 1024 * 1024) -> [UInt8] {
        guard let fd = try? openForReadingSafely(path) else { return [] }
        defer { fd.close() }
        guard lseek(fd.rawValue, off_t(offset), SEEK_SET) == off_t(offset) else { return [] }
        return (try? fd.readEntirely(limit: limit, path: path)) ?? []
    }
}

extension FileSystem {
    /// Whether `path` names a directory, following symbolic links (stat(2)): for a directory a
    /// user names on the command line.
    public static func isDirectory(_ path: String) -> Bool {
        var raw = stat()
        let statusOf: (UnsafePointer<CChar>, UnsafeMutablePointer<stat>) -> Int32 = Glibc.stat(_:_:)
        guard case .success = retryingInterrupts({ statusOf(path, &raw) }) else { return false }
        return raw.st_mode & S_IFMT == S_IFDIR
    }
}
