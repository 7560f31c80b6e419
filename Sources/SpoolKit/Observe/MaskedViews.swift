import SpoolSystem

/// What a user may see of jobs when spool.json has a `masking` section: `show` and `list --json`
/// mask payloads with the role of the user running the command (its real uid), and `result`
/// refuses a report masked for a role that would show that user more than their own role does.
extension Spool {
    /// The role of the user running this command; nil when nothing is masked.
    public var invokingRole: RoleRules? {
        configuration.masking.map { $0.role(ofUser: UserDatabase.currentUserID) }
    }
}

extension JobSummary {
    /// The summary with its payload masked for `role` (unchanged without masking).
    public func masked(for role: RoleRules?, policy: MaskingPolicy?) -> JobSummary {
        guard let role, let policy, let record else { return self }
        return JobSummary(id: id, state: state, record: policy.masked(record, for: role), problem: problem)
    }
}

extension RoleRules {
    /// Whether output masked for `other` shows nothing this role may not see: every field it
    /// shows in clear this role keeps, every hash this role keeps or hashes too, every partial
    /// this role keeps or shows at least as long. Dropped and redacted fields show nothing.
    public func mayRead(outputMaskedFor other: RoleRules) -> Bool {
        let names = Set(fields.keys).union(other.fields.keys)
        return (Array(names) + ["*"]).allSatisfy { name in
            let shown = name == "*" ? other.otherFields : other.rule(for: name)
            let allowed = name == "*" ? otherFields : rule(for: name)
            switch (shown, allowed) {
            case (.drop, _), (.redact, _), (_, .keep): return true
            case (.hash, .hash): return true
            case (.partial(let count), .partial(let limit)): return count <= limit
            default: return false
            }
        }
    }
}

extension JobStore {
    /// Why the invoking user may not read a job's result, or nil. Only a report's result says
    /// which role it was masked for (`report.role` in the record); other results are shown as they are.
    public func resultAccessProblem(of id: String) -> String? {
        guard let policy = spool.configuration.masking, let role = spool.invokingRole,
            let path = try? locate(id).path,
            let record = try? JobRecord(
                parsing: FileSystem.readFile(path, limit: spool.configuration.maximumJobBytes), path: path),
            let madeFor = record.fields["report"]?.objectValue?["role"]?.stringValue
        else { return nil }
        let maskedFor = policy.roles[madeFor] ?? (madeFor == RoleRules.unmasked.name ? .unmasked : .denyAll)
        if role.name == madeFor || role.mayRead(outputMaskedFor: maskedFor) { return nil }
        return "the result of job \(id) was masked for role \"\(madeFor)\", which sees fields your role "
            + "\"\(role.name)\" may not; submit a report of your own"
    }

    /// The file a running job's result grows in: a report's partial output in its work
    /// directory, else the newest in-progress result file of the job in tmp/; nil when none.
    public func inProgressResultPath(of id: String) -> String? {
        let report = layout.workDirectory(id) + "/report.out"
        if FileSystem.exists(report) { return report }
        let prefix = "result-" + id.replacingOccurrences(of: "/", with: "+") + "."
        let directory = layout.temporaryDirectory
        var newest: (path: String, time: Int64)?
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
            guard let name = entry.name, name.hasPrefix(prefix), name.hasSuffix(".tmp") else { continue }
            let path = directory + "/" + name
            guard let status = try? FileSystem.statusNotFollowing(path), status.kind == .regular else { continue }
            if status.modificationTimeNanoseconds > newest?.time ?? .min {
                newest = (path, status.modificationTimeNanoseconds)
            }
        }
        return newest?.path
    }
}
