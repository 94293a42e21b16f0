#!/usr/bin/env bash
# The multi-host test bed, by hand: three hosts (127.0.0.2, .3, .4), each
# `antechamber serve --workers 2`, behind HAProxy (health checks on /readyz), on their own
# PostgreSQL (initdb/pg_ctl from /usr/lib/postgresql/*/bin, a free port) and a 6-node
# Redis Cluster (Debian's redis-server, free loopback ports). Prints the addresses and
# runs until Ctrl-C, then stops and removes everything it started.
# Needs Debian's haproxy, redis-server and postgresql packages
# (`apt-get install -y haproxy redis-server postgresql`).
set -euo pipefail
cd "$(dirname "$0")/.."
exec uv run python -m tests.testbed.bed "$@"
