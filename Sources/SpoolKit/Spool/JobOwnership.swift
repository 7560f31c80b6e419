/// Who submitted a job. The owner of the file dropped in `queued/` is the submitter; but every
/// rewrite by the processor (a start, a retry, a batch split) makes a new file owned by the
/// processor's uid. So the processor records the submitter in the record's `ownerUID`, and
/// that field is believed only in a file the processor's own uid wrote: anyone else who writes
/// `"ownerUID": 0` into a job is still known by the uid that owns the file.
extension ClaimedJob {
    /// The uid the job acts for.
    public var submitterID: UInt32 {
        guard ownerID == UserDatabase.effectiveUserID, let recorded = record.ownerUID else { return ownerID }
        return recorded
    }
}

extension JobRecord {
    /// The `ownerUID` field as a uid, when it is one.
    var ownerUID: UInt32? { fields["ownerUID"]?.intValue.flatMap { UInt32(exactly: $0) } }
}
