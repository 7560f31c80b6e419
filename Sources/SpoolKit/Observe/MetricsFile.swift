import SpoolSystem

/// The Prometheus text-format file a processor rewrites every few seconds (`--metrics-file`,
/// `metricsFile`), for node_exporter's textfile collector. Each write is atomic: a new file
/// renamed over the old one, so a reader never sees half of it.
public struct MetricsFile: Sendable {
    public let path: String
    public let layout: SpoolLayout

    public init(path: String, layout: SpoolLayout) {
        self.path = path
        self.layout = layout
    }

    /// Renders and writes the file; a failure is reported on stderr and never stops the processor.
    public func write(
        metrics: ProcessorMetrics, listing: JobListing, workers: Int, busy: Int, now: Double = ProcessInfoLite.now()
    ) {
        let text = render(metrics.snapshot, listing: listing, workers: workers, busy: busy, now: now)
        do {
            // Beside the target, not in the spool's tmp/: rename(2) works only within a file system.
            try FileSystem.writeAtomically(Array(text.utf8), to: path, durable: false)
        } catch {
            Diagnostics.warn("could not write the metrics file: \(error)")
        }
    }

    /// Queued jobs' ages are put in these buckets (seconds).
    static let ageBounds: [Double] = [60, 300, 600, 1200, 2400, 4800, 9600]

    /// The file's text: gauges from the directories now, counters from this processor.
    public func render(
        _ snapshot: ProcessorMetrics.Snapshot, listing: JobListing, workers: Int, busy: Int, now: Double
    ) -> String {
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        family("spool_jobs", "gauge", "Jobs in each state directory of the spool.")
        for state in JobState.allCases {
            lines.append("spool_jobs{state=\"\(state.displayName)\"} \(listing.unsortedIDs(in: state).count)")
        }

        let ages = listing.unsortedIDs(in: .queued).compactMap { listing.queuedAge(of: $0, now: now) }
        family("spool_queue_age_seconds", "histogram", "Time queued jobs have waited since they arrived in queued/.")
        for bound in Self.ageBounds {
            lines.append(
                "spool_queue_age_seconds_bucket{le=\"\(Self.number(bound))\"} \(ages.filter { $0 <= bound }.count)")
        }
        lines.append("spool_queue_age_seconds_bucket{le=\"+Inf\"} \(ages.count)")
        lines.append("spool_queue_age_seconds_sum \(Self.number(ages.reduce(0, +)))")
        lines.append("spool_queue_age_seconds_count \(ages.count)")
        family("spool_queue_oldest_age_seconds", "gauge", "Age of the oldest queued job (0 when none is queued).")
        lines.append("spool_queue_oldest_age_seconds \(Self.number(ages.max() ?? 0))")

        family("spool_workers", "gauge", "Worker threads of this processor.")
        lines.append("spool_workers \(workers)")
        family("spool_workers_busy", "gauge", "Workers of this processor running a job.")
        lines.append("spool_workers_busy \(busy)")

        family(
            "spool_job_transitions_total", "counter",
            "Attempts this processor ended, by job type and outcome (done, failed, cancelled, retried).")
        for type in snapshot.transitions.keys.sorted() {
            for (outcome, count) in snapshot.transitions[type]!.sorted(by: { $0.key < $1.key }) {
                lines.append(
                    "spool_job_transitions_total{type=\"\(Self.escaped(type))\",outcome=\"\(outcome)\"} \(count)")
            }
        }
        family("spool_job_duration_seconds", "histogram", "Run time of the attempts this processor ended, by job type.")
        for type in snapshot.durations.keys.sorted() {
            let histogram = snapshot.durations[type]!
            let label = "type=\"\(Self.escaped(type))\""
            var cumulative = 0
            for (index, bound) in ProcessorMetrics.durationBounds.enumerated() {
                cumulative += histogram.buckets[index]
                lines.append("spool_job_duration_seconds_bucket{\(label),le=\"\(Self.number(bound))\"} \(cumulative)")
            }
            lines.append("spool_job_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)")
            lines.append("spool_job_duration_seconds_sum{\(label)} \(Self.number(histogram.sum))")
            lines.append("spool_job_duration_seconds_count{\(label)} \(histogram.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value escaped as the text format requires (backslash, quote, newline).
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A number as Prometheus reads it: integers without a fraction, others to the millisecond.
    static func number(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
        return String((value * 1000).rounded() / 1000)
    }
}
