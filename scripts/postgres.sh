#!/usr/bin/env bash
# A throwaway PostgreSQL server on a free loopback port, run as the postgres user (initdb
# refuses root). Source it, then:
#   pg_url=$(start_postgres DIR)   # DIR: an empty temporary folder
#   stop_postgres DIR
pg_bin() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [ -n "$initdb" ] && dirname "$initdb"
}

start_postgres() {
  local dir=$1 bin port
  bin=$(pg_bin) || return 1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  chown postgres:postgres "$dir"
  su postgres -s /bin/sh -c "$bin/initdb -D $dir/data -A trust -U postgres --no-sync" >/dev/null
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir/data -w -l $dir/log \
    -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

stop_postgres() {
  local dir=$1 bin
  bin=$(pg_bin) || return 0
  su postgres -s /bin/sh -c "$bin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
}
