/// Serialises a `JSONValue` to UTF-8: pretty (two-space indent, one member per line, an array of
/// plain values on one line) for files a person reads with `cat`, or compact for one-line output.
public enum JSONWriter {
    public static func write(_ value: JSONValue, pretty: Bool = true) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(512)
        append(value, to: &output, indent: pretty ? 0 : nil)
        if pretty { output.append(0x0A) }
        return output
    }

    public static func string(_ value: JSONValue, pretty: Bool = false) -> String {
        String(decoding: write(value, pretty: pretty), as: UTF8.self)
    }

    /// The compact text of `value` cut after about `maximumBytes` bytes (without writing the
    /// rest: a parent's list of items can be megabytes), and whether it was cut.
    public static func preview(_ value: JSONValue, maximumBytes: Int) -> (text: String, truncated: Bool) {
        var output: [UInt8] = []
        append(value, to: &output, indent: nil, limit: maximumBytes)
        let truncated = output.count > maximumBytes
        return (String(decoding: output.prefix(maximumBytes), as: UTF8.self), truncated)
    }

    private static func append(_ value: JSONValue, to output: inout [UInt8], indent: Int?, limit: Int = .max) {
        guard output.count <= limit else { return }
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let text): output.append(contentsOf: text.utf8)
        case .string(let text): appendString(text, to: &output)
        case .array(let values):
            if values.isEmpty {
                output.append(contentsOf: "[]".utf8)
                return
            }
            output.append(UInt8(ascii: "["))
            if indent != nil && values.allSatisfy(\.isScalar) {
                // A list of ids or numbers stays one line: short files, quick to read and write.
                for (index, element) in values.enumerated() {
                    if index > 0 { output.append(contentsOf: ", ".utf8) }
                    append(element, to: &output, indent: nil, limit: limit)
                }
                output.append(UInt8(ascii: "]"))
                return
            }
            for (index, element) in values.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, indent.map { $0 + 1 })
                append(element, to: &output, indent: indent.map { $0 + 1 }, limit: limit)
            }
            newline(&output, indent)
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty {
                output.append(contentsOf: "{}".utf8)
                return
            }
            output.append(UInt8(ascii: "{"))
            for (index, member) in object.members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                newline(&output, indent.map { $0 + 1 })
                appendString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                if indent != nil { output.append(UInt8(ascii: " ")) }
                append(member.value, to: &output, indent: indent.map { $0 + 1 }, limit: limit)
            }
            newline(&output, indent)
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ output: inout [UInt8], _ indent: Int?) {
        guard let indent else { return }
        output.append(0x0A)
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    package static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: "\\\\".utf8)
            case 0x0A: output.append(contentsOf: "\\n".utf8)
            case 0x0D: output.append(contentsOf: "\\r".utf8)
            case 0x09: output.append(contentsOf: "\\t".utf8)
            case 0..<0x20, 0x7f:
                output.append(contentsOf: "\\u00".utf8)
                output.append(contentsOf: String(format2hex: byte).utf8)
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

extension JSONValue {
    /// Neither an array nor an object.
    package var isScalar: Bool {
        switch self {
        case .array, .object: return false
        case .null, .bool, .number, .string: return true
        }
    }
}
