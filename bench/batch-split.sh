#!/bin/sh
# Measures a large batch: `spool submit --items-from` of N items, the processor's split of the
# parent into N/SIZE children (the split's own time, from the parent's log, and the time from
# the processor's start until queued/PARENT/ is published, which includes reading and parsing
# the parent twice: once to index it, once to claim it), then `spool show PARENT` on the
# split batch. Release build; the children are not run (their type is held; the parent has
# a type of its own, so it is not).
#
#   sh bench/batch-split.sh [N] [SIZE] [RUNS]       (defaults: 1000000 items, 400, 3 runs)
#
# Set SPOOL_BIN to skip the build.
set -eu
cd "$(dirname "$0")/.."
items=${1:-1000000}
size=${2:-400}
runs=${3:-3}
. bench/release-binary.sh
work=$(mktemp -d /tmp/spool-batch-bench.XXXXXX)
trap 'kill $processor 2>/dev/null || true; rm -rf "$work"' EXIT
processor=
now() { date +%s.%N; }
seq 1 "$items" | sed 's/^/radar-/' > "$work/items.txt"
echo "items=$items size=$size children=$(( (items + size - 1) / size )) parent file: see below"
run=1
while [ $run -le "$runs" ]; do
    spool="$work/spool-$run"
    "$SPOOL_BIN" init "$spool" >/dev/null
    printf '{"maxJobBytes": 268435456, "handlers": {"lookup": {"builtin": "noop"}}}\n' > "$spool/spool.json"
    "$SPOOL_BIN" hold --spool "$spool" --type lookup >/dev/null
    t0=$(now)
    id=$("$SPOOL_BIN" submit --spool "$spool" --type import --child-type lookup --items-from "$work/items.txt" --batch-size "$size")
    t1=$(now)
    bytes=$(stat -c %s "$spool/queued/$id.json")
    "$SPOOL_BIN" run --spool "$spool" >/dev/null 2>&1 &
    processor=$!
    t2=$(now)
    while [ ! -d "$spool/queued/$id" ]; do sleep 0.01; done
    t3=$(now)
    # The parent's record says waiting-children once the split is complete.
    while ! grep -q '"status": "waiting-children"' "$spool/processing/$id.json" 2>/dev/null; do sleep 0.01; done
    split=$(sed -n 's/.* INFO split .* in \([0-9.]*\) s → .*/\1/p' "$spool/logs/$id.log")
    kill $processor; wait $processor 2>/dev/null || true
    processor=
    t4=$(now)
    "$SPOOL_BIN" show --spool "$spool" "$id" > "$work/show.txt"
    t5=$(now)
    children=$(ls "$spool/queued/$id" | wc -l)
    echo "$t0 $t1 $t2 $t3 $t4 $t5 $split $bytes $children" | awk -v run=$run '{
        printf "run %d: submit %.2f s (parent %.1f MB); split %s s; start to published %.2f s; %d children; show %.0f ms\n",
            run, $2 - $1, $8 / 1048576, $7, $4 - $3, $9, ($6 - $5) * 1000 }'
    # Spools are removed at the end: files created right after mass deletion are slower on ext4.
    run=$((run + 1))
done
