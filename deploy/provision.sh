#!/bin/sh
# One-shot provisioning for docker-compose: registers each worker listed in
# PAPERTRADER_PROVISION_WORKERS ("name link-ip client-address" per line) with the master,
# through the master's admin socket, reading its UUID and public key from /workers/<name>/
# (files the worker writes on its first start). Safe to run again: a registered worker is
# left as it is.
set -eu
socket=${PAPERTRADER_ADMIN_SOCKET:-/master/master.admin.sock}
echo "$PAPERTRADER_PROVISION_WORKERS" | while read -r name ip address; do
  [ -n "$name" ] || continue
  dir=/workers/$name
  for _ in $(seq 1 60); do
    [ -s "$dir/uuid" ] && [ -s "$dir/worker.pub.asc" ] && break
    sleep 1
  done
  if papertrader admin --socket "$socket" workers list | grep -q "^$name "; then
    echo "$name already registered"
  else
    papertrader admin --socket "$socket" workers add "$name" --uuid "$(cat "$dir/uuid")" \
      --address "$address" --allow-ip "$ip" --key "$dir/worker.pub.asc"
  fi
done
