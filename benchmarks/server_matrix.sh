#!/usr/bin/env bash
# The server measurements of docs/server.md, end to end, on this machine's loopback only:
#   1. the stub engine (no model): the server's own overhead, closed loop with wrk;
#   2. the real-size MiniLM-L6 test model, 10 and 100 documents per request:
#      the library called directly (Reranker.rerank, one request at a time) and the server,
#      closed loop (wrk) and open loop at fixed rates (benchmarks/server_load.py), the same
#      requests and the same arrival schedule for both.
# Needs wrk (Debian: apt-get install wrk) and curl. Every run is bounded in time and stops by
# itself. Writes one JSON line per run to $OUT (default benchmarks/results/server.jsonl).
#
#   bash benchmarks/server_matrix.sh                     # everything (~30 minutes on 2 cores)
#   RATES10="1.5 2.5" RATES100="0.15 0.22" D10=20 D100=45 bash benchmarks/server_matrix.sh
#
# Choose the fixed rates below the library's closed-loop rate (printed first): the server is
# expected to answer them all, with latency close to the library's at the same rate.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python}
PORT=${PORT:-8391}
URL="http://127.0.0.1:$PORT"
OUT=${OUT:-benchmarks/results/server.jsonl}
D10=${D10:-20}      # seconds per run, 10 documents per request
D100=${D100:-45}    # seconds per run, 100 documents per request
REPEAT=${REPEAT:-3}
RATES10=${RATES10:-"1.5 2.5"}
RATES100=${RATES100:-"0.15 0.22"}
MODEL=${MODEL:-$($PY models/minilm_test_model.py)}
TMP=$(mktemp -d)
mkdir -p "$(dirname "$OUT")"
PID=

serve() {  # serve ARGS...: starts the server, waits for /ready
  $PY -m fastrerank serve --host 127.0.0.1 --port "$PORT" "$@" > "$TMP/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    if curl -sf "$URL/ready" > /dev/null; then head -2 "$TMP/serve.log"; return; fi
    sleep 0.2
  done
  echo "the server did not become ready" >&2; cat "$TMP/serve.log" >&2; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID" || true; PID=; }
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT

label() { sed "s/^{/{\"label\": \"$1\", /"; }
wrk_run() {  # wrk_run LABEL CONNECTIONS SECONDS SCRIPT
  wrk -t1 -c"$2" -d"$3"s --timeout 120s -s "$4" "$URL/v2/rerank" | tail -1 | label "$1" | tee -a "$OUT"
}
load() { $PY benchmarks/server_load.py "$@" | tee -a "$OUT"; }

for docs in 10 100; do
  $PY benchmarks/server_load.py --docs "$docs" --wrk-script "$TMP/post$docs.lua"
done

echo "== stub engine: the server's own overhead"
serve --stub-engine
wrk -t1 -c32 -d3s -s "$TMP/post10.lua" "$URL/v2/rerank" > /dev/null  # warm up
for r in $(seq "$REPEAT"); do wrk_run "stub c32 docs10" 32 5 "$TMP/post10.lua"; done
for r in $(seq "$REPEAT"); do wrk_run "stub c1 docs10" 1 5 "$TMP/post10.lua"; done
stop

# The machine is shared and its speed drifts by 2x over minutes: the library and the server
# are measured in turns (library, server c1, server c4, ...), and the report takes medians.
serve --model "$MODEL"
wrk -t1 -c1 -d5s -s "$TMP/post10.lua" "$URL/v2/rerank" > /dev/null  # warm up
for docs in 10 100; do
  if [ "$docs" = 10 ]; then d=$D10; rates=$RATES10; n=$REPEAT; else d=$D100; rates=$RATES100; n=2; fi
  echo "== $docs documents per request: closed loop, library then server"
  for r in $(seq "$n"); do
    load --library "$MODEL" --docs "$docs" --concurrency 1 --duration "$d" --label "library c1 docs$docs"
    wrk_run "server c1 docs$docs" 1 "$d" "$TMP/post$docs.lua"
    wrk_run "server c4 docs$docs" 4 "$d" "$TMP/post$docs.lua"
  done
  echo "== $docs documents per request: open loop at fixed rates, library then server"
  for rate in $rates; do
    for r in $(seq 2); do
      load --library "$MODEL" --docs "$docs" --rate "$rate" --duration "$d" --label "library rate$rate docs$docs"
      load --url "$URL" --docs "$docs" --rate "$rate" --duration "$d" --label "server rate$rate docs$docs"
    done
  done
done
curl -s "$URL/metrics" | grep -E '^fastrerank_(batch_requests|batch_pairs)_(sum|count)|^fastrerank_requests_total' | tee -a "$OUT.metrics"
stop
echo "results: $OUT"
