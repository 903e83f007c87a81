#!/usr/bin/env bats
# Table names (dblog-event(5), "table"): schemas and tables whose names hold
# dots, double quotes, spaces, upper case and unicode are written in the
# quoted form, captured (cdc, snapshot) from PostgreSQL and SQLite, and
# applied into PostgreSQL and SQLite with and without --create-tables, each
# row into its own table; events of names written before the quoting still
# read as they did; a SQLite destination never merges two source tables of
# the same name; dblog-filter and the expressions compare whole names and
# values (a NUL inside included). One PostgreSQL cluster for the file;
# without the server binaries its tests fail, none is skipped.
load helpers
load lib/sqlite
load lib/pg
load lib/pgapply
bats_require_minimum_version 1.5.0

setup_file() {
	pg_file_start
}
teardown_file() {
	pg_file_stop
}

setup() {
	setup_tmp
	N=$BATS_TEST_NUMBER
	D="$T/dst.db"
}
teardown() {
	local p
	for p in $(jobs -p); do kill -9 "$p" 2> /dev/null || true; done
	[ -n "${PGD:-}" ] && [ "$(PGDATABASE=postgres q "SELECT count(*) FROM pg_replication_slots" 2> /dev/null)" != 0 ] &&
		PGDATABASE=postgres pg_clean
	teardown_tmp
}

# ------------------------------------------------------------ PostgreSQL

# The odd names: each table holds one row whose v names the table, so a
# row in the wrong table shows. ODD_EVENT: the event form of each, in
# the order of pg_tables (schema, name).
odd_pg_tables() {
	q 'CREATE SCHEMA "a.b"; CREATE SCHEMA a; CREATE SCHEMA "Q""s"; CREATE SCHEMA "sp ace";
	   CREATE TABLE "a.b".c(id int PRIMARY KEY, v text);
	   CREATE TABLE a."b.c"(id int PRIMARY KEY, v text);
	   CREATE TABLE "Q""s"."we""ird"(id int PRIMARY KEY, v text);
	   CREATE TABLE "sp ace"."Up Case"(id int PRIMARY KEY, v text);
	   CREATE TABLE public."café.ñ"(id int PRIMARY KEY, v text);
	   CREATE TABLE public.plain(id int PRIMARY KEY, v text)'
}
ODD_LIST='"a.b".c,a."b.c","Q""s"."we""ird",sp ace.Up Case,public."café.ñ",public.plain'
ODD_EVENT='"Q""s"."we""ird"
"a.b".c
a."b.c"
public."café.ñ"
public.plain
sp ace.Up Case'
odd_pg_rows() {
	q 'INSERT INTO "a.b".c VALUES (1, '\''"a.b".c'\'');
	   INSERT INTO a."b.c" VALUES (1, '\''a."b.c"'\'');
	   INSERT INTO "Q""s"."we""ird" VALUES (1, '\''"Q""s"."we""ird"'\'');
	   INSERT INTO "sp ace"."Up Case" VALUES (1, '\''sp ace.Up Case'\'');
	   INSERT INTO public."café.ñ" VALUES (1, '\''public."café.ñ"'\'');
	   INSERT INTO public.plain VALUES (1, '\''public.plain'\'')'
}

# pg_user_tables: schema|table of every table of the current database but
# dblog's own, sorted.
pg_user_tables() {
	q "SELECT schemaname || '|' || tablename FROM pg_tables WHERE schemaname NOT IN
	   ('pg_catalog', 'information_schema', 'dblog') ORDER BY 1"
}

# pg_odd_rows: the v of every row of the odd tables, by table (SQL name).
pg_odd_rows() {
	q 'SELECT '\''"a.b".c='\'' || v FROM "a.b".c UNION ALL
	   SELECT '\''a."b.c"='\'' || v FROM a."b.c" UNION ALL
	   SELECT '\''"Q""s"."we""ird"='\'' || v FROM "Q""s"."we""ird" UNION ALL
	   SELECT '\''sp ace.Up Case='\'' || v FROM "sp ace"."Up Case" UNION ALL
	   SELECT '\''public."café.ñ"='\'' || v FROM public."café.ñ" UNION ALL
	   SELECT '\''public.plain='\'' || v FROM public.plain'
}
PG_ODD_ROWS='"a.b".c="a.b".c
a."b.c"=a."b.c"
"Q""s"."we""ird"="Q""s"."we""ird"
sp ace.Up Case=sp ace.Up Case
public."café.ñ"=public."café.ñ"
public.plain=public.plain'
PG_ODD_TABLES='Q"s|we"ird
a.b|c
a|b.c
public|café.ñ
public|plain
sp ace|Up Case'

# sqlite_odd_rows DB: table=v of every row of every user table of DB.
sqlite_odd_rows() {
	python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (t,) in db.execute("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE "
                       "'\\_dblog\\_%' ESCAPE '\\' ORDER BY name"):
    for (v,) in db.execute('SELECT v FROM "%s" ORDER BY id' % t.replace('"', '""')):
        print("%s=%s" % (t, v))
PY
}
SQLITE_ODD_ROWS='Up Case=sp ace.Up Case
b.c=a."b.c"
c="a.b".c
café.ñ=public."café.ñ"
plain=public.plain
we"ird="Q""s"."we""ird"'

@test "names: PostgreSQL cdc writes odd schema and table names quoted, ordinary ones as they were; apply puts every row in its table" {
	new_database "s$N"
	src=$(conninfo "s$N")
	PGDATABASE="s$N" odd_pg_tables
	# --tables takes the names as events write them, a comma inside quotes too
	dblog-capture --setup --slot n1 --publication n1 --tables "$ODD_LIST" "$src"
	[ "$(PGDATABASE="s$N" q "SELECT schemaname || '|' || tablename FROM pg_publication_tables
	      WHERE pubname = 'n1' ORDER BY 1")" = "$PG_ODD_TABLES" ]
	PGDATABASE="s$N" odd_pg_rows
	dblog-capture --slot n1 --publication n1 --until-caught-up "$src" > "$T/out"
	[ "$(jq -r 'select(.op == "insert") | .table' "$T/out" | sort)" = "$ODD_EVENT" ]
	[ "$(jq -r 'select(.op == "schema") | .table' "$T/out" | sort)" = "$ODD_EVENT" ]
	# PostgreSQL, --create-tables: each table made once, in its own schema
	use_db "d$N"
	run dblog-apply --create-tables "$DEST" < "$T/out"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(pg_user_tables)" = "$PG_ODD_TABLES" ]
	[ "$(pg_odd_rows)" = "$PG_ODD_ROWS" ]
	# PostgreSQL, tables made beforehand: nothing else created
	use_db "e$N"
	odd_pg_tables
	run dblog-apply "$DEST" < "$T/out"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(pg_user_tables)" = "$PG_ODD_TABLES" ]
	[ "$(pg_odd_rows)" = "$PG_ODD_ROWS" ]
	# SQLite, --create-tables: the last part of each name is the table
	run dblog-apply --create-tables "sqlite:$D" < "$T/out"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sqlite_odd_rows "$D")" = "$SQLITE_ODD_ROWS" ]
	# SQLite, tables made beforehand
	sq "$T/pre.db" 'CREATE TABLE c(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE "b.c"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "we""ird"(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE "Up Case"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "café.ñ"(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)'
	run dblog-apply "sqlite:$T/pre.db" < "$T/out"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sqlite_odd_rows "$T/pre.db")" = "$SQLITE_ODD_ROWS" ]
	# updates and deletes find the same tables
	PGDATABASE="s$N" q 'UPDATE "a.b".c SET v = '\''new'\''; DELETE FROM a."b.c"'
	dblog-capture --slot n1 --publication n1 --until-caught-up "$src" > "$T/out2"
	dblog-apply "$DEST" < "$T/out2"
	[ "$(q 'SELECT v FROM "a.b".c')" = new ]
	[ "$(q 'SELECT count(*) FROM a."b.c"')" = 0 ]
}

@test "names: PostgreSQL snapshot and incremental reads write the same names; --tables finds each table" {
	new_database "s$N"
	src=$(conninfo "s$N")
	PGDATABASE="s$N" odd_pg_tables
	PGDATABASE="s$N" odd_pg_rows
	run dblog-capture --mode snapshot --tables "$ODD_LIST" "$src"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	echo "$output" > "$T/snap"
	[ "$(jq -r 'select(.op == "snapshot") | .table' "$T/snap" | sort)" = "$ODD_EVENT" ]
	use_db "d$N"
	dblog-apply --create-tables "$DEST" < "$T/snap"
	[ "$(pg_user_tables)" = "$PG_ODD_TABLES" ]
	[ "$(pg_odd_rows)" = "$PG_ODD_ROWS" ]
	run dblog-apply --create-tables "sqlite:$D" < "$T/snap"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sqlite_odd_rows "$D")" = "$SQLITE_ODD_ROWS" ]
	# a name of the one table alone, and one that does not exist
	run dblog-capture --mode snapshot --tables '"a.b".c' "$src"
	[ "$(jq -r 'select(.op == "snapshot") | .after.v' <<< "$output")" = '"a.b".c' ]
	run dblog-capture --mode snapshot --tables 'a.b.c' "$src"
	[ "$(jq -r 'select(.op == "snapshot") | .after.v' <<< "$output")" = 'a."b.c"' ]
	run dblog-capture --mode snapshot --tables '"a.b"."c' "$src"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--tables: '\"a.b\".\"c' is not a table name"* ]]
	# incremental: the cursors are kept by the same names
	dblog-capture --mode incremental --cursor id --tables "$ODD_LIST" --until-caught-up -c "$T/cp" "$src" > "$T/inc"
	[ "$(jq -r 'select(.op == "snapshot") | .table' "$T/inc" | sort)" = "$ODD_EVENT" ]
	dblog-apply -c "$T/cp" "sqlite:$T/inc.db" --create-tables < "$T/inc"
	[ "$(jq -r '.cursor | keys[]' "$T/cp" | sort)" = "$ODD_EVENT" ]
	[ "$(sqlite_odd_rows "$T/inc.db")" = "$SQLITE_ODD_ROWS" ]
	# the next read starts after each table's cursor: nothing new
	PGDATABASE="s$N" q 'INSERT INTO "a.b".c VALUES (2, '\''two'\'')'
	dblog-capture --mode incremental --cursor id --tables "$ODD_LIST" --until-caught-up -c "$T/cp" "$src" > "$T/inc2"
	[ "$(jq -c 'select(.op == "snapshot") | [.table, .key.id]' "$T/inc2")" = '["\"a.b\".c",2]' ]
}

@test "names: --map-schema compares the parsed schema; --map-table globs match the event's form" {
	q 'CREATE SCHEMA "x.y"; CREATE TABLE "x.y".t(id int PRIMARY KEY, v text); CREATE TABLE public.t(id int PRIMARY KEY, v text)'
	use_db "d$N"
	q 'CREATE SCHEMA "a.b"; CREATE TABLE "a.b".t(id int PRIMARY KEY, v text); CREATE TABLE "a.b"."u.v"(id int PRIMARY KEY, v text)'
	{
		E_TABLE='\"x.y\".t' ev_tx 1 "$(E_TABLE='\"x.y\".t' ev insert 1 0 '{"id":1}' - '{"id":1,"v":"one"}')"
		E_TABLE='x.\"y.t\"' ev_tx 2 "$(E_TABLE='x.\"y.t\"' ev insert 2 0 '{"id":2}' - '{"id":2,"v":"two"}')"
	} > "$T/in"
	run dblog-apply --map-schema 'x.y=a.b' --map-table 'x."y.t"="a.b"."u.v"' "$DEST" < "$T/in"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(q 'SELECT v FROM "a.b".t')" = one ]
	[ "$(q 'SELECT v FROM "a.b"."u.v"')" = two ]
	# a malformed name is refused, naming it and the form
	E_TABLE='\"x.y\".\"t' ev_tx 3 "$(E_TABLE='\"x.y\".\"t' ev insert 3 0 '{"id":3}' - '{"id":3,"v":"three"}')" > "$T/bad"
	run dblog-apply "$DEST" < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *'the table name "x.y"."t is malformed'* ]] || { echo "$output"; return 1; }
	run dblog-apply "sqlite:$D" < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *'the table name "x.y"."t is malformed'* ]] || { echo "$output"; return 1; }
}

@test "names: events written before the quoting split at their first dot, as they did" {
	use_db "d$N"
	q 'CREATE SCHEMA a; CREATE TABLE a."b.c"(id int PRIMARY KEY, v text)'
	E_TABLE=a.b.c ev_tx 1 "$(E_TABLE=a.b.c ev insert 1 0 '{"id":1}' - '{"id":1,"v":"old"}')" > "$T/in"
	run dblog-apply "$DEST" < "$T/in"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(q 'SELECT v FROM a."b.c"')" = old ]
	run dblog-apply --create-tables "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sq "$D" 'SELECT v FROM "b.c"')" = old ]
}

# ---------------------------------------------------------------- SQLite

# A SQLite source with odd table names, each with one row naming its table.
odd_sqlite_src() {
	new_src "$1" 'CREATE TABLE "a.b"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "we""ird"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "sp ace"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "Up Case"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE "café"(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'
	sq "$1" 'BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES;
		INSERT INTO "a.b" VALUES (1, '\''a.b'\''); INSERT INTO "we""ird" VALUES (1, '\''we"ird'\'');
		INSERT INTO "sp ace" VALUES (1, '\''sp ace'\''); INSERT INTO "Up Case" VALUES (1, '\''Up Case'\'');
		INSERT INTO "café" VALUES (1, '\''café'\''); INSERT INTO t VALUES (1, '\''t'\''); COMMIT'
}
SQLITE_EVENT='main."a.b"
main."we""ird"
main.Up Case
main.café
main.sp ace
main.t'
SQLITE_ROWS='Up Case=Up Case
a.b=a.b
café=café
sp ace=sp ace
t=t
we"ird=we"ird'

@test "names: SQLite tables named with dots, quotes, spaces, upper case, unicode: captured (cdc and snapshot) and applied" {
	S="$T/src.db"
	odd_sqlite_src "$S"
	dblog-capture --until-caught-up "sqlite:$S" > "$T/cdc"
	[ "$(jq -r 'select(.op == "insert") | .table' "$T/cdc" | LC_ALL=C sort)" = "$(LC_ALL=C sort <<< "$SQLITE_EVENT")" ]
	dblog-capture --mode snapshot "sqlite:$S" > "$T/snap"
	[ "$(jq -r 'select(.op == "snapshot") | .table' "$T/snap" | LC_ALL=C sort)" = "$(LC_ALL=C sort <<< "$SQLITE_EVENT")" ]
	# --tables: the quoted form, "main." optional, and the old unquoted one
	run dblog-capture --mode snapshot --tables 'main."a.b","we""ird"' "sqlite:$S"
	[ "$(jq -r 'select(.op == "snapshot") | .table' <<< "$output" | sort)" = 'main."a.b"
main."we""ird"' ]
	run dblog-capture --mode snapshot --tables 'a.b' "sqlite:$S"
	[ "$(jq -r 'select(.op == "snapshot") | .table' <<< "$output")" = 'main."a.b"' ]
	for f in cdc snap; do
		rm -f "$D"
		run dblog-apply --create-tables "sqlite:$D" < "$T/$f"
		[ "$status" -eq 0 ] || { echo "$output"; return 1; }
		[ "$(sqlite_odd_rows "$D")" = "$SQLITE_ROWS" ]
	done
	# into PostgreSQL, schema main mapped to public
	use_db "d$N"
	run dblog-apply --create-tables --map-schema main=public "$DEST" < "$T/cdc"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(q "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")" = \
		"$(printf 'Up Case\na.b\ncafé\nsp ace\nt\nwe"ird')" ]
	[ "$(q 'SELECT v FROM "we""ird"')" = 'we"ird' ]
	[ "$(q 'SELECT v FROM "a.b"')" = 'a.b' ]
	# changes after setup: update and delete through the same names
	sq "$S" 'BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; UPDATE "a.b" SET v = '\''new'\''; DELETE FROM "we""ird"; COMMIT'
	dblog-capture --until-caught-up "sqlite:$S" | dblog-apply --map-schema main=public "$DEST"
	[ "$(q 'SELECT v FROM "a.b"')" = new ]
	[ "$(q 'SELECT count(*) FROM "we""ird"')" = 0 ]
}

# -------------------------------------------- SQLite destinations: merges

# users_ev TABLE POS ID: one transaction inserting user ID into TABLE.
users_ev() {
	E_TABLE="$1" ev_tx "$2" "$(E_TABLE="$1" ev insert "$2" 0 "{\"id\":$3}" - "{\"id\":$3,\"v\":\"$1\"}")"
}

@test "names: a SQLite destination refuses a second source table of the same name (eu.users, us.users), naming both and the fix" {
	new_db "$D" "CREATE TABLE users(id INTEGER PRIMARY KEY, v TEXT)"
	{ users_ev eu.users 1 1; users_ev us.users 2 2; } > "$T/in"
	run dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 5: insert change pos \"0/2\" seq 0 table \"us.users\": the rows of us.users would go into SQLite table \"users\", which holds the rows of eu.users"* ]] ||
		{ echo "$output"; return 1; }
	[[ "$output" == *"--map-table 'us.users=us_users'"* ]]
	[ "$(sq "$D" "SELECT * FROM users")" = "1|eu.users" ]
	[ "$(sq "$D" "SELECT tbl, source FROM _dblog_tables")" = "users|eu.users" ]
	# the fix as the message gives it
	run dblog-apply --create-tables --map-table 'us.users=us_users' "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sq "$D" "SELECT * FROM users")" = "1|eu.users" ]
	[ "$(sq "$D" "SELECT * FROM us_users")" = "2|us.users" ]
	# it holds across runs and streams: another stream with us.users alone
	users_ev us.users 3 3 > "$T/us"
	run dblog-apply -s other "sqlite:$D" < "$T/us"
	[ "$status" -eq 1 ]
	[[ "$output" == *"which holds the rows of eu.users"* ]]
	# and for schema events (--create-tables or not)
	printf '{"op":"schema","table":"us.users","pos":"0/4","columns":[{"name":"id","type":"INTEGER","key":true,"nullable":false}]}\n' > "$T/schema"
	run dblog-apply -s third --create-tables "sqlite:$D" < "$T/schema"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the rows of us.users would go into SQLite table \"users\""* ]]
	# nothing was merged
	[ "$(sq "$D" "SELECT count(*) FROM users")" = 1 ]
}

@test "names: a SQLite destination takes the same source table from several streams, and main.x from two SQLite sources" {
	{ users_ev eu.users 1 1; } > "$T/a"
	{ E_SRC='{"driver":"postgres","name":"other"}' users_ev eu.users 1 2; } > "$T/b"
	dblog-apply --create-tables -s a "sqlite:$D" < "$T/a"
	run dblog-apply --create-tables -s b "sqlite:$D" < "$T/b"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(sq "$D" "SELECT id FROM users ORDER BY id" | tr '\n' ' ')" = "1 2 " ]
	# two SQLite sources with a table x each: the same name, one table x
	for s in one two; do
		new_src "$T/$s.db" 'CREATE TABLE x(id INTEGER PRIMARY KEY, v TEXT)'
		sq "$T/$s.db" "INSERT INTO x VALUES ((SELECT CASE WHEN '$s' = 'one' THEN 1 ELSE 2 END), '$s')"
		dblog-capture --until-caught-up -n "$s" "sqlite:$T/$s.db" | dblog-apply --create-tables -s "$s" "sqlite:$D"
	done
	[ "$(sq "$D" "SELECT * FROM x ORDER BY id" | tr '\n' ' ')" = "1|one 2|two " ]
	[ "$(sq "$D" "SELECT tbl, source FROM _dblog_tables ORDER BY 1" | tr '\n' ' ')" = "users|eu.users x|main.x " ]
}

# ------------------------------------------------------ filter, flashback

@test "names: dblog-filter -t, -T and --rename-table match the quoted form; a comma inside quotes is part of the name" {
	for t in '\"a.b\".c' 'a.\"b.c\"' '\"a,b\".c' 'public.\"x\"\"y\"' 'public.plain'; do
		printf '{"op":"insert","table":"%s","key":{"id":1},"after":{"id":1}}\n' "$t"
	done > "$T/in"
	[ "$(dblog-filter -t '"a.b".c' < "$T/in" | jq -r .table)" = '"a.b".c' ]
	[ "$(dblog-filter -t 'a."b.c"' < "$T/in" | jq -r .table)" = 'a."b.c"' ]
	[ "$(dblog-filter -t '"a,b".c,public.plain' < "$T/in" | jq -r .table | tr '\n' ' ')" = '"a,b".c public.plain ' ]
	[ "$(dblog-filter -t 'public."x""y"' < "$T/in" | jq -r .table)" = 'public."x""y"' ]
	[ "$(dblog-filter -T '"*' < "$T/in" | jq -r .table | tr '\n' ' ')" = 'a."b.c" public."x""y" public.plain ' ]
	# the new name is written in the quoted form: a."b.c" for a.b.c, "x""y" for x"y
	[ "$(dblog-filter --rename-table 'public.*=archive.*' < "$T/in" | jq -r .table | tail -2 | tr '\n' ' ')" = \
		'archive."x""y" archive.plain ' ]
	[ "$(dblog-filter --rename-table 'public.*=a.b.*' < "$T/in" | jq -r .table | tail -1)" = 'a."b.plain"' ]
	[ "$(dblog-filter --rename-table 'public.plain=new.x"y' < "$T/in" | jq -r .table | tail -1)" = 'new."x""y"' ]
	run dblog-filter --rename-table 'public.plain="new' < "$T/in"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--rename-table: '\"new' is not a table name"* ]]
}

@test "names: dblog-filter compares whole names and values: a NUL inside is no end (tables, columns, values, source)" {
	ev0='{"op":"insert","table":"public.orders\u0000x","source":{"driver":"postgres","name":"a\u0000b"},"key":{"id":1},"after":{"id":1,"s":"abc\u0000d","n":"5\u0000","t\u0000x":"abc"}}'
	echo "$ev0" > "$T/in"
	# -t and -T: globs over the whole name
	[ -z "$(dblog-filter -t public.orders < "$T/in")" ]
	[ -n "$(dblog-filter -T public.orders < "$T/in")" ]
	[ -n "$(dblog-filter -t 'public.orders*' < "$T/in")" ]
	[ -n "$(dblog-filter -t 'public.orders?x' < "$T/in")" ]
	# --rename-table: no rename of another table
	[ "$(dblog-filter --rename-table 'public.orders=x.y' < "$T/in")" = "$ev0" ]
	[ "$(dblog-filter --rename-table 'public.*=x.*' < "$T/in" | jq -c .table)" = '"x.orders\u0000x"' ]
	# expressions: whole strings
	for e in "table = 'public.orders'" "s = 'abc'" "s LIKE 'abc'" "s IN ('abc')" "n = 5" \
		"source.name = 'a'" "t = 'abc'" "after.t = 'abc'"; do
		[ -z "$(dblog-filter "$e" < "$T/in")" ] || { echo "matched: $e"; return 1; }
	done
	for e in "s LIKE 'abc%'" "s <> 'abc'" "s > 'abc'" "table LIKE 'public.orders_x'"; do
		[ -n "$(dblog-filter "$e" < "$T/in")" ] || { echo "did not match: $e"; return 1; }
	done
}

@test "names: dblog-flashback writes quoted names as SQL, -t matches the quoted form, a name holding NUL is refused" {
	E_SRC='{"driver":"postgres","name":"s"}'
	{
		E_TABLE='\"a.b\".c' ev_tx 1 "$(E_TABLE='\"a.b\".c' ev insert 1 0 '{"id":1}' - '{"id":1}')"
		E_TABLE='a.\"b.c\"' ev_tx 2 "$(E_TABLE='a.\"b.c\"' ev insert 2 0 '{"id":2}' - '{"id":2}')"
	} > "$T/in"
	run dblog-flashback --sql postgres < "$T/in"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[[ "$output" == *'DELETE FROM "a.b"."c"'* ]]
	[[ "$output" == *'DELETE FROM "a"."b.c"'* ]]
	run dblog-flashback --sql sqlite < "$T/in"
	[[ "$output" == *'DELETE FROM "c"'* ]]
	[[ "$output" == *'DELETE FROM "b.c"'* ]]
	run dblog-flashback -t '"a.b".*' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.op == "delete") | .table' <<< "$output")" = '"a.b".c' ]
	E_TABLE='public.t\u0000x' ev_tx 3 "$(E_TABLE='public.t\u0000x' ev insert 3 0 '{"id":3}' - '{"id":3}')" > "$T/nul"
	run dblog-flashback < "$T/nul"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 2: the table name holds a NUL character"* ]] || { echo "$output"; return 1; }
}
