#!/bin/sh
# greet: prints a greeting for payload.name.
#
# stdin is the job record, stdout becomes results/ID.out, stderr goes to logs/ID.log.
# No jq needed: spool hands the record over with one member per line, and the payload comes
# before the fields the processor adds, so the first "name" member is the payload's.
name=$(sed -n 's/^[[:space:]]*"name"[[:space:]]*:[[:space:]]*"\([^"\\]*\)".*$/\1/p' | head -n 1)
if [ -z "$name" ]; then
    echo "greet: the payload has no \"name\"" >&2
    exit 65   # any exit but 0 and 75 is a failure
fi
echo "greet: job $SPOOL_JOB_ID, attempt $SPOOL_ATTEMPT" >&2
echo "${GREETING:-Hello}, $name!"
