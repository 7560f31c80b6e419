import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool run --metrics-file`: a Prometheus text-format file whose numbers match `stats`.
@Suite("Metrics file")
struct MetricsFileTests {
    struct Sample: Equatable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// A small parser of the Prometheus text format (0.0.4) that refuses what promtool would:
    /// samples without a TYPE for their family, bad names, bad label syntax, bad values, non-
    /// cumulative or incomplete histograms, duplicate series.
    static func parse(_ text: String) throws -> [Sample] {
        var types: [String: String] = [:]
        var samples: [Sample] = []
        var seen: Set<String> = []
        let name = #/[a-zA-Z_:][a-zA-Z0-9_:]*/#
        guard text.hasSuffix("\n") else { throw TestFailure("the file does not end with a newline") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]),
                    types[String(parts[2])] == nil
                else { throw TestFailure("bad TYPE line: \(line)") }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            guard let match = line.wholeMatch(of: #/([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([^ ]+)/#) else {
                throw TestFailure("not a sample line: '\(line)'")
            }
            var labels: [String: String] = [:]
            if let block = match.output.2 {
                let inner = block.dropFirst().dropLast()
                for pair in inner.split(separator: ",") {
                    guard let labelMatch = pair.wholeMatch(of: #/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/#) else {
                        throw TestFailure("bad label in '\(line)'")
                    }
                    labels[String(labelMatch.output.1)] = String(labelMatch.output.2)
                }
            }
            let metric = String(match.output.1)
            guard metric.wholeMatch(of: name) != nil else { throw TestFailure("bad name \(metric)") }
            let valueText = String(match.output.3)
            guard let value = Double(valueText) ?? (valueText == "+Inf" ? .infinity : nil) else {
                throw TestFailure("bad value in '\(line)'")
            }
            let family =
                types[metric] != nil
                ? metric
                : ["_bucket", "_sum", "_count"].compactMap { suffix in
                    metric.hasSuffix(suffix) ? String(metric.dropLast(suffix.count)) : nil
                }.first { types[$0] == "histogram" }
            guard let family, types[family] != nil else { throw TestFailure("no TYPE for \(metric)") }
            if types[family] == "counter" && !metric.hasSuffix("_total") {
                throw TestFailure("counter \(metric) does not end in _total")
            }
            let key = metric + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            guard seen.insert(key).inserted else { throw TestFailure("duplicate series \(key)") }
            samples.append(Sample(name: metric, labels: labels, value: value))
        }
        // Histograms: cumulative buckets ending in +Inf, equal to _count.
        for (family, type) in types where type == "histogram" {
            var groups: [[String: String]: [(Double, Double)]] = [:]
            for sample in samples where sample.name == family + "_bucket" {
                var rest = sample.labels
                let bound = rest.removeValue(forKey: "le")
                guard let bound, let upper = Double(bound) ?? (bound == "+Inf" ? .infinity : nil) else {
                    throw TestFailure("bucket without le in \(family)")
                }
                groups[rest, default: []].append((upper, sample.value))
            }
            for (labels, buckets) in groups {
                let sorted = buckets.sorted { $0.0 < $1.0 }
                guard sorted.last?.0 == .infinity else { throw TestFailure("\(family) has no +Inf bucket") }
                for index in sorted.indices.dropFirst() where sorted[index].1 < sorted[index - 1].1 {
                    throw TestFailure("\(family) buckets are not cumulative")
                }
                let count = samples.first { $0.name == family + "_count" && $0.labels == labels }?.value
                guard count == sorted.last?.1 else { throw TestFailure("\(family) +Inf bucket differs from _count") }
            }
        }
        return samples
    }

    @Test("the parser refuses what is not the text format")
    func parserRefusesBadInput() {
        #expect(throws: (any Error).self) { try Self.parse("spool_jobs 1\n") }
        #expect(throws: (any Error).self) { try Self.parse("# TYPE a gauge\na{x=1} 1\n") }
        #expect(throws: (any Error).self) { try Self.parse("# TYPE a counter\na 1\n") }
        #expect(throws: (any Error).self) {
            try Self.parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n")
        }
        #expect((try? Self.parse("# TYPE a gauge\na{x=\"1\"} 1.5\n"))?.first?.value == 1.5)
    }

    @Test("run --metrics-file writes a valid file whose numbers match stats")
    func metricsMatchStats() throws {
        let spool = try TestSpool(
            configuration: """
                {"metricsInterval": 0.2, "handlers": {
                  "ok": {"command": ["/bin/true"]},
                  "bad": \(TestSpool.shellHandler("exit 3", extra: "\"maxAttempts\": 1")),
                  "later": {"command": ["/bin/true"]}}}
                """)
        #expect(try spool.spool(["hold", "--type", "later"]).status == 0)
        _ = try spool.dropMany(30) { index in
            #"{"type": "\#(index % 3 == 0 ? "bad" : index % 5 == 1 ? "later" : "ok")"}"#
        }
        let path = spool.scratch + "/spool.prom"
        #expect(try spool.spool(["run", "--drain", "--quiet", "--metrics-file", path]).status == 0)
        let samples = try Self.parse(try String(contentsOfFile: path, encoding: .utf8))
        let stats = try #require(
            try JSONSerialization.jsonObject(with: Data(try spool.spool(["stats", "--json"]).standardOutput.utf8))
                as? [String: Any])
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        for state in ["queued", "waiting", "running", "held", "done", "failed", "cancelled"] {
            #expect(value("spool_jobs", ["state": state]).map { Int($0) } == stats[state] as? Int, "\(state)")
        }
        let types = try #require(stats["types"] as? [String: [String: Any]])
        #expect(
            value("spool_job_transitions_total", ["type": "ok", "outcome": "done"]).map { Int($0) }
                == types["ok"]?["done"] as? Int)
        #expect(
            value("spool_job_transitions_total", ["type": "bad", "outcome": "failed"]).map { Int($0) }
                == types["bad"]?["failed"] as? Int)
        #expect(
            value("spool_job_duration_seconds_count", ["type": "ok"])
                == value(
                    "spool_job_transitions_total", ["type": "ok", "outcome": "done"]))
        #expect(value("spool_queue_age_seconds_count").map { Int($0) } == stats["queued"] as? Int)
        #expect(value("spool_workers") == 2)
        #expect(value("spool_workers_busy") == 0)
        // Rewritten by rename: no temporary is left beside it.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: spool.scratch).filter {
            $0.hasPrefix("spool.prom.")
        }
        #expect(leftovers.isEmpty)
    }
}
