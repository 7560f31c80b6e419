import Glibc

/// File operations for benchmark fixtures, with the fewest system calls: no fault injection,
/// no lost-reply checks, no fsync. For files the benchmark owns (its temporary spools), never
/// for job transitions.
package enum FixtureFiles {
    /// Creates a file that must not exist yet and writes `bytes` into it: open(2) with
    /// `O_CREAT | O_EXCL`, write(2), close(2).
    package static func create(_ path: String, contents bytes: [UInt8]) throws(SystemError) {
        let descriptor = try retryingInterrupts { Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            .orThrow("create", path: path)
        defer { _ = Glibc.close(descriptor) }
        let result: SyscallResult<Int> = bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let step = retryingInterrupts {
                    Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                }
                guard case .success(let written) = step else { return step }
                offset += written
            }
            return .success(offset)
        }
        _ = try result.orThrow("write", path: path)
    }

    /// Renames a file (rename(2)), replacing any target.
    package static func move(_ source: String, to target: String) throws(SystemError) {
        _ = try retryingInterrupts { Glibc.rename(source, target) }.orThrow("rename", path: source, secondPath: target)
    }

    /// Flushes the whole file system that holds `path` (syncfs(2)), so that a set-up's dirty
    /// pages are not written back during the measurement that follows.
    package static func syncFileSystem(containing path: String) throws(SystemError) {
        let descriptor = try FileSystem.open(path, O_RDONLY)
        defer { descriptor.close() }
        try FileSystem.syncFileSystem(descriptor, covering: [], root: path)
    }

    /// Up to `maximum` bytes of a file from `offset` (pread(2)); fewer at its end, none when the
    /// file is absent. Unlike `FileSystem.readFile`, a larger file is not an error: the caller
    /// reads on from where this stopped.
    package static func read(_ path: String, from offset: Int, maximum: Int) -> [UInt8] {
        guard case .success(let descriptor) = retryingInterrupts({ Glibc.open(path, O_RDONLY | O_CLOEXEC) }) else {
            return []
        }
        defer { _ = Glibc.close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maximum)
        var filled = 0
        while filled < maximum {
            let step = bytes.withUnsafeMutableBytes { buffer in
                retryingInterrupts {
                    pread(descriptor, buffer.baseAddress! + filled, maximum - filled, off_t(offset + filled))
                }
            }
            guard case .success(let count) = step, count > 0 else { break }
            filled += count
        }
        bytes.removeLast(maximum - filled)
        return bytes
    }

    /// The size of a file in bytes; 0 when it is absent.
    package static func size(_ path: String) -> Int { ((try? FileSystem.statusNotFollowing(path)) ?? nil)?.size ?? 0 }

    /// The number of entries of a directory, without `.` and `..`, read without keeping names.
    package static func entryCount(_ path: String) throws(SystemError) -> Int {
        guard let stream = opendir(path) else { throw SystemError("list directory", path: path, code: errno) }
        defer { closedir(stream) }
        var count = 0
        while let entry = readdir(stream) {
            let isDot = withUnsafeBytes(of: &entry.pointee.d_name) { name in
                name[0] == 0x2e && (name[1] == 0 || (name[1] == 0x2e && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return count
    }

    /// Creates a new directory `directory/prefixXXXXXX` (mkdtemp(3)), mode 0700.
    package static func makeTemporaryDirectory(in directory: String, prefix: String) throws(SystemError) -> String {
        var template = Array((directory + "/" + prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw SystemError("create a directory in", path: directory, code: errno) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes a file or a directory tree, never following a symbolic link: entries are removed
    /// with unlinkat(2) relative to their directory's descriptor. Best effort; returns whether
    /// `path` is gone.
    @discardableResult
    package static func removeTree(_ path: String) -> Bool {
        guard let status = try? FileSystem.statusNotFollowing(path) else { return !FileSystem.exists(path) }
        if status.kind != .directory { return Glibc.unlink(path) == 0 }
        // Entries removed while a directory is being read can make readdir skip others: look
        // again until nothing is left (twice is the usual worst case).
        for _ in 0..<4 {
            removeEntries(of: path)
            if Glibc.rmdir(path) == 0 || errno == ENOENT { return true }
            if errno != ENOTEMPTY && errno != EEXIST { return false }
        }
        return false
    }

    private static func removeEntries(of path: String) {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        guard case .success(let descriptor) = retryingInterrupts({ Glibc.open(path, flags) }),
            let stream = fdopendir(descriptor)
        else { return }
        var directories: [String] = []
        while let entry = readdir(stream) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            let cName = name.map { CChar(bitPattern: $0) } + [0]
            if Int32(entry.pointee.d_type) == Int32(DT_DIR) || unlinkat(descriptor, cName, 0) != 0 && errno == EISDIR {
                directories.append(path + "/" + String(decoding: name, as: UTF8.self))
            }
        }
        closedir(stream)
        for directory in directories { removeTree(directory) }
    }
}
