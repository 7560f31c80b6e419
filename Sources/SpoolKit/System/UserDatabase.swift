import Glibc

/// Who is who: uids of this process and names from the password database.
public enum UserDatabase {
    /// The real uid of this process (getuid(2)): whom a CLI command acts for.
    public static var currentUserID: UInt32 { getuid() }

    /// The effective uid of this process (geteuid(2)): the owner of the files it creates.
    public static var effectiveUserID: UInt32 { geteuid() }

    /// The login name of a uid (getpwuid(3)), nil when the database has none.
    public static func name(ofUser uid: UInt32) -> String? {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
