import Glibc

/// Reads /proc for what rlimits cannot tell: the resident memory of a whole process group.
package enum ProcessTable {
    /// Total resident memory, in bytes, of the processes in process group `group`.
    static func residentBytes(ofProcessGroup group: pid_t) -> Int {
        guard let directory = opendir("/proc") else { return 0 }
        defer { closedir(directory) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var total = 0
        while let entry = readdir(directory) {
            let name: [UInt8] = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            guard let first = name.first, first >= 0x30, first <= 0x39 else { continue }
            let path = "/proc/" + String(decoding: name, as: UTF8.self) + "/stat"
            guard let bytes = try? FileSystem.readFile(path, limit: 4096),
                let fields = statFields(bytes), fields.count > 21, Int32(fields[2]) == group,
                let pages = Int(fields[21])
            else { continue }
            total += pages * pageSize
        }
        return total
    }

    /// The fields of /proc/PID/stat after the command name (which may contain spaces and
    /// parentheses): index 0 is the state, 2 the process group, 21 the resident pages.
    private static func statFields(_ bytes: [UInt8]) -> [Substring]? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
        return String(decoding: bytes[(close + 2)...], as: UTF8.self).split(separator: " ")
    }
}

extension ResourceLimit {
    static func cpuSeconds(_ seconds: Int, grace: Int) -> [ResourceLimit] {
        // Soft limit: SIGXCPU (catchable); hard limit a little later: SIGKILL.
        [ResourceLimit(resource: Int32(RLIMIT_CPU.rawValue), soft: UInt64(seconds), hard: UInt64(seconds + grace))]
    }

    static func openFiles(_ count: Int) -> ResourceLimit {
        ResourceLimit(resource: Int32(RLIMIT_NOFILE.rawValue), soft: UInt64(count), hard: UInt64(count))
    }
}

extension Signals {
    static let cpuTimeExceeded = SIGXCPU
    static let kill = SIGKILL
}
