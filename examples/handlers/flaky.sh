#!/bin/sh
# flaky: not ready on its first attempt. Exit 75 (EX_TEMPFAIL) puts the job back in queued/
# with a short backoff, without using up one of its maxAttempts; attempt 2 succeeds.
if [ "$SPOOL_ATTEMPT" -lt 2 ]; then
    echo "flaky: attempt $SPOOL_ATTEMPT: not ready yet, try again later" >&2
    exit 75
fi
echo "flaky: succeeded on attempt $SPOOL_ATTEMPT"
