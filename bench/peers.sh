#!/bin/sh
# Peers side by side (issue 10): the same N no-op jobs (/bin/true) pushed through spool, the C floor
# (bench/floor.c) and the tools people use instead of spool, in interleaved rounds (round 1: every
# tool, round 2: every tool, ...); prints each tool's jobs/s per round, the medians and the ratios.
#
#   sh bench/peers.sh [N] [ROUNDS]          (defaults: 2000 jobs, 3 rounds)
#
# As root, missing tools are installed from Debian's packages with apt-get (task-spooler,
# filespooler, inotify-tools, incron, nq); otherwise a missing tool is skipped with a message.
# Set SPOOL_BIN to skip the release build, BENCH_DIR for where the temporary directories go
# (default /tmp: the file system measured), PEERS_TIMEOUT for the limit of one measurement in
# seconds (default 300; a tool that takes longer is reported as "timeout", its processes killed),
# PEERS_TOOLS to run only some of the tools (names as printed, e.g. "spool-relaxed floor tsp").
#
# What is timed, with the wall clock around each run (every run starts on a fresh directory and
# after a `sync`, so that the set-up's dirty data is not flushed on the measured run's account):
#
#   spool-relaxed, spool-durable  N job files are written to a staging directory and moved into
#       queued/ of a fresh spool BEFORE the clock starts. Timed: `spool run --spool DIR --drain
#       --workers 2`, from exec to exit (start-up, the scan, N runs of /bin/true, records, logs,
#       exit). spool.json: an exec handler {"command": ["/bin/true"]}; "durability": "relaxed" (no
#       flush) or left at the default "durable" (group commit).
#   floor, floor-durable  the same pre-staged queue. Timed: `floor -w 2 -n N DIR` from exec to
#       exit. floor-durable adds `-s 64`: one syncfs per 64 jobs (the C reference of the durable
#       target in issue 10).
#   tsp   task-spooler with 2 slots, its own TS_SOCKET and TMPDIR; the server is started before the
#       clock. Timed: enqueue + completion: N `tsp /bin/true` one after the other, then `tsp -w`
#       and `tsp -l` until nothing is queued or running. (Each job's output file is kept, its
#       default; at most 1000 clients may wait at once, the enqueue loop blocks beyond that.)
#   fspl  filespooler: N packets made with `fspl prepare` into the queue's jobs/ BEFORE the clock.
#       Timed: `fspl queue-process --on-error Delete /bin/true` until the queue is empty (it
#       runs one job at a time by design: a queue is processed sequentially).
#   inotifywait-loop  the loop users write: `inotifywait -m -e moved_to -e close_write` piped into
#       a bash `while read` that claims by `mv queued/X processing/X`, runs /bin/true, and
#       `mv processing/X done/X` (one job at a time). The watcher is running before the clock.
#       Timed: from moving the N pre-staged files into queued/ (one `mv -t`, a few ms) until the
#       last one is in done/ (the mtime of done/, read once all N are there).
#   incron  a private incrond (own config, tables and lock file; needs root) with the table line
#       `QUEUED IN_MOVED_TO,IN_CLOSE_WRITE HANDLER DIR $#`, HANDLER the same claim/run/move as
#       the loop, as a sh script; incrond starts one handler per event, all at once. Timed like
#       the loop (a warm-up job proves the watch is up before the clock).
#   nq    Timed: enqueue + completion: N `nq -q /bin/true` (each returns at once; nq runs the
#       jobs one at a time, in order) then `nq -w` until all N job files say they exited.
#
# spool and the floor are timed from a pre-staged queue (they scan at start, as after a restart);
# the watchers (loop, incron) from the moment the jobs land; tsp and nq accept jobs only through a
# command, so their enqueue is timed too. N, the handler and 2 workers (where the tool has a
# setting for it) are the same for all. The machine's load is printed: compare within one run.
set -u
has() { command -v "$1" >/dev/null 2>&1; }
case ${1:-} in --measure) ;; *)
script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
jobs=${1:-2000}
rounds=${2:-3}
limit=${PEERS_TIMEOUT:-300}

# --- tools: install what is missing (root + apt-get), otherwise skip it ---
tsp=""
find_tsp() {
    if has tsp; then tsp=tsp
    elif has ts && ts -V 2>&1 | grep -qi 'task.spooler'; then tsp=ts  # not moreutils' ts
    fi
}
find_tsp
missing=""
[ -n "$tsp" ] || missing="$missing task-spooler"
has fspl || missing="$missing filespooler"
has inotifywait || missing="$missing inotify-tools"
has incrond || missing="$missing incron"
has nq || missing="$missing nq"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && has apt-get; then
        echo "installing:$missing"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null 2>&1; } ||
            echo "apt-get install$missing failed; the missing tools are skipped"
        find_tsp
    else
        echo "not installed:$missing (run as root to install them with apt-get); skipped"
    fi
fi

tools="spool-relaxed spool-durable"
. bench/release-binary.sh
work=$(mktemp -d "${BENCH_DIR:-/tmp}/spool-peers-bench.XXXXXX")
child=""
trap 'rm -rf "$work"' EXIT
trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"; exit 130' HUP INT PIPE TERM
if has cc && cc -O2 -pthread -o "$work/floor" bench/floor.c; then
    tools="$tools floor floor-durable"
else
    echo "floor: cannot compile bench/floor.c with cc; skipped"
fi
[ -n "$tsp" ] && tools="$tools tsp"
has fspl && tools="$tools fspl"
has inotifywait && tools="$tools inotifywait-loop"
if has incrond; then
    if [ "$(id -u)" = 0 ]; then tools="$tools incron"
    else echo "incron: running a private incrond needs root; skipped"; fi
fi
has nq && tools="$tools nq"
if [ -n "${PEERS_TOOLS:-}" ]; then  # a subset, e.g. PEERS_TOOLS="spool-relaxed tsp"
    selected=""
    for tool in $tools; do
        case " $PEERS_TOOLS " in *" $tool "*) selected="$selected $tool" ;; esac
    done
    tools=${selected# }
fi
export jobs SPOOL_BIN tsp
FLOOR_BIN="$work/floor"
export FLOOR_BIN

echo "date: $(date -u '+%Y-%m-%dT%H:%MZ'); $(nproc) cores; $(df -T "$work" | awk 'NR==2 {print $2}') at $work"
echo "jobs: $jobs, rounds: $rounds, tools: $tools"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
results=""
round=1
while [ "$round" -le "$rounds" ]; do
    for tool in $tools; do
        dir="$work/$tool-$round"
        timeout -k 10 "$limit" sh "$script" --measure "$tool" "$dir" >"$work/rate" 2>"$work/err" &
        child=$!
        wait "$child"
        status=$?
        child=""
        rate=$(cat "$work/rate")
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then rate="timeout after $limit s"
        elif [ "$status" != 0 ] || [ -z "$rate" ]; then rate="failed"; sed 's/^/    /' "$work/err"
        fi
        # after a timeout, handlers of the killed tool may still be finishing
        rm -rf "$dir" 2>/dev/null || { sleep 2; rm -rf "$dir"; }
        case $rate in [0-9]*) unit=" jobs/s" ;; *) unit="" ;; esac
        printf 'round %d  %-17s %s\n' "$round" "$tool" "$rate$unit"
        results="$results
$tool $rate"
    done
    round=$((round + 1))
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

median() {  # median of a tool's numeric rates, "-" if none
    echo "$results" | awk -v t="$1" '$1 == t && $2 ~ /^[0-9.]+$/ {print $2}' | sort -n |
        awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "-"}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}'; }
echo
echo "median jobs/s ($jobs jobs, $rounds rounds):"
for tool in $tools; do printf '  %-17s %s\n' "$tool" "$(median "$tool")"; done
relaxed=$(median spool-relaxed)
durable=$(median spool-durable)
echo
printf '%-17s %15s %15s\n' "ratio to" "spool-relaxed/X" "spool-durable/X"
for tool in $tools; do
    case $tool in spool-*) continue ;; esac
    printf '%-17s %15s %15s\n' "$tool" "$(ratio "$relaxed" "$(median "$tool")")" \
        "$(ratio "$durable" "$(median "$tool")")"
done
echo "spool / floor: relaxed / floor $(ratio "$relaxed" "$(median floor)"), durable / floor-durable $(ratio "$durable" "$(median floor-durable)")"
exit 0
esac

# --- one measurement: sh peers.sh --measure TOOL DIR; prints jobs/s, or fails with a message ---
tool=$2
d=$3
pids=""         # daemons and watchers to stop
finished=""
cleanup() {
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    if [ "$tool" = tsp ] && [ -S "$d/socket" ]; then TS_SOCKET="$d/socket" "$tsp" -K 2>/dev/null; fi
    if [ "$tool" = nq ] && [ -z "$finished" ] && [ -d "$d/nq" ]; then
        for f in "$d"/nq/,*; do  # nq names each job file ,TIME.PID; stop the jobs still waiting
            pid=${f##*.}
            [ -e "$f" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nq ] && kill -TERM "$pid"
        done
    fi
    return 0
}
trap cleanup EXIT
trap 'exit 143' TERM INT
now() { date +%s%N; }
say() { echo "$tool: $*" >&2; }
stage() {  # N job files moved (one rename each) into $1
    mkdir -p "$d/stage" "$1"
    i=0
    while [ "$i" -lt "$jobs" ]; do
        printf '{"type": "noop"}\n' >"$d/stage/j-$i.json"
        i=$((i + 1))
    done
    find "$d/stage" -name '*.json' -exec mv -t "$1/" {} +
}
count() {  # number of entries matching the glob $1 (no fork)
    # shellcheck disable=SC2086
    set -- $1
    if [ -e "$1" ]; then echo $#; else echo 0; fi
}
wait_count() {  # until the glob $1 matches N entries
    while [ "$(count "$1")" -lt "$jobs" ]; do sleep 0.05; done
}
report() {  # $1 $2: start and end in ns
    awk -v n="$jobs" -v a="$1" -v b="$2" 'BEGIN {printf "%.0f\n", n / ((b - a) / 1e9)}'
}
mkdir -p "$d"

case $tool in
spool-relaxed|spool-durable)
    "$SPOOL_BIN" init "$d/spool" >/dev/null || exit 1
    if [ "$tool" = spool-relaxed ]; then durability='"durability": "relaxed", '; else durability=""; fi
    printf '{%s"workers": 2, "handlers": {"noop": {"command": ["/bin/true"]}}}\n' "$durability" \
        >"$d/spool/spool.json"
    stage "$d/spool/queued"
    sync
    # As root, running /bin/true as root must be asked for (the other tools run it as root too).
    as_root=""
    if [ "$(id -u)" = 0 ]; then as_root="--allow-root-handlers"; fi
    t0=$(now)
    # shellcheck disable=SC2086
    "$SPOOL_BIN" run --spool "$d/spool" --drain --workers 2 $as_root >"$d/out" 2>&1 || { say "spool run failed:"; cat "$d/out" >&2; exit 1; }
    t1=$(now)
    [ "$(count "$d/spool/done/*.json")" = "$jobs" ] || { say "not every job is in done/"; tail -3 "$d/out" >&2; exit 1; }
    ;;
floor|floor-durable)
    stage "$d/floor/queued"
    sync
    if [ "$tool" = floor-durable ]; then set -- -s 64; else set --; fi
    t0=$(now)
    "$FLOOR_BIN" -w 2 -n "$jobs" "$@" "$d/floor" /bin/true >"$d/out" || exit 1
    t1=$(now)
    ;;
tsp)
    export TS_SOCKET="$d/socket" TMPDIR="$d/tmp" TS_SLOTS=2
    mkdir -p "$TMPDIR"
    "$tsp" -S 2 >/dev/null || exit 1  # starts the server
    sync
    t0=$(now)
    i=0
    while [ "$i" -lt "$jobs" ]; do
        "$tsp" /bin/true >/dev/null || { say "enqueue failed"; exit 1; }
        i=$((i + 1))
    done
    "$tsp" -w >/dev/null
    while "$tsp" -l | grep -q -E ' (running|queued|allocating) '; do sleep 0.01; done
    t1=$(now)
    [ "$(count "$TMPDIR/ts-out.*")" = "$jobs" ] || { say "$(count "$TMPDIR/ts-out.*") output files for $jobs jobs"; exit 1; }
    ;;
fspl)
    fspl queue-init -q "$d/q" || exit 1
    i=0
    while [ "$i" -lt "$jobs" ]; do
        fspl prepare -s "$d/seq" >"$d/q/jobs/fspl-$i.fspl" || exit 1
        i=$((i + 1))
    done
    sync
    t0=$(now)
    fspl queue-process -q "$d/q" --on-error Delete /bin/true 2>"$d/log" || { say "queue-process failed:"; tail -3 "$d/log" >&2; exit 1; }
    t1=$(now)
    [ "$(count "$d/q/jobs/fspl-*")" = 0 ] || { say "jobs left in the queue"; exit 1; }
    ;;
inotifywait-loop|incron)
    mkdir -p "$d/queued" "$d/processing" "$d/done"
    shell=sh
    if has bash; then shell=bash; fi  # the loop as users write it
    cat >"$d/handler" <<'EOF'
case $2 in .*) exit 0 ;; *.json) ;; *) exit 0 ;; esac
mv "$1/queued/$2" "$1/processing/$2" 2>/dev/null || exit 0
/bin/true
mv "$1/processing/$2" "$1/done/$2"
EOF
    if [ "$tool" = inotifywait-loop ]; then
        cat >"$d/loop" <<'EOF'
while IFS= read -r f; do
    case $f in .*) continue ;; *.json) ;; *) continue ;; esac
    mv "$1/queued/$f" "$1/processing/$f" 2>/dev/null || continue
    /bin/true
    mv "$1/processing/$f" "$1/done/$f"
done
EOF
        mkfifo "$d/events"
        inotifywait -m -e moved_to -e close_write --format '%f' "$d/queued" >"$d/events" 2>"$d/watch.err" &
        pids="$!"
        "$shell" "$d/loop" "$d" <"$d/events" &
        pids="$pids $!"
        until grep -q 'Watches established' "$d/watch.err"; do sleep 0.01; done
    else
        mkdir -p "$d/tables" "$d/user" "$d/run"
        printf '#!/bin/sh\n' | cat - "$d/handler" >"$d/handler.sh" && chmod +x "$d/handler.sh"
        printf '%s = %s\n' system_table_dir "$d/tables" user_table_dir "$d/user" lockfile_dir "$d/run" \
            lockfile_name incrond-bench allowed_users "$d/allow" denied_users "$d/deny" >"$d/incron.conf"
        echo "$d/queued IN_MOVED_TO,IN_CLOSE_WRITE $d/handler.sh $d \$#" >"$d/tables/bench"
        incrond -n -f "$d/incron.conf" 2>"$d/incrond.err" &
        pids="$!"
        until [ -e "$d/done/warm-up.json" ]; do  # until the watch is up
            echo '{}' >"$d/warm-up.tmp" && mv "$d/warm-up.tmp" "$d/queued/warm-up.json"
            sleep 0.1
        done
        sleep 0.2
        rm -f "$d/done/warm-up.json"
    fi
    mkdir -p "$d/stage"
    i=0
    while [ "$i" -lt "$jobs" ]; do
        printf '{"type": "noop"}\n' >"$d/stage/j-$i.json"
        i=$((i + 1))
    done
    sync
    t0=$(now)
    find "$d/stage" -name '*.json' -exec mv -t "$d/queued/" {} +
    wait_count "$d/done/j-*.json"
    t1=$(stat -c %.9Y "$d/done" | tr -d .)
    ;;
nq)
    export NQDIR="$d/nq"
    sync
    t0=$(now)
    i=0
    while [ "$i" -lt "$jobs" ]; do
        nq -q /bin/true || { say "enqueue failed"; exit 1; }
        i=$((i + 1))
    done
    # `nq -w` waits for the job files present when it starts; a job just forked may not have made
    # its file yet, so wait until all N files say they exited.
    until nq -w && [ "$(grep -l -F '[exited' "$NQDIR"/,* 2>/dev/null | wc -l)" -ge "$jobs" ]; do sleep 0.05; done
    t1=$(now)
    ;;
*)
    say "unknown tool"; exit 2 ;;
esac
finished=1
report "$t0" "$t1"
