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

/// An account from the password database: whom a handler runs as (its type's `"user"`).
public struct UserAccount: Sendable, Equatable, CustomStringConvertible {
    /// The login name (`pw_name`).
    public let name: String
    public let uid: UInt32
    /// The primary group (`pw_gid`).
    public let gid: UInt32
    /// The home directory (`pw_dir`), the handler's HOME.
    public let home: String
    /// Every group the account is in, the primary one included (getgrouplist(3)): the
    /// handler's supplementary groups.
    public let groups: [UInt32]

    public init(name: String, uid: UInt32, gid: UInt32, home: String, groups: [UInt32]) {
        self.name = name
        self.uid = uid
        self.gid = gid
        self.home = home
        self.groups = groups
    }

    /// `nobody (uid 65534)`: for messages.
    public var description: String { "\(name) (uid \(uid))" }
}

extension UserDatabase {
    /// The account named `user`, a login name or a uid written in decimal ("1000"), with its
    /// groups; nil when the password database has no such account. A name is looked up first,
    /// as chown(1) does, so an account whose name is all digits is still found by name.
    public static func account(_ user: String) -> UserAccount? {
        if let account = lookUp({ getpwnam_r(user, &$0, $1, $2, &$3) }) { return account }
        guard !user.isEmpty, user.utf8.allSatisfy({ (48...57).contains($0) }), let uid = UInt32(user) else {
            return nil
        }
        return lookUp { getpwuid_r(uid, &$0, $1, $2, &$3) }
    }

    /// Runs a getpw*_r call with a buffer that grows on ERANGE, then reads the entry and its groups.
    private static func lookUp(
        _ call: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> UserAccount? {
        var size = 4096
        while size <= 1 << 20 {
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            var buffer = [CChar](repeating: 0, count: size)
            var retry = false
            // The strings point into the buffer: read them while it is pinned.
            let account = buffer.withUnsafeMutableBufferPointer { storage -> UserAccount? in
                let code = call(&entry, storage.baseAddress!, storage.count, &found)
                if code == ERANGE {
                    retry = true
                    return nil
                }
                guard code == 0, found != nil, let namePointer = entry.pw_name else { return nil }
                let name = String(cString: namePointer)
                return UserAccount(
                    name: name, uid: entry.pw_uid, gid: entry.pw_gid,
                    home: entry.pw_dir.map { String(cString: $0) } ?? "/",
                    groups: groups(of: name, primary: entry.pw_gid))
            }
            if !retry { return account }
            size *= 4
        }
        return nil
    }

    /// getgrouplist(3): the primary group and every group listing `name` as a member.
    private static func groups(of name: String, primary: UInt32) -> [UInt32] {
        var count: Int32 = 32
        while true {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(name, primary, &groups, &found) >= 0 {
                return Array(groups.prefix(Int(found)))
            }
            // -1: too small; `found` now holds the number needed.
            guard found > count else { return [primary] }
            count = found
        }
    }
}
