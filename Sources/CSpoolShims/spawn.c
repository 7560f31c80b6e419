#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "CSpoolShims.h"

// The 32-bit-id system calls where the plain ones take 16-bit ids (i386, arm).
#ifdef SYS_setresuid32
#define SPOOL_SYS_setgroups SYS_setgroups32
#define SPOOL_SYS_setresgid SYS_setresgid32
#define SPOOL_SYS_setresuid SYS_setresuid32
#else
#define SPOOL_SYS_setgroups SYS_setgroups
#define SPOOL_SYS_setresgid SYS_setresgid
#define SPOOL_SYS_setresuid SYS_setresuid
#endif

// The child runs on the parent's memory until it execs (vfork), so it calls only
// async-signal-safe system call wrappers, allocates nothing and returns from nothing.
// Signals stay blocked until every handler is reset, so no handler of the parent runs in it.
static void spool_child(const struct spool_spawn_request *request, volatile int *failure) {
    for (int signal = 1; signal < NSIG; signal++) {
        struct sigaction action;
        if (sigaction(signal, NULL, &action) != 0) continue;
        int defaulted = 0;
        for (int index = 0; index < request->default_signal_count; index++) {
            if (request->default_signals[index] == signal) defaulted = 1;
        }
        if (defaulted || (action.sa_handler != SIG_IGN && action.sa_handler != SIG_DFL)) {
            struct sigaction reset = {0};
            reset.sa_handler = SIG_DFL;
            sigemptyset(&reset.sa_mask);
            sigaction(signal, &reset, NULL);
        }
    }
    // Into the job's cgroup first: every descendant from here on is the job's, whatever it does
    // with sessions and process groups.
    if (request->cgroup_procs_fd >= 0 && write(request->cgroup_procs_fd, "0", 1) != 1) goto fail;
    if (setpgid(0, 0) != 0) goto fail;
    // A source numbered below the count would be overwritten by an earlier dup2: move it above.
    int count = request->descriptor_count;
    int sources[64];
    if (count > 64) { errno = EINVAL; goto fail; }
    for (int index = 0; index < count; index++) {
        sources[index] = request->descriptors[index];
        if (sources[index] < count && sources[index] != index) {
            int copy = fcntl(sources[index], F_DUPFD_CLOEXEC, count);
            if (copy < 0) goto fail;
            sources[index] = copy;
        }
    }
    for (int index = 0; index < count; index++) {
        if (sources[index] == index) {
            int flags = fcntl(index, F_GETFD);
            if (flags < 0 || fcntl(index, F_SETFD, flags & ~FD_CLOEXEC) != 0) goto fail;
        } else if (dup2(sources[index], index) < 0) {
            goto fail;
        }
    }
    // Nothing else: not even descriptors the processor inherited without close-on-exec.
    if (syscall(SYS_close_range, (unsigned)count, ~0U, 0) != 0) {
        struct rlimit files;
        long top = getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 65536 ? (long)files.rlim_cur : 65536;
        for (long fd = count; fd < top; fd++) close((int)fd);
    }
    for (int index = 0; index < request->limit_count; index++) {
        if (setrlimit((__rlimit_resource_t)request->limit_resources[index], &request->limit_values[index]) != 0) {
            goto fail;
        }
    }
    // The handler's user. Raw system calls: glibc's set*id wrappers make every thread of the
    // process change (a signal to each), and this child shares the parent's memory and thread
    // list; the raw call changes this task only (glibc's posix_spawn does the same, its
    // local-setxid.h). Groups first, then gid, then uid: after setresuid nothing can be changed.
    if (request->set_identity) {
        if (syscall(SPOOL_SYS_setgroups, (size_t)request->group_count, request->groups) != 0) goto fail;
        if (syscall(SPOOL_SYS_setresgid, request->gid, request->gid, request->gid) != 0) goto fail;
        if (syscall(SPOOL_SYS_setresuid, request->uid, request->uid, request->uid) != 0) goto fail;
    }
    // After the switch, which clears it. A parent gone before this point is caught by the check.
    if (request->parent_death_signal != 0) {
        if (prctl(PR_SET_PDEATHSIG, request->parent_death_signal, 0, 0, 0) != 0) goto fail;
        if (getppid() != request->parent_pid) _exit(127);
    }
    // After the switch, so that a handler cannot start in a directory its user cannot reach.
    if (request->working_directory && chdir(request->working_directory) != 0) goto fail;
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    // Like execvp: try each candidate; remember EACCES, report it if nothing else works.
    int denied = 0;
    for (int index = 0; index < request->candidate_count; index++) {
        execve(request->candidates[index], request->argv, request->envp);
        if (errno == EACCES) denied = 1;
        else if (errno != ENOENT && errno != ENOTDIR) goto fail;
    }
    errno = denied ? EACCES : ENOENT;
fail:
    *failure = errno ? errno : EINVAL;
    _exit(127);
}

int spool_spawn(const struct spool_spawn_request *request, pid_t *pid) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    volatile int failure = 0;
    pid_t child = vfork();
    if (child == 0) spool_child(request, &failure);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (child < 0) return saved;
    if (failure != 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return failure;
    }
    *pid = child;
    return 0;
}
