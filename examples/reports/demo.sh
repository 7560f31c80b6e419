#!/bin/sh
# The daily sales report seen by two roles. Builds spool if needed, makes a scratch spool with
# the embedded configuration, and submits the same daily-sales job twice: once as you, once
# owned by another user (root only: the file is chowned to nobody, uid 65534). spool.json maps
# uid 0 to the "manager" role (every column, card numbers cut to the last 4 digits) and everyone
# else to "analyst" (no customer names or card numbers, e-mails as keyed hashes).
#
#   sh examples/reports/demo.sh
set -eu
cd "$(dirname "$0")/../.."
if [ -z "${SPOOL_BIN:-}" ]; then
    swift build --product spool >/dev/null
    SPOOL_BIN="$(swift build --show-bin-path)/spool"
fi
work=$(mktemp -d /tmp/spool-report-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$SPOOL_BIN" init "$work/spool" >/dev/null
cp spool/spool.json "$work/spool/spool.json"
mkdir -p "$work/examples/reports" && cp examples/reports/generate-sales.sh "$work/examples/reports/"

"$SPOOL_BIN" submit --spool "$work/spool" --id mine examples/jobs/daily-sales.json >/dev/null
if [ "$(id -u)" = 0 ]; then
    cp examples/jobs/daily-sales.json "$work/spool/queued/.theirs.tmp"
    chown 65534 "$work/spool/queued/.theirs.tmp"
    mv "$work/spool/queued/.theirs.tmp" "$work/spool/queued/theirs.json"
fi
allow=""
if [ "$(id -u)" = 0 ]; then
    echo "(running as root: the report's source command has no \"user\", so spool run gets --allow-root-handlers)"
    allow="--allow-root-handlers"
fi
# shellcheck disable=SC2086
"$SPOOL_BIN" run --spool "$work/spool" --drain --quiet $allow
for id in mine theirs; do
    [ -f "$work/spool/done/$id.json" ] || continue
    role=$(sed -n 's/.*"role": "\([a-z-]*\)".*/\1/p' "$work/spool/done/$id.json" | head -n 1)
    echo "== job $id, role $role: $(($(wc -l < "$work/spool/results/$id.out") - 1)) records, first lines:"
    head -n 3 "$work/spool/results/$id.out"
done
