import SpoolSystem

/// Who each handler type's programs run as, decided when `spool run` starts (issue 8).
///
/// - A processor running as root (euid 0) switches to the type's user (its own `user`, else the
///   spool's) in the child before exec. A type that starts programs and has no user is refused,
///   unless root handlers are allowed (`spool run --allow-root-handlers`); `"user": "root"` is
///   the explicit way to run one as root.
/// - A processor that is not root cannot switch: a type whose user is another uid is refused;
///   the processor's own uid is fine (nothing to switch).
///
/// Types that start no program (`noop`, a report without `sourceCommand`) and types replaced by
/// in-process handlers are not checked.
public struct HandlerUsers: Sendable, Equatable {
    /// The account to switch to, by type; empty when the processor is not root.
    public let switching: [String: UserAccount]

    /// Checks the configuration for a processor running as `processorUID` (its euid).
    public init(
        configuration: SpoolConfiguration, path: String, processorUID: UInt32, allowRootHandlers: Bool,
        inProcessTypes: Set<String> = []
    ) throws(SpoolError) {
        var switching: [String: UserAccount] = [:]
        var unset: [String] = []
        var foreign: [(type: String, account: UserAccount)] = []
        for (type, handler) in configuration.handlers.sorted(by: { $0.key < $1.key })
        where handler.startsPrograms && !inProcessTypes.contains(type) {
            let account = configuration.user(ofHandler: type)
            if processorUID == 0 {
                if let account {
                    switching[type] = account
                } else if !allowRootHandlers {
                    unset.append(type)
                }
            } else if let account, account.uid != processorUID {
                foreign.append((type, account))
            }
        }
        if !unset.isEmpty {
            let names = unset.map { "\"\($0)\"" }.joined(separator: ", ")
            let (noun, pronoun) = unset.count == 1 ? ("handler", "it") : ("handlers", "them")
            throw .invalidConfiguration(
                path: path,
                reason: "\(noun) \(names) would run as root: set \"user\" for \(pronoun) (or for the whole spool) "
                    + "to the account \(unset.count == 1 ? "it" : "they") should run as, \"user\": \"root\" to run "
                    + "\(pronoun) as root on purpose, or pass --allow-root-handlers")
        }
        if !foreign.isEmpty {
            let own =
                UserDatabase.name(ofUser: processorUID).map { "\($0) (uid \(processorUID))" } ?? "uid \(processorUID)"
            let what =
                foreign.count == 1
                ? "handler \"\(foreign[0].type)\" is configured to run as user \(foreign[0].account)"
                : "handlers " + foreign.map { "\"\($0.type)\" (user \($0.account))" }.joined(separator: ", ")
                    + " are configured to run as other users"
            throw .invalidConfiguration(
                path: path,
                reason: "\(what) but spool run is not root (it runs as \(own)) and cannot switch users: "
                    + "run spool run as root, or as that user, or remove the \"user\" setting")
        }
        self.switching = switching
    }
}
