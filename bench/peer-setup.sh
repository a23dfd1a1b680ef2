#!/usr/bin/env bash
# The incumbent to benchmark beside rrasd: FreeRADIUS 3 writing accounting
# into PostgreSQL's stock `radacct`, both on loopback, both from a private
# directory, no system service touched. Durable like rrasd: fsync and
# synchronous_commit stay on.
#
#   bench/peer-setup.sh [DIR]        # default /tmp/openrras-peer; writes DIR/env
#   bench/peer-teardown.sh [DIR]
#
# Needs root (to run PostgreSQL as the postgres user); installs the Debian
# packages when missing.
set -euo pipefail
DIR=${1:-/tmp/openrras-peer}
PGPORT=${PEER_PG_PORT:-15432}
ACCT_PORT=${PEER_ACCT_PORT:-18131}
SECRET=${PEER_SECRET:-testing123}

if ! command -v freeradius >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql freeradius freeradius-postgresql freeradius-utils >/dev/null
fi
PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)")

"$(dirname "$0")/peer-teardown.sh" "$DIR" >/dev/null 2>&1 || true
mkdir -p "$DIR/pg" "$DIR/raddb" "$DIR/run" "$DIR/log"
chown postgres "$DIR/pg"

# PostgreSQL: loopback only, a private socket directory, memory to hold the
# rows (peer.md), durability defaults unchanged.
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/pg" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >> "$DIR/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$DIR/pg'
shared_buffers = 4GB
max_wal_size = 8GB
CONF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/pg.log" -w start >/dev/null
PSQL=(psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -q)
"${PSQL[@]}" -c 'CREATE DATABASE radius' >/dev/null
"${PSQL[@]}" -d radius -f /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql >/dev/null

# FreeRADIUS: the stock configuration in a private raddb, rlm_sql pointed at
# the database above, accounting on loopback only.
cp -a /etc/freeradius/3.0/. "$DIR/raddb/"
RADDB=$DIR/raddb
sed -i -e "s|^\s*raddbdir = .*|raddbdir = $RADDB|" \
       -e "s|^\s*run_dir = .*|run_dir = $DIR/run|" \
       -e "s|^\s*logdir = .*|logdir = $DIR/log|" \
       -e 's|^\(\s*\)user = freerad|\1#user = freerad|' \
       -e 's|^\(\s*\)group = freerad|\1#group = freerad|' "$RADDB/radiusd.conf"
sed -i -e 's|^\(\s*\)dialect = .*|\1dialect = "postgresql"|' \
       -e 's|^\(\s*\)driver = .*|\1driver = "rlm_sql_${dialect}"|' "$RADDB/mods-available/sql"
sed -i -e "s|^\(\s*\)radius_db = \"radius\"|\1radius_db = \"dbname=radius host=127.0.0.1 port=$PGPORT user=postgres\"|" \
  "$RADDB/mods-available/sql"
ln -sf ../mods-available/sql "$RADDB/mods-enabled/sql"
# Only an accounting listener on loopback, at our port.
cat > "$RADDB/sites-enabled/default" <<SITE
server default {
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = $ACCT_PORT
}
preacct {
	preprocess
	acct_unique
}
accounting {
	sql
}
}
SITE
rm -f "$RADDB/sites-enabled/inner-tunnel" "$RADDB/mods-enabled/eap"
cat > "$RADDB/clients.conf" <<CLIENTS
client loopback {
	ipaddr = 127.0.0.0/8
	secret = $SECRET
}
CLIENTS
freeradius -C -d "$RADDB" >/dev/null
freeradius -f -d "$RADDB" > "$DIR/log/freeradius.out" 2>&1 &
echo $! > "$DIR/freeradius.pid"
for _ in $(seq 1 50); do
  ss -Hlun "sport = :$ACCT_PORT" 2>/dev/null | grep -q . && break
  sleep 0.2
done
if ! ss -Hlun "sport = :$ACCT_PORT" | grep -q . || ! kill -0 "$(cat "$DIR/freeradius.pid")" 2>/dev/null; then
  echo "peer-setup: FreeRADIUS did not start:" >&2
  cat "$DIR/log/freeradius.out" "$DIR/log/radius.log" >&2 2>/dev/null
  exit 1
fi

cat > "$DIR/env" <<ENV
PEER_DIR=$DIR
PEER_PG_PORT=$PGPORT
PEER_ACCT_PORT=$ACCT_PORT
PEER_SECRET=$SECRET
PEER_PGBIN=$PGBIN
ENV
echo "peer ready: PostgreSQL 127.0.0.1:$PGPORT (db radius), FreeRADIUS accounting 127.0.0.1:$ACCT_PORT; $DIR/env"
