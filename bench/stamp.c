/*
 * stamp: the latency probe (issue 10). Run as a job's handler, it appends one line
 *
 *   <SPOOL_JOB_ID> <CLOCK_REALTIME in nanoseconds>\n
 *
 * to FILE with a single write(2) on an O_WRONLY|O_APPEND|O_CREAT descriptor (so lines from
 * concurrent handlers never interleave) and exits 0. The clock is read first, before anything
 * else, so the time is as close to the handler's start as a program can see. Pickup latency is
 * that time minus the time the job was renamed into queued/. SPOOL_JOB_ID unset prints "-".
 *
 *   cc -O2 -Wall -Wextra -o stamp bench/stamp.c
 *   stamp FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc != 2) {
        fprintf(stderr, "usage: stamp FILE\n");
        return 2;
    }
    const char *id = getenv("SPOOL_JOB_ID");
    char line[512];
    int n = snprintf(line, sizeof line, "%s %lld\n", id && *id ? id : "-",
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    if (n < 0 || (size_t)n >= sizeof line) {
        fprintf(stderr, "stamp: SPOOL_JOB_ID too long\n");
        return 1;
    }
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "stamp: cannot open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (write(fd, line, n) != n) {
        fprintf(stderr, "stamp: cannot write %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    return 0;
}
