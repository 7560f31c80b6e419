#!/bin/sh
# Long forms of the torture tests (Tests/SpoolCLITests/TortureTests.swift): the same code as CI,
# run for longer. Appends its results, with the date, to the file given as REPORT (default
# torture-results.txt in the current directory).
#
#   sh tests/scripts/torture.sh kill9 600          kill -9 torture for 600 seconds
#   sh tests/scripts/torture.sh exclusive 10000    exclusive execution with 10,000 jobs
#   sh tests/scripts/torture.sh steal 300          recovery beside live jobs for 300 seconds
#   sh tests/scripts/torture.sh storm 600          kill -9 storm of issue 21 (handlers of 0.3-1.5 s,
#                                                  an independent overlap check) for 600 seconds
set -eu
cd "$(dirname "$0")/../.."
name=${1:?usage: torture.sh kill9|exclusive|steal|storm SECONDS-or-JOBS}
amount=${2:?usage: torture.sh kill9|exclusive|steal|storm SECONDS-or-JOBS}
report=$(realpath "${REPORT:-torture-results.txt}")
case "$name" in
    kill9) filter=killNine; export SPOOL_TORTURE_SECONDS="$amount" ;;
    exclusive) filter=exclusiveExecution; export SPOOL_TORTURE_JOBS="$amount" ;;
    steal) filter=recoveryNeverSteals; export SPOOL_TORTURE_SECONDS="$amount" ;;
    storm) filter=killStorm; suite=ClaimLivenessTests; export SPOOL_TORTURE_SECONDS="$amount" ;;
    *) echo "unknown torture: $name" >&2; exit 64 ;;
esac
echo "$(date -u '+%Y-%m-%dT%H:%MZ') $(uname -n), $(nproc) cores:" >> "$report"
SPOOL_TORTURE_REPORT="$report" swift test --filter "${suite:-TortureTests}/$filter" 2>&1 | grep -E '✘|✔ Test run|Test run with'
tail -n 2 "$report"
