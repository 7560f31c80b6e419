#!/bin/sh
# Streams a large NDJSON source through the built-in report handler and reports throughput and
# the processor's peak resident memory (target: 64 MiB or less, whatever the source size).
#
#   sh bench/report-stream.sh [MiB] [format]      (defaults: 1024 MiB of source, csv output)
#
# Release build. The source is generated with awk (records of about 190 bytes, 5 fields); the
# report masks two of them (a keyed hash and a partial) for the job owner's role. Prints the
# source size, the time of `spool run --drain`, MB/s of source read, the records and the
# processor's peak RSS (from /usr/bin/time -v). Set SPOOL_BIN to skip the build.
set -eu
cd "$(dirname "$0")/.."
mebibytes=${1:-1024}
format=${2:-csv}
. bench/release-binary.sh
work=$(mktemp -d /tmp/spool-report-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
spool="$work/spool"
"$SPOOL_BIN" init "$spool" >/dev/null
mkdir "$spool/data"
cat > "$spool/spool.json" <<JSON
{"handlers": {"report": {"builtin": "report", "timeout": 3600,
                         "report": {"dataDirectory": "data", "format": "$format", "chunkSize": 1000}}},
 "masking": {"roles": {"analyst": {"email": "hash", "ssn": {"partial": 4}}},
             "owners": {"$(id -u)": "analyst"}, "hashKey": "benchmark-key-0123456789"}}
JSON

bytes=$((mebibytes * 1024 * 1024))
awk -v limit="$bytes" 'BEGIN {
    total = 0; i = 0
    while (total < limit) {
        line = sprintf("{\"id\": %d, \"name\": \"Customer %d\", \"email\": \"customer-%d@example.com\", \"ssn\": \"123-45-%04d\", \"note\": \"ordered %d items, shipped to \\\"Depot %d\\\", region %d\"}", i, i, i, i % 10000, i % 17, i % 31, i % 5)
        print line
        total += length(line) + 1
        i++
    }
}' > "$spool/data/source.ndjson"
size=$(stat -c %s "$spool/data/source.ndjson")
"$SPOOL_BIN" submit --spool "$spool" --type report --payload '{"file": "source.ndjson"}' --id bench >/dev/null

start=$(date +%s.%N)
/usr/bin/time -v "$SPOOL_BIN" run --spool "$spool" --drain --quiet 2> "$work/time.txt"
end=$(date +%s.%N)
peak=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
records=$(sed -n 's/.*"processed": \([0-9]*\).*/\1/p' "$spool/done/bench.json")
result=$(stat -c %s "$spool/results/bench.out")
awk -v s="$start" -v e="$end" -v size="$size" -v peak="$peak" -v records="$records" -v out="$result" \
    -v format="$format" 'BEGIN {
    t = e - s
    printf "source %.0f MiB (%d bytes, %d records), %s report of %.0f MiB\n", size / 1048576, size, records, format, out / 1048576
    printf "time %.1f s, %.1f MB/s of source (%.0f records/s)\n", t, size / t / 1e6, records / t
    printf "processor peak RSS %.1f MiB\n", peak / 1024
}'
