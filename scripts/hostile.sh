#!/usr/bin/env bash
# What hostile peers cost the master: CPU seconds and peak RSS of a `papertrader master` while
# N connections of one kind hold on (one-byte, partial, never-read), and how soon it let them go.
#
#   scripts/hostile.sh one-byte 2000 60        # kind, connections, seconds
#
# Binaries: target/release/{papertrader,papertrader-load} (build them first), or PAPERTRADER_BIN /
# PAPERTRADER_LOAD. Per-address limits are lifted so the cost of each kind of peer is measured,
# not the refusal. PAPERTRADER_HOSTILE_CONFIG may hold extra master settings as TOML lines
# (for example 'idle_timeout_secs = 20').
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?kind: one-byte, partial or never-read}
count=${2:-2000}
secs=${3:-60}
bin=${PAPERTRADER_BIN:-target/release/papertrader}
load=${PAPERTRADER_LOAD:-target/release/papertrader-load}
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s\n' "${PAPERTRADER_HOSTILE_CONFIG:-}" >"$dir/master.toml"
PAPERTRADER_MASTER_MAX_CONNECTIONS_PER_ADDRESS=1000000 "$bin" master --config "$dir/master.toml" --listen "127.0.0.1:$port" \
  --max-connections 100000 --database-url "$dir/pt.db" --log-file "$dir/master.log" \
  --key-file "$dir/m.sec.asc" --public-key-file "$dir/m.pub.asc" --admin-socket "$dir/admin.sock" \
  >"$dir/stdout" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q listening "$dir/stdout" && break; sleep 0.1; done
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss_mb() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status"; }
before_cpu=$(cpu)
before_rss=$(rss_mb)
peak=0
( while kill -0 $pid 2>/dev/null; do r=$(rss_mb); echo "$r"; sleep 0.5; done ) >"$dir/rss" &
sampler=$!
report=$("$load" --target "127.0.0.1:$port" --hostile "$kind" --connections "$count" --duration "$secs")
after_cpu=$(cpu)
kill $sampler 2>/dev/null || true
peak=$(sort -n "$dir/rss" | tail -1)
python3 - "$report" "$before_cpu" "$after_cpu" "$ticks" "$secs" "$before_rss" "$peak" <<'PY'
import json, sys
report = json.loads(sys.argv[1])
before, after, ticks, secs = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
report["master_cpu_seconds"] = round((after - before) / ticks, 2)
report["master_cpu_percent"] = round(100 * (after - before) / ticks / secs, 1)
report["master_rss_mb_before"] = int(sys.argv[6])
report["master_rss_mb_peak"] = int(sys.argv[7])
print(json.dumps(report))
PY
