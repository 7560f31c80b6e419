// The few GNU/Linux calls that Swift's Glibc module does not import (it is built without
// _GNU_SOURCE). This header includes system headers exactly as Glibc does, so the modules
// agree; shims.c defines _GNU_SOURCE and implements the wrappers.
#ifndef CSPOOLSHIMS_H
#define CSPOOLSHIMS_H

#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST instead of replacing the target.
int spool_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// pipe2(2) with O_CLOEXEC on both ends.
int spool_pipe_cloexec(int fds[2]);

/// pidfd_open(2): a descriptor that becomes readable when the process exits; -1/ENOSYS on old kernels.
int spool_pidfd_open(pid_t pid);

/// posix_spawn_file_actions_addchdir_np (glibc >= 2.29).
int spool_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34): close every descriptor >= lowfd in the child.
int spool_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// prlimit(2) on another process.
int spool_prlimit(pid_t pid, int resource, const struct rlimit *new_limit, struct rlimit *old_limit);

#endif
