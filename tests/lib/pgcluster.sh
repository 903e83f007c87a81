# pgcluster.sh - a throwaway PostgreSQL cluster for tests and benchmarks
# (sourced by tests/helpers.bash and tests/bench/*.sh).
#
#   pg_start DIR   initdb in DIR/data (as the postgres user when run as
#                  root), wal_level=logical, unix socket in DIR, a free port,
#                  no TCP; start it; export PGHOST, PGPORT, PGUSER,
#                  PGDATABASE and DBLOG_PG (a conninfo for dblog)
#   pg_stop DIR    stop it (immediate) and remove DIR
#
# Needs the PostgreSQL 15 server binaries (Debian: postgresql-15).

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

# Run a server binary as the cluster owner.
pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
	_d=$1
	[ -x "$PG_BIN/initdb" ] || { echo "pg_start: no PostgreSQL server binaries (install postgresql-15)" >&2; return 1; }
	mkdir -p "$_d"
	chmod 755 "$_d"
	[ "$(id -u)" = 0 ] && chown postgres: "$_d"
	pg_as_owner "$PG_BIN/initdb" -D "$_d/data" -U postgres -A trust -E UTF8 --no-sync \
		>"$_d/initdb.log" 2>&1 || { cat "$_d/initdb.log" >&2; return 1; }
	_port=$(pg_free_port)
	cat >>"$_d/data/postgresql.conf" <<CONF
listen_addresses = ''
port = $_port
unix_socket_directories = '$_d'
wal_level = logical
max_wal_senders = 20
max_replication_slots = 20
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
wal_sender_timeout = 60s
max_connections = 100
CONF
	pg_as_owner "$PG_BIN/pg_ctl" -D "$_d/data" -l "$_d/server.log" -w -t 60 start \
		>/dev/null || { cat "$_d/server.log" >&2; return 1; }
	export PGHOST="$_d" PGPORT="$_port" PGUSER=postgres PGDATABASE=postgres
	export DBLOG_PG="host=$_d port=$_port user=postgres dbname=postgres"
}

pg_stop() {
	_d=$1
	[ -d "$_d/data" ] && pg_as_owner "$PG_BIN/pg_ctl" -D "$_d/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$_d"
}
