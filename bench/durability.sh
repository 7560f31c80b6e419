#!/bin/sh
# Throughput of the durability modes in one run: `spool run --drain` of N no-op jobs on a fresh
# spool per mode, with "durability" set to
#   durable    group commit: one syncfs shared by every transition pending in the processor,
#   relaxed    no flush at all,
#   unbatched  the same flushes as durable, but each step fsyncs its own file and directories
#              (one fsync per step: the naive baseline).
# Release build; run on the machine whose numbers you want.
#
#   sh bench/durability.sh [N] [WORKERS] [ROUNDS]      (defaults: 3000 jobs, 8 workers, 2 rounds)
#
# Prints jobs/s per mode and round, then the ratio durable / unbatched of the medians. Set SPOOL_BIN
# to skip the build. The spools live under $BENCH_DIR (default /tmp): the file system measured.
# IMAGE=ext4 (or xfs) measures on a fresh 2 GiB loop image of that file system instead, made with
# mkfs and mounted for the run (root only; ext4 with its default journal).
set -eu
cd "$(dirname "$0")/.."
jobs=${1:-3000}
workers=${2:-8}
rounds=${3:-2}
. bench/release-binary.sh
base=${BENCH_DIR:-/tmp}
image=""
mountpoint=""
cleanup() {
    rm -rf "$work"
    if [ -n "$mountpoint" ]; then umount "$mountpoint" 2>/dev/null || true; rmdir "$mountpoint"; fi
    if [ -n "$image" ]; then rm -f "$image"; fi
}
work=""
trap cleanup EXIT
if [ -n "${IMAGE:-}" ]; then
    if [ "$(id -u)" != 0 ]; then echo "IMAGE=$IMAGE needs root (mount)" >&2; exit 77; fi
    command -v "mkfs.$IMAGE" >/dev/null || { echo "mkfs.$IMAGE is not installed" >&2; exit 69; }
    image=$(mktemp "$base/spool-durability-$IMAGE.XXXXXX.img")
    truncate -s 2G "$image"
    if [ "$IMAGE" = xfs ]; then mkfs.xfs -q -f "$image"; else "mkfs.$IMAGE" -q -F "$image"; fi
    mountpoint=$(mktemp -d "$base/spool-durability-mnt.XXXXXX")
    mount -o loop "$image" "$mountpoint"
    base=$mountpoint
fi
work=$(mktemp -d "$base/spool-durability-bench.XXXXXX")

measure() {  # $1: mode; prints jobs/s of one drain
    spool="$work/$1"
    rm -rf "$spool" "$work/stage"
    "$SPOOL_BIN" init "$spool" >/dev/null
    printf '{"durability": "%s", "handlers": {"noop": {"builtin": "noop"}}}\n' "$1" > "$spool/spool.json"
    mkdir -p "$work/stage"
    i=0
    while [ $i -lt "$jobs" ]; do
        printf '{"type": "noop"}\n' > "$work/stage/j-$i.json"
        i=$((i + 1))
    done
    find "$work/stage" -name '*.json' -exec mv -t "$spool/queued/" {} +
    sync  # the set-up's dirty data must not be flushed on the measured run's account
    "$SPOOL_BIN" run --spool "$spool" --drain --workers "$workers" 2>/dev/null |
        sed -n 's/.*(\([0-9]*\) jobs\/s).*/\1/p'
}

echo "date: $(date -u '+%Y-%m-%dT%H:%MZ'); $(nproc) cores; $(df -T "$work" | awk 'NR==2 {print $2}') at $work"
echo "jobs: $jobs, workers: $workers, rounds: $rounds"
results=""
round=1
while [ "$round" -le "$rounds" ]; do
    for mode in durable relaxed unbatched; do
        rate=$(measure "$mode")
        echo "round $round  $mode  $rate jobs/s"
        results="$results
$mode $rate"
    done
    round=$((round + 1))
done
median() { echo "$results" | awk -v m="$1" '$1 == m {print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
durable=$(median durable)
relaxed=$(median relaxed)
unbatched=$(median unbatched)
echo "median jobs/s: durable $durable, relaxed $relaxed, unbatched (one fsync per step) $unbatched"
echo "durable / unbatched: $(awk -v a="$durable" -v b="$unbatched" 'BEGIN {printf "%.1f", a / b}')"
echo "durable / relaxed:   $(awk -v a="$durable" -v b="$relaxed" 'BEGIN {printf "%.2f", a / b}')"
