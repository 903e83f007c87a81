#!/usr/bin/env bats
# dblog-apply on SQLite (doc/SPEC-sqlite.md): the ops, exactly-once
# positions, checkpoints, batching, whole transactions, bad events and the
# dead-letter file, conflict policies, table mapping and creation,
# --dry-run, and values that look like SQL.
load helpers
load lib/sqlite
bats_require_minimum_version 1.5.0

setup() {
	setup_tmp
	D="$T/dst.db"
	new_db "$D" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT)"
}
teardown() {
	exec 4>&- 2> /dev/null || true
	local p
	for p in $(jobs -p); do kill -9 "$p" 2> /dev/null || true; done
	teardown_tmp
}

# rows [TABLE]: the rows of TABLE (t) as id|v|w lines in key order.
rows() {
	sq "$D" "SELECT * FROM \"${1:-t}\" ORDER BY 1"
}

# -------------------------------------------------------------- the ops

@test "apply: insert, update, delete and truncate" {
	new_db "$D" "CREATE TABLE u(k TEXT PRIMARY KEY, n INT)"
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')" \
			"$(ev insert 1 1 '{"id":2}' - '{"id":2,"v":"b","w":"y"}')" \
			"$(ev insert 1 2 '{"id":3}' - '{"id":3,"v":"c","w":null}')"
		ev_tx 2 "$(ev update 2 0 '{"id":1}' '{"id":1,"v":"a","w":"x"}' '{"id":1,"v":"A","w":"x"}')" \
			"$(ev delete 2 1 '{"id":2}' '{"id":2,"v":"b","w":"y"}')"
		E_TABLE=main.u
		ev_tx 3 "$(ev insert 3 0 '{"k":"a"}' - '{"k":"a","n":1}')" "$(ev insert 3 1 '{"k":"b"}' - '{"k":"b","n":2}')"
		ev_tx 4 "$(ev truncate 4 0 -)"
		ev_tx 5 "$(ev insert 5 0 '{"k":"c"}' - '{"k":"c","n":3}')"
	} > "$T/in"
	run dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(rows)" = "$(printf '1|A|x\n3|c|')" ]
	[ "$(rows u)" = "c|3" ]
	[ "$(sq "$D" "SELECT typeof(w) FROM t WHERE id = 3")" = null ]
}

@test "apply: input cut off inside its last line (a writer killed): a warning, the whole transactions applied, status 4" {
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')"
		ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":"y"}')"
	} > "$T/whole"
	# the second transaction's commit is cut after 20 bytes
	head -c -40 "$T/whole" > "$T/in"
	run --separate-stderr dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 4 ] || { echo "$status: $stderr"; return 1; }
	[[ "$stderr" == *"line 6: the input ends inside this line"* ]] || { echo "$stderr"; return 1; }
	[[ "$stderr" == *"line 6: the input ended inside transaction 2 (pos 2), begun at line 4: none of it was applied (applied up to pos 1 (tx 1))"* ]] ||
		{ echo "$stderr"; return 1; }
	[ "$(rows)" = "1|a|x" ]
	# a whole last line without its newline is an event like any other
	printf '%s' "$(cat "$T/whole")" > "$T/in2"
	run dblog-apply "sqlite:$D" < "$T/in2"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[ "$(rows)" = "$(printf '1|a|x\n2|b|y')" ]
	# a bad line with its newline is still an error
	printf '%s\n{"op":"ins\n' "$(head -n 3 "$T/whole")" > "$T/in3"
	run dblog-apply --stream s3 "sqlite:$D" < "$T/in3"
	[ "$status" -eq 1 ]
}

@test "apply: a key change moves the row (single and composite keys)" {
	new_db "$D" "CREATE TABLE c(a INT, b TEXT, v TEXT, PRIMARY KEY(a, b)); INSERT INTO c VALUES(1, 'x', 'keep'); INSERT INTO t VALUES(1, 'a', 'b'), (2, 'z', 'z')"
	{
		ev_tx 1 "$(ev update 1 0 '{"id":1}' '{"id":1,"v":"a","w":"b"}' '{"id":5,"v":"a","w":"b"}')"
		E_TABLE=main.c ev_tx 2 "$(E_TABLE=main.c ev update 2 0 '{"a":1,"b":"x"}' '{"a":1,"b":"x","v":"keep"}' '{"a":2,"b":"y","v":"keep"}')"
	} > "$T/in"
	dblog-apply "sqlite:$D" < "$T/in"
	[ "$(rows)" = "$(printf '2|z|z\n5|a|b')" ]
	[ "$(rows c)" = "2|y|keep" ]
}

@test "apply: columns the event does not send (unchanged) are left alone" {
	sq "$D" "INSERT INTO t VALUES(1, 'a', 'big value')"
	printf '%s\n' '{"op":"update","table":"main.t","pos":1,"seq":0,"key":{"id":1},"after":{"id":1,"v":"b"},"unchanged":["w"]}' |
		dblog-apply "sqlite:$D"
	[ "$(rows)" = "1|b|big value" ]
}

@test "apply: rows keyed by rowid (tables without primary key)" {
	new_db "$D" "CREATE TABLE nk(a TEXT, b INT)"
	{
		E_TABLE=main.nk
		ev_tx 1 "$(ev insert 1 0 '{"rowid":5}' - '{"a":"x","b":1}')" "$(ev insert 1 1 '{"rowid":7}' - '{"a":"y","b":2}')"
		ev_tx 2 "$(ev update 2 0 '{"rowid":5}' '{"a":"x","b":1}' '{"a":"x","b":10}')" "$(ev delete 2 1 '{"rowid":7}' '{"a":"y","b":2}')"
	} > "$T/in"
	dblog-apply "sqlite:$D" < "$T/in"
	[ "$(sq "$D" "SELECT rowid, a, b FROM nk")" = "5|x|10" ]
}

@test "apply: JSON values map to SQLite types" {
	new_db "$D" "CREATE TABLE v(id INTEGER PRIMARY KEY, b BLOB, t TEXT, x)"
	{
		E_TABLE=main.v
		ev insert 1 0 '{"id":1}' - '{"id":1,"b":"\\x00ff41","t":"\\x00ff41","x":true}'
		ev insert 1 1 '{"id":2}' - '{"id":2,"b":null,"t":"\u00fc\t\"q\"","x":false}'
		ev insert 1 2 '{"id":3}' - '{"id":3,"b":"\\xzz","t":{"a":[1,2]},"x":1.5}'
		ev insert 1 3 '{"id":4}' - '{"id":4,"b":"\\x","t":[1,"a"],"x":123456789012345678901234567890}'
		ev insert 1 4 '{"id":5}' - '{"id":5,"b":"plain","t":9223372036854775807,"x":-9223372036854775808}'
		ev insert 1 5 '{"id":6}' - '{"id":6,"b":"\\x4","t":"","x":1e3}'
	} > "$T/in"
	dblog-apply "sqlite:$D" < "$T/in"
	run sq "$D" "SELECT id, typeof(b), quote(b), typeof(t), quote(t), typeof(x), quote(x) FROM v ORDER BY id"
	[ "${lines[0]}" = "1|blob|X'00FF41'|text|'\\x00ff41'|integer|1" ]
	[ "${lines[1]}" = "2|null|NULL|text|'ü"$'\t'"\"q\"'|integer|0" ]
	[ "${lines[2]}" = "3|text|'\\xzz'|text|'{\"a\":[1,2]}'|real|1.5" ]
	[ "${lines[3]}" = "4|blob|X''|text|'[1,\"a\"]'|text|'123456789012345678901234567890'" ]
	[ "${lines[4]}" = "5|text|'plain'|text|'9223372036854775807'|integer|-9223372036854775808" ]
	[ "${lines[5]}" = "6|text|'\\x4'|text|''|real|1000.0" ]
}

# -------------------------------------------------------- exactly once

@test "apply: text that is not UTF-8 ({\"text_hex\":...}) is written back byte for byte as TEXT, keys too" {
	S="$T/src.db"
	new_src "$S" "CREATE TABLE u(k TEXT PRIMARY KEY, v TEXT, n INTEGER)"
	sq "$S" "INSERT INTO u VALUES(CAST(X'636166e9' AS TEXT), CAST(X'22e90a5c00ff' AS TEXT), 1);
		 INSERT INTO u VALUES(CAST(X'e8' AS TEXT), 'x', 2);
		 INSERT INTO u VALUES('ok', 'y', 3);
		 UPDATE u SET v = CAST(X'ff' AS TEXT) WHERE k = 'ok';
		 UPDATE u SET n = 20 WHERE k = CAST(X'e8' AS TEXT);
		 UPDATE u SET k = CAST(X'e7' AS TEXT) WHERE k = CAST(X'636166e9' AS TEXT);
		 DELETE FROM u WHERE k = CAST(X'e8' AS TEXT)"
	cap "$S" > "$T/ev"
	run dblog-apply --create-tables "sqlite:$D" < "$T/ev"
	[ "$status" -eq 0 ]
	want=$(sq "$S" "SELECT hex(k), typeof(k), hex(v), typeof(v), n FROM u ORDER BY k")
	[ "$(sq "$D" "SELECT hex(k), typeof(k), hex(v), typeof(v), n FROM u ORDER BY k")" = "$want" ]
	[ "$want" = "$(printf '%s\n' '6F6B|text|FF|text|3' 'E7|text|22E90A5C00FF|text|1')" ]
	# --dry-run shows the bytes as a text literal
	run dblog-apply --dry-run "sqlite:$T/dry.db" < "$T/ev"
	[[ "$output" == *"CAST(X'636166e9' AS TEXT)"* ]]
	# dblog-flashback --sql undoes them: its guards match the bytes (SQLite);
	# PostgreSQL's convert_from() refuses them
	cp "$D" "$T/undo.db"
	dblog-flashback --since 0 --sql sqlite < "$T/ev" | sq "$T/undo.db"
	[ "$(sq "$T/undo.db" "SELECT count(*) FROM u")" = 0 ]
	dblog-flashback --since 0 --sql postgres < "$T/ev" | grep -q "convert_from('\\\\xff'::bytea, 'UTF8')"
	# a conflict parks the destination row as JSON, its text as text_hex too
	E_SRC='{"driver":"sqlite","name":"s2"}' E_TABLE=main.u ev update 9 0 '{"k":"ok"}' '{"k":"ok","v":"other","n":3}' '{"k":"ok","v":"new","n":3}' > "$T/c"
	run dblog-apply --stream s2 --conflict manual_review --dlq "$T/dlq" "sqlite:$D" < "$T/c"
	[ "$status" -eq 0 ]
	is_utf8 "$T/dlq"
	[ "$(jq -c .dest_row "$T/dlq")" = '{"k":"ok","v":{"text_hex":"ff"},"n":3}' ]
}

@test "apply: replaying the same events changes nothing; the position is in _dblog_applied" {
	new_db "$D" "CREATE TABLE audit(n INT); INSERT INTO audit VALUES(0);
		CREATE TRIGGER a1 AFTER INSERT ON t BEGIN UPDATE audit SET n = n + 1; END;
		CREATE TRIGGER a2 AFTER UPDATE ON t BEGIN UPDATE audit SET n = n + 1; END;
		CREATE TRIGGER a3 AFTER DELETE ON t BEGIN UPDATE audit SET n = n + 1; END"
	{
		ev_tx 10 "$(ev insert 10 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')" "$(ev insert 10 1 '{"id":2}' - '{"id":2,"v":"b","w":"y"}')"
		ev_tx 20 "$(ev update 20 0 '{"id":1}' '{"id":1,"v":"a","w":"x"}' '{"id":1,"v":"A","w":"x"}')"
		ev_tx 30 "$(ev delete 30 0 '{"id":2}' '{"id":2,"v":"b","w":"y"}')"
	} > "$T/in"
	dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$(rows)" = "1|A|x" ]
	[ "$(sq "$D" "SELECT n FROM audit")" = 4 ]
	run sq "$D" "SELECT stream, position FROM _dblog_applied"
	[ "$(jq -c . <<< "${output#default|}")" = '{"source":{"driver":"sqlite","name":"s"},"pos":30,"tx":30,"commit_time":"2026-01-01T00:00:00.000000Z"}' ]
	[ "${output%%|*}" = default ]
	# a change made in the destination meanwhile is not undone by a replay
	sq "$D" "UPDATE t SET w = 'local'"
	sq "$D" "UPDATE audit SET n = 0"
	run dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(rows)" = "1|A|local" ]
	[ "$(sq "$D" "SELECT n FROM audit")" = 0 ]
	# only what is after the position is applied
	{ cat "$T/in"; ev_tx 40 "$(ev insert 40 0 '{"id":9}' - '{"id":9,"v":"new","w":null}')"; } | dblog-apply "sqlite:$D"
	[ "$(rows)" = "$(printf '1|A|local\n9|new|')" ]
	[ "$(sq "$D" "SELECT n FROM audit")" = 1 ]
}

@test "apply: the same transactions twice in one input are applied once, whatever the batching" {
	new_db "$D" "CREATE TABLE audit(n INT); INSERT INTO audit VALUES(0);
		CREATE TRIGGER a1 AFTER INSERT ON t BEGIN UPDATE audit SET n = n + 1; END;
		CREATE TRIGGER a2 AFTER UPDATE ON t BEGIN UPDATE audit SET n = n + 1; END"
	{
		ev_tx 10 "$(ev insert 10 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')"
		ev_tx 20 "$(ev update 20 0 '{"id":1}' '{"id":1,"v":"a","w":"x"}' '{"id":1,"v":"A","w":"x"}')"
	} > "$T/in"
	# one batch a transaction: the copy is skipped
	cat "$T/in" "$T/in" | dblog-apply --batch-rows 1 "sqlite:$D"
	[ "$(sq "$D" "SELECT n FROM audit")" = 2 ]
	# all in one batch: the same
	sq "$D" "DELETE FROM t; DELETE FROM _dblog_applied; UPDATE audit SET n = 0"
	cat "$T/in" "$T/in" | dblog-apply --batch-rows 1000 --batch-ms 1h "sqlite:$D"
	[ "$(sq "$D" "SELECT n FROM audit")" = 2 ]
	[ "$(rows)" = "1|A|x" ]
}

@test "apply: changes outside transactions are covered by (pos, seq)" {
	for i in 0 1 2 3 4 5; do ev snapshot 7 "$i" "{\"id\":$i}" - "{\"id\":$i,\"v\":\"s$i\",\"w\":null}"; done > "$T/in"
	ev_heartbeat 7 >> "$T/in"
	head -n 3 "$T/in" | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(jq -c '[.pos, .seq]' "$T/cp")" = '[7,2]' ]
	sq "$D" "UPDATE t SET w = 'local' WHERE id <= 2"
	mv "$T/cp" "$T/cp.first"
	dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$(sq "$D" "SELECT group_concat(id || coalesce(w, '-'), ' ') FROM t")" = "0local 1local 2local 3- 4- 5-" ]
	# the heartbeat closes the position: no seq any more
	[ "$(jq -c '[.pos, .seq]' "$T/cp")" = '[7,null]' ]
	[ "$(jq -c .counters.changes "$T/cp")" = 3 ]
}

@test "apply: --stream names keep independent positions" {
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')"
		ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')"
	} > "$T/in"
	dblog-apply -s one "sqlite:$D" < "$T/in"
	sq "$D" "DELETE FROM t"
	# stream one has seen it all; stream two has not
	dblog-apply -s one "sqlite:$D" < "$T/in"
	[ -z "$(rows)" ]
	dblog-apply --stream two -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$(rows)" = "$(printf '1|a|\n2|b|')" ]
	[ "$(jq -r .stream "$T/cp")" = two ]
	run sq "$D" "SELECT stream, json_extract(position, '$.pos') FROM _dblog_applied ORDER BY stream"
	[ "$output" = "$(printf 'one|2\ntwo|2')" ]
	# the default stream is a third one
	sq "$D" "DELETE FROM t"
	head -n 3 "$T/in" | dblog-apply "sqlite:$D"
	[ "$(rows)" = "1|a|" ]
}

@test "apply: a stream refuses events of another source" {
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" | dblog-apply "sqlite:$D"
	run dblog-apply "sqlite:$D" < <(E_SRC='{"driver":"sqlite","name":"other"}' ev_tx 2 "$(E_SRC='{"driver":"sqlite","name":"other"}' ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')")
	[ "$status" -eq 1 ]
	[[ "$output" == *'"default"'*"another source"*"--stream"* ]]
	[ "$(rows)" = "1|a|" ]
	# on a stream of its own it is applied
	E_SRC='{"driver":"sqlite","name":"other"}' ev_tx 2 "$(E_SRC='{"driver":"sqlite","name":"other"}' ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')" |
		dblog-apply -s other "sqlite:$D"
	[ "$(rows)" = "$(printf '1|a|\n2|b|')" ]
}

@test "apply: a source's identity is kept with the position; another server under a known name is refused, naming both" {
	A='{"driver":"postgres","name":"app","identity":"111/shop"}'
	B='{"driver":"postgres","name":"app","identity":"222/shop"}'
	tx() {   # SOURCE POS ID: one transaction inserting ID
		E_SRC=$1 ev_tx "$2" "$(E_SRC=$1 ev insert "$2" 0 '{"id":'"$3"'}' - '{"id":'"$3"',"v":"x","w":null}')"
	}
	# a position without identity adopts the first one seen
	tx '{"driver":"postgres","name":"app"}' 1 1 | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(sq "$D" "SELECT json_extract(position, '$.source.identity') IS NULL FROM _dblog_applied")" = 1 ]
	tx "$A" 2 2 | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(sq "$D" "SELECT json_extract(position, '$.source') FROM _dblog_applied")" = "$A" ]
	[ "$(jq -c .source "$T/cp")" = "$A" ]
	# another server under the same name: refused, status 1, nothing applied
	tx "$B" 3 3 > "$T/b"
	run dblog-apply "sqlite:$D" < "$T/b"
	[ "$status" -eq 1 ]
	[ "$output" = 'dblog-apply: line 1: stream "default": source "app" is recorded from the server with identity 111/shop; this event comes from 222/shop: two servers under one source name would share positions; give the other source its own name (dblog-capture -n NAME) and its own --stream' ]
	[ "$(rows)" = "$(printf '1|x|\n2|x|')" ]
	run dblog-apply -c "$T/cp" "sqlite:$D" < "$T/b"
	[ "$status" -eq 1 ]
	[[ "$output" == *"identity 111/shop; this event comes from 222/shop"* ]]
	# dblog-checkpoint track refuses it the same way
	run dblog-checkpoint track "$T/cp" < "$T/b"
	[ "$status" -eq 1 ]
	[[ "$output" == *"identity 111/shop; this event comes from 222/shop"* ]]
	# on a stream of its own it is applied
	dblog-apply -s b "sqlite:$D" < "$T/b"
	[ "$(rows)" = "$(printf '1|x|\n2|x|\n3|x|')" ]
	# events without identity (written before) under the name: applied, the identity stays
	tx '{"driver":"postgres","name":"app"}' 4 4 | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(sq "$D" "SELECT json_extract(position, '$.source') FROM _dblog_applied WHERE stream = 'default'")" = "$A" ]
	[ "$(jq -c '[.source, .pos]' "$T/cp")" = "[$A,4]" ]
	# the old default name "postgres" (no identity) is taken over by the new
	# default name of the same server, "<database>@<system identifier>"
	tx '{"driver":"postgres","name":"postgres"}' 5 5 | dblog-apply -s old "sqlite:$D"
	N='{"driver":"postgres","name":"shop@111","identity":"111/shop"}'
	tx "$N" 6 6 | dblog-apply -s old "sqlite:$D"
	[ "$(sq "$D" "SELECT json_extract(position, '$.source') FROM _dblog_applied WHERE stream = 'old'")" = "$N" ]
	# but not by any other name
	tx '{"driver":"postgres","name":"postgres"}' 5 5 | dblog-apply -s old2 "sqlite:$D"
	run dblog-apply -s old2 "sqlite:$D" < <(tx '{"driver":"postgres","name":"shop@111","identity":"222/shop"}' 7 7)
	[ "$status" -eq 1 ]
	[[ "$output" == *'"old2" applies another source (postgres)'* ]]
}

@test "apply: --checkpoint holds the applied position, stream and counters" {
	{
		ev_tx 5 "$(ev insert 5 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" "$(ev insert 5 1 '{"id":2}' - '{"id":2,"v":"b","w":null}')"
		ev_tx 8 "$(ev delete 8 0 '{"id":9}' '{"id":9,"v":"a","w":null}')"
	} > "$T/in"
	dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	run jq -c '[.version, .source, .pos, .seq, .tx, .commit_time, .stream]' "$T/cp"
	[ "$output" = '[1,{"driver":"sqlite","name":"s"},8,null,8,"2026-01-01T00:00:00.000000Z","default"]' ]
	run jq -c '.counters | [.events, .changes, .transactions, .noop, .conflicts]' "$T/cp"
	[ "$output" = '[7,3,2,1,0]' ]
	[[ "$(jq -r .written "$T/cp")" =~ ^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{6}Z$ ]]
	# dblog-checkpoint reads it
	run dblog-checkpoint show "$T/cp"
	[ "$status" -eq 0 ]
	# a trailing heartbeat moves it on
	ev_heartbeat 12 | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(jq -c '[.pos, .seq, .tx]' "$T/cp")" = '[12,null,null]' ]
	[ "$(sq "$D" "SELECT json_extract(position, '$.pos') FROM _dblog_applied")" = 12 ]
	# capture resumes from it
	new_src "$T/src.db" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	run dblog-capture --until-caught-up -c "$T/cp" "sqlite:$T/src.db"
	[ "$status" -eq 0 ]
	# no destination commit, no checkpoint file
	rm -f "$T/cp2"
	ev_heartbeat 3 | dblog-apply -c "$T/cp2" "sqlite:$D"
	[ ! -e "$T/cp2" ]
}

# ------------------------------------------------------------- batching

@test "apply: --batch-rows commits after N changes, never inside a transaction" {
	mkfifo "$T/fifo"
	dblog-apply --batch-rows 2 --batch-ms 1h -c "$T/cp" "sqlite:$D" < "$T/fifo" 2> "$T/err" &
	pid=$!
	exec 4> "$T/fifo"
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" >&4
	sleep 0.3
	[ "$(sq "$D" "SELECT count(*) FROM t")" = 0 ]
	ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')" >&4
	wait_for 10 rows_in "$D" 2
	[ "$(jq .pos "$T/cp")" = 2 ]
	# a transaction of 3: not split at 2
	{ ev_begin 3; ev insert 3 0 '{"id":3}' - '{"id":3,"v":"c","w":null}'; ev insert 3 1 '{"id":4}' - '{"id":4,"v":"d","w":null}'; } >&4
	sleep 0.3
	[ "$(sq "$D" "SELECT count(*) FROM t")" = 2 ]
	{ ev insert 3 2 '{"id":5}' - '{"id":5,"v":"e","w":null}'; ev_commit 3 3; } >&4
	wait_for 10 rows_in "$D" 5
	exec 4>&-
	wait_pid 10 "$pid"
	[ ! -s "$T/err" ]
}

@test "apply: --batch-ms commits when input is idle, but not inside a transaction" {
	mkfifo "$T/fifo"
	dblog-apply --batch-ms 100ms "sqlite:$D" < "$T/fifo" &
	pid=$!
	exec 4> "$T/fifo"
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" >&4
	wait_for 10 rows_in "$D" 1
	{ ev_begin 2; ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}'; } >&4
	sleep 0.6
	[ "$(sq "$D" "SELECT count(*) FROM t")" = 1 ]
	ev_commit 2 >&4
	wait_for 10 rows_in "$D" 2
	exec 4>&-
	wait_pid 10 "$pid"
}

@test "apply: --batch-bytes commits after that much input" {
	mkfifo "$T/fifo"
	dblog-apply --batch-bytes 1 --batch-ms 1h "sqlite:$D" < "$T/fifo" &
	pid=$!
	exec 4> "$T/fifo"
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" >&4
	wait_for 10 rows_in "$D" 1
	exec 4>&-
	wait_pid 10 "$pid"
	# bad values
	for o in "--batch-rows 0" "--batch-rows x" "--batch-bytes 0" "--batch-bytes 1Q" "--batch-ms soon"; do
		run dblog-apply $o "sqlite:$D" < /dev/null
		[ "$status" -eq 2 ] || { echo "$o: $status"; return 1; }
	done
}

@test "apply: big input with small batches ends equal to one big batch" {
	# 300 transactions: insert row i, update row i/2+1
	awk -v src="$E_SRC" 'BEGIN {
		for (i = 1; i <= 300; i++) {
			u = int(i / 2) + 1
			printf "{\"op\":\"begin\",\"source\":%s,\"tx\":%d,\"pos\":%d}\n", src, i, i
			printf "{\"op\":\"insert\",\"table\":\"main.t\",\"source\":%s,\"pos\":%d,\"seq\":0,\"key\":{\"id\":%d},\"after\":{\"id\":%d,\"v\":\"v%d\",\"w\":null}}\n", src, i, i, i, i
			printf "{\"op\":\"update\",\"table\":\"main.t\",\"source\":%s,\"pos\":%d,\"seq\":1,\"key\":{\"id\":%d},\"after\":{\"id\":%d,\"v\":\"u%d\"}}\n", src, i, u, u, i
			printf "{\"op\":\"commit\",\"source\":%s,\"tx\":%d,\"pos\":%d,\"count\":2}\n", src, i, i
		}
	}' > "$T/in"
	[ "$(wc -l < "$T/in")" -eq 1200 ]
	dblog-apply --batch-rows 7 --batch-bytes 3K -c "$T/cp" "sqlite:$D" < "$T/in"
	cp "$D" "$T/small.db"
	new_db "$T/big.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT)"
	dblog-apply --batch-rows 100000 "sqlite:$T/big.db" < "$T/in"
	same_db "$T/small.db" "$T/big.db"
	[ "$(jq -c '[.pos, .counters.transactions, .counters.changes]' "$T/cp")" = '[300,300,600]' ]
}

# ---------------------------------------------------- whole transactions

@test "apply: input ending inside a transaction: that one is not applied, the rest is; status 4" {
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')"
		ev_begin 2
		ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}'
	} > "$T/in"
	run dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$status" -eq 4 ]
	[[ "$output" == *"line 5: the input ended inside transaction 2 (pos 2), begun at line 4: none of it was applied (applied up to pos 1 (tx 1)); run again with input that holds the rest of it"* ]] ||
		{ echo "$output"; return 1; }
	[ "$(rows)" = "1|a|" ]
	[ "$(jq .pos "$T/cp")" = 1 ]
	[ "$(sq "$D" "SELECT json_extract(position, '$.unfinished') FROM _dblog_applied")" = '{"pos":2,"tx":2}' ]
	# the whole transaction comes later: applied once
	{ cat "$T/in"; ev insert 2 1 '{"id":3}' - '{"id":3,"v":"c","w":null}'; ev_commit 2 2; } | dblog-apply "sqlite:$D"
	[ "$(rows)" = "$(printf '1|a|\n2|b|\n3|c|')" ]
}

# bad_tx BAD-LINE: tx 1 and 2 good, tx 3 = good, BAD-LINE, good; tx 4 good.
bad_tx() {
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')"
	ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')"
	ev_begin 3
	ev insert 3 0 '{"id":3}' - '{"id":3,"v":"c","w":null}'
	printf '%s\n' "$1"
	ev insert 3 2 '{"id":4}' - '{"id":4,"v":"d","w":null}'
	ev_commit 3 3
	ev_tx 4 "$(ev insert 4 0 '{"id":5}' - '{"id":5,"v":"e","w":null}')"
}

@test "apply: a bad event inside a transaction: status 1, its line, earlier transactions committed, nothing of its own" {
	new_db "$D" "CREATE TABLE nn(id INTEGER PRIMARY KEY, v TEXT NOT NULL)"
	local -a bad=(
		"$(E_TABLE=main.nosuch ev insert 3 1 '{"id":9}' - '{"id":9}')"
		"$(ev insert 3 1 '{"id":9}' - '{"id":9,"nosuch":1}')"
		"$(E_TABLE=main.nn ev insert 3 1 '{"id":9}' - '{"id":9,"v":null}')"
		"$(ev update 3 1 - - '{"v":"no key"}')"
		'{"op":"insert","table":"main.t","pos":3,"seq":1,"after":{"id":9,'
		'{"op":"frobnicate","table":"main.t","pos":3,"seq":1}'
	)
	local -a why=("no table" "nosuch" "NOT NULL" "no key" "malformed JSON" "op")
	for i in "${!bad[@]}"; do
		rm -f "$T/cp"
		sq "$D" "DELETE FROM t; DELETE FROM _dblog_applied" 2> /dev/null || true
		bad_tx "${bad[$i]}" > "$T/in"
		run dblog-apply --batch-rows 1000 --batch-ms 1h -c "$T/cp" "sqlite:$D" < "$T/in"
		[ "$status" -eq 1 ] || { echo "case $i: status $status: $output"; return 1; }
		[[ "$output" == "dblog-apply: line 9: "*"${why[$i]}"* ]] || { echo "case $i: $output"; return 1; }
		[ "$(rows)" = "$(printf '1|a|\n2|b|')" ] || { echo "case $i: $(rows)"; return 1; }
		[ "$(jq .pos "$T/cp")" = 2 ] || { echo "case $i: checkpoint"; return 1; }
		[ "$(sq "$D" "SELECT json_extract(position, '$.pos') FROM _dblog_applied")" = 2 ]
	done
	# fixed, the same input goes on from transaction 3
	bad_tx "$(ev insert 3 1 '{"id":9}' - '{"id":9,"v":"fixed","w":null}')" > "$T/in"
	dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$(sq "$D" "SELECT group_concat(id) FROM t")" = "1,2,3,4,5,9" ]
}

@test "apply: a bad event outside transactions: what came before is committed" {
	{
		ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}'
		ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}'
		E_TABLE=main.nosuch ev insert 3 0 '{"id":3}' - '{"id":3}'
		ev insert 4 0 '{"id":4}' - '{"id":4,"v":"d","w":null}'
	} > "$T/in"
	run dblog-apply -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 3: "*"nosuch"* ]]
	[ "$(sq "$D" "SELECT group_concat(id) FROM t")" = "1,2" ]
	[ "$(jq -c '[.pos, .seq]' "$T/cp")" = '[2,0]' ]
}

@test "apply: --dlq parks bad events and goes on" {
	bad_tx "$(E_TABLE=main.nosuch ev insert 3 1 '{"id":9}' - '{"id":9}')" > "$T/in"
	echo '{"op":"insert", broken' >> "$T/in"
	ev_tx 5 "$(ev insert 5 0 '{"id":6}' - '{"id":6,"v":"f","w":null}')" >> "$T/in"
	run dblog-apply --dlq "$T/dlq" -c "$T/cp" "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 events parked"* ]]
	# the rest of the transaction with the bad event is applied
	[ "$(sq "$D" "SELECT group_concat(id) FROM t")" = "1,2,3,4,5,6" ]
	[ "$(jq .pos "$T/cp")" = 5 ]
	run jq -c '[.program, .line, (.error | test("nosuch")), .event.table, .raw]' "$T/dlq"
	[ "${lines[0]}" = '["dblog-apply",9,true,"main.nosuch",null]' ]
	[ "${lines[1]}" = '["dblog-apply",15,false,null,"{\"op\":\"insert\", broken"]' ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "$(jq -r .time "$T/dlq" | head -n 1)" =~ ^20[0-9-]+T[0-9:.]+Z$ ]]
}

@test "apply: SIGTERM inside a transaction whose rest does not come: rolled back, the whole ones committed, status 4 and where it stopped" {
	mkfifo "$T/fifo"
	dblog-apply --batch-ms 1h -c "$T/cp" "sqlite:$D" < "$T/fifo" 2> "$T/err" &
	pid=$!
	exec 4> "$T/fifo"
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')" >&4
	{ ev_begin 2; ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}'; } >&4
	sleep 0.3
	kill -TERM "$pid"
	st=0
	wait_pid 10 "$pid" || st=$?
	[ "$st" -eq 4 ]
	exec 4>&-
	grep -q '^dblog-apply: stopped by Terminated before the end of the input (at line 5): applied up to pos 1 (tx 1); the rest was not applied; run again to resume$' "$T/err" ||
		{ cat "$T/err"; return 1; }
	[ "$(rows)" = "1|a|" ]
	[ "$(jq .pos "$T/cp")" = 1 ]
}

@test "apply: SIGINT waits for the rest of the open transaction; the input ending then is status 0, more input is status 4" {
	mkfifo "$T/fifo"
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":null}')"
		ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":null}')" \
			"$(ev insert 2 1 '{"id":3}' - '{"id":3,"v":"c","w":null}')"
	} > "$T/in"
	ev_tx 3 "$(ev insert 3 0 '{"id":4}' - '{"id":4,"v":"d","w":null}')" > "$T/more"
	for more in 0 1; do
		rm -f "$D" "$T/cp"
		new_db "$D" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT)"
		dblog-apply --batch-ms 1h -c "$T/cp" "sqlite:$D" < "$T/fifo" 2> "$T/err" &
		pid=$!
		exec 4> "$T/fifo"
		head -n 5 "$T/in" >&4    # tx 1, and tx 2 begun
		sleep 0.3
		kill -INT "$pid"
		sleep 0.2
		tail -n +6 "$T/in" >&4
		[ "$more" = 0 ] || cat "$T/more" >&4
		exec 4>&-
		st=0
		wait_pid 10 "$pid" || st=$?
		[ "$st" -eq $((more * 4)) ] || { echo "more=$more: status $st: $(cat "$T/err")"; return 1; }
		[ "$(rows)" = "$(printf '1|a|\n2|b|\n3|c|')" ]
		[ "$(jq .pos "$T/cp")" = 2 ]
	done
	grep -q 'stopped by Interrupt before the end of the input (at line 8): applied up to pos 2 (tx 2)' "$T/err" ||
		{ cat "$T/err"; return 1; }
}

# A SQLite source whose writers mark their transactions, captured; "$T/all"
# holds the events, "$T/src.db" the source.
marked_source() {
	new_src "$T/src.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT)"
	python3 - "$T/src.db" <<'PY'
import random, sqlite3, sys
c = sqlite3.connect(sys.argv[1]); random.seed(7)
for i in range(60):
    c.execute("INSERT INTO _dblog_tx DEFAULT VALUES")
    for j in range(random.randint(1, 7)):
        c.execute("INSERT OR REPLACE INTO t VALUES(?, ?, ?)", (random.randint(1, 40), "v%d.%d" % (i, j), None))
    if i % 5 == 0:
        c.execute("DELETE FROM t WHERE id = ?", (random.randint(1, 40),))
    c.commit()
PY
	dblog-capture --until-caught-up "sqlite:$T/src.db" > "$T/all"
}

# state_at_cp WHAT: "$T/dst.db" holds what "$T/all" makes up to the commit
# at the position of "$T/cp".
state_at_cp() {
	local pos upto
	pos=$(jq .pos "$T/cp")
	upto=$(grep -n "\"op\":\"commit\".*\"pos\":$pos," "$T/all" | cut -d: -f1)
	rm -f "$T/ref.db"
	head -n "$upto" "$T/all" | dblog-apply --create-tables "sqlite:$T/ref.db"
	[ "$(sq "$T/ref.db" "SELECT * FROM t ORDER BY id")" = "$(sq "$T/dst.db" "SELECT * FROM t ORDER BY id")" ] ||
		{ echo "$1: the destination is not the archive's state at $pos"; return 1; }
}

@test "apply: an archive cut with split -l and applied piece by piece: never a wrong destination with status 0; the whole archive then converges" {
	marked_source
	split -l 100 "$T/all" "$T/piece."
	n=0
	for f in "$T"/piece.*; do
		st=0
		dblog-apply -c "$T/cp" --stream s --create-tables "sqlite:$T/dst.db" < "$f" 2>> "$T/err" || st=$?
		n=$((n + 1))
		# a piece either went in whole (0), or stopped at a transaction
		# (4: it ends inside one; 1: it starts inside one, or after one
		# read only in part)
		case $st in 0 | 1 | 4) ;; *) echo "piece $n: status $st"; return 1 ;; esac
		# whatever the status, the destination holds exactly what the
		# archive up to the applied position makes
		state_at_cp "piece $n (status $st)"
	done
	grep -q "line 100: the input ended inside transaction" "$T/err"
	grep -q "line 1: .* of transaction .*, whose begin was not read: the input starts inside that transaction, so none of it was applied" "$T/err"
	grep -q "has not applied transaction .*, which an earlier run read only in part" "$T/err"
	dblog-apply -c "$T/cp" --stream s --create-tables "sqlite:$T/dst.db" < "$T/all"
	[ "$(sq "$T/src.db" "SELECT * FROM t ORDER BY id")" = "$(sq "$T/dst.db" "SELECT * FROM t ORDER BY id")" ]
	[ "$(sq "$T/dst.db" "SELECT json_extract(position, '$.unfinished') IS NULL FROM _dblog_applied")" = 1 ]
}

@test "apply: pieces that start at transaction boundaries apply one after the other, status 0 each" {
	marked_source
	# cut only before a begin: every piece is whole transactions
	awk -v d="$T" '/"op":"begin"/ { if (++n % 9 == 1) f = sprintf("%s/w.%03d", d, ++k) } { print > f }' "$T/all"
	for f in "$T"/w.*; do
		dblog-apply -c "$T/cp" --stream s --create-tables "sqlite:$T/dst.db" < "$f"
		state_at_cp "$f"
	done
	[ "$(sq "$T/src.db" "SELECT * FROM t ORDER BY id")" = "$(sq "$T/dst.db" "SELECT * FROM t ORDER BY id")" ]
}

# ------------------------------------------------------------ conflicts

# conflict POLICY DEST-ROW EVENT [ARGS...]: a destination with row 2
# ('other') and DEST-ROW (VALUES list or ''), one EVENT applied with
# POLICY; prints the rows as "id:v ..." (conflicts in $T/err, $T/cp).
conflict() {
	local policy="$1" row="$2" event="$3"; shift 3
	rm -f "$T/c.db" "$T/cp" "$T/dlq"
	new_db "$T/c.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(2, 'other')"
	[ -z "$row" ] || sq "$T/c.db" "INSERT INTO t VALUES$row"
	printf '%s\n' "$event" | dblog-apply --conflict "$policy" -c "$T/cp" "$@" "sqlite:$T/c.db" 2> "$T/err" ||
		{ echo "status $?: $(cat "$T/err")"; return 1; }
	sq "$T/c.db" "SELECT group_concat(id || ':' || v, ' ') FROM (SELECT * FROM t ORDER BY id)"
}

# One conflict of each type, and what each policy must leave:
# name | dest row | event | source_wins | dest_wins | last_writer_wins | manual_review
conflict_cases() {
	cat <<'EOF'
insert finds a different row|(1, 'dest')|{"op":"insert","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"after":{"id":1,"v":"src"}}|1:src 2:other|1:dest 2:other|1:src 2:other|1:dest 2:other
update finds no row||{"op":"update","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"before":{"id":1,"v":"old"},"after":{"id":1,"v":"src"}}|1:src 2:other|2:other|1:src 2:other|2:other
update finds a different row|(1, 'dest')|{"op":"update","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"before":{"id":1,"v":"old"},"after":{"id":1,"v":"src"}}|1:src 2:other|1:dest 2:other|1:src 2:other|1:dest 2:other
delete finds a different row|(1, 'dest')|{"op":"delete","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"before":{"id":1,"v":"old"}}|2:other|1:dest 2:other|2:other|1:dest 2:other
delete finds no row||{"op":"delete","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"before":{"id":1,"v":"old"}}|2:other|2:other|2:other|2:other
update finds the after-image|(1, 'src')|{"op":"update","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"before":{"id":1,"v":"old"},"after":{"id":1,"v":"src"}}|1:src 2:other|1:src 2:other|1:src 2:other|1:src 2:other
insert finds the after-image|(1, 'src')|{"op":"insert","table":"main.t","pos":5,"seq":0,"commit_time":"2026-01-01T00:00:00Z","key":{"id":1},"after":{"id":1,"v":"src"}}|1:src 2:other|1:src 2:other|1:src 2:other|1:src 2:other
EOF
}

@test "apply: every conflict type under every policy leaves the right rows" {
	local policies=(source_wins dest_wins last_writer_wins manual_review)
	while IFS='|' read -r name row event r0 r1 r2 r3; do
		local want=("$r0" "$r1" "$r2" "$r3")
		for i in 0 1 2 3; do
			got=$(conflict "${policies[$i]}" "$row" "$event")
			[ "$got" = "${want[$i]}" ] || { echo "$name, ${policies[$i]}: got '$got', want '${want[$i]}'"; return 1; }
		done
	done < <(conflict_cases)
}

@test "apply: conflicts are counted and reported (dest_wins)" {
	while IFS='|' read -r name row event _; do
		case "$name" in *"different row"*|*"no row"*) ;; *) continue ;; esac
		conflict dest_wins "$row" "$event" > /dev/null
		n=$(jq .counters.conflicts "$T/cp")
		case "$name" in
		"delete finds no row") [ "$n" = 0 ] || { echo "$name: $n"; return 1; } ;;
		*) [ "$n" = 1 ] || { echo "$name: $n conflicts"; return 1; }
		   grep -q "1 conflict" "$T/err" || { echo "$name: $(cat "$T/err")"; return 1; } ;;
		esac
	done < <(conflict_cases)
}

@test "apply: a row already equal to the event is a no-op under every policy" {
	for p in source_wins dest_wins last_writer_wins manual_review; do
		while IFS='|' read -r name row event _; do
			case "$name" in *after-image*) ;; *) continue ;; esac
			conflict "$p" "$row" "$event" > /dev/null
			[ "$(jq -c '[.counters.noop, .counters.conflicts]' "$T/cp")" = '[1,0]' ] ||
				{ echo "$p, $name: $(jq -c .counters "$T/cp")"; return 1; }
		done < <(conflict_cases)
	done
}

# reason_ok CASE REASON PREFIX: REASON is PREFIX, then names the op of the
# case and what was found ("no row" or a "different" row).
reason_ok() {
	local what="different"
	[[ "$1" != *"no row"* ]] || what="no row"
	[[ "$2" == "$3${1%% *} "*"$what"* ]] || { echo "$1: reason '$2'"; return 1; }
}

@test "apply: manual_review parks conflicts in --dlq with the destination row" {
	while IFS='|' read -r name row event _; do
		case "$name" in "delete finds no row"|*after-image*) continue ;; esac
		conflict manual_review "$row" "$event" --dlq "$T/dlq" > /dev/null
		run jq -c '[.program, .line, .dest_row]' "$T/dlq"
		local dest='{"id":1,"v":"dest"}'
		[ "$name" != "update finds no row" ] || dest=null
		[ "$output" = "[\"dblog-apply\",1,$dest]" ] || { echo "$name: $output"; return 1; }
		reason_ok "$name" "$(jq -r .error "$T/dlq")" "conflict: "
		# the event verbatim
		[ "$(jq -c .event "$T/dlq")" = "$(jq -c . <<< "$event")" ]
		grep -q 'parked' "$T/err"
		# nothing in the conflicts table then
		[ "$(sq "$T/c.db" "SELECT count(*) FROM _dblog_conflicts")" = 0 ]
	done < <(conflict_cases)
}

@test "apply: manual_review without --dlq parks conflicts in _dblog_conflicts" {
	while IFS='|' read -r name row event _; do
		case "$name" in "delete finds no row"|*after-image*) continue ;; esac
		conflict manual_review "$row" "$event" -s review > /dev/null
		run sq "$T/c.db" "SELECT stream, event, dest_row FROM _dblog_conflicts"
		local dest='{"id":1,"v":"dest"}'
		[ "$name" != "update finds no row" ] || dest=
		[ "$output" = "review|$event|$dest" ] || { echo "$name: $output"; return 1; }
		reason_ok "$name" "$(sq "$T/c.db" "SELECT reason FROM _dblog_conflicts")" ""
		[[ "$(sq "$T/c.db" "SELECT time FROM _dblog_conflicts")" =~ ^20[0-9-]+T[0-9:.]+Z$ ]]
	done < <(conflict_cases)
	# the run went on after the conflict
	printf '%s\n' '{"op":"update","table":"main.t","pos":5,"seq":0,"key":{"id":2},"before":{"id":2,"v":"x"},"after":{"id":2,"v":"y"}}' \
		'{"op":"insert","table":"main.t","pos":6,"seq":0,"key":{"id":3},"after":{"id":3,"v":"z"}}' > "$T/in"
	rm -f "$T/c.db"
	new_db "$T/c.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(2, 'other')"
	dblog-apply --conflict manual_review "sqlite:$T/c.db" < "$T/in" 2> /dev/null
	[ "$(sq "$T/c.db" "SELECT group_concat(id || v) FROM t")" = "2other,3z" ]
	[ "$(sq "$T/c.db" "SELECT count(*) FROM _dblog_conflicts")" = 1 ]
}

@test "apply: last_writer_wins decides by commit time, then position" {
	lww() { # POS TIME OP KEY BEFORE AFTER
		E_TIME="$2" ev "$3" "$1" 0 "$4" "$5" "$6" | dblog-apply --conflict last_writer_wins -c "$T/cp" "sqlite:$D" 2> /dev/null
		sq "$D" "SELECT coalesce(group_concat(id || ':' || v, ' '), '') FROM t"
	}
	sq "$D" "INSERT INTO t VALUES(1, 'dest', NULL)"
	k='{"id":1}'
	# no metadata: the event wins, and is recorded
	[ "$(lww 10 2026-01-01T00:00:02.000000Z update "$k" '{"id":1,"v":"x"}' '{"id":1,"v":"t2"}')" = "1:t2" ]
	[ "$(sq "$D" "SELECT tbl, key, commit_time, pos FROM _dblog_lww")" = 't|{"id":1}|2026-01-01T00:00:02.000000Z|10' ]
	# older changes lose, whatever their op
	[ "$(lww 11 2026-01-01T00:00:01.000000Z update "$k" '{"id":1,"v":"t2"}' '{"id":1,"v":"t1"}')" = "1:t2" ]
	[ "$(jq .counters.conflicts "$T/cp")" = 1 ]
	[ "$(lww 12 2026-01-01T00:00:01.000000Z insert "$k" - '{"id":1,"v":"t1b"}')" = "1:t2" ]
	[ "$(lww 13 2026-01-01T00:00:01.000000Z delete "$k" '{"id":1,"v":"t2"}' -)" = "1:t2" ]
	# newer wins; the same time is decided by position
	[ "$(lww 14 2026-01-01T00:00:03.000000Z update "$k" '{"id":1,"v":"t2"}' '{"id":1,"v":"t3"}')" = "1:t3" ]
	[ "$(lww 15 2026-01-01T00:00:03.000000Z update "$k" '{"id":1,"v":"t3"}' '{"id":1,"v":"t3b"}')" = "1:t3b" ]
	# a delete is remembered: an older insert does not bring the row back
	[ "$(lww 16 2026-01-01T00:00:04.000000Z delete "$k" '{"id":1,"v":"t3b"}' -)" = "" ]
	[ "$(lww 17 2026-01-01T00:00:03.500000Z insert "$k" - '{"id":1,"v":"zombie"}')" = "" ]
	[ "$(lww 18 2026-01-01T00:00:05.000000Z insert "$k" - '{"id":1,"v":"t5"}')" = "1:t5" ]
}

@test "apply: bad --conflict policies are usage errors" {
	run dblog-apply --conflict nosuch "sqlite:$D"
	[ "$status" -eq 2 ]
	[[ "$output" == *"Try 'dblog-apply --help'."* ]]
}

# -------------------------------------------------- mapping and creation

@test "apply: --map-table sends tables elsewhere, first match wins" {
	new_db "$D" "CREATE TABLE dest_orders(id INTEGER PRIMARY KEY); CREATE TABLE everything(id INTEGER PRIMARY KEY); CREATE TABLE plain(id INTEGER PRIMARY KEY)"
	{
		E_TABLE=main.orders ev insert 1 0 '{"id":1}' - '{"id":1}'
		E_TABLE=main.order_items ev insert 2 0 '{"id":2}' - '{"id":2}'
		E_TABLE=other.items ev insert 3 0 '{"id":3}' - '{"id":3}'
		E_TABLE=main.plain ev insert 4 0 '{"id":4}' - '{"id":4}'
	} > "$T/in"
	dblog-apply --map-table 'main.order*=dest_orders' --map-table 'other.*=everything' --map-table 'main.ord*=nosuch' "sqlite:$D" < "$T/in"
	[ "$(sq "$D" "SELECT group_concat(id) FROM dest_orders")" = "1,2" ]
	[ "$(sq "$D" "SELECT group_concat(id) FROM everything")" = 3 ]
	[ "$(sq "$D" "SELECT group_concat(id) FROM plain")" = 4 ]
	for m in nothing "=x" "x="; do
		run dblog-apply --map-table "$m" "sqlite:$D"
		[ "$status" -eq 2 ]
	done
}

@test "apply: --create-tables makes missing tables from schema events" {
	{
		printf '%s\n' '{"op":"schema","table":"main.n\"ew tåble","pos":1,"columns":[{"name":"a","type":"INTEGER","key":true,"nullable":false},{"name":"b c","type":"VARCHAR(10)","key":true,"nullable":false},{"name":"d","type":"BLOB","key":false,"nullable":true},{"name":"e","type":"","key":false,"nullable":false}]}'
		E_TABLE='main.n\"ew tåble' ev insert 1 0 '{"a":1,"b c":"x"}' - '{"a":1,"b c":"x","d":"\\x0102","e":5}'
		printf '%s\n' '{"op":"schema","table":"main.nk","pos":2,"columns":[{"name":"x","type":"TEXT","key":false,"nullable":true},{"name":"rowid","type":"INTEGER","key":true,"nullable":false,"hidden":true}]}'
		E_TABLE=main.nk ev insert 2 0 '{"rowid":4}' - '{"x":"r"}'
	} > "$T/in"
	# without the option the schema events are only read
	run dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$output" == *'no table'*'--create-tables'* ]]
	run dblog-apply --create-tables "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	run sq "$D" "SELECT name, type, \"notnull\", pk FROM pragma_table_info('n\"ew tåble')"
	[ "$output" = "$(printf 'a|INTEGER|1|1\nb c|VARCHAR(10)|1|2\nd|BLOB|0|0\ne||1|0')" ]
	[ "$(sq "$D" "SELECT a, \"b c\", hex(d), e FROM \"n\"\"ew tåble\"")" = "1|x|0102|5" ]
	# the hidden rowid is not a column; the row keeps its rowid
	[ "$(sq "$D" "SELECT group_concat(name) FROM pragma_table_info('nk')")" = x ]
	[ "$(sq "$D" "SELECT rowid, x FROM nk")" = "4|r" ]
	# an existing table is left as it is
	printf '%s\n' '{"op":"schema","table":"main.t","pos":3,"columns":[{"name":"id","type":"TEXT","key":true,"nullable":false}]}' |
		dblog-apply --create-tables "sqlite:$D"
	[ "$(sq "$D" "SELECT group_concat(name) FROM pragma_table_info('t')")" = "id,v,w" ]
}

@test "apply: --create-tables from a PostgreSQL source: declared types that SQLite's affinity cannot change a value through" {
	E_SRC='{"driver":"postgres","name":"pg"}'
	E_TABLE=public.v
	{
		printf '%s\n' '{"op":"schema","table":"public.v","source":{"driver":"postgres","name":"pg"},"pos":1,"columns":[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"j","type":"json","key":false,"nullable":true},{"name":"jb","type":"jsonb","key":false,"nullable":true},{"name":"n","type":"numeric(10,2)","key":false,"nullable":true},{"name":"f","type":"double precision","key":false,"nullable":true},{"name":"a","type":"text[]","key":false,"nullable":true},{"name":"m","type":"mood_int","key":false,"nullable":true},{"name":"s","type":"character(5)","key":false,"nullable":true},{"name":"d","type":"public.score","key":false,"nullable":true}]}'
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"j":"\"007\"","jb":"\"a\\tb\"","n":"1.10","f":-0,"a":["a b",null,"c\"d","x\\y",""],"m":"42","s":"007  ","d":5}')" \
			"$(ev insert 1 1 '{"id":2}' - '{"id":2,"j":"1.10","jb":"null","n":"12345678901234567890123456789012345678.5","f":5,"a":[["x"],["{}"]],"m":"x","s":"1e5  ","d":"07"}')" \
			"$(ev insert 1 2 '{"id":3}' - '{"id":3,"j":null,"jb":"{\"a\": [1, 2.50]}","n":"NaN","f":"Infinity","a":"[0:1]={a,b}","m":null,"s":null,"d":1.5}')"
	} > "$T/in"
	run dblog-apply --create-tables "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	run sq "$D" "SELECT group_concat(name || ' ' || type, ', ') FROM pragma_table_info('v')"
	[ "$output" = "id INTEGER, j json TEXT, jb jsonb TEXT, n numeric(10,2) TEXT, f double precision BLOB, a text[], m BLOB, s character(5), d public.score BLOB" ]
	run sq "$D" "SELECT id, typeof(j), j, typeof(jb), jb, typeof(n), n, typeof(f), f, a, typeof(m), m, typeof(s), s, typeof(d), d FROM v ORDER BY id"
	[ "${lines[0]}" = '1|text|"007"|text|"a\tb"|text|1.10|real|0.0|{"a b",NULL,"c\"d","x\\y",""}|text|42|text|007  |integer|5' ]
	[ "${lines[1]}" = '2|text|1.10|text|null|text|12345678901234567890123456789012345678.5|real|5.0|{{"x"},{"{}"}}|text|x|text|1e5  |text|07' ]
	[ "${lines[2]}" = '3|null||text|{"a": [1, 2.50]}|text|NaN|real|Inf|[0:1]={a,b}|null||null||real|1.5' ]
	# -0 keeps its sign
	python3 -c 'import math, sqlite3, sys; v = sqlite3.connect(sys.argv[1]).execute("SELECT f FROM v WHERE id = 1").fetchone()[0]; sys.exit(not (v == 0 and math.copysign(1, v) < 0))' "$D"
	# a table made by hand whose affinity changes values: a warning per column, once
	new_db "$D" "CREATE TABLE o(id INTEGER PRIMARY KEY, total NUMERIC, f REAL, t TEXT, b BLOB)"
	sed 's/"public.v"/"public.o"/; s/"j","type":"json"/"total","type":"numeric(10,2)"/; s/"jb","type":"jsonb"/"t","type":"text"/; s/"n","type":"numeric(10,2)"/"b","type":"bit(3)"/' "$T/in" | head -n 1 > "$T/o"
	cat "$T/o" "$T/o" > "$T/o2"
	run dblog-apply --stream o "sqlite:$D" < "$T/o2"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == *'table "o", column "total" (numeric(10,2) at the source): its declared type "NUMERIC" has NUMERIC affinity'*'declare it "numeric(10,2) TEXT"'* ]]
	[[ "${lines[1]}" == *'column "f" (double precision at the source): its declared type "REAL" has REAL affinity'*'-0 becomes 0'*'"double precision BLOB"'* ]]
	# a SQLite source's types stay as they are: the same affinity as there
	printf '%s\n' '{"op":"schema","table":"main.w","source":{"driver":"sqlite","name":"s"},"pos":1,"columns":[{"name":"id","type":"INTEGER","key":true,"nullable":false},{"name":"d","type":"DECIMAL(10,2)","key":false,"nullable":true},{"name":"r","type":"REAL","key":false,"nullable":true}]}' |
		dblog-apply --create-tables --stream s "sqlite:$D"
	[ "$(sq "$D" "SELECT group_concat(name || ' ' || type, ', ') FROM pragma_table_info('w')")" = "id INTEGER, d DECIMAL(10,2), r REAL" ]
}

# ------------------------------------------------------------- dry run

@test "apply: --dry-run prints SQL with safely quoted literals and changes nothing" {
	sq "$D" "INSERT INTO t VALUES(2, 'b', NULL); INSERT INTO t VALUES(3, 'c', 'x')"
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - "{\"id\":1,\"v\":\"it's'); DROP TABLE t; --\",\"w\":\"a \\\"q\\\" ?\"}")" \
			"$(ev update 1 1 '{"id":2}' '{"id":2,"v":"b","w":null}' '{"id":2,"v":"?'"'"'?","w":null}')" \
			"$(ev delete 1 2 '{"id":3}' '{"id":3,"v":"c","w":"x"}')"
	} > "$T/in"
	cp "$D" "$T/copy.db"
	sum=$(cksum < "$D")
	run dblog-apply --dry-run "sqlite:$D" < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *"'it''s''); DROP TABLE t; --'"* ]]
	[[ "$output" == *"'?''?'"* ]]
	[ "$(cksum < "$D")" = "$sum" ]
	[ ! -e "$D-journal" ]
	[ "$(sq "$D" "SELECT count(*) FROM sqlite_master WHERE name = '_dblog_applied'")" = 0 ]
	# the printed SQL does what the real run does
	printf '%s\n' "$output" > "$T/dry.sql"
	sq "$T/copy.db" < "$T/dry.sql"
	dblog-apply "sqlite:$D" < "$T/in"
	same_db "$D" "$T/copy.db"
	[ "$(sq "$D" "SELECT v FROM t WHERE id = 1")" = "it's'); DROP TABLE t; --" ]
	# under every policy
	for p in dest_wins last_writer_wins manual_review; do
		run dblog-apply --dry-run --conflict "$p" "sqlite:$T/copy.db" < "$T/in"
		[ "$status" -eq 0 ]
		[[ "$output" == *"'it''s''); DROP TABLE t; --'"* ]]
	done
}

@test "apply: --dry-run on a missing destination creates no file" {
	ev insert 1 0 '{"id":1}' - '{"id":1}' > "$T/in"
	run dblog-apply --dry-run "sqlite:$T/nosuch.db" < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *'INSERT INTO "t"'* ]]
	[ ! -e "$T/nosuch.db" ]
}

# ------------------------------------------------------------ injection

@test "apply: values that look like SQL are stored literally" {
	local vals=("'); DROP TABLE t; --" "\" OR 1=1 --" "1; DELETE FROM t" "?" "?1" ":v" "@v" "\$v" "'" "''" "\\" "x'00'" "NULL" "/*" "--")
	i=0
	for v in "${vals[@]}"; do
		i=$((i + 1))
		jq -nc --arg v "$v" --argjson i "$i" '{op:"insert",table:"main.t",pos:$i,seq:0,key:{id:$i},after:{id:$i,v:$v,w:$v}}'
	done > "$T/in"
	dblog-apply "sqlite:$D" < "$T/in"
	i=0
	for v in "${vals[@]}"; do
		i=$((i + 1))
		[ "$(sq "$D" "SELECT v FROM t WHERE id = $i AND v = w")" = "$v" ] || { echo "value $v"; return 1; }
	done
	[ "$(sq "$D" "SELECT count(*) FROM t")" = "${#vals[@]}" ]
	# and through updates' before-images (guarded statements) too
	jq -c 'select(.key.id == 1) | .op = "update" | .pos = 100 | .before = .after | .after.w = "done"' "$T/in" |
		dblog-apply --conflict dest_wins "sqlite:$D"
	[ "$(sq "$D" "SELECT w FROM t WHERE id = 1")" = done ]
}

@test "apply: identifiers that look like SQL are quoted" {
	new_db "$D" "$(cat <<'SQL'
CREATE TABLE victim(x);
INSERT INTO victim VALUES(1);
CREATE TABLE "t""; DROP TABLE victim; --"("id"")--" INTEGER PRIMARY KEY, "v'); DROP TABLE victim; --" TEXT, "?" TEXT, "a.b" TEXT);
SQL
)"
	{
		printf '%s\n' '{"op":"insert","table":"main.t\"; DROP TABLE victim; --","pos":1,"seq":0,"key":{"id\")--":1},"after":{"id\")--":1,"v'"'"'); DROP TABLE victim; --":"x","?":"q","a.b":"ab"}}'
		printf '%s\n' '{"op":"update","table":"main.t\"; DROP TABLE victim; --","pos":2,"seq":0,"key":{"id\")--":1},"before":{"id\")--":1,"v'"'"'); DROP TABLE victim; --":"x","?":"q","a.b":"ab"},"after":{"id\")--":1,"v'"'"'); DROP TABLE victim; --":"y","?":"q2","a.b":"ab"}}'
	} > "$T/in"
	for p in source_wins dest_wins; do
		run dblog-apply --dry-run --conflict "$p" "sqlite:$D" < "$T/in"
		[ "$status" -eq 0 ]
		printf '%s\n' "$output" > "$T/dry.sql"
	done
	dblog-apply --conflict dest_wins "sqlite:$D" < "$T/in"
	[ "$(sq "$D" 'SELECT * FROM "t""; DROP TABLE victim; --"')" = "1|y|q2|ab" ]
	[ "$(sq "$D" "SELECT x FROM victim")" = 1 ]
	# the dry-run SQL of dest_wins, run elsewhere, does the same
	new_db "$T/copy.db" "$(sq "$D" .schema | grep -v _dblog_)"
	sq "$T/copy.db" "INSERT INTO victim VALUES(1)"
	sq "$T/copy.db" < "$T/dry.sql"
	[ "$(sq "$T/copy.db" "SELECT x FROM victim")" = 1 ]
	same_db "$D" "$T/copy.db"
}

@test "apply: a NUL in a table or column name does not reach another table or column" {
	sq "$D" "INSERT INTO t VALUES(1, 'a', 'secret'); CREATE TABLE victim(id INTEGER PRIMARY KEY, v TEXT)"
	printf '%s\n' '{"op":"update","table":"main.t","pos":1,"seq":0,"key":{"id":1},"after":{"id":1,"w\u0000x":"pwned"}}' > "$T/in"
	run dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(rows)" = "1|a|secret" ]
	printf '%s\n' '{"op":"insert","table":"main.victim\u0000x","pos":2,"seq":0,"key":{"id":1},"after":{"id":1,"v":"pwned"}}' > "$T/in"
	run dblog-apply "sqlite:$D" < "$T/in"
	[ "$status" -eq 1 ]
	[ "$(sq "$D" "SELECT count(*) FROM victim")" = 0 ]
}

# --------------------------------------------------------------- errors

@test "apply: usage errors exit 2; an unusable destination exits 1" {
	for args in "" "$D" "sqlite:" "postgresql:$D" "sqlite:$D extra" "-s" "--stream"; do
		run dblog-apply $args < /dev/null
		[ "$status" -eq 2 ] || { echo "'$args': $status $output"; return 1; }
		[[ "$output" == *"Try 'dblog-apply --help'."* ]] || { echo "'$args': $output"; return 1; }
	done
	mkdir "$T/dir"
	run dblog-apply "sqlite:$T/dir" < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-apply: "* ]]
	echo "not a database at all, not at all, not at all, not at all, not at all, not at all, not at all" > "$T/junk.db"
	run dblog-apply "sqlite:$T/junk.db" < /dev/null
	[ "$status" -eq 1 ]
}

@test "apply: events from a capture round-trip into an empty replica" {
	new_src "$T/src.db" "$(cat <<'SQL'
CREATE TABLE "we""ird tåble"("i d" INTEGER PRIMARY KEY, "co'l" TEXT, b BLOB, r REAL);
CREATE TABLE nk(a TEXT, b INT);
CREATE TABLE c(a INT, b TEXT, v, PRIMARY KEY(b, a)) WITHOUT ROWID;
SQL
)"
	sq "$T/src.db" <<'SQL'
INSERT INTO "we""ird tåble" VALUES(1, 'it''s', x'00ff', 1.5), (2, '"); DROP', NULL, NULL);
INSERT INTO nk VALUES('a', 1), ('b', 2);
INSERT INTO c VALUES(1, 'x', 'v1'), (2, 'y', x'01');
UPDATE "we""ird tåble" SET "i d" = 5, b = x'' WHERE "i d" = 1;
DELETE FROM nk WHERE a = 'a';
UPDATE c SET v = 'v2' WHERE a = 1;
REPLACE INTO c VALUES(2, 'y', 'replaced');
SQL
	cap "$T/src.db" 2> /dev/null | dblog-apply --create-tables "sqlite:$T/replica.db"
	same_db "$T/src.db" "$T/replica.db"
}

# ------------------------------------------------------ transaction lines

@test "apply: transaction lines (dblog-txbuf --as-tx) apply as the events they hold, exactly once" {
	new_db "$D" "CREATE TABLE u(k TEXT PRIMARY KEY, n INT)"
	{
		ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')" \
			"$(ev insert 1 1 '{"id":2}' - '{"id":2,"v":"b","w":"y"}')"
		ev_tx 2 "$(ev update 2 0 '{"id":1}' '{"id":1,"v":"a","w":"x"}' '{"id":1,"v":"A","w":"x"}')" \
			"$(ev delete 2 1 '{"id":2}' '{"id":2,"v":"b","w":"y"}')"
		E_TABLE=main.u
		ev_tx 3 "$(ev insert 3 0 '{"k":"a"}' - '{"k":"a","n":1}')"
	} | python3 -c '
import json, sys
tx = None
for line in sys.stdin:
    e = json.loads(line)
    tx = e.get("tx", tx) if e["op"] == "begin" else tx
    e.setdefault("tx", tx)   # changes carry their transaction, as captures write them
    print(json.dumps(e, separators=(",", ":")))
' > "$T/in"
	dblog-txbuf --as-tx < "$T/in" > "$T/tx"
	[ "$(wc -l < "$T/tx")" -eq 3 ]
	[ "$(jq -r .op "$T/tx" | sort -u)" = tx ]
	dblog-apply -c "$T/cp" "sqlite:$D" < "$T/tx"
	[ "$(rows)" = "1|A|x" ]
	[ "$(rows u)" = "a|1" ]
	[ "$(jq -c '.counters | [.changes, .transactions]' "$T/cp")" = '[5,3]' ]
	[ "$(jq -r .pos "$T/cp")" = "$(jq -r 'select(.op == "commit") | .pos' "$T/in" | tail -n 1)" ]
	# the same again, as lines or as events: nothing applied twice
	cat "$T/tx" "$T/in" | dblog-apply -c "$T/cp" "sqlite:$D"
	[ "$(jq -c '.counters | [.changes, .transactions]' "$T/cp")" = '[5,3]' ]
	# a malformed transaction line: its line number, status 1; with --dlq parked
	printf '%s\n' '{"op":"tx","tx":9,"pos":"0/99"}' > "$T/bad"
	run dblog-apply "sqlite:$D" < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$output" == *"line 1:"*"\"changes\" array"* ]]
	run dblog-apply --dlq "$T/dlq" "sqlite:$D" < "$T/bad"
	[ "$status" -eq 0 ]
	[ "$(jq -r .line "$T/dlq")" = 1 ]
}

@test "apply: two runs of one stream into one destination: the second refuses (status 3), another stream goes on" {
	mkfifo "$T/fifo"
	dblog-apply "sqlite:$D" < "$T/fifo" &
	pid=$!
	exec 4> "$T/fifo"
	ev_tx 1 "$(ev insert 1 0 '{"id":1}' - '{"id":1,"v":"a","w":"x"}')" >&4
	first_in() { [ "$(rows)" = "1|a|x" ]; }
	wait_until 10 first_in
	ev_tx 2 "$(ev insert 2 0 '{"id":2}' - '{"id":2,"v":"b","w":"y"}')" > "$T/in2"
	run dblog-apply "sqlite:$D" < "$T/in2"
	[ "$status" -eq 3 ]
	[[ "$output" == *'stream "default" is being applied to this destination by another dblog-apply'* ]]
	[ "$(rows)" = "1|a|x" ]
	dblog-apply --stream other "sqlite:$D" < "$T/in2"
	[ "$(rows | wc -l)" = 2 ]
	exec 4>&-
	wait "$pid"
	# the first run is over: the stream is free again
	dblog-apply "sqlite:$D" < "$T/in2"
}
