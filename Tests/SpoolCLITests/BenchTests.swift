import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool bench`: CI runs every scenario of `--quick` here, on the debug build, and checks the
/// report's shape; no figure is compared with a threshold (CI machines are too noisy). Without
/// `cc` or bench/floor.c the floor's figures are n/a and the test still passes.
@Suite("Benchmark")
struct BenchTests {
    static let scenarios = [
        "exec-noop", "inproc-noop", "durability", "pickup", "queued-1m", "split-1m", "report-1g", "purge-60s",
        "queue-length",
    ]

    /// Measurements every quick run has, whatever the machine.
    static let requiredKeys = [
        "exec-noop.workers-1", "exec-noop.workers-2", "inproc-noop.workers-1", "inproc-noop.workers-2",
        "durability.durable", "durability.relaxed", "durability.unbatched", "durability.durable-over-unbatched",
        "pickup.idle-p50", "pickup.idle-p99", "pickup.load-p50", "pickup.load-p99", "queued-1m.first-dispatch",
        "queued-1m.peak-rss", "queued-1m.stats", "split-1m.submit", "split-1m.published", "split-1m.show",
        "report-1g.throughput", "report-1g.peak-rss", "purge-60s.first-third", "purge-60s.last-third",
        "purge-60s.last-over-first", "queue-length.1k", "queue-length.10k", "queue-length.largest-over-smallest",
    ]

    @Test("spool bench --quick --json runs every scenario and reports positive figures")
    func quickRun() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try TestSpool.run(["bench", "--quick", "--json", "--dir", directory])
        #expect(result.status == 0, "stderr: \(result.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        let report = try #require(object as? [String: Any], "not a JSON object: \(result.standardOutput)")

        #expect((report["date"] as? String)?.hasPrefix("20") == true)
        #expect((report["nproc"] as? Int).map { $0 > 0 } == true)
        #expect((report["fileSystem"] as? String)?.isEmpty == false)
        #expect(["debug", "release"].contains(report["build"] as? String ?? ""))
        #expect(report["quick"] as? Bool == true)
        #expect(report["succeeded"] as? Bool == true)
        #expect(report["floor"] is String && report["stamp"] is String)

        let scenarios = try #require(report["scenarios"] as? [[String: Any]])
        #expect(scenarios.compactMap { $0["name"] as? String } == Self.scenarios)
        for scenario in scenarios {
            #expect(scenario["status"] as? String == "ok", "\(scenario)")
            #expect((scenario["seconds"] as? Double).map { $0 >= 0 } == true)
        }

        let measurements = try #require(report["measurements"] as? [[String: Any]])
        let keys = measurements.compactMap { $0["key"] as? String }
        for key in Self.requiredKeys { #expect(keys.contains(key), "no measurement \(key)") }
        let units = ["jobs/s", "dispatches/s", "ms", "s", "MiB", "MB/s", "×"]
        for measurement in measurements {
            let scenario = try #require(measurement["scenario"] as? String)
            #expect(Self.scenarios.contains(scenario))
            #expect((measurement["key"] as? String)?.hasPrefix(scenario + ".") == true)
            #expect((measurement["variant"] as? String)?.isEmpty == false)
            #expect(units.contains(measurement["unit"] as? String ?? ""), "\(measurement)")
            for system in ["spool", "floor"] where measurement.keys.contains(system) {
                if let value = measurement[system] as? Double {
                    #expect(value > 0 && value.isFinite, "\(system) of \(measurement)")
                } else {
                    // null, with the reason beside it: never an invented figure.
                    #expect(measurement[system] is NSNull, "\(measurement)")
                    #expect((measurement[system + "Unavailable"] as? String)?.isEmpty == false, "\(measurement)")
                }
            }
            // A quick run evaluates no target.
            #expect(measurement["evaluated"] as? Bool == false)
            #expect(measurement["met"] is NSNull)
        }
        // Only the pickup figures depend on the stamp probe; everything else is measured.
        for measurement in measurements where measurement["scenario"] as? String != "pickup" {
            #expect(measurement["spool"] as? Double != nil, "\(measurement)")
        }
        // The temporary spools are gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("spool bench refuses an unknown scenario and a missing directory")
    func usageErrors() throws {
        let unknown = try TestSpool.run(["bench", "--only", "exec-noop,nonsense"])
        #expect(unknown.status == 64)
        #expect(unknown.standardError.contains("nonsense"))
        let missing = try TestSpool.run(["bench", "--quick", "--dir", "/nonexistent/bench-dir"])
        #expect(missing.status == 64)
        #expect(missing.standardError.contains("/nonexistent/bench-dir"))
    }

    /// The benchmark's own executable, built beside `spool`.
    static let benchBinary = URL(fileURLWithPath: TestSpool.binary).deletingLastPathComponent()
        .appendingPathComponent("spool-bench").path

    @Test("spool bench is spool-bench: the same help and errors; the overview and completion agree with it")
    func forwarding() throws {
        let help = try TestSpool.run(["bench", "--help"])
        #expect(help.status == 0, "stderr: \(help.standardError)")
        #expect(help.standardOutput.contains("Usage: spool bench") && help.standardOutput.contains("queue-length"))
        let direct = try TestSpool.run(["--help"], program: Self.benchBinary)
        #expect(direct.status == 0 && direct.standardOutput == help.standardOutput)
        #expect(try TestSpool.run(["help", "bench"]).standardOutput == help.standardOutput)

        let usage = try TestSpool.run(["bench", "--no-such-option"])
        #expect(usage.status == 64)
        #expect(
            usage.standardError == "spool: spool bench: unknown option --no-such-option (see 'spool bench --help')\n")
        let directUsage = try TestSpool.run(["--no-such-option"], program: Self.benchBinary)
        #expect(directUsage.status == 64 && directUsage.standardError == usage.standardError)

        // `spool` does not link the benchmark: its overview and completions carry what the
        // benchmark's help says, and must say the same.
        let lines = help.standardOutput.split(separator: "\n", omittingEmptySubsequences: false)
        let overview = try TestSpool.run(["--help"]).standardOutput
        #expect(overview.contains("  bench       " + lines[0] + "\n"), "overview: \(overview)")
        let options = lines.filter { $0.hasPrefix("  --") }.map { String($0.dropFirst(2).prefix { $0 != " " }) }
        let bash = try TestSpool.run(["completions", "bash"]).standardOutput
        #expect(bash.contains("        bench) options=\"\(options.joined(separator: " "))\" ;;"), "\(options)")
    }

    @Test("spool bench without spool-bench beside it says how to build it and exits 69")
    func missingBenchmark() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: TestSpool.binary, toPath: directory + "/spool")
        let result = try TestSpool.run(["bench", "--quick"], program: directory + "/spool")
        #expect(result.status == 69)
        #expect(result.standardError.contains("'\(directory)/spool-bench' does not exist"))
        #expect(result.standardError.contains("swift build --product spool-bench"))
        #expect(result.standardOutput.isEmpty)
    }

    static func temporaryDirectory() throws -> String {
        var template = Array("/tmp/spool-bench-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw TestFailure("mkdtemp failed") }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
