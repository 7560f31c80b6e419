import SpoolSystem

/// A job's result files, for `spool result`: a job's own `results/ID.out`, or, for a parent,
/// its children's in batch order.
extension JobStore {
    /// The result files that make up a job's result, in order, and the children that have none
    /// yet (unfinished, or failed before writing one).
    public func resultFiles(of id: String) throws(SpoolError) -> (files: [String], missing: [String]) {
        let (state, path) = try locate(id)
        if JobID.parent(of: id) == nil,
            let record = try? JobRecord(
                parsing: FileSystem.readFile(path, limit: max(spool.configuration.maximumJobBytes, 64 * 1024 * 1024)),
                path: path), record.isParent, record.childCount != nil
        {
            let children = BatchTree(layout: layout, parent: id).census().values.flatMap { $0 }.sorted()
            var files: [String] = []
            var missing: [String] = []
            for child in children {
                let file = layout.resultPath(child)
                if FileSystem.exists(file) { files.append(file) } else { missing.append(child) }
            }
            return (files, missing)
        }
        let file = layout.resultPath(id)
        _ = state
        return FileSystem.exists(file) ? ([file], []) : ([], [id])
    }

    /// Publishes a finished attempt's output (`tmp/...`) as `results/ID.out` (a child's in
    /// `results/PARENT/`, made if missing), replacing an older one. The rename goes into
    /// `results/` opened from the spool's root (`FileSystem.renameIntoSpool`): a `results/`
    /// replaced by a symbolic link is refused, the output stays where it is (in `tmp/`), and
    /// the job's log says so.
    func publishResult(_ temporary: String, of id: String) throws(SystemError) {
        let target = layout.resultPath(id)
        do {
            if JobID.parent(of: id) != nil {
                try FileSystem.makeDirectoryInSpool(FileSystem.directoryName(of: target), root: layout.root)
            }
            try FileSystem.renameIntoSpool(temporary, to: target, root: layout.root)
        } catch {
            let kept =
                "; the output is kept as \(layout.relative(Self.keptResultPath(temporary))) once the job has moved on"
            JobLog.append(layout, id: id, .error, "result not published: \(error)" + kept)
            throw SystemError(
                "publish the result", path: temporary, secondPath: target, code: error.code,
                explanation: error.reason + kept)
        }
    }

    /// Where an output that could not be published is kept (nothing is lost): its staging name
    /// with `unpublished~` for `result-` and `.out` for `.tmp`, out of the staging names that
    /// recovery and the stale-file removal clean up.
    static func keptResultPath(_ temporary: String) -> String {
        let directory = FileSystem.directoryName(of: temporary)
        var name = String(temporary.dropFirst(directory.count + 1))
        if name.hasPrefix("result-") { name = "unpublished~" + name.dropFirst("result-".count) }
        if name.hasSuffix(".tmp") { name = String(name.dropLast(4)) + ".out" }
        return directory + "/" + name
    }

    /// Keeps an output that could not be published under `keptResultPath`, once the job has
    /// moved on (its lock, the claim's, is held until then).
    func keepUnpublishedResult(_ temporary: String) {
        do { try FileSystem.rename(temporary, to: Self.keptResultPath(temporary)) } catch {
            Diagnostics.warn("could not keep the unpublished output \(layout.relative(temporary)): \(error)")
        }
    }

    /// Hands a result file to `write` in 1 MiB pieces: constant memory whatever its size.
    /// The file is opened from the spool's root, never through a link, and must be a regular file.
    public func copyResult(_ path: String, to write: ([UInt8]) -> Void) throws(SpoolError) {
        let fd: FileDescriptor
        do { fd = try FileSystem.openInSpool(path, root: layout.root, OpenFlags.readOnly) } catch {
            throw .system(error)
        }
        defer { fd.close() }
        var buffer = [UInt8](repeating: 0, count: 1024 * 1024)
        while true {
            let count: Int
            do { count = try fd.read(into: &buffer, path: path) } catch { throw .system(error) }
            if count == 0 { return }
            write(Array(buffer[0..<count]))
        }
    }
}
