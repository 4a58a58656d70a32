#!/usr/bin/env bash
# What `make bench` needs beyond `make setup`: wrk (Debian's package). Installs it when
# missing and we are root; otherwise says exactly what to install. Idempotent.
set -euo pipefail

say() { printf '[bench-setup] %s\n' "$*"; }

if command -v wrk >/dev/null 2>&1; then
  say "wrk is installed ($(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  say "missing: wrk. Install it with: sudo apt-get install -y wrk  (then run make bench again)"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "missing: wrk, and this is not a Debian-like system: install wrk with your package manager"
  exit 1
fi
say "installing wrk from Debian's packages"
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
say "wrk installed"
