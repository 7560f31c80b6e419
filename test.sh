#!/usr/bin/env bash
# The README's test command: installs what the tests need, then builds without warnings and runs
# every test. On a machine that lacks a tool and where it cannot be installed (not root, no
# apt-get), the tests that need it are skipped, and Swift Testing's summary names each skip.
#
# The tests need the Swift toolchain, /bin/sh, coreutils and util-linux (flock, setpriv,
# script), which every machine of this kind has; rsync (the hand-off tests); tmux (the live
# view's tests drive `spool top` in a tmux pane); strace (the no-shell test checks every execve
# with it; the claim-liveness test stalls a processor's flushes with it); xfsprogs and e2fsprogs
# (the power-cut test makes XFS and ext4 loop images) and python3 (its FS_IOC_SHUTDOWN ioctl).
set -euo pipefail
cd "$(dirname "$0")"

missing=""
command -v rsync >/dev/null 2>&1 || missing="$missing rsync"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
command -v mkfs.xfs >/dev/null 2>&1 || missing="$missing xfsprogs"
command -v mkfs.ext4 >/dev/null 2>&1 || missing="$missing e2fsprogs"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
command -v flock >/dev/null 2>&1 || missing="$missing util-linux"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "test.sh: installing$missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq </dev/null
        # shellcheck disable=SC2086
        apt-get install -y -qq $missing </dev/null
    else
        echo "test.sh: missing$missing (not root, or no apt-get): the tests that need them are skipped" >&2
    fi
fi

swift --version
# The layers (docs/ARCHITECTURE.md): which target may use which, and libc only in SpoolSystem.
tests/scripts/check-layers.sh
# The committed .swift-format (4 spaces, 120 columns): `swift format format -i -r Sources Tests` mends it.
swift format lint --strict -r Sources Tests
# No warnings allowed: build once (with the tests) and fail on any.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift build --build-tests 2>&1 | tee "$log"
if grep -q "warning:" "$log"; then
    echo "test.sh: the build printed warnings" >&2
    exit 1
fi
swift test --skip-build "$@"
