#!/bin/sh
# Measures `spool stats` on a spool with N finished jobs (default 200,000): N small job files in
# done/ (a tenth in failed/), and a journal of three lines per job (submitted, claimed, ended)
# spread over the last hour, as a processor writes them. Release build.
#
#   sh bench/stats-large.sh [N]
#
# Prints the size of the journal and the wall and CPU time of `spool stats` and
# `spool stats --json` (best of three each). Set SPOOL_BIN to skip the build.
set -eu
cd "$(dirname "$0")/.."
count=${1:-200000}
. bench/release-binary.sh
# BENCH_KEEP=DIR keeps the generated spool in DIR (for profiling) instead of removing it.
if [ -n "${BENCH_KEEP:-}" ]; then
    work=$BENCH_KEEP
    mkdir -p "$work"
else
    work=$(mktemp -d /tmp/spool-stats-bench.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
spool="$work/spool"
"$SPOOL_BIN" init "$spool" >/dev/null
printf '{"handlers": {"ok": {"command": ["/bin/true"]}, "bad": {"command": ["/bin/false"]}}}\n' > "$spool/spool.json"

now=$(date -u +%s)
day=$(date -u +%Y-%m-%d)
# One awk writes the job files and the journal: a shell loop would take minutes.
awk -v n="$count" -v now="$now" -v root="$spool" -v day="$day" 'BEGIN {
    journal = root "/events/" day ".ndjson"
    for (i = 0; i < n; i++) {
        id = sprintf("20260101-000000-%06d-bench%d", i % 1000000, i % 10)
        failed = (i % 10 == 0)
        type = failed ? "bad" : "ok"
        state = failed ? "failed" : "done"
        t = now - 3500 + (3500 * i / n)
        stamp = strftime("%Y-%m-%dT%H:%M:%S", int(t), 1) sprintf(".%03dZ", int((t - int(t)) * 1000))
        printf "{\"type\":\"%s\",\"project\":\"p%d\",\"status\":\"%s\",\"attempts\":1,\"durationSeconds\":%.3f}\n", \
            type, i % 7, state, (i % 97) / 100 > (root "/" state "/" id ".json")
        close(root "/" state "/" id ".json")
        printf "{\"time\":\"%s\",\"id\":\"%s\",\"type\":\"%s\",\"to\":\"queued\",\"project\":\"p%d\"}\n", \
            stamp, id, type, i % 7 > journal
        printf "{\"time\":\"%s\",\"id\":\"%s\",\"type\":\"%s\",\"from\":\"queued\",\"to\":\"processing\",\"attempt\":1,\"processor\":\"bench\",\"project\":\"p%d\"}\n", \
            stamp, id, type, i % 7 > journal
        printf "{\"time\":\"%s\",\"id\":\"%s\",\"type\":\"%s\",\"from\":\"processing\",\"to\":\"%s\",\"attempt\":1,\"duration\":%.3f,\"exit\":%d,\"processor\":\"bench\",\"project\":\"p%d\",\"cpuSeconds\":0.001,\"maxRSS\":1048576}\n", \
            stamp, id, type, state, (i % 97) / 100, failed ? 1 : 0, i % 7 > journal
    }
}'
echo "jobs: $count; journal: $(wc -l < "$spool/events/$day.ndjson") lines, $(du -m "$spool/events/$day.ndjson" | cut -f1) MB"
# Warm the page cache once, then time.
"$SPOOL_BIN" stats --spool "$spool" > /dev/null
for arguments in "" "--json"; do
    best=""
    for run in 1 2 3; do
        line=$( { /usr/bin/time -f "%e %U %S" "$SPOOL_BIN" stats --spool "$spool" $arguments > /dev/null; } 2>&1 )
        wall=${line%% *}
        if [ -z "$best" ] || [ "$(echo "$wall < ${best%% *}" | bc)" = 1 ]; then best=$line; fi
    done
    set -- $best
    echo "spool stats $arguments: wall $1 s, user $2 s, system $3 s (best of 3)"
done
"$SPOOL_BIN" stats --spool "$spool" | head -4
