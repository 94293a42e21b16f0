#!/usr/bin/env bash
# Installs (from Debian's packages) and starts the PostgreSQL and Redis servers that
# development and the benchmarks use, on loopback only. Idempotent: what already runs is
# left alone. `--install-only` installs the binaries and starts nothing: the tests start
# throwaway servers of their own from them.
#
# Redis runs with append-only persistence (fsync every second): without it a Redis
# restart loses every login session, waiting place and admission.
set -euo pipefail

PG_USER=${PG_USER:-antechamber}
PG_PASSWORD=${PG_PASSWORD:-antechamber}
PG_DB=${PG_DB:-antechamber_test}
REDIS_PORT=${REDIS_PORT:-6379}

need_install=()
command -v redis-server >/dev/null 2>&1 || need_install+=(redis-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_install+=(postgresql)
if [ ${#need_install[@]} -gt 0 ]; then
  echo "services: installing ${need_install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_install[@]}" >/dev/null
fi
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "services: starting redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p /var/lib/antechamber-redis
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --dir /var/lib/antechamber-redis --appendonly yes --appendfsync everysec --save '' \
    --logfile /tmp/antechamber-redis.log
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  if ! pg_lsclusters -h | grep -q .; then
    pg_createcluster "$version" main >/dev/null
  fi
  cluster=$(pg_lsclusters -h | head -n 1 | awk '{print $1" "$2}')
  echo "services: starting postgresql $cluster"
  # shellcheck disable=SC2086
  pg_ctlcluster $cluster start
  for _ in $(seq 1 100); do pg_isready -h 127.0.0.1 -q && break; sleep 0.1; done
fi

psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -c \"$1\""; }
if [ "$(psql_su "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != "1" ]; then
  psql_su "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD' CREATEDB"
fi
for db in "$PG_DB" antechamber_bench; do
  if [ "$(psql_su "SELECT 1 FROM pg_database WHERE datname='$db'")" != "1" ]; then
    psql_su "CREATE DATABASE $db OWNER $PG_USER"
  fi
done
echo "services: postgresql and redis ready"
