#!/bin/sh
# fail: always fails. The message goes to the job's log; exit 3 is a failure, retried with
# backoff while attempts remain, then the job goes to failed/.
echo "fail: this job cannot succeed (a demonstration of failure)" >&2
exit 3
