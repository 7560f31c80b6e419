import Foundation
import SpoolJSON
import SpoolSystem

/// Commands run when a job of a type starts, ends or passes a progress step (the `notify`
/// section of a handler in `spool.json`):
///
/// ```json
/// "notify": {"start": ["logger", "-t", "spool"], "done": [...], "failed": [...],
///            "cancelled": [...], "progress": [...], "progressEvery": 25}
/// ```
public struct NotificationSettings: Sendable, Equatable {
    public static let events = ["start", "done", "failed", "cancelled", "progress"]
    /// An argv per event.
    public var commands: [String: [String]] = [:]
    /// Percent between two `progress` notifications (default 10).
    public var progressEvery = 10

    init(parsing value: JSONValue, name: String, fail: (String) -> SpoolError) throws(SpoolError) {
        guard let object = value.objectValue else { throw fail("\"\(name)\" must be an object") }
        for (key, setting) in object.members {
            if key == "progressEvery" {
                guard let step = setting.intValue, (1...100).contains(step) else {
                    throw fail("\"\(name).progressEvery\" must be a whole percent from 1 to 100")
                }
                progressEvery = step
                continue
            }
            guard Self.events.contains(key) else {
                throw fail(
                    "unknown key \"\(name).\(key)\" (known: \(Self.events.joined(separator: ", ")), progressEvery)")
            }
            guard let parts = setting.arrayValue, !parts.isEmpty,
                case let strings = parts.compactMap(\.stringValue), strings.count == parts.count, !strings[0].isEmpty
            else { throw fail("\"\(name).\(key)\" must be a non-empty array of strings (an argv)") }
            commands[key] = strings
        }
    }

    /// Whether progress moving from `old` to `new` percent passes a step (0 never notifies).
    public func passesStep(from old: Int, to new: Int) -> Bool {
        new > 0 && new / progressEvery > old / progressEvery
    }
}

/// Runs notification commands. Each runs on a thread of its own, with the job's record on
/// stdin, its stdout and stderr appended to the job's log, and `SPOOL_EVENT`, `SPOOL_JOB_ID`,
/// `SPOOL_JOB_TYPE` and `SPOOL_PROGRESS` in its environment. A notifier that fails, hangs (it is
/// killed after `timeout` seconds) or cannot start is logged and never affects the job.
enum Notifier {
    static let timeout = 30.0

    /// `user`: the account the type's handler runs as (a root processor and a type with a
    /// `user`); its notifiers run as it too, never as root unless the handler does.
    static func notify(
        _ event: String, settings: NotificationSettings?, layout: SpoolLayout, id: String, record: JobRecord,
        user: UserAccount? = nil
    ) {
        guard let arguments = settings?.commands[event] else { return }
        let input: FileDescriptor
        let output: FileDescriptor
        do {
            // The record in an unlinked file: the notifier reads it at its pace, nothing to clean up.
            let path = layout.temporaryPath("notify-" + id)
            let writer = try FileSystem.createExclusive(path, mode: 0o600)
            defer { writer.close() }
            try writer.writeAll(record.serialized(), path: path)
            input = try FileSystem.open(path, OpenFlags.readOnly)
            try? FileSystem.unlinkIfPresent(path)
            output = try JobLog.openForHandler(layout, id: id)
        } catch {
            JobLog.append(layout, id: id, .warning, "\(event) notifier not run: \(error)")
            return
        }
        var environment = ExecHandler.environment(
            FileSystem.currentEnvironment().filter { !$0.hasPrefix("SPOOL_") }, as: user)
        environment += [
            "SPOOL_EVENT=\(event)", "SPOOL_JOB_ID=\(id)", "SPOOL_JOB_TYPE=\(record.type)",
            "SPOOL_PROGRESS=\(record.progress ?? 0)", "SPOOL_DIR=\(layout.root)",
        ]
        let process: SpawnedProcess
        do {
            process = try ProcessSpawner.spawn(
                arguments: arguments, environment: environment, workingDirectory: layout.root,
                descriptors: [input, output, output], user: user)
        } catch {
            input.close()
            output.close()
            JobLog.append(layout, id: id, .warning, "\(event) notifier '\(arguments[0])' could not start: \(error)")
            return
        }
        input.close()
        output.close()
        // Reaped on a thread of its own: the job's worker goes on at once.
        let reaper = Thread {
            let watchdog = DispatchWorkItem { process.killGroup() }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
            let (termination, _) = process.waitForExit()
            watchdog.cancel()
            process.closeDescriptors()
            if termination != .exited(0) {
                JobLog.append(
                    layout, id: id, .warning,
                    "\(event) notifier '\(arguments[0])' failed: \(termination); the job is unaffected")
            }
        }
        reaper.start()
    }
}
