#!/usr/bin/env bats
# The README's examples, run as printed. Every fenced block of README.md
# says what it is in its info string, after the language:
#   ```sh run=NAME        run by the test below that names NAME
#   ```sh norun=REASON    not run, for REASON (make check itself, a schematic)
#   ```sh vars            the connection strings of its section: the test
#                         sets each to the suite's own cluster instead
#   ```json               events: each line must pass dblog-filter unchanged
# A shell, cron or bare block that is none of these fails the first test.
# The blocks run with bash -e -o pipefail in a directory of their own, on
# real SQLite files and this file's PostgreSQL cluster, as the role app: a
# non-superuser with REPLICATION, owning its databases, that logs in with a
# password (scram-sha-256) from PGPASSWORD, as the README says. A server's
# absolute paths are mapped into the test's directory: /srv/ and
# /etc/dblog/; in cron blocks, /usr/local/bin (where make install puts the
# binaries) is the build's bin directory. Cron jobs run as cron runs them:
# /bin/sh in $HOME, an empty environment but for the crontab's own
# variables, HOME, LOGNAME and SHELL; they must print nothing (cron mails
# any output). A follower (a pipeline without --until-caught-up) runs in
# the background until what it should bring has arrived, then its
# dblog-capture gets SIGTERM and the pipeline must end with status 0.
load helpers
load lib/pg
load lib/sqlite
bats_require_minimum_version 1.5.0

APP_PW='App-r0le-pa55word'

# The blocks this file runs, and the variables of the vars blocks.
RUN_BLOCKS="pg-sqlite pg-pg pg-conflicts sqlite-sqlite sqlite-cron filter txbuf txbuf-as-tx
flashback ctl ctl-cron ctl-pg archive replay"
VAR_NAMES="SRC DST"

setup_file() {
	pg_file_start || return 1
	q "CREATE ROLE app LOGIN REPLICATION PASSWORD '$APP_PW'" || return 1
	sed -i '1i local all app scram-sha-256' "$PGD/c/data/pg_hba.conf"
	q "SELECT pg_reload_conf()" > /dev/null
}
teardown_file() {
	pg_file_stop
}

setup() {
	setup_tmp
	mkdir -p "$T/home" "$T/srv" "$T/etc/dblog" "$T/w"
	export HOME="$T/home"
	unset DBLOG_HOME XDG_STATE_HOME DBLOG_MASK_KEY
	export PGPASSWORD="$APP_PW"
	FOLLOWERS=""
}
teardown() {
	local p
	for p in $FOLLOWERS; do
		pkill -KILL -P "$p" 2> /dev/null
		kill -9 "$p" 2> /dev/null || true
	done
	q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL" \
		> /dev/null 2>&1
	wait_until 10 slots_idle || true
	q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" > /dev/null 2>&1
	teardown_tmp
}

# ----------------------------------------------------------- the README

README="$ROOT_DIR/README.md"

# readme_index: one line per fenced block: LINE<TAB>LANGUAGE<TAB>REST
# (LANGUAGE - for none).
readme_index() {
	awk '/^```/ {
		if (inb) { inb = 0; next }
		inb = 1
		info = substr($0, 4)
		lang = info; rest = ""
		if (match(info, /[ \t]/)) { lang = substr(info, 1, RSTART - 1); rest = substr(info, RSTART + 1) }
		sub(/^[ \t]+/, "", rest)
		printf "%d\t%s\t%s\n", NR, lang == "" ? "-" : lang, rest
	}' "$README"
}

# readme_body LINE: the body of the block that opens at LINE.
readme_body() {
	awk -v at="$1" 'NR == at { inb = 1; next } inb && /^```[ \t]*$/ { exit } inb { print }' "$README"
}

# readme_block NAME: the body of block run=NAME, the server paths mapped.
readme_block() {
	local line
	line=$(readme_index | awk -F'\t' -v n="run=$1" '$3 == n { print $1 }')
	[ -n "$line" ] || { echo "README.md has no block run=$1" >&2; return 1; }
	readme_body "$line" | sed -e "s#/srv/#$T/srv/#g" -e "s#/etc/dblog/#$T/etc/dblog/#g" \
		-e "s#/usr/local/bin#$DBLOG_BIN#g"
}

# readme_run NAME DIR: run block NAME in DIR; stdout in DIR/NAME.out,
# stderr in DIR/NAME.err (shown on failure).
readme_run() {
	local body
	body=$(readme_block "$1") || return 1
	(cd "$2" && bash -e -o pipefail -c "$body" > "$2/$1.out" 2> "$2/$1.err") ||
		{ echo "block run=$1 failed:" >&2; cat "$2/$1.err" >&2; return 1; }
}

# readme_follow NAME DIR: start block NAME in DIR in the background; its
# pid in FOLLOW_PID.
readme_follow() {
	local body
	body=$(readme_block "$1") || return 1
	(cd "$2" && exec bash -e -o pipefail -c "$body" > "$2/$1.out" 2> "$2/$1.err") &
	FOLLOW_PID=$!
	FOLLOWERS="$FOLLOWERS $FOLLOW_PID"
}

# readme_stop PID NAME DIR: SIGTERM to the follower's dblog-capture (a child
# of its shell), then its status must be 0.
readme_stop() {
	local cap rc=0
	cap=$(pgrep -P "$1" -x dblog-capture) || { echo "no dblog-capture in run=$2" >&2; cat "$3/$2.err" >&2; return 1; }
	kill -TERM "$cap"
	wait "$1" || rc=$?
	[ "$rc" -eq 0 ] || { echo "run=$2 ended with status $rc:" >&2; cat "$3/$2.err" >&2; return 1; }
}

# readme_cron NAME: run the jobs of cron block NAME as cron would; each
# must print nothing.
readme_cron() {
	local body env=() line out
	body=$(readme_block "$1") || return 1
	while IFS= read -r line; do
		case $line in
		'' | '#'*) ;;
		[A-Za-z_]*=*) env+=("$line") ;;
		*)
			read -r _ _ _ _ _ cmd <<< "$line"
			out=$(cd "$HOME" && env -i HOME="$HOME" LOGNAME=root SHELL=/bin/sh PATH=/usr/bin:/bin \
				"${env[@]}" /bin/sh -c "$cmd" 2>&1) ||
				{ echo "cron job of run=$1 failed: $out" >&2; return 1; }
			[ -z "$out" ] || { echo "cron job of run=$1 printed (cron would mail it): $out" >&2; return 1; }
			;;
		esac
	done <<< "$body"
}

# ----------------------------------------------------------- fixtures

# pg_shop: databases shop and shop2 owned by app, fresh; shop has orders
# and customers with a row each.
pg_shop() {
	q "DROP DATABASE IF EXISTS shop WITH (FORCE)" 2> /dev/null
	q "DROP DATABASE IF EXISTS shop2 WITH (FORCE)" 2> /dev/null
	q "CREATE DATABASE shop OWNER app" && q "CREATE DATABASE shop2 OWNER app"
	app_sql shop "CREATE TABLE customers(id int PRIMARY KEY, name text NOT NULL, email text);
		CREATE TABLE orders(id int PRIMARY KEY, customer_id int REFERENCES customers, status text,
			total numeric(10,2));
		INSERT INTO customers VALUES (1, 'Ada', 'ada@example.org');
		INSERT INTO orders VALUES (100, 1, 'new', 13.50)"
}

# app_sql DB SQL: SQL as the role app, with its password.
app_sql() {
	psql -qXAt -v ON_ERROR_STOP=1 "host=$PGHOST port=$PGPORT dbname=$1 user=app" -c "$2"
}

# pg_uri DB: the README's postgres://app@HOST/DB for this cluster.
pg_uri() {
	echo "postgres://app@/$1?host=$PGHOST&port=$PGPORT"
}

# sqlite_shop DB: a shop in SQLite (WAL): customers, orders (one paid over
# 1000), sessions, with rows, written before any setup.
sqlite_shop() {
	new_db "$1" "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, phone TEXT);
		CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT, total NUMERIC);
		CREATE TABLE sessions(token TEXT PRIMARY KEY, customer_id INTEGER);
		INSERT INTO customers VALUES (1, 'Ada', 'ada@example.org', '+44 20 7946 0001'),
			(2, 'Brian', 'brian@example.org', NULL);
		INSERT INTO orders VALUES (100, 1, 'new', 13.5), (101, 2, 'paid', 1200), (102, 1, 'paid', 999);
		INSERT INTO sessions VALUES ('s3cr3t', 1)"
}

# mtx DB SQL: SQL as one transaction marked for capture.
mtx() {
	sq "$1" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; $2; COMMIT"
}

# rows DB TABLE: the rows of TABLE, ordered.
rows() {
	sq "$1" "SELECT * FROM \"$2\" ORDER BY 1"
}

# ---------------------------------------------------------------- tests

@test "README: every shell, cron and bare block is run here or marked norun with a reason" {
	local bad="" names="" line lang rest n
	while IFS=$'\t' read -r line lang rest; do
		case "$lang|$rest" in
		json\|) ;;
		sh\|run=* | cron\|run=*) names="$names ${rest#run=}" ;;
		sh\|vars)
			n=$(readme_body "$line" | grep -Ev '^[[:space:]]*(#.*)?$' | grep -Evc "^[A-Z_]+=('[^']*'|[^ ']+)\$" || true)
			[ "$n" -eq 0 ] || bad="$bad\nREADME.md:$line: a vars block holds more than NAME=VALUE lines"
			for n in $(readme_body "$line" | grep -Eo '^[A-Z_]+='); do
				[[ " $VAR_NAMES " == *" ${n%=} "* ]] ||
					bad="$bad\nREADME.md:$line: variable ${n%=} is not set by this test"
			done ;;
		sh\|norun=?* | cron\|norun=?* | -\|norun=?*) ;;
		*) bad="$bad\nREADME.md:$line: block '$lang $rest' is neither run=NAME, norun=REASON, vars nor json" ;;
		esac
	done < <(readme_index)
	# every block run here exists once, and every run= block is run here
	for n in $RUN_BLOCKS; do
		[ "$(tr ' ' '\n' <<< "$names" | grep -cx -- "$n")" -eq 1 ] ||
			bad="$bad\nrun=$n: not exactly one block in README.md"
	done
	for n in $names; do
		[[ " $(echo $RUN_BLOCKS) " == *" $n "* ]] || bad="$bad\nrun=$n: no test runs it"
	done
	[ -z "$bad" ] || { echo -e "$bad"; return 1; }
	[ "$(readme_index | wc -l)" -ge 20 ]
}

@test "README: the events shown are events" {
	local line lang rest
	while IFS=$'\t' read -r line lang rest; do
		[ "$lang" = json ] || continue
		readme_body "$line" > "$T/ev"
		[ -s "$T/ev" ]
		dblog-filter < "$T/ev" > "$T/out"
		cmp "$T/ev" "$T/out"
	done < <(readme_index)
}

@test "README: make demo (scripts/demo.sh) runs the whole job and checks it" {
	run bash -c "cd '$T/w' && sh '$ROOT_DIR/scripts/demo.sh' 2>&1"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$(grep -c '^OK: ' <<< "$output")" -eq 3 ]
	[[ "$output" == *"demo done"* ]]
}

@test "README: PostgreSQL to SQLite and to PostgreSQL side by side, their conflicts, then dblog-txbuf" {
	pg_shop
	export SRC DST
	SRC=$(pg_uri shop)
	DST=$(pg_uri shop2)
	W="$T/w"
	# the SQLite replica copies the tables and follows
	readme_follow pg-sqlite "$W"
	local f1=$FOLLOW_PID
	wait_until 30 eval '[ "$(rows "$W/replica.db" orders 2> /dev/null)" = "100|1|new|13.50" ]'
	[ "$(rows "$W/replica.db" customers)" = "1|Ada|ada@example.org" ]
	# the PostgreSQL replica beside it, on a slot of its own
	readme_follow pg-pg "$W"
	local f2=$FOLLOW_PID
	wait_until 30 eval '[ "$(app_sql shop2 "SELECT count(*) FROM orders" 2> /dev/null)" = 1 ]'
	[ "$(q "SELECT string_agg(slot_name, ',' ORDER BY 1) FROM pg_replication_slots")" = "dblog,pg2" ]
	# a change reaches both
	app_sql shop "INSERT INTO customers VALUES (2, 'Brian', NULL); INSERT INTO orders VALUES (101, 2, 'paid', 1200)"
	wait_until 30 eval '[ "$(rows "$W/replica.db" orders | wc -l)" = 2 ]'
	wait_until 30 eval '[ "$(app_sql shop2 "SELECT count(*) FROM orders")" = 2 ]'
	readme_stop "$f1" pg-sqlite "$W"
	readme_stop "$f2" pg-pg "$W"
	[ "$(rows "$W/replica.db" orders)" = "$(printf '100|1|new|13.50\n101|2|paid|1200.00')" ]
	[ "$(app_sql shop2 "SELECT * FROM orders ORDER BY 1")" = "$(app_sql shop "SELECT * FROM orders ORDER BY 1")" ]
	[ "$(app_sql shop2 "SELECT * FROM customers ORDER BY 1")" = "$(app_sql shop "SELECT * FROM customers ORDER BY 1")" ]
	# the exact types came with pg_dump
	[ "$(app_sql shop2 "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'orders'::regclass AND attname = 'total'")" = "numeric(10,2)" ]
	# the conflicts table of the PostgreSQL replica: there, empty
	readme_run pg-conflicts "$W"
	[ "$(head -n 1 "$W/pg-conflicts.out" | tr -d ' ')" = "id|reason|key|dest_row" ]
	grep -q '^(0 rows)$' "$W/pg-conflicts.out"
	# dblog-txbuf between the same capture and apply: whole transactions
	readme_follow txbuf "$W"
	local f3=$FOLLOW_PID
	app_sql shop "BEGIN; INSERT INTO orders VALUES (102, 1, 'new', 1), (103, 1, 'new', 2);
		UPDATE orders SET status = 'shipped' WHERE id = 100; COMMIT"
	wait_until 30 eval '[ "$(rows "$W/replica.db" orders | wc -l)" = 4 ]'
	readme_stop "$f3" txbuf "$W"
	[ "$(rows "$W/replica.db" orders)" = "$(printf '100|1|shipped|13.50\n101|2|paid|1200.00\n102|1|new|1.00\n103|1|new|2.00')" ]
}

@test "README: SQLite to SQLite, then the cron line" {
	mkdir -p "$T/srv/shop"
	W="$T/srv/shop"
	sqlite_shop "$W/shop.db"
	readme_run sqlite-sqlite "$W"
	# the rows from before the setup were copied; sessions were not
	for t in customers orders; do
		[ "$(rows "$W/replica.db" $t)" = "$(rows "$W/shop.db" $t)" ]
	done
	[ "$(sq "$W/replica.db" "SELECT count(*) FROM sqlite_schema WHERE name = 'sessions'")" = 0 ]
	# the shop works on; cron runs the pipeline
	mtx "$W/shop.db" "UPDATE orders SET status = 'paid' WHERE id = 100; INSERT INTO sessions VALUES ('t0k3n', 2)"
	mtx "$W/shop.db" "INSERT INTO customers VALUES (3, 'Chidi', NULL, NULL); DELETE FROM customers WHERE id = 2"
	[ "$(sq "$W/shop.db" "SELECT count(*) FROM _dblog_changes")" -gt 0 ]
	readme_cron sqlite-cron
	for t in customers orders; do
		[ "$(rows "$W/replica.db" $t)" = "$(rows "$W/shop.db" $t)" ]
	done
	[ "$(sq "$W/replica.db" "SELECT count(*) FROM sqlite_schema WHERE name = 'sessions'")" = 0 ]
	# and again with nothing new: nothing printed, nothing changed, and
	# --prune deleted what the checkpoint of the last run covers
	readme_cron sqlite-cron
	[ "$(rows "$W/replica.db" customers)" = "$(rows "$W/shop.db" customers)" ]
	[ "$(sq "$W/shop.db" "SELECT count(*) FROM _dblog_changes")" = 0 ]
}

@test "README: filtering, masking, CI data seeding" {
	W="$T/w"
	sqlite_shop "$T/shop.db"
	dblog-capture -m snapshot "sqlite:$T/shop.db" > "$W/events.ndjson"
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/etc/dblog/mask.key"
	readme_run filter "$W"
	# jq sees the one paid order over 1000
	[ "$(cat "$W/filter.out")" = '{"id":101,"customer_id":2,"status":"paid","total":1200}' ]
	# the CI database: no sessions, e-mail addresses and phones masked
	# the same way every time, everything else as it was
	[ "$(sq "$W/ci.db" "SELECT count(*) FROM sqlite_schema WHERE name = 'sessions'")" = 0 ]
	[ "$(rows "$W/ci.db" orders)" = "$(rows "$T/shop.db" orders)" ]
	[ "$(sq "$W/ci.db" "SELECT group_concat(id || ' ' || name, ',') FROM customers")" = "1 Ada,2 Brian" ]
	sq "$W/ci.db" "SELECT email FROM customers" > "$T/emails"
	[ "$(grep -Ec '^[0-9a-f]{16,}$' "$T/emails")" -eq 2 ]
	! grep -q example.org "$T/emails"
	[ "$(sq "$W/ci.db" "SELECT phone IS NOT NULL AND phone NOT LIKE '+44%' FROM customers WHERE id = 1")" = 1 ]
	[ "$(sq "$W/ci.db" "SELECT phone IS NULL FROM customers WHERE id = 2")" = 1 ]
	rm "$W/ci.db"
	readme_run filter "$W"
	[ "$(sq "$W/ci.db" "SELECT email FROM customers")" = "$(cat "$T/emails")" ]
}

@test "README: dblog-txbuf --as-tx, one line per transaction for jq" {
	W="$T/w"
	sqlite_shop "$T/shop.db"
	dblog-capture --setup "sqlite:$T/shop.db"
	mtx "$T/shop.db" "UPDATE orders SET status = 'paid' WHERE id = 100"
	mtx "$T/shop.db" "INSERT INTO orders VALUES (103, 1, 'new', 1), (104, 2, 'new', 2); DELETE FROM sessions"
	dblog-capture --until-caught-up "sqlite:$T/shop.db" > "$W/archive.ndjson"
	readme_run txbuf-as-tx "$W"
	[ "$(jq -c '[.tx, .n]' "$W/txbuf-as-tx.out" | paste -sd' ')" = "[1,1] [2,3]" ]
	[ "$(jq -s 'map(.pos) | .[0] < .[1]' "$W/txbuf-as-tx.out")" = true ]
}

@test "README: flashback, by events, by plan and by SQL" {
	W="$T/w"
	sqlite_shop "$W/shop.db"
	dblog-capture --setup "sqlite:$W/shop.db"
	mtx "$W/shop.db" "INSERT INTO orders VALUES (103, 2, 'new', 7)"
	cp "$W/shop.db" "$T/before.db"
	# at 14:02:30 someone cancels every order; at 14:10 an edit on purpose
	mtx "$W/shop.db" "UPDATE orders SET status = 'cancelled'"
	# an archive of that day: the capture's commit times are moved there
	dblog-capture --until-caught-up "sqlite:$W/shop.db" | jq -c --argjson bad "$(sq "$W/shop.db" \
		"SELECT max(seq) FROM _dblog_changes")" 'if .commit_time then .commit_time =
		(if .pos < $bad then "2026-11-22T13:55:00.000000Z" else "2026-11-22T14:02:30.000000Z" end) else . end' \
		> "$W/archive.ndjson"
	[ "$(jq -r 'select(.op == "update") | .commit_time' "$W/archive.ndjson" | sort -u)" = 2026-11-22T14:02:30.000000Z ]
	mtx "$W/shop.db" "UPDATE orders SET status = 'refunded' WHERE id = 101"
	readme_run flashback "$W"
	# the plan names the transaction and its four changes
	grep -q '^undo: *1 transactions, 4 changes' "$W/flashback.out"
	grep -q 'main.orders *update -> update *4' "$W/flashback.out"
	# undone, but the order edited since: parked, not overwritten
	[ "$(sq "$W/shop.db" "SELECT * FROM orders WHERE id != 101 ORDER BY 1")" = \
		"$(sq "$T/before.db" "SELECT * FROM orders WHERE id != 101 ORDER BY 1")" ]
	[ "$(sq "$W/shop.db" "SELECT status FROM orders WHERE id = 101")" = refunded ]
	[ "$(sq "$W/shop.db" "SELECT json_extract(event, '\$.key.id') FROM _dblog_conflicts")" = 101 ]
	# the SQL: one guarded transaction, four statements on orders
	[ "$(grep -c '^BEGIN' "$W/undo.sql")" -eq 1 ]
	[ "$(grep -c '^UPDATE OR ROLLBACK "orders" SET ' "$W/undo.sql")" -eq 4 ]
	sq "$T/before.db" "UPDATE orders SET status = 'cancelled'"
	sqlite3 "$T/before.db" < "$W/undo.sql"
	[ "$(sq "$T/before.db" "SELECT count(*) FROM orders WHERE status = 'cancelled'")" = 0 ]
}

@test "README: dblogctl, from a shell and from cron, SQLite and PostgreSQL" {
	W="$T/w"
	sqlite_shop "$T/srv/shop.db"
	readme_run ctl "$W"
	# the rows the source held were copied on the first run
	for t in customers orders sessions; do
		[ "$(rows "$T/srv/replica.db" $t)" = "$(rows "$T/srv/shop.db" $t)" ]
	done
	jq_true "$W/ctl.out" -c 'map(select(.name == "shop") | [.state, .lag_events, .errors_last_hour]) == [["stopped", 0, 0]]'
	[ -d "$HOME/.local/state/dblog/streams/shop" ]
	mtx "$T/srv/shop.db" "UPDATE orders SET total = 14 WHERE id = 100"
	readme_cron ctl-cron
	[ "$(rows "$T/srv/replica.db" orders)" = "$(rows "$T/srv/shop.db" orders)" ]
	# PostgreSQL: the password comes from APP_PGPASSWORD only
	pg_shop
	export SRC="host=$PGHOST port=$PGPORT dbname=shop user=app" APP_PGPASSWORD="$APP_PW"
	unset PGPASSWORD
	readme_run ctl-pg "$W"
	[ "$(rows "$T/srv/orders.db" orders)" = "100|1|new|13.50" ]
	[ "$(rows "$T/srv/orders.db" customers)" = "1|Ada|ada@example.org" ]
	! grep -rq "$APP_PW" "$HOME/.local/state/dblog"
}

@test "README: archive, replay and review" {
	W="$T/w"
	sqlite_shop "$W/shop.db"
	dblog-capture --setup "sqlite:$W/shop.db"
	readme_follow archive "$W"
	local f=$FOLLOW_PID
	mtx "$W/shop.db" "INSERT INTO orders VALUES (103, 1, 'new', 5)"
	mtx "$W/shop.db" "UPDATE orders SET status = 'paid' WHERE id = 103"
	wait_until 30 eval '[ "$(jq -c "select(.op == \"update\") | .key" "$W/archive.ndjson" 2> /dev/null)" = "{\"id\":103}" ]'
	readme_stop "$f" archive "$W"
	# track's checkpoint is at the last transaction of the archive
	[ "$(jq .pos "$W/archive.cp")" = "$(jq -s 'map(select(.op == "commit")) | last | .pos' "$W/archive.ndjson")" ]
	readme_run replay "$W"
	# the new database holds what the last two hours changed
	[ "$(rows "$W/copy.db" orders)" = "103|1|paid|5" ]
	# the review: the SQL of both changes, as a dry run changes nothing
	grep -q 'INSERT INTO' "$W/replay.out"
	grep -q 'UPDATE' "$W/replay.out"
	[ "$(rows "$W/copy.db" orders)" = "103|1|paid|5" ]
}
