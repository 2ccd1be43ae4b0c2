#!/usr/bin/env bash
# Runs the on-sale against three Boxoffice instances that share one
# PostgreSQL and one Redis: first through an haproxy load balancer, then
# spread over the instances directly. With REDIS_CLUSTER=1 the instances
# share a Redis Cluster of its own instead: three masters with one replica
# each, started on REDIS_PORT..REDIS_PORT+5 (default 17000; cluster bus on
# the port + 100) with persistence off, and removed at the end;
# KILL_MASTER=SECONDS then kills the master serving the on-sale's room
# (kill -9) that long after the sale opens, in the first on-sale, lets its
# replica take over and starts it again as a replica. Installs haproxy from
# Debian if it is missing. Stops everything it started when it exits, and
# drops the schema and Redis keys it used.
#
#   scripts/cluster.sh [loadtest flags...]     e.g. scripts/cluster.sh --fans 20000 --dates 20
#   REDIS_CLUSTER=1 KILL_MASTER=5 scripts/cluster.sh --fans 5000 --robust
#
# Environment: BOXOFFICE_DATABASE_URL (postgres://…, default the local test
# database), BOXOFFICE_REDIS_URL (default redis://127.0.0.1:6379/0; unused
# with REDIS_CLUSTER=1),
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
REDIS_PIDS=()
LOADTEST=
SCHEMA_MADE=0
REDIS_CLUSTER=${REDIS_CLUSTER:-0}
REDIS_PORT=${REDIS_PORT:-17000}
KILL_MASTER=${KILL_MASTER:-}

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
  for f in "$WORK"/redis-*/pid; do
    if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
  done
  if [ "$REDIS_CLUSTER" != 1 ] && command -v redis-cli >/dev/null 2>&1; then
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

# A Redis Cluster of its own: six nodes, three masters with a replica each.
start_node() { # index
  local port=$((REDIS_PORT + $1))
  mkdir -p "$WORK/redis-$1"
  # In a subshell, so that the node is no job of this shell's.
  (redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-port $((port + 100)) --cluster-config-file "$WORK/redis-$1/nodes.conf" \
    --cluster-node-timeout 2000 --cluster-replica-validity-factor 0 \
    --repl-diskless-sync-delay 0 --save '' --appendonly no --dir "$WORK/redis-$1" \
    >>"$WORK/redis-$1/server.log" 2>&1 & echo $! >"$WORK/redis-$1/pid")
  REDIS_PIDS[$1]=$(cat "$WORK/redis-$1/pid")
  for _ in $(seq 1 50); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  log "Redis node on $port did not start"; cat "$WORK/redis-$1/server.log" >&2; return 1
}
cluster_ok() { # every live node reports cluster_state:ok
  local i
  for i in 0 1 2 3 4 5; do
    if [ -n "${REDIS_PIDS[$i]}" ] && ! redis-cli -p $((REDIS_PORT + i)) cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
      return 1
    fi
  done
}
wait_cluster() {
  for _ in $(seq 1 300); do
    if cluster_ok; then return 0; fi
    sleep 0.1
  done
  log "the Redis Cluster did not become healthy"; return 1
}
if [ "$REDIS_CLUSTER" = 1 ]; then
  need redis-server
  need redis-cli
  nodes=()
  for i in 0 1 2 3 4 5; do
    free_port $((REDIS_PORT + i))
    free_port $((REDIS_PORT + i + 100))
    start_node "$i"
    nodes+=("127.0.0.1:$((REDIS_PORT + i))")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$WORK/cluster-create.log" 2>&1 ||
    { cat "$WORK/cluster-create.log" >&2; exit 1; }
  wait_cluster
  REDIS_URL="redis://${nodes[0]}?$(IFS='&'; for n in "${nodes[@]:1}"; do printf 'addr=%s&' "$n"; done | sed 's/&$//')"
  log "Redis Cluster on ${nodes[*]}"
fi

# slot_master SLOT prints the index of the live master that serves SLOT.
slot_master() {
  local i port
  for i in 0 1 2 3 4 5; do
    port=$((REDIS_PORT + i))
    if [ -n "${REDIS_PIDS[$i]}" ] && redis-cli -p "$port" role 2>/dev/null | head -n1 | grep -q master &&
      redis-cli -p "$port" cluster nodes 2>/dev/null | grep myself | awk -v s="$1" '{ for (f = 9; f <= NF; f++) { split($f, r, "-"); if (r[2] == "") r[2] = r[1]; if (s >= r[1] && s <= r[2]) found = 1 } } END { exit !found }'; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

# kill_master SECONDS: waits for the on-sale's concert, then kills the
# master serving its room SECONDS after the opening, waits for its replica
# to take over, and starts it again.
kill_master() {
  local after=$1 id opens slot master now=
  for _ in $(seq 1 600); do
    id=$(curl -fsS "http://127.0.0.1:$BASE_PORT/v1/concerts" 2>/dev/null | grep -o '"concertId":"[^"]*"' | head -n1 | cut -d'"' -f4) || true
    if [ -n "$id" ]; then break; fi
    sleep 0.1
  done
  if [ -z "$id" ]; then log "no concert seen: no master killed"; return 1; fi
  opens=$(curl -fsS "http://127.0.0.1:$BASE_PORT/v1/concerts/$id" | grep -o '"salesOpenAt":"[^"]*"' | cut -d'"' -f4)
  sleep "$(awk -v t="$(date -d "$opens" +%s.%N)" -v now="$(date +%s.%N)" -v a="$after" 'BEGIN { d = t + a - now; print (d > 0 ? d : 0) }')"
  slot=$(redis-cli -p "$REDIS_PORT" cluster keyslot "{$id}")
  master=$(slot_master "$slot") || true
  if [ -z "$master" ]; then log "no master serves slot $slot"; return 1; fi
  local start began ended
  start=$(date +%s.%N)
  began=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
  kill -9 "${REDIS_PIDS[$master]}"
  REDIS_PIDS[$master]=
  log "killed the master on $((REDIS_PORT + master)) serving concert $id (slot $slot)"
  for _ in $(seq 1 300); do
    if now=$(slot_master "$slot") && [ "$now" != "$master" ] && cluster_ok; then break; fi
    sleep 0.1
  done
  if [ -z "$now" ] || [ "$now" = "$master" ] || ! cluster_ok; then log "no replica took over"; return 1; fi
  ended=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
  printf '[{"name": "Redis master killed", "start": "%s", "end": "%s"}]\n' "$began" "$ended" >"$FAULTS.tmp"
  mv "$FAULTS.tmp" "$FAULTS"
  log "a replica took over $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s after the kill"
  start_node "$master"
  wait_cluster
  log "the killed node is back as a replica"
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
KILLER=
FAULTS=$WORK/faults.json
if [ "$REDIS_CLUSTER" = 1 ] && [ -n "$KILL_MASTER" ]; then
  echo '[]' >"$FAULTS"
  kill_master "$KILL_MASTER" >&2 &
  KILLER=$!
  onsale haproxy "http://127.0.0.1:$LB_PORT" --robust --faults "$FAULTS" "$@" || status=1
else
  onsale haproxy "http://127.0.0.1:$LB_PORT" "$@" || status=1
fi
if [ -n "$KILLER" ]; then wait "$KILLER" || status=1; fi
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
