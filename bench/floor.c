/*
 * floor: the minimum job spool daemon, the "floor" that spool's throughput and latency are
 * measured against (issue 10). It does the least work a spool processor can do on Linux:
 *
 *   inotify watch on queued/, one scan, a shared queue of names, WORKERS threads;
 *   claim = rename(queued/X, processing/X); run; rename(processing/X, done/X).
 *
 * No stat, no parsing, no logs, no records, no retries; buffers are reused.
 *
 *   cc -O2 -pthread -Wall -Wextra -o floor bench/floor.c
 *   floor [-w WORKERS] [-m exec|inproc] [-s SYNC_EVERY] [-n COUNT] SPOOL_DIR [COMMAND [ARG...]]
 *
 * -w WORKERS   worker threads (default 2).
 * -m exec      (default) posix_spawn COMMAND (default /bin/true) with argv [COMMAND, ARG...] and
 *              the environment SPOOL_JOB_ID=<name without .json> and PATH; waitpid.
 * -m inproc    open the job file, read it whole into a reused buffer, close.
 * -s K         durable variant: syncfs(SPOOL_DIR) after every K completed jobs, and once for the
 *              remainder (right after job COUNT with -n, otherwise at exit). Without -s: no flush.
 * -n COUNT     exit once COUNT jobs reached done/; otherwise run until SIGTERM or SIGINT.
 *
 * At exit prints one line: {"jobs": N, "seconds": S, "jobsPerSecond": R}, S being CLOCK_MONOTONIC
 * from the start of main to the moment the last job reached done/ (with -n and -s: to the end of
 * the final syncfs, so the durable figure includes its last flush). Only *.json names not
 * starting with "." are jobs. A job whose command exits non-zero still goes to done/ (a warning
 * is printed); a command that cannot be spawned is fatal (its job goes back to queued/).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME_SIZE (NAME_MAX + 1)

static const char *spool;                       /* SPOOL_DIR, for messages */
static int spool_fd, queued_fd, processing_fd, done_fd, wake_fd;
static int inproc, sync_every;
static unsigned long count;                     /* -n; 0 = run forever */
static char **command;                          /* argv of the handler */
static char path_env[PATH_MAX + 8];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER;
static char (*names)[NAME_SIZE];                /* ring buffer of job names, grows by doubling */
static size_t cap, head, len;
static int stopping;
static unsigned long completed, synced_at;      /* jobs in done/; completed at the last syncfs */
static double start, last_done;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, const char *dir, const char *name)
{
    fprintf(stderr, "floor: %s %s/%s%s%s: %s\n", what, spool, dir, name ? "/" : "", name ? name : "",
            strerror(errno));
}

static int is_job(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && n < NAME_SIZE && strcmp(name + n - 5, ".json") == 0;
}

static void push(const char *name)             /* caller holds lock */
{
    if (len == cap) {
        size_t new_cap = cap ? cap * 2 : 1024;
        char (*grown)[NAME_SIZE] = malloc(new_cap * NAME_SIZE);
        if (!grown) { perror("floor: malloc"); exit(1); }
        for (size_t i = 0; i < len; i++) memcpy(grown[i], names[(head + i) % cap], NAME_SIZE);
        free(names);
        names = grown, cap = new_cap, head = 0;
    }
    strcpy(names[(head + len++) % cap], name);
}

static void scan(void)
{
    DIR *dir = fdopendir(dup(queued_fd));
    if (!dir) { fail("cannot open", "queued", NULL); exit(1); }
    struct dirent *e;
    pthread_mutex_lock(&lock);
    while ((e = readdir(dir)))
        if (is_job(e->d_name)) push(e->d_name);
    pthread_cond_broadcast(&nonempty);
    pthread_mutex_unlock(&lock);
    closedir(dir);
}

static void flush(void)
{
    if (syncfs(spool_fd) != 0) fprintf(stderr, "floor: syncfs %s: %s\n", spool, strerror(errno));
}

static void *worker(void *unused)
{
    (void)unused;
    char name[NAME_SIZE], id_env[NAME_SIZE + 16];
    char *envp[] = { id_env, path_env, NULL };
    size_t buf_size = 65536;
    char *buf = malloc(buf_size);
    posix_spawnattr_t attr;                     /* the child must not inherit our blocked signals */
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    for (;;) {
        pthread_mutex_lock(&lock);
        while (!len && !stopping) pthread_cond_wait(&nonempty, &lock);
        if (stopping) { pthread_mutex_unlock(&lock); break; }
        memcpy(name, names[head], NAME_SIZE);
        head = (head + 1) % cap, len--;
        pthread_mutex_unlock(&lock);

        if (renameat(queued_fd, name, processing_fd, name) != 0) {
            if (errno != ENOENT) fail("cannot claim", "queued", name);
            continue;                           /* ENOENT: claimed already (a duplicate event) */
        }
        if (inproc) {
            int fd = openat(processing_fd, name, O_RDONLY | O_CLOEXEC);
            if (fd < 0) { fail("cannot open", "processing", name); continue; }
            ssize_t n, total = 0;
            while ((n = read(fd, buf + total, buf_size - total)) > 0)
                if ((size_t)(total += n) == buf_size && !(buf = realloc(buf, buf_size *= 2))) {
                    perror("floor: realloc"); exit(1);
                }
            if (n < 0) fail("cannot read", "processing", name);
            close(fd);
        } else {
            snprintf(id_env, sizeof id_env, "SPOOL_JOB_ID=%.*s", (int)(strlen(name) - 5), name);
            pid_t pid;
            int status = 0, err = posix_spawnp(&pid, command[0], NULL, &attr, command, envp);
            if (err) {                          /* fatal: put the job back, so no job is lost */
                fprintf(stderr, "floor: cannot run %s: %s\n", command[0], strerror(err));
                renameat(processing_fd, name, queued_fd, name);
                exit(2);
            }
            while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) { perror("floor: waitpid"); break; }
            if (status != 0)
                fprintf(stderr, "floor: %s: %s ended with wait status 0x%x\n", name, command[0], status);
        }
        if (renameat(processing_fd, name, done_fd, name) != 0) {
            fail("cannot finish", "processing", name);
            continue;
        }

        double t = now();
        pthread_mutex_lock(&lock);
        unsigned long n = ++completed;
        if (t > last_done) last_done = t;
        int last = count && n == count;
        int sync_now = sync_every && (n % sync_every == 0 || last);
        if (sync_now) synced_at = n;
        pthread_mutex_unlock(&lock);
        if (sync_now) flush();
        if (last) {
            if (sync_every) {                   /* the durable figure includes the final flush */
                t = now();
                pthread_mutex_lock(&lock);
                last_done = t;
                pthread_mutex_unlock(&lock);
            }
            uint64_t one = 1;
            if (write(wake_fd, &one, sizeof one) < 0) perror("floor: eventfd");
        }
    }
    posix_spawnattr_destroy(&attr);
    free(buf);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor [-w WORKERS] [-m exec|inproc] [-s SYNC_EVERY] [-n COUNT] SPOOL_DIR "
                    "[COMMAND [ARG...]]\n");
    exit(2);
}

static int open_dir(const char *sub)
{
    if (mkdirat(spool_fd, sub, 0755) != 0 && errno != EEXIST) { fail("cannot create", sub, NULL); exit(1); }
    int fd = openat(spool_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) { fail("cannot open", sub, NULL); exit(1); }
    return fd;
}

int main(int argc, char **argv)
{
    start = now();
    int workers = 2, opt;
    static char *default_command[] = { "/bin/true", NULL };
    while ((opt = getopt(argc, argv, "+w:m:s:n:")) != -1) {
        switch (opt) {
        case 'w': workers = atoi(optarg); break;
        case 'm':
            inproc = strcmp(optarg, "inproc") == 0;
            if (!inproc && strcmp(optarg, "exec") != 0) usage();
            break;
        case 's': sync_every = atoi(optarg); break;
        case 'n': count = strtoul(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (optind >= argc || workers < 1 || sync_every < 0) usage();
    spool = argv[optind];
    command = optind + 1 < argc ? argv + optind + 1 : default_command;
    snprintf(path_env, sizeof path_env, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");

    if (mkdir(spool, 0755) != 0 && errno != EEXIST) { fprintf(stderr, "floor: cannot create %s: %s\n", spool, strerror(errno)); return 1; }
    if ((spool_fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) { fprintf(stderr, "floor: cannot open %s: %s\n", spool, strerror(errno)); return 1; }
    queued_fd = open_dir("queued"), processing_fd = open_dir("processing"), done_fd = open_dir("done");

    /* SIGTERM and SIGINT arrive through a signalfd; blocked here, so in every thread. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    int sig_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
    wake_fd = eventfd(0, EFD_CLOEXEC);
    int in_fd = inotify_init1(IN_CLOEXEC);
    if (sig_fd < 0 || wake_fd < 0 || in_fd < 0) { perror("floor: signalfd/eventfd/inotify_init1"); return 1; }
    char queued_path[PATH_MAX];
    snprintf(queued_path, sizeof queued_path, "%s/queued", spool);
    if (inotify_add_watch(in_fd, queued_path, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) { fail("cannot watch", "queued", NULL); return 1; }
    scan();                                     /* after the watch: a job landing now is seen by one or both */

    pthread_t threads[workers];
    for (int i = 0; i < workers; i++) pthread_create(&threads[i], NULL, worker, NULL);

    static char events[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd fds[] = { { in_fd, POLLIN, 0 }, { sig_fd, POLLIN, 0 }, { wake_fd, POLLIN, 0 } };
    while (!(fds[1].revents | fds[2].revents)) {
        if (poll(fds, 3, -1) < 0) { if (errno == EINTR) continue; perror("floor: poll"); return 1; }
        if (!(fds[0].revents & POLLIN)) continue;
        ssize_t n = read(in_fd, events, sizeof events);
        if (n <= 0) { if (n < 0 && errno != EINTR) perror("floor: read inotify"); continue; }
        int overflow = 0;
        pthread_mutex_lock(&lock);
        for (char *p = events; p < events + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len) {
            struct inotify_event *e = (struct inotify_event *)p;
            if (e->mask & IN_Q_OVERFLOW) overflow = 1;
            else if (e->len && is_job(e->name)) push(e->name);
        }
        pthread_cond_broadcast(&nonempty);
        pthread_mutex_unlock(&lock);
        if (overflow) scan();                   /* events were lost: look at the directory again */
    }

    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_broadcast(&nonempty);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < workers; i++) pthread_join(threads[i], NULL);
    if (sync_every && synced_at != completed) flush();
    double seconds = completed ? last_done - start : 0;
    printf("{\"jobs\": %lu, \"seconds\": %.6f, \"jobsPerSecond\": %.1f}\n", completed, seconds,
           seconds > 0 ? completed / seconds : 0.0);
    return 0;
}
