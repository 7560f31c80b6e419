import SpoolSystem

// Whole-file reads as the spool reports them: a file past its size limit is a `SpoolError`
// (`fileTooLarge`) that names the limit, every other failure the system error.

extension SpoolError {
    /// The spool's error for a failed whole-file read of `path` limited to `limit` bytes.
    init(reading error: SystemError, path: String, limit: Int) {
        self = error.isTooLarge ? .fileTooLarge(path: path, limit: limit) : .system(error)
    }
}

extension FileDescriptor {
    /// Reads the whole file from its current offset; throws `fileTooLarge` past `limit` bytes.
    func readAll(limit: Int, path: String) throws(SpoolError) -> [UInt8] {
        do { return try readEntirely(limit: limit, path: path) } catch {
            throw SpoolError(reading: error, path: path, limit: limit)
        }
    }
}

extension FileSystem {
    /// Reads a whole regular file that we own (configuration, records) up to `limit` bytes.
    static func readFile(_ path: String, limit: Int = 64 * 1024 * 1024) throws(SpoolError) -> [UInt8] {
        do { return try readWholeFile(path, limit: limit) } catch {
            throw SpoolError(reading: error, path: path, limit: limit)
        }
    }
}

extension FileSystem {
    /// Reads a whole regular file inside the spool, opened from its root (never through a link),
    /// up to `limit` bytes.
    static func readFileInSpool(_ path: String, root: String, limit: Int) throws(SpoolError) -> [UInt8] {
        do { return try readWholeFileInSpool(path, root: root, limit: limit) } catch {
            throw SpoolError(reading: error, path: path, limit: limit)
        }
    }
}

/// Reads a file named on the command line (links followed, as a user expects), up to 64 MiB.
public func readFileForCommand(_ path: String) throws(SpoolError) -> [UInt8] {
    let limit = 64 * 1024 * 1024
    do {
        let fd = try FileSystem.open(path, OpenFlags.readOnly)
        defer { fd.close() }
        return try fd.readEntirely(limit: limit, path: path)
    } catch {
        throw SpoolError(reading: error, path: path, limit: limit)
    }
}
