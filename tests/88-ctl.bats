#!/usr/bin/env bats
# dblogctl: streams through their lifecycle as a shell or cron user drives
# them: upsert, run --once, status figures checked against the databases
# and the checkpoint, pause and resume, two runs refused, kill -9 of the
# supervisor and of a stage, replay from a time, conflicts, delete with
# teardown, secrets kept out of ps, logs, status and the spec. SQLite ->
# SQLite for most; PostgreSQL -> SQLite, SQLite -> PostgreSQL and
# PostgreSQL -> PostgreSQL on one cluster for the file, whose role ctlpw
# must log in with a password (scram-sha-256).
load helpers
load lib/sqlite
load lib/pg
load lib/pgapply

CTL_ROLE_PW='Ctl-r0le-pa55word'

setup_file() {
	pg_file_start || return 1
	q "CREATE ROLE ctlpw LOGIN SUPERUSER PASSWORD '$CTL_ROLE_PW'" || return 1
	# the password matters for ctlpw (trust for everyone else)
	sed -i '1i local all ctlpw scram-sha-256' "$PGD/c/data/pg_hba.conf"
	q "SELECT pg_reload_conf()" > /dev/null
}
teardown_file() {
	pg_file_stop
}

setup() {
	setup_tmp
	export DBLOG_HOME="$T/home"
	S="$T/src.db"
	D="$T/dst.db"
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
}
teardown() {
	local d
	for d in "$DBLOG_HOME"/streams/*; do
		[ -f "$d/pid" ] && kill -9 "$(cat "$d/pid")" 2> /dev/null
	done
	local p
	for p in $(jobs -p); do kill -9 "$p" 2> /dev/null || true; done
	[ "$(q "SELECT count(*) FROM pg_replication_slots")" = 0 ] || pg_clean
	teardown_tmp
}

# st NAME FILTER: a member of dblogctl status NAME --json.
st() {
	dblogctl status "$1" --json | jq -r "$2"
}

# same: the rows of t agree in the source and the destination.
same() {
	[ "$(sq "$S" 'SELECT * FROM t ORDER BY id')" = "$(sq "$D" 'SELECT * FROM t ORDER BY id')" ]
}

# apply_pid NAME: the pid of the stream's dblog-apply.
apply_pid() {
	pgrep -f "dblog-apply --stream $1 " | head -1
}

# restarted NAME OLD: a new dblog-apply runs for NAME, not OLD.
restarted() {
	local p
	p=$(apply_pid "$1")
	[ -n "$p" ] && [ "$p" != "$2" ]
}

# dest_v ID: the v of row ID of table pt in the destination.
dest_v() {
	sq "$D" "SELECT v FROM pt WHERE id = $1"
}

@test "ctl: upsert prepares the source, run --once replicates, status figures match the databases" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --region eu --mode cdc
	# prepared at once: the triggers are there before any run
	[ "$(sq "$S" "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 't'")" -ge 3 ]
	sq "$S" "INSERT INTO t VALUES (1, 'a'), (2, 'b'); UPDATE t SET v = 'B' WHERE id = 2"
	# before the run: three changes wait in the changelog
	[ "$(st s1 .lag_events)" = 3 ]
	[ "$(st s1 .state)" = stopped ]
	run dblogctl run s1 --once
	[ "$status" -eq 0 ]
	same
	cp="$DBLOG_HOME/streams/s1/checkpoint.json"
	dblogctl status s1 --json > "$T/st"
	jq_true "$T/st" '.name == "s1" and .state == "stopped" and .lag_events == 0 and .lag_seconds == 0
		and .errors_last_hour == 0 and .last_error == null and .region == "eu"'
	[ "$(jq .events_replicated "$T/st")" = 3 ]
	[ "$(jq .last_checkpoint.pos "$T/st")" = "$(last_change "$S")" ]
	[ "$(jq .last_checkpoint.pos "$T/st")" = "$(jq .pos "$cp")" ]
	[ "$(jq -r .last_checkpoint.wall "$T/st")" = "$(jq -r .written "$cp")" ]
	[ "$(jq .bytes_replicated "$T/st")" = "$(jq .counters.bytes "$cp")" ]
	[ "$(jq -r .last_event "$T/st")" = "$(jq -r .commit_time "$cp")" ]
	# the same stream in the destination
	[ "$(sq "$D" "SELECT json_extract(position, '$.pos') FROM _dblog_applied WHERE stream = 's1'")" = "$(last_change "$S")" ]
	# status and list: an array with every stream
	dblogctl upsert s2 --source "sqlite:$S" --dest "sqlite:$T/other.db"
	[ "$(dblogctl status --json | jq -c 'map(.name)')" = '["s1","s2"]' ]
	[ "$(dblogctl list --json | jq -c 'map(.name)')" = '["s1","s2"]' ]
	dblogctl list | grep -q '^s1 .*eu'
	# figures wait for the next run
	sq "$S" "INSERT INTO t VALUES (3, 'c')"
	sleep 1.1
	dblogctl status s1 --json > "$T/st"
	jq_true "$T/st" '.lag_events == 1 and .lag_seconds >= 1'
}

@test "ctl: a new stream copies the rows that exist, then follows (default mode snapshot_then_cdc)" {
	sq "$S" "INSERT INTO t VALUES (1, 'old'), (2, 'older')"
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D"
	[ "$(jq -r .mode "$DBLOG_HOME/streams/s1/spec.json")" = snapshot_then_cdc ]
	sq "$S" "INSERT INTO t VALUES (3, 'new'); UPDATE t SET v = 'OLD' WHERE id = 1"
	dblogctl run s1 --once
	[ "$(sq "$D" 'SELECT group_concat(id || v, " ") FROM t')" = "1OLD 2older 3new" ]
	same
	# later runs follow the changes; nothing is copied again
	sq "$S" "DELETE FROM t WHERE id = 2"
	dblogctl run s1 --once
	same
	# --mode cdc: only the changes from the upsert on
	new_db "$T/s2.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'old')"
	dblogctl upsert s2 --source "sqlite:$T/s2.db" --dest "sqlite:$T/d2.db" --mode cdc
	sq "$T/s2.db" "INSERT INTO t VALUES (2, 'new')"
	dblogctl run s2 --once
	[ "$(sq "$T/d2.db" 'SELECT group_concat(id || v, " ") FROM t')" = "2new" ]
}

@test "ctl: usage errors, a new source needs --force" {
	run dblogctl upsert s1 --source "postgres://u:s3cret@localhost/db" --dest "sqlite:$D" --auth-ref env:X
	[ "$status" -eq 2 ]
	[[ "$output" == *"--auth-ref"* ]]
	[ ! -e "$DBLOG_HOME/streams/s1" ]
	run dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --mode bogus
	[ "$status" -eq 2 ]
	run dblogctl run s1 --json
	[ "$status" -eq 2 ]
	run dblogctl status nosuch --json
	[ "$status" -eq 1 ]
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D"
	sq "$S" "INSERT INTO t VALUES (1, 'a')"
	dblogctl run s1 --once
	new_db "$T/b.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
	run dblogctl upsert s1 --source "sqlite:$T/b.db" --dest "sqlite:$D"
	[ "$status" -eq 1 ]
	[[ "$output" == *--force* ]]
	[ "$(jq -r .source "$DBLOG_HOME/streams/s1/spec.json")" = "sqlite:$S" ]
	dblogctl upsert s1 --source "sqlite:$T/b.db" --dest "sqlite:$D" --force
	[ ! -e "$DBLOG_HOME/streams/s1/checkpoint.json" ]
	# relative SQLite paths are kept absolute: cron runs elsewhere
	(cd "$T" && dblogctl upsert rel --source sqlite:src.db --dest sqlite:dst.db)
	[ "$(jq -r '.source + " " + .dest' "$DBLOG_HOME/streams/rel/spec.json")" = "sqlite:$T/src.db sqlite:$T/dst.db" ]
	sq "$S" "INSERT INTO t VALUES (2, 'b')"
	(cd / && dblogctl run rel --once)
	rows_in "$D" 2
}

@test "ctl: pause keeps a cron run from doing anything; resume goes on from the checkpoint" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D"
	sq "$S" "INSERT INTO t VALUES (1, 'a')"
	dblogctl run s1 --once
	dblogctl pause s1
	dblogctl pause s1          # idempotent
	[ "$(st s1 .state)" = paused ]
	sq "$S" "INSERT INTO t VALUES (2, 'b')"
	run dblogctl run s1 --once
	[ "$status" -eq 0 ]
	[[ "$output" == *paused* ]]
	rows_in "$D" 1
	[ "$(st s1 .lag_events)" = 1 ]
	dblogctl resume s1
	dblogctl resume s1
	[ "$(st s1 .state)" = stopped ]
	dblogctl run s1 --once
	rows_in "$D" 2
	same
}

@test "ctl: start, a second run refused, pause stops a running stream, resume starts it again" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --checkpoint-interval 100ms
	dblogctl start s1
	wait_until 10 eval '[ "$(st s1 .state)" = running ]'
	run dblogctl run s1 --once
	[ "$status" -eq 3 ]
	[[ "$output" == *"is running"* ]]
	run dblogctl start s1
	[ "$status" -eq 3 ]
	run dblogctl replay s1 --from 1h
	[ "$status" -eq 3 ]
	sq "$S" "INSERT INTO t VALUES (1, 'a')"
	wait_for 10 rows_in "$D" 1
	pid=$(cat "$DBLOG_HOME/streams/s1/pid")
	dblogctl pause s1
	! kill -0 "$pid" 2> /dev/null
	[ "$(st s1 .state)" = paused ]
	[ -z "$(pgrep -f "dblog-capture --checkpoint $DBLOG_HOME/streams/s1/")" ]
	sq "$S" "INSERT INTO t VALUES (2, 'b')"
	sleep 0.7
	rows_in "$D" 1
	dblogctl resume s1
	wait_for 10 rows_in "$D" 2
	[ "$(st s1 .state)" = running ]
	dblogctl stop s1
	[ "$(st s1 .state)" = stopped ]
	same
}

@test "ctl: kill -9 of a stage and of the supervisor; the stream converges" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --checkpoint-interval 100ms
	dblogctl start s1
	sq "$S" "INSERT INTO t VALUES (1, 'a')"
	wait_for 10 rows_in "$D" 1
	old=$(apply_pid s1)
	[ -n "$old" ]
	kill -9 "$old"
	# the supervisor restarts the pipeline after its backoff
	wait_for 10 restarted s1 "$old"
	sq "$S" "INSERT INTO t VALUES (2, 'b'); UPDATE t SET v = 'A' WHERE id = 1"
	wait_for 10 same
	dblogctl status s1 --json > "$T/st"
	jq_true "$T/st" '.errors_last_hour == 1 and (.last_error | test("dblog-apply was killed by signal 9"))'
	grep -q "restarting" "$DBLOG_HOME/streams/s1/log"
	# the supervisor: its stages go with it
	kill -9 "$(cat "$DBLOG_HOME/streams/s1/pid")"
	wait_until 10 eval '[ -z "$(pgrep -f "dblog-capture --checkpoint $DBLOG_HOME/streams/s1/")" ]'
	sq "$S" "INSERT INTO t VALUES (3, 'c'); DELETE FROM t WHERE id = 2"
	run dblogctl run s1 --once
	[ "$status" -eq 0 ]
	same
	[ "$(st s1 .events_replicated)" = 5 ]
}

@test "ctl: replay from a time gives the same result; checkpoint --set" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --archive 1d
	sq "$S" "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"
	dblogctl run s1 --once
	sleep 0.1
	mark=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
	sleep 0.1
	sq "$S" "UPDATE t SET v = 'B' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 'd')"
	dblogctl run s1 --once
	same
	ls "$DBLOG_HOME"/streams/s1/archive/*.ndjson > /dev/null
	# damage the destination after the mark
	sq "$D" "UPDATE t SET v = 'damaged' WHERE id = 2; INSERT INTO t VALUES (3, 'zombie'); DELETE FROM t WHERE id = 4"
	run dblogctl replay s1 --from "$mark"
	[ "$status" -eq 0 ]
	same
	# the stream goes on after the replay
	sq "$S" "INSERT INTO t VALUES (5, 'e')"
	dblogctl run s1 --once
	same
	run dblogctl checkpoint s1
	[[ "$output" == *"pos "*"$(last_change "$S")"* ]]
	dblogctl checkpoint s1 --set 2
	[ "$(jq .pos "$DBLOG_HOME/streams/s1/checkpoint.json")" = 2 ]
	[ "$(sq "$D" "SELECT json_extract(position, '$.pos') FROM _dblog_applied WHERE stream = 's1'")" = 2 ]
	run dblogctl replay s1 --from nonsense-point
	[ "$status" -eq 2 ]
}

@test "ctl: conflicts under manual_review: list, retry, discard" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --conflict manual_review
	sq "$S" "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
	dblogctl run s1 --once
	sq "$D" "UPDATE t SET v = 'mine' WHERE id IN (1, 2)"
	sq "$S" "UPDATE t SET v = 'theirs1' WHERE id = 1; UPDATE t SET v = 'theirs2' WHERE id = 2"
	dblogctl run s1 --once
	dblogctl conflicts s1 --json > "$T/c"
	[ "$(jq length "$T/c")" = 2 ]
	id1=$(jq '.[] | select(.event.key.id == 1) | .id' "$T/c")
	id2=$(jq '.[] | select(.event.key.id == 2) | .id' "$T/c")
	dblogctl conflicts s1 | grep -q "update found a different row"
	dblogctl conflicts s1 --retry "$id1"
	[ "$(sq "$D" 'SELECT v FROM t WHERE id = 1')" = theirs1 ]
	dblogctl conflicts s1 --discard "$id2"
	[ "$(sq "$D" 'SELECT v FROM t WHERE id = 2')" = mine ]
	[ "$(dblogctl conflicts s1 --json)" = "[]" ]
	run dblogctl conflicts s1 --discard "$id2"
	[ "$status" -eq 1 ]
}

@test "ctl: run --once with a filter and an archive applies everything (the stages before dblog-apply end first)" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D" --filter 'op != "truncate"' --archive 1h
	sq "$S" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		INSERT INTO t SELECT i, 'v' || i FROM n"
	run dblogctl run s1 --once
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	rows_in "$D" 5000
	same
	[ "$(st s1 .events_replicated)" = 5000 ]
}

@test "ctl: delete --teardown removes the triggers and the stream" {
	dblogctl upsert s1 --source "sqlite:$S" --dest "sqlite:$D"
	run dblogctl delete s1 --teardown
	[ "$status" -eq 0 ]
	[ "$(sq "$S" "SELECT count(*) FROM sqlite_schema WHERE name LIKE '_dblog%'")" = 0 ]
	[ ! -e "$DBLOG_HOME/streams/s1" ]
	[ "$(dblogctl list --json)" = "[]" ]
}

# ------------------------------------------------------- PostgreSQL source

@test "ctl pg: PostgreSQL -> SQLite lifecycle, slot figures, secrets kept out of ps, logs and status" {
	q "DROP TABLE IF EXISTS pt; CREATE TABLE pt(id int PRIMARY KEY, v text)"
	q "INSERT INTO pt VALUES (1, 'before')"
	export CTL_PW='Sup3r-s3cret-pw'
	dblogctl upsert pg1 --source "$DBLOG_PG" --dest "sqlite:$D" --tables public.pt \
		--mode snapshot_then_cdc --auth-ref env:CTL_PW --checkpoint-interval 200ms --archive 1h
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dblog_pg1'")" = 1 ]
	run dblogctl run pg1 --once
	[ "$status" -eq 0 ]
	[ "$(sq "$D" 'SELECT v FROM pt WHERE id = 1')" = before ]
	dblogctl start pg1
	q "INSERT INTO pt VALUES (2, 'b'); UPDATE pt SET v = 'B' WHERE id = 1"
	wait_until 20 eval '[ "$(dest_v 1)" = B ]' || { cat "$DBLOG_HOME/streams/pg1/log"; false; }
	# the password is in no argument list while it runs
	ps -eo args > "$T/ps"
	grep -q "dblog-capture --checkpoint $DBLOG_HOME/streams/pg1/" "$T/ps"
	! grep -q "$CTL_PW" "$T/ps"
	dblogctl status pg1 --json > "$T/st"
	jq_true "$T/st" '.state == "running" and (.wal_status | type) == "string"
		and .wal_retained_bytes >= 0 and .events_replicated == 3'
	dblogctl stop pg1
	! grep -rq "$CTL_PW" "$DBLOG_HOME"
	! grep -q "$CTL_PW" "$T/st"
	# a missing variable: the run fails and says why, without a password
	run env -u CTL_PW dblogctl run pg1 --once
	[ "$status" -eq 1 ]
	[[ "$output" == *CTL_PW* ]]
	run dblogctl delete pg1 --teardown
	[ "$status" -eq 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dblog_pg1'")" = 0 ]
	[ "$(q "SELECT count(*) FROM pg_publication WHERE pubname = 'dblog_pg1'")" = 0 ]
}

@test "ctl pg: upsert --replica-identity-full: the setup makes tables without a key FULL (without it the setup refuses them); the spec keeps it" {
	qq "DROP TABLE IF EXISTS nk; CREATE TABLE nk(a int, b text); INSERT INTO nk VALUES (1, 'x'), (2, 'y')"
	ident() { q "SELECT relreplident FROM pg_class WHERE oid = 'nk'::regclass"; }
	# without it: refused by the setup, with the fix; nothing declared
	run dblogctl upsert ri --source "$DBLOG_PG" --dest "sqlite:$D" --tables public.nk
	[ "$status" -eq 1 ]
	[[ "$output" == *"public.nk (fix: ALTER TABLE public.nk REPLICA IDENTITY FULL; or --setup --replica-identity-full does it)"* ]]
	[[ "$output" == *'upsert: the setup of the source failed; stream "ri" unchanged'* ]]
	[ ! -e "$DBLOG_HOME/streams/ri/spec.json" ]
	[ "$(ident)" = d ]
	# with it: FULL, recorded in the spec, and the stream replicates
	# updates and deletes of the table
	dblogctl upsert ri --source "$DBLOG_PG" --dest "sqlite:$D" --tables public.nk --replica-identity-full
	[ "$(ident)" = f ]
	[ "$(jq -c '.replica_identity_full' "$DBLOG_HOME/streams/ri/spec.json")" = true ]
	dblogctl run ri --once
	q "UPDATE nk SET b = 'X' WHERE a = 1; DELETE FROM nk WHERE a = 2; INSERT INTO nk VALUES (3, 'z')"
	dblogctl run ri --once
	[ "$(sq "$D" 'SELECT a, b FROM nk ORDER BY a')" = "$(printf '1|X\n3|z')" ]
	# declared again without it: the spec no longer says so
	dblogctl upsert ri --source "$DBLOG_PG" --dest "sqlite:$D" --tables public.nk
	[ "$(jq -c '.replica_identity_full' "$DBLOG_HOME/streams/ri/spec.json")" = null ]
	# usage errors: a SQLite source, the mode snapshot (no setup), another command
	run dblogctl upsert r2 --source "sqlite:$S" --dest "sqlite:$D" --replica-identity-full
	[ "$status" -eq 2 ]
	[[ "$output" == *"--replica-identity-full goes with a PostgreSQL source"* ]]
	run dblogctl upsert r2 --source "$DBLOG_PG" --dest "sqlite:$D" --mode snapshot --replica-identity-full
	[ "$status" -eq 2 ]
	[[ "$output" == *"--replica-identity-full goes with the modes that follow changes"* ]]
	run dblogctl delete ri --replica-identity-full
	[ "$status" -eq 2 ]
	[[ "$output" == *"--replica-identity-full does not go with delete"* ]]
	[ ! -e "$DBLOG_HOME/streams/r2" ]
	dblogctl delete ri --teardown
	q "DROP TABLE nk"
}

# ---------------------------------------------- PostgreSQL destinations

# pgc DB: a conninfo for database DB of the cluster as ctlpw (no password).
pgc() {
	echo "host=$PGHOST port=$PGPORT user=ctlpw dbname=$1"
}

# in_db DB SQL: q in database DB.
in_db() {
	PGDATABASE="$1" q "$2"
}

# no_secret FILE...: the role's password is in none of FILE.
no_secret() {
	! grep -rqF "$CTL_ROLE_PW" "$@"
}

@test "ctl pg: a password given in the URI goes into the stream's own password file, nowhere else" {
	new_database ctl_up
	dblogctl upsert up --source "sqlite:$S" --dest "$(pgc ctl_up) password=$CTL_ROLE_PW"
	sq "$S" "INSERT INTO t VALUES (1, 'a'), (2, 'b')"
	dblogctl run up --once
	PGDATABASE=ctl_up same_sqlite_pg "$S"
	f="$DBLOG_HOME/streams/up/pgpass"
	[ "$(stat -c %a "$f")" = 600 ]
	grep -qF "$CTL_ROLE_PW" "$f"
	[ "$(jq -r .auth_ref "$DBLOG_HOME/streams/up/spec.json")" = "file:$f" ]
	dblogctl list > "$T/list"
	dblogctl list --json > "$T/list.json"
	dblogctl status up --json > "$T/status.json"
	no_secret "$T/list" "$T/list.json" "$T/status.json" "$DBLOG_HOME/streams/up/spec.json" \
		"$DBLOG_HOME/streams/up/log"
	# a URI form too; a password in the URI and --auth-ref at once is refused
	new_database ctl_up2
	dblogctl upsert up2 --source "sqlite:$S" \
		--dest "postgresql://ctlpw:$CTL_ROLE_PW@/ctl_up2?host=$PGHOST&port=$PGPORT"
	dblogctl run up2 --once
	PGDATABASE=ctl_up2 same_sqlite_pg "$S"
	no_secret "$DBLOG_HOME/streams/up2/spec.json"
	run dblogctl upsert up3 --source "sqlite:$S" --dest "$(pgc ctl_up) password=x" --auth-ref env:X
	[ "$status" -eq 2 ]
}

@test "ctl pg: SQLite -> PostgreSQL: run --once, status figures, replay from a time, checkpoint --set (env: password)" {
	new_database ctl_sd
	run psql -qXAt -d "$(pgc ctl_sd)" -c "SELECT 1"
	[ "$status" -ne 0 ]    # the password is needed
	export CTL_PW="$CTL_ROLE_PW"
	dblogctl upsert sp --source "sqlite:$S" --dest "$(pgc ctl_sd)" --auth-ref env:CTL_PW --archive 1d
	sq "$S" "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"
	run dblogctl run sp --once
	[ "$status" -eq 0 ]
	PGDATABASE=ctl_sd same_sqlite_pg "$S"
	cp="$DBLOG_HOME/streams/sp/checkpoint.json"
	dblogctl status sp --json > "$T/st"
	jq_true "$T/st" '.state == "stopped" and .events_replicated == 3 and .lag_events == 0
		and .lag_seconds == 0 and .errors_last_hour == 0 and .last_error == null'
	[ "$(jq .bytes_replicated "$T/st")" = "$(jq .counters.bytes "$cp")" ]
	[ "$(jq .last_checkpoint.pos "$T/st")" = "$(last_change "$S")" ]
	[ "$(in_db ctl_sd "SELECT position->>'pos' FROM dblog.applied WHERE stream = 'sp'")" = "$(last_change "$S")" ]
	sleep 0.1
	mark=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
	sleep 0.1
	sq "$S" "UPDATE t SET v = 'B' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 'd')"
	dblogctl run sp --once
	PGDATABASE=ctl_sd same_sqlite_pg "$S"
	[ "$(st sp .events_replicated)" = 6 ]
	# damage the destination after the mark; replay repairs it
	in_db ctl_sd "UPDATE t SET v = 'damaged' WHERE id = 2; INSERT INTO t VALUES (3, 'zombie'); DELETE FROM t WHERE id = 4"
	run dblogctl replay sp --from "$mark"
	[ "$status" -eq 0 ]
	PGDATABASE=ctl_sd same_sqlite_pg "$S"
	sq "$S" "INSERT INTO t VALUES (5, 'e')"
	dblogctl run sp --once
	PGDATABASE=ctl_sd same_sqlite_pg "$S"
	dblogctl checkpoint sp --set 2
	[ "$(jq .pos "$cp")" = 2 ]
	[ "$(in_db ctl_sd "SELECT position->>'pos' FROM dblog.applied WHERE stream = 'sp'")" = 2 ]
	# a wrong password: the run fails, says so, and shows no password
	CTL_PW=wrong run dblogctl run sp --once
	[ "$status" -eq 1 ]
	[[ "$output" == *"password authentication failed"* ]]
	[ "$(st sp .state)" = failed ]
	dblogctl status sp --json > "$T/st"
	jq_true "$T/st" '.errors_last_hour == 1 and (.last_error | test("password authentication failed"))'
	no_secret "$DBLOG_HOME" "$T/st"
}

@test "ctl pg: PostgreSQL -> PostgreSQL with a pgpass file: lifecycle, conflicts, replay, delete --teardown" {
	new_database ctl_src
	new_database ctl_dst
	in_db ctl_src "CREATE TABLE pt(id int PRIMARY KEY, v text); INSERT INTO pt VALUES (1, 'a'), (2, 'b')"
	echo "*:*:*:ctlpw:$CTL_ROLE_PW" > "$T/pgpass"
	chmod 600 "$T/pgpass"
	unset PGPASSWORD
	dblogctl upsert pp --source "$(pgc ctl_src)" --dest "$(pgc ctl_dst)" --tables public.pt \
		--mode snapshot_then_cdc --conflict manual_review --auth-ref "file:$T/pgpass" \
		--checkpoint-interval 200ms --archive 1h
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dblog_pp'")" = 1 ]
	run dblogctl run pp --once
	[ "$status" -eq 0 ] || { echo "$output"; cat "$DBLOG_HOME/streams/pp/log"; false; }
	same_rows ctl_src ctl_dst pt id
	in_db ctl_src "INSERT INTO pt VALUES (3, 'c'); UPDATE pt SET v = 'B' WHERE id = 2"
	# the changes that wait in the slot, peeked at (once the server has
	# flushed them: the test cluster has synchronous_commit off)
	wait_until 5 eval '[ "$(st pp .lag_events)" = 2 ]'
	dblogctl run pp --once
	same_rows ctl_src ctl_dst pt id
	dblogctl status pp --json > "$T/st"
	jq_true "$T/st" '.state == "stopped" and (.wal_status | type) == "string" and .lag_events == 0
		and .wal_retained_bytes >= 0 and (.lag_seconds | type) == "number"
		and .last_checkpoint.pos == (.last_checkpoint.pos | tostring)'
	cp="$DBLOG_HOME/streams/pp/checkpoint.json"
	[ "$(jq .bytes_replicated "$T/st")" = "$(jq .counters.bytes "$cp")" ]
	[ "$(jq .events_replicated "$T/st")" = "$(jq .counters.changes "$cp")" ]
	[ "$(jq -r .last_checkpoint.pos "$T/st")" = "$(in_db ctl_dst "SELECT position->>'pos' FROM dblog.applied WHERE stream = 'pp'")" ]
	# in the background: no password in any argument list
	dblogctl start pp
	in_db ctl_src "INSERT INTO pt VALUES (4, 'd')"
	wait_until 20 same_rows ctl_src ctl_dst pt id
	ps -eo args > "$T/ps"
	grep -q "dblog-apply --stream pp " "$T/ps"
	no_secret "$T/ps"
	dblogctl stop pp
	# manual_review parks updates of rows deleted by hand (without REPLICA
	# IDENTITY FULL the events hold no old row to find other changes by)
	sleep 0.1
	mark=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
	in_db ctl_dst "DELETE FROM pt WHERE id IN (1, 2)"
	in_db ctl_src "UPDATE pt SET v = 'theirs1' WHERE id = 1; UPDATE pt SET v = 'theirs2' WHERE id = 2"
	dblogctl run pp --once
	dblogctl conflicts pp --json > "$T/c"
	[ "$(jq length "$T/c")" = 2 ]
	[ "$(st pp .conflicts)" = 2 ]
	id1=$(jq '.[] | select(.event.key.id == 1) | .id' "$T/c")
	id2=$(jq '.[] | select(.event.key.id == 2) | .id' "$T/c")
	dblogctl conflicts pp | grep -q "^$id1 "
	dblogctl conflicts pp --retry "$id1"
	[ "$(in_db ctl_dst 'SELECT v FROM pt WHERE id = 1')" = theirs1 ]
	dblogctl conflicts pp --discard "$id2"
	[ "$(in_db ctl_dst 'SELECT count(*) FROM pt WHERE id = 2')" = 0 ]
	[ "$(dblogctl conflicts pp --json)" = "[]" ]
	[ "$(in_db ctl_dst "SELECT count(*) FROM dblog.applied WHERE stream LIKE 'pp.retry.%'")" = 0 ]
	# replay from before the hand changes, with source_wins: the rows
	# changed since (the discarded one, one damaged) are the source's again
	dblogctl upsert pp --source "$(pgc ctl_src)" --dest "$(pgc ctl_dst)" --tables public.pt \
		--mode snapshot_then_cdc --auth-ref "file:$T/pgpass" --checkpoint-interval 200ms --archive 1h
	in_db ctl_dst "UPDATE pt SET v = 'damaged' WHERE id = 1"
	run dblogctl replay pp --from "$mark"
	[ "$status" -eq 0 ]
	same_rows ctl_src ctl_dst pt id
	dblogctl status pp > "$T/table"
	dblogctl list > "$T/list"
	dblogctl list --json > "$T/listj"
	jq_true "$T/listj" 'length == 1 and .[0].name == "pp"'
	no_secret "$DBLOG_HOME" "$T/st" "$T/table" "$T/list" "$T/listj" "$T/c"
	run dblogctl delete pp --teardown
	[ "$status" -eq 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dblog_pp'")" = 0 ]
	[ "$(in_db ctl_src "SELECT count(*) FROM pg_publication WHERE pubname = 'dblog_pp'")" = 0 ]
}
