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
if [[ ${#need[@]} -gt 0 ]]; then
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}"
fi
RELAY=${RELAY_BINARY:-build/consent-relay}
[[ -x "$RELAY" ]] || { echo "bench: build first (make build)"; exit 1; }

WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wrk's output -> "rps p50_ms p99_ms"
wrk_figures() {
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p50 = re.search(r"\s50%\s+(\S+)", text).group(1)
p99 = re.search(r"\s99%\s+(\S+)", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
print(f"{float(rps):.0f} {ms(p50):.1f} {ms(p99):.1f} {non2xx.group(1) if non2xx else 0}")
PY
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
  server { listen 127.0.0.1:$NGINX_PORT; keepalive_requests 1000000; location / { return 200 "ok"; } }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
pids+=("$(cat "$WORK/nginx/nginx.pid")")
wrk -t2 -c64 -d"${SECONDS_PER_PHASE}"s --latency -s bench/ceiling.lua "http://127.0.0.1:$NGINX_PORT/" > "$WORK/ceiling.txt"
read -r CEIL CEIL_P50 CEIL_P99 _ < <(wrk_figures "$WORK/ceiling.txt")

# --- consent-relay ---------------------------------------------------------------------------
start_relay() {  # $1 = data dir, rest = flags
  local dir=$1; shift
  local port; port=$(free_port)
  "$RELAY" serve --data-dir "$dir" --listen "127.0.0.1:$port" --log-level warn "$@" \
    > "$dir.out" 2> "$dir.log" &
  pids+=("$!")
  RELAY_PID=$!
  for _ in $(seq 100); do grep -q listening "$dir.out" 2>/dev/null && break; sleep 0.05; done
  RELAY_URL="http://127.0.0.1:$port"
}
setup_org() {  # $1 = data dir; exports TOKEN
  local key
  key=$("$RELAY" keys create --data-dir "$1" --organization bench)
  "$RELAY" orgs enable bench --feature webhooks --data-dir "$1" >/dev/null
  local id secret
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$key")
  secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$key")
  echo "$id $secret"
}
session() {  # $1 = key id, $2 = secret
  curl -s "$RELAY_URL/v1/sessions" -H 'Content-Type: application/json' \
    -d "{\"type\":\"api-key\",\"key\":\"$1\",\"secret\":\"$2\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
metric() {  # $1 = metric line prefix
  curl -s "$RELAY_URL/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $NF}' | head -1
}

# Ingest: durable 201s, no delivery.
mkdir -p "$WORK/ingest"
read -r KEY SECRET < <(setup_org "$WORK/ingest")
start_relay "$WORK/ingest" --no-dispatch
export TOKEN ORG=bench
TOKEN=$(session "$KEY" "$SECRET")
curl -s "$RELAY_URL/v1/marketplace/integrations?organization_id=bench" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"type_id\":\"webhook-http\",\"properties\":{\"url\":\"http://127.0.0.1:$NGINX_PORT/hook\"}}" >/dev/null
wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua "$RELAY_URL/" > "$WORK/ingest.txt"
read -r INGEST INGEST_P50 INGEST_P99 INGEST_ERR < <(wrk_figures "$WORK/ingest.txt")
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true

# End to end: ingest while delivering to nginx, one integration.
mkdir -p "$WORK/e2e"
read -r KEY SECRET < <(setup_org "$WORK/e2e")
start_relay "$WORK/e2e" --allow-destination 127.0.0.0/8
TOKEN=$(session "$KEY" "$SECRET")
curl -s "$RELAY_URL/v1/marketplace/integrations?organization_id=bench" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"type_id\":\"webhook-http\",\"properties\":{\"url\":\"http://127.0.0.1:$NGINX_PORT/hook\"}}" >/dev/null
before=$(metric 'relay_deliveries_total{status="succeeded"}'); before=${before:-0}
start_ns=$(date +%s%N)
wrk -t2 -c32 -d"${SECONDS_PER_PHASE}"s --latency -s bench/events.lua "$RELAY_URL/" > "$WORK/e2e.txt"
after=$(metric 'relay_deliveries_total{status="succeeded"}'); after=${after:-0}
end_ns=$(date +%s%N)
E2E=$(python3 -c "print(f'{($after - $before) / (($end_ns - $start_ns) / 1e9):.0f}')")
read -r E2E_INGEST _ _ _ < <(wrk_figures "$WORK/e2e.txt")
# Created -> delivered latency, from the histogram (bucket upper bounds).
LAT=$(curl -s "$RELAY_URL/metrics" | python3 -c '
import re, sys
buckets = []
total = 0
for line in sys.stdin:
    m = re.match(r"relay_delivery_latency_seconds_bucket\{le=\"([^\"]+)\"\} (\d+)", line)
    if m: buckets.append((m.group(1), int(m.group(2))))
total = buckets[-1][1] if buckets else 0
def q(p):
    for le, c in buckets:
        if total and c >= p * total: return le
    return "n/a"
print(f"{q(0.5)} {q(0.99)}")')
read -r LAT_P50 LAT_P99 <<< "$LAT"
PENDING=$(metric relay_deliveries_pending)
kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true

# Backlog and growth: deliveries seeded straight into the database (the API would take minutes
# to accumulate a million), spread over 100 integrations, then drained to nginx. The drain rate
# is measured over the first DRAIN_SAMPLE successes; peak RSS is the server's VmHWM.
seed_backlog() {  # $1 = data dir, $2 = deliveries (a multiple of 100)
  local dir=$1 rows=$2
  read -r KEY SECRET < <(setup_org "$dir")
  start_relay "$dir" --no-dispatch --allow-destination 127.0.0.0/8
  TOKEN=$(session "$KEY" "$SECRET")
  for i in $(seq 100); do
    curl -s "$RELAY_URL/v1/marketplace/integrations?organization_id=bench" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/json' \
      -d "{\"type_id\":\"webhook-http\",\"properties\":{\"url\":\"http://127.0.0.1:$NGINX_PORT/hook\"}}" >/dev/null
  done
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  local now; now=$(($(date +%s) * 1000))
  local payload='{"type":"event.created","regulation":"gdpr","parameters":{"entity":{"id":"evt_bench","consents":{"purposes":[{"id":"analytics","enabled":true}]}}}}'
  sqlite3 "$dir/relay.db" <<SQL
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((rows / 100)))
INSERT INTO messages (id, organization_id, type, regulation, ordering_key, payload, created_at)
  SELECT 'msg_bench_' || i, 'bench', 'event.created', 'gdpr', 'user-' || i, '$payload', $now FROM n;
INSERT INTO deliveries (id, organization_id, integration_id, message_seq, type, ordering_key,
                        sequence, status, next_attempt_at, created_at, updated_at)
  SELECT 'dlv_bench_' || m.seq || '_' || i.id, 'bench', i.id, m.seq, m.type, m.ordering_key, m.seq,
         'pending', $now, $now, $now
  FROM messages m CROSS JOIN integrations i WHERE i.organization_id = 'bench';
COMMIT;
SQL
}
drain() {  # $1 = data dir, $2 = successes to time; prints "rate peak_rss_mb"
  local dir=$1 target=$2
  start_relay "$dir" --allow-destination 127.0.0.0/8
  local t0; t0=$(date +%s%N)
  local done_count=0
  for _ in $(seq 1200); do
    done_count=$(metric 'relay_deliveries_total{status="succeeded"}'); done_count=${done_count:-0}
    [[ "$done_count" -ge "$target" ]] && break
    sleep 0.05
  done
  local t1; t1=$(date +%s%N)
  local rss; rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$RELAY_PID/status")
  kill "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
  python3 -c "print(f'{$done_count / (($t1 - $t0) / 1e9):.0f} $rss')"
}
BACKLOG_ROWS=${BACKLOG_ROWS:-1000000}
DRAIN_SAMPLE=${DRAIN_SAMPLE:-50000}
if [[ "${1:-}" == "--smoke" ]]; then BACKLOG_ROWS=1000; DRAIN_SAMPLE=500; fi
mkdir -p "$WORK/backlog" "$WORK/small"
seed_backlog "$WORK/backlog" "$BACKLOG_ROWS"
read -r DRAIN_BIG RSS_BIG < <(drain "$WORK/backlog" "$DRAIN_SAMPLE")
seed_backlog "$WORK/small" 1000
read -r DRAIN_SMALL RSS_SMALL < <(drain "$WORK/small" 1000)

ratio() { python3 -c "print(f'{$1 / $CEIL:.3f}')"; }
{
  echo "# consent-relay benchmark"
  echo
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
  echo "- phase length: ${SECONDS_PER_PHASE} s; load generator (wrk), nginx and consent-relay share the machine"
  echo
  echo "| figure | value | ratio to ceiling |"
  echo "|---|---|---|"
  echo "| ceiling: wrk POST 1.2 KB to nginx, keep-alive (req/s, p50/p99 ms) | $CEIL ($CEIL_P50 / $CEIL_P99) | 1 |"
  echo "| ingest: consent events acknowledged 201, durable (events/s, p50/p99 ms, errors) | $INGEST ($INGEST_P50 / $INGEST_P99, $INGEST_ERR) | $(ratio "$INGEST") |"
  echo "| end to end, 1 integration: deliveries/s to nginx while ingesting ($E2E_INGEST events/s) | $E2E | $(ratio "$E2E") |"
  echo "| created -> delivered latency at saturation, p50 / p99 (histogram bucket bound, s) | $LAT_P50 / $LAT_P99 | |"
  echo "| deliveries still pending when the end-to-end phase ended | $PENDING | |"
  echo "| backlog: drain rate with $BACKLOG_ROWS deliveries waiting over 100 integrations (first $DRAIN_SAMPLE, deliveries/s) | $DRAIN_BIG | $(ratio "$DRAIN_BIG") |"
  echo "| backlog: server peak RSS during the drain (MB) | $RSS_BIG | |"
  echo "| growth: drain rate with 1,000 deliveries in the table (deliveries/s; peak RSS $RSS_SMALL MB) | $DRAIN_SMALL | $(ratio "$DRAIN_SMALL") |"
  echo
  echo "Backlog rows are seeded with SQL into a stopped server's database (100 integrations), then"
  echo "drained to nginx. Not measured yet: 3 integrations per organization, 1,000 organizations,"
  echo "latency at half load (see bench/README.md)."
} > "$OUT"
cat "$OUT"
if [[ "${1:-}" == "--smoke" ]]; then
  # The smoke run checks that every figure was measured.
  for v in "$CEIL" "$INGEST" "$E2E" "$DRAIN_BIG" "$DRAIN_SMALL"; do [[ "$v" =~ ^[0-9]+$ ]] || { echo "bench smoke: bad figure $v"; exit 1; }; done
  [[ "$INGEST" -gt 0 && "$CEIL" -gt 0 ]] || { echo "bench smoke: nothing measured"; exit 1; }
  rm -f "$OUT"
fi
