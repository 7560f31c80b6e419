import SpoolJSON
import SpoolSystem

/// Job ids and the naming rules of the spool's directories.
///
/// A job id is 1 to 128 bytes of ASCII letters, digits, `.`, `_`, `-` and `@`, not starting with
/// `.` (`@` joins a schedule's name and its slot, `daily-report@20261123T053000Z`).
/// A job file is `ID.json`. Names that start with `.` or end in `.tmp` / `.part` belong to
/// producers still writing (rsync, editors, scripts) and are never touched.
public enum JobID {
    public static let maximumLength = 128
    public static let fileExtension = ".json"

    /// Checks an id; returns nil when valid, else the reason it is not.
    public static func problem(with id: String) -> String? {
        if id.isEmpty { return "it is empty" }
        if id.utf8.count > maximumLength { return "it is longer than \(maximumLength) bytes" }
        if id.utf8.first == UInt8(ascii: ".") { return "it starts with '.'" }
        if id == "." || id == ".." { return "it is a directory reference" }
        for byte in id.utf8 where !isAllowed(byte) {
            let shown =
                byte >= 0x20 && byte < 0x7f
                ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(format2hex: byte))"
            return "it contains \(shown) (allowed: letters, digits, '.', '_', '-', '@')"
        }
        return nil
    }

    public static func isValid(_ id: String) -> Bool { problem(with: id) == nil }

    /// Throws `invalidJobID` unless the id is valid.
    public static func validate(_ id: String) throws(SpoolError) {
        if let reason = problem(with: id) { throw .invalidJobID(id, reason: reason) }
    }

    @inline(__always)
    static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"),
            UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }

    /// Whether a directory entry is a producer's work in progress that the spool must leave alone.
    public static func isProducerTemporary(_ rawName: [UInt8]) -> Bool {
        if rawName.first == UInt8(ascii: ".") { return true }
        return rawName.ends(with: Array(".tmp".utf8)) || rawName.ends(with: Array(".part".utf8))
    }

    /// The id of a job file name (`ID.json` → `ID`), or nil when the name is not `VALID-ID.json`.
    public static func id(fromFileName rawName: [UInt8]) -> String? {
        let suffix = Array(fileExtension.utf8)
        guard rawName.count > suffix.count, rawName.ends(with: suffix) else { return nil }
        guard let id = String(validating: rawName.dropLast(suffix.count), as: UTF8.self), isValid(id) else {
            return nil
        }
        return id
    }

    public static func fileName(_ id: String) -> String { id + fileExtension }

    /// A new unique, time-ordered id: `YYYYMMDD-HHMMSS-mmmuuu-XXXXXX` (UTC, microseconds, random).
    public static func generate(now: Double = ProcessInfoLite.now()) -> String {
        let stamp = Timestamp.format(now)  // 2026-11-22T14:20:42.123Z
        let bytes = Array(stamp.utf8)
        let date = String(decoding: bytes[0..<4] + bytes[5..<7] + bytes[8..<10], as: UTF8.self)
        let time = String(decoding: bytes[11..<13] + bytes[14..<16] + bytes[17..<19], as: UTF8.self)
        let micros = Int((now - now.rounded(.down)) * 1_000_000) % 1_000_000
        let microText = String(repeating: "0", count: 6 - String(micros).count) + String(micros)
        return "\(date)-\(time)-\(microText)-\(randomSuffix(6))"
    }

    /// A short random lowercase alphanumeric string, for unique names.
    static func randomSuffix(_ length: Int) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var generator = SystemRandomNumberGenerator()
        // One getrandom(2) per 12 characters, not one per character.
        var characters: [Character] = []
        while characters.count < length {
            var bits = generator.next()
            for _ in 0..<min(12, length - characters.count) {
                characters.append(alphabet[Int(bits % 36)])
                bits /= 36
            }
        }
        return String(characters)
    }

    /// A valid, unique stem for something that cannot keep its own name in `failed/`:
    /// the allowed characters of the original name, then `.rejected-` and a random suffix.
    public static func rejectedStem(for rawName: [UInt8]) -> String {
        var base = rawName.filter(isAllowed)
        while base.first == UInt8(ascii: ".") { base.removeFirst() }
        if base.ends(with: Array(fileExtension.utf8)) { base.removeLast(fileExtension.utf8.count) }
        let prefix = String(decoding: base.prefix(64), as: UTF8.self)
        return (prefix.isEmpty ? "rejected" : prefix + ".rejected") + "-" + randomSuffix(8)
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix)
    }
}
