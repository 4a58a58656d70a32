#!/usr/bin/env bash
# The entrypoint of a Citus streaming secondary (same image as its worker, since the
# cloned configuration preloads citus). On first start, when the data directory is
# empty, it clones the worker with pg_basebackup -R (which writes standby.signal and
# primary_conninfo) through a physical replication slot, so the worker keeps the WAL
# the secondary still needs; then, and on every later start, it runs postgres as a hot
# standby. The coordinator sends reads of sessions with citus.use_secondary_nodes=always
# here once `itemx cluster-init` registered it (citus_add_secondary_node).
#
# Environment: PRIMARY_HOST, PRIMARY_PORT (5432), REPLICATION_USER, REPLICATION_PASSWORD,
# REPLICATION_SLOT (a name unique per secondary), PGDATA: a directory *inside* the volume,
# not its mount point (the finished clone is renamed into place, so a clone interrupted
# half-way is never mistaken for a data directory).
set -euo pipefail

: "${PRIMARY_HOST:?set PRIMARY_HOST (the worker this secondary follows)}"
: "${REPLICATION_USER:?set REPLICATION_USER}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
: "${REPLICATION_SLOT:?set REPLICATION_SLOT}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
export PGDATA

if [ "$(id -u)" = "0" ]; then
  # As root only to hand the volume to postgres, then again as postgres (like the
  # image's own docker-entrypoint.sh).
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$(dirname "$PGDATA")" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  exec gosu postgres "${BASH_SOURCE[0]}" "$@"
fi

say() { echo "replica-entrypoint: $*"; }
mkdir -p "$PGDATA"

if [ "$(stat -c %d "$PGDATA")" != "$(stat -c %d "$(dirname "$PGDATA")")" ]; then
  say "PGDATA=$PGDATA is a mount point: set it to a directory inside the volume"; exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  say "waiting for the primary $PRIMARY_HOST:$PRIMARY_PORT"
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do sleep 1; done
  say "creating replication slot $REPLICATION_SLOT on the primary (if missing)"
  PGPASSWORD="$REPLICATION_PASSWORD" pg_receivewal -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" \
    -U "$REPLICATION_USER" -w --slot="$REPLICATION_SLOT" --create-slot --if-not-exists
  partial="$PGDATA.partial"
  rm -rf "$partial"
  say "cloning $PRIMARY_HOST:$PRIMARY_PORT with pg_basebackup"
  # -R writes standby.signal and primary_conninfo (with this password) into the clone.
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" \
    -U "$REPLICATION_USER" -w -D "$partial" -X stream -S "$REPLICATION_SLOT" -R \
    --checkpoint=fast --progress
  # A crash before this line leaves only the .partial directory: the next start redoes it.
  rm -rf "$PGDATA"
  mv "$partial" "$PGDATA"
  chmod 0700 "$PGDATA"
  say "cloned; starting as a hot standby"
fi

if [ "${1:-postgres}" = "postgres" ]; then
  shift || true
  exec postgres "$@"
fi
exec "$@"
