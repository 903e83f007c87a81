# pgapply.bash - helpers of the PostgreSQL apply tests (70-*.bats), loaded
# after helpers.bash and lib/pg.bash. One cluster per file (pg_file_start);
# the tests apply into the database "apply", emptied before each test
# (reset_db: every schema dropped, dblog's state with them), and make more
# databases where they need them (a source to capture from, a second
# destination: new_database, use_db).

# use_db NAME: create the database NAME (dropped first when it is there)
# and make it the one q and DEST talk to.
use_db() {
	new_database "$1" || return 1
	to_db "$1"
}

# reset_db [SQL]: drop every schema of the current database (tables, types,
# functions and dblog's state go with them), make an empty public schema,
# then run SQL. Much cheaper than a new database.
reset_db() {
	PGOPTIONS="-c client_min_messages=warning" psql -qXAt -v ON_ERROR_STOP=1 -c "DO \$\$ DECLARE s text; BEGIN
		FOR s IN SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
		LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP;
		CREATE SCHEMA public; END \$\$; ${1:-}"
}

# to_db NAME: make the existing database NAME the one q and DEST talk to.
to_db() {
	export PGDATABASE="$1"
	# shellcheck disable=SC2034 # DEST is read by the tests
	DEST=$(conninfo "$1")
}

# new_database NAME: an empty database NAME (dropped first when there).
new_database() {
	PGOPTIONS="-c client_min_messages=warning" psql -qXAt -v ON_ERROR_STOP=1 -d postgres \
		-c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
}

# conninfo DB: a conninfo string for database DB of the file's cluster.
conninfo() {
	echo "host=$PGHOST port=$PGPORT user=postgres dbname=$1"
}

# qq SQL: q without the NOTICEs (DROP ... CASCADE, IF EXISTS) on stderr.
qq() {
	q "SET client_min_messages = warning; $1"
}

# ------------------------------------------------ events for apply tests
# Events of source "s" (postgres), table $E_TABLE (public.t), commit time
# $E_TIME. POS is a number N, written as the LSN "0/<N in hex>" (so the
# order of the numbers is the order of the LSNs). KEY, BEFORE, AFTER are
# JSON, or - to leave the field out.
E_TABLE=public.t
E_TIME=2026-01-01T00:00:00.000000Z
E_SRC='{"driver":"postgres","name":"s"}'

lsn() {
	printf '0/%X' "$1"
}
ev_begin() { # POS [TX]
	printf '{"op":"begin","source":%s,"tx":%s,"pos":"%s","commit_time":"%s"}\n' \
		"$E_SRC" "${2:-$1}" "$(lsn "$1")" "$E_TIME"
}
ev_commit() { # POS [COUNT] [TX]
	printf '{"op":"commit","source":%s,"tx":%s,"pos":"%s","commit_time":"%s","count":%s}\n' \
		"$E_SRC" "${3:-$1}" "$(lsn "$1")" "$E_TIME" "${2:-1}"
}
ev_heartbeat() { # POS
	printf '{"op":"heartbeat","source":%s,"pos":"%s","commit_time":"%s"}\n' "$E_SRC" "$(lsn "$1")" "$E_TIME"
}
ev() { # OP POS SEQ KEY [BEFORE] [AFTER]
	local op="$1" pos="$2" seq="$3" key="$4" before="${5:--}" after="${6:--}" s
	s=$(printf '{"op":"%s","table":"%s","source":%s,"pos":"%s","seq":%s,"commit_time":"%s"' \
		"$op" "$E_TABLE" "$E_SRC" "$(lsn "$pos")" "$seq" "$E_TIME")
	[ "$key" = - ] || s="$s,\"key\":$key"
	[ "$before" = - ] || s="$s,\"before\":$before"
	[ "$after" = - ] || s="$s,\"after\":$after"
	printf '%s}\n' "$s"
}
# ev_tx POS CHANGE-LINES...: begin, the lines given, commit.
ev_tx() {
	local pos="$1"; shift
	ev_begin "$pos"
	printf '%s\n' "$@"
	ev_commit "$pos" "$#"
}

# ------------------------------------------------------------- checks

# applied_pos [STREAM]: the pos in dblog.applied of STREAM (default).
applied_pos() {
	q "SELECT position->>'pos' FROM dblog.applied WHERE stream = '${1:-default}'"
}

# rollbacks: how many transactions of the current database were rolled
# back, once every dblog-apply session has ended (a session's counts reach
# pg_stat_database as it exits). A pipelined batch in which a statement
# failed is rolled back (and applied again change by change).
rollbacks() {
	wait_until 10 no_apply_session || return 1
	q "SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()"
}
no_apply_session() {
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dblog-apply'")" = 0 ]
}

# md5_rows DB TABLE KEY: "KEY|md5(row::text)" for every row of TABLE (SQL
# name) in database DB, in KEY order.
md5_rows() {
	PGDATABASE="$1" q "SELECT $3, md5(dblog_row_::text) FROM $2 AS dblog_row_ ORDER BY $3"
}

# same_rows DB1 DB2 TABLE KEY: TABLE holds the same rows in both
# databases (md5 of each row's text, matched by KEY); prints what differs.
same_rows() {
	local a b
	a=$(md5_rows "$1" "$3" "$4") || return 1
	b=$(md5_rows "$2" "$3" "$4") || return 1
	[ -n "$a" ] || { echo "$3 is empty in $1" >&2; return 1; }
	diff -u <(echo "$a") <(echo "$b") >&2
}

# same_sqlite_pg SQLITE-DB: every user table of SQLITE-DB holds the same
# rows as the PostgreSQL table of the same name in schema public of the
# current database (PGDATABASE): integers and text equal, REAL equal as
# doubles, BLOBs equal to bytea; prints what differs.
same_sqlite_pg() {
	python3 - "$1" <<'PY'
import json, sqlite3, subprocess, sys
from decimal import Decimal
db = sqlite3.connect(sys.argv[1])
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                    "AND name NOT LIKE '\\_dblog\\_%' ESCAPE '\\' "
                                    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
def norm(v):
    # numbers by value (an integral REAL is a whole number in PostgreSQL)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    return str(Decimal(repr(v) if isinstance(v, float) else v).normalize())
bad = 0
for t in tables:
    cols = [r[1] for r in db.execute('SELECT * FROM pragma_table_info(?)', (t,))]
    want = sorted(json.dumps([norm(v) for v in r]) for r in
                  db.execute('SELECT %s FROM "%s"' % (", ".join('"%s"' % c.replace('"', '""') for c in cols),
                                                      t.replace('"', '""'))))
    ident = '"public"."%s"' % t.replace('"', '""')
    sql = "SELECT coalesce(json_agg(json_build_array(%s)), '[]') FROM %s" % (
        ", ".join('"%s"' % c.replace('"', '""') for c in cols), ident)
    out = subprocess.run(["psql", "-qXAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True)
    if out.returncode:
        print("%s: %s" % (t, out.stderr.strip()))
        bad = 1
        continue
    got = sorted(json.dumps([norm(v) for v in r])
                 for r in json.loads(out.stdout, parse_float=Decimal, parse_int=Decimal))
    if not want:
        print("%s: empty in SQLite" % t)
        bad = 1
    if want != got:
        print("%s differs:\n  sqlite:   %s\n  postgres: %s" % (t, want, got))
        bad = 1
sys.exit(bad)
PY
}
