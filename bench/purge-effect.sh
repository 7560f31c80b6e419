#!/bin/sh
# Measures what purging many finished jobs does to job throughput: spool run --drain of N no-op
# jobs (1) on a fresh spool, (2) right after `spool purge` removed M finished jobs, and (3) while
# such a purge runs beside it. Release build; run on the machine whose numbers you want.
#
#   sh bench/purge-effect.sh [N] [M]          (defaults: 5000 jobs, 50000 purged)
#
# Prints one line per phase with jobs/s and the ratio to phase 1. Set SPOOL_BIN to skip the build.
set -eu
cd "$(dirname "$0")/.."
jobs=${1:-5000}
finished=${2:-50000}
. bench/release-binary.sh
work=$(mktemp -d /tmp/spool-purge-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
spool="$work/spool"
"$SPOOL_BIN" init "$spool" >/dev/null
printf '{"handlers": {"noop": {"builtin": "noop"}}}\n' > "$spool/spool.json"

queue() {  # $1: prefix
    mkdir -p "$work/stage"
    i=0
    while [ $i -lt "$jobs" ]; do
        printf '{"type": "noop"}\n' > "$work/stage/$1-$i.json"
        i=$((i + 1))
    done
    find "$work/stage" -name '*.json' -exec mv -t "$spool/queued/" {} +
}

finish_many() {  # M old finished jobs with results and logs
    i=0
    while [ $i -lt "$finished" ]; do
        printf '{"type": "noop", "status": "done", "finishedAt": "2020-01-01T00:00:00.000Z"}\n' > "$spool/done/old-$i.json"
        : > "$spool/results/old-$i.out"
        : > "$spool/logs/old-$i.log"
        i=$((i + 1))
    done
}

drain() {  # prints jobs/s of one drain run
    "$SPOOL_BIN" run --spool "$spool" --drain 2>/dev/null | sed -n 's/.*(\([0-9]*\) jobs\/s).*/\1/p'
}

queue a
baseline=$(drain)
"$SPOOL_BIN" purge --spool "$spool" --state done --older-than 0s >/dev/null

finish_many
"$SPOOL_BIN" purge --spool "$spool" --state done --older-than 1d >/dev/null
queue b
after=$(drain)
"$SPOOL_BIN" purge --spool "$spool" --state done --older-than 0s >/dev/null

finish_many
queue c
"$SPOOL_BIN" purge --spool "$spool" --state done --older-than 1d >/dev/null &
purger=$!
during=$(drain)
wait $purger

ratio() { awk -v a="$1" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }'; }
echo "jobs per phase: $jobs, finished jobs purged: $finished ($(stat -f -c %T "$work") at $work)"
echo "fresh spool:          $baseline jobs/s  (1.00)"
echo "right after a purge:  $after jobs/s  ($(ratio "$after"))"
echo "during a purge:       $during jobs/s  ($(ratio "$during"))"
