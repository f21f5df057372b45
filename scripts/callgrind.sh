#!/usr/bin/env bash
# CPU cost per operation that machine noise cannot move: instructions (valgrind's callgrind
# "Ir") executed by the servers — a master and one worker in one `papertrader up` process —
# per quote read from a worker's cache and per order settled, through the whole path (worker,
# link, master, database), on a fixed small workload.
#
#   scripts/callgrind.sh            # prints a JSON line; ~3 minutes
#   CG_KEEP=/tmp/cg PAPERTRADER_BIN=target/profiling/papertrader scripts/callgrind.sh
#       # also keeps the dumps for callgrind_annotate: cg.out.1/.2 quotes (100/1100 per
#       # connection), .3 ticks alone, .4/.5 orders (5/25 per connection)
#
# How: `up` runs under callgrind with a 1 h update interval (no tick happens by itself); the
# load generator (target/release/papertrader-load, not under valgrind) drives it. Counters are
# zeroed before and dumped after each phase (callgrind_control), and each figure is the
# difference of two phases that differ only in the number of operations, so setup (users
# registering and logging in) cancels out. Ticks are triggered through the admin socket
# (`market_tick`); their own cost is measured alone and subtracted from the order phases.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${PAPERTRADER_BIN:-target/release/papertrader}
load=${PAPERTRADER_LOAD:-target/release/papertrader-load}
conns=${CG_CONNECTIONS:-10}
for tool in valgrind callgrind_control python3; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh needs $tool" >&2; exit 2; }
done
dir=$(mktemp -d)
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
read -r master_port worker_port <<<"$ports"
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" up --data "$dir/data" \
  --master-port "$master_port" --worker-ports "$worker_port" --workers 1 --bcrypt-cost 4 \
  --update-interval-ms 3600000 >"$dir/up.log" 2>&1 &
wrapper=$!
keep() { if [[ -n ${CG_KEEP:-} ]]; then mkdir -p "$CG_KEEP" && cp "$dir"/cg.out.* "$CG_KEEP"/ 2>/dev/null; fi; }
trap 'keep; kill -INT $pid 2>/dev/null; wait $wrapper 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 600); do grep -q "Press Ctrl-C" "$dir/up.log" && break; sleep 0.5; done
grep -q "Press Ctrl-C" "$dir/up.log" || { cat "$dir/up.log" >&2; exit 1; }
pid=$(pgrep -f "valgrind.bin --tool=callgrind --callgrind-out-file=$dir/cg.out" | head -1)
admin() {
  python3 - "$dir/data/master.admin.sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"command": sys.argv[2]}) + "\n").encode())
print(s.makefile().readline().strip())
PY
}
tick_number() { admin status | python3 -c 'import json,sys; print(json.load(sys.stdin)["tick"])'; }
# Runs "$@" between a zeroing and a dump of the counters; prints the instructions it cost.
# (Called in a subshell: the dump is found by counting the dump files, not in a variable.)
measure() {
  local before
  before=$(find "$dir" -name 'cg.out.*' | wc -l)
  callgrind_control -z "$pid" >/dev/null
  "$@" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  local file="$dir/cg.out.$((before + 1))"
  for _ in $(seq 100); do grep -q '^summary:' "$file" 2>/dev/null && break; sleep 0.2; done
  awk '/^summary:/ {print $2}' "$file"
}
quotes() { "$load" --target "127.0.0.1:$worker_port" --connections "$conns" --mix quote=100 --requests "$1" --json; }
ticks() { for _ in $(seq "$1"); do admin market_tick >/dev/null; done; sleep 2; }
# Orders wait for a tick: tick every 200 ms while the load runs.
orders() {
  "$load" --target "127.0.0.1:$worker_port" --connections "$conns" --mix trade=100 --requests "$1" --json &
  local orders_pid=$!
  while kill -0 "$orders_pid" 2>/dev/null; do admin market_tick >/dev/null; sleep 0.2; done
  wait "$orders_pid"
}
ticked() { local before after; before=$(tick_number); "$@"; after=$(tick_number); echo $((after - before)) >"$dir/ticks"; }

q_few=$(measure quotes 100)
q_many=$(measure quotes 1100)
t_alone=$(measure ticks 20)
o_few=$(measure ticked orders 5); o_few_ticks=$(cat "$dir/ticks")
o_many=$(measure ticked orders 25); o_many_ticks=$(cat "$dir/ticks")
python3 - <<PY
import json
conns = $conns
per_quote = ($q_many - $q_few) / (1000 * conns)
per_tick = $t_alone / 20
orders = (($o_many - $o_many_ticks * per_tick) - ($o_few - $o_few_ticks * per_tick)) / (20 * conns)
print(json.dumps({
    "instructions_per_quote": round(per_quote),
    "instructions_per_settled_order": round(orders),
    "instructions_per_idle_tick": round(per_tick),
    "connections": conns,
    "quotes_measured": 1000 * conns,
    "orders_measured": 20 * conns,
    "ticks_in_order_phases": [$o_few_ticks, $o_many_ticks],
}))
PY
