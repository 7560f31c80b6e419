import SpoolJSON
import SpoolSystem

/// Type-level rules at work: when a job finishes, the rules that wait for its type note it in
/// `deps/RULE/KEY/TYPE`, and the one that finds every type of its `after` noted for the key
/// publishes the dependent under the deterministic id `RULE@KEY` (with `publishOnce`), then
/// marks `deps/RULE/KEY/.created`, so it is made once however many processors race, and never
/// again for that key.
extension JobStore {
    /// The correlation key a finished job counts under for a rule: its `correlation` field (a
    /// scheduled job's is its slot unless its template sets one); for a rule that waits for one
    /// type only, the job's own id when it has none. Nil: it cannot count for this rule.
    static func correlationKey(for rule: DependencyRule, id: String, record: JobRecord) -> String? {
        if let correlation = record.fields["correlation"].flatMap(Self.keyText) { return correlation }
        return rule.after.count == 1 ? id : nil
    }

    private static func keyText(_ value: JSONValue) -> String? {
        if let text = value.stringValue { return text }
        if case .number(let text) = value { return text }
        return nil
    }

    /// A key as a file-name part: itself when it is id-safe and short, else a readable prefix
    /// and a hash of the whole (FNV-1a, 64 bits) so distinct keys never share a name.
    static func encodedKey(_ key: String) -> String {
        if JobID.isValid(key), key.utf8.count <= 60 { return key.replacingOccurrences(of: "/", with: "+") }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let readable = String(key.filter { $0.asciiValue.map(JobID.isAllowed) ?? false }.prefix(40))
        let hex = String(hash, radix: 16)
        return (readable.first == "." || readable.isEmpty ? "key" : readable) + "-" + hex
    }

    /// Notes a finished job for the rules that wait for its type and makes the dependents whose
    /// every dependency is now met. Called before the job's final rename (and again by recovery
    /// when it completes an interrupted move), so a crash between the two loses no dependent.
    func createDependents(of id: String, record: JobRecord, state: JobState) {
        let rules = spool.configuration.rules.filter {
            $0.enabled && $0.after.contains(record.type) && $0.condition.isMet(by: state)
        }
        // The submitter recorded by the processor (the file's owner is the processor by now).
        let owner = record.ownerUID ?? JobOwnership.nobody
        for rule in rules {
            if let role = rule.role, spool.configuration.masking?.role(ofUser: owner).name != role { continue }
            guard let key = Self.correlationKey(for: rule, id: id, record: record) else {
                JobLog.append(
                    layout, id: id, .warning,
                    "rule \(rule.name) waits for \(rule.after.joined(separator: ", ")) with one correlation key; "
                        + "this job has no \"correlation\", so it does not count")
                continue
            }
            let encoded = Self.encodedKey(key)
            let directory = layout.dependenciesDirectory + "/" + rule.name + "/" + encoded
            do {
                try FileSystem.makeDirectory(layout.dependenciesDirectory)
                try FileSystem.makeDirectory(layout.dependenciesDirectory + "/" + rule.name)
                try FileSystem.makeDirectory(directory)
                try FileSystem.writeAtomically(
                    Array((id + "\n").utf8), to: directory + "/" + record.type, durable: true)
            } catch {
                Diagnostics.warn("rule \(rule.name): could not note job \(id): \(error)")
                continue
            }
            var parents: [String] = []
            for type in rule.after {
                guard let bytes = try? FileSystem.readFile(directory + "/" + type, limit: 4096) else { break }
                parents.append(String(decoding: bytes, as: UTF8.self).trimmingNewline())
            }
            guard parents.count == rule.after.count else { continue }
            var fields = rule.template
            if parents.count == 1 {
                fields["parentJobId"] = .string(parents[0])
            } else {
                fields["parentJobIds"] = .array(parents.map(JSONValue.string))
            }
            if fields["correlation"] == nil, record.fields["correlation"] != nil {
                fields["correlation"] = .string(key)
            }
            fields["createdByRule"] = .string(rule.name)
            // The dependent acts for the submitter of the job that completed its set.
            fields["ownerUID"] = JSONValue(Int(owner))
            let dependent = rule.name + "@" + encoded
            do {
                if try publishExactlyOnce(JobRecord(fields: fields), id: dependent, marker: directory + "/.created") {
                    JobLog.append(
                        layout, id: dependent, .info,
                        "created by rule \(rule.name) after \(parents.joined(separator: ", ")) (\(rule.condition.rawValue))"
                    )
                }
            } catch {
                Diagnostics.warn("rule \(rule.name): could not create job \(dependent): \(error)")
            }
        }
    }
}

extension String {
    func trimmingNewline() -> String {
        var text = self
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text
    }
}
