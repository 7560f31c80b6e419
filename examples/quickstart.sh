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
run run --spool spool --drain
run list --spool spool
run stats --spool spool
