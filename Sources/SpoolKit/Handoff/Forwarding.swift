import SpoolJSON
import SpoolSystem

/// Sending jobs to another spool: a claimed job whose type (or `"route"`) a route forwards is
/// written into `outbox/ROUTE/ID.json` — the record as submitted, plus `origin` and, when the
/// route names one, `returnTo` — and the local record moves to `forwarded/`, saying where it
/// went. The route's transport delivers the outbox (`RouteForwarder`). A parent is forwarded
/// before its split, whole; the destination splits it.
extension JobStore {
    /// Fields of the local record that are the processor's, not the submitter's: not sent.
    private static let localFields = [
        "status", "processor", "attempts", "deferredAttempts", "startedAt", "notBefore", "progress", "error",
        "history", "ownerUID",
    ]

    func forward(_ claimed: ClaimedJob, via route: Route) {
        let id = claimed.id
        defer { claimed.claimLock.close() }
        var outgoing = claimed.record
        for key in Self.localFields { outgoing.set(key, nil) }
        outgoing.set(
            "origin",
            .object(
                JSONObject([
                    ("host", .string(ProcessInfoLite.hostName)), ("spool", .string(layout.root)),
                    ("route", .string(route.name)), ("forwardedAt", .string(Timestamp.now())),
                ])))
        if let returnVia = route.returnVia { outgoing.set("returnTo", .string(returnVia)) }
        do {
            try placeInOutbox(route.name, files: [(id + ".json", outgoing.serialized())])
        } catch {
            // The job stays claimed in processing/; recovery puts it back in queued/ later.
            Diagnostics.warn("route \(route.name): could not put job \(id) in the outbox: \(error)")
            return
        }
        var record = claimed.record
        record.set("forwardedTo", .string(route.name))
        record.set("destination", .string(route.destination))
        record.set("forwardedAt", .string(Timestamp.now()))
        JobLog.append(layout, id: id, .info, "forwarded by route \(route.name) to \(route.destination) → forwarded/")
        do { try move(id, to: .forwarded, record: record) } catch {
            Diagnostics.warn("could not move forwarded job \(id) to forwarded/: \(error)")
        }
    }

    /// Writes files into `outbox/ROUTE/`, each under tmp/ first and renamed in complete; a file
    /// already there (an earlier try) is kept.
    func placeInOutbox(_ route: String, files: [(name: String, bytes: [UInt8])]) throws(SystemError) {
        let directory = layout.outboxDirectory + "/" + route
        try FileSystem.makeDirectory(layout.outboxDirectory)
        try FileSystem.makeDirectory(directory)
        for (name, bytes) in files {
            let temporary = layout.temporaryPath("outbox")
            let fd = try FileSystem.createExclusive(temporary)
            do {
                defer { fd.close() }
                try fd.writeAll(bytes, path: temporary)
            } catch {
                try? FileSystem.unlinkIfPresent(temporary)
                throw error
            }
            // Durable mode: in the outbox for good before the job is recorded as forwarded.
            try commits.stage([temporary])
            do { try FileSystem.renameNoReplace(temporary, to: directory + "/" + name) } catch {
                try? FileSystem.unlinkIfPresent(temporary)
                if !error.isAlreadyExists { throw error }
            }
        }
        try commits.published(in: [directory, layout.temporaryDirectory], acknowledged: true)
        outboxFilled.withLock { $0 }?()
    }
}
