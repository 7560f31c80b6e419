import SpoolJSON
import SpoolSystem

/// The built-in `report` handler: reads records from a data file or a source command, in
/// chunks selects, renames and masks their fields for the role of the job's owner, and writes
/// a CSV or NDJSON report, with progress after every chunk. Memory stays constant whatever the
/// input size (one 64 KiB read buffer, one chunk).
///
/// The partial report and its checkpoint live in the job's work directory
/// (`processors/work/ID/`), which outlives an attempt: after a crash or kill -9 the next attempt
/// continues after the last committed chunk, and its result is byte for byte the one an
/// uninterrupted run gives. Only when the report is complete does its file become the
/// attempt's result, which the processor then publishes as `results/ID.out` by rename.
public struct ReportHandler: JobHandler {
    public let settings: ReportSettings
    /// nil: spool.json has no `masking` section, and reports are not masked.
    public let masking: MaskingPolicy?
    public let spoolRoot: String
    /// The account the source command switches to before exec; nil: it runs as the processor.
    public let user: UserAccount?

    /// A file source this small has its records counted before the report starts, so progress
    /// is records done of records in all; a larger one reports progress by bytes read.
    static let countedSourceLimit = 64 * 1024 * 1024
    /// Bad records logged per attempt; the rest are only counted.
    static let loggedBadRecords = 10
    /// A chunk's output past this many bytes is written before the chunk ends (constant memory).
    static let chunkBufferLimit = 1 << 20

    public init(settings: ReportSettings, masking: MaskingPolicy?, spoolRoot: String, user: UserAccount? = nil) {
        self.settings = settings
        self.masking = masking
        self.spoolRoot = spoolRoot
        self.user = user
    }

    public func run(_ invocation: HandlerInvocation, context: HandlerContext) -> HandlerResult {
        do {
            return try report(invocation, context: context)
        } catch {
            context.log(.error, "report: \(error)")
            return error.handlerResult
        }
    }

    private func report(_ invocation: HandlerInvocation, context: HandlerContext) throws(ReportFailure) -> HandlerResult
    {
        let payload = invocation.record.fields["payload"]?.objectValue ?? JSONObject()
        let role = try resolveRole(invocation, payload: payload, context: context)
        var outputFormat = settings.format
        if let requested = payload["format"] {
            outputFormat = try permanently { () throws(SettingsError) in
                try ReportSettings.format(requested, "payload.format")
            }
        }
        let source = try openSource(invocation, payload: payload, context: context)
        defer { source.close(stopping: true) }

        let layout = context.layout
        let workDirectory = layout.workDirectory(invocation.id)
        do {
            try FileSystem.makePrivateDirectory(layout.workDirectoriesRoot)
            try FileSystem.makePrivateDirectory(workDirectory)
        } catch { throw .retryable("\(error)") }
        // Everything that shapes the output: resuming under other settings (say a role whose
        // rules or hash key changed) would mix two reports in one file.
        let fingerprint = [
            source.identity, source.format.rawValue, outputFormat.rawValue, String(settings.chunkSize), role.name,
            String(describing: role.otherFields)
                + role.fields.keys.sorted().map { ";" + $0 + "=" + String(describing: role.fields[$0]!) }.joined(),
            // The key itself never goes to disk: a keyed digest of a constant stands for it.
            masking?.hasher?.hex("spool report checkpoint", length: 16) ?? "",
            (settings.fields ?? []).map { $0.source + ">" + $0.output }.joined(separator: ","),
        ].joined(separator: "|")
        var checkpoint = ReportCheckpoint(fingerprint: fingerprint)
        if let saved = ReportCheckpoint.load(from: workDirectory) {
            if saved.fingerprint == fingerprint {
                checkpoint = saved
            } else {
                context.log(.warning, "report: the saved checkpoint is for other input or settings; starting over")
            }
        }
        let outputPath = workDirectory + "/report.out"
        let output: FileDescriptor
        do { output = try FileSystem.openForUpdate(outputPath, mode: 0o600) } catch { throw .retryable("\(error)") }
        defer { output.close() }
        do {
            if let size = try? output.status(path: outputPath).size, size < checkpoint.outputBytes {
                // Output shorter than its checkpoint (lost in a power cut): it cannot be trusted.
                context.log(.warning, "report: the partial output is shorter than its checkpoint; starting over")
                checkpoint = ReportCheckpoint(fingerprint: fingerprint)
            }
            // Bytes past the checkpoint belong to a chunk that was never committed.
            try output.truncate(toSize: checkpoint.outputBytes, path: outputPath)
            try output.seekToEnd(path: outputPath)
        } catch { throw .retryable("\(error)") }

        let deadline = invocation.timeout.map { ProcessInfoLite.monotonicNow() + $0 }
        let stopCheck = StopCheck(context: context, deadline: deadline, timeout: invocation.timeout ?? 0)
        var total: Int?
        if let size = source.size, size <= Self.countedSourceLimit { total = try countRecords(source) }
        let reader = try prepareReader(source, checkpoint: checkpoint, stopCheck: stopCheck)
        if checkpoint.chunks > 0 {
            context.log(
                .info,
                "report: resuming from chunk \(checkpoint.chunks) (\(checkpoint.consumedRecords) records, "
                    + "\(checkpoint.outputBytes) bytes of output kept from an earlier attempt)")
        }
        context.annotate(
            "report",
            .object(
                JSONObject([
                    ("role", .string(role.name)), ("ownerUID", JSONValue(Int(invocation.ownerID))),
                    ("source", .string(source.displayName)), ("format", .string(outputFormat.rawValue)),
                    ("resumedFromChunk", JSONValue(checkpoint.chunks)),
                ])))

        var transform = ReportTransform(
            format: outputFormat, fields: settings.fields, role: role, policy: masking, columns: checkpoint.columns)
        var chunk: [UInt8] = []
        if checkpoint.outputBytes == 0, let header = transform.fixedHeader { chunk = header }
        var loggedBad = 0
        while true {
            if let stop = stopCheck.outcome() { return stop }
            var read = 0
            // Written ahead of the checkpoint when a chunk grows large (memory stays bounded);
            // a resume truncates back to the checkpoint, so these bytes count only once it is saved.
            var writtenAhead = 0
            do {
                while read < settings.chunkSize, let record = try reader.next() {
                    read += 1
                    if chunk.count > Self.chunkBufferLimit {
                        try output.writeAll(chunk, path: outputPath)
                        writtenAhead += chunk.count
                        chunk.removeAll(keepingCapacity: true)
                    }
                    switch record {
                    case .object(let object): transform.append(object, to: &chunk)
                    case .invalid(let reason):
                        checkpoint.failedRecords += 1
                        loggedBad += 1
                        if loggedBad <= Self.loggedBadRecords {
                            context.log(
                                .warning, "report: skipped record \(checkpoint.consumedRecords + read): \(reason)")
                        }
                    }
                }
            } catch {
                if let stop = stopCheck.outcome() { return stop }
                throw .retryable("\(error)")
            }
            guard read > 0 || !chunk.isEmpty || writtenAhead > 0 else { break }
            do { try output.writeAll(chunk, path: outputPath) } catch { throw .retryable("\(error)") }
            checkpoint.chunks += 1
            checkpoint.consumedRecords += read
            checkpoint.writtenRecords = checkpoint.consumedRecords - checkpoint.failedRecords
            checkpoint.sourceOffset = reader.offset
            checkpoint.outputBytes += writtenAhead + chunk.count
            checkpoint.columns = transform.columns
            chunk.removeAll(keepingCapacity: true)
            do { try checkpoint.save(in: workDirectory) } catch { throw .retryable("\(error)") }
            reportProgress(checkpoint, total: total, source: source, context: context)
            if read == 0 { break }
        }
        if case .command = source.kind {
            if let termination = source.close(stopping: false), termination != .exited(0) {
                throw .retryable("the source command ended with \(termination)")
            }
        }
        return try publish(outputPath, workDirectory: workDirectory, checkpoint: checkpoint, context: context)
    }

    /// The role the report is masked for: the owner's, whatever the JSON claims.
    private func resolveRole(
        _ invocation: HandlerInvocation, payload: JSONObject, context: HandlerContext
    ) throws(ReportFailure) -> RoleRules {
        guard let masking else { return .unmasked }
        let role = masking.role(ofUser: invocation.ownerID)
        let claimed = invocation.record.fields["role"]?.stringValue ?? payload["role"]?.stringValue
        guard let claimed, claimed != role.name else { return role }
        let sentence =
            "the job claims role \"\(claimed)\" but its owner (uid \(invocation.ownerID)) has role \"\(role.name)\""
        switch masking.roleClaims {
        case .refuse:
            throw .permanent(sentence + "; refused (masking.roleClaims is \"refuse\")")
        case .downgrade:
            context.log(.warning, "report: " + sentence + "; masking for \"\(role.name)\"")
            context.annotate(
                "roleClaim", .object(JSONObject([("claimed", .string(claimed)), ("used", .string(role.name))])))
            return role
        }
    }

    private func openSource(
        _ invocation: HandlerInvocation, payload: JSONObject, context: HandlerContext
    ) throws(ReportFailure) -> ReportSource {
        if let file = payload["file"] {
            guard let relativePath = file.stringValue else {
                throw .permanent("payload.file must be a string (a path)")
            }
            guard let dataDirectory = settings.dataDirectory else {
                throw .permanent("type \(invocation.type) has no report.dataDirectory, so jobs cannot name files")
            }
            let root = dataDirectory.hasPrefix("/") ? dataDirectory : spoolRoot + "/" + dataDirectory
            var inputFormat: RecordFormat?
            if let requested = payload["inputFormat"] {
                inputFormat = try permanently { () throws(SettingsError) in
                    try ReportSettings.format(requested, "payload.inputFormat")
                }
            }
            return try ReportSource.file(relativePath, dataDirectory: root, format: inputFormat)
        }
        guard let command = settings.sourceCommand else {
            throw .permanent("the job has no payload.file and type \(invocation.type) has no report.sourceCommand")
        }
        let log: FileDescriptor
        do { log = try JobLog.openForHandler(context.layout, id: invocation.id) } catch {
            throw .retryable("could not open the job's log: \(error)")
        }
        defer { log.close() }
        return try ReportSource.command(
            command, format: settings.sourceFormat, invocation: invocation, context: context, spoolRoot: spoolRoot,
            log: log, user: user)
    }

    /// A reader positioned after the checkpoint: a file is sought to its offset, a command's
    /// output is read and discarded up to the records already done.
    private func prepareReader(
        _ source: ReportSource, checkpoint: ReportCheckpoint, stopCheck: StopCheck
    ) throws(ReportFailure) -> RecordReader {
        let isSeekable = source.isSeekable
        let descriptor = source.descriptor
        let reader = RecordReader(
            descriptor: descriptor, name: source.displayName, format: source.format,
            beforeRead: { () throws(RecordReadError) in
                // A pipe may stay silent: wait in short steps, so a cancel or timeout is noticed.
                guard !isSeekable else { return }
                while Poll.waitReadable([descriptor], timeoutMilliseconds: 200).isEmpty {
                    if stopCheck.outcome() != nil { throw RecordReadError(description: "stopped") }
                }
            })
        do {
            try reader.readHeader()
            guard checkpoint.consumedRecords > 0 else { return reader }
            if isSeekable {
                try descriptor.seek(to: checkpoint.sourceOffset, path: source.displayName)
                return RecordReader(
                    descriptor: descriptor, name: source.displayName, format: source.format,
                    startingAt: checkpoint.sourceOffset, header: reader.header)
            }
            try reader.skipRecords(checkpoint.consumedRecords)
            return reader
        } catch let error as RecordReadError {
            throw .retryable(error.description)
        } catch {
            throw .retryable("\(error)")
        }
    }

    /// Counts the records of a (small) file source, then puts its offset back.
    private func countRecords(_ source: ReportSource) throws(ReportFailure) -> Int? {
        do {
            let counter = RecordReader(descriptor: source.descriptor, name: source.displayName, format: source.format)
            try counter.readHeader()
            let count = try counter.countRecords()
            try source.descriptor.seek(to: 0, path: source.displayName)
            return count
        } catch let error as RecordReadError {
            throw .retryable(error.description)
        } catch {
            throw .retryable("\(error)")
        }
    }

    private func reportProgress(
        _ checkpoint: ReportCheckpoint, total: Int?, source: ReportSource, context: HandlerContext
    ) {
        var percent: Int?
        if let total, total > 0 {
            percent = checkpoint.consumedRecords * 100 / total
        } else if let size = source.size, size > 0 {
            percent = checkpoint.sourceOffset * 100 / size
        }
        // 100 is for a finished job; the processor records it when the job is done.
        if let percent { context.reportProgress(min(99, percent)) }
        context.reportRecords(
            RecordCounts(
                total: total, processed: checkpoint.consumedRecords, succeeded: checkpoint.writtenRecords,
                failed: checkpoint.failedRecords))
    }

    /// Makes the finished report the attempt's result (renamed over the processor's in-progress
    /// result file, which it publishes when the job ends), then removes the work directory.
    private func publish(
        _ outputPath: String, workDirectory: String, checkpoint: ReportCheckpoint, context: HandlerContext
    ) throws(ReportFailure) -> HandlerResult {
        guard context.resultTemporaryPath != nil else {
            throw .retryable("the processor gave the report no result file to replace")
        }
        do { try context.replaceResult(with: outputPath) } catch { throw .retryable("\(error)") }
        FileSystem.removeShallowTree(workDirectory)
        context.log(
            .info,
            "report: \(checkpoint.writtenRecords) record(s) in \(checkpoint.chunks) chunk(s), "
                + "\(checkpoint.failedRecords) skipped, \(checkpoint.outputBytes) bytes")
        return .success
    }
}

/// Whether the report should stop now: a cancel, a shutdown, or its timeout.
private struct StopCheck: Sendable {
    let context: HandlerContext
    let deadline: Double?
    let timeout: Double

    func outcome() -> HandlerResult? {
        switch context.stopRequest {
        case .cancel(let request)?: return .cancelled(request)
        case .shutdown?: return .interrupted
        case nil: break
        }
        if let deadline, ProcessInfoLite.monotonicNow() >= deadline {
            return .timedOut(seconds: timeout)
        }
        return nil
    }
}

/// Runs a parse of job-supplied settings; its error fails the job for good (the job is wrong).
private func permanently<Value>(_ body: () throws(SettingsError) -> Value) throws(ReportFailure) -> Value {
    do { return try body() } catch { throw .permanent(error.message) }
}
