#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ answer on their ports: start them when installed
# but stopped, install them from Debian's packages when missing and we are root,
# otherwise say exactly what to install. Idempotent; safe to run on every `make`.
set -euo pipefail

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
AMQP_HOST="${AMQP_HOST:-127.0.0.1}"
AMQP_PORT="${AMQP_PORT:-5672}"

say() { printf '[services] %s\n' "$*"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_for() {  # host port name seconds
  for _ in $(seq 1 "$4"); do listening "$1" "$2" && return 0; sleep 1; done
  say "$3 did not come up on $1:$2 within $4 s"; return 1
}

apt_updated=0
apt_install() {
  if ! is_root; then
    say "missing: $*. Install it with: sudo apt-get install -y $*  (then run make again)"
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_python_venv() {
  python3 -c 'import ensurepip, venv' 2>/dev/null && return 0
  apt_install python3-venv python3-pip
}

start_postgres() {
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
      pg_ctlcluster "$version" main start 2>/dev/null || service postgresql start || true
  else
    service postgresql start || true
  fi
}

ensure_postgres() {
  if listening "$PGHOST" "$PGPORT"; then
    say "PostgreSQL is up on $PGHOST:$PGPORT"
  else
    if [ "$PGHOST" != "127.0.0.1" ] && [ "$PGHOST" != "localhost" ]; then
      say "PostgreSQL at $PGHOST:$PGPORT is not reachable (remote: not starting it)"; exit 1
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! [ -d /etc/postgresql ]; then
      apt_install postgresql postgresql-client
    fi
    is_root || { say "PostgreSQL is installed but stopped: start it with: sudo service postgresql start"; exit 1; }
    say "starting PostgreSQL"
    start_postgres
    wait_for "$PGHOST" "$PGPORT" PostgreSQL 60
  fi
  # A fresh Debian install asks for a password over TCP: give `postgres` the one in the
  # default DATABASE_URL (development only; a trust-auth server ignores it).
  if is_root && command -v runuser >/dev/null 2>&1 && [ -z "${DATABASE_URL:-}" ]; then
    runuser -u postgres -- psql -qtAc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null 2>&1 || true
  fi
}

ensure_rabbitmq() {
  if listening "$AMQP_HOST" "$AMQP_PORT"; then
    say "RabbitMQ is up on $AMQP_HOST:$AMQP_PORT"
    return 0
  fi
  if [ "$AMQP_HOST" != "127.0.0.1" ] && [ "$AMQP_HOST" != "localhost" ]; then
    say "RabbitMQ at $AMQP_HOST:$AMQP_PORT is not reachable (remote: not starting it)"; exit 1
  fi
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  is_root || { say "RabbitMQ is installed but stopped: start it with: sudo rabbitmq-server -detached"; exit 1; }
  say "starting RabbitMQ"
  if command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl -q status >/dev/null 2>&1; then
    rabbitmqctl -q start_app || true            # the node runs but the app was stopped
  else
    rabbitmq-server -detached || service rabbitmq-server start || true
  fi
  wait_for "$AMQP_HOST" "$AMQP_PORT" RabbitMQ 90
}

ensure_python_venv
ensure_postgres
ensure_rabbitmq
