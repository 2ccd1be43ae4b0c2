#!/usr/bin/env bash
# Runs the on-sale against three Boxoffice instances that share one
# PostgreSQL and one Redis: first through an haproxy load balancer, then
# spread over the instances directly. Installs haproxy from Debian if it is
# missing. Stops everything it started when it exits, and drops the schema
# and Redis keys it used.
#
#   scripts/cluster.sh [loadtest flags...]     e.g. scripts/cluster.sh --fans 20000 --dates 20
#
# Environment: BOXOFFICE_DATABASE_URL (postgres://…, default the local test
# database), BOXOFFICE_REDIS_URL (default redis://127.0.0.1:6379/0),
# OUT (results directory, default ./cluster-results), BASE_PORT (first
# instance's port, default 18181), LB_PORT (default 18180), PPROF=1 to serve
# /debug/pprof/ on 127.0.0.1:6061..6063, BIN (a built boxoffice binary).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DB_URL=${BOXOFFICE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS_URL=${BOXOFFICE_REDIS_URL:-redis://127.0.0.1:6379/0}
OUT=${OUT:-$PWD/cluster-results}
BASE_PORT=${BASE_PORT:-18181}
LB_PORT=${LB_PORT:-18180}
INSTANCES=3
WORK=$(mktemp -d)
RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
SCHEMA=cluster_$RUN_ID
PREFIX=cluster:$RUN_ID:
ADMIN_KEY=cluster-admin-$RUN_ID-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
SECRET=cluster-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PIDS=()
LOADTEST=
SCHEMA_MADE=0

log() { echo "cluster: $*" >&2; }

cleanup() {
  local status=$?
  if [ -n "$LOADTEST" ]; then kill "$LOADTEST" 2>/dev/null || true; wait "$LOADTEST" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "$SCHEMA_MADE" = 1 ]; then
    psql -q "$DB_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || log "could not drop schema $SCHEMA"
  fi
  if command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX*" 2>/dev/null | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  log "stopped everything it started"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1 || { log "$1 is required"; exit 1; }; }
need curl

if ! command -v haproxy >/dev/null 2>&1; then
  log "installing haproxy"
  apt-get update && apt-get install -y haproxy
fi

BIN=${BIN:-}
if [ -z "$BIN" ]; then
  log "building boxoffice"
  (cd "$ROOT" && go build -o "$WORK/boxoffice" ./cmd/boxoffice)
  BIN=$WORK/boxoffice
fi

# A schema of its own, when psql is at hand; otherwise the database as given.
DATABASE_URL=$DB_URL
if command -v psql >/dev/null 2>&1; then
  psql -q "$DB_URL" -c "CREATE SCHEMA $SCHEMA" >/dev/null
  SCHEMA_MADE=1
  case "$DB_URL" in
    *\?*) DATABASE_URL="$DB_URL&search_path=$SCHEMA" ;;
    *) DATABASE_URL="$DB_URL?search_path=$SCHEMA" ;;
  esac
fi
# Three instances share PostgreSQL's connection limit (100 by default).
case "$DATABASE_URL" in
  *pool_max_conns*) ;;
  *\?*) DATABASE_URL="$DATABASE_URL&pool_max_conns=24" ;;
  *) DATABASE_URL="$DATABASE_URL?pool_max_conns=24" ;;
esac

free_port() { # port
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    log "port $1 is already in use; set BASE_PORT and LB_PORT"
    exit 1
  fi
}

wait_ready() { # url
  for _ in $(seq 1 100); do
    if curl -fsS "$1/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "$1 did not become ready"
  return 1
}

# The first instance migrates alone; the others then start on the same schema.
DIRECT=()
for i in $(seq 1 $INSTANCES); do
  port=$((BASE_PORT + i - 1))
  free_port "$port"
  pprof=""
  if [ "${PPROF:-0}" = 1 ]; then pprof=127.0.0.1:$((6060 + i)); fi
  BOXOFFICE_ADDR=127.0.0.1:$port \
  BOXOFFICE_DATABASE_URL=$DATABASE_URL \
  BOXOFFICE_REDIS_URL=$REDIS_URL \
  BOXOFFICE_REDIS_PREFIX=$PREFIX \
  BOXOFFICE_ADMIN_KEY=$ADMIN_KEY \
  BOXOFFICE_SECRET=$SECRET \
  BOXOFFICE_DEMO=false \
  BOXOFFICE_RATE_LIMIT=0 \
  BOXOFFICE_SIGNUP_LIMIT=0 \
  BOXOFFICE_TRUSTED_PROXIES=127.0.0.1/32 \
  BOXOFFICE_LOG_LEVEL=warn \
  BOXOFFICE_PPROF_ADDR=$pprof \
    "$BIN" serve >"$WORK/instance-$i.log" 2>&1 &
  PIDS+=($!)
  DIRECT+=("http://127.0.0.1:$port")
  wait_ready "http://127.0.0.1:$port" || { cat "$WORK/instance-$i.log" >&2; exit 1; }
  log "instance $i on 127.0.0.1:$port"
done

# Each proxied connection takes two descriptors.
fds=$(ulimit -n)
if [ "$fds" = unlimited ]; then fds=65536; fi
maxconn=$(( (fds - 100) / 2 ))
if [ $maxconn -gt 20000 ]; then maxconn=20000; fi
cat >"$WORK/haproxy.cfg" <<CFG
global
    maxconn $maxconn

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    option forwardfor

frontend boxoffice
    bind 127.0.0.1:$LB_PORT
    default_backend instances

backend instances
    balance roundrobin
    http-reuse always
    option httpchk GET /readyz
$(for i in $(seq 1 $INSTANCES); do echo "    server b$i 127.0.0.1:$((BASE_PORT + i - 1)) check inter 2s"; done)
CFG
free_port "$LB_PORT"
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$LB_PORT" || { cat "$WORK/haproxy.log" >&2; exit 1; }
log "haproxy on 127.0.0.1:$LB_PORT in front of ${DIRECT[*]}"

# The loadtest runs in the background so that an interrupt reaches the trap
# at once.
onsale() { # name, targets, loadtest flags...
  local name=$1 targets=$2 status=0
  shift 2
  BOXOFFICE_ADMIN_KEY=$ADMIN_KEY "$BIN" loadtest onsale --target "$targets" \
    --out "$OUT/onsale-$name.json" --svg-dir "$OUT/$name" "$@" >"$OUT/onsale-$name.txt" &
  LOADTEST=$!
  wait "$LOADTEST" || status=$?
  LOADTEST=
  cat "$OUT/onsale-$name.txt"
  return $status
}

mkdir -p "$OUT"
status=0
log "on-sale through haproxy"
onsale haproxy "http://127.0.0.1:$LB_PORT" "$@" || status=1
log "on-sale spread over the instances directly"
onsale direct "$(IFS=,; echo "${DIRECT[*]}")" "$@" || status=1

for i in $(seq 1 $INSTANCES); do
  if grep -qE 'level=(WARN|ERROR)' "$WORK/instance-$i.log"; then
    log "instance $i logged warnings or errors:"
    grep -E 'level=(WARN|ERROR)' "$WORK/instance-$i.log" | tail -n 20 >&2
  fi
done
if [ $status = 0 ]; then log "passed; results in $OUT"; else log "FAILED; results in $OUT"; fi
exit $status
