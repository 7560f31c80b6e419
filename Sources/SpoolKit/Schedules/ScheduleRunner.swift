import SpoolSystem

/// Fires the spool's schedules: each processor calls it as time passes; a slot's job has the
/// deterministic id `NAME@SLOT` and is published only if no job with that id exists, so slots
/// fire once however many processors (or hosts) run it. What each schedule has dealt with is
/// kept in `schedules/NAME.last` (the time up to which its slots were considered), so a restart
/// knows which slots it missed and applies the schedule's `catchUp`.
public struct ScheduleRunner: Sendable {
    public let store: JobStore
    public let schedules: [Schedule]

    public init(store: JobStore) {
        self.store = store
        self.schedules = store.spool.configuration.schedules.sorted { $0.name < $1.name }
    }

    /// What one pass did for one schedule.
    public struct Firing: Sendable, Equatable {
        public var schedule: String
        /// Jobs this pass created.
        public var created: [String] = []
        /// Slots due whose job already existed (another processor made it).
        public var existing: [String] = []
        /// Whether missed slots were passed over, by the catch-up policy.
        public var passedOver = false
    }

    /// Fires every slot due at `now` (seconds since the epoch; injectable for tests).
    @discardableResult
    public func fireDue(now: Double = ProcessInfoLite.now()) -> [Firing] {
        schedules.compactMap { fire($0, now: now) }
    }

    private func fire(_ schedule: Schedule, now: Double) -> Firing? {
        // Switched off: its slots are considered and pass, so switching it on catches up nothing.
        guard schedule.enabled else {
            record(schedule, upTo: now)
            return nil
        }
        guard let last = lastConsidered(schedule) else {
            // First sight of this schedule: its slots start now.
            record(schedule, upTo: now)
            return nil
        }
        guard let first = schedule.cron.nextTime(after: last, in: schedule.timeZone), first <= now else { return nil }
        var firing = Firing(schedule: schedule.name)
        var slots: [Double] = []
        var consideredUpTo = now
        switch schedule.catchUp {
        case .none:
            slots = slotsDue(schedule, after: max(last, now - Schedule.onTimeWindow), upTo: now, limit: 1).slots
        case .latest:
            if let latest = latestSlot(schedule, after: last, upTo: now) { slots = [latest] }
        case .all:
            let due = slotsDue(schedule, after: last, upTo: now, limit: Schedule.maximumCatchUp)
            slots = due.slots
            if due.truncated, let lastSlot = due.slots.last { consideredUpTo = lastSlot }
        }
        firing.passedOver = first < (slots.first ?? .infinity)
        for slot in slots {
            let id = schedule.jobID(forSlot: slot)
            do {
                let markers = store.layout.schedulesDirectory + "/" + schedule.name + ".fired"
                try? FileSystem.makeDirectory(store.layout.schedulesDirectory)
                try? FileSystem.makeDirectory(markers)
                if try store.publishExactlyOnce(schedule.job(forSlot: slot), id: id, marker: markers + "/" + id) {
                    firing.created.append(id)
                    JobLog.append(
                        store.layout, id: id, .info,
                        "created by schedule \(schedule.name) (\(schedule.cron)) for \(Timestamp.format(slot))")
                } else {
                    firing.existing.append(id)
                }
            } catch {
                Diagnostics.warn("schedule \(schedule.name): could not create job \(id): \(error)")
                return firing  // not recorded as considered: the next pass tries again
            }
        }
        if firing.passedOver {
            Diagnostics.info(
                "schedule \(schedule.name): missed slots passed over (catchUp: \(schedule.catchUp.rawValue))")
        }
        record(schedule, upTo: consideredUpTo)
        return firing
    }

    /// Slots in (after, upTo], in order, at most `limit` of them.
    private func slotsDue(_ schedule: Schedule, after: Double, upTo: Double, limit: Int) -> (
        slots: [Double], truncated: Bool
    ) {
        var slots: [Double] = []
        var time = after
        while let next = schedule.cron.nextTime(after: time, in: schedule.timeZone), next <= upTo {
            if slots.count == limit { return (slots, true) }
            slots.append(next)
            time = next
        }
        return (slots, false)
    }

    /// The latest slot in (after, upTo], searching back from `upTo` in widening windows so that
    /// a frequent schedule after a long downtime is not walked slot by slot.
    private func latestSlot(_ schedule: Schedule, after: Double, upTo: Double) -> Double? {
        let windows: [Double] = [3600, 86400, 40 * 86400, 400 * 86400, 30 * 366 * 86400]
        for window in windows {
            let start = max(after, upTo - window)
            var latest: Double?
            var time = start
            var steps = 0
            while let next = schedule.cron.nextTime(after: time, in: schedule.timeZone), next <= upTo,
                steps < 100_000
            {
                latest = next
                time = next
                steps += 1
            }
            if latest != nil || start == after { return latest }
        }
        return nil
    }

    /// The earliest time after `now` at which some schedule has a slot.
    public func nextDue(after now: Double) -> Double? {
        // A disabled schedule's slots are passed over as they come, so that switching it on later
        // catches up none of them: the processor wakes for them too.
        schedules.compactMap { $0.cron.nextTime(after: now, in: $0.timeZone) }.min()
    }

    /// Removes the markers of slots fired more than `age` seconds ago (at every rescan): a slot
    /// that old is never fired again anyway (its time is before every schedule's `.last`).
    public func pruneMarkers(olderThan age: Double = 2 * 86400, now: Double = ProcessInfoLite.now()) {
        for schedule in schedules {
            let directory = store.layout.schedulesDirectory + "/" + schedule.name + ".fired"
            for entry in (try? FileSystem.listDirectory(directory)) ?? [] {
                guard let name = entry.name, let status = try? FileSystem.statusNotFollowing(directory + "/" + name),
                    now - Double(status.modificationTimeNanoseconds) / 1e9 > age
                else { continue }
                try? FileSystem.unlinkIfPresent(directory + "/" + name)
            }
        }
    }

    // MARK: State

    private func statePath(_ schedule: Schedule) -> String {
        store.layout.schedulesDirectory + "/" + schedule.name + ".last"
    }

    /// The time up to which the schedule's slots were considered, if it ever ran here.
    public func lastConsidered(_ schedule: Schedule) -> Double? {
        guard let bytes = try? FileSystem.readFile(statePath(schedule), limit: 4096) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init)
        return text.flatMap(Timestamp.parse)
    }

    private func record(_ schedule: Schedule, upTo time: Double) {
        // Never backwards: another processor may have considered more already.
        if let previous = lastConsidered(schedule), previous >= time { return }
        do {
            try FileSystem.makeDirectory(store.layout.schedulesDirectory)
            try FileSystem.writeAtomically(
                Array((Timestamp.format(time) + "\n").utf8), to: statePath(schedule), durable: true)
        } catch {
            Diagnostics.warn("schedule \(schedule.name): could not record its progress: \(error)")
        }
    }
}
