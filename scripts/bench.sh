#!/usr/bin/env bash
# Side-by-side benchmarks of PaperTrader on this machine, printing ratios:
#   1. quote reads through a worker vs redis-benchmark GET, same connection count, with the
#      servers' connections on one thread and on one thread per core;
#   2. settled trades/s on PostgreSQL vs pgbench single-row UPDATE TPS, then the database
#      is checked: every acknowledged trade stored exactly once, nothing negative; and the
#      same trades on one connection thread;
#   3. logins/s vs the bcrypt bound (cores / time of one hash), and quote latency alone vs
#      during a login burst (on one connection thread per core, and on one thread);
#   4. resident memory with 10,000 idle client connections on one worker (each asked
#      getServerInfo once, so the first-frame deadline does not close it);
#   5. a tick's settlement time and settled orders/s with 10,000 vs 100,000 resting limit
#      orders (cargo bench -p papertrader-master --bench resting_orders).
# Usage: scripts/bench.sh            (about 5 minutes)
# Instructions per operation, which noise cannot move, come from scripts/callgrind.sh.
# Results: a table on stdout and target/bench/results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/target/bench
mkdir -p "$OUT"
CONNS=${BENCH_CONNECTIONS:-50}
SECS=${BENCH_SECONDS:-10}
TRADERS=${BENCH_TRADERS:-3000}
PG=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}

# Tools, from the machine's package lists.
missing=()
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v pgbench >/dev/null || missing+=(postgresql-contrib)
command -v psql >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then apt-get update -qq && apt-get install -y -qq "${missing[@]}"; fi
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cargo build --release -q -p papertrader -p papertrader-bench
BIN=$ROOT/target/release/papertrader
LOAD=$ROOT/target/release/papertrader-load
WORK=$(mktemp -d)
UP_PID=""
stop_up() { if [ -n "$UP_PID" ]; then kill -INT "$UP_PID" 2>/dev/null || true; wait "$UP_PID" 2>/dev/null || true; UP_PID=""; fi; }
trap 'stop_up; rm -rf "$WORK"' EXIT
start_up() { # data-dir bcrypt-cost interval-ms [extra args…]
  local dir=$1 cost=$2 interval=$3; shift 3
  "$BIN" up --data "$WORK/$dir" --master-port 27048 --worker-ports 27049,27050 --bcrypt-cost "$cost" --update-interval-ms "$interval" "$@" >"$WORK/$dir.out" 2>&1 &
  UP_PID=$!
  for _ in $(seq 1 120); do grep -q "Press Ctrl-C" "$WORK/$dir.out" 2>/dev/null && return; sleep 0.5; done
  echo "papertrader up did not start:"; cat "$WORK/$dir.out"; exit 1
}
field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval("d" + sys.argv[2]))' "$1" "$2"; }

CORES=$(nproc)
echo "== 1. quotes through a worker vs redis GET ($CONNS connections, ${SECS}s; 1 and $CORES connection threads)"
for threads in 1 "$CORES"; do
  start_up "quotes$threads" 4 1000 --connection-threads "$threads"
  "$LOAD" --target 127.0.0.1:27049 --connections "$CONNS" --mix quote=100 --duration "$SECS" --json 2>/dev/null >"$OUT/quotes_t$threads.json"
  stop_up
done
cp "$OUT/quotes_t$CORES.json" "$OUT/quotes.json"
redis-benchmark -h 127.0.0.1 -t get -c "$CONNS" -n $((CONNS * 40000)) --csv 2>/dev/null | tail -1 >"$OUT/redis.csv"
QPS=$(field "$OUT/quotes.json" "['ops'][0]['per_second']")
QP99=$(field "$OUT/quotes.json" "['ops'][0]['latency_us']['p99']")
QPS1=$(field "$OUT/quotes_t1.json" "['ops'][0]['per_second']")
QP991=$(field "$OUT/quotes_t1.json" "['ops'][0]['latency_us']['p99']")
RPS=$(python3 -c "import csv; r=list(csv.reader(open('$OUT/redis.csv')))[-1]; print(float(r[1]))")
RP99=$(python3 -c "import csv; r=list(csv.reader(open('$OUT/redis.csv')))[-1]; print(float(r[6]) * 1000)")

echo "== 2. settled trades on PostgreSQL vs pgbench single-row UPDATE ($TRADERS traders)"
psql "$PG/test" -qc "DROP DATABASE IF EXISTS pt_bench WITH (FORCE)" -c "CREATE DATABASE pt_bench" >/dev/null
start_up trades 4 100 --database-url "$PG/pt_bench"
"$LOAD" --target 127.0.0.1:27049 --connections "$TRADERS" --mix trade=100 --duration "$SECS" --json 2>/dev/null >"$OUT/trades.json"
stop_up
ACKED=$(field "$OUT/trades.json" "['ops'][0]['ok']")
TPS=$(field "$OUT/trades.json" "['ops'][0]['per_second']")
read -r ROWS DISTINCT NEG <<<"$(psql "$PG/pt_bench" -Atc "select count(*), count(distinct id), (select count(*) from accounts where cash < 0) + (select count(*) from holdings where quantity < 0) from transactions" | tr '|' ' ')"
# The same on one connection thread, for the effect of the threads.
psql "$PG/test" -qc "DROP DATABASE IF EXISTS pt_bench1 WITH (FORCE)" -c "CREATE DATABASE pt_bench1" >/dev/null
start_up trades1 4 100 --database-url "$PG/pt_bench1" --connection-threads 1
"$LOAD" --target 127.0.0.1:27049 --connections "$TRADERS" --mix trade=100 --duration "$SECS" --json 2>/dev/null >"$OUT/trades_t1.json"
stop_up
TPS1=$(field "$OUT/trades_t1.json" "['ops'][0]['per_second']")
psql "$PG/test" -qc "DROP DATABASE IF EXISTS pt_pgbench WITH (FORCE)" -c "CREATE DATABASE pt_pgbench" >/dev/null
pgbench -q -i -s 10 "$PG/pt_pgbench" >/dev/null 2>&1
printf '\\set aid random(1, 1000000)\nUPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;\n' >"$WORK/update.sql"
PGTPS=$(pgbench -n -c "$CONNS" -j 2 -T "$SECS" -f "$WORK/update.sql" "$PG/pt_pgbench" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')

echo "== 3. logins vs the bcrypt bound (cost 12), quotes during a login burst"
"$LOAD" --bcrypt-probe 12 >"$OUT/bcrypt.json"
start_up logins 12 1000
"$LOAD" --target 127.0.0.1:27049 --connections 16 --mix login=100 --duration 15 --setup-concurrency 8 --user-prefix bl --json 2>/dev/null >"$OUT/logins.json"
"$LOAD" --target 127.0.0.1:27049 --connections 20 --mix quote=100 --duration "$SECS" --user-prefix bq --json 2>/dev/null >"$OUT/quotes_alone.json"
"$LOAD" --target 127.0.0.1:27049 --connections 36 --mix quote=20,login=16 --duration 15 --setup-concurrency 8 --user-prefix bm --json 2>/dev/null >"$OUT/quotes_burst.json"

echo "== 4. resident memory with 10,000 idle connections on one worker"
RSS0=$(awk '/VmRSS/{print $2}' /proc/$UP_PID/status)
"$LOAD" --target 127.0.0.1:27049 --idle 10000 --duration 15 >"$OUT/idle.json" 2>"$WORK/idle.err" &
IDLE_PID=$!
for _ in $(seq 1 120); do grep -q holding "$WORK/idle.err" 2>/dev/null && break; sleep 0.5; done
sleep 2
RSS1=$(awk '/VmRSS/{print $2}' /proc/$UP_PID/status)
wait $IDLE_PID || true
stop_up
# The same quote latencies with the servers' connections on one thread.
start_up logins1 12 1000 --connection-threads 1
"$LOAD" --target 127.0.0.1:27049 --connections 20 --mix quote=100 --duration "$SECS" --user-prefix bq --json 2>/dev/null >"$OUT/quotes_alone_t1.json"
"$LOAD" --target 127.0.0.1:27049 --connections 36 --mix quote=20,login=16 --duration 15 --setup-concurrency 8 --user-prefix bm --json 2>/dev/null >"$OUT/quotes_burst_t1.json"
stop_up

echo "== 5. tick settlement with 10,000 vs 100,000 resting limit orders (1,000 fills a tick; SQLite and PostgreSQL)"
PAPERTRADER_BENCH_POSTGRES_URL="$PG/test" cargo bench -q -p papertrader-master --bench resting_orders 2>/dev/null | tee "$OUT/resting_orders.txt"

python3 - "$OUT" <<PY
import json, sys
out = sys.argv[1]
load = lambda f: json.load(open(f"{out}/{f}"))
logins, bcrypt = load("logins.json"), load("bcrypt.json")
alone, burst = load("quotes_alone.json"), load("quotes_burst.json")
alone1, burst1 = load("quotes_alone_t1.json"), load("quotes_burst_t1.json")
lps = logins["ops"][0]["ok"] / logins["seconds"]
burst_quote = next(o for o in burst["ops"] if o["op"] == "quote")
burst_quote1 = next(o for o in burst1["ops"] if o["op"] == "quote")
r = {
  "connection_threads": $CORES,
  "quotes_per_second": $QPS, "quote_p99_us": $QP99, "redis_get_per_second": $RPS,
  "redis_p99_us": $RP99, "quotes_vs_redis": $QPS / $RPS,
  "quotes_per_second_one_thread": $QPS1, "quote_p99_us_one_thread": $QP991,
  "settled_trades_per_second": $TPS, "trades_acknowledged": $ACKED, "trade_rows": $ROWS,
  "trade_rows_distinct": $DISTINCT, "negative_balances": $NEG, "pgbench_tps": $PGTPS,
  "trades_vs_pgbench": $TPS / $PGTPS, "settled_trades_per_second_one_thread": $TPS1,
  "logins_per_second": lps, "bcrypt_bound": bcrypt["logins_per_second_bound"],
  "logins_vs_bound": lps / bcrypt["logins_per_second_bound"],
  "quote_p99_us_alone": alone["ops"][0]["latency_us"]["p99"],
  "quote_p99_us_during_logins": burst_quote["latency_us"]["p99"],
  "quote_p99_us_alone_one_thread": alone1["ops"][0]["latency_us"]["p99"],
  "quote_p99_us_during_logins_one_thread": burst_quote1["latency_us"]["p99"],
  "rss_mb_before_idle": $RSS0 / 1024, "rss_mb_with_10k_idle": $RSS1 / 1024,
}
json.dump(r, open(f"{out}/results.json", "w"), indent=2)
ok = lambda good: "met" if good else "NOT met"
print()
print(f"quotes via worker   {r['quotes_per_second']:>10.0f}/s  redis GET {r['redis_get_per_second']:>10.0f}/s  ratio {r['quotes_vs_redis']:.2f}x  p99 {r['quote_p99_us']/1000:.2f} ms (redis {r['redis_p99_us']/1000:.2f} ms)   target >=1.5x, p99 <=2x redis: {ok(r['quotes_vs_redis'] >= 1.5 and r['quote_p99_us'] <= 2 * r['redis_p99_us'])}")
print(f"  on one connection thread: {r['quotes_per_second_one_thread']:.0f}/s, p99 {r['quote_p99_us_one_thread']/1000:.2f} ms; on {r['connection_threads']}: {r['quotes_per_second']/r['quotes_per_second_one_thread']:.2f}x the rate")
print(f"settled trades      {r['settled_trades_per_second']:>10.0f}/s  pgbench   {r['pgbench_tps']:>10.0f}/s  ratio {r['trades_vs_pgbench']:.2f}x   target >=3x (goal 10x): {ok(r['trades_vs_pgbench'] >= 3)}")
print(f"  on one connection thread: {r['settled_trades_per_second_one_thread']:.0f}/s; on {r['connection_threads']}: {r['settled_trades_per_second']/r['settled_trades_per_second_one_thread']:.2f}x the rate")
print(f"  acknowledged {r['trades_acknowledged']}, rows {r['trade_rows']}, distinct {r['trade_rows_distinct']}, negative balances {r['negative_balances']}: {ok(r['trades_acknowledged'] == r['trade_rows'] == r['trade_rows_distinct'] and r['negative_balances'] == 0)}")
print(f"logins              {r['logins_per_second']:>10.2f}/s  bound     {r['bcrypt_bound']:>10.2f}/s  ratio {r['logins_vs_bound']:.2f}    target >=0.90: {ok(r['logins_vs_bound'] >= 0.9)}")
print(f"  quote p99 alone {r['quote_p99_us_alone']/1000:.2f} ms, during logins {r['quote_p99_us_during_logins']/1000:.2f} ms   target <=1.5x alone: {ok(r['quote_p99_us_during_logins'] <= 1.5 * r['quote_p99_us_alone'])}")
print(f"  on one connection thread: alone {r['quote_p99_us_alone_one_thread']/1000:.2f} ms, during logins {r['quote_p99_us_during_logins_one_thread']/1000:.2f} ms: {ok(r['quote_p99_us_during_logins_one_thread'] <= 1.5 * r['quote_p99_us_alone_one_thread'])}")
print(f"10k idle connections: RSS {r['rss_mb_before_idle']:.0f} MB -> {r['rss_mb_with_10k_idle']:.0f} MB (master + 2 workers in one process)   target <=200 MB: {ok(r['rss_mb_with_10k_idle'] <= 200)}")
PY
