// The few GNU/Linux calls that Swift's Glibc module does not import (it is built without
// _GNU_SOURCE). This header includes system headers exactly as Glibc does, so the modules
// agree; shims.c defines _GNU_SOURCE and implements the wrappers.
#ifndef CSPOOLSHIMS_H
#define CSPOOLSHIMS_H

#include <sys/resource.h>
#include <sys/types.h>

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing the target.
int spool_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// syncfs(2): writes back every dirty file and directory of the file system holding `fd`, and
/// reports a writeback error that happened since the last syncfs on this open file.
int spool_syncfs(int fd);

/// pipe2(2) with O_CLOEXEC on both ends.
int spool_pipe_cloexec(int fds[2]);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to this process.
int spool_become_subreaper(void);

/// pidfd_open(2): a descriptor that becomes readable when the process exits; -1/ENOSYS on old kernels.
int spool_pidfd_open(pid_t pid);

/// openat2(2) of `path` relative to `dirfd` with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
/// RESOLVE_NO_MAGICLINKS: no symbolic link in any component is followed and nothing outside
/// `dirfd` is reached (ELOOP, EXDEV). -1/ENOSYS on kernels before 5.6.
int spool_openat2_beneath(int dirfd, const char *path, int flags, mode_t mode);


/// What spool_spawn starts: argv[0] is tried at each of `candidates` in turn (the caller
/// resolves PATH), with `descriptors[i]` as the child's descriptor i and nothing else open,
/// in its own process group, with an empty signal mask, `default_signals` and every caught
/// signal reset to their defaults, and the given resource limits applied before exec.
/// With `set_identity`, the child then takes `groups` as its supplementary groups and `gid`,
/// `uid` as its real, effective and saved ids (the caller must be root), and only then changes
/// to `working_directory` and execs, as that user.
struct spool_spawn_request {
    const char *const *candidates;
    int candidate_count;
    char *const *argv;
    char *const *envp;
    const int *descriptors;
    int descriptor_count;
    const char *working_directory;
    const int *limit_resources;
    const struct rlimit *limit_values;
    int limit_count;
    const int *default_signals;
    int default_signal_count;
    int set_identity;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    /// An open `cgroup.procs` of the cgroup the child joins before anything else (-1: none).
    int cgroup_procs_fd;
    /// The signal the child gets when the thread that spawned it dies (0: none), set after the
    /// identity switch (which would clear it); `parent_pid` is checked after, so a parent that
    /// died in between is noticed.
    int parent_death_signal;
    pid_t parent_pid;
};

/// Spawns a child as `request` says (vfork + exec; setrlimit in the child, which posix_spawn
/// cannot do, so a limit holds from the first instruction). Returns 0 and the pid, or an errno
/// value: the child's own when its set-up or exec failed (it is then already reaped).
int spool_spawn(const struct spool_spawn_request *request, pid_t *pid);

#endif
