#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on a free loopback port, then removes it.
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# The command sees PINGJIA_TEST_POSTGRES_URL=postgres://test@127.0.0.1:PORT/pingjia_test (trust
# authentication, loopback only, fsync off unless PINGJIA_TEST_POSTGRES_FSYNC=on, as a benchmark
# wants: for tests, never for data). Needs Debian's
# `postgresql` package (make deps). As root, the server runs as the `postgres` user, since
# initdb and postgres refuse to run as root.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

pgbin=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  pgbin=$(pg_config --bindir)
else
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "with-postgres: no PostgreSQL server binaries (initdb) found: install Debian's postgresql (make deps)" >&2
  exit 1
fi

as_server_user=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "with-postgres: running as root needs the 'postgres' user (Debian's postgresql package makes it)" >&2; exit 1; }
  as_server_user=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pingjia-pg.XXXXXX")
chmod 755 "$dir"
mkdir "$dir/pg"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$dir/pg"

cleanup() {
  "${as_server_user[@]}" "$pgbin/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_server_user[@]}" "$pgbin/initdb" -D "$dir/pg/data" --auth=trust -U test --no-sync -E UTF8 --locale=C.UTF-8 \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; echo "with-postgres: initdb failed" >&2; exit 1; }

# A free port: bind to 0 and read it back. Another process could take it before the server
# does, so a failed start tries again with a new port.
started=""
for _ in 1 2 3 4 5; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  if "${as_server_user[@]}" "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w -t 30 \
       -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=${PINGJIA_TEST_POSTGRES_FSYNC:-off} -c max_connections=300" start >/dev/null; then
    started=yes
    break
  fi
done
if [ -z "$started" ]; then
  cat "$dir/pg/log" >&2 || true
  echo "with-postgres: the server did not start (log above)" >&2
  exit 1
fi
"$pgbin/createdb" -h 127.0.0.1 -p "$port" -U test pingjia_test

export PINGJIA_TEST_POSTGRES_URL="postgres://test@127.0.0.1:$port/pingjia_test"
echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (removed afterwards)" >&2
set +e
"$@"
status=$?
set -e
exit $status
