import Glibc
import SpoolJSON
import SpoolSystem
import Testing

@testable import SpoolKit

@Suite("CSV")
struct CSVTests {
    /// A new empty file under /tmp, open for reading and writing.
    static func temporaryFile() throws -> (String, FileDescriptor) {
        var template = Array("/tmp/spool-csv-XXXXXX".utf8CString)
        let raw = mkstemp(&template)
        try #require(raw >= 0)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (path, FileDescriptor(rawValue: raw))
    }

    @Test("fields with commas, quotes, CR and LF are quoted with doubled quotes; others are left bare")
    func quoting() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("two\nlines") == "\"two\nlines\"")
        #expect(CSV.field("cr\rhere") == "\"cr\rhere\"")
        #expect(CSV.record(["1", "x,y", ""]) == "1,\"x,y\",\r\n")
    }

    @Test("a record written by CSV.record reads back to the same fields")
    func roundTrip() {
        let fields = ["id 7", "comma, inside", "quote \" inside", "line\nbreak", "crlf\r\nbreak", "", "\"\""]
        #expect(CSV.parseRecord(Array(CSV.record(fields).utf8)) == fields)
    }

    @Test("the record reader finds records across 64 KiB reads, with line breaks inside quotes")
    func readerAcrossBlocks() throws {
        let (path, descriptor) = try Self.temporaryFile()
        defer {
            unlink(path)
            descriptor.close()
        }
        var text = CSV.record(["id", "note"])
        let big = String(repeating: "x,\"y\"\n", count: 20_000)  // 120 KB: spans several reads
        for index in 0..<50 { text += CSV.record([String(index), index == 25 ? big : "n\(index), \"q\"\nz"]) }
        try descriptor.writeAll(Array(text.utf8))
        try descriptor.seek(to: 0)
        let reader = RecordReader(descriptor: descriptor, name: path, format: .csv)
        try reader.readHeader()
        #expect(reader.header == ["id", "note"])
        var index = 0
        while let record = try reader.next() {
            guard case .object(let object) = record else {
                Issue.record("record \(index) did not read")
                break
            }
            #expect(object["id"] == .string(String(index)))
            #expect(object["note"] == .string(index == 25 ? big : "n\(index), \"q\"\nz"))
            index += 1
        }
        #expect(index == 50)
        #expect(reader.offset == text.utf8.count)
    }

    @Test("a quote inside a plain field is an ordinary character: records are split as they are read")
    func quoteInsidePlainField() throws {
        let (path, descriptor) = try Self.temporaryFile()
        defer {
            unlink(path)
            descriptor.close()
        }
        try descriptor.writeAll(Array("id,item,qty\n1,12\" pizza,5\n2,ok,6\n3,\"a \"\"b\"\"\",7\n".utf8))
        try descriptor.seek(to: 0)
        let reader = RecordReader(descriptor: descriptor, name: path, format: .csv)
        try reader.readHeader()
        var items: [JSONValue?] = []
        while let record = try reader.next() {
            guard case .object(let object) = record else { break }
            items.append(object["item"])
        }
        #expect(items == [.string("12\" pizza"), .string("ok"), .string("a \"b\"")])
    }

    @Test("NDJSON lines that are not objects are reported as invalid, blank lines are skipped")
    func ndjsonInvalid() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        let writer = FileDescriptor(rawValue: fds[1])
        try writer.writeAll(Array("{\"a\": 1}\n\n[1]\n{broken\n{\"a\": 2}".utf8))
        writer.close()
        let descriptor = FileDescriptor(rawValue: fds[0])
        defer { descriptor.close() }
        let reader = RecordReader(descriptor: descriptor, name: "pipe", format: .ndjson)
        var kinds: [String] = []
        while let record = try reader.next() {
            switch record {
            case .object(let object): kinds.append("a=" + (object["a"]?.intValue.map(String.init) ?? "?"))
            case .invalid: kinds.append("invalid")
            }
        }
        #expect(kinds == ["a=1", "invalid", "invalid", "a=2"])
    }
}
