import Glibc

/// errno values for the files outside System/, which do not import Glibc.
enum ErrnoCode {
    static let noSuchFile = ENOENT
    static let alreadyExists = EEXIST
    static let accessDenied = EACCES
    static let notPermitted = EPERM
    static let tryAgain = EAGAIN
    static let interrupted = EINTR
    static let tooManyLinks = ELOOP
    static let invalid = EINVAL
}

/// open(2) flags for the files outside System/.
package enum OpenFlags {
    static let writeOnly = O_WRONLY
    package static let readOnly = O_RDONLY
    static let append = O_APPEND
    static let create = O_CREAT
    static let noFollow = O_NOFOLLOW
    static let readWrite = O_RDWR
    static let exclusive = O_EXCL
    static let nonBlocking = O_NONBLOCK
}
