#!/bin/sh
# Simulated power cuts (issue 8, group 2). For each file system: a loop image is made and
# mounted, a durable spool created on it; a processor runs while a loop submits jobs, recording
# each id that `spool submit` printed (outside the image); at a random moment the file system is
# shut down with the FS_IOC_SHUTDOWN ioctl (FS_GOINGDOWN_NOSYNC: nothing more reaches the disk,
# as in a power cut), the processes are killed, and the image is remounted (journal replay).
# Then every acknowledged id must be present exactly once, non-empty and parseable, and
# `spool fsck --repair` must leave nothing to fix.
#
#   sh tests/scripts/power-cut.sh [ITERATIONS] [FILESYSTEM...]     (default: 10 ext4 xfs)
#
# Needs root, loop devices, mkfs.ext4 / mkfs.xfs (xfsprogs) and python3 (for the ioctl); skips a
# file system (exit 0, with a message) when those are missing. Set SPOOL_BIN to skip the build;
# DURABILITY=relaxed shows what the same cuts do without flushes.
# Prints one line per file system: iterations, cuts, acknowledged jobs, lost, duplicated, damaged.
set -eu
cd "$(dirname "$0")/../.."
iterations=${1:-10}
shift || true
filesystems=${*:-ext4 xfs}
if [ "$(id -u)" != 0 ]; then echo "power-cut: skipped, needs root"; exit 0; fi
if [ -z "${SPOOL_BIN:-}" ]; then
    swift build --product spool >/dev/null
    SPOOL_BIN="$(swift build --show-bin-path)/spool"
fi
work=$(mktemp -d /tmp/spool-power-cut.XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() {
    umount "$mnt" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
failures=0

for fs in $filesystems; do
    if ! command -v "mkfs.$fs" >/dev/null 2>&1; then echo "power-cut $fs: skipped, mkfs.$fs missing"; continue; fi
    cuts=0 acked_total=0 lost=0 duplicated=0 damaged=0 unclean=0
    i=1
    while [ "$i" -le "$iterations" ]; do
        rm -f "$work/image" "$work/acked"
        : > "$work/acked"
        truncate -s 320M "$work/image"
        case "$fs" in
            xfs) mkfs.xfs -q -f "$work/image" ;;
            *) "mkfs.$fs" -q -F "$work/image" ;;
        esac
        if ! mount -o loop "$work/image" "$mnt" 2>/dev/null; then
            echo "power-cut $fs: skipped, cannot mount a loop image here"
            break
        fi
        spool="$mnt/spool"
        "$SPOOL_BIN" init "$spool" >/dev/null
        printf '{"durability": "%s", "workers": 4, "handlers": {"ok": {"builtin": "noop"}}}\n' \
            "${DURABILITY:-durable}" > "$spool/spool.json"
        sync
        # Each in a process group of its own (setsid), so that one kill reaches all of it.
        setsid "$SPOOL_BIN" run --spool "$spool" --quiet 2>/dev/null &
        processor=$!
        SPOOL_BIN="$SPOOL_BIN" setsid sh -c '
            while :; do
                if id=$("$SPOOL_BIN" submit --spool "$1" --type ok 2>/dev/null); then echo "$id" >> "$2"; fi
            done' power-cut-submitter "$spool" "$work/acked" &
        submitter=$!
        # A random moment between 0.3 and 1.8 s.
        sleep "$(awk -v seed="$$$i" 'BEGIN {srand(seed); printf "%.2f", 0.3 + rand() * 1.5}')"
        # The cut. The programs run on for a moment after it, which a real power cut does not
        # allow, and which makes the test harsher: every flush after the cut must fail. (XFS
        # answered an fsync of a directory opened before the cut with success, although the
        # rename it covered was never written; spool now checks the file can still be fstat-ed
        # after a flush, and Tests/SpoolKitTests/DurabilityTests.swift checks that on XFS.)
        python3 -c 'import fcntl, os, struct, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.ioctl(fd, 0x8004587D, struct.pack("I", 2))' "$mnt"
        cuts=$((cuts + 1))
        kill -s KILL -- "-$processor" "-$submitter" 2>/dev/null || true
        wait "$processor" 2>/dev/null || true
        wait "$submitter" 2>/dev/null || true
        # Unmount for real (a lazy unmount would let the next mount share the shut-down
        # superblock, where every read fails with EIO): wait for the killed processes to go.
        tries=0
        until umount "$mnt" 2>/dev/null; do
            tries=$((tries + 1))
            if [ "$tries" -ge 100 ]; then echo "power-cut $fs: cannot unmount after a cut" >&2; exit 2; fi
            sleep 0.1
        done
        # The loop device of the cut mount is released asynchronously after the unmount; a
        # mount made before that can land on the old device and share its shut-down superblock
        # (every read then fails with EIO). Wait for the release, and mount again if it happened.
        remounts=0
        while :; do
            tries=0
            while [ -n "$(losetup -j "$work/image" 2>/dev/null)" ] && [ "$tries" -lt 100 ]; do
                tries=$((tries + 1))
                sleep 0.1
            done
            mount -o loop "$work/image" "$mnt"
            if cat "$spool/spool.json" >/dev/null 2>"$work/unreadable" || [ "$remounts" -ge 3 ]; then break; fi
            remounts=$((remounts + 1))
            umount "$mnt" 2>/dev/null || true
        done
        if ! cat "$spool/spool.json" >/dev/null 2>"$work/unreadable"; then
            echo "power-cut $fs #$i: remount unreadable: $(cat "$work/unreadable")" >&2
            ls -la "$mnt" "$spool" >&2 2>&1 || true
            dmesg 2>/dev/null | tail -n 8 >&2 || true
            exit 2
        fi
        # One pass over the acknowledged ids: copies of each outside tmp/, and every copy parsed.
        find "$spool" -path "$spool/tmp" -prune -o -name '*.json' -print > "$work/files"
        python3 - "$work/acked" "$work/files" "$fs #$i" > "$work/counts" 2> "$work/counts.err" <<'PY'
import json, os, sys
acked = [line.strip() for line in open(sys.argv[1]) if line.strip()]
copies = {}
for path in open(sys.argv[2]).read().split("\n"):
    if path:
        copies.setdefault(os.path.basename(path)[:-5], []).append(path)
lost = duplicated = damaged = 0
for number, job in enumerate(acked):
    paths = copies.get(job, [])
    if not paths:
        lost += 1; print("  %s: lost %s" % (sys.argv[3], job), file=sys.stderr)
        # Where the jobs acknowledged just before and after it ended up: queued/ points at the
        # submission, done/ or processing/ at the processor's moves.
        for near in acked[max(0, number - 3):number + 4]:
            print("    %s %s: %s" % ("lost" if near == job else "near", near,
                  ["/".join(path.split("/")[-2:]) for path in copies.get(near, [])]),
                  file=sys.stderr)
    if len(paths) > 1:
        duplicated += 1; print("  %s: %d copies of %s" % (sys.argv[3], len(paths), job), file=sys.stderr)
    for path in paths:
        try:
            with open(path) as handle:
                json.load(handle)
        except Exception:
            damaged += 1; print("  %s: damaged %s" % (sys.argv[3], path), file=sys.stderr)
print(len(acked), lost, duplicated, damaged)
PY
        cat "$work/counts.err" >&2
        read -r acked this_lost this_duplicated this_damaged < "$work/counts"
        if [ "$this_lost" -gt 0 ]; then
            # Kept for a post-mortem (xfs_db, debugfs): the image as the cut left it, after replay.
            cp "$work/image" "${KEEP_LOST_IMAGES:-/tmp}/power-cut-lost-$fs-$i.img" 2>/dev/null || true
            echo "  $fs #$i: image kept as ${KEEP_LOST_IMAGES:-/tmp}/power-cut-lost-$fs-$i.img" >&2
            # What the spool still knows of a lost job: its journal lines, log and any copy.
            grep -o 'lost [^ ]*' "$work/counts.err" 2>/dev/null | while read -r _ job; do
                echo "  $fs #$i: traces of $job:" >&2
                grep -rh "$job" "$spool/events" "$spool/logs" 2>/dev/null | tail -n 5 >&2 || true
                find "$spool" -name "*$job*" >&2 || true
            done
        fi
        acked_total=$((acked_total + acked))
        lost=$((lost + this_lost))
        duplicated=$((duplicated + this_duplicated))
        damaged=$((damaged + this_damaged))
        if ! "$SPOOL_BIN" fsck --spool "$spool" --repair > "$work/fsck" 2>&1; then
            unclean=$((unclean + 1)); echo "  $fs #$i: fsck:" >&2; cat "$work/fsck" >&2
        fi
        umount "$mnt"
        i=$((i + 1))
    done
    echo "power-cut $fs: $cuts cuts, $acked_total acknowledged jobs, lost $lost, duplicated $duplicated, damaged $damaged, fsck unclean $unclean"
    if [ $((lost + duplicated + damaged + unclean)) -gt 0 ]; then failures=1; fi
done
exit $failures
