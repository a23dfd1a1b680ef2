#!/usr/bin/env bash
# Stops and removes what bench/peer-setup.sh started (by PID, never by name).
set -uo pipefail
DIR=${1:-/tmp/openrras-peer}
[ -d "$DIR" ] || exit 0
if [ -f "$DIR/freeradius.pid" ]; then
  kill "$(cat "$DIR/freeradius.pid")" 2>/dev/null
  sleep 0.5
fi
if [ -f "$DIR/pg/postmaster.pid" ]; then
  PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n1)")
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null 2>&1
fi
rm -rf "$DIR"
echo "peer removed: $DIR"
