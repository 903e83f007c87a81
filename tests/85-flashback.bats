#!/usr/bin/env bats
# dblog-flashback (issue 7): round trips on SQLite and PostgreSQL (state A,
# random changes, flashback + dblog-apply --conflict manual_review -> state
# A, row for row), rows changed after the window under each mode, the
# refusals, --sql run by sqlite3 and psql, --plan, resuming an interrupted
# apply, transaction lines, malformed input, and a window of 2,000,000
# changes in bounded memory. One PostgreSQL cluster for the file; without
# the server binaries its tests fail, none is skipped.
load helpers
bats_require_minimum_version 1.5.0
load lib/sqlite
load lib/pg

setup_file() {
	pg_file_start
}
teardown_file() {
	pg_file_stop
}

setup() {
	setup_tmp
	S="$T/src.db"
}
teardown() {
	[ -n "${PGD:-}" ] && [ "$(q "SELECT count(*) FROM pg_replication_slots" 2> /dev/null)" != 0 ] &&
		pg_clean
	teardown_tmp
}

# scap DB: capture everything SQLite DB has committed (cap is PostgreSQL's
# here). Every writer marks its transactions, so that a read again gives
# the same positions.
scap() {
	dblog-capture --until-caught-up "sqlite:$1"
}

# mtx DB SQL: SQL as one marked transaction.
mtx() {
	sq "$1" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; $2; COMMIT"
}

# qq SQL: q without the NOTICEs of DROP ... IF EXISTS.
qq() {
	q "SET client_min_messages = warning; $1"
}

# snapshot DB FILE: a consistent copy of DB.
snapshot() {
	sq "$1" ".backup '$2'"
}

# conflicts DB: the number of conflicts parked in DB.
conflicts() {
	sq "$1" "SELECT count(*) FROM _dblog_conflicts" 2> /dev/null || echo 0
}

# A SQLite source with the workload's tables, state A captured to a.ndjson,
# then random changes captured to all.ndjson; $HEAD is the position of A.
workload_db() {
	wl init "$S"
	dblog-capture --setup "sqlite:$S" 2> /dev/null
	wl run "$S" --seed "${1:-7}" --tx 30 --mark all
	snapshot "$S" "$T/A.db"
	HEAD=$(head_of "$S")
	wl run "$S" --seed "${2:-8}" --tx 60 --mark all --max-ops 6
	scap "$S" > "$T/all.ndjson"
}

# A small SQLite source: t(id, v, w) with three rows (state A), then a bad
# update and a bad delete; $HEAD is the position of A.
small_db() {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w INT);
		INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20), (3, 'it''s', NULL)"
	snapshot "$S" "$T/A.db"
	HEAD=$(head_of "$S")
	mtx "$S" "UPDATE t SET v = 'BAD', w = 0"
	mtx "$S" "DELETE FROM t WHERE id = 2; INSERT INTO t VALUES (4, 'new', 40)"
	scap "$S" > "$T/b.ndjson"
	cp "$T/b.ndjson" "$T/all.ndjson"
}

# ------------------------------------------------------------ round trips

@test "flashback: SQLite round trip: random changes undone to exactly state A" {
	workload_db 7 8
	run dblog-flashback --since "$HEAD" < "$T/all.ndjson"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$T/undo.ndjson"
	# not a no-op: the state differs before the apply
	run same_db "$T/A.db" "$S"
	[ "$status" -ne 0 ]
	dblog-apply --conflict manual_review "sqlite:$S" < "$T/undo.ndjson"
	same_db "$T/A.db" "$S"
	[ "$(conflicts "$S")" = 0 ]
	# every event is a compensation of source src:flashback, newest first
	jq_true "$T/undo.ndjson" -s 'all(.origin.kind == "flashback") and
		all(.source.name | endswith(":flashback"))'
	jq_true "$T/undo.ndjson" -s '[.[] | select(.op == "begin") | .origin.undoes.pos] |
		. == (sort | reverse)'
	jq_true "$T/undo.ndjson" -s '[.[] | select(.op == "begin") | .pos] | . == sort and . == unique'
}

@test "flashback: a window by time undoes what came after it, keeps the rest" {
	small_db
	# the time of the first bad change, minus a little: the window starts there
	t=$(jq -r 'select(.op == "update") | .commit_time' "$T/b.ndjson" | head -n 1)
	since=$(python3 -c "import datetime as d, sys; t = d.datetime.fromisoformat(sys.argv[1].replace('Z', '+00:00')); print((t - d.timedelta(milliseconds=1)).isoformat().replace('+00:00', 'Z'))" "$t")
	dblog-flashback --since "$since" < "$T/all.ndjson" > "$T/undo.ndjson"
	dblog-apply --conflict manual_review "sqlite:$S" < "$T/undo.ndjson"
	same_db "$T/A.db" "$S"
	# --until before the bad changes: nothing to undo
	run dblog-flashback --until "$since" --since "$HEAD" < "$T/all.ndjson"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "flashback: compensations: only the changed columns, key changes reversed" {
	{
		ev_tx 5 "$(ev update 5 0 '{"id":1}' '{"id":1,"v":"a","w":1}' '{"id":1,"v":"X","w":1}')" \
			"$(ev update 5 1 '{"id":2}' '{"id":2,"v":"b","w":2}' '{"id":20,"v":"b","w":2}')" \
			"$(ev update 5 2 '{"id":3}' '{"id":3,"v":"c","w":3}' '{"id":3,"v":"c","w":3}')" \
			"$(ev insert 5 3 '{"id":4}' - '{"id":4,"v":"d","w":null}')" \
			"$(ev delete 5 4 '{"id":5}' '{"id":5,"v":"e","w":5}')"
	} > "$T/in"
	dblog-flashback < "$T/in" > "$T/out"
	run jq -c 'select(.table) | [.op, .key, .before, .after, .seq, .origin.undoes.seq]' "$T/out"
	[ "${lines[0]}" = '["insert",{"id":5},null,{"id":5,"v":"e","w":5},0,4]' ]
	[ "${lines[1]}" = '["delete",{"id":4},{"id":4,"v":"d","w":null},null,1,3]' ]
	[ "${lines[2]}" = '["update",{"id":20},{"id":20},{"id":2},2,1]' ]
	[ "${lines[3]}" = '["update",{"id":1},{"id":1,"v":"X"},{"id":1,"v":"a"},3,0]' ]
	[ "${#lines[@]}" -eq 4 ]   # the update that changed nothing is not undone
	run jq -c 'select(.op == "commit") | [.count, .origin.undoes.pos, .pos]' "$T/out"
	[ "$output" = '[4,5,6]' ]
	# a flashback of the flashback gives the original changes back
	dblog-flashback < "$T/out" > "$T/redo"
	run jq -c 'select(.table) | [.op, .key, .after]' "$T/redo"
	[ "${lines[0]}" = '["update",{"id":1},{"id":1,"v":"X"}]' ]
	[ "${lines[3]}" = '["delete",{"id":5},null]' ]
	jq_true "$T/redo" -s 'all(.source.name == "s:flashback") and ([.[].pos] | min > 6)'
}

# --------------------------------------------------------- later changes

@test "flashback: a row changed after the window is parked, never overwritten" {
	small_db
	mtx "$S" "UPDATE t SET v = 'later edit' WHERE id = 1"
	scap "$S" > "$T/all.ndjson"
	dblog-flashback --since "$HEAD" --until "$(jq -r 'select(.op == "commit") | .pos' "$T/b.ndjson" | tail -n 1)" \
		< "$T/all.ndjson" > "$T/undo.ndjson"
	run dblog-apply --conflict manual_review "sqlite:$S" < "$T/undo.ndjson"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 conflict (1 parked for review)"* ]]
	run sq "$S" "SELECT * FROM t ORDER BY id"
	[ "$output" = "$(printf '1|later edit|0\n2|b|20\n3|it'"'"'s|')" ]
	run sq "$S" "SELECT reason FROM _dblog_conflicts"
	[ "$output" = "update found a different row" ]
}

@test "flashback: --check-later refuses, --cascade undoes the later change too, --nonconflict-only leaves it" {
	small_db
	mtx "$S" "UPDATE t SET v = 'later edit' WHERE id = 1; UPDATE t SET w = 99 WHERE id = 4"
	scap "$S" > "$T/all.ndjson"
	until=$(jq -r 'select(.op == "commit") | .pos' "$T/b.ndjson" | tail -n 1)
	run dblog-flashback --since "$HEAD" --until "$until" --check-later < "$T/all.ndjson"
	[ "$status" -eq 1 ]
	[[ "$output" == *"2 later changes touch rows of the window; nothing was written"* ]]
	[[ "$output" == *'changed later: main.t key {"id":1}: update at pos'* ]]
	[[ "$output" != *'"op"'* ]]
	# cascade: the later edits are undone too, back to exactly state A
	cp "$S" "$T/c.db"
	dblog-flashback --since "$HEAD" --until "$until" --cascade < "$T/all.ndjson" > "$T/c.ndjson"
	dblog-apply --conflict manual_review "sqlite:$T/c.db" < "$T/c.ndjson"
	same_db "$T/A.db" "$T/c.db"
	[ "$(conflicts "$T/c.db")" = 0 ]
	# nonconflict-only: rows 1 and 4 are left as they are, the rest undone
	run dblog-flashback --since "$HEAD" --until "$until" --nonconflict-only < "$T/all.ndjson"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | grep '^{' > "$T/n.ndjson"
	[[ "$output" == *'left: "main.t": the update that undoes'* ]]
	dblog-apply --conflict manual_review "sqlite:$S" < "$T/n.ndjson"
	run sq "$S" "SELECT * FROM t ORDER BY id"
	[ "$output" = "$(printf '1|later edit|0\n2|b|20\n3|it'"'"'s|\n4|new|99')" ]
	[ "$(conflicts "$S")" = 0 ]
}

# ------------------------------------------------------------ refusals

@test "flashback: refusals: no old row, key-only old row, truncate, schema change; --allow-partial" {
	E_SRC='{"driver":"postgres","name":"p"}'
	E_TABLE=public.t
	schema='{"op":"schema","table":"public.t","source":{"driver":"postgres","name":"p"},"pos":1,"columns":[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"v","type":"text","key":false,"nullable":true}]}'
	schema2='{"op":"schema","table":"public.t","source":{"driver":"postgres","name":"p"},"pos":4,"columns":[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"v","type":"text","key":false,"nullable":true},{"name":"x","type":"text","key":false,"nullable":true}]}'
	{
		echo "$schema"
		ev_tx 2 "$(ev update 2 0 '{"id":1}' - '{"id":1,"v":"X"}')" \
			"$(ev delete 2 1 '{"id":2}' '{"id":2}')" \
			"$(ev insert 2 2 '{"id":3}' - '{"id":3,"v":"c"}')"
		ev_tx 3 "$(ev truncate 3 0 -)"
		echo "$schema2"
		ev_tx 5 "$(ev insert 5 0 '{"id":9}' - '{"id":9,"v":"z","x":null}')"
	} > "$T/in"
	run dblog-flashback --since 1 < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$output" == *"4 changes of the window cannot be undone; nothing was written"* ]]
	[[ "$output" == *'refused: public.t pos 2 seq 0: update: the event has no old row'*'ALTER TABLE "public"."t" REPLICA IDENTITY FULL;'* ]]
	[[ "$output" == *'refused: public.t pos 2 seq 1: delete: the old row holds only some columns'* ]]
	[[ "$output" == *'refused: public.t pos 3 seq 0: truncate: a truncate cannot be undone'* ]]
	[[ "$output" == *"refused: public.t pos 4: schema: the table's columns changed inside the window"* ]]
	[[ "$output" != *'{"op"'* ]]
	# --allow-partial: the two inserts are undone, the rest reported
	run dblog-flashback --since 1 --allow-partial < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: 4 changes refused"* ]]
	[ "$(printf '%s\n' "$output" | grep -c '"op":"delete"')" = 2 ]
	# a schema event that changes nothing is no refusal; one before the window neither
	run dblog-flashback --since 4 < "$T/in"
	[ "$status" -eq 0 ]
	run dblog-flashback --since 4 < <(cat "$T/in"; echo "$schema2")
	[ "$status" -eq 0 ]
	# a whole old row under REPLICA IDENTITY FULL (every column in the key) is fine
	{
		echo "$schema" | sed 's/"key":false/"key":true/'
		ev_tx 2 "$(ev delete 2 0 '{"id":2,"v":"b"}' '{"id":2,"v":"b"}')"
	} > "$T/full"
	run dblog-flashback < "$T/full"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"op":"insert"'*'"after":{"id":2,"v":"b"}'* ]]
}

@test "flashback: window options: --tx, -t, -o, --where select the changes; usage errors" {
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a"}')"
		ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b"}')" \
			"$(E_TABLE=main.u ev insert 2 1 '{"id":2}' - '{"id":2,"v":"b"}')"
		ev_tx 3 "$(ev delete 3 0 '{"id":1}' '{"id":1,"v":"a"}')"
	} > "$T/in"
	run sh -c "dblog-flashback --tx 2 < '$T/in' | jq -c 'select(.table) | [.table, .key.id]'"
	[ "$output" = "$(printf '%s\n' '["main.u",2]' '["main.t",2]')" ]
	run sh -c "dblog-flashback -t main.t -o insert < '$T/in' | jq -c 'select(.table) | .key.id'"
	[ "$output" = "$(printf '2\n1')" ]
	run sh -c "dblog-flashback -w \"after.v = 'a' OR before.v = 'a'\" --since 0 < '$T/in' | jq -r 'select(.table) | .op'"
	[ "$output" = "$(printf 'insert\ndelete')" ]
	run dblog-flashback --since yesterday-ish
	[ "$status" -eq 2 ]
	run dblog-flashback --cascade --nonconflict-only
	[ "$status" -eq 2 ]
	run dblog-flashback --sql oracle
	[ "$status" -eq 2 ]
	run dblog-flashback -o snapshot
	[ "$status" -eq 2 ]
	run dblog-flashback --since 5 --until 3
	[ "$status" -eq 2 ]
}

# ------------------------------------------------------------ output forms

@test "flashback: --sql sqlite run by sqlite3 gives the same state as the event path; a changed row fails its transaction" {
	workload_db 3 4
	cp "$S" "$T/sql.db"
	dblog-flashback --since "$HEAD" < "$T/all.ndjson" | dblog-apply --conflict manual_review "sqlite:$S"
	dblog-flashback --since "$HEAD" --sql sqlite < "$T/all.ndjson" > "$T/undo.sql"
	sqlite3 -bail "$T/sql.db" < "$T/undo.sql"
	same_db "$T/A.db" "$T/sql.db"
	same_db "$S" "$T/sql.db"
	# a row changed since: its transaction fails whole, the others are applied
	small_db_file="$T/s2.db"
	S="$small_db_file" small_db
	sq "$small_db_file" "UPDATE t SET v = 'later' WHERE id = 4"
	dblog-flashback --since "$HEAD" --sql sqlite < "$T/all.ndjson" > "$T/s2.sql"
	run sqlite3 "$small_db_file" < "$T/s2.sql"
	[[ "$output" == *"CHECK constraint failed: dblog-flashback: a row is not as the window left it"* ]]
	run sq "$small_db_file" "SELECT * FROM t ORDER BY id"
	# (undoing the update of row 2 needs row 2 back: that transaction fails too)
	[ "$output" = "$(printf '1|BAD|0\n3|BAD|0\n4|later|40')" ] || { echo "$output"; false; }
}

@test "flashback: --plan summarises transactions, rows per table and op, refusals" {
	small_db
	run dblog-flashback --since "$HEAD" --plan < "$T/all.ndjson"
	[ "$status" -eq 0 ]
	[[ "$output" == *" (sqlite); compensating events as source "*":flashback, positions "* ]]
	[[ "$output" == *"undo:           2 transactions, 5 changes, newest first"* ]]
	[[ "$output" == *"main.t                         update -> update   3"* ]]
	[[ "$output" == *"main.t                         delete -> insert   1"* ]]
	[[ "$output" == *"main.t                         insert -> delete   1"* ]]
	[[ "$output" == *"refused:        0"* ]]
	[[ "$output" == *"later changes:  not checked"* ]]
	jq -c 'select(.op == "commit") | {op: "truncate", table: "main.t", source, pos: 99, seq: 0}' \
		"$T/b.ndjson" | tail -n 1 >> "$T/all.ndjson"
	run dblog-flashback --since "$HEAD" --plan < "$T/all.ndjson"
	[ "$status" -eq 1 ]
	[[ "$output" == *"refused:        1 (the run fails"* ]]
	[[ "$output" == *"refused: main.t pos 99 seq 0: truncate"* ]]
}

@test "flashback: an interrupted apply resumes exactly: the same plan again converges without conflicts" {
	workload_db 5 6
	dblog-flashback --since "$HEAD" < "$T/all.ndjson" > "$T/undo.ndjson"
	# the same input and options give the same plan, byte for byte
	dblog-flashback --since "$HEAD" < "$T/all.ndjson" | cmp - "$T/undo.ndjson"
	n=$(wc -l < "$T/undo.ndjson")
	# the first apply stops in the middle (of a transaction), committing per transaction
	head -n $((n / 2)) "$T/undo.ndjson" | dblog-apply --conflict manual_review --batch-rows 1 "sqlite:$S" 2> /dev/null
	run same_db "$T/A.db" "$S"
	[ "$status" -ne 0 ]
	dblog-apply --conflict manual_review "sqlite:$S" < "$T/undo.ndjson"
	same_db "$T/A.db" "$S"
	[ "$(conflicts "$S")" = 0 ]
}

@test "flashback: transaction lines (dblog-txbuf --as-tx) give the same compensations" {
	small_db
	dblog-flashback --since "$HEAD" < "$T/all.ndjson" > "$T/plain"
	grep -v '"op":"schema"' "$T/all.ndjson" | dblog-txbuf --as-tx > "$T/tx.ndjson"
	grep -q '"op":"tx"' "$T/tx.ndjson"
	dblog-flashback --since "$HEAD" < "$T/tx.ndjson" > "$T/fromtx"
	diff <(jq -c 'select(.table) | [.op, .key, .before, .after]' "$T/plain") \
		<(jq -c 'select(.table) | [.op, .key, .before, .after]' "$T/fromtx")
}

@test "flashback: malformed input stops with the line number; write errors are loud" {
	printf '%s\n' '{"op":"begin","pos":1}' '{"op":"insert","table":"t","pos":1,"seq":0,"after":{"id":1}}' \
		'{"op":"update","table":' > "$T/bad"
	run dblog-flashback < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-flashback: line 3: "* ]]
	printf '%s\n' '{"op":"begin","pos":1}' '{"op":"frobnicate"}' > "$T/bad"
	run dblog-flashback < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 2: unknown op"* ]]
	printf '%s\n' '{"op":"tx","pos":1,"changes":5}' > "$T/bad"
	run dblog-flashback < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 1: "*"changes"* ]]
	# two sources in one input
	printf '%s\n' '{"op":"insert","table":"t","source":{"name":"a"},"pos":1,"seq":0,"after":{"id":1}}' \
		'{"op":"insert","table":"t","source":{"name":"b"},"pos":2,"seq":0,"after":{"id":1}}' > "$T/two"
	run dblog-flashback < "$T/two"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 2: the input mixes events of two sources"* ]]
	run bash -c "dblog-flashback < '$T/two' 2>&1 | head -c 0; head -n 1 '$T/two' | dblog-flashback > /dev/full"
	[ "$status" -eq 1 ]
}

@test "flashback: --dlq parks bad lines, a transaction line with a bad change whole, and undoes the rest" {
	small_db
	dblog-flashback --since "$HEAD" < "$T/all.ndjson" > "$T/plain"
	grep -q '"op":"update"' "$T/plain"
	{
		head -n 3 "$T/all.ndjson"
		echo 'not json'
		echo '{"op":"frobnicate"}'
		echo '{"op":"tx","pos":99,"changes":[{"op":"insert","table":"main.t","pos":99,"seq":0,"key":{"id":9},"after":{"id":9}},{"op":"nope"}]}'
		tail -n +4 "$T/all.ndjson"
	} > "$T/bad.ndjson"
	run --separate-stderr dblog-flashback --since "$HEAD" --dlq "$T/dlq" < "$T/bad.ndjson"
	[ "$status" -eq 0 ]
	[ "$stderr" = "dblog-flashback: warning: 3 events parked in \"$T/dlq\"" ]
	diff "$T/plain" <(printf '%s\n' "$output")
	jq_true "$T/dlq" -s '[.[] | [.program, .line]] == [["dblog-flashback", 4], ["dblog-flashback", 5], ["dblog-flashback", 6]]
		and .[0].raw == "not json" and (.[1].error | test("unknown op")) and .[2].event.pos == 99'
	# without --dlq the first bad line stops the run, with the hint
	run --separate-stderr dblog-flashback --since "$HEAD" < "$T/bad.ndjson"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == "dblog-flashback: line 4: malformed JSON at column 1: "*"use --dlq FILE"* ]]
	# an unwritable dead-letter file: status 1 before reading
	run dblog-flashback --dlq "$T/no/such/dir/dlq" < "$T/all.ndjson"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/no/such/dir/dlq"* ]]
}

@test "flashback: a window of 2,000,000 changes is reversed in bounded memory" {
	# gen-events with whole old rows: 2,000,000 changes in 2,900,000 events
	# (sanitizer builds: a tenth, and the resident size does not count)
	n=2900000 min=2000000
	[ -z "${DBLOG_ASAN:-}" ] || { n=290000 min=200000; }
	gen_events -n "$n" -s 3 | awk '
		/"op":"update"/ { i = index($0, ",\"after\":"); a = substr($0, i + 9, length($0) - i - 9)
			b = a; sub(/"status":"[a-z]+"/, "\"status\":\"old\"", b)
			print substr($0, 1, i - 1) ",\"before\":" b substr($0, i); next }
		/"op":"delete"/ { sub(/"before":\{"id":[0-9]+/, "&,\"status\":\"gone\"") }
		{ print }' > "$T/big.ndjson"
	changes=$(grep -c '"seq"' "$T/big.ndjson")
	[ "$changes" -ge "$min" ]
	/usr/bin/time -f '%M' -o "$T/rss" dblog-flashback --max-memory 8M --spill-dir "$T" \
		< "$T/big.ndjson" 2> /dev/null | awk '/"seq"/ { n++ } END { print n }' > "$T/count"
	echo "changes $changes, undone $(cat "$T/count"), max RSS $(cat "$T/rss") KB" >&3
	# every change is undone
	[ "$(cat "$T/count")" -eq "$changes" ]
	[ -n "${DBLOG_ASAN:-}" ] || [ "$(cat "$T/rss")" -lt 65536 ]
	# the spill file is gone
	[ -z "$(ls "$T" | grep dblog-flashback)" ]
}

# ------------------------------------------------------------ PostgreSQL

# pg_src: tables of the postgres database, REPLICA IDENTITY FULL (t, u) and
# DEFAULT (d), with slot and publication fb; state A.
pg_src() {
	qq "DROP TABLE IF EXISTS t, u, d; DROP SCHEMA IF EXISTS dblog CASCADE"
	q "CREATE TABLE t(id int PRIMARY KEY, v text, n numeric, j jsonb, a int[], js json);
	   CREATE TABLE u(k text PRIMARY KEY, b bytea, ts timestamptz);
	   CREATE TABLE d(id int PRIMARY KEY, v text);
	   ALTER TABLE t REPLICA IDENTITY FULL; ALTER TABLE u REPLICA IDENTITY FULL;
	   INSERT INTO t SELECT g, 'v' || g, g * 1.5, jsonb_build_object('g', g), ARRAY[g, g + 1],
	     (ARRAY['null', E'{\"a\":\n 1, \"a\": [2]}', NULL])[g % 3 + 1]::json FROM generate_series(1, 20) g;
	   INSERT INTO u SELECT 'k''' || g, decode('00ff' || g, 'hex'), '2026-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(10, 20) g;
	   INSERT INTO d VALUES (1, 'x')"
	src_setup fb t,u,d > /dev/null
}

pg_state() {
	q "SELECT 't', * FROM t ORDER BY id" && q "SELECT 'u', * FROM u ORDER BY k" && q "SELECT 'd', * FROM d ORDER BY id"
}

pg_workload() {
	python3 - "$1" <<'PY' | psql -qX -v ON_ERROR_STOP=1 > /dev/null
import random, sys
r = random.Random(int(sys.argv[1]))
for i in range(40):
    print("BEGIN;")
    for _ in range(r.randint(1, 4)):
        k = r.randint(1, 30)
        c = r.random()
        if c < 0.3:
            print("INSERT INTO t VALUES (%d, 'n''%d', %d.25, '{\"x\": [1, \"a\\\\b\"]}', ARRAY[1, NULL], E' [1,\\n null] ') ON CONFLICT DO NOTHING;" % (k, i, k))
        elif c < 0.6:
            print("UPDATE t SET v = %s, n = n + 1, j = %s, js = %s WHERE id = %d;" % (r.choice(["NULL", "'e''\\\\s'", "'x%d'" % i]),
                  r.choice(["j", "'null'", "NULL"]), r.choice(["js", "'null'", "NULL", "E'{\"b\":\\n\"%d\"}'" % i]), k))
        elif c < 0.7:
            print("UPDATE t SET id = id + 100 WHERE id = %d AND NOT EXISTS (SELECT 1 FROM t WHERE id = %d);" % (k, k + 100))
        elif c < 0.85:
            print("DELETE FROM t WHERE id = %d;" % k)
        else:
            print("UPDATE u SET b = decode('ab%02d', 'hex'), ts = ts + interval '1 day' WHERE k = 'k''%d';" % (i % 100, 10 + k % 11))
    print("COMMIT;")
PY
}

@test "flashback: PostgreSQL round trip (REPLICA IDENTITY FULL) by events and by --sql postgres" {
	pg_src
	cap fb --until-caught-up > "$T/a.ndjson"
	pg_state > "$T/A.txt"
	head=$(q "SELECT pg_current_wal_lsn()")
	pg_workload 11
	cap fb --until-caught-up > "$T/b.ndjson"
	cat "$T/a.ndjson" "$T/b.ndjson" > "$T/all.ndjson"
	pg_state > "$T/B.txt"
	! cmp -s "$T/A.txt" "$T/B.txt"
	# --sql postgres first (then back to B by the redo of the same plan)
	dblog-flashback --since "$head" --sql postgres < "$T/all.ndjson" > "$T/undo.sql"
	psql -qX -v ON_ERROR_STOP=1 -f "$T/undo.sql" > /dev/null
	pg_state | diff -u "$T/A.txt" -
	# events: back to B with a flashback of the SQL's effect... simply redo B by
	# the flashback of the flashback, then undo again through dblog-apply
	dblog-flashback --since "$head" < "$T/all.ndjson" > "$T/undo.ndjson"
	dblog-flashback < "$T/undo.ndjson" > "$T/redo.ndjson"
	dblog-apply -s redo --conflict manual_review "$DBLOG_PG" < "$T/redo.ndjson"
	pg_state | diff -u "$T/B.txt" -
	dblog-apply -s undo --conflict manual_review "$DBLOG_PG" < "$T/undo.ndjson"
	pg_state | diff -u "$T/A.txt" -
	[ "$(q "SELECT count(*) FROM dblog.conflicts")" = 0 ]
}

@test "flashback: PostgreSQL DEFAULT identity is refused with the ALTER TABLE; later edits parked" {
	pg_src
	cap fb --until-caught-up > "$T/a.ndjson"
	head=$(q "SELECT pg_current_wal_lsn()")
	q "UPDATE d SET v = 'bad' WHERE id = 1; UPDATE t SET v = 'bad' WHERE id < 4"
	cap fb --until-caught-up > "$T/b.ndjson"
	run dblog-flashback --since "$head" < <(cat "$T/a.ndjson" "$T/b.ndjson")
	[ "$status" -eq 1 ]
	[[ "$output" == *'refused: public.d pos '*'update: the event has no old row'*'ALTER TABLE "public"."d" REPLICA IDENTITY FULL;'* ]]
	# leave d out: t is undone, but a row edited since is parked
	q "UPDATE t SET v = 'later' WHERE id = 2"
	dblog-flashback --since "$head" -t public.t < <(cat "$T/a.ndjson" "$T/b.ndjson") |
		dblog-apply -s undo --conflict manual_review "$DBLOG_PG" 2> /dev/null
	[ "$(q "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t WHERE id < 4")" = "1=v1,2=later,3=v3" ]
	# the key is the primary key (REPLICA IDENTITY FULL puts the whole old
	# row in "before"): the row is found, and differs from it
	run q "SELECT reason, event->'key'->>'id', event->'before'->>'v' FROM dblog.conflicts"
	[ "$output" = "update found a different row|2|bad" ] || { echo "conflicts: $output"; false; }
}
