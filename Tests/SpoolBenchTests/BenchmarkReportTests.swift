import SpoolJSON
import SpoolKit
import SpoolSystem
import Testing

@testable import spool_bench

/// The benchmark's targets and report, on made-up figures (the measuring itself is run by
/// SpoolCLITests/BenchTests.swift).
@Suite("Benchmark report and targets")
struct BenchmarkReportTests {
    static func report(quick: Bool, _ measurements: [BenchmarkMeasurement]) -> BenchmarkReport {
        var report = BenchmarkReport(
            date: "2026-11-23T20:00:00.000Z", processorCount: 2, directory: "/tmp", fileSystem: "ext4",
            buildConfiguration: "release", quick: quick, floor: "compiled", stamp: "compiled")
        report.measurements = measurements
        report.scenarios = [.init(name: "exec-noop", seconds: 12, failure: nil)]
        return report
    }

    static func exec(spool: Double, floor: BenchmarkFigure) -> BenchmarkMeasurement {
        BenchmarkMeasurement(
            scenario: "exec-noop", variant: "2 workers", key: "workers-2", unit: .jobsPerSecond, spool: .value(spool),
            floor: floor)
    }

    @Test("a ratio target is met, missed, or unknown without the floor's figure")
    func ratioTargets() {
        let report = Self.report(quick: false, [])
        #expect(report.evaluation(of: Self.exec(spool: 900, floor: .value(1000))).met == true)
        #expect(report.evaluation(of: Self.exec(spool: 800, floor: .value(1000))).met == false)
        let unknown = report.evaluation(of: Self.exec(spool: 800, floor: .unavailable("no cc in PATH")))
        #expect(unknown.met == nil && unknown.evaluated && unknown.target == "≥ 0.85 × floor")
    }

    @Test("absolute targets compare in the measurement's unit; rows without a target have none")
    func absoluteTargets() {
        let report = Self.report(quick: false, [])
        let p99 = BenchmarkMeasurement(
            scenario: "pickup", variant: "idle p99", key: "idle-p99", unit: .milliseconds, spool: .value(4.2))
        #expect(report.evaluation(of: p99).met == true)
        #expect(report.evaluation(of: p99).target == "≤ 5 ms")
        let rss = BenchmarkMeasurement(
            scenario: "queued-1m", variant: "peak RSS", key: "peak-rss", unit: .mebibytes, spool: .value(300))
        #expect(report.evaluation(of: rss).met == false)
        let load = BenchmarkMeasurement(
            scenario: "pickup", variant: "load p99", key: "load-p99", unit: .milliseconds, spool: .value(40))
        #expect(report.evaluation(of: load).target == nil)
    }

    @Test("a quick run evaluates no target, in the table and in JSON")
    func quickIsNotEvaluated() throws {
        let report = Self.report(quick: true, [Self.exec(spool: 100, floor: .unavailable("no cc in PATH"))])
        let lines = report.tableLines()
        #expect(lines.contains { $0.hasPrefix("exec-noop") && $0.hasSuffix("not evaluated (quick)") })
        #expect(lines.contains("  no cc in PATH"))
        let json = JSONWriter.string(report.jsonValue)
        let parsed = try JSONParser.parse(Array(json.utf8)).objectValue
        let row = try #require(parsed?["measurements"]?.arrayValue?.first?.objectValue)
        #expect(row["met"] == .null && row["evaluated"] == .bool(false))
        #expect(row["floor"] == .null && row["floorUnavailable"] == .string("no cc in PATH"))
        #expect(row["spool"]?.doubleValue == 100)
        #expect(row["key"] == .string("exec-noop.workers-2"))
    }

    @Test("every target names a measurement some scenario records")
    func targetKeysAreKnown() {
        let scenarios = Set(BenchmarkScenario.all.map(\.name))
        for target in BenchmarkTargets.all {
            #expect(scenarios.contains(String(target.key.prefix { $0 != "." })), "\(target.key)")
        }
    }
}
