#!/bin/sh
# Quick start: build spool, queue the example jobs in the embedded spool/, process them until
# the queue is empty, and print a summary. Safe to run again: each submission gets a fresh id.
#
#   sh examples/quickstart.sh
#
# It builds in debug mode, the quickest build. Set SPOOL_BIN to an already-built spool binary
# to skip the build.
set -eu
cd "$(dirname "$0")/.."

if [ -z "${SPOOL_BIN:-}" ]; then
    echo "+ swift build --product spool"
    swift build --product spool
    SPOOL_BIN="$(swift build --show-bin-path)/spool"
fi

run() {
    echo "+ spool $*"
    "$SPOOL_BIN" "$@"
}

run submit --spool spool examples/jobs/*.json
# As root, spool run refuses handlers without a "user"; the examples are meant to run as you.
if [ "$(id -u)" = 0 ]; then
    echo "(running as root: the example handlers have no \"user\", so spool run gets --allow-root-handlers)"
    run run --spool spool --drain --allow-root-handlers
else
    run run --spool spool --drain
fi
run list --spool spool
run stats --spool spool
