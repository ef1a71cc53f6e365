#!/usr/bin/env bash
# `make demo`: a real federation on this machine — three hospitals train a breast-cancer classifier
# over mutual TLS on loopback, each in its own process, and the aggregated accuracy is printed.
# Everything it makes is under ./demo (removed first; SWIFTFL_DEMO_DIR names another folder).
set -euo pipefail
BIN=${1:-.build/debug}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FX="$ROOT/$BIN/fx"
DEMO="${SWIFTFL_DEMO_DIR:-$ROOT/demo}"
WS="$DEMO/breast_cancer"
SITES=(hospital_a hospital_b hospital_c)

rm -rf "$DEMO"
mkdir -p "$DEMO"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

echo "== 1. workspace from the breast_cancer template"
"$FX" workspace create --prefix "$WS" --template breast_cancer

echo "== 2. PKI: a CA, the aggregator's certificate, one per hospital"
"$FX" pki init --dir "$WS/cert/ca" >/dev/null
"$FX" pki certify --name aggregator --role aggregator --host 127.0.0.1 --host localhost --ca-dir "$WS/cert/ca" --dir "$WS/cert" | sed -n 1p
for site in "${SITES[@]}"; do
  "$FX" pki certify --name "$site" --role envoy --ca-dir "$WS/cert/ca" --dir "$WS/cert" | sed -n 1p
done

echo "== 3. plan initialize"
"$FX" plan initialize --workspace "$WS"

echo "== 4. aggregator and three collaborators, each its own process"
# Port 0: the aggregator picks a free port and announces it as its first event line.
"$FX" aggregator start --workspace "$WS" --port 0 --events > "$DEMO/events.jsonl" 2> "$DEMO/aggregator.log" &
pids+=($!)
agg=$!
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*"event":"listening","port":\([0-9]*\).*/\1/p;s/.*"port":\([0-9]*\).*"listening".*/\1/p' "$DEMO/events.jsonl" | head -1)
  [ -n "$port" ] && break
  kill -0 "$agg" 2>/dev/null || { cat "$DEMO/aggregator.log"; exit 1; }
  sleep 0.05
done
[ -n "$port" ] || { echo "the aggregator did not start"; cat "$DEMO/aggregator.log"; exit 1; }
echo "aggregator listening on 127.0.0.1:$port"
for site in "${SITES[@]}"; do
  "$FX" collaborator start --workspace "$WS" --name "$site" --aggregator "127.0.0.1:$port" 2> "$DEMO/$site.log" &
  pids+=($!)
done

status=0
wait "$agg" || status=$?
grep -h "done in" "$DEMO/aggregator.log" | sed 's/^[^ ]* info aggregator: /  /'
if [ $status -ne 0 ]; then echo "the aggregator failed:"; tail -20 "$DEMO/aggregator.log"; exit $status; fi
for pid in "${pids[@]:1}"; do wait "$pid"; done
pids=()

echo "== 5. the best model on every row of the data (fx model evaluate)"
# The model carries the federation's standardizer (the sites' summed statistics), so raw rows go in as they are.
"$FX" model evaluate --model "$WS/save/best.safetensors" --data "$WS/data/breast_cancer_wisconsin.csv" | sed -n 3,4p

accuracy=$(sed -n 's/.*"event":"finished".*"aggregated_model_validation\/accuracy":\([0-9.eE-]*\).*/\1/p' "$DEMO/events.jsonl")
echo "== done: models in $WS/save, metrics in $WS/logs/metrics.jsonl"
echo "final aggregated validation accuracy: $accuracy"
