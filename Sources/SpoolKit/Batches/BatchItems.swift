import SpoolJSON

/// The items of a parent job as a user hands them over in a file (`spool submit --items-from`).
public enum BatchItems {
    /// A JSON array (when the first non-blank byte is `[`), else one item a line, each a string:
    /// blank lines skipped, spaces, tabs and carriage returns around an item trimmed.
    /// `path` names the file in errors.
    public static func parse(_ bytes: [UInt8], from path: String) throws(SpoolError) -> [JSONValue] {
        let firstByte = bytes.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
        if firstByte == UInt8(ascii: "[") {
            let value: JSONValue
            do { value = try JSONParser.parse(bytes) } catch {
                throw .invalidJob(path: path, reason: "not a valid JSON array: \(error)")
            }
            guard let array = value.arrayValue else {
                throw .invalidJob(path: path, reason: "expected a JSON array of items, not \(value.kindName)")
            }
            return array
        }
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D }
        return bytes.split(separator: 0x0A).compactMap { line in
            guard let first = line.firstIndex(where: { !isSpace($0) }),
                let last = line.lastIndex(where: { !isSpace($0) })
            else { return nil }
            return JSONValue.string(String(decoding: line[first...last], as: UTF8.self))
        }
    }
}
