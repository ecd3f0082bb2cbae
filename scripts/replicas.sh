#!/usr/bin/env bash
# Two `fastrerank serve` replicas behind nginx (least_conn), all on loopback:
#   1. starts replicas on 127.0.0.1:8401 and :8402 and nginx on 127.0.0.1:8400;
#   2. sends closed-loop load through nginx (benchmarks/server_load.py) and, halfway, SIGTERMs
#      replica 1 (a rolling restart): it drains, nginx sends its refused requests to replica 2;
#   3. prints the load's result (failed requests should be 0) and each replica's counts;
#   4. stops everything. Bounded in time; traffic only to 127.0.0.1.
#
#   bash scripts/replicas.sh                     # the MiniLM-L6 test model (built if missing)
#   STUB=1 bash scripts/replicas.sh              # the stub engine: a quick look at the plumbing
#   MODEL=DIR SECONDS_OF_LOAD=60 CLIENTS=8 bash scripts/replicas.sh
#
# Needs nginx (Debian: apt-get install nginx-light) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
LB=8400
PORTS=(8401 8402)
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-30}
CLIENTS=${CLIENTS:-4}
DOCS=${DOCS:-10}
TMP=$(mktemp -d)
chmod 755 "$TMP"  # nginx's workers may run as another user
PIDS=()
if [ -n "${STUB:-}" ]; then
  ENGINE=(--stub-engine)
else
  ENGINE=(--model "${MODEL:-$($PY models/minilm_test_model.py)}")
fi

cleanup() {
  [ -f "$TMP/nginx.pid" ] && nginx -p "$TMP" -c "$TMP/nginx.conf" -s stop 2> /dev/null || true
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/nginx.conf" << EOF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/body;
    proxy_temp_path $TMP/proxy;
    client_max_body_size 2m;          # the replicas' --max-body-bytes
    client_body_buffer_size 2m;       # keep bodies in memory
    upstream fastrerank {
        least_conn;                   # a reranker's requests vary 100x in cost: send to the least busy
        server 127.0.0.1:${PORTS[0]} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:${PORTS[1]} max_fails=1 fail_timeout=2s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$LB;
        location / {
            proxy_pass http://fastrerank;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 120s;
            # a draining or loading replica answers 503 before doing any work, a full one 429:
            # try the other replica (POST included: nothing was done on the first)
            proxy_next_upstream error timeout http_503 http_429 non_idempotent;
            proxy_next_upstream_tries 2;
        }
    }
}
EOF

for port in "${PORTS[@]}"; do
  $PY -m fastrerank serve "${ENGINE[@]}" --host 127.0.0.1 --port "$port" --drain-timeout 30 > "$TMP/replica-$port.log" 2>&1 &
  PIDS+=($!)
done
for port in "${PORTS[@]}"; do
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/ready" > /dev/null && break; sleep 0.2; done
  curl -sf "http://127.0.0.1:$port/ready" > /dev/null || { cat "$TMP/replica-$port.log"; exit 1; }
  head -2 "$TMP/replica-$port.log"
done
nginx -p "$TMP" -c "$TMP/nginx.conf"
echo "nginx on http://127.0.0.1:$LB -> replicas ${PORTS[*]} (least_conn)"

$PY benchmarks/server_load.py --url "http://127.0.0.1:$LB" --docs "$DOCS" --concurrency "$CLIENTS" --duration "$SECONDS_OF_LOAD" \
  --label "through nginx, replica 1 restarted halfway" > "$TMP/load.json" &
LOAD=$!
sleep $((SECONDS_OF_LOAD / 2))
echo "SIGTERM to replica 1 (port ${PORTS[0]}): it drains while nginx sends new requests to replica 2"
counts() { curl -s "http://127.0.0.1:$1/metrics" | grep -E '^fastrerank_requests_total\{route="/v2/rerank"' || true; }
echo "replica 1 before it stops:"; counts "${PORTS[0]}"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}" && echo "replica 1 exited 0 after draining" || echo "replica 1 exited $?"
wait "$LOAD"
echo "load through nginx:"; cat "$TMP/load.json"
echo "replica 2:"; counts "${PORTS[1]}"
grep -h "draining\|stopped" "$TMP/replica-${PORTS[0]}.log" || true
