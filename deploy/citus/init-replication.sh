#!/usr/bin/env bash
# Runs once, when a Citus worker's data directory is first initialised (mounted into
# /docker-entrypoint-initdb.d/ of the postgres image): creates the replication role that
# its streaming secondary clones and follows with, and lets that role connect for
# replication from the other containers (scram-sha-256, never trust).
# Written to be both executed and sourced by docker-entrypoint.sh: no `exit`, no `set -u`.
set -e

: "${REPLICATION_USER:?set REPLICATION_USER}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     --set=role="$REPLICATION_USER" --set=password="$REPLICATION_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I WITH LOGIN REPLICATION PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')
\gexec
SQL

if ! grep -q "^host[[:space:]]\+replication[[:space:]]\+${REPLICATION_USER}[[:space:]]" "$PGDATA/pg_hba.conf"; then
  printf 'host replication %s all scram-sha-256\n' "$REPLICATION_USER" >> "$PGDATA/pg_hba.conf"
fi
echo "replication role $REPLICATION_USER ready for the streaming secondary"
