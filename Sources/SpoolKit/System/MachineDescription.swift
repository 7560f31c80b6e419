import Glibc

/// What a benchmark report says about the machine it ran on, and the clocks it measures with.
package enum MachineDescription {
    /// Processors online (sysconf(_SC_NPROCESSORS_ONLN)), what `nproc` prints.
    package static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// CLOCK_REALTIME in nanoseconds since the epoch: the clock that a handler's timestamp and a
    /// producer's "landed" time are both read from.
    package static func realtimeNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// The type of the file system holding `path` as the kernel names it (`ext4`, `xfs`,
    /// `tmpfs`): the mount of /proc/self/mountinfo with the longest mount point above the path.
    package static func fileSystemType(of path: String) -> String? {
        guard let canonical = try? FileSystem.canonicalPath(path),
            let bytes = try? FileSystem.readFile("/proc/self/mountinfo", limit: 4 * 1024 * 1024)
        else { return nil }
        var best: (length: Int, type: String)?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
            let fields = line.split(separator: " ")
            guard fields.count > 6, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else {
                continue
            }
            let mountPoint = unescapeMountField(String(fields[4]))
            let covers =
                mountPoint == "/" || canonical == mountPoint || canonical.hasPrefix(mountPoint + "/")
            if covers, mountPoint.utf8.count >= (best?.length ?? -1) {
                best = (mountPoint.utf8.count, String(fields[separator + 1]))
            }
        }
        return best?.type
    }

    /// mountinfo writes space, tab, newline and backslash in paths as `\040`-style octal escapes.
    private static func unescapeMountField(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == 0x5c, index + 3 < raw.count,
                let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension ProcessTable {
    /// The peak resident memory of a live process so far (`VmHWM` of /proc/PID/status), in
    /// bytes; nil when the process is gone.
    package static func peakResidentBytes(of pid: pid_t) -> Int? {
        guard let bytes = try? FileSystem.readFile("/proc/\(pid)/status", limit: 64 * 1024) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst(6).filter { $0.isNumber }
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}
