#!/bin/sh
# Installs what `cargo bench --bench engine` compares ld-tower with:
# nginx (the target), wrk, and Locust (in the workspace's .peer venv).
# Run as root (or with sudo) on Debian/Ubuntu. Idempotent.
set -eu
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] || ! command -v wrk >/dev/null 2>&1; then
    apt-get update
    apt-get install -y nginx wrk
fi
# Debian starts its own nginx on port 80 where an init system runs; the
# bench never uses it (it starts nginx with its own temporary config).
if [ ! -x .peer/bin/python ]; then
    python3 -m venv .peer
fi
if ! .peer/bin/locust --version >/dev/null 2>&1; then
    .peer/bin/pip install locust
fi
echo "ready: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(.peer/bin/locust --version 2>&1 | cut -d' ' -f1-2)"
echo "run:   cargo bench --bench engine            # about 95 s; -- --quick skips the 60 s memory run"
