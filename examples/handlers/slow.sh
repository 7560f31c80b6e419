#!/bin/sh
# slow: works for payload.steps seconds (default 3), one step a second, reporting progress.
# The processor stops it with SIGTERM on a timeout or shutdown; exiting promptly is polite.
trap 'echo "slow: stopped by SIGTERM" >&2; exit 143' TERM
steps=$(sed -n 's/^[[:space:]]*"steps"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*$/\1/p' | head -n 1)
steps=${steps:-3}
i=0
while [ "$i" -lt "$steps" ]; do
    sleep 1
    i=$((i + 1))
    echo "progress $((i * 100 / steps))" >&3
done
echo "slow: $steps steps done"
