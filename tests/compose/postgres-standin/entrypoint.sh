#!/bin/sh
# STAND-IN entrypoint (see the Dockerfile beside it): the part of the official postgres image's
# entrypoint that docker-compose.yml uses. On first start (empty $PGDATA) it creates the cluster
# with POSTGRES_USER as superuser and POSTGRES_PASSWORD as its password (scram-sha-256 over
# TCP), and the database POSTGRES_DB; then it runs the server listening on every address.
set -eu
if [ "$(id -u)" = 0 ]; then
  # A fresh named volume may be root-owned: give it to postgres, then drop root.
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" != postgres ]; then
  exec "$@"
fi
shift
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?the stand-in, like the real image, needs POSTGRES_PASSWORD}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # Private socket, no TCP: nothing can connect (and pg_isready does not say ready) yet.
    init_socket=$(mktemp -d)
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$init_socket" -w start >/dev/null
    createdb -h "$init_socket" -U "$user" "$db"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    rmdir "$init_socket"
  fi
  echo "stand-in postgres: created user $user and database $db"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
