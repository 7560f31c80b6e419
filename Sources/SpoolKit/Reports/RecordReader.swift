import SpoolJSON
import SpoolSystem

/// The formats a report reads and writes.
public enum RecordFormat: String, Sendable, Equatable {
    /// One JSON object per line.
    case ndjson
    /// RFC 4180; the first record names the fields.
    case csv

    /// The format a file name implies: `.csv` is CSV; `.ndjson`, `.jsonl` and `.json` are NDJSON.
    static func implied(by path: String) -> RecordFormat? {
        let lowered = path.lowercased()
        if lowered.hasSuffix(".csv") { return .csv }
        if lowered.hasSuffix(".ndjson") || lowered.hasSuffix(".jsonl") || lowered.hasSuffix(".json") { return .ndjson }
        return nil
    }
}

/// Why reading records failed for good.
struct RecordReadError: Error, CustomStringConvertible {
    let description: String
}

/// Reads records one at a time from a descriptor (a data file or a source command's pipe) in
/// 64 KiB blocks, holding at most one block plus one record: memory stays constant whatever the
/// size of the input. `offset` is the source position just past the last record returned, which
/// is what a checkpoint records to resume from.
final class RecordReader {
    /// A record longer than this is an error, not a reason to grow without bound.
    static let maximumRecordBytes = 1 << 20
    private static let blockSize = 64 * 1024

    let format: RecordFormat
    private let descriptor: FileDescriptor
    private let name: String
    /// Called before each read; throws to stop (a cancel or timeout while a slow source is silent).
    private let beforeRead: () throws(RecordReadError) -> Void
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var endOfInput = false
    /// Source bytes consumed by the records returned so far.
    private(set) var offset: Int
    /// CSV: the header's field names.
    private(set) var header: [String] = []

    init(
        descriptor: FileDescriptor, name: String, format: RecordFormat, startingAt offset: Int = 0,
        header: [String] = [], beforeRead: @escaping () throws(RecordReadError) -> Void = {}
    ) {
        self.header = header
        self.descriptor = descriptor
        self.name = name
        self.format = format
        self.offset = offset
        self.beforeRead = beforeRead
        buffer = [UInt8](repeating: 0, count: Self.blockSize)
    }

    /// CSV: reads the header record. Call first (and, to resume, before `skip(toOffset:)`).
    func readHeader() throws(RecordReadError) {
        guard format == .csv, let line = try nextRawRecord() else { return }
        header = CSV.parseRecord(line)
    }

    /// Skips ahead to a source offset by reading and discarding (a pipe cannot seek).
    func skipRecords(_ count: Int) throws(RecordReadError) {
        for _ in 0..<count where try nextRawRecord() != nil {}
    }

    /// Counts the records left without decoding them (the total for progress).
    func countRecords() throws(RecordReadError) -> Int {
        var count = 0
        while try nextRawRecord() != nil { count += 1 }
        return count
    }

    /// The next record: `.object` for a good one, `.invalid(reason)` for a line that is not
    /// one (counted as failed, skipped), nil at the end of the input.
    func next() throws(RecordReadError) -> ReadRecord? {
        guard let raw = try nextRawRecord() else { return nil }
        switch format {
        case .ndjson:
            do {
                guard case .object(let object) = try JSONParser.parse(raw) else {
                    return .invalid("not a JSON object")
                }
                return .object(object)
            } catch {
                return .invalid("\(error)")
            }
        case .csv:
            let values = CSV.parseRecord(raw)
            var members: [(key: String, value: JSONValue)] = []
            members.reserveCapacity(header.count)
            for (index, name) in header.enumerated() where index < values.count {
                members.append((name, .string(values[index])))
            }
            return .object(JSONObject(members))
        }
    }

    /// The bytes of the next non-blank record, its line break included.
    private func nextRawRecord() throws(RecordReadError) -> [UInt8]? {
        while true {
            let found: Int? = buffer.withUnsafeBufferPointer { bytes in
                switch format {
                case .ndjson: return ByteSearch.firstIndex(of: 0x0A, in: bytes, from: start, to: end).map { $0 + 1 }
                case .csv: return CSV.recordEnd(in: bytes, from: start, end: end)
                }
            }
            var recordEnd = found
            if recordEnd == nil && endOfInput {
                if start == end { return nil }
                recordEnd = end  // a last record without a line break
            }
            if let recordEnd {
                let record = Array(buffer[start..<recordEnd])
                offset += recordEnd - start
                start = recordEnd
                if record.allSatisfy({ $0 == 0x0A || $0 == 0x0D || $0 == 0x20 || $0 == 0x09 }) { continue }
                return record
            }
            if end - start >= Self.maximumRecordBytes {
                throw RecordReadError(
                    description: "\(name): a record at byte \(offset) is longer than \(Self.maximumRecordBytes) bytes")
            }
            try fill()
        }
    }

    /// Moves the unread bytes to the front, grows the buffer if a record needs it, and reads more.
    private func fill() throws(RecordReadError) {
        if start > 0 {
            let (from, count) = (start, end - start)
            buffer.withUnsafeMutableBytes { bytes in
                // copyMemory is memmove: the regions may overlap.
                bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + from, byteCount: count)
            }
            end -= start
            start = 0
        }
        if end == buffer.count { buffer += [UInt8](repeating: 0, count: Self.blockSize) }
        try beforeRead()
        let count: Int
        do {
            let filled = end
            count = try buffer.withUnsafeMutableBytes { bytes throws(SystemError) in
                try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[filled...]), path: name)
            }
        } catch { throw RecordReadError(description: "could not read \(name): \(error)") }
        if count == 0 { endOfInput = true }
        end += count
    }
}

/// One record read, or a line that was not a record.
enum ReadRecord {
    case object(JSONObject)
    case invalid(String)
}
