#!/usr/bin/env bash
# Runs the full fault drill: an on-sale of 20,000 robust fans against three
# Boxoffice instances behind haproxy, on a PostgreSQL and a Redis the drill
# starts for itself (never the shared ones), while one instance is killed
# with kill -9, Redis is restarted empty and PostgreSQL is restarted; then
# every check of docs/benchmarks.md, "Fault drill". Installs haproxy from
# Debian if it is missing. Exits non-zero when a check fails.
#
#   scripts/faults.sh              the full drill (a few minutes)
#   SHORT=1 scripts/faults.sh      the short drill CI runs (2,000 fans)
#
# Environment: OUT (results directory, default ./faults-results): the
# loadtest's onsale.json and onsale.txt, status.svg (answers by status per
# second with the fault windows), timeline.svg, latency.svg, and the
# drill's drill.json and drill.txt. FAULTS picks faults: a comma list of
# kill, redis and postgres (default all three).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$PWD/faults-results}

if ! command -v haproxy >/dev/null 2>&1; then
  echo "faults: installing haproxy" >&2
  apt-get update && apt-get install -y haproxy
fi

drill=full
if [ "${SHORT:-0}" = 1 ]; then drill=short; fi
mkdir -p "$OUT"
cd "$ROOT"
status=0
BOXOFFICE_DRILL=$drill BOXOFFICE_DRILL_OUT=$OUT BOXOFFICE_DRILL_FAULTS=${FAULTS:-} \
  go test -count=1 -timeout 30m -run '^TestFaultDrill$' -v ./cmd/boxoffice/ >"$OUT/test.log" 2>&1 || status=$?
if [ -f "$OUT/drill.txt" ]; then cat "$OUT/drill.txt"; else tail -n 60 "$OUT/test.log"; fi
if [ $status = 0 ]; then echo "faults: passed; results in $OUT" >&2; else echo "faults: FAILED; results in $OUT (test log: $OUT/test.log)" >&2; fi
exit $status
