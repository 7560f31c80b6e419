import SpoolJSON
import SpoolKit
import SpoolSystem
import Synchronization

/// The file the stamp probe appends to: one line `JOB-ID CLOCK_REALTIME-NANOSECONDS` per
/// handler start (`bench/stamp.c`). Lines of several handlers never mix (each is one write
/// under O_APPEND).
struct StampFile {
    let path: String

    /// The stamps written so far, by job id (the first one where a job ran twice).
    func stamps(prefix: String? = nil) -> [String: Int64] {
        let bytes = FixtureFiles.read(path, from: 0, maximum: FixtureFiles.size(path))
        var stamps: [String: Int64] = [:]
        for line in bytes.split(separator: 10) {
            guard let space = line.lastIndex(of: 32),
                let nanoseconds = Int64(String(decoding: line[(space + 1)...], as: UTF8.self))
            else { continue }
            let id = String(decoding: line[..<space], as: UTF8.self)
            if let prefix, !id.hasPrefix(prefix) { continue }
            if stamps[id] == nil { stamps[id] = nanoseconds }
        }
        return stamps
    }

    /// The first line's stamp, nil while the file is empty.
    func first() -> Int64? {
        let bytes = FixtureFiles.read(path, from: 0, maximum: 4096)
        guard let newline = bytes.firstIndex(of: 10), let space = bytes[..<newline].lastIndex(of: 32) else {
            return nil
        }
        return Int64(String(decoding: bytes[(space + 1)..<newline], as: UTF8.self))
    }
}

/// Percentiles by nearest rank, as `spool stats` computes them.
enum Percentile {
    /// The `fraction` percentile (0.5, 0.99) of `values`; nil when there are none.
    static func nearestRank(_ fraction: Double, of values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}

/// Counts the stamps of jobs whose id starts with a prefix as the stamp file grows, reading
/// only what was appended since the last look: how many background jobs have started, for a
/// producer that must not run ahead of the processor.
final class StampCounter: Sendable {
    private let path: String
    private let prefix: [UInt8]
    private let state = Mutex<(offset: Int, count: Int)>((0, 0))

    init(path: String, prefix: String) {
        self.path = path
        self.prefix = Array(prefix.utf8)
    }

    /// The stamps with the prefix so far.
    func count() -> Int {
        state.withLock { state in
            let size = FixtureFiles.size(path)
            guard size > state.offset else { return state.count }
            let bytes = FixtureFiles.read(path, from: state.offset, maximum: size - state.offset)
            guard let lastNewline = bytes.lastIndex(of: 10) else { return state.count }
            var start = 0
            for index in 0...lastNewline where bytes[index] == 10 {
                if bytes[start..<index].starts(with: prefix) { state.count += 1 }
                start = index + 1
            }
            state.offset += lastNewline + 1
            return state.count
        }
    }
}
