#!/usr/bin/env bash
# make bench: measures consent-relay against the machine's own HTTP ceiling, in one run.
# Prints a table and writes it to bench/results/latest.md. BENCH_SECONDS sets each phase's length
# (default 10); --smoke runs every phase for 1 s (make test uses it so this script cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE=${BENCH_SECONDS:-10}
OUT=bench/results/latest.md
if [[ "${1:-}" == "--smoke" ]]; then SECONDS_PER_PHASE=1; OUT=$(mktemp); fi

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v psql >/dev/null || need+=(postgresql)
PEER=1
[[ "${1:-}" == "--smoke" ]] && PEER=0  # the peer's phases need Redis and npm packages: full runs only
if [[ $PEER == 1 ]]; then command -v redis-server >/dev/null || need+=(redis-server); fi
if [[ ${#need[@]} -gt 0 ]]; then
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}"
fi
RELAY=${RELAY_BINARY:-build/consent-relay}
[[ -x "$RELAY" ]] || { echo "bench: build first (make build)"; exit 1; }

# The tree the binary was built from, taken as the run starts (edits made during the run do not
# count): "-dirty" means uncommitted changes were present.
COMMIT=$(git describe --always --dirty --abbrev=7 2>/dev/null || echo unknown)
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Processes started inside a phase's subshell (the peer and its Redis) record their pids here.
  if [[ -f "$WORK/subshell.pids" ]]; then
    while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/subshell.pids"
  fi
  scripts/pg-test-cluster stop "$WORK/pg" >/dev/null 2>&1 || true
  for g in /sys/fs/cgroup/cpu/relay-bench-"$$"-*; do [[ -d "$g" ]] && rmdir "$g" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# CPU seconds (user + system) the given processes have used so far.
cpu_seconds() {  # the processes given and their children (the peer's cluster processes)
  local ticks=0 t
  for pid in "$@" $(for p in "$@"; do pgrep -P "$p"; done); do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    ticks=$((ticks + t))
  done
  python3 -c "print(f'{$ticks / $(getconf CLK_TCK):.2f}')"
}
# SIGTERM, up to 5 s to exit, then SIGKILL.
stop_process() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# Requests nginx has served so far (its stub_status; includes this request).
nginx_requests() { curl -s "http://127.0.0.1:$NGINX_PORT/nginx_status" | awk 'NR == 3 {print $3}'; }
# wrk's output -> "rate_2xx p50_ms p99_ms errors": the rate counts 2xx answers only; errors are
# the other answers plus socket errors (connect, read, write, timeout).
wrk_figures() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
seconds = ms(total.group(2) + total.group(3)) / 1000 if total.group(3) != "m" else float(total.group(2)) * 60
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(non2xx.group(1)) if non2xx else 0
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = bad + (sum(int(x) for x in sock.groups()) if sock else 0)
p50 = re.search(r"\s50%\s+(\S+)", text).group(1)
p99 = re.search(r"\s99%\s+(\S+)", text).group(1)
print(f"{(int(total.group(1)) - bad) / seconds:.0f} {ms(p50):.1f} {ms(p99):.1f} {errors}")
PY
}

# A phase that errs or misses its sample stops the run (the smoke run included): a figure
# measured on failures would be a wrong figure.
# Phases run in subshells (`read < <(phase)`), so a failure leaves a mark the main shell checks
# after each phase (`ok`).
fail() { echo "bench: $*" >&2; touch "$WORK/failed"; exit 1; }
ok() { [[ ! -f "$WORK/failed" ]] || exit 1; }
# $1 = phase name, $2 = wrk output file: fails when any request erred.
check_wrk() {
  local errors; read -r _ _ _ errors < <(wrk_figures "$2")
  if [[ "$errors" != 0 ]]; then
    grep -E "Non-2xx|Socket errors" "$2" >&2 || true
    fail "phase $1: $errors requests failed"
  fi
}

# --- the receiver and the ceiling -----------------------------------------------------------
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT; keepalive_requests 1000000;
    location / { return 200 "ok"; }
    # nginx's own request count: deliveries are counted where they arrive.
    location = /nginx_status { stub_status; }
  }
}
CONF
nginx -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
pids+=("$(cat "$WORK/nginx/nginx.pid")")
# The ceiling with the relay phases' connection count (32), before the run and again after it: the
# two show how much the machine itself moved during the run.
ceiling() {  # $1 = output file; prints "rate p50 p99"
  wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/ceiling.lua "http://127.0.0.1:$NGINX_PORT/" > "$1"
  check_wrk ceiling "$1"
  local r p50 p99; read -r r p50 p99 _ < <(wrk_figures "$1"); echo "$r $p50 $p99"
}
read -r CEIL CEIL_P50 CEIL_P99 < <(ceiling "$WORK/ceiling.txt")
ok

# --- consent-relay ---------------------------------------------------------------------------
# Every relay phase sends with the peer's concurrency: 64 at once per endpoint (the relay's
# default is 32).
RELAY_FLAGS=(--max-in-flight-per-integration 64)
start_relay() {  # $1 = data dir, rest = flags
  local dir=$1; shift
  local port; port=$(free_port)
  "$RELAY" serve --data-dir "$dir" --listen "127.0.0.1:$port" --log-level warn "${RELAY_FLAGS[@]}" "$@" \
    > "$dir.out" 2> "$dir.log" &
  pids+=("$!")
  RELAY_PID=$!
  for _ in $(seq 100); do grep -q listening "$dir.out" 2>/dev/null && break; sleep 0.05; done
  RELAY_URL="http://127.0.0.1:$port"
}
setup_org() {  # $1 = data dir; prints what `keys create` printed for organization "bench"
  "$RELAY" keys create --data-dir "$1" --organization bench
  "$RELAY" orgs enable bench --feature webhooks --data-dir "$1" >/dev/null
}
session() {  # $1 = what `keys create` printed; prints an access token from RELAY_URL
  python3 -c 'import json,sys; k=json.loads(sys.argv[1]); print(json.dumps({"type": "api-key", "key": k["key"], "secret": k["secret"]}))' "$1" |
    curl -s "$RELAY_URL/v1/sessions" -H 'Content-Type: application/json' -d @- |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
metric() {  # $1 = metric line prefix
  curl -s "$RELAY_URL/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $NF}' | head -1
}

# An integration for each of the given organizations, through the API (one keep-alive connection).
create_integrations() {  # $1 = per organization, rest = organizations
  python3 - "$RELAY_URL" "$TOKEN" "$NGINX_PORT" "$@" <<'PY'
import http.client, json, sys, urllib.parse
url, token, port, per = urllib.parse.urlparse(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection(url.hostname, url.port)
import os
properties = {"url": f"http://127.0.0.1:{port}/hook"}
if os.environ.get("ORDERING"): properties["ordering"] = os.environ["ORDERING"]
body = json.dumps({"type_id": "webhook-http", "properties": properties})
for org in sys.argv[5:]:
    for _ in range(per):
        conn.request("POST", f"/v1/marketplace/integrations?organization_id={org}", body,
                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if r.status != 201: sys.exit(f"creating an integration: HTTP {r.status}")
PY
}
# Exact created -> delivered latency (ms) of every delivered message, from the stopped server's
# database: the successful attempt's end minus the message's creation. Prints "p50 p99 max count".
latency_from_db() {  # $1 = data dir
  sqlite3 "$1/relay.db" "SELECT a.started_at + a.duration_ms - m.created_at FROM delivery_attempts a
    JOIN deliveries d ON d.seq = a.delivery_seq JOIN messages m ON m.seq = d.message_seq
    WHERE a.http_status BETWEEN 200 AND 299" | python3 -c '
import sys
v = sorted(int(x) for x in sys.stdin if x.strip())
q = lambda p: v[min(len(v) - 1, int(p * len(v)))] if v else 0
print(q(0.5), q(0.99), v[-1] if v else 0, len(v))'
}

# Ingest: durable 201s, no delivery.
mkdir -p "$WORK/ingest"
KEY=$(setup_org "$WORK/ingest")
start_relay "$WORK/ingest" --no-dispatch --allow-destination 127.0.0.0/8
export TOKEN ORG=bench ORGS=0 RATE=0 CONNECTIONS=32
TOKEN=$(session "$KEY")
create_integrations 1 bench
# Bytes the server wrote to storage over the phase (/proc/PID/io write_bytes: the WAL, the
# checkpoints into the database file), per event acknowledged.
written_bytes() { awk '/^write_bytes/ {print $2}' "/proc/$1/io"; }
WRITTEN_BEFORE=$(written_bytes "$RELAY_PID")
wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua "$RELAY_URL/" > "$WORK/ingest.txt"
check_wrk ingest "$WORK/ingest.txt"
read -r INGEST INGEST_P50 INGEST_P99 INGEST_ERR < <(wrk_figures "$WORK/ingest.txt")
INGEST_COUNT=$(awk '/requests in/ {print $1}' "$WORK/ingest.txt")
BYTES_PER_EVENT=$(( ($(written_bytes "$RELAY_PID") - WRITTEN_BEFORE) / (INGEST_COUNT > 0 ? INGEST_COUNT : 1) ))
ok
# The same with Didomi's batch import: arrays of 100 events, each array one transaction.
BATCH=100 wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua "$RELAY_URL/" \
  > "$WORK/ingest-batch.txt"
check_wrk ingest-batch "$WORK/ingest-batch.txt"
read -r BATCHES _ BATCH_P99 _ < <(wrk_figures "$WORK/ingest-batch.txt")
INGEST_BATCH=$((BATCHES * 100))
ok
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true

# End to end: ingest while delivering to nginx. $1 = name, $2 = organizations (1: "bench"),
# $3 = integrations per organization, $4 = events/s (0: as fast as it goes). Prints
# "deliveries/s events/s pending p50 p99 max delivered" (latency in ms).
e2e() {
  local name=$1 orgs=$2 per=$3 rate=$4
  local dir="$WORK/$name"
  mkdir -p "$dir"
  local org_list=(bench)
  if [[ "$orgs" -gt 1 ]]; then org_list=(); for i in $(seq "$orgs"); do org_list+=("bench-$i"); done; fi
  local args=()
  for o in "${org_list[@]}"; do args+=(--organization "$o"); done
  local key; key=$("$RELAY" keys create --data-dir "$dir" "${args[@]}")
  local now; now=$(($(date +%s) * 1000))
  sqlite3 "$dir/relay.db" "INSERT OR IGNORE INTO organization_features (organization_id, feature, enabled_at)
    SELECT id, 'webhooks', $now FROM organizations" >/dev/null
  start_relay "$dir" --allow-destination 127.0.0.0/8
  TOKEN=$(session "$key")
  create_integrations "$per" "${org_list[@]}"
  local start_ns end_ns
  local nginx_before cpu_before; nginx_before=$(nginx_requests); cpu_before=$(cpu_seconds "$RELAY_PID")
  start_ns=$(date +%s%N)
  ORGS=$([[ "$orgs" -gt 1 ]] && echo "$orgs" || echo 0) RATE=$rate \
    wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua "$RELAY_URL/" > "$dir.wrk"
  end_ns=$(date +%s%N)
  check_wrk "$name" "$dir.wrk"
  # Counted at nginx too, and the relay's CPU over the phase (read back by the peer comparison).
  # "deliveries/s cpu_seconds deliveries"
  local counted=$(( $(nginx_requests) - nginx_before - 1 ))
  python3 -c "print(f'{$counted / (($end_ns - $start_ns) / 1e9):.0f} {$(cpu_seconds "$RELAY_PID") - $cpu_before:.2f} $counted')" > "$dir.nginx_cpu"
  local pending; pending=$(metric relay_deliveries_pending)
  # Let the last deliveries land (up to 60 s) so the latency covers every message.
  for _ in $(seq 1200); do [[ "$(metric relay_deliveries_pending)" == "0" ]] && break; sleep 0.05; done
  [[ "$(metric relay_deliveries_pending)" == "0" ]] || fail "phase $name: deliveries still pending 60 s after the load"
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  # The average webhook body (compared with the peer's).
  sqlite3 "$dir/relay.db" "SELECT CAST(avg(length(payload)) AS INTEGER) FROM messages" >> "$dir.nginx_cpu"
  local rate_out events
  rate_out=$(python3 -c "print(f'{$counted / (($end_ns - $start_ns) / 1e9):.0f}')")
  read -r events _ _ _ < <(wrk_figures "$dir.wrk")
  echo "$rate_out $events ${pending:-0} $(latency_from_db "$dir")"
}
ORGS_MANY=${ORGS_MANY:-1000}
if [[ "${1:-}" == "--smoke" ]]; then ORGS_MANY=20; fi
read -r E2E E2E_INGEST E2E_PENDING E2E_P50 E2E_P99 E2E_MAX _ < <(e2e e2e1 1 1 0)
ok
# What per-user ordering (the default) costs: the same phase with "ordering": "none".
read -r E2EN E2EN_INGEST _ E2EN_P50 E2EN_P99 _ _ < <(ORDERING=none e2e e2enone 1 1 0)
ok
read -r E2E3 E2E3_INGEST _ _ _ _ _ < <(e2e e2e3 1 3 0)
ok
read -r E2EM E2EM_INGEST _ _ _ _ _ < <(e2e e2em "$ORGS_MANY" 1 0)
ok
# Latency at half the saturated rate of the one-integration phase, paced (not a flood).
HALF=$(( E2E_INGEST / 2 > 1 ? E2E_INGEST / 2 : 1 ))
read -r _ HALF_INGEST _ LAT_P50 LAT_P99 LAT_MAX LAT_N < <(e2e half 1 1 "$HALF")
ok

# Backlog and growth: deliveries seeded straight into the database (the API would take minutes
# to accumulate a million), spread over 100 integrations, then drained to nginx. The drain rate
# is measured over the first DRAIN_SAMPLE successes; peak RSS is the server's VmHWM.
BACKLOG_PAYLOAD='{"type":"event.created","regulation":"gdpr","parameters":{"entity":{"id":"evt_bench","consents":{"purposes":[{"id":"analytics","enabled":true}]}}}}'
seed_backlog() {  # $1 = data dir, $2 = deliveries (a multiple of 100)
  local dir=$1 rows=$2
  KEY=$(setup_org "$dir")
  start_relay "$dir" --no-dispatch --allow-destination 127.0.0.0/8
  TOKEN=$(session "$KEY")
  create_integrations 100 bench
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  local now; now=$(($(date +%s) * 1000))
  sqlite3 "$dir/relay.db" <<SQL
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((rows / 100)))
INSERT INTO messages (id, organization_id, type, regulation, ordering_key, payload, created_at)
  SELECT 'msg_bench_' || i, 'bench', 'event.created', 'gdpr', 'user-' || i, '$BACKLOG_PAYLOAD', $now FROM n;
INSERT INTO deliveries (id, organization_id, integration_id, message_seq, type, ordering_key,
                        sequence, status, next_attempt_at, created_at, updated_at)
  SELECT 'dlv_bench_' || m.seq || '_' || i.id, 'bench', i.id, m.seq, m.type, m.ordering_key, m.seq,
         'pending', $now, $now, $now
  FROM messages m CROSS JOIN integrations i WHERE i.organization_id = 'bench';
-- The ready queue: each (integration, user) is a lane; its integration is due.
INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined)
  SELECT integration_id, ordering_key, 'ready', min(next_attempt_at), count(*) FROM deliveries
  WHERE lane_id IS NULL AND status = 'pending' GROUP BY integration_id, ordering_key;
UPDATE deliveries SET lane_id = (SELECT l.lane_id FROM lanes l WHERE l.integration_id =
  deliveries.integration_id AND l.ordering_key = deliveries.ordering_key) WHERE lane_id IS NULL;
UPDATE integration_health SET next_due_at = $now
  WHERE integration_id IN (SELECT id FROM integrations WHERE organization_id = 'bench');
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}
drain() {  # $1 = data dir, $2 = successes to time; prints "rate peak_rss_mb"
  local dir=$1 target=$2
  start_relay "$dir" --allow-destination 127.0.0.0/8
  # Timed from the first success (start-up and the first claim excluded) to `target` successes.
  local done_count=0
  for _ in $(seq 2400); do
    done_count=$(metric 'relay_deliveries_total{status="succeeded"}'); done_count=${done_count:-0}
    [[ "$done_count" -ge "$target" ]] && break
    sleep 0.02
  done
  [[ "$done_count" -ge "$target" ]] || fail "drain: $done_count of $target deliveries sent in 48 s"
  local rss; rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$RELAY_PID/status")
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  # The rate from the attempts' own end times (exact, no polling): from the 1,000th success (the
  # start and the first claims left out) to the last one counted.
  local rate
  rate=$(sqlite3 "$dir/relay.db" "SELECT started_at + duration_ms FROM delivery_attempts
      WHERE http_status BETWEEN 200 AND 299 ORDER BY 1 LIMIT $target" | python3 -c '
import sys
t = [int(x) for x in sys.stdin if x.strip()]
print(f"{(len(t) - 1000) / max(1, t[-1] - t[999]) * 1000:.0f}" if len(t) > 1000 else 0)')
  echo "$rate $rss"
}
BACKLOG_ROWS=${BACKLOG_ROWS:-1000000}
DRAIN_SAMPLE=${DRAIN_SAMPLE:-50000}
if [[ "${1:-}" == "--smoke" ]]; then BACKLOG_ROWS=4000; DRAIN_SAMPLE=2000; fi
mkdir -p "$WORK/backlog" "$WORK/small"
seed_backlog "$WORK/backlog" "$BACKLOG_ROWS"
read -r DRAIN_BIG RSS_BIG < <(drain "$WORK/backlog" "$DRAIN_SAMPLE")
ok
# Growth: the same drain from a table that holds only the sample. (A table of 1,000 rows drains in
# less than one claim's prefetch, too fast to time; the sample is what both tables drain.)
seed_backlog "$WORK/small" "$DRAIN_SAMPLE"
read -r DRAIN_SMALL RSS_SMALL < <(drain "$WORK/small" "$DRAIN_SAMPLE")
ok

# A hot lane: one user with 2,000 deliveries queued in one integration, drained. Its lane is held
# by the dispatcher and each next delivery sent right after the one before it succeeds.
seed_hot() {  # $1 = data dir
  local dir=$1
  KEY=$(setup_org "$dir")
  start_relay "$dir" --no-dispatch --allow-destination 127.0.0.0/8
  TOKEN=$(session "$KEY")
  create_integrations 1 bench
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  local now; now=$(($(date +%s) * 1000))
  sqlite3 "$dir/relay.db" <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
INSERT INTO messages (id, organization_id, type, regulation, ordering_key, payload, created_at)
  SELECT 'msg_hot_' || i, 'bench', 'event.created', 'gdpr', 'hot-user', '$BACKLOG_PAYLOAD', $now FROM n;
INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined)
  SELECT id, 'hot-user', 'ready', $now, 2000 FROM integrations WHERE organization_id = 'bench';
INSERT INTO deliveries (id, organization_id, integration_id, message_seq, type, ordering_key,
                        sequence, status, next_attempt_at, created_at, updated_at, lane_id)
  SELECT 'dlv_hot_' || m.seq, 'bench', l.integration_id, m.seq, m.type, m.ordering_key, m.seq,
         'pending', $now, $now, $now, l.lane_id FROM messages m CROSS JOIN lanes l;
UPDATE integration_health SET next_due_at = $now;
COMMIT;
SQL
}
mkdir -p "$WORK/hot"
seed_hot "$WORK/hot"
read -r HOT_SQLITE _ < <(drain "$WORK/hot" 2000)
ok

# PostgreSQL: the same ingest and end-to-end phases with 1 and with 2 nodes on one database (a
# throwaway cluster on this machine, fsync on, synchronous_commit on). With 2 nodes, a wrk per
# node (half the connections each) and the figures summed.
PG_URL=$(scripts/pg-test-cluster start "$WORK/pg")
head -c 32 /dev/urandom | base64 > "$WORK/pg-master.key"
chmod 600 "$WORK/pg-master.key"
# NODE_QUOTA (a share of one core, e.g. 0.25): each node runs in a cgroup of its own with that CPU
# quota (cgroup v1 cpu.cfs_quota_us; a phase fails where the machine does not allow it).
pg_phase() {  # $1 = name, $2 = nodes, $3 = dispatch (1/0); prints "rate p99 deliveries_per_s"
  local name=$1 nodes=$2 dispatch=$3
  local db="bench_$name"
  psql -q "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
  export CONSENT_RELAY_DATABASE="${PG_URL%/*}/$db"
  local key; key=$("$RELAY" keys create --data-dir "$WORK/$name-cli" --organization bench)
  "$RELAY" orgs enable bench --feature webhooks --data-dir "$WORK/$name-cli" >/dev/null
  local urls=() node_pids=()
  for n in $(seq "$nodes"); do
    mkdir -p "$WORK/$name-n$n"
    local flags=(--master-key-file "$WORK/pg-master.key" --allow-destination 127.0.0.0/8)
    [[ "$dispatch" == 1 ]] || flags+=(--no-dispatch)
    start_relay "$WORK/$name-n$n" "${flags[@]}"
    urls+=("$RELAY_URL"); node_pids+=("$RELAY_PID")
    if [[ -n "${NODE_QUOTA:-}" ]]; then
      local group="/sys/fs/cgroup/cpu/relay-bench-$$-$name-$n"
      mkdir "$group" || fail "phase $name: cannot create $group"
      local quota_us; quota_us=$(python3 -c "print(int($NODE_QUOTA * 100000))")
      echo "$quota_us" > "$group/cpu.cfs_quota_us"  # (python writing there directly gets EINVAL)
      echo 100000 > "$group/cpu.cfs_period_us"
      echo "$RELAY_PID" > "$group/cgroup.procs" || fail "phase $name: cannot move node $n into $group"
    fi
  done
  RELAY_URL=${urls[0]}
  TOKEN=$(session "$key")
  create_integrations 1 bench
  local nginx_before; nginx_before=$(nginx_requests)
  local start_ns; start_ns=$(date +%s%N)
  local conns=$((32 / nodes)) wrks=()
  for i in "${!urls[@]}"; do
    ORGS=0 RATE=0 CONNECTIONS=$conns wrk -t1 -c"$conns" -d"${SECONDS_PER_PHASE}"s --latency \
      -s bench/events.lua "${urls[$i]}/" > "$WORK/$name-wrk$i.txt" &
    wrks+=("$!")
  done
  wait "${wrks[@]}"
  local end_ns; end_ns=$(date +%s%N)
  local counted=$(( $(nginx_requests) - nginx_before - 1 ))
  # What the phase left behind: deliveries not yet sent when the load stopped (the database's own
  # count, read once).
  local pending
  pending=$(psql -qtA "$CONSENT_RELAY_DATABASE" -c "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'in_flight')")
  for p in "${node_pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  unset CONSENT_RELAY_DATABASE
  local rate=0 p99=0
  for i in "${!urls[@]}"; do
    local r p
    check_wrk "postgres-$name" "$WORK/$name-wrk$i.txt"
    read -r r _ p _ < <(wrk_figures "$WORK/$name-wrk$i.txt")
    rate=$((rate + r)); p99=$(python3 -c "print(max($p99, $p))")
  done
  echo "$rate $p99 $(python3 -c "print(f'{$counted / (($end_ns - $start_ns) / 1e9):.0f}')") $pending"
}
read -r PG1_INGEST PG1_INGEST_P99 _ < <(pg_phase ingest1 1 0)
ok
read -r PG2_INGEST PG2_INGEST_P99 _ < <(pg_phase ingest2 2 0)
ok
read -r PG1_E2E_EVENTS _ PG1_E2E PG1_PENDING < <(pg_phase e2e1 1 1)
ok
read -r PG2_E2E_EVENTS _ PG2_E2E PG2_PENDING < <(pg_phase e2e2 2 1)
ok
read -r PG3_E2E_EVENTS _ PG3_E2E PG3_PENDING < <(pg_phase e2e3 3 1)
ok
# Scaling out with a CPU share per node: 1, 2 and 3 nodes, each held to QUOTA of a core (so that
# the machine's two cores are not what the nodes share), where cgroup v1's cpu controller is
# writable here; otherwise these rows say "not allowed".
QUOTA=${QUOTA:-0.25}
quota_allowed() {
  local probe="/sys/fs/cgroup/cpu/relay-bench-$$-probe"
  mkdir "$probe" 2>/dev/null && echo 50000 > "$probe/cpu.cfs_quota_us" 2>/dev/null && rmdir "$probe"
}
if quota_allowed; then
  for n in 1 2 3; do
    read -r _ _ rate left < <(NODE_QUOTA=$QUOTA pg_phase "q$n" "$n" 1)
    ok
    declare "PGQ${n}=$rate" "PGQ${n}_LEFT=$left"
  done
else
  PGQ1="not allowed"; PGQ2="not allowed"; PGQ3="not allowed"
fi
# PostgreSQL drains: a backlog seeded with SQL into a stopped node's database, then one node. The
# rate is from the attempts' end times, the 200th success to the 2,000th.
pg_drain() {  # $1 = name, $2 = deliveries, $3 = lanes (users); prints the rate
  local name=$1 rows=$2 lanes=$3 db="bench_$1"
  psql -q "$PG_URL" -c "CREATE DATABASE $db" >/dev/null
  export CONSENT_RELAY_DATABASE="${PG_URL%/*}/$db"
  local key; key=$("$RELAY" keys create --data-dir "$WORK/$name-cli" --organization bench)
  "$RELAY" orgs enable bench --feature webhooks --data-dir "$WORK/$name-cli" >/dev/null
  mkdir -p "$WORK/$name-n1"
  local flags=(--master-key-file "$WORK/pg-master.key" --allow-destination 127.0.0.0/8)
  start_relay "$WORK/$name-n1" "${flags[@]}" --no-dispatch
  TOKEN=$(session "$key")
  create_integrations 1 bench
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  local now; now=$(($(date +%s) * 1000))
  psql -q "$CONSENT_RELAY_DATABASE" >/dev/null <<SQL
INSERT INTO messages (id, organization_id, type, regulation, ordering_key, payload, created_at)
  SELECT 'msg_bench_' || i, 'bench', 'event.created', 'gdpr', 'user-' || (i % $lanes),
         '$BACKLOG_PAYLOAD', $now FROM generate_series(1, $rows) i;
INSERT INTO deliveries (id, organization_id, integration_id, message_seq, type, ordering_key,
                        sequence, status, next_attempt_at, created_at, updated_at)
  SELECT 'dlv_bench_' || m.seq, 'bench', i.id, m.seq, m.type, m.ordering_key, m.seq, 'pending',
         $now, $now, $now FROM messages m CROSS JOIN integrations i WHERE i.organization_id = 'bench';
INSERT INTO lanes (integration_id, ordering_key, state, due_at, joined)
  SELECT integration_id, ordering_key, 'ready', min(next_attempt_at), count(*) FROM deliveries
  GROUP BY integration_id, ordering_key;
UPDATE deliveries d SET lane_id = l.lane_id FROM lanes l
  WHERE l.integration_id = d.integration_id AND l.ordering_key = d.ordering_key;
UPDATE integration_health SET next_due_at = $now;
VACUUM ANALYZE;
SQL
  start_relay "$WORK/$name-n1" "${flags[@]}"
  local done_count=0
  for _ in $(seq 3000); do
    done_count=$(metric 'relay_deliveries_total{status="succeeded"}'); done_count=${done_count:-0}
    [[ "$done_count" -ge 2000 ]] && break
    sleep 0.02
  done
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  [[ "$done_count" -ge 2000 ]] || fail "postgres drain $name: $done_count of 2000 sent in 60 s"
  psql -qtA "$CONSENT_RELAY_DATABASE" -c "SELECT started_at + duration_ms FROM delivery_attempts
      WHERE http_status BETWEEN 200 AND 299 ORDER BY 1 LIMIT 2000" | python3 -c '
import sys
t = [int(x) for x in sys.stdin if x.strip()]
print(f"{(len(t) - 200) / max(1, t[-1] - t[199]) * 1000:.0f}" if len(t) > 200 else 0)'
  unset CONSENT_RELAY_DATABASE
}
PG_DRAIN_BIG_ROWS=20000; PG_DRAIN_BIG_LANES=10000
if [[ "${1:-}" == "--smoke" ]]; then PG_DRAIN_BIG_ROWS=4000; PG_DRAIN_BIG_LANES=2000; fi
read -r PG_DRAIN_SMALL < <(pg_drain drain_small 2000 2000)
ok
read -r PG_DRAIN_BIG < <(pg_drain drain_big "$PG_DRAIN_BIG_ROWS" "$PG_DRAIN_BIG_LANES")
ok
read -r HOT_PG < <(pg_drain drain_hot 2000 1)
ok

# --- the peer: BullMQ on Redis, the usual Node.js build (bench/peer) ---------------------------
# The same wrk load against the peer's HTTP endpoint; it enqueues two jobs per event (event.created
# and user.updated) and, with its worker, POSTs them signed to the same nginx. Redis keeps an AOF
# fsynced every second. Deliveries are counted by nginx; CPU is node plus redis-server.
start_redis() {  # $1 = dir; sets REDIS_PORT and REDIS_PID
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$1" --appendonly yes \
    --appendfsync "${REDIS_FSYNC:-everysec}" --save "" > "$1/redis.log" 2>&1 &
  REDIS_PID=$!
  echo "$REDIS_PID" >> "$WORK/subshell.pids"
  for _ in $(seq 200); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
}
start_peer() {  # $1 = dir, rest = flags; sets PEER_PORT and PEER_PID
  local dir=$1; shift
  PEER_PORT=$(free_port)
  node bench/peer/peer.js --port "$PEER_PORT" --redis-port "$REDIS_PORT" \
    --target "http://127.0.0.1:$NGINX_PORT/hook" "$@" > "$dir/peer.out" 2> "$dir/peer.log" &
  PEER_PID=$!
  echo "$PEER_PID" >> "$WORK/subshell.pids"
  for _ in $(seq 200); do grep -q "peer listening" "$dir/peer.out" && break; sleep 0.05; done
  grep -q "peer listening" "$dir/peer.out" || { cat "$dir/peer.log" >&2; fail "the peer did not start"; }
}
# $1 = name, $2 = with worker (1/0). Prints
# "events/s p99_ms deliveries/s cpu_s errors delivered average_body_bytes".
peer_phase() {  # $3 = the worker concurrency per process (default 64)
  local name=$1 worker=$2 concurrency=${3:-64}
  local dir="$WORK/peer-$name"
  mkdir -p "$dir"
  start_redis "$dir"
  local flags=(--concurrency "$concurrency")
  [[ "$worker" == 1 ]] || flags+=(--no-worker)
  start_peer "$dir" "${flags[@]}"
  local nginx_before cpu_before start_ns end_ns
  nginx_before=$(nginx_requests); cpu_before=$(cpu_seconds "$PEER_PID" "$REDIS_PID"); start_ns=$(date +%s%N)
  TOKEN=peer wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua \
    "http://127.0.0.1:$PEER_PORT/" > "$dir.wrk"
  end_ns=$(date +%s%N)
  local delivered=$(( $(nginx_requests) - nginx_before - 1 ))
  local cpu; cpu=$(python3 -c "print(f'{$(cpu_seconds "$PEER_PID" "$REDIS_PID") - $cpu_before:.2f}')")
  stop_process "$PEER_PID"
  stop_process "$REDIS_PID"
  check_wrk "peer-$name" "$dir.wrk"
  local bytes
  bytes=$(tail -1 "$dir/peer.out" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["delivered_bytes"] // max(1, c["delivered"]))')
  local events p99 errors
  read -r events _ p99 errors < <(wrk_figures "$dir.wrk")
  echo "$events $p99 $(python3 -c "print(f'{$delivered / (($end_ns - $start_ns) / 1e9):.0f}')") $cpu $errors $delivered $bytes"
}
# The peer's backlog drain: BACKLOG_ROWS jobs with the relay's backlog payload, enqueued in bulk
# with the worker off, then the worker alone. The rate is timed at nginx from the 1,000th delivery
# to the DRAIN_SAMPLE-th, as the relay's; peak RSS is node's plus redis-server's (VmHWM).
# Prints "rate peak_rss_mb".
peer_drain() {
  local dir="$WORK/peer-drain"
  mkdir -p "$dir"
  start_redis "$dir"
  node bench/peer/peer.js --redis-port "$REDIS_PORT" --seed "$BACKLOG_ROWS" --payload "$BACKLOG_PAYLOAD" \
    > "$dir/seed.out" 2> "$dir/seed.log" || { cat "$dir/seed.log" >&2; fail "seeding the peer's backlog failed"; }
  local base; base=$(nginx_requests)
  start_peer "$dir" --no-ingest
  local n=0 t_first=0 t_last=0
  for _ in $(seq 6000); do
    n=$(( $(nginx_requests) - base - 1 ))
    if [[ "$t_first" == 0 && "$n" -ge 1000 ]]; then t_first=$(date +%s%N); n_first=$n; fi
    if [[ "$n" -ge "$DRAIN_SAMPLE" ]]; then t_last=$(date +%s%N); break; fi
    sleep 0.02
  done
  [[ "$t_last" != 0 ]] || fail "peer drain: $n of $DRAIN_SAMPLE deliveries sent in time"
  local rss=$(( $(awk '/VmHWM/ {print $2}' "/proc/$PEER_PID/status") + $(awk '/VmHWM/ {print $2}' "/proc/$REDIS_PID/status") ))
  stop_process "$PEER_PID"
  stop_process "$REDIS_PID"
  python3 -c "print(f'{($n - $n_first) / (($t_last - $t_first) / 1e9):.0f} {$rss // 1024}')"
}
if [[ $PEER == 1 ]]; then
  [[ -d bench/peer/node_modules/bullmq ]] ||
    (cd bench/peer && npm ci --no-audit --no-fund --loglevel=error)
  read -r PEER_INGEST PEER_INGEST_P99 _ _ PEER_INGEST_ERR _ _ < <(peer_phase ingest 0)
  ok
  # The peer at its best: one process per core (node:cluster, ingest and worker in each), and the
  # worker concurrency chosen by a sweep; the ratios use the best.
  PEER_E2E=0; PEER_SWEEP=""
  for c in ${PEER_CONCURRENCIES:-16 64 128}; do
    read -r ev _ d cpu err count bytes < <(peer_phase "e2e-c$c" 1 "$c")
    ok
    PEER_SWEEP="$PEER_SWEEP $c: $d;"
    if (( d > PEER_E2E )); then
      PEER_E2E_EVENTS=$ev; PEER_E2E=$d; PEER_E2E_CPU=$cpu; PEER_E2E_ERR=$err
      PEER_E2E_COUNT=$count; PEER_BYTES=$bytes; PEER_BEST_C=$c
    fi
  done
  # The same, with Redis fsyncing every write before it answers: the relay's durability.
  read -r PEER_ALWAYS_EVENTS _ PEER_ALWAYS _ _ _ _ < <(REDIS_FSYNC=always peer_phase e2e-always 1 "$PEER_BEST_C")
  ok
  read -r PEER_DRAIN PEER_RSS < <(peer_drain)
  ok
  read -r E2E_NGINX E2E_CPU E2E_COUNT < "$WORK/e2e1.nginx_cpu"
  RELAY_BYTES=$(tail -1 "$WORK/e2e1.nginx_cpu")
fi

read -r CEIL_AFTER CEIL_AFTER_P50 CEIL_AFTER_P99 < <(ceiling "$WORK/ceiling-after.txt")
ok

ratio() { python3 -c "print(f'{$1 / $CEIL:.3f}')"; }
{
  echo "# consent-relay benchmark"
  echo
  echo "- commit: $COMMIT, as the run started (\"-dirty\": uncommitted changes in the tree)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "- phase length: ${SECONDS_PER_PHASE} s; load generator (wrk), nginx and consent-relay share the machine"
  echo "- every rate counts 2xx answers only; a phase with any error or socket error stops the run"
  echo
  echo "| figure | value | ratio to ceiling |"
  echo "|---|---|---|"
  echo "| ceiling before the run: wrk POST 1.2 KB to nginx, 32 connections (req/s, p50/p99 ms) | $CEIL ($CEIL_P50 / $CEIL_P99) | 1 |"
  echo "| ceiling after the run, the same (req/s, p50/p99 ms) | $CEIL_AFTER ($CEIL_AFTER_P50 / $CEIL_AFTER_P99) | $(ratio "$CEIL_AFTER") |"
  echo "| ingest: consent events acknowledged 201, durable (events/s, p50/p99 ms, errors) | $INGEST ($INGEST_P50 / $INGEST_P99, $INGEST_ERR) | $(ratio "$INGEST") |"
  echo "| ingest: bytes written to storage per event acknowledged (the server's write_bytes over the phase) | $BYTES_PER_EVENT | |"
  echo "| ingest in batches of 100 events (events/s; p99 ms per batch) | $INGEST_BATCH ($BATCH_P99) | $(ratio "$INGEST_BATCH") |"
  echo "| end to end, 1 integration: deliveries/s counted by nginx while ingesting ($E2E_INGEST events/s) | $E2E | $(ratio "$E2E") |"
  echo "| the same with \"ordering\": \"none\" ($E2EN_INGEST events/s; created -> delivered p50 / p99 $E2EN_P50 / $E2EN_P99 ms) | $E2EN | $(ratio "$E2EN") |"
  echo "| what per-user ordering costs: end to end per_user / none (1.00 = nothing) | $(python3 -c "print(f'{$E2E / max(1, $E2EN):.2f}')") | |"
  echo "| end to end, 3 integrations per organization ($E2E3_INGEST events/s) | $E2E3 | $(ratio "$E2E3") |"
  echo "| end to end, $ORGS_MANY organizations with one integration each ($E2EM_INGEST events/s) | $E2EM | $(ratio "$E2EM") |"
  echo "| created -> delivered at saturation, 1 integration: p50 / p99 / max (ms) | $E2E_P50 / $E2E_P99 / $E2E_MAX | |"
  echo "| created -> delivered at half load ($HALF_INGEST events/s paced, $LAT_N deliveries): p50 / p99 / max (ms) | $LAT_P50 / $LAT_P99 / $LAT_MAX | |"
  echo "| backlog: drain rate with $BACKLOG_ROWS deliveries waiting over 100 integrations (successes 1,000 to $DRAIN_SAMPLE, deliveries/s) | $DRAIN_BIG | $(ratio "$DRAIN_BIG") |"
  echo "| backlog: server peak RSS during the drain (MB) | $RSS_BIG | |"
  echo "| growth: the same drain with only $DRAIN_SAMPLE deliveries in the table (deliveries/s; peak RSS $RSS_SMALL MB) | $DRAIN_SMALL | $(ratio "$DRAIN_SMALL") |"
  echo "| growth: drain rate with $BACKLOG_ROWS rows / with $DRAIN_SAMPLE rows (1.00 = claim cost flat) | $(python3 -c "print(f'{$DRAIN_BIG / max(1, $DRAIN_SMALL):.2f}')") | |"
  echo "| PostgreSQL, 1 node: ingest (events/s, p99 ms) | $PG1_INGEST ($PG1_INGEST_P99) | $(ratio "$PG1_INGEST") |"
  echo "| PostgreSQL, 2 nodes: ingest (events/s, p99 ms) | $PG2_INGEST ($PG2_INGEST_P99) | $(ratio "$PG2_INGEST") |"
  echo "| PostgreSQL, 1 node: end to end, 1 integration (deliveries/s by nginx; $PG1_E2E_EVENTS events/s; $PG1_PENDING left unsent when the load stopped) | $PG1_E2E | $(ratio "$PG1_E2E") |"
  echo "| PostgreSQL, 2 nodes: end to end, 1 integration (deliveries/s by nginx; $PG2_E2E_EVENTS events/s; $PG2_PENDING left unsent when the load stopped) | $PG2_E2E | $(ratio "$PG2_E2E") |"
  echo "| PostgreSQL, 3 nodes: end to end, 1 integration (deliveries/s by nginx; $PG3_E2E_EVENTS events/s; $PG3_PENDING left unsent when the load stopped) | $PG3_E2E | $(ratio "$PG3_E2E") |"
  echo "| PostgreSQL, nodes held to $QUOTA of a core each: end to end with 1 / 2 / 3 nodes (deliveries/s by nginx) | $PGQ1 / $PGQ2 / $PGQ3 | |"
  echo "| PostgreSQL, nodes held to $QUOTA of a core each: 2 nodes / 1, 3 nodes / 1 | $(python3 -c "print(f'{$PGQ2 / max(1, $PGQ1):.2f} / {$PGQ3 / max(1, $PGQ1):.2f}')" 2>/dev/null || echo n/a) | |"
  echo "| PostgreSQL, 1 node: drain of a backlog of 2000 in 2000 lanes (deliveries/s, 200th to 2,000th) | $PG_DRAIN_SMALL | $(ratio "$PG_DRAIN_SMALL") |"
  echo "| PostgreSQL, 1 node: the first 2000 of a backlog of $PG_DRAIN_BIG_ROWS in $PG_DRAIN_BIG_LANES lanes (deliveries/s) | $PG_DRAIN_BIG | $(ratio "$PG_DRAIN_BIG") |"
  echo "| PostgreSQL: large backlog / small (1.00 = claim cost flat) | $(python3 -c "print(f'{$PG_DRAIN_BIG / max(1, $PG_DRAIN_SMALL):.2f}')") | |"
  echo "| a hot lane: one user's 2000 queued deliveries drained, SQLite / PostgreSQL (deliveries/s) | $HOT_SQLITE / $HOT_PG | |"
  if [[ $PEER == 1 ]]; then
    vs() { python3 -c "print(f'{$1 / max(1e-9, $2):.2f}')"; }
    met() { python3 -c "print('**yes**' if $1 else 'no')"; }
    relay_cpu=$(python3 -c "print(f'{1000 * $E2E_CPU / max(1, $E2E_COUNT):.3f}')")
    peer_cpu=$(python3 -c "print(f'{1000 * $PEER_E2E_CPU / max(1, $PEER_E2E_COUNT):.3f}')")
    echo
    echo "Side by side with the peer (bench/peer: BullMQ $(node -p "require('./bench/peer/node_modules/bullmq/package.json').version") on Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'), AOF fsynced every second, one Node process per core for ingest and workers), same run, against the issue's targets:"
    echo
    echo "| figure | consent-relay | peer | relay / peer | target | met? |"
    echo "|---|---|---|---|---|---|"
    echo "| ingest: events acknowledged per second (relay: fsynced before each 201; peer: enqueued, not fsynced) | $INGEST | $PEER_INGEST (p99 $PEER_INGEST_P99 ms) | $(vs "$INGEST" "$PEER_INGEST") | ≥ 1.5 | $(met "$INGEST >= 1.5 * $PEER_INGEST") |"
    echo "| end to end, 1 integration: deliveries/s counted by nginx | $E2E_NGINX ($E2E_INGEST events/s) | $PEER_E2E ($PEER_E2E_EVENTS events/s) | $(vs "$E2E_NGINX" "$PEER_E2E") | ≥ 3 | $(met "$E2E_NGINX >= 3 * $PEER_E2E") |"
    echo "| CPU seconds over that phase (relay process; node + redis-server) | $E2E_CPU | $PEER_E2E_CPU | $(vs "$E2E_CPU" "$PEER_E2E_CPU") | | |"
    echo "| CPU ms per delivered webhook | $relay_cpu | $peer_cpu | $(vs "$relay_cpu" "$peer_cpu") | ≤ 0.33 | $(met "$relay_cpu <= 0.33 * $peer_cpu") |"
    echo "| average webhook body (bytes) | $RELAY_BYTES | $PEER_BYTES | $(vs "$RELAY_BYTES" "$PEER_BYTES") | | |"
    echo "| backlog of $BACKLOG_ROWS: drain rate (deliveries/s, 1,000th to $DRAIN_SAMPLE-th) | $DRAIN_BIG | $PEER_DRAIN | $(vs "$DRAIN_BIG" "$PEER_DRAIN") | ≥ 2 | $(met "$DRAIN_BIG >= 2 * $PEER_DRAIN") |"
    echo "| backlog: peak RSS (MB; relay process; node + redis-server) | $RSS_BIG | $PEER_RSS | | relay ≤ 128 | $(met "$RSS_BIG <= 128") |"
    echo "| created -> delivered p99 at half load (ms) | $LAT_P99 | | | ≤ 10 | $(met "$LAT_P99 <= 10") |"
    echo "| created -> delivered p99 at saturation (ms) | $E2E_P99 | | | ≤ 100 | $(met "$E2E_P99 <= 100") |"
    echo "| PostgreSQL, 1 node, end to end (deliveries/s) against the peer's | $PG1_E2E ($PG1_PENDING left unsent) | $PEER_E2E | $(vs "$PG1_E2E" "$PEER_E2E") | ≥ 1, none left | $(met "$PG1_E2E >= $PEER_E2E and $PG1_PENDING == 0") |"
    echo "| PostgreSQL, 3 nodes / 1 node, end to end | $PG3_E2E / $PG1_E2E | | $(vs "$PG3_E2E" "$PG1_E2E") | ≥ 1 | $(met "$PG3_E2E >= $PG1_E2E and $PG3_PENDING == 0") |"
    echo "| PostgreSQL drain: first 2000 of $PG_DRAIN_BIG_ROWS in $PG_DRAIN_BIG_LANES lanes / a backlog of 2000 | $PG_DRAIN_BIG / $PG_DRAIN_SMALL | | $(vs "$PG_DRAIN_BIG" "$PG_DRAIN_SMALL") | ≥ 0.9 | $(met "$PG_DRAIN_BIG >= 0.9 * $PG_DRAIN_SMALL") |"
    echo "| embedded drain: $BACKLOG_ROWS waiting / $DRAIN_SAMPLE waiting | $DRAIN_BIG / $DRAIN_SMALL | | $(vs "$DRAIN_BIG" "$DRAIN_SMALL") | ≥ 0.95 | $(met "$DRAIN_BIG >= 0.95 * $DRAIN_SMALL") |"
    echo "| a hot lane, SQLite / PostgreSQL (deliveries/s) | $HOT_SQLITE / $HOT_PG | | | ≥ 500 each | $(met "$HOT_SQLITE >= 500 and $HOT_PG >= 500") |"
    echo "| the peer's worker concurrency sweep, per process (deliveries/s); the ratios use the best, $PEER_BEST_C | |$PEER_SWEEP | | | |"
    echo "| the peer with Redis appendfsync always (as durable as the relay; deliveries/s) | $E2E_NGINX | $PEER_ALWAYS ($PEER_ALWAYS_EVENTS events/s) | $(vs "$E2E_NGINX" "$PEER_ALWAYS") | | |"
  fi
  echo
  echo "Deliveries/s count the requests that reached nginx (which answers 200) while wrk ran; an event"
  echo "makes one message per integration, two when the user changed (user.created or user.updated)."
  echo "Latency is exact, from the database: the successful attempt's end minus the message's creation."
  echo "Backlog rows are seeded with SQL into a stopped server's database (100 integrations), then"
  echo "drained to nginx; relay drain rates come from the attempts' end times in the database, the"
  echo "peer's from nginx's count. See bench/README.md."
} > "$OUT"
cat "$OUT"
if [[ "${1:-}" == "--smoke" ]]; then
  # The smoke run checks that every figure was measured.
  for v in "$CEIL" "$CEIL_AFTER" "$INGEST" "$E2E" "$E2EN" "$E2E3" "$E2EM" "$LAT_N" "$DRAIN_BIG" "$DRAIN_SMALL"; do [[ "$v" =~ ^[0-9]+$ ]] || { echo "bench smoke: bad figure $v"; exit 1; }; done
  for v in "$CEIL" "$INGEST" "$E2E" "$E2E3" "$E2EM" "$LAT_N" "$PG1_INGEST" "$PG2_INGEST" "$PG1_E2E" \
           "$PG2_E2E" "$PG3_E2E" "$HOT_SQLITE" "$HOT_PG" "$PG_DRAIN_SMALL" "$PG_DRAIN_BIG"; do
    [[ "$v" -gt 0 ]] || { echo "bench smoke: a phase measured nothing"; exit 1; }
  done
  rm -f "$OUT"
fi
