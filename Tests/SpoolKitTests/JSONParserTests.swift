import SpoolJSON
import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("JSON parser")
struct JSONParserTests {
    @Test("parses and writes back objects with order, unknown fields and number text preserved")
    func roundTrip() throws {
        let text = #"{"b": 1, "a": [true, false, null, 2.50, -0, 1e400, "x\ny\u00e9\ud83d\ude00"], "c": {}}"#
        let value = try JSONParser.parse(Array(text.utf8))
        let object = try #require(value.objectValue)
        #expect(object.keys == ["b", "a", "c"])
        #expect(object["a"]?.arrayValue?[3] == .number("2.50"))
        #expect(object["a"]?.arrayValue?[5] == .number("1e400"))
        #expect(object["a"]?.arrayValue?[6] == .string("x\nyé😀"))
        let again = try JSONParser.parse(JSONWriter.write(value))
        #expect(again == value)
        #expect(JSONWriter.string(value) == #"{"b":1,"a":[true,false,null,2.50,-0,1e400,"x\nyé😀"],"c":{}}"#)
    }

    @Test(
        "rejects bad input with a located reason",
        arguments: [
            ("", "the file is empty"),
            ("   ", "no JSON value"),
            (#"{"a": 1"#, "unexpected end of data inside an object (truncated JSON?)"),
            (#"{"a": "unterminated"#, "unterminated string (truncated JSON?)"),
            (#"{"a": 1,}"#, "expected a quoted key"),
            (#"{"a" 1}"#, "expected ':' after key \"a\""),
            (#"{"a": 1} x"#, "unexpected data after the JSON value"),
            (#"{"a": 1, "a": 2}"#, "duplicate key \"a\""),
            (#"[01]"#, "invalid number: leading zero"),
            (#"[1.]"#, "invalid number: digit expected after '.'"),
            (#"[tru]"#, "invalid literal (expected true)"),
            ("[\"a\u{01}\"]", "control character 0x01 inside a string"),
            (#"["\x"]"#, "invalid escape \\'x'"),
            (#"["\ud800"]"#, "unpaired UTF-16 surrogate in \\u escape"),
            ("{\"a\":\n  nul}", "invalid literal (expected null) at line 2"),
        ])
    func rejects(_ input: String, _ expected: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(input.utf8)) }
        do {
            _ = try JSONParser.parse(Array(input.utf8))
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test("rejects invalid UTF-8 and NUL bytes, accepts a byte-order mark")
    func bytes() throws {
        #expect(throws: JSONParseError.self) {
            try JSONParser.parse(Array(#"[""#.utf8) + [0xC3, 0x28] + Array(#""]"#.utf8))
        }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#"["a"#.utf8) + [0] + Array(#""]"#.utf8)) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0]) }
        #expect(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)) == .array([.number("1")]))
    }

    @Test("limits nesting depth instead of overflowing the stack")
    func depth() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(deep.utf8)) }
        let fine = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(try JSONParser.parse(Array(fine.utf8)).arrayValue != nil)
    }

    @Test("writes control characters and quotes escaped")
    func escaping() {
        #expect(JSONWriter.string(.string("a\"b\\c\u{01}\t")) == #""a\"b\\c\u0001\t""#)
    }
}
