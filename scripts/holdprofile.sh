#!/usr/bin/env bash
# Profiles holds (or payments) end to end: starts its own PostgreSQL (a new
# cluster in a temporary directory, with pg_stat_statements) and its own
# Redis, each on a free port, runs BIN serve against them with its pprof
# listener on, and runs BIN loadtest SCENARIO against it. While the
# measured phase runs it takes a CPU profile of the server and then prints
# what PostgreSQL spent per statement over the same window, divided by the
# holds (or payments) made in it: calls, total and mean time, WAL bytes.
# It uses only the CLI and the environment, so it runs an older build too.
# Stops everything it started when it exits.
#
#   scripts/holdprofile.sh BIN [hold|pay] [loadtest flags...]
#
# Environment: OUT (results directory, default ./holdprofile-results),
# SECONDS_PROFILED (default 20), PHASE (the measured phase's name, default
# the scenario's), PROFILE_AFTER (seconds of the phase to let pass before
# the profile starts, default 0: what a long sale's later minutes cost),
# PG_OPTS (more PostgreSQL settings, e.g. "-c autovacuum=off" to profile a
# database whose tables are never analyzed).
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '2,16p' "$0" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SCENARIO=${2:-hold}
shift $(( $# >= 2 ? 2 : 1 ))
case "$SCENARIO" in
  hold) TABLE=reservations; AT=created_at ;;
  pay) TABLE=payments; AT=paid_at ;;
  *) echo "holdprofile: scenario must be hold or pay" >&2; exit 2 ;;
esac
PHASE=${PHASE:-$SCENARIO}
PROFILED=${SECONDS_PROFILED:-20}
AFTER=${PROFILE_AFTER:-0}
OUT=${OUT:-$PWD/holdprofile-results}
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | tail -n 1)")
WORK=$(mktemp -d)
PIDS=()
PG_STARTED=0
ADMIN_KEY=profile-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

log() { echo "holdprofile: $*" >&2; }

as_postgres() { # command...
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$PG_STARTED" = 1 ]; then as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}

PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
API_PORT=$(free_port)
PPROF_PORT=$(free_port)
mkdir -p "$OUT"
if [ "$(id -u)" = 0 ]; then chown postgres "$WORK"; fi

log "PostgreSQL on 127.0.0.1:$PG_PORT"
as_postgres "$PGBIN/initdb" -D "$WORK/pg" -U postgres -A trust -E UTF8 --locale=C >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start -o \
  "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top -c pg_stat_statements.track_planning=on -c track_io_timing=on ${PG_OPTS:-}" >/dev/null
PG_STARTED=1
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pg_stat_statements"

log "Redis on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)

log "boxoffice on 127.0.0.1:$API_PORT, pprof on 127.0.0.1:$PPROF_PORT"
BOXOFFICE_ADDR=127.0.0.1:$API_PORT \
BOXOFFICE_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
BOXOFFICE_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 \
BOXOFFICE_ADMIN_KEY=$ADMIN_KEY \
BOXOFFICE_DEMO=false \
BOXOFFICE_RATE_LIMIT=0 \
BOXOFFICE_SIGNUP_LIMIT=0 \
BOXOFFICE_LOG_LEVEL=warn \
BOXOFFICE_PPROF_ADDR=127.0.0.1:$PPROF_PORT \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$API_PORT/readyz" >/dev/null || { cat "$WORK/server.log" >&2; exit 1; }

# The measured phase lasts long enough for the profile; no bare handler
# alongside, so the phase runs without a break.
log "loadtest $SCENARIO"
BOXOFFICE_ADMIN_KEY=$ADMIN_KEY "$BIN" loadtest "$SCENARIO" --target "http://127.0.0.1:$API_PORT" \
  --no-ceiling --runs 1 --duration "$((AFTER + PROFILED + 10))s" --out "$OUT/loadtest-$SCENARIO.json" "$@" \
  >"$OUT/loadtest-$SCENARIO.txt" 2>"$WORK/progress.log" &
LOADTEST=$!
PIDS+=($LOADTEST)

# The phase's progress lines start with its name.
until grep -q "^$PHASE " "$WORK/progress.log" 2>/dev/null; do
  if ! kill -0 "$LOADTEST" 2>/dev/null; then cat "$WORK/progress.log" >&2; log "the loadtest ended before its $PHASE phase"; exit 1; fi
  sleep 0.5
done
sleep "$AFTER"
"${PSQL[@]}" -c "SELECT pg_stat_statements_reset()" >/dev/null
START=$("${PSQL[@]}" -At -c "SELECT clock_timestamp()")
log "profiling $PROFILED s of the $PHASE phase, from $AFTER s into it"
curl -fsS -o "$OUT/cpu-$SCENARIO.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$PROFILED"
END=$("${PSQL[@]}" -At -c "SELECT clock_timestamp()")
# What PostgreSQL did in the window, kept before the loadtest goes on.
"${PSQL[@]}" -c "CREATE TABLE profiled AS SELECT query, calls, total_exec_time, mean_exec_time, total_plan_time, wal_bytes FROM pg_stat_statements"
MADE=$("${PSQL[@]}" -At -c "SELECT count(*) FROM $TABLE WHERE $AT >= '$START' AND $AT < '$END'")
log "$MADE ${SCENARIO}s made in the window"
wait "$LOADTEST" || log "the loadtest reported failures (see $OUT/loadtest-$SCENARIO.txt)"

{
  echo "# $SCENARIO: $MADE made from $START to $END (server CPU profile: $OUT/cpu-$SCENARIO.pprof)"
  echo "# per $SCENARIO made: calls, execution ms, planning ms, WAL bytes; mean execution ms of a call; then the statement"
  "${PSQL[@]}" -F $'\t' -A -c "
    SELECT round(calls::numeric / greatest($MADE, 1), 3) AS calls_per,
           round((total_exec_time / greatest($MADE, 1))::numeric, 4) AS ms_per,
           round((total_plan_time / greatest($MADE, 1))::numeric, 4) AS plan_ms_per,
           round(wal_bytes / greatest($MADE, 1), 1) AS wal_bytes_per,
           round(mean_exec_time::numeric, 4) AS mean_ms,
           left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
    FROM profiled
    WHERE query NOT LIKE '%pg_stat_statements%'
    ORDER BY total_exec_time DESC LIMIT 25"
  "${PSQL[@]}" -F $'\t' -A -c "
    SELECT 'total' AS what, round(sum(calls)::numeric / greatest($MADE, 1), 3) AS calls_per,
           round((sum(total_exec_time) / greatest($MADE, 1))::numeric, 4) AS ms_per,
           round((sum(total_plan_time) / greatest($MADE, 1))::numeric, 4) AS plan_ms_per,
           round(sum(wal_bytes) / greatest($MADE, 1), 1) AS wal_bytes_per
    FROM profiled WHERE query NOT LIKE '%pg_stat_statements%'"
  echo "# server CPU, top functions:"
  go tool pprof -top -nodecount=25 "$BIN" "$OUT/cpu-$SCENARIO.pprof" 2>/dev/null || true
} | tee "$OUT/profile-$SCENARIO.txt"
cat "$OUT/loadtest-$SCENARIO.txt"
