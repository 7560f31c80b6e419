import Foundation
import SpoolSystem

/// A processor's transport runner, on a thread of its own: when a route's outbox holds files it
/// moves them into a sending directory of its own (`outbox/ROUTE/.sending-PROCESSOR-N/`, so
/// that several processors never send the same file), runs the route's transport on it, and
/// removes it only when the transport exits 0. A failure keeps the files for the next try,
/// after the route's backoff; a dead processor's sending directories are taken over.
final class RouteForwarder: @unchecked Sendable {
    private let store: JobStore
    private let routes: [Route]
    private let processorName: String
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var stopping = false
    private var woken = false
    private var failures: [String: Int] = [:]
    private var retryAt: [String: Double] = [:]
    private var counter = 0
    private let finished = DispatchSemaphore(value: 0)

    init(store: JobStore, processorName: String) {
        self.store = store
        self.routes = store.spool.configuration.routes
        self.processorName = processorName
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "spool-forwarder"
        thread.start()
    }

    /// Something was put in an outbox.
    func wake() {
        condition.lock()
        woken = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops after the delivery under way, if any, and waits for that.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    private func run() {
        while true {
            for route in routes where isDue(route) { deliver(route) }
            condition.lock()
            if stopping {
                condition.unlock()
                return
            }
            if !woken {
                // Outboxes also fill from other processors: look again every few seconds.
                let next = retryAt.values.min().map { max(0.01, $0 - ProcessInfoLite.monotonicNow()) } ?? 5
                _ = condition.wait(until: Date(timeIntervalSinceNow: min(next, 5)))
            }
            woken = false
            let done = stopping
            condition.unlock()
            if done { return }
        }
    }

    /// Whether some outbox still holds files that have not failed to go (what `--drain` waits
    /// for; a route whose destination fails is not waited for).
    var hasWorkInHand: Bool {
        routes.contains { route in
            condition.lock()
            let failing = failures[route.name] != nil
            condition.unlock()
            guard !failing else { return false }
            let entries = (try? FileSystem.listDirectory(store.layout.outboxDirectory + "/" + route.name)) ?? []
            return entries.contains { entry in
                guard let name = entry.name else { return false }
                return !name.hasPrefix(".") || name.hasPrefix(".sending-")
            }
        }
    }

    private func isDue(_ route: Route) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return (retryAt[route.name] ?? 0) <= ProcessInfoLite.monotonicNow()
    }

    private func deliver(_ route: Route) {
        let outbox = store.layout.outboxDirectory + "/" + route.name
        guard let entries = try? FileSystem.listDirectory(outbox) else { return }
        var liveness = ProcessorLiveness(layout: store.layout, ownName: processorName)
        var batches: [String] = []
        var pending: [String] = []
        for entry in entries {
            guard let name = entry.name else { continue }
            if name.hasPrefix(".sending-") {
                // Ours from a failed try, or a dead processor's: send again.
                let owner = String(name.dropFirst(".sending-".count).split(separator: "+").first ?? "")
                if owner == processorName || !liveness.isAlive(owner) { batches.append(outbox + "/" + name) }
            } else if !name.hasPrefix(".") {
                pending.append(name)
            }
        }
        // Sending directories left by a failed try go first; new files wait until they are through.
        if !batches.isEmpty && !send(batches, route) { return }
        batches = []
        if !pending.isEmpty {
            condition.lock()
            counter += 1
            let batch = outbox + "/.sending-" + processorName + "+" + String(counter)
            condition.unlock()
            if (try? FileSystem.makeDirectory(batch)) != nil {
                // Each file goes into one sending directory only (the rename decides).
                var moved = 0
                for name in pending.sorted()
                where (try? FileSystem.renameNoReplace(outbox + "/" + name, to: batch + "/" + name)) != nil {
                    moved += 1
                }
                if moved > 0 { batches.append(batch) } else { try? FileSystem.removeDirectory(batch) }
            }
        }
        _ = send(batches, route)
    }

    /// Runs the transport on each sending directory; false at the first failure (then backed off).
    private func send(_ batches: [String], _ route: Route) -> Bool {
        for batch in batches {
            let command = route.command(outbox: batch)
            let status = Self.runTransport(command)
            condition.lock()
            if status == .exited(0) {
                failures[route.name] = nil
                retryAt[route.name] = nil
                condition.unlock()
                FileSystem.removeShallowTree(batch)
            } else {
                let count = (failures[route.name] ?? 0) + 1
                failures[route.name] = count
                let delay = route.backoff.delay(afterAttempt: count)
                retryAt[route.name] = ProcessInfoLite.monotonicNow() + delay
                condition.unlock()
                Diagnostics.warn(
                    "route \(route.name): transport \(command.joined(separator: " ")) failed (\(status)); "
                        + "trying again in \(JobRunner.seconds(delay))")
                return false
            }
        }
        return true
    }

    /// Runs a transport command (no shell), its output to the processor's standard error.
    static func runTransport(_ command: [String]) -> ProcessTermination {
        guard let input = try? FileSystem.open("/dev/null", OpenFlags.readOnly) else { return .exited(-1) }
        defer { input.close() }
        let errors = FileDescriptor(rawValue: 2)
        do {
            let process = try ProcessSpawner.spawn(
                arguments: command, environment: FileSystem.currentEnvironment(), workingDirectory: nil,
                descriptors: [input, errors, errors])
            defer { process.closeDescriptors() }
            return process.waitForExit().0
        } catch {
            Diagnostics.warn("could not run \(command[0]): \(error)")
            return .exited(-1)
        }
    }
}
