import Glibc

/// Who is who: uids of this process and names from the password database.
public enum UserDatabase {
    /// The real uid of this process (getuid(2)): whom a CLI command acts for.
    public static var currentUserID: UInt32 { getuid() }

    /// The effective uid of this process (geteuid(2)): the owner of the files it creates.
    public static var effectiveUserID: UInt32 { geteuid() }

    /// The login name of a uid (getpwuid_r(3): workers look names up at the same time, and
    /// getpwuid's static buffer is shared), nil when the database has none.
    public static func name(ofUser uid: UInt32) -> String? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        // The name points into the buffer: read it while the buffer is pinned.
        return buffer.withUnsafeMutableBufferPointer { storage -> String? in
            guard let base = storage.baseAddress, getpwuid_r(uid, &entry, base, storage.count, &found) == 0,
                found != nil, let name = entry.pw_name
            else { return nil }
            return String(cString: name)
        }
    }
}
