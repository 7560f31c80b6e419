import SpoolSystem

/// Who submitted a job. The owner of the file dropped in `queued/` is the submitter; but every
/// rewrite by the processor (a start, a retry, a batch split, a wait) makes a new file owned by
/// the processor's uid. So the processor records the submitter in the record's `ownerUID` as
/// soon as it claims or takes a job, and that field is believed only in a file written by a
/// trusted uid — root, this process's effective uid, or the spool directory's owner (the
/// processor's service user) — so anyone else who writes `"ownerUID": 0` into a job is still
/// known by the uid that owns the file.
enum JobOwnership {
    /// Stands for an owner that cannot be known: it maps to the default role.
    static let nobody: UInt32 = 65534

    /// The submitter of a job whose file is owned by `fileOwner`.
    static func submitter(fileOwner: UInt32, record: JobRecord, layout: SpoolLayout) -> UInt32 {
        guard let recorded = record.ownerUID, trustedWriters(layout).contains(fileOwner) else { return fileOwner }
        return recorded
    }

    static func trustedWriters(_ layout: SpoolLayout) -> Set<UInt32> {
        var writers: Set<UInt32> = [0, UserDatabase.effectiveUserID]
        if let owner = try? FileSystem.statusNotFollowing(layout.root)?.ownerID { writers.insert(owner) }
        return writers
    }
}

extension JobRecord {
    /// The `ownerUID` field as a uid, when it is one.
    var ownerUID: UInt32? { fields["ownerUID"]?.intValue.flatMap { UInt32(exactly: $0) } }
}
