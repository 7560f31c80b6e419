import SpoolSystem

/// The ids of child batch jobs. A parent's children live in subdirectories named after it, one
/// per state directory (`queued/PARENT/0001.json`, `done/PARENT/0001.json`, …), so a child's
/// id is `PARENT/NUMBER`: the parent's id, a slash, and its zero-padded batch number. Both parts
/// follow the id rules, so a child's paths stay inside the spool like any job's.
extension JobID {
    /// The id of child `number` of `parent`, its number padded to `width` digits.
    public static func child(of parent: String, number: Int, width: Int) -> String {
        parent + "/" + paddedNumber(number, width: width)
    }

    /// Digits a parent with `count` children pads its batch numbers to (at least 4), so that
    /// children sort in batch order by name.
    public static func childNumberWidth(count: Int) -> Int { max(4, String(count).count) }

    static func paddedNumber(_ number: Int, width: Int) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The parent of a child id (`P/0001` → `P`), or nil for a top-level id.
    public static func parent(of id: String) -> String? {
        guard let slash = id.utf8.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        return String(id[..<slash])
    }

    /// Why `id` is not a valid job or child id (`ID` or `PARENT/CHILD`), or nil when it is.
    public static func referenceProblem(with id: String) -> String? {
        let parts = id.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return "it has more than one '/' (a child id is PARENT/NUMBER)" }
        for part in parts {
            if let problem = problem(with: String(part)) { return problem }
        }
        return nil
    }

    /// Throws `invalidJobID` unless `id` is a valid job or child id.
    public static func validateReference(_ id: String) throws(SpoolError) {
        if let reason = referenceProblem(with: id) { throw .invalidJobID(id, reason: reason) }
    }

    /// The id of an entry found under a state directory: `ID.json`, or `PARENT/CHILD.json`
    /// when it was found in a batch subdirectory. Nil when the name breaks the rules.
    public static func reference(fromRelativeName rawName: [UInt8]) -> String? {
        guard let slash = rawName.firstIndex(of: UInt8(ascii: "/")) else { return id(fromFileName: rawName) }
        guard let parent = String(validating: rawName[..<slash], as: UTF8.self), isValid(parent),
            let child = id(fromFileName: Array(rawName[(slash + 1)...]))
        else { return nil }
        return parent + "/" + child
    }
}
