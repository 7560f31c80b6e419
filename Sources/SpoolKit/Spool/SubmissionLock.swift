import SpoolSystem

/// The lock that lets one `spool submit --id ID` at a time look for ID and publish it:
/// `tmp/id~ID.lock` (`~` is in no id, so no staging name matches), held with an exclusive
/// `flock` from before the look until after the publish and its flush. A second submitter of
/// the same id waits for the first, then finds its job (in `queued/`, or wherever it has moved
/// on to) and fails; without the lock, both could look before either published, and the
/// second's rename into `queued/` would succeed once a processor had claimed the first's job.
///
/// The file is removed when the lock is released; it is not a state and is never flushed. One
/// left by a killed submitter is unlocked and harmless: the next submitter of that id locks it
/// and removes it in turn. Whoever holds the lock holds the file the name refers to (checked
/// after locking), and the name is removed only by the holder, so two holders never overlap.
struct SubmissionLock {
    let fd: FileDescriptor
    let path: String

    static func path(for id: String, in layout: SpoolLayout) -> String {
        layout.temporaryDirectory + "/id~" + id + ".lock"
    }

    /// Takes the lock for `id`, waiting while another submitter holds it.
    static func acquire(_ id: String, in layout: SpoolLayout) throws(SpoolError) -> SubmissionLock {
        let path = path(for: id, in: layout)
        do throws(SystemError) {
            while true {
                let fd: FileDescriptor
                do {
                    fd = try FileSystem.openForReadingSafely(path)
                } catch  where error.isNotFound {
                    // Without O_CREAT on an existing name: fs.protected_regular refuses that for
                    // another user's file in a sticky tmp/.
                    do {
                        fd = try FileSystem.open(
                            path, OpenFlags.readOnly | OpenFlags.create | OpenFlags.exclusive | OpenFlags.noFollow,
                            mode: 0o644)
                    } catch  where error.isAlreadyExists {
                        continue
                    }
                    // Other submitters must be able to open it to wait, whatever our umask.
                    try? fd.changeMode(0o644)
                }
                do throws(SystemError) {
                    let opened = try fd.status(path: path)
                    guard opened.kind == .regular else {
                        throw SystemError("lock", path: path, code: ErrnoCode.alreadyExists)
                    }
                    _ = try fd.lockExclusive(wait: true, path: path)
                    // The holder before us may have removed the name (and another submitter
                    // made a new file) while we waited: then this lock guards nothing.
                    if let current = try FileSystem.statusNotFollowing(path), current.isSameFile(as: opened) {
                        return SubmissionLock(fd: fd, path: path)
                    }
                } catch {
                    fd.close()
                    throw error
                }
                fd.close()
            }
        } catch {
            throw .system(error)
        }
    }

    /// Removes the name, then lets the next submitter in. A name we may not remove (another
    /// user's file in a sticky `tmp/`) stays, unlocked, for the next one to lock.
    func release() {
        try? FileSystem.unlinkIfPresent(path)
        fd.close()
    }
}
