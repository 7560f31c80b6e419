import SpoolJSON
import SpoolSystem

/// How a handler type is run, from the `handlers` section of `spool.json`.
public struct HandlerConfiguration: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// An external program and its arguments, spawned directly (never through a shell).
        case command([String])
        /// A handler built into the processor, by name (`noop`).
        case builtin(String)
    }

    public var kind: Kind
    /// Wall-clock limit in seconds; nil for none. A job's own `timeout` may only lower it.
    public var timeout: Double?
    public var maximumAttempts: Int
    /// At most this many jobs of the type run at once in one processor; nil for no limit.
    public var concurrency: Int?
    /// Extra environment variables, in file order.
    public var environment: [(String, String)]
    /// The handler's working directory, relative to the spool; default the spool itself.
    public var workingDirectory: String?
    /// Ceilings on memory, CPU, descriptors and output of each job of the type.
    public var limits = ResourceLimits()
    /// Retry backoff for the type; nil: the spool's.
    public var backoff: Backoff?
    /// Exit codes that mean "this job can never succeed": fail at once, no retry.
    public var permanentExitCodes: Set<Int32> = HandlerConfiguration.defaultPermanentExitCodes
    /// The settings of a `report` built-in (its `report` key).
    public var report: ReportSettings?
    /// Commands run on the jobs' start, end and progress (its `notify` key).
    public var notifications: NotificationSettings?
    /// The account the type's programs run as (its `user` key), resolved when the configuration
    /// is read; nil: the spool's `user`, else the processor's own. See `SpoolConfiguration.user(ofHandler:)`.
    public var user: UserAccount?

    /// sysexits' permanent errors: 64–78 except 75 (EX_TEMPFAIL, which means "try again").
    public static let defaultPermanentExitCodes = Set(Int32(64)...Int32(78)).subtracting([75])

    public init(
        kind: Kind, timeout: Double? = nil, maximumAttempts: Int = 3, concurrency: Int? = nil,
        environment: [(String, String)] = [], workingDirectory: String? = nil
    ) {
        self.kind = kind
        self.timeout = timeout
        self.maximumAttempts = maximumAttempts
        self.concurrency = concurrency
        self.environment = environment
        self.workingDirectory = workingDirectory
    }

    public static func == (lhs: HandlerConfiguration, rhs: HandlerConfiguration) -> Bool {
        lhs.kind == rhs.kind && lhs.timeout == rhs.timeout && lhs.maximumAttempts == rhs.maximumAttempts
            && lhs.concurrency == rhs.concurrency && lhs.workingDirectory == rhs.workingDirectory
            && lhs.environment.map { $0.0 + "=" + $0.1 } == rhs.environment.map { $0.0 + "=" + $0.1 }
            && lhs.permanentExitCodes == rhs.permanentExitCodes && lhs.limits == rhs.limits
            && lhs.backoff == rhs.backoff && lhs.report == rhs.report
            && lhs.notifications == rhs.notifications && lhs.user == rhs.user
    }

    /// Whether the type starts a program of its own (a `command`, or a report's
    /// `sourceCommand`): only those run as its user. `noop` and a report reading its data
    /// directory run inside the processor.
    public var startsPrograms: Bool {
        switch kind {
        case .command: return true
        case .builtin: return report?.sourceCommand != nil
        }
    }
}

/// The spool's configuration, `spool.json` at its root. Every key is optional; unknown keys are
/// an error, so that a typo does not silently fall back to a default.
public struct SpoolConfiguration: Sendable, Equatable {
    /// Jobs run at once by one `spool run` (its `--workers` overrides it).
    public var workers = 2
    /// A job file larger than this is refused.
    public var maximumJobBytes = 4 * 1024 * 1024
    /// What survives a power cut (`"durable"`, the default, or `"relaxed"`); see `Durability`.
    public var durability = Durability.durable
    /// Seconds between full rescans of `queued/` and recovery passes (inotify can drop events).
    public var rescanInterval = 30.0
    /// Seconds between SIGTERM and SIGKILL when a handler is stopped (timeout, shutdown).
    public var killGrace = 5.0
    /// Seconds a stopping processor lets running handlers finish before stopping them.
    public var shutdownGrace = 10.0
    /// Retry backoff: `min(backoffMaximum, backoffBase × 2^(attempt-1))`, minus up to 20 % jitter.
    public var backoffBase = 1.0
    public var backoffMaximum = 300.0
    /// A job that keeps exiting 75 fails after this many deferred attempts.
    public var maximumDeferrals = 100
    /// Finished jobs older than this (seconds, per state) are purged automatically by processors.
    public var retention: [JobState: Double] = [:]
    /// How long the event journal's day files are kept (`eventRetention`), in seconds.
    public var eventRetention = 14 * 86_400.0
    /// The Prometheus text file processors rewrite (`metricsFile`; relative to the spool root).
    public var metricsFile: String?
    /// Seconds between rewrites of the metrics file (`metricsInterval`).
    public var metricsInterval = 5.0
    public var handlers: [String: HandlerConfiguration] = [:]
    /// Cron schedules, by name (`schedules`).
    public var schedules: [Schedule] = []
    /// Type-level dependency rules (`rules`).
    public var rules: [DependencyRule] = []
    /// Routes to other spools (`routes`).
    public var routes: [Route] = []
    /// Roles, their field masking rules and the owners who have them; nil: nothing is masked.
    public var masking: MaskingPolicy?
    /// The account handlers without a `user` of their own run as (`user` at the top level).
    public var user: UserAccount?

    /// The account a handler type's programs run as: its own `user`, else the spool's; nil
    /// when neither is set (the processor's own account, refused at start when that is root).
    public func user(ofHandler type: String) -> UserAccount? { handlers[type]?.user ?? user }

    public init() {}

    /// The configuration a new spool starts with (`spool init`).
    public static let initialFileContents = """
        {
          "workers": 2,
          "handlers": {
            "noop": { "builtin": "noop" },
            "echo": { "command": ["cat"], "timeout": 60 }
          }
        }

        """

    /// Parses `spool.json`.
    public init(parsing bytes: [UInt8], path: String) throws(SpoolError) {
        func fail(_ reason: String) -> SpoolError { .invalidConfiguration(path: path, reason: reason) }
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw fail("malformed JSON: \(error)") }
        guard let object = root.objectValue else { throw fail("the top level must be a JSON object") }
        // Read after the handlers, whatever the order of the keys: they name handler types.
        var scheduleTable: JSONValue?
        var ruleList: JSONValue?
        for (key, value) in object.members {
            switch key {
            case "workers": workers = try Self.positiveInteger(value, key, fail)
            case "maxJobBytes": maximumJobBytes = try Self.positiveInteger(value, key, fail)
            case "durability":
                guard let name = value.stringValue, let mode = Durability(rawValue: name) else {
                    throw fail(
                        "\"durability\" must be \"durable\" or \"relaxed\" (or \"unbatched\", the benchmark's baseline)"
                    )
                }
                durability = mode
            case "rescanInterval": rescanInterval = try Self.positiveNumber(value, key, fail)
            case "killGrace": killGrace = try Self.positiveNumber(value, key, fail, allowZero: true)
            case "shutdownGrace": shutdownGrace = try Self.positiveNumber(value, key, fail, allowZero: true)
            case "backoff":
                let backoff = try Self.backoff(value, "backoff", default: Backoff(base: 1, maximum: 300), fail)
                backoffBase = backoff.base
                backoffMaximum = backoff.maximum
            case "maxDeferrals": maximumDeferrals = try Self.positiveInteger(value, key, fail)
            case "retention":
                guard let table = value.objectValue else { throw fail("\"retention\" must be an object") }
                for (name, age) in table.members {
                    guard let state = JobState(rawValue: name), state.isTerminal else {
                        throw fail("unknown key \"retention.\(name)\" (known: done, failed, cancelled)")
                    }
                    guard let seconds = age.stringValue.flatMap(PurgeRule.seconds) ?? age.doubleValue, seconds > 0
                    else {
                        throw fail(
                            "\"retention.\(name)\" must be an age such as \"7d\", \"12h\" or a number of seconds")
                    }
                    retention[state] = seconds
                }
            case "eventRetention":
                guard let seconds = value.stringValue.flatMap(PurgeRule.seconds) ?? value.doubleValue, seconds > 0
                else {
                    throw fail("\"eventRetention\" must be an age such as \"14d\", \"12h\" or a number of seconds")
                }
                eventRetention = seconds
            case "metricsFile":
                guard let path = value.stringValue, !path.isEmpty else {
                    throw fail("\"metricsFile\" must be a path (absolute, or relative to the spool)")
                }
                metricsFile = path
            case "metricsInterval": metricsInterval = try Self.positiveNumber(value, key, fail)
            case "user":
                user = try Self.account(
                    value, "user", for: "the spool's default for handlers without a \"user\" of their own", fail)
            case "masking":
                do { masking = try MaskingPolicy(parsing: value) } catch { throw fail(error.message) }
            case "handlers":
                guard let table = value.objectValue else { throw fail("\"handlers\" must be an object") }
                for (type, entry) in table.members {
                    handlers[type] = try Self.handler(type, entry, fail)
                }
            case "schedules": scheduleTable = value
            case "rules": ruleList = value
            case "routes":
                guard let table = value.objectValue else { throw fail("\"routes\" must be an object") }
                for (name, entry) in table.members {
                    do { routes.append(try Route(name: name, parsing: entry)) } catch { throw fail(error.message) }
                }
            default:
                throw fail(
                    "unknown key \"\(key)\" (known: workers, durability, maxJobBytes, rescanInterval, killGrace, "
                        + "shutdownGrace, backoff, maxDeferrals, retention, eventRetention, metricsFile, metricsInterval, "
                        + "handlers, schedules, rules, masking, routes, user)")
            }
        }
        let types = Set(handlers.keys)
        if let scheduleTable {
            guard let table = scheduleTable.objectValue else { throw fail("\"schedules\" must be an object") }
            for (name, entry) in table.members {
                do { schedules.append(try Schedule(name: name, parsing: entry, knownTypes: types)) } catch {
                    throw fail(error.message)
                }
            }
        }
        if let ruleList {
            do {
                rules = try DependencyRule.parseRules(
                    ruleList, knownTypes: types, roles: masking.map { Set($0.roles.keys) })
            } catch { throw fail(error.message) }
        }
    }

    private static func handler(_ type: String, _ value: JSONValue, _ fail: (String) -> SpoolError)
        throws(SpoolError) -> HandlerConfiguration
    {
        guard let object = value.objectValue else { throw fail("handler \"\(type)\" must be an object") }
        var kind: HandlerConfiguration.Kind?
        var configuration = HandlerConfiguration(kind: .builtin("noop"))
        for (key, setting) in object.members {
            let name = "handlers.\(type).\(key)"
            switch key {
            case "command":
                guard let parts = setting.arrayValue, !parts.isEmpty,
                    case let strings = parts.compactMap(\.stringValue), strings.count == parts.count,
                    !strings[0].isEmpty
                else { throw fail("\"\(name)\" must be a non-empty array of strings (an argv, not a shell line)") }
                kind = .command(strings)
            case "builtin":
                guard let builtin = setting.stringValue, BuiltinHandlers.names.contains(builtin) else {
                    throw fail(
                        "\"\(name)\" must name a built-in handler (\(BuiltinHandlers.names.joined(separator: ", ")))")
                }
                kind = .builtin(builtin)
            case "timeout": configuration.timeout = try positiveNumber(setting, name, fail)
            case "maxAttempts": configuration.maximumAttempts = try positiveInteger(setting, name, fail)
            case "concurrency": configuration.concurrency = try positiveInteger(setting, name, fail)
            case "backoff":
                configuration.backoff = try backoff(setting, name, default: Backoff(base: 1, maximum: 300), fail)
            case "limits":
                do { configuration.limits = try ResourceLimits(parsing: setting, name: name) } catch {
                    throw fail(error.message)
                }
            case "permanentExitCodes":
                guard let codes = setting.arrayValue?.compactMap(\.intValue),
                    codes.count == setting.arrayValue?.count, codes.allSatisfy({ (1...255).contains($0) && $0 != 75 })
                else { throw fail("\"\(name)\" must be an array of exit codes from 1 to 255, without 75") }
                configuration.permanentExitCodes = Set(codes.map { Int32($0) })
            case "report":
                do { configuration.report = try ReportSettings(parsing: setting, path: name) } catch {
                    throw fail(error.message)
                }
            case "notify":
                configuration.notifications = try NotificationSettings(parsing: setting, name: name, fail: fail)
            case "user": configuration.user = try account(setting, name, for: "handler \"\(type)\"", fail)
            case "workingDirectory":
                guard let directory = setting.stringValue, !directory.isEmpty else {
                    throw fail("\"\(name)\" must be a path")
                }
                configuration.workingDirectory = directory
            case "env":
                guard let variables = setting.objectValue else { throw fail("\"\(name)\" must be an object") }
                for (variable, text) in variables.members {
                    guard let text = text.stringValue, !variable.isEmpty, !variable.contains("=") else {
                        throw fail("\"\(name).\(variable)\" must be a string and its name must not contain '='")
                    }
                    configuration.environment.append((variable, text))
                }
            default:
                throw fail(
                    "unknown key \"\(name)\" (known: command, builtin, timeout, maxAttempts, concurrency, env, "
                        + "workingDirectory, permanentExitCodes, limits, backoff, report, notify, user)")
            }
        }
        guard let kind else { throw fail("handler \"\(type)\" needs \"command\" (an argv) or \"builtin\"") }
        if object["command"] != nil && object["builtin"] != nil {
            throw fail("handler \"\(type)\" has both \"command\" and \"builtin\"; keep one")
        }
        if configuration.report != nil && kind != .builtin("report") {
            throw fail("handler \"\(type)\" has \"report\" settings but is not \"builtin\": \"report\"")
        }
        configuration.kind = kind
        return configuration
    }

    /// A `user` setting: a login name or a decimal uid as a string, resolved in the password
    /// database now, so that a typo or a missing account stops every command, not a job.
    private static func account(
        _ value: JSONValue, _ key: String, for owner: String, _ fail: (String) -> SpoolError
    ) throws(SpoolError) -> UserAccount {
        guard let user = value.stringValue, !user.isEmpty else {
            throw fail(
                "\"\(key)\" must be a user name or a numeric uid written as a string, e.g. \"nobody\" or \"1000\"")
        }
        guard let account = UserDatabase.account(user) else {
            throw fail(
                "\"\(key)\" (\(owner)) names user \"\(user)\", which is not in the password database: "
                    + "create the account or correct the name")
        }
        return account
    }

    /// `{"base": seconds, "max": seconds}`; a missing key keeps the default's.
    private static func backoff(
        _ value: JSONValue, _ name: String, default initial: Backoff, _ fail: (String) -> SpoolError
    ) throws(SpoolError) -> Backoff {
        guard let object = value.objectValue else { throw fail("\"\(name)\" must be an object") }
        var backoff = initial
        for (key, setting) in object.members {
            switch key {
            case "base": backoff.base = try positiveNumber(setting, name + ".base", fail, allowZero: true)
            case "max": backoff.maximum = try positiveNumber(setting, name + ".max", fail, allowZero: true)
            default: throw fail("unknown key \"\(name).\(key)\" (known: base, max)")
            }
        }
        return backoff
    }

    private static func positiveInteger(_ value: JSONValue, _ key: String, _ fail: (String) -> SpoolError)
        throws(SpoolError) -> Int
    {
        guard let number = value.intValue, number >= 1 else { throw fail("\"\(key)\" must be a positive integer") }
        return number
    }

    private static func positiveNumber(
        _ value: JSONValue, _ key: String, _ fail: (String) -> SpoolError, allowZero: Bool = false
    ) throws(SpoolError) -> Double {
        guard let number = value.doubleValue, allowZero ? number >= 0 : number > 0 else {
            throw fail("\"\(key)\" must be a \(allowZero ? "non-negative" : "positive") number")
        }
        return number
    }
}
