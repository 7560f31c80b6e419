import CSpoolShims
import Glibc
import Synchronization

extension FileSystem {
    /// Opens `relativePath` for reading strictly beneath the directory `root`: every component is
    /// opened with openat(2) and `O_NOFOLLOW`, so neither `..` nor a symbolic link anywhere in
    /// the relative path can lead outside `root` (a payload names the file; a payload is input).
    /// Absolute paths, empty components, `.` and `..` are refused before any call is made.
    package static func openReadingBeneath(_ root: String, _ relativePath: String) throws(BeneathPathError)
        -> FileDescriptor
    {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if relativePath.hasPrefix("/") { throw .refused(relativePath, "it is absolute; name a file inside \(root)") }
        // A NUL would end the string for the kernel: "..\u{0}" must not pass as a plain name.
        if relativePath.utf8.contains(0) {
            throw .refused(
                relativePath.split(separator: "\u{0}", omittingEmptySubsequences: false).joined(separator: "\\0"),
                "it contains a NUL byte")
        }
        if relativePath.isEmpty || components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            throw .refused(relativePath, "it must be a plain relative path without '.', '..' or empty parts")
        }
        var current: FileDescriptor
        do { current = try open(root, O_RDONLY | O_DIRECTORY) } catch { throw .system(error) }
        var walked = root
        for (index, component) in components.enumerated() {
            walked += "/" + component
            let last = index == components.count - 1
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (last ? O_NONBLOCK : O_DIRECTORY)
            let parent = current.rawValue
            let step = retryingInterrupts { openat(parent, component, flags) }
            current.close()
            switch step {
            case .success(let raw):
                current = FileDescriptor(rawValue: raw)
            case .failure(let code) where code == ELOOP || (code == ENOTDIR && !last):
                throw .refused(
                    relativePath, "'\(walked)' is a symbolic link or not a directory (links are never followed)")
            case .failure(let code):
                throw .system(SystemError("open", path: walked, code: code))
            }
        }
        do {
            let status = try current.status(path: walked)
            guard status.kind == .regular else {
                current.close()
                throw BeneathPathError.refused(relativePath, "'\(walked)' is \(status.kindDescription)")
            }
            try current.setBlocking()
        } catch let error as BeneathPathError {
            throw error
        } catch {
            current.close()
            throw .system(error as? SystemError ?? SystemError("stat", path: walked, code: EIO))
        }
        return current
    }
}

/// Why a path named by a job could not be opened beneath its allowed directory.
public enum BeneathPathError: Error, Sendable, CustomStringConvertible {
    /// The path is not allowed (absolute, `..`, a link, not a regular file), with the reason.
    case refused(String, String)
    case system(SystemError)

    public var description: String {
        switch self {
        case .refused(let path, let reason): return "refused path '\(path)': \(reason)"
        case .system(let error): return error.description
        }
    }
}

extension FileDescriptor {
    /// Clears `O_NONBLOCK` (set to open a possible FIFO without blocking; a regular file reads the same).
    package func setBlocking() throws(SystemError) {
        let flags = try retryingInterrupts { fcntl(rawValue, F_GETFL) }.orThrow("fcntl")
        _ = try retryingInterrupts { fcntl(rawValue, F_SETFL, flags & ~O_NONBLOCK) }.orThrow("fcntl")
    }

    /// Moves the file offset (lseek(2) with SEEK_SET); returns the new offset.
    @discardableResult
    package func seek(to offset: Int, path: String? = nil) throws(SystemError) -> Int {
        Int(try retryingInterrupts { lseek(rawValue, off_t(offset), SEEK_SET) }.orThrow("seek", path: path))
    }

    /// Moves the file offset to the end (lseek(2) with SEEK_END); returns it.
    @discardableResult
    package func seekToEnd(path: String? = nil) throws(SystemError) -> Int {
        Int(try retryingInterrupts { lseek(rawValue, 0, SEEK_END) }.orThrow("seek", path: path))
    }

    /// Cuts or extends the file to exactly `size` bytes (ftruncate(2)).
    package func truncate(toSize size: Int, path: String? = nil) throws(SystemError) {
        _ = try retryingInterrupts { ftruncate(rawValue, off_t(size)) }.orThrow("truncate", path: path)
    }
}

extension FileSystem {
    /// Opens (creating if needed, never truncating) a file of ours for writing, without following a link.
    package static func openForUpdate(_ path: String, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        try open(path, O_WRONLY | O_CREAT | O_NOFOLLOW, mode: mode)
    }

}

extension FileDescriptor {
    /// Reads up to `buffer.count` bytes into raw memory (read(2)); 0 means end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer, path: String? = nil) throws(SystemError) -> Int {
        let descriptor = rawValue
        return try retryingInterrupts { Glibc.read(descriptor, buffer.baseAddress, buffer.count) }.orThrow(
            "read", path: path)
    }
}

// MARK: Files inside the spool, reached from its root

/// The spool roots this process has opened files in, by path: one descriptor each, kept for
/// the life of the process (a processor opens logs and results many times a second).
private let spoolRootDescriptors = Mutex<[String: Int32]>([:])
/// Set after openat2(2) answered ENOSYS (a kernel before 5.6): the component walk serves instead.
/// `SPOOL_NO_OPENAT2=1` sets it from the start, a test seam for that walk.
private let openat2Missing = Atomic<Bool>(environmentValue("SPOOL_NO_OPENAT2") == "1")

extension FileSystem {
    /// Opens `path`, a file inside the spool rooted at `root` (a path `SpoolLayout` built), from
    /// the root's descriptor with openat2(2) and `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: a
    /// directory of the spool replaced by a symbolic link (`results/`, `logs/`, `logs/PARENT/`)
    /// is refused, never written through; so is a link in the file's own place. The file is
    /// opened with `O_NONBLOCK` (a FIFO there would hold the caller in open(2) for good) and
    /// must be a regular file; `O_NONBLOCK` is then cleared unless `flags` has it. Every
    /// refusal names the path and says what is there.
    package static func openInSpool(_ path: String, root: String, _ flags: Int32, mode: mode_t = 0o644)
        throws(SystemError)
        -> FileDescriptor
    {
        let relative = try relativeInSpool(path, root: root, operation: "open")
        let all = flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
        let descriptor: FileDescriptor
        switch openBeneath(try rootDescriptor(root), relative, all, mode) {
        case .success(let raw): descriptor = FileDescriptor(rawValue: raw)
        case .failure(let code):
            throw SystemError("open", path: path, code: code, explanation: refusal(of: relative, root: root))
        }
        return try checked(descriptor, path: path, flags: flags, allowingDirectory: false)
    }

    /// A file of the spool's just opened with `O_NONBLOCK`: refused (and closed) unless it is a
    /// regular file (or a directory, when `allowingDirectory`); `O_NONBLOCK` is then cleared
    /// unless `flags` asked for it.
    package static func checked(_ descriptor: FileDescriptor, path: String, flags: Int32, allowingDirectory: Bool)
        throws(SystemError) -> FileDescriptor
    {
        do throws(SystemError) {
            let status = try descriptor.status(path: path)
            guard status.kind == .regular || (allowingDirectory && status.kind == .directory) else {
                throw SystemError("open", path: path, code: EINVAL, explanation: notRegularExplanation(status))
            }
            if flags & O_NONBLOCK == 0 { try descriptor.setBlocking() }
        } catch {
            descriptor.close()
            throw error
        }
        return descriptor
    }

    /// `openInSpool` for appending (`O_APPEND`, created if absent), making the file's own
    /// directory when it is missing (`logs/PARENT/` of a child, `events/` of an old spool).
    package static func openForAppendingInSpool(_ path: String, root: String) throws(SystemError) -> FileDescriptor {
        let flags = O_WRONLY | O_APPEND | O_CREAT
        do {
            return try openInSpool(path, root: root, flags)
        } catch  where error.isNotFound {
            try makeDirectoryInSpool(directoryName(of: path), root: root)
            return try openInSpool(path, root: root, flags)
        }
    }

    /// Reads a whole regular file inside the spool (`openInSpool`), up to `limit` bytes (EFBIG
    /// past it).
    package static func readWholeFileInSpool(_ path: String, root: String, limit: Int) throws(SystemError)
        -> [UInt8]
    {
        let descriptor = try openInSpool(path, root: root, O_RDONLY)
        defer { descriptor.close() }
        return try descriptor.readEntirely(limit: limit, path: path)
    }

    /// Reads at most `limit` bytes of a file inside the spool from `offset` (`openInSpool`):
    /// empty when the file is absent or shorter; a link, a FIFO or a directory in its place, or
    /// one on the way to it, is an error naming the path. For `spool logs` and `spool result`.
    public static func readFileInSpool(_ path: String, root: String, from offset: Int, limit: Int = 16 * 1024 * 1024)
        throws(SystemError) -> [UInt8]
    {
        let descriptor: FileDescriptor
        do { descriptor = try openInSpool(path, root: root, O_RDONLY) } catch  where error.isNotFound { return [] }
        defer { descriptor.close() }
        var bytes = [UInt8](repeating: 0, count: min(limit, 1024 * 1024))
        var filled = 0
        while filled < limit {
            if filled == bytes.count { bytes += [UInt8](repeating: 0, count: min(limit - filled, bytes.count)) }
            let raw = descriptor.rawValue
            let count = try bytes.withUnsafeMutableBytes { buffer in
                retryingInterrupts {
                    pread(raw, buffer.baseAddress! + filled, buffer.count - filled, off_t(offset + filled))
                }
            }.orThrow("read", path: path)
            if count == 0 { break }
            filled += count
        }
        return Array(bytes[0..<filled])
    }

    /// Renames `source` (a file of ours, in `tmp/` or `returns/`) to `target` inside the spool,
    /// replacing an older target: renameat(2) into the target's directory, opened from the root
    /// as `openInSpool` opens files, so a `results/` swapped for a link never takes the file
    /// out of the spool. Lost NFS replies are recognised as by `rename`.
    package static func renameIntoSpool(_ source: String, to target: String, root: String) throws(SystemError) {
        let (directory, name) = try containingDirectory(of: target, root: root, for: "rename", source: source)
        defer { directory.close() }
        try rename(source, to: target) { renameat(AT_FDCWD, source, directory.rawValue, name) }
    }

    /// Makes a directory inside the spool (`results/PARENT/`, `logs/PARENT/`) with mkdirat(2) in
    /// its parent opened from the root; succeeds if a real directory is already there.
    package static func makeDirectoryInSpool(_ path: String, root: String, mode: mode_t = 0o755) throws(SystemError) {
        let (parent, name) = try containingDirectory(of: path, root: root, for: "create directory")
        defer { parent.close() }
        switch retryingInterrupts({ mkdirat(parent.rawValue, name, mode) }) {
        case .success: return
        case .failure(let code) where code == EEXIST:
            var raw = stat()
            if fstatat(parent.rawValue, name, &raw, AT_SYMLINK_NOFOLLOW) == 0, FileStatus(raw).kind == .directory {
                return
            }
            let relative = try relativeInSpool(path, root: root, operation: "create directory")
            throw SystemError(
                "create directory", path: path, code: code,
                explanation: refusal(of: relative, root: root, expecting: .directory))
        case .failure(let code):
            throw SystemError("create directory", path: path, code: code)
        }
    }

    /// Removes a file inside the spool (unlinkat(2) in its directory opened from the root), so a
    /// directory swapped for a link never leads a purge to files outside; absent is fine.
    package static func unlinkInSpool(_ path: String, root: String) throws(SystemError) {
        let (directory, name) = try containingDirectory(of: path, root: root, for: "remove")
        defer { directory.close() }
        switch retryingInterrupts({ unlinkat(directory.rawValue, name, 0) }) {
        case .success: return
        case .failure(let code) where code == ENOENT: return
        case .failure(let code): throw SystemError("remove", path: path, code: code)
        }
    }

    /// Hard-links a file inside the spool (linkat(2) from its directory opened from the root)
    /// to `target`; EEXIST when the target exists.
    package static func linkFromSpool(_ source: String, root: String, to target: String) throws(SystemError) {
        let (directory, name) = try containingDirectory(of: source, root: root, for: "link", target: target)
        defer { directory.close() }
        _ = try retryingInterrupts { linkat(directory.rawValue, name, AT_FDCWD, target, 0) }.orThrow(
            "link", path: source, secondPath: target)
    }

    /// Removes a directory inside the spool and the files directly in it (`removeShallowTree`),
    /// reaching it from the root: a `results/` swapped for a link is not followed.
    package static func removeShallowTreeInSpool(_ path: String, root: String) {
        guard let (parent, name) = try? containingDirectory(of: path, root: root, for: "remove") else { return }
        defer { parent.close() }
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        guard case .success(let descriptor) = retryingInterrupts({ openat(parent.rawValue, name, flags) }) else {
            return
        }
        removeEntries(of: descriptor)
        _ = unlinkat(parent.rawValue, name, AT_REMOVEDIR)
    }

    // MARK: The mechanics

    /// The descriptor of the spool's root directory, opened once per process and root.
    private static func rootDescriptor(_ root: String) throws(SystemError) -> Int32 {
        if let known = spoolRootDescriptors.withLock({ $0[root] }) { return known }
        let opened = try open(root, O_RDONLY | O_DIRECTORY)
        return spoolRootDescriptors.withLock { table in
            if let known = table[root] {
                opened.close()
                return known
            }
            table[root] = opened.rawValue
            return opened.rawValue
        }
    }

    /// `path` relative to `root`: refused unless it lies inside it as plain names (no `.`,
    /// `..` or empty part). Every path `SpoolLayout` builds is of that form.
    private static func relativeInSpool(_ path: String, root: String, operation: String) throws(SystemError)
        -> String
    {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        let relative = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : ""
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw SystemError(
                operation, path: path, code: EXDEV, explanation: "it is not a plain path inside the spool \(root)")
        }
        return relative
    }

    /// openat2 from `rootFD` with the resolution limits of `spool_openat2_beneath`; without
    /// openat2, each directory is opened from the last with `O_NOFOLLOW | O_DIRECTORY`.
    private static func openBeneath(_ rootFD: Int32, _ relative: String, _ flags: Int32, _ mode: mode_t)
        -> SyscallResult<Int32>
    {
        if !openat2Missing.load(ordering: .relaxed) {
            let result = retryingInterrupts { spool_openat2_beneath(rootFD, relative, flags, mode) }
            guard case .failure(ENOSYS) = result else { return result }
            openat2Missing.store(true, ordering: .relaxed)
        }
        let components = relative.split(separator: "/").map(String.init)
        var current = rootFD
        defer { if current != rootFD { _ = Glibc.close(current) } }
        for component in components.dropLast() {
            let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            let step = retryingInterrupts { openat(current, component, directoryFlags) }
            guard case .success(let next) = step else { return step }
            if current != rootFD { _ = Glibc.close(current) }
            current = next
        }
        return retryingInterrupts { openat(current, components.last!, flags, mode) }
    }

    /// The directory holding `path` inside the spool, opened from the root like `openInSpool`
    /// (the root itself, duplicated, for an entry directly in it), and the entry's name. A
    /// failure is told as `operation` on `path` (from `source`, or to `target`, when given).
    private static func containingDirectory(
        of path: String, root: String, for operation: String, source: String? = nil, target: String? = nil
    ) throws(SystemError) -> (FileDescriptor, String) {
        let relative = try relativeInSpool(path, root: root, operation: operation)
        let rootFD = try rootDescriptor(root)
        guard let slash = relative.utf8.lastIndex(of: UInt8(ascii: "/")) else {
            return (try FileDescriptor(rawValue: rootFD).duplicate(path: root), relative)
        }
        let parent = String(relative[..<slash])
        let name = String(relative[relative.utf8.index(after: slash)...])
        switch openBeneath(rootFD, parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) {
        case .success(let raw): return (FileDescriptor(rawValue: raw), name)
        case .failure(let code):
            throw SystemError(
                operation, path: source ?? path, secondPath: source != nil ? path : target, code: code,
                explanation: refusal(of: parent, root: root, expecting: .directory))
        }
    }

    /// Why the spool will not open `relative` (inside `root`): the first part of it that is a
    /// symbolic link, a part on the way that is not a directory, or the entry itself when it is
    /// not `expecting`. Nil when nothing there explains it (the kernel's message stands).
    package static func refusal(of relative: String, root: String, expecting: FileStatus.Kind = .regular) -> String? {
        var walked = root.hasSuffix("/") ? String(root.dropLast()) : root
        let parts = relative.split(separator: "/")
        for (index, part) in parts.enumerated() {
            walked += "/" + part
            guard let found = try? statusNotFollowing(walked) else { return nil }
            let last = index == parts.count - 1
            if found.kind == .symbolicLink {
                let target = linkTarget(walked).map { " (to '\($0)')" } ?? ""
                let remedy =
                    last && expecting == .regular
                    ? "remove the link" : "make it a real directory again, inside the spool"
                return "'\(walked)' is a symbolic link\(target); the spool never reads or writes through links: "
                    + remedy
            }
            if !last && found.kind != .directory { return "'\(walked)' is \(found.kindDescription), not a directory" }
            if last && found.kind != expecting {
                return expecting == .regular
                    ? notRegularExplanation(found) : "'\(walked)' is \(found.kindDescription), not a directory"
            }
        }
        return nil
    }

    /// Why the spool will not open the file at `path` itself: a link, or not a regular file.
    package static func refusal(of path: String) -> String? {
        guard let found = try? statusNotFollowing(path) else { return nil }
        if found.kind == .symbolicLink {
            let target = linkTarget(path).map { " (to '\($0)')" } ?? ""
            return "it is a symbolic link\(target), and links are never followed there (remove the link)"
        }
        return found.kind == .regular ? nil : notRegularExplanation(found)
    }

    /// The refusal of a file that is not a regular file (a FIFO, a socket, a device, a directory).
    package static func notRegularExplanation(_ status: FileStatus) -> String {
        "it is \(status.kindDescription), not a regular file; the spool opens only regular files there "
            + "(remove it)"
    }

    /// What a symbolic link points to (readlink(2)), for messages.
    package static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
