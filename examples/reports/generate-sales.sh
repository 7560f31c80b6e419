#!/bin/sh
# generate-sales: prints a day of made-up sales as NDJSON, one order per line, the same every
# time for the same day and count (so a report resumed after a crash sees the same records).
# The report handler runs it as its source command; the job's record arrives on stdin.
#
#   examples/reports/generate-sales.sh [COUNT]      (default 3000)
set -eu
count=${1:-3000}
day=$(sed -n 's/^[[:space:]]*"day"[[:space:]]*:[[:space:]]*"\([0-9-]*\)".*/\1/p' | head -n 1)
awk -v count="$count" -v day="${day:-2026-11-22}" 'BEGIN {
    split("Ada Lovelace,Grace Hopper,Alan Turing,Edsger Dijkstra,Barbara Liskov,Donald Knuth", names, ",")
    split("north,south,east,west", regions, ",")
    for (i = 1; i <= count; i++) {
        name = names[(i * 7) % 6 + 1]
        login = tolower(substr(name, 1, index(name, " ") - 1))
        printf "{\"order\": \"%s-%05d\", \"day\": \"%s\", \"customer\": \"%s\", \"email\": \"%s%d@example.com\", \"card\": \"4111 1111 1111 %04d\", \"region\": \"%s\", \"amount\": %d.%02d}\n", \
            day, i, day, name, login, i % 97, (i * 37) % 10000, regions[i % 4 + 1], (i * 13) % 500, i % 100
    }
}'
