#!/bin/sh
# One-shot TLS set-up for docker-compose (the `certs` service, run on every `up` before the
# master): a local CA, made on the first run and kept in /ca (its key never leaves that
# volume), and fresh certificates signed by it, each copied to the one volume that needs it:
#
#   /tls-master  master.pem, master.key.pem, ca.pem   (mounted read-only by the master at /tls)
#   /tls-worker  worker.pem, worker.key.pem, ca.pem   (mounted read-only by the workers at /tls)
#
# The master's certificate names `master` (how workers reach it) and the public host (how
# clients ask it for the worker list); the workers' names `worker-1`, `worker-2` and the public
# host. localhost and 127.0.0.1 are in both, for clients on the Docker host itself.
set -eu
host=${PAPERTRADER_PUBLIC_HOST:-localhost}

papertrader certs --dir /ca --name master \
  --host master --host "$host" --host localhost --host 127.0.0.1
papertrader certs --dir /ca --name worker \
  --host worker-1 --host worker-2 --host "$host" --host localhost --host 127.0.0.1

for role in master worker; do
  dir=/tls-$role
  cp /ca/ca.pem "$dir/ca.pem"
  cp /ca/$role.pem "$dir/$role.pem"
  cp /ca/$role.key.pem "$dir/$role.key.pem"
  chmod 0644 "$dir/ca.pem" "$dir/$role.pem"
  chmod 0600 "$dir/$role.key.pem"
done
echo "certificates issued for master and workers (public host $host), signed by the CA in /ca"
