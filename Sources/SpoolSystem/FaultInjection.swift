import Glibc

/// A test seam for storage errors: `SPOOL_INJECT_FAULTS="fsync:/done,rename:/results"` makes
/// every fsync(2) (or rename(2), write(2)) of a path containing the text after the colon fail
/// with EIO, as a failing disk would. Read once at start; empty (no faults) in normal use.
package enum FaultInjection {
    // A `let` read once before any thread starts: immutable afterwards, safe to share.
    package static let rules: [(operation: String, pathPart: String)] = {
        guard let text = getenv("SPOOL_INJECT_FAULTS").map({ String(cString: $0) }), !text.isEmpty else { return [] }
        return text.split(separator: ",").compactMap { rule in
            let parts = rule.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }()

    /// Throws EIO when a rule matches this call.
    package static func check(_ operation: String, path: String?) throws(SystemError) {
        guard !rules.isEmpty, let path else { return }
        if rules.contains(where: { $0.operation == operation && path.contains($0.pathPart) }) {
            throw SystemError(operation, path: path, code: EIO)
        }
    }
}
