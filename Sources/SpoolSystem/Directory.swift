import CSpoolShims
import Glibc

/// One entry of a directory listing. The name is kept as raw bytes: a hostile producer can drop
/// a file whose name is not valid UTF-8, and it must still be possible to move it aside.
public struct DirectoryEntry: Sendable, Hashable {
    /// The name exactly as the kernel returned it.
    public let rawName: [UInt8]
    /// The entry kind from `d_type` when the file system reports it, else nil.
    public let kindHint: FileStatus.Kind?

    /// The name as text; nil when it is not valid UTF-8.
    public var name: String? { String(validating: rawName, as: UTF8.self) }

    /// The name for messages: invalid bytes are shown as `\xNN`, control characters escaped.
    public var printableName: String { DirectoryEntry.printable(rawName) }

    package static func printable(_ raw: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < raw.count {
            // Decode one scalar at a time so that one bad byte does not hide the rest of the name.
            var iterator = raw[index...].makeIterator()
            var decoder = UTF8()
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                let width = String(scalar).utf8.count
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    text += "\\x" + String(hexDigitsOf: UInt8(scalar.value))
                } else if scalar == "\\" {
                    text += "\\\\"
                } else {
                    text.unicodeScalars.append(scalar)
                }
                index += width
            case .emptyInput:
                index = raw.count
            case .error:
                text += "\\x" + String(hexDigitsOf: raw[index])
                index += 1
            }
        }
        return text
    }
}

extension FileSystem {
    /// Lists a directory (opendir(3)/readdir(3)), without `.` and `..`.
    package static func listDirectory(_ path: String) throws(SystemError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        try forEachEntry(in: path) { entry in
            entries.append(entry)
            return true
        }
        return entries
    }

    /// Calls `body` with each entry of a directory as readdir(3) returns it, without `.` and
    /// `..`, holding none of them: a directory of a million entries costs no more memory than
    /// one of ten. Entries added or removed meanwhile may or may not be seen. Stops early when
    /// `body` returns false.
    package static func forEachEntry(in path: String, _ body: (DirectoryEntry) -> Bool) throws(SystemError) {
        guard let stream = opendir(path) else {
            throw SystemError("list directory", path: path, code: errno)
        }
        defer { closedir(stream) }
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw SystemError("list directory", path: path, code: errno) }
                return
            }
            let rawName: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { buffer in
                Array(buffer.prefix { $0 != 0 })
            }
            if rawName == [0x2e] || rawName == [0x2e, 0x2e] { continue }
            let kind: FileStatus.Kind?
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): kind = .regular
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symbolicLink
            case Int32(DT_FIFO): kind = .fifo
            case Int32(DT_SOCK): kind = .socket
            case Int32(DT_CHR): kind = .characterDevice
            case Int32(DT_BLK): kind = .blockDevice
            default: kind = nil
            }
            if !body(DirectoryEntry(rawName: rawName, kindHint: kind)) { return }
        }
    }

    /// Whether a directory has an entry whose raw name `matches`, reading only until the first
    /// one; false when the directory cannot be read (or does not exist).
    package static func directoryContains(_ path: String, where matches: ([UInt8]) -> Bool) -> Bool {
        guard let stream = opendir(path) else { return false }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let rawName: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { buffer in
                Array(buffer.prefix { $0 != 0 })
            }
            if rawName != [0x2e] && rawName != [0x2e, 0x2e] && matches(rawName) { return true }
        }
        return false
    }

    /// A NUL-terminated path of `directory` + "/" + raw name bytes.
    package static func rawPath(_ directory: String, _ rawName: [UInt8]) -> [CChar] {
        var bytes = Array(directory.utf8)
        bytes.append(0x2f)
        bytes.append(contentsOf: rawName)
        bytes.append(0)
        return bytes.map { CChar(bitPattern: $0) }
    }

    /// lstat(2) of an entry named by raw bytes; nil when it is gone.
    package static func statusNotFollowing(directory: String, rawName: [UInt8]) throws(SystemError) -> FileStatus? {
        let path = rawPath(directory, rawName)
        var raw = stat()
        switch retryingInterrupts({ Glibc.lstat(path, &raw) }) {
        case .success: return FileStatus(raw)
        case .failure(let code) where code == ENOENT: return nil
        case .failure(let code):
            throw SystemError("stat", path: directory + "/" + DirectoryEntry.printable(rawName), code: code)
        }
    }

    /// Moves an entry named by raw bytes without replacing the target (renameat2 RENAME_NOREPLACE).
    /// The entry itself is moved: a symbolic link is never followed, a FIFO never opened.
    package static func renameNoReplace(directory: String, rawName: [UInt8], to target: String) throws(SystemError) {
        let path = rawPath(directory, rawName)
        let before = AmbiguousRenames.identity(of: path)
        var result = retryingInterrupts { spool_rename_noreplace(AT_FDCWD, path, AT_FDCWD, target) }
        if case .success = result, let fault = LostReplyInjection.renameFault() { result = .failure(fault) }
        switch result {
        case .success: return
        case .failure(let code)
        where AmbiguousRenames.happenedDespite(code, sourceBefore: before, source: path, target: target):
            return
        case .failure(let code) where code == EINVAL || code == ENOSYS:
            // No renameat2 flags here (some network file systems): link, then unlink. link(2)
            // does not follow a symbolic link; a directory cannot be linked and stays put.
            _ = try retryingInterrupts { Glibc.link(path, target) }.orThrow(
                "link", path: directory + "/" + DirectoryEntry.printable(rawName), secondPath: target)
            _ = try retryingInterrupts { Glibc.unlink(path) }.orThrow(
                "remove", path: directory + "/" + DirectoryEntry.printable(rawName))
        case .failure(let code):
            throw SystemError(
                "rename", path: directory + "/" + DirectoryEntry.printable(rawName), secondPath: target, code: code)
        }
    }
}

extension String {
    /// Two lower-case hexadecimal digits of `byte`, for names and text shown escaped.
    package init(hexDigitsOf byte: UInt8) {
        let digits = Array("0123456789abcdef")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0xf)]])
    }
}
