import SpoolJSON
import SpoolKit
import SpoolSystem

/// `report-1g`: one job of the built-in `report` handler over a generated NDJSON file of 1 GiB
/// (records of about 170 bytes, 5 fields), chunks of 1,000, CSV output masked for the job
/// owner's role (a keyed hash of `email`, a partial of `ssn`), as `bench/report-stream.sh`
/// does. Measured: source bytes / the wall time of `spool run --drain` (spawn to exit), and the
/// processor's peak RSS (wait4's ru_maxrss).
enum ReportScenario {
    static func run(_ context: BenchmarkContext) throws(BenchmarkFailure) {
        let size = context.sizes.reportBytes
        let label = size >= 1 << 30 ? "\(size >> 30) GiB" : "\(size >> 20) MiB"
        let owner = UserDatabase.effectiveUserID
        let spool = try BenchmarkSpool.create(
            "report",
            configuration: """
                {"handlers": {"report": {"builtin": "report", "timeout": 3600,
                                         "report": {"dataDirectory": "data", "format": "csv", "chunkSize": 1000}}},
                 "masking": {"roles": {"analyst": {"email": "hash", "ssn": {"partial": 4}}},
                             "owners": {"\(owner)": "analyst"}, "hashKey": "benchmark-key-0123456789"}}
                """, in: context)
        let source = spool.root + "/data/source.ndjson"
        try systemCall { () throws(SystemError) in try FileSystem.makeDirectory(spool.root + "/data") }
        if size >= 64 << 20 { context.progress("  writing a \(label) source…") }
        let written = try writeSource(source, bytes: size, context: context)
        try context.runSpool(
            [
                "submit", "--spool", spool.root, "--type", "report", "--payload", #"{"file": "source.ndjson"}"#, "--id",
                "bench",
            ],
            name: "submit-report", timeout: 60)
        try systemCall { () throws(SystemError) in try FixtureFiles.syncFileSystem(containing: spool.root) }
        let run = try context.runSpool(
            ["run", "--spool", spool.root, "--drain", "--quiet"], name: "run-report",
            timeout: context.quick ? 600 : 3600)
        try spool.expectDone(1, what: "the report job")
        let outcome = run.outcome!
        context.record(
            BenchmarkMeasurement(
                scenario: "report-1g", variant: "throughput", key: "throughput", unit: .megabytesPerSecond,
                spool: .value(Double(written) / outcome.seconds / 1_000_000),
                note: "\(label) NDJSON source, CSV masked (hash + partial), spawn to exit of spool run --drain"))
        context.record(
            BenchmarkMeasurement(
                scenario: "report-1g", variant: "peak RSS", key: "peak-rss", unit: .mebibytes,
                spool: .value(Double(outcome.maximumResidentBytes) / 1_048_576),
                note: "wait4 ru_maxrss of the processor"))
    }

    /// Writes NDJSON records until `bytes` bytes are reached; returns the size written.
    static func writeSource(_ path: String, bytes: Int, context: BenchmarkContext) throws(BenchmarkFailure) -> Int {
        let file = try systemCall { () throws(SystemError) in try FileSystem.createExclusive(path) }
        defer { file.close() }
        var total = 0
        var index = 0
        var chunk: [UInt8] = []
        chunk.reserveCapacity(1 << 20 + 512)
        while total < bytes {
            let start = chunk.count
            appendRecord(index, to: &chunk)
            total += chunk.count - start
            index += 1
            if chunk.count >= 1 << 20 || total >= bytes {
                try systemCall { () throws(SystemError) in try file.writeAll(chunk, path: path) }
                chunk.removeAll(keepingCapacity: true)
                try context.checkCancellation()
            }
        }
        return total
    }

    /// One record, as `bench/report-stream.sh` writes them.
    static func appendRecord(_ index: Int, to output: inout [UInt8]) {
        let number = String(index)
        let ssn = String(index % 10_000)
        output.append(contentsOf: #"{"id": "#.utf8)
        output.append(contentsOf: number.utf8)
        output.append(contentsOf: #", "name": "Customer "#.utf8)
        output.append(contentsOf: number.utf8)
        output.append(contentsOf: #"", "email": "customer-"#.utf8)
        output.append(contentsOf: number.utf8)
        output.append(contentsOf: #"@example.com", "ssn": "123-45-"#.utf8)
        output.append(contentsOf: String(repeating: "0", count: 4 - ssn.count).utf8)
        output.append(contentsOf: ssn.utf8)
        output.append(contentsOf: #"", "note": "ordered "#.utf8)
        output.append(contentsOf: String(index % 17).utf8)
        output.append(contentsOf: #" items, shipped to \"Depot "#.utf8)
        output.append(contentsOf: String(index % 31).utf8)
        output.append(contentsOf: #"\", region "#.utf8)
        output.append(contentsOf: String(index % 5).utf8)
        output.append(contentsOf: "\"}\n".utf8)
    }
}
