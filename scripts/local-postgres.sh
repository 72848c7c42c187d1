#!/usr/bin/env bash
# A local PostgreSQL cluster for trying the hub on PostgreSQL (make run-hub-pg). Not for
# production: trust authentication on 127.0.0.1.
#
#   scripts/local-postgres.sh start DIR PORT   create the cluster in DIR/data if missing, start it,
#                                              create user pingjia and database pingjia_hub
#   scripts/local-postgres.sh stop DIR         stop it (the data stays in DIR)
set -euo pipefail

usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "local-postgres: no PostgreSQL server binaries found: install Debian's postgresql (make deps)" >&2
  exit 1
fi
as_server_user=()
if [ "$(id -u)" = 0 ]; then
  as_server_user=(runuser -u postgres --)
  chown postgres:postgres "$dir"
fi
pg() { "${as_server_user[@]}" "$pgbin/$1" "${@:2}"; }

case $action in
  start)
    [ $# -eq 3 ] || usage
    port=$3
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      pg initdb -D "$dir/data" --auth=trust -U pingjia -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    fi
    if ! pg pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
      pg pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null \
        || { tail -n 20 "$dir/server.log" >&2; echo "local-postgres: the server did not start on port $port (log above)" >&2; exit 1; }
    fi
    "$pgbin/psql" -h 127.0.0.1 -p "$port" -U pingjia -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'pingjia_hub'" \
      | grep -q 1 || "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U pingjia pingjia_hub
    echo "PostgreSQL on 127.0.0.1:$port, data in $dir/data"
    ;;
  stop)
    pg pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  *) usage ;;
esac
