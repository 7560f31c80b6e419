import SpoolSystem

/// Making a job exactly once when several processors race to make it (a schedule's slot, a
/// rule's dependent). `publishOnce` alone is not enough: between its look for the id and its
/// rename into `queued/`, a job another processor published can be claimed and leave
/// `queued/`, and a second copy would get in. So the maker first creates a marker with
/// `O_EXCL` — one process wins — and holds an `flock` on it while it publishes, then writes
/// `published` into it. A marker left `publishing` by a maker that died (its lock free, the
/// marker over `abandonedAfter` seconds old) is finished by whoever finds it.
extension JobStore {
    static let abandonedAfter = 30.0

    /// Publishes `record` as `id` unless the marker says it was (or is being) made. Returns true
    /// when this call published it.
    @discardableResult
    public func publishExactlyOnce(_ record: JobRecord, id: String, marker: String) throws(SpoolError) -> Bool {
        let flags = OpenFlags.readWrite | OpenFlags.create | OpenFlags.exclusive
        let fd: FileDescriptor
        do {
            fd = try FileSystem.openInSpool(marker, root: layout.root, flags)
        } catch  where error.isAlreadyExists {
            return try finishAbandoned(record, id: id, marker: marker)
        } catch {
            throw .system(error)
        }
        defer { fd.close() }
        _ = try? fd.lockExclusive(wait: true, path: marker)
        let made = try publishOnce(record, id: id)
        markPublished(fd, marker)
        return made
    }

    /// A marker someone else created: nothing to do unless its maker died before publishing. A
    /// marker that is not a regular file (a FIFO would hold the reader for good) is left alone.
    private func finishAbandoned(_ record: JobRecord, id: String, marker: String) throws(SpoolError) -> Bool {
        let fd: FileDescriptor
        do { fd = try FileSystem.openInSpool(marker, root: layout.root, OpenFlags.readWrite) } catch {
            if !error.isNotFound { Diagnostics.warn("\(id) not made: \(error)") }
            return false
        }
        defer { fd.close() }
        guard (try? fd.lockExclusive(path: marker)) == true, let status = try? fd.status(path: marker),
            ProcessInfoLite.now() - Double(status.modificationTimeNanoseconds) / 1e9 > Self.abandonedAfter,
            let bytes = try? fd.readAll(limit: 64, path: marker),
            String(decoding: bytes, as: UTF8.self) != "published\n"
        else { return false }
        let made = try publishOnce(record, id: id)
        markPublished(fd, marker)
        return made
    }

    private func markPublished(_ fd: FileDescriptor, _ marker: String) {
        do {
            try fd.truncate(path: marker)
            _ = try fd.seek(to: 0, path: marker)
            try fd.writeAll(Array("published\n".utf8), path: marker)
        } catch {
            Diagnostics.warn("could not update \(layout.relative(marker)): \(error)")
        }
    }
}
