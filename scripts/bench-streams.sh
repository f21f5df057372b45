#!/usr/bin/env bash
# Live-stream benchmark: tick-to-subscriber latency with N quote subscribers on one worker
# (`papertrader up`, one worker, 1 s ticks), the server process's CPU and RSS meanwhile, and
# the p99 of ordinary quote requests alone vs. with the subscribers connected and reading.
# Usage: scripts/bench-streams.sh [N…]   (default: 1000 10000; about 1.5 min per N)
# Latency is measured by papertrader-load: (time it reads a push) − (the tick's
# publishedAtMs), in ms, over 20 s; the first (snapshot) push of each subscriber is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
COUNTS=("$@"); [ ${#COUNTS[@]} -eq 0 ] && COUNTS=(1000 10000)
CLIENT_THREADS=${BENCH_CLIENT_THREADS:-1}
# The subscribers' client shares this machine's cores with the server: BENCH_NICE=19 runs it
# at low priority, so that what phase B measures is the server, not the harness.
NICE=${BENCH_NICE:-0}
ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p papertrader -p papertrader-bench
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/papertrader
LOAD=$TARGET_DIR/release/papertrader-load
WORK=$(mktemp -d)
"$BIN" up --data "$WORK/d" --master-port 27048 --worker-ports 27049 --bcrypt-cost 4 \
  --update-interval-ms 1000 --max-connections 10100 >"$WORK/up.out" 2>&1 &
PID=$!
trap 'kill -INT $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do grep -q "Press Ctrl-C" "$WORK/up.out" 2>/dev/null && break; sleep 0.5; done
cpu_ticks() { awk '{print $14+$15}' "/proc/$PID/stat"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$PID/status"; }
quotes() { # seconds → p99 µs of quote requests (20 connections)
  "$LOAD" --target 127.0.0.1:27049 --connections 20 --mix quote=100 --duration "$1" --json 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin)["ops"][0]; print(d["latency_us"]["p99"], int(d["per_second"]))'
}
HZ=$(getconf CLK_TCK)
echo "server RSS idle: $(rss_kb) kB"
read -r base_p99 base_rate < <(quotes 8)
echo "quote requests alone: p99 ${base_p99} µs, ${base_rate}/s"
for n in "${COUNTS[@]}"; do
  # A: latency, CPU and RSS with nothing else running.
  "$LOAD" --target 127.0.0.1:27049 --subscribers "$n" --threads "$CLIENT_THREADS" \
    --symbols AAPL,MSFT,GOOG,KO,IBM --duration 20 >"$WORK/a$n.json" 2>"$WORK/a$n.err" &
  LP=$!
  for _ in $(seq 1 900); do grep -q "ready" "$WORK/a$n.err" 2>/dev/null && break; sleep 0.2; done
  c0=$(cpu_ticks); sleep 15; c1=$(cpu_ticks); rss=$(rss_kb)
  wait $LP
  echo "$n subscribers: $(cat "$WORK/a$n.json")"
  echo "  server CPU $(( (c1 - c0) * 100 / HZ / 15 ))% of one core, RSS ${rss} kB"
  # B: ordinary requests while the subscribers read.
  nice -n "$NICE" "$LOAD" --target 127.0.0.1:27049 --subscribers "$n" --threads "$CLIENT_THREADS" \
    --symbols AAPL,MSFT,GOOG,KO,IBM --duration 14 >/dev/null 2>"$WORK/b$n.err" &
  LP=$!
  for _ in $(seq 1 900); do grep -q "ready" "$WORK/b$n.err" 2>/dev/null && break; sleep 0.2; done
  sleep 1
  read -r p99 rate < <(quotes 8)
  wait $LP
  echo "  quote requests with them: p99 ${p99} µs (alone ${base_p99}), ${rate}/s (alone ${base_rate})"
done
