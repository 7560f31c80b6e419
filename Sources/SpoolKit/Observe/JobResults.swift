import SpoolSystem
/// A job's result files, for `spool result`: a job's own `results/ID.out`, or, for a parent,
/// its children's in batch order.
extension JobStore {
    /// The result files that make up a job's result, in order, and the children that have none
    /// yet (unfinished, or failed before writing one).
    public func resultFiles(of id: String) throws(SpoolError) -> (files: [String], missing: [String]) {
        let (state, path) = try locate(id)
        if JobID.parent(of: id) == nil, let record = try? JobRecord(
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

    /// Hands a result file to `write` in 1 MiB pieces: constant memory whatever its size.
    public func copyResult(_ path: String, to write: ([UInt8]) -> Void) throws(SpoolError) {
        let fd: FileDescriptor
        do { fd = try FileSystem.openForReadingSafely(path) } catch { throw .system(error) }
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
