import Glibc

/// errno values for the files outside System/, which do not import Glibc.
package enum ErrnoCode {
    package static let noSuchFile = ENOENT
    package static let alreadyExists = EEXIST
    package static let accessDenied = EACCES
    package static let notPermitted = EPERM
    package static let tryAgain = EAGAIN
    package static let interrupted = EINTR
    package static let tooManyLinks = ELOOP
    package static let invalid = EINVAL
    /// The storage refuses writes: no space, over quota, read-only, or failing.
    package static let storageRefusals: Set<Int32> = [ENOSPC, EDQUOT, EROFS, EIO]
}

/// open(2) flags for the files outside System/.
package enum OpenFlags {
    package static let writeOnly = O_WRONLY
    package static let readOnly = O_RDONLY
    package static let append = O_APPEND
    package static let create = O_CREAT
    package static let noFollow = O_NOFOLLOW
    package static let readWrite = O_RDWR
    package static let exclusive = O_EXCL
    package static let nonBlocking = O_NONBLOCK
}
