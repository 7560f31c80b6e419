import Glibc

extension FileSystem {
    /// Opens `relativePath` for reading strictly beneath the directory `root`: every component is
    /// opened with openat(2) and `O_NOFOLLOW`, so neither `..` nor a symbolic link anywhere in
    /// the relative path can lead outside `root` (a payload names the file; a payload is input).
    /// Absolute paths, empty components, `.` and `..` are refused before any call is made.
    package static func openReadingBeneath(_ root: String, _ relativePath: String) throws(BeneathPathError) -> FileDescriptor {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if relativePath.hasPrefix("/") { throw .refused(relativePath, "it is absolute; name a file inside \(root)") }
        // A NUL would end the string for the kernel: "..\u{0}" must not pass as a plain name.
        if relativePath.utf8.contains(0) {
            throw .refused(relativePath.split(separator: "\u{0}", omittingEmptySubsequences: false).joined(separator: "\\0"), "it contains a NUL byte")
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
