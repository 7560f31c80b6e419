import Glibc

/// Renames whose failure may be a lie. Over NFS, a rename whose reply was lost is sent again,
/// and the retransmission fails — ENOENT (the source is gone) or EEXIST (the target exists) —
/// although the first one succeeded. Such a failure is taken for what it is: the source is
/// gone and the target is the very file the source was (same device and inode).
package enum AmbiguousRenames {
    /// Whether a rename that failed with `code` in fact happened.
    package static func happenedDespite(_ code: Int32, sourceBefore: FileStatus?, source: [CChar], target: String)
        -> Bool
    {
        guard code == ENOENT || code == EEXIST, let sourceBefore else { return false }
        var raw = stat()
        let sourceGone = source.withUnsafeBufferPointer { Glibc.lstat($0.baseAddress!, &raw) } != 0 && errno == ENOENT
        guard sourceGone, let now = try? FileSystem.statusNotFollowing(target) else { return false }
        return now.isSameFile(as: sourceBefore)
    }

    /// The identity of a rename's source, taken before it (nil when it cannot be read).
    package static func identity(of path: [CChar]) -> FileStatus? {
        var raw = stat()
        guard path.withUnsafeBufferPointer({ Glibc.lstat($0.baseAddress!, &raw) }) == 0 else { return nil }
        return FileStatus(raw)
    }
}

/// A test seam for the behaviour above: `SPOOL_FAULT_RENAME=enoent=0.2,eexist=0.2` makes that
/// share of successful renames report ENOENT or EEXIST anyway, as an NFS retransmission would.
/// Read once per process; unset (always, outside tests) it costs one comparison per rename.
package enum LostReplyInjection {
    package static let renameFaults: (lostReplyNotFound: Double, lostReplyExists: Double) = {
        guard let text = environmentValue("SPOOL_FAULT_RENAME") else { return (0, 0) }
        var result = (0.0, 0.0)
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=")
            guard pair.count == 2, let share = Double(pair[1]) else { continue }
            if pair[0] == "enoent" { result.0 = share }
            if pair[0] == "eexist" { result.1 = share }
        }
        return result
    }()

    /// The error a successful rename reports under the seam, if any.
    package static func renameFault() -> Int32? {
        let faults = renameFaults
        guard faults.lostReplyNotFound > 0 || faults.lostReplyExists > 0 else { return nil }
        let draw = Double.random(in: 0..<1)
        if draw < faults.lostReplyNotFound { return ENOENT }
        if draw < faults.lostReplyNotFound + faults.lostReplyExists { return EEXIST }
        return nil
    }
}
