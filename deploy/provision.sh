#!/bin/sh
# One-shot provisioning for docker-compose: registers workers with the master through the
# master's admin socket ($PAPERTRADER_ADMIN_SOCKET). Arguments, three per worker:
#
#   papertrader-provision NAME LINK-IP PUBLISHED-PORT [NAME LINK-IP PUBLISHED-PORT ...]
#
# A worker's UUID and public key are read from /workers/NAME/ (files the worker writes on its
# first start); clients are given tls://$PAPERTRADER_PUBLIC_HOST:PUBLISHED-PORT (the workers'
# ports take TLS); LINK-IP is the one
# address the worker may connect to the master from.
#
# Idempotent by what matters, not by name: a registration whose UUID, client address or
# whitelisted address differs from the wanted one (a recreated worker volume has a new UUID and
# key; a new PAPERTRADER_PUBLIC_HOST or port a new address) is removed and made again; one that
# matches is left as it is (a booted-off worker stays booted off).
set -eu
socket=${PAPERTRADER_ADMIN_SOCKET:-/master/master.admin.sock}
host=${PAPERTRADER_PUBLIC_HOST:-localhost}

admin() { papertrader admin --socket "$socket" "$@"; }

if [ $# -eq 0 ] || [ $(($# % 3)) -ne 0 ]; then
  echo "usage: $0 NAME LINK-IP PUBLISHED-PORT [NAME LINK-IP PUBLISHED-PORT ...]" >&2
  exit 2
fi

while [ $# -gt 0 ]; do
  name=$1 ip=$2 address=tls://$host:$3
  shift 3
  dir=/workers/$name
  waited=0
  # Wait for both files, the key written to its end.
  until [ -s "$dir/uuid" ] && grep -q 'END PGP PUBLIC KEY BLOCK' "$dir/worker.pub.asc" 2>/dev/null; do
    if [ "$waited" -ge 60 ]; then
      echo "$name: $dir/uuid and $dir/worker.pub.asc still missing after 60 s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  uuid=$(tr -d ' \r\n' <"$dir/uuid" | tr 'A-F' 'a-f')
  list=$(admin workers list)
  # Columns: NAME UUID ADDRESS ALLOWED-IPS ENABLED ONLINE; no cell holds a space.
  current=$(printf '%s\n' "$list" | awk -v n="$name" 'NR > 1 && $1 == n { print $2, $3, $4 }')
  wanted="$uuid $address $ip"
  if [ "$current" = "$wanted" ]; then
    echo "$name: already registered as $wanted"
    continue
  fi
  if [ -n "$current" ]; then
    echo "$name: registered as $current, wanted $wanted: replacing the registration"
    admin workers remove "$name"
  fi
  admin workers add "$name" --uuid "$uuid" --address "$address" --allow-ip "$ip" \
    --key "$dir/worker.pub.asc"
  echo "$name: registered as $wanted"
done
