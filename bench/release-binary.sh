# Sourced by the benchmark scripts (from the repository root): sets SPOOL_BIN to the release
# build of spool, building it first, unless SPOOL_BIN is already set. The build makes the
# benchmark's own executable too (spool-bench, beside spool), so that "$SPOOL_BIN" bench works.
if [ -z "${SPOOL_BIN:-}" ]; then
    swift build -c release >/dev/null
    SPOOL_BIN="$(swift build -c release --show-bin-path)/spool"
fi
