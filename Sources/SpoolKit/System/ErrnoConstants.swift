import Glibc

// errno values re-exported for files that do not import Glibc (only System/ imports it).
let ENOENT_ = ENOENT
let EEXIST_ = EEXIST
let EACCES_ = EACCES
let EPERM_ = EPERM
let EAGAIN_ = EAGAIN
let EINTR_ = EINTR
