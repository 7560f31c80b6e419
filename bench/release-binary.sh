# Sourced by the benchmark scripts (from the repository root): sets SPOOL_BIN to the release
# build of spool, building it first, unless SPOOL_BIN is already set.
if [ -z "${SPOOL_BIN:-}" ]; then
    swift build -c release --product spool >/dev/null
    SPOOL_BIN="$(swift build -c release --show-bin-path)/spool"
fi
