#!/usr/bin/env bats
# dblog-capture on SQLite (doc/SPEC-sqlite.md): --setup/--teardown, the
# trigger changelog and what it records, grouping into transactions,
# positions, checkpoints, --prune, snapshots, --follow, errors.
load helpers
load lib/sqlite

setup() {
	setup_tmp
	S="$T/src.db"
}
teardown() {
	# background writers or captures a failed test left behind
	local p
	for p in $(jobs -p); do kill -9 "$p" 2> /dev/null || true; done
	teardown_tmp
}

# ------------------------------------------------------------ setup

@test "capture: --setup creates the changelog and the triggers of each table, and is idempotent" {
	new_db "$S" "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE b(id INTEGER PRIMARY KEY)"
	run dblog-capture --setup "sqlite:$S"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run sq "$S" "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\_dblog\_%' ESCAPE '\\' ORDER BY name"
	[ "$output" = "$(printf '_dblog_captured\n_dblog_changes\n_dblog_real\n_dblog_stash\n_dblog_tx')" ]
	# the columns each table's triggers write
	run sq "$S" "SELECT tbl, columns FROM _dblog_captured ORDER BY tbl"
	[ "$output" = "$(printf '%s\n' 'a|["id","v"]' 'b|["id"]')" ]
	run sq "$S" "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
	[ "$output" = "$(printf '%s\n' _dblog_a_bins _dblog_a_bupd _dblog_a_del _dblog_a_ins _dblog_a_upd \
		_dblog_b_bins _dblog_b_bupd _dblog_b_del _dblog_b_ins _dblog_b_upd _dblog_tx_begin)" ]
	sq "$S" "INSERT INTO a VALUES(1, 'x')"
	# again: same objects, the changelog kept, each write still logged once
	schema1=$(sq "$S" "SELECT type, name, sql FROM sqlite_master ORDER BY name")
	dblog-capture --setup "sqlite:$S"
	dblog-capture --setup "sqlite:$S"
	[ "$(sq "$S" "SELECT type, name, sql FROM sqlite_master ORDER BY name")" = "$schema1" ]
	sq "$S" "INSERT INTO a VALUES(2, 'y'); UPDATE a SET v = 'z' WHERE id = 1; DELETE FROM b"
	run sq "$S" "SELECT seq, tbl, op FROM _dblog_changes ORDER BY seq"
	[ "$output" = "$(printf '1|a|insert\n2|a|insert\n3|a|update')" ]
}

@test "capture: --setup again picks up tables added later; --tables sets up only those" {
	new_src "$S" "CREATE TABLE a(id INTEGER PRIMARY KEY)"
	sq "$S" "CREATE TABLE later(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE other(id INTEGER PRIMARY KEY)"
	sq "$S" "INSERT INTO later VALUES(1, 'not logged')"
	run dblog-capture --setup --tables main.later "sqlite:$S"
	[ "$status" -eq 0 ]
	sq "$S" "INSERT INTO later VALUES(2, 'logged'); INSERT INTO other VALUES(1); INSERT INTO a VALUES(1)"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.table, .key]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["main.later",{"id":2}]' '["main.a",{"id":1}]')" ]
	# a table that does not exist: error, nothing half done
	run dblog-capture --setup --tables nosuch "sqlite:$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'nosuch'* ]]
	run sq "$S" "SELECT count(*) FROM sqlite_master WHERE name LIKE '\_dblog\_other%' ESCAPE '\\'"
	[ "$output" = 0 ]
}

@test "capture: --teardown removes triggers and changelog; --tables only those triggers" {
	new_src "$S" "CREATE TABLE a(id INTEGER PRIMARY KEY); CREATE TABLE b(id INTEGER PRIMARY KEY)"
	run dblog-capture --teardown --tables a "sqlite:$S"
	[ "$status" -eq 0 ]
	sq "$S" "INSERT INTO a VALUES(1); INSERT INTO b VALUES(1)"
	run sq "$S" "SELECT tbl FROM _dblog_changes"
	[ "$output" = b ]
	run sq "$S" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '\_dblog\_a\_%' ESCAPE '\\'"
	[ "$output" = 0 ]
	run dblog-capture --teardown "sqlite:$S"
	[ "$status" -eq 0 ]
	run sq "$S" "SELECT count(*) FROM sqlite_master WHERE name LIKE '\_dblog\_%' ESCAPE '\\'"
	[ "$output" = 0 ]
	# the user's data is untouched and writes still work
	sq "$S" "INSERT INTO a VALUES(2); INSERT INTO b VALUES(2)"
	[ "$(sq "$S" "SELECT count(*) FROM a")" = 2 ]
	# teardown is idempotent; capture now says there is no changelog
	dblog-capture --teardown "sqlite:$S"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no changelog"*"--setup"* ]]
}

# --------------------------------------------------- what is recorded

@test "capture: quotes, spaces and unicode in table and column names" {
	# names with a dot or a double quote are quoted in "table" (dblog-event(5))
	new_src "$S" "$(cat <<'SQL'
CREATE TABLE "we""ird tåble"("i d" INTEGER PRIMARY KEY, "co'l" TEXT, "ünï ""q""" TEXT, "select" INT);
CREATE TABLE "a.b; DROP TABLE x; --"(k TEXT PRIMARY KEY, v TEXT)
SQL
)"
	sq "$S" <<'SQL'
INSERT INTO "we""ird tåble" VALUES(1, 'it''s', 'ü', 7);
UPDATE "we""ird tåble" SET "co'l" = 'x' WHERE "i d" = 1;
INSERT INTO "a.b; DROP TABLE x; --" VALUES('k"1', 'v');
DELETE FROM "we""ird tåble";
SQL
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.op, .table, .key, .before, .after]' "$T/out"
	[ "${lines[0]}" = '["insert","main.\"we\"\"ird tåble\"",{"i d":1},null,{"i d":1,"co'"'"'l":"it'"'"'s","ünï \"q\"":"ü","select":7}]' ]
	[ "${lines[1]}" = '["update","main.\"we\"\"ird tåble\"",{"i d":1},{"i d":1,"co'"'"'l":"it'"'"'s","ünï \"q\"":"ü","select":7},{"i d":1,"co'"'"'l":"x","ünï \"q\"":"ü","select":7}]' ]
	[ "${lines[2]}" = '["insert","main.\"a.b; DROP TABLE x; --\"",{"k":"k\"1"},null,{"k":"k\"1","v":"v"}]' ]
	[ "${lines[3]}" = '["delete","main.\"we\"\"ird tåble\"",{"i d":1},{"i d":1,"co'"'"'l":"x","ünï \"q\"":"ü","select":7},null]' ]
	[ "${#lines[@]}" -eq 4 ]
	# the schema event names the columns the same way
	run jq -c 'select(.op == "schema" and .table == "main.\"we\"\"ird tåble\"") | [.columns[].name]' "$T/out"
	[ "$output" = '["i d","co'"'"'l","ünï \"q\"","select"]' ]
}

@test "capture: a table without primary key is keyed by rowid, with a warning" {
	new_db "$S" "CREATE TABLE nk(a TEXT, b INT)"
	run dblog-capture --setup "sqlite:$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *warning*'"nk"'*"no primary key"*rowid* ]]
	sq "$S" "INSERT INTO nk VALUES('x', 1), ('y', 2); UPDATE nk SET b = 20 WHERE a = 'y'; DELETE FROM nk WHERE a = 'x'"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.op, .key, .before, .after]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["insert",{"rowid":1},null,{"rowid":1,"a":"x","b":1}]' \
		'["insert",{"rowid":2},null,{"rowid":2,"a":"y","b":2}]' \
		'["update",{"rowid":2},{"rowid":2,"a":"y","b":2},{"rowid":2,"a":"y","b":20}]' \
		'["delete",{"rowid":1},{"rowid":1,"a":"x","b":1},null]')" ]
	run jq -c 'select(.op == "schema") | .columns' "$T/out"
	[ "$output" = '[{"name":"a","type":"TEXT","key":false,"nullable":true},{"name":"b","type":"INT","key":false,"nullable":true},{"name":"rowid","type":"INTEGER","key":true,"nullable":false,"hidden":true}]' ]
}

@test "capture: changing the rowid of a table without primary key moves the row in the event" {
	new_src "$S" "CREATE TABLE nk(a TEXT)"
	sq "$S" "INSERT INTO nk VALUES('x'); UPDATE nk SET rowid = 10 WHERE rowid = 1"
	cap "$S" > "$T/out"
	# a replica applying these events must end with the row at rowid 10
	dblog-apply --create-tables "sqlite:$T/dst.db" < "$T/out"
	run sq "$T/dst.db" "SELECT rowid, a FROM nk"
	[ "$output" = "10|x" ]
}

@test "capture: BLOBs become \\\\x hex strings, other types as JSON" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB, r REAL, i INT, s TEXT, n)"
	sq "$S" "INSERT INTO t VALUES(1, x'00ff10ab', 1.5, 0, 'a\"b', NULL);
		INSERT INTO t VALUES(2, x'', -2.25, 0, '', x'41');
		INSERT INTO t VALUES(3, '\\x41 text', 1e300, 0, '{\"j\":1}', 'ü');
		INSERT INTO t VALUES(4, NULL, NULL, 9223372036854775807, NULL, -9223372036854775808)"
	cap "$S" > "$T/out"
	run jq -c 'select(.op == "insert") | .after' "$T/out"
	[ "${lines[0]}" = '{"id":1,"b":"\\x00ff10ab","r":1.5,"i":0,"s":"a\"b","n":null}' ]
	[ "${lines[1]}" = '{"id":2,"b":"\\x","r":-2.25,"i":0,"s":"","n":"\\x41"}' ]
	# text stays text (JSON-looking text too)
	[ "${lines[2]}" = '{"id":3,"b":"\\x41 text","r":1e+300,"i":0,"s":"{\"j\":1}","n":"ü"}' ]
	# the raw line spells blobs with an escaped backslash; 64-bit integers
	# are exact (jq 1.6 would round them: grep the raw line)
	grep -q '"b":"\\\\x00ff10ab"' "$T/out"
	grep -q '"after":{"id":4,"b":null,"r":null,"i":9223372036854775807,"s":null,"n":-9223372036854775808}' "$T/out"
}

@test "capture: TEXT that is not UTF-8 is {\"text_hex\":...}: every line is JSON every command reads; filter and flashback keep it" {
	new_src "$S" "CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT, \"b\" BLOB)"
	# Latin-1 \xe9, a quote, a line break, a backslash, a NUL, a lone \xff
	sq "$S" "INSERT INTO t VALUES(CAST(X'636166e9' AS TEXT), CAST(X'22e90a5c00ff' AS TEXT), X'e9');
		 INSERT INTO t VALUES('ok', 'café', NULL);
		 UPDATE t SET v = CAST(X'e8' AS TEXT) WHERE k = 'ok';
		 DELETE FROM t WHERE k = CAST(X'636166e9' AS TEXT)"
	cap "$S" > "$T/out"
	is_utf8 "$T/out"
	run dblog-filter < "$T/out"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/out")" ]
	run changes_of "$T/out"
	[ "$(echo "${lines[0]}" | jq -c '[.key, .after]')" = '[{"k":{"text_hex":"636166e9"}},{"k":{"text_hex":"636166e9"},"v":{"text_hex":"22e90a5c00ff"},"b":"\\xe9"}]' ]
	[ "$(echo "${lines[1]}" | jq -c .after)" = '{"k":"ok","v":"café","b":null}' ]
	[ "$(echo "${lines[2]}" | jq -c .after.v)" = '{"text_hex":"e8"}' ]
	[ "$(echo "${lines[3]}" | jq -c '[.key, .before.v]')" = '[{"k":{"text_hex":"636166e9"}},{"text_hex":"22e90a5c00ff"}]' ]
	# a snapshot writes them the same way
	dblog-capture -m snapshot "sqlite:$S" > "$T/snap"
	is_utf8 "$T/snap"
	[ "$(jq -c 'select(.op == "snapshot") | .after.v' "$T/snap")" = '{"text_hex":"e8"}' ]
	# flashback undoes them with the same values
	run dblog-flashback --since 0 < "$T/out"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -c 'select(.op == "insert") | .after')" = '{"k":{"text_hex":"636166e9"},"v":{"text_hex":"22e90a5c00ff"},"b":"\\xe9"}' ]
	# incremental reads by a text cursor that is not UTF-8, and goes on after it
	sq "$S" "INSERT INTO t VALUES(CAST(X'e9' AS TEXT), 'x', NULL); INSERT INTO t VALUES(CAST(X'f0' AS TEXT), 'y', NULL)"
	dblog-capture -m incremental --cursor k --until-caught-up "sqlite:$S" > "$T/inc"
	is_utf8 "$T/inc"
	[ "$(jq -c 'select(.op == "snapshot") | .cursor."main.t"' "$T/inc" | tr '\n' ' ')" = '"ok" {"text_hex":"e9"} {"text_hex":"f0"} ' ]
	dblog-apply --create-tables -c "$T/cp" "sqlite:$T/inc.db" < "$T/inc"
	[ "$(jq -c '.cursor."main.t"' "$T/cp")" = '{"text_hex":"f0"}' ]
	sq "$S" "INSERT INTO t VALUES(CAST(X'f5' AS TEXT), 'z', NULL)"
	[ "$(dblog-capture -m incremental --cursor k --until-caught-up -c "$T/cp" "sqlite:$S" | jq -c 'select(.op == "snapshot") | .key.k')" = '{"text_hex":"f5"}' ]
	# table and column names that are not UTF-8: their high bytes as \xNN
	sq "$S" "$(printf 'CREATE TABLE "x\xe9"("k\xe8" TEXT PRIMARY KEY)')"
	dblog-capture --setup "sqlite:$S"
	sq "$S" "$(printf 'INSERT INTO "x\xe9" VALUES(%s)' "'a'")"
	cap "$S" > "$T/names"
	is_utf8 "$T/names"
	[ "$(jq -c 'select(.op == "insert" and .table != "main.t") | [.table, .after]' "$T/names")" = '["main.x\\xe9",{"k\\xe8":"a"}]' ]
}

@test "capture: REAL values keep their exact value (17 significant digits)" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, r REAL)"
	sq "$S" "INSERT INTO t VALUES(1, 0.1 + 0.2), (2, 3.141592653589793), (3, 1.0/3)"
	cap "$S" > "$T/out"
	dblog-apply --create-tables "sqlite:$T/dst.db" < "$T/out"
	# the replica has bit-identical doubles
	run sq "$T/dst.db" "ATTACH '$S' AS s; SELECT count(*) FROM main.t AS a JOIN s.t AS b USING(id) WHERE a.r = b.r"
	[ "$output" = 3 ]
}

@test "capture: every REAL is exact, also where SQLite's own printf() is not (cdc, snapshot, incremental)" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, r REAL, u INTEGER)"
	# doubles of every exponent bound as such (exact), then an update of each
	python3 - "$S" "$T/want" <<'PY'
import random, sqlite3, struct, sys
r = random.Random(7)
vals = [5.0333525269348804, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 0.1, -1.5,
        1.0, 2.0 ** 53 + 2, -(2.0 ** 62), 2.0 ** 63, 1e-11, 9.999999999999999e22]
while len(vals) < 3000:
    v = struct.unpack('<d', struct.pack('<Q', r.getrandbits(64)))[0]
    if v == v and abs(v) != float('inf'):
        vals.append(v)
db = sqlite3.connect(sys.argv[1])
db.executemany("INSERT INTO t VALUES (?, ?, 0)", list(enumerate(vals, 1)))
db.execute("UPDATE t SET r = -r, u = 1")
db.commit()
with open(sys.argv[2], "w") as f:
    for i, v in enumerate(vals, 1):
        f.write("%d %s %s\n" % (i, v.hex(), (-v).hex()))
PY
	cap "$S" > "$T/out"
	dblog-capture --mode snapshot "sqlite:$S" > "$T/snap"
	dblog-capture --mode incremental --cursor u --until-caught-up "sqlite:$S" > "$T/inc"
	python3 - "$T/want" "$T/out" "$T/snap" "$T/inc" <<'PY'
import json, sys
want = {}
for line in open(sys.argv[1]):
    i, a, b = line.split()
    want[int(i)] = (float.fromhex(a), float.fromhex(b))
bad = 0
for path, ops in ((sys.argv[2], ("insert", "update")), (sys.argv[3], ("snapshot",)), (sys.argv[4], ("snapshot",))):
    seen = 0
    for line in open(path):
        e = json.loads(line)
        if e["op"] not in ops:
            continue
        i = e["after"]["id"]
        got = e["after"]["r"]
        exp = want[i][0] if e["op"] == "insert" else want[i][1]
        if isinstance(got, int) or got != exp:
            bad += 1
            if bad < 5:
                print(path, i, got, "want", repr(exp))
        if e["op"] == "update" and e["before"]["r"] != want[i][0]:
            bad += 1
        seen += 1
    assert seen >= 3000, (path, seen)
sys.exit(1 if bad else 0)
PY
}

@test "capture: a table wider than 60 columns keeps every column, odd names too" {
	cols="id INTEGER PRIMARY KEY"
	for i in $(seq 1 64); do cols="$cols, c$i INT"; done
	new_src "$S" "CREATE TABLE w($cols, \"we\"\"ird\" TEXT, \"sp ace\" TEXT, \"ü\" TEXT)"
	sq "$S" "INSERT INTO w(id, c1, c64, \"we\"\"ird\", \"sp ace\", \"ü\") VALUES(1, 1, 64, 'q', 's', 'u')"
	cap "$S" > "$T/out"
	run jq -c 'select(.op == "insert") | .after | [length, .c1, .c64, .["we\"ird"], .["sp ace"], .["ü"]]' "$T/out"
	[ "$output" = '[68,1,64,"q","s","u"]' ]
}

@test "capture: REPLACE is an update with the before-image (delete + insert with recursive_triggers)" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, w TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a', 'keep'); REPLACE INTO t VALUES(1, 'b', NULL); REPLACE INTO t VALUES(2, 'new', NULL)"
	sq "$S" "PRAGMA recursive_triggers = ON; REPLACE INTO t VALUES(1, 'c', NULL)"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.op, .key, .before, .after]' "$T/out"
	[ "${lines[0]}" = '["insert",{"id":1},null,{"id":1,"v":"a","w":"keep"}]' ]
	[ "${lines[1]}" = '["update",{"id":1},{"id":1,"v":"a","w":"keep"},{"id":1,"v":"b","w":null}]' ]
	[ "${lines[2]}" = '["insert",{"id":2},null,{"id":2,"v":"new","w":null}]' ]
	[ "${lines[3]}" = '["delete",{"id":1},{"id":1,"v":"b","w":null},null]' ]
	[ "${lines[4]}" = '["insert",{"id":1},null,{"id":1,"v":"c","w":null}]' ]
	[ "${#lines[@]}" -eq 5 ]
	# the stash is empty again
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_stash")" = 0 ]
}

@test "capture: UPDATE OR REPLACE onto another row's key records that row's delete (recursive_triggers off and on)" {
	for rt in OFF ON; do
		rm -f "$S" "$T/dst.db"
		new_src "$S" "CREATE TABLE u(id INTEGER PRIMARY KEY, v TEXT)"
		sq "$S" "INSERT INTO u VALUES (1, 'a'), (2, 'b'), (3, 'c')"
		sq "$S" "PRAGMA recursive_triggers = $rt; UPDATE OR REPLACE u SET id = 2 WHERE id = 1;
			UPDATE OR IGNORE u SET id = 3 WHERE id = 2; UPDATE u SET id = 7 WHERE id = 3;
			UPDATE OR REPLACE u SET id = 9 WHERE id IN (2, 7)"
		[ "$(sq "$S" "SELECT id, v FROM u")" = "9|c" ]
		cap "$S" > "$T/out"
		run jq -c 'select(.key) | [.op, .key.id, .after.id]' "$T/out"
		[ "${lines[3]}" = '["delete",2,null]' ] || { echo "$rt: $output"; return 1; }
		[ "${lines[4]}" = '["update",1,2]' ]
		[ "$(jq -c 'select(.op == "delete")' "$T/out" | wc -l)" -eq 2 ]
		dblog-apply --create-tables "sqlite:$T/dst.db" < "$T/out"
		[ "$(sq "$T/dst.db" "SELECT id, v FROM u")" = "9|c" ]
	done
}

@test "capture: REPLACE that displaces a row through a UNIQUE column records its delete" {
	new_src "$S" "CREATE TABLE u(id INTEGER PRIMARY KEY, email TEXT UNIQUE, v INT)"
	sq "$S" "INSERT INTO u VALUES(1, 'a@x', 1); REPLACE INTO u VALUES(2, 'a@x', 2)"
	[ "$(sq "$S" "SELECT id FROM u")" = 2 ]
	cap "$S" > "$T/out"
	# row 1 is gone from the source: the events must say so
	dblog-apply --create-tables "sqlite:$T/dst.db" < "$T/out"
	run sq "$T/dst.db" "SELECT id, email FROM u ORDER BY id"
	[ "$output" = "2|a@x" ]
}

@test "capture: REPLACE in a table without primary key (rows keyed by rowid): an update, a row displaced through UNIQUE a delete; dest_wins converges" {
	new_src "$S" "CREATE TABLE k(a TEXT, b INT); CREATE TABLE ku(a TEXT UNIQUE, b INT)"
	sq "$S" "INSERT INTO k VALUES('x', 1), ('y', 2); INSERT INTO ku VALUES('x', 1), ('y', 2)"
	sq "$S" "INSERT OR REPLACE INTO k(rowid, a, b) VALUES(1, 'z', 9); INSERT INTO k VALUES('w', 3);
		INSERT OR REPLACE INTO ku(a, b) VALUES('y', 7); REPLACE INTO k(rowid, a, b) VALUES(10, 'n', 1)"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.table, .op, .key.rowid, .before.a, .after.a]' "$T/out"
	[ "${lines[4]}" = '["main.k","update",1,"x","z"]' ] || { echo "$output"; return 1; }
	[ "${lines[5]}" = '["main.k","insert",3,null,"w"]' ]
	[ "${lines[6]}" = '["main.ku","delete",2,"y",null]' ]
	[ "${lines[7]}" = '["main.ku","insert",3,null,"y"]' ]
	[ "${lines[8]}" = '["main.k","insert",10,null,"n"]' ]
	[ "${#lines[@]}" -eq 9 ]
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_stash")" = 0 ]
	# a destination that takes the changes as they come equals the source,
	# under a policy that keeps the destination's row on a conflict too
	for p in source_wins dest_wins; do
		rm -f "$T/d.db"
		dblog-apply --conflict "$p" --create-tables "sqlite:$T/d.db" < "$T/out"
		for t in k ku; do
			[ "$(sq "$T/d.db" "SELECT rowid, a, b FROM $t ORDER BY rowid")" = "$(sq "$S" "SELECT rowid, a, b FROM $t ORDER BY rowid")" ] ||
				{ echo "$p $t"; return 1; }
		done
	done
}

@test "capture: upserts are updates with before and after; ignored inserts are not logged" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a', 0);
		INSERT INTO t VALUES(1, 'b', 0) ON CONFLICT(id) DO UPDATE SET v = excluded.v, n = n + 1;
		INSERT INTO t VALUES(2, 'c', 0) ON CONFLICT(id) DO UPDATE SET v = excluded.v;
		INSERT OR IGNORE INTO t VALUES(1, 'ignored', 9);
		INSERT INTO t VALUES(1, 'd', 0) ON CONFLICT(id) DO NOTHING"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.op, .key, .before, .after]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["insert",{"id":1},null,{"id":1,"v":"a","n":0}]' \
		'["update",{"id":1},{"id":1,"v":"a","n":0},{"id":1,"v":"b","n":1}]' \
		'["insert",{"id":2},null,{"id":2,"v":"c","n":0}]')" ]
}

@test "capture: key changes carry the old key and the new row" {
	new_src "$S" "CREATE TABLE t(a INT, b TEXT, v TEXT, PRIMARY KEY(a, b)) WITHOUT ROWID"
	sq "$S" "INSERT INTO t VALUES(1, 'x', 'v'); UPDATE t SET a = 2, b = 'y' WHERE a = 1"
	cap "$S" > "$T/out"
	run jq -c 'select(.op == "update") | [.key, .before, .after]' "$T/out"
	[ "$output" = '[{"a":1,"b":"x"},{"a":1,"b":"x","v":"v"},{"a":2,"b":"y","v":"v"}]' ]
}

@test "capture: --setup leaves virtual tables and views alone" {
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY); CREATE VIRTUAL TABLE f USING fts5(body); CREATE VIEW vw AS SELECT * FROM t"
	run dblog-capture --setup "sqlite:$S"
	[ "$status" -eq 0 ]
	[ "$(sq "$S" "SELECT group_concat(DISTINCT tbl_name) FROM sqlite_master WHERE type = 'trigger'")" = "_dblog_tx,t" ]
	sq "$S" "INSERT INTO f VALUES('hello'); INSERT INTO t VALUES(1)"
	[ "$(cap "$S" | jq -c 'select(.key) | .table')" = '"main.t"' ]
	[ "$(dblog-capture -m snapshot "sqlite:$S" | jq -r 'select(.op == "snapshot") | .table' | sort -u)" = main.t ]
}

@test "capture: rows logged before a table was renamed still replicate (schema events are never empty)" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a'); ALTER TABLE t RENAME TO t2; INSERT INTO t2 VALUES(2, 'b')"
	dblog-capture --setup "sqlite:$S"
	sq "$S" "INSERT INTO t2 VALUES(3, 'c')"
	# the renamed table's triggers are the new ones only: row 3 logged once
	[ "$(sq "$S" "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 't2' ORDER BY name)")" = "_dblog_t2_bins,_dblog_t2_bupd,_dblog_t2_del,_dblog_t2_ins,_dblog_t2_upd" ]
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_changes WHERE key = '{\"id\":3}'")" = 1 ]
	cap "$S" > "$T/out"
	[ -z "$(jq -c 'select(.op == "schema" and (.columns | length) == 0) | .table' "$T/out")" ]
	run dblog-apply --create-tables "sqlite:$T/dst.db" < "$T/out"
	[ "$status" -eq 0 ]
	[ "$(sq "$T/dst.db" "SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM t2)")" = 3 ]
}

# ------------------------------------------------------ schema events

@test "capture: schema events come before a table's first change, with its pos" {
	new_src "$S" "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT NOT NULL, d DECIMAL(10,2)); CREATE TABLE b(x TEXT PRIMARY KEY)"
	sq "$S" "INSERT INTO a VALUES(1, 'v', 1); INSERT INTO b VALUES('k'); INSERT INTO a VALUES(2, 'w', 2)"
	cap "$S" > "$T/out"
	run jq -c '[.op, .table, .pos]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["begin",null,3]' '["schema","main.a",1]' '["insert","main.a",1]' \
		'["schema","main.b",2]' '["insert","main.b",2]' '["insert","main.a",3]' '["commit",null,3]')" ]
	run jq -c 'select(.op == "schema" and .table == "main.a") | .columns' "$T/out"
	[ "$output" = '[{"name":"id","type":"INTEGER","key":true,"nullable":false},{"name":"v","type":"TEXT","key":false,"nullable":false},{"name":"d","type":"DECIMAL(10,2)","key":false,"nullable":true}]' ]
	run jq -c 'select(.op == "schema") | .source' "$T/out"
	[ "${lines[0]}" = '{"driver":"sqlite","name":"src"}' ]
}

@test "capture: after ALTER TABLE ADD COLUMN through --setup --migrate, --follow sends the new shape again" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	dblog-capture --poll-interval 20ms -u "sqlite:$S" > "$T/out" 2> "$T/err" &
	pid=$!
	wait_for 10 grep -q '"op":"commit"' "$T/out"
	dblog-capture --setup --migrate "ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'd'" "sqlite:$S"
	sq "$S" "INSERT INTO t VALUES(2, 'b', 'e'); UPDATE t SET v = 'c' WHERE id = 1"
	wait_for 10 grep -q '"id":2' "$T/out"
	wait_for 10 grep -q '"v":"c"' "$T/out"
	kill -TERM "$pid"
	wait_pid 10 "$pid"
	run jq -c 'select(.op == "schema" or .key) | [.op, .pos, ([.columns[]?.name] | join(",")), .after]' "$T/out"
	[ "${lines[0]}" = '["schema",1,"id,v",null]' ]
	[ "${lines[1]}" = '["insert",1,"",{"id":1,"v":"a"}]' ]
	[ "${lines[2]}" = '["schema",2,"id,v,extra",null]' ]
	[ "${lines[3]}" = '["insert",2,"",{"id":2,"v":"b","extra":"e"}]' ]
	[ "${lines[4]}" = '["update",3,"",{"id":1,"v":"c","extra":"d"}]' ]
	[ "${#lines[@]}" -eq 5 ]
}

# -------------------------------------------- tables that change shape

@test "capture: a column added or renamed after --setup stops capture (status 1) naming the table and the fix" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE u(id INTEGER PRIMARY KEY)"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	sq "$S" "ALTER TABLE t ADD COLUMN extra TEXT; INSERT INTO t VALUES(2, 'b', 'lost')"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'table "t" has the columns ["id","v","extra"], but its capture triggers were made by dblog-capture --setup for ["id","v"]'* ]]
	[[ "$output" == *"dblog-capture --setup --tables 't'"*"--migrate"* ]]
	[ -z "$(echo "$output" | grep '"op"')" ]
	# --setup again: capture goes on, the new column carried from then on
	dblog-capture --setup "sqlite:$S"
	sq "$S" "INSERT INTO t VALUES(3, 'c', 'kept')"
	cap "$S" > "$T/out"
	[ "$(jq -c 'select(.key.id == 3) | .after' "$T/out")" = '{"id":3,"v":"c","extra":"kept"}' ]
	# a renamed column: the triggers SQLite rewrote still write the old name
	sq "$S" "ALTER TABLE t RENAME COLUMN v TO w"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'table "t" has the columns ["id","w","extra"]'*'for ["id","v","extra"]'* ]]
}

@test "capture: a UNIQUE index added after --setup stops capture; added through --migrate, a REPLACE through it logs the delete" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a@x'); CREATE UNIQUE INDEX t_email ON t(email)"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'table "t" has other UNIQUE indexes than its capture triggers were made for'*"--setup --tables 't'"* ]]
	sq "$S" "DROP INDEX t_email"
	run cap "$S"
	[ "$status" -eq 0 ]
	dblog-capture --setup --tables t --migrate "CREATE UNIQUE INDEX t_email ON t(email)" "sqlite:$S"
	sq "$S" "INSERT OR REPLACE INTO t VALUES(2, 'a@x')"
	cap "$S" > "$T/out"
	run jq -c 'select(.key) | [.op, .key.id]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["insert",1]' '["delete",1]' '["insert",2]')" ]
}

@test "capture: a table renamed or made again after --setup stops capture; a dropped one does not" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE TABLE gone(id INTEGER PRIMARY KEY)"
	sq "$S" "DROP TABLE gone; ALTER TABLE t RENAME TO t2"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'table "t" was renamed to "t2" after dblog-capture --setup'*'--migrate'* ]]
	dblog-capture --setup "sqlite:$S"
	run cap "$S"
	[ "$status" -eq 0 ]
	# SQLite's way to change a table otherwise: make it again under its name
	sq "$S" "CREATE TABLE n(id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO n SELECT * FROM t2; DROP TABLE t2; ALTER TABLE n RENAME TO t2"
	run cap "$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'table "t2" has no capture triggers since it was made again'*"--setup --tables 't2'"* ]]
}

@test "capture: a database that is also a dblog-apply destination: setup, capture and teardown leave the apply's tables alone" {
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	printf '%s\n' '{"op":"insert","table":"main.u","pos":1,"seq":0,"key":{"id":1},"after":{"id":1}}' |
		dblog-apply --create-tables "sqlite:$S"
	before=$(sq "$S" "SELECT * FROM _dblog_tables")
	[ -n "$before" ]
	dblog-capture --setup --tables t "sqlite:$S"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	run cap "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"v":"a"'* ]]
	dblog-capture --teardown --tables t "sqlite:$S"
	dblog-capture --teardown "sqlite:$S"
	[ "$(sq "$S" "SELECT * FROM _dblog_tables")" = "$before" ]
}

@test "capture: --follow stops with status 1 when a column is added while it runs" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	dblog-capture --poll-interval 20ms "sqlite:$S" > "$T/out" 2> "$T/err" &
	pid=$!
	wait_for 10 grep -q '"op":"commit"' "$T/out"
	sq "$S" "ALTER TABLE t ADD COLUMN extra TEXT"
	st=0
	wait_pid 10 "$pid" || st=$?
	[ "$st" -eq 1 ]
	grep -q 'table "t" has the columns \["id","v","extra"\]' "$T/err"
}

@test "capture: the triggers of an older --setup (no _dblog_captured) are read with a warning to run it again" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "DROP TABLE _dblog_captured; INSERT INTO t VALUES(1, 'a')"
	run cap "$S"
	[ "$status" -eq 0 ]
	[[ "$output" == *'older dblog-capture --setup: run it again'* ]]
	[[ "$output" == *'"id":1'* ]]
	dblog-capture --setup "sqlite:$S"
	[ "$(sq "$S" "SELECT columns FROM _dblog_captured")" = '["id","v"]' ]
}

@test "capture: DROP COLUMN fails in dblog's triggers; dblog-capture(1)'s migration adds, drops and renames columns under load, nothing lost" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, old TEXT)"
	# what the application's own migration meets without --migrate
	run sq "$S" "ALTER TABLE t DROP COLUMN old"
	[ "$status" -ne 0 ]
	[[ "$output" == *'_dblog_t_'*'no such column'* ]]
	# the sequence of dblog-capture(1), MIGRATIONS, while a writer and --follow run
	dblog-capture --poll-interval 20ms "sqlite:$S" > "$T/out" 2> "$T/err" &
	cpid=$!
	( for i in $(seq 100 400); do sq "$S" "INSERT INTO t(id) VALUES($i)" || exit 1; done ) &
	wpid=$!
	sq "$S" "INSERT INTO t VALUES(1, 'a', 'o')"
	dblog-capture --setup --tables t --migrate "ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'd'" "sqlite:$S"
	sq "$S" "INSERT INTO t(id, v, extra) VALUES(2, 'b', 'x')"
	dblog-capture --setup --tables t --migrate "ALTER TABLE t DROP COLUMN old" "sqlite:$S"
	sq "$S" "INSERT INTO t(id, v, extra) VALUES(3, 'c', 'y')"
	dblog-capture --setup --tables t --migrate "ALTER TABLE t RENAME COLUMN v TO w" "sqlite:$S"
	sq "$S" "INSERT INTO t(id, w, extra) VALUES(4, 'd', 'z')"
	wait "$wpid"
	sq "$S" "INSERT INTO t(id) VALUES(5)"
	wait_for 10 grep -q '"key":{"id":5}' "$T/out"
	kill -0 "$cpid"
	kill -TERM "$cpid"
	wait_pid 10 "$cpid"
	[ ! -s "$T/err" ]
	# every row once, each with the columns it was written with
	[ "$(jq -s '[.[] | select(.op == "insert")] | length' "$T/out")" = "$(sq "$S" "SELECT count(*) FROM t")" ]
	run jq -c 'select(.op == "insert" and .key.id < 100) | .after' "$T/out"
	[ "$output" = "$(printf '%s\n' '{"id":1,"v":"a","old":"o"}' '{"id":2,"v":"b","old":null,"extra":"x"}' \
		'{"id":3,"v":"c","extra":"y"}' '{"id":4,"w":"d","extra":"z"}' '{"id":5,"w":null,"extra":"d"}')" ]
	[ "$(jq -r 'select(.op == "insert" and .key.id == 400) | .after | keys | join(",")' "$T/out")" = extra,id,w ]
	# a migration that fails changes nothing, triggers included
	run dblog-capture --setup --tables t --migrate "ALTER TABLE t DROP COLUMN nosuch" "sqlite:$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *'the migration failed (nothing changed)'*'nosuch'* ]]
	[ "$(sq "$S" "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 't'")" = 5 ]
	run dblog-capture --migrate "SELECT 1" "sqlite:$S"
	[ "$status" -eq 2 ]
}

# ----------------------------------------------------------- grouping

@test "capture: without markers one read is one inexact group; each change has its own pos and seq 0" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	sq "$S" "BEGIN; INSERT INTO t VALUES(2, 'b'); UPDATE t SET v = 'c' WHERE id = 1; COMMIT"
	sq "$S" "DELETE FROM t WHERE id = 2"
	cap "$S" > "$T/out"
	run jq -c 'select(.op != "schema") | [.op, .pos, .seq, .tx, .grouping, .count]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["begin",4,null,null,"inexact",null]' \
		'["insert",1,0,null,null,null]' '["insert",2,0,null,null,null]' '["update",3,0,null,null,null]' \
		'["delete",4,0,null,null,null]' '["commit",4,null,null,"inexact",4]')" ]
	# pos is the changelog row; commit_time the row's own time
	for p in 1 2 3 4; do
		t=$(sq "$S" "SELECT time FROM _dblog_changes WHERE seq = $p")
		ct=$(jq -r "select(.op != \"schema\" and .seq == 0 and .pos == $p) | .commit_time" "$T/out")
		[ "${ct%000Z}Z" = "$t" ] || { echo "pos $p: $ct vs $t"; return 1; }
	done
	# ids: deterministic, distinct, a v5 UUID
	run jq -r 'select(.id) | .id' "$T/out"
	[ "$(printf '%s\n' "${lines[@]}" | sort -u | wc -l)" -eq 4 ]
	[[ "${lines[0]}" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
}

@test "capture: with the marker table, transactions are exact: tx, pos = last row, seq 0..n-1" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; INSERT INTO t VALUES(1, 'a'); INSERT INTO t VALUES(2, 'b'); UPDATE t SET v = 'c' WHERE id = 1; COMMIT"
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; COMMIT"
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; DELETE FROM t WHERE id = 2; COMMIT"
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_tx")" = 0 ]
	cap "$S" > "$T/out"
	run jq -c 'select(.op != "schema") | [.op, .tx, .pos, .seq, .count, .grouping]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["begin",1,4,null,null,null]' '["insert",1,4,0,null,null]' \
		'["insert",1,4,1,null,null]' '["update",1,4,2,null,null]' '["commit",1,4,null,3,null]' \
		'["begin",3,7,null,null,null]' '["delete",3,7,0,null,null]' '["commit",3,7,null,1,null]')" ]
	# the marker rows are where the changelog says
	[ "$(sq "$S" "SELECT group_concat(seq || ':' || key) FROM _dblog_changes WHERE op = 'begin'")" = "1:1,5:2,6:3" ]
	# one commit time for the whole transaction: the time of its last row
	t=$(sq "$S" "SELECT time FROM _dblog_changes WHERE seq = 4")
	run jq -r 'select(.tx == 1) | .commit_time' "$T/out"
	for l in "${lines[@]}"; do [ "${l%000Z}Z" = "$t" ]; done
	[ "${#lines[@]}" -eq 5 ]
}

@test "capture: transactions larger than a read chunk stay whole, exact and inexact" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	# 5000 and 6000 rows: more than one chunk of the changelog each
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES;
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000) INSERT INTO t SELECT i, 'v' FROM c;
		COMMIT"
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; UPDATE t SET v = 'w' WHERE id <= 3; COMMIT"
	cap "$S" > "$T/out"
	run jq -c 'select(.op == "begin" or .op == "commit") | [.op, .tx, .pos, .count]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["begin",1,5001,null]' '["commit",1,5001,5000]' '["begin",2,5005,null]' '["commit",2,5005,3]')" ]
	[ "$(jq -c 'select(.op == "insert") | [.pos, .seq]' "$T/out" | sed -n '1p;4097p;5000p' | tr -d '\n')" = '[5001,0][5001,4096][5001,4999]' ]
	# unmarked: one statement, 6000 rows, read at once: one inexact group
	new_src "$T/u.db" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	sq "$T/u.db" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6000) INSERT INTO t SELECT i FROM c"
	cap "$T/u.db" > "$T/out"
	run jq -c 'select(.op == "begin" or .op == "commit") | [.op, .pos, .count, .grouping]' "$T/out"
	[ "$output" = "$(printf '%s\n' '["begin",6000,null,"inexact"]' '["commit",6000,6000,"inexact"]')" ]
	[ "$(count_changes "$T/out")" -eq 6000 ]
	[ -z "$(changes_of "$T/out" | jq -r '.pos' | uniq -d)" ]
}

# capture_three_ways DB MARK: run a workload three ways and compare.
# A: --follow with a short poll while a writer commits (many reads);
# B: one read with --until-caught-up after the writes; C: from checkpoints
# at several commit positions of B (with dblog-checkpoint set).
capture_three_ways() {
	local db="$1" mark="$2"
	wl init "$db"
	dblog-capture --setup "sqlite:$db" 2> /dev/null
	dblog-capture --poll-interval 10ms -u "sqlite:$db" > "$T/A" 2> /dev/null &
	local pid=$!
	wl run "$db" --seed 7 --tx 40 --max-ops 5 --mark "$mark" --sleep-ms 15
	local n
	n=$(sq "$db" "SELECT count(*) FROM _dblog_changes WHERE op != 'begin'")
	wait_for 20 has_changes "$T/A" "$n"
	kill -TERM "$pid"
	wait_pid 10 "$pid"
	cap "$db" > "$T/B" 2> /dev/null
	[ "$(count_changes "$T/B")" -eq "$n" ]
	identity_of "$T/A" > "$T/A.id"
	identity_of "$T/B" > "$T/B.id"
	diff -u "$T/B.id" "$T/A.id"
	# resuming at any commit: exactly the changes after it
	local p
	for p in $(jq -r 'select(.op == "commit") | .pos' "$T/A" | awk 'NR % 5 == 2'); do
		rm -f "$T/cp"
		dblog-checkpoint set "$T/cp" --pos "$p"
		cap "$db" -c "$T/cp" > "$T/C" 2> /dev/null
		identity_of "$T/C" > "$T/C.id"
		jq -c "select(.[2] > $p)" "$T/B.id" > "$T/B.after"
		diff -u "$T/B.after" "$T/C.id" || { echo "from pos $p"; return 1; }
	done
}

@test "capture: positions do not depend on read batching (exact grouping)" {
	capture_three_ways "$S" all
	# the reads of A cut between transactions: its begin/commit frames are
	# those of B, too
	jq -c 'select(.op == "begin" or .op == "commit") | [.op, .tx, .pos, .count]' "$T/A" > "$T/A.tx"
	jq -c 'select(.op == "begin" or .op == "commit") | [.op, .tx, .pos, .count]' "$T/B" > "$T/B.tx"
	diff -u "$T/B.tx" "$T/A.tx"
}

@test "capture: positions do not depend on read batching (inexact grouping)" {
	capture_three_ways "$S" none
	# A was read in several groups, B in one
	[ "$(grep -c '"op":"begin"' "$T/A")" -gt 3 ]
	[ "$(grep -c '"op":"begin"' "$T/B")" -eq 1 ]
	# the changes keep their own row times, however they were grouped
	diff <(changes_of "$T/A" | jq -c '[.pos, .commit_time]') <(changes_of "$T/B" | jq -c '[.pos, .commit_time]')
}

@test "capture: a marked transaction keeps its position when an unmarked one follows" {
	skip "documented limitation of mixed marked/unmarked writers (dblog-capture(1), Grouping): a replica fed from a lagging checkpoint applies the marked transaction twice"
	new_src "$S" "CREATE TABLE c(id INTEGER PRIMARY KEY, n INT)"
	sq "$S" "INSERT INTO c VALUES(1, 0); BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; UPDATE c SET n = n + 1; COMMIT"
	cap "$S" > "$T/first"
	new_db "$T/dst.db" "CREATE TABLE c(id INTEGER PRIMARY KEY, n INT); CREATE TABLE hits(n INT); INSERT INTO hits VALUES(0);
		CREATE TRIGGER h AFTER UPDATE ON c BEGIN UPDATE hits SET n = n + 1; END"
	dblog-apply "sqlite:$T/dst.db" < "$T/first"
	# an unmarked transaction commits; a capture that starts before the
	# marked one (a checkpoint behind the destination: apply was killed
	# between its commit and the checkpoint write) reads both at once
	sq "$S" "UPDATE c SET n = n + 1"
	cap "$S" > "$T/again"
	# the update of the marked transaction has the same identity both times
	[ "$(identity_of "$T/first" | grep update)" = "$(identity_of "$T/again" | grep update | head -n 1)" ]
	# so the replica does not apply it twice
	dblog-apply "sqlite:$T/dst.db" < "$T/again"
	[ "$(sq "$T/dst.db" "SELECT n FROM hits")" = 2 ]
}

# ------------------------------------------------------ checkpoints

@test "capture: --checkpoint resumes after its position: nothing missing, nothing repeated" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	for i in 1 2 3 4; do
		sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; INSERT INTO t VALUES($i, 'a'); INSERT INTO t VALUES($i + 10, 'b'); UPDATE t SET v = 'c' WHERE id = $i; COMMIT"
	done
	cap "$S" > "$T/all"
	[ "$(count_changes "$T/all")" -eq 12 ]
	# a missing checkpoint file: from the start
	cap "$S" -c "$T/none.json" > "$T/out"
	cmp "$T/all" "$T/out" || diff <(identity_of "$T/all") <(identity_of "$T/out")
	# what a downstream dblog-checkpoint track records: the last commit
	head -n 11 "$T/all" | dblog-checkpoint track "$T/cp" > /dev/null
	[ "$(jq .pos "$T/cp")" = 8 ]
	cap "$S" -c "$T/cp" > "$T/rest"
	cat <(head -n 11 "$T/all") "$T/rest" > "$T/joined"
	diff <(identity_of "$T/all") <(identity_of "$T/joined")
	# inside a transaction (pos, seq): the rest of it, in its frame, then on
	rm -f "$T/cp2"
	dblog-checkpoint set "$T/cp2" --pos 12 --seq 0
	cap "$S" -c "$T/cp2" > "$T/inside"
	run jq -c 'select(.op != "schema") | [.op, .pos, .seq]' "$T/inside"
	[ "${lines[0]}" = '["begin",12,null]' ]
	[ "${lines[1]}" = '["insert",12,1]' ]
	[ "${lines[2]}" = '["update",12,2]' ]
	[ "${lines[3]}" = '["commit",12,null]' ]
	[ "${lines[4]}" = '["begin",16,null]' ]
	[ "${#lines[@]}" -eq 9 ]
	# resuming at the head: nothing
	dblog-checkpoint set "$T/cp3" --pos "$(head_of "$S")"
	cap "$S" -c "$T/cp3" > "$T/nothing"
	[ ! -s "$T/nothing" ]
	# an invalid checkpoint is an error, not "from the start"
	: > "$T/empty.json"
	run cap "$S" -c "$T/empty.json"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"empty.json"* ]]
	[ "${#lines[@]}" -eq 1 ]
}

@test "capture: a checkpoint with a PostgreSQL LSN is refused" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	sq "$S" "INSERT INTO t VALUES(1)"
	dblog-checkpoint set "$T/cp" --pos 0/16B3748
	run cap "$S" -c "$T/cp"
	[ "$status" -eq 1 ]
	[[ "$output" == *LSN* ]]
}

@test "capture: --prune deletes only the changelog rows the checkpoint covers" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	for i in 1 2 3; do
		sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; INSERT INTO t VALUES($i, 'a'); UPDATE t SET v = 'b' WHERE id = $i; COMMIT"
	done
	# rows 1-3, 4-6, 7-9; the checkpoint covers the first transaction
	dblog-checkpoint set "$T/cp" --pos 3
	cap "$S" -c "$T/cp" --prune > "$T/out"
	run sq "$S" "SELECT min(seq), max(seq), count(*) FROM _dblog_changes"
	[ "$output" = "4|9|6" ]
	# the output is not affected
	[ "$(count_changes "$T/out")" -eq 4 ]
	# inside a transaction: the transaction is kept whole
	dblog-checkpoint set "$T/cp" --pos 9 --seq 0
	cap "$S" -c "$T/cp" --prune > /dev/null
	run sq "$S" "SELECT min(seq), max(seq) FROM _dblog_changes"
	[ "$output" = "7|9" ]
	# the checkpoint file is only read
	[ "$(jq -c '[.pos, .seq]' "$T/cp")" = '[9,0]' ]
	# everything covered: all gone, and numbering goes on after it
	dblog-checkpoint set "$T/cp" --pos 9
	cap "$S" -c "$T/cp" --prune > /dev/null
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_changes")" = 0 ]
	sq "$S" "INSERT INTO t VALUES(9, 'x')"
	cap "$S" -c "$T/cp" > "$T/out"
	[ "$(jq -c 'select(.op == "insert") | [.pos, .key]' "$T/out")" = '[10,{"id":9}]' ]
	# --prune without --checkpoint: usage error
	run dblog-capture --prune --until-caught-up "sqlite:$S"
	[ "$status" -eq 2 ]
}

@test "capture: --prune in a resumed pipeline never loses a change" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, n INT)"
	sq "$S" "INSERT INTO t VALUES(1, 0)"
	for r in 1 2 3 4; do
		for i in 1 2 3; do sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; UPDATE t SET n = n + 1; INSERT INTO t VALUES(NULL, $r); COMMIT"; done
		prev=$(jq .pos "$T/cp" 2> /dev/null || echo 0)
		cap "$S" -c "$T/cp" --prune 2> /dev/null | dblog-apply --create-tables -c "$T/cp" "sqlite:$T/dst.db"
		# what the previous run applied is gone, what this one read is not
		[ "$(sq "$S" "SELECT min(seq) > $prev FROM _dblog_changes")" = 1 ]
		[ "$(sq "$S" "SELECT max(seq) FROM _dblog_changes")" = "$(jq .pos "$T/cp")" ]
	done
	same_db "$S" "$T/dst.db"
	# one more run prunes the rest
	cap "$S" -c "$T/cp" --prune > "$T/out"
	[ ! -s "$T/out" ]
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_changes")" = 0 ]
}

# ---------------------------------------------------------- snapshots

@test "capture: --mode snapshot: rows in key order, pos = changelog head, seq across tables, heartbeat last" {
	new_src "$S" "CREATE TABLE b(k TEXT PRIMARY KEY, v BLOB); CREATE TABLE a(x INT, y TEXT, PRIMARY KEY(y, x)); CREATE TABLE c(v TEXT)"
	sq "$S" "INSERT INTO b VALUES('zz', x'01'), ('aa', NULL), ('m', x'');
		INSERT INTO a VALUES(2, 'p'), (1, 'q'), (1, 'p'), (10, 'p');
		INSERT INTO c VALUES('r1'), ('r2'); DELETE FROM c WHERE v = 'r1'; INSERT INTO c VALUES('r3')"
	h=$(head_of "$S")
	[ "$h" -gt 0 ]
	dblog-capture -m snapshot "sqlite:$S" > "$T/out" 2> /dev/null
	run jq -c '[.op, .table, .pos, .seq, .key]' "$T/out"
	[ "$output" = "$(printf '%s\n' "[\"schema\",\"main.a\",$h,null,null]" \
		"[\"snapshot\",\"main.a\",$h,0,{\"x\":1,\"y\":\"p\"}]" "[\"snapshot\",\"main.a\",$h,1,{\"x\":2,\"y\":\"p\"}]" \
		"[\"snapshot\",\"main.a\",$h,2,{\"x\":10,\"y\":\"p\"}]" "[\"snapshot\",\"main.a\",$h,3,{\"x\":1,\"y\":\"q\"}]" \
		"[\"schema\",\"main.b\",$h,null,null]" \
		"[\"snapshot\",\"main.b\",$h,4,{\"k\":\"aa\"}]" "[\"snapshot\",\"main.b\",$h,5,{\"k\":\"m\"}]" \
		"[\"snapshot\",\"main.b\",$h,6,{\"k\":\"zz\"}]" \
		"[\"schema\",\"main.c\",$h,null,null]" \
		"[\"snapshot\",\"main.c\",$h,7,{\"rowid\":2}]" "[\"snapshot\",\"main.c\",$h,8,{\"rowid\":3}]" \
		"[\"heartbeat\",null,$h,null,null]")" ]
	run jq -c 'select(.op == "snapshot" and .table == "main.b") | .after' "$T/out"
	[ "$output" = "$(printf '%s\n' '{"k":"aa","v":null}' '{"k":"m","v":"\\x"}' '{"k":"zz","v":"\\x01"}')" ]
	# ids are distinct from each other and from the changes at pos h
	[ "$(jq -r 'select(.id) | .id' "$T/out" | sort -u | wc -l)" -eq 9 ]
	cap "$S" > "$T/cdc"
	[ -z "$(comm -12 <(jq -r 'select(.id) | .id' "$T/out" | sort) <(jq -r 'select(.id) | .id' "$T/cdc" | sort))" ]
	# --tables: only those, seq from 0
	dblog-capture -m snapshot --tables main.c "sqlite:$S" > "$T/c"
	[ "$(jq -c 'select(.op == "snapshot") | [.table, .seq]' "$T/c" | tr -d '\n')" = '["main.c",0]["main.c",1]' ]
	# the snapshot reads nothing else: the changelog is unchanged
	[ "$(head_of "$S")" = "$h" ]
}

@test "capture: --mode snapshot works without a changelog (pos 0)" {
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(2, 'b'), (1, 'a')"
	run dblog-capture -m snapshot "sqlite:$S"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.op != "schema") | [.op, .pos, .seq, .key]' <<< "$output" | tr -d '\n')" = \
		'["snapshot",0,0,{"id":1}]["snapshot",0,1,{"id":2}]["heartbeat",0,null,null]' ]
	# and does not create one
	[ "$(sq "$S" "SELECT count(*) FROM sqlite_master WHERE name LIKE '\_dblog%' ESCAPE '\\'")" = 0 ]
}

@test "capture: snapshot_then_cdc during concurrent writes: hand-off without gap or duplicate" {
	wl init "$S"
	dblog-capture --setup "sqlite:$S" 2> /dev/null
	wl seed "$S"
	wl run "$S" --seed 11 --tx 150 --max-ops 8
	# writers keep committing while the snapshot is taken
	wl run "$S" --seed 12 --tx 150 --max-ops 4 --sleep-ms 6 &
	w1=$!
	wl run "$S" --seed 13 --tx 150 --max-ops 4 --sleep-ms 6 --mark none &
	w2=$!
	sleep 0.2
	dblog-capture -m snapshot_then_cdc --poll-interval 10ms "sqlite:$S" > "$T/out" 2> /dev/null &
	pid=$!
	wait "$w1"
	wait "$w2"
	# caught up: the last commit is at the changelog head
	wait_for 20 caught_up "$T/out" "$S"
	kill -TERM "$pid"
	wait_pid 10 "$pid"
	h=$(jq -r 'select(.op == "heartbeat") | .pos' "$T/out")
	# the snapshot, its heartbeat, then changes after its pos only
	[ "$(jq -r 'select(.op == "snapshot") | .pos' "$T/out" | sort -u)" = "$h" ]
	[ "$(jq -c 'select(.op == "heartbeat" or .op == "snapshot")' "$T/out" | tail -n 1 | jq -r .op)" = heartbeat ]
	[ -z "$(changes_of "$T/out" | jq -c "select(.op != \"snapshot\" and .pos <= $h)")" ]
	last=$(jq -r 'select(.op == "commit") | .pos' "$T/out" | tail -n 1)
	# the writers were busy while it ran: there are changes after the snapshot
	[ -n "$last" ] && [ "$last" -gt "$h" ]
	# every changelog row in (h, last] exactly once
	n=$(sq "$S" "SELECT count(*) FROM _dblog_changes WHERE op != 'begin' AND seq > $h AND seq <= $last")
	[ "$(changes_of "$T/out" | jq -c 'select(.op != "snapshot")' | wc -l)" -eq "$n" ]
	[ "$(jq -r 'select(.id) | .id' "$T/out" | sort | uniq -d | wc -l)" -eq 0 ]
	# applied to an empty replica, then caught up: equal to the source
	dblog-apply --create-tables -c "$T/cp" "sqlite:$T/dst.db" < "$T/out"
	[ "$(jq .pos "$T/cp")" = "$last" ]
	cap "$S" -c "$T/cp" 2> /dev/null | dblog-apply -c "$T/cp" "sqlite:$T/dst.db"
	same_db "$S" "$T/dst.db"
}

@test "capture: snapshot_then_cdc needs --setup; with a checkpoint it resumes cdc" {
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES(1, 'a')"
	run dblog-capture -m snapshot_then_cdc --until-caught-up "sqlite:$S"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--setup"* ]]
	dblog-capture --setup "sqlite:$S"
	dblog-capture -m snapshot_then_cdc --until-caught-up "sqlite:$S" > "$T/out"
	dblog-apply --create-tables -c "$T/cp" "sqlite:$T/dst.db" < "$T/out"
	[ "$(jq -c '[.pos, .seq]' "$T/cp")" = '[0,null]' ]
	sq "$S" "INSERT INTO t VALUES(2, 'b')"
	dblog-capture -m snapshot_then_cdc --until-caught-up -c "$T/cp" "sqlite:$S" > "$T/out2"
	[ "$(jq -c 'select(.op != "schema") | [.op, .pos]' "$T/out2" | tr -d '\n')" = '["begin",1]["insert",1]["commit",1]' ]
}

@test "capture: snapshot_then_cdc resumed after an interrupted snapshot loses no row" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100) INSERT INTO t SELECT i, 'v' || i FROM c"
	dblog-capture -m snapshot_then_cdc --until-caught-up "sqlite:$S" > "$T/out"
	# the replica stopped half-way through the snapshot
	head -n 50 "$T/out" | dblog-apply --create-tables -c "$T/cp" "sqlite:$T/dst.db"
	[ "$(sq "$T/dst.db" "SELECT count(*) FROM t")" = 49 ]
	# a row of the first attempt deleted since: not left behind
	sq "$S" "DELETE FROM t WHERE id = 7"
	dblog-capture -m snapshot_then_cdc --until-caught-up -c "$T/cp" "sqlite:$S" |
		dblog-apply -c "$T/cp" "sqlite:$T/dst.db"
	[ "$(sq "$T/dst.db" "SELECT count(*) FROM t")" = 99 ]
	same_db "$S" "$T/dst.db"
}

# ------------------------------------------------------------- follow

@test "capture: --follow picks up new commits; SIGTERM ends it with status 0 after a whole transaction" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	sq "$S" "INSERT INTO t VALUES(1, 'a')"
	dblog-capture -f --poll-interval 20ms "sqlite:$S" > "$T/out" 2> "$T/err" &
	pid=$!
	wait_for 10 grep -q '"id":1' "$T/out"
	sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; INSERT INTO t VALUES(2, 'b'); INSERT INTO t VALUES(3, 'c'); COMMIT"
	wait_for 10 grep -q '"id":3' "$T/out"
	sq "$S" "UPDATE t SET v = 'z'"
	wait_for 10 grep -q '"v":"z"' "$T/out"
	kill -0 "$pid"
	kill -TERM "$pid"
	st=0
	wait_pid 10 "$pid" || st=$?
	[ "$st" -eq 0 ]
	[ ! -s "$T/err" ]
	[ "$(tail -n 1 "$T/out" | jq -r .op)" = commit ]
	[ "$(count_changes "$T/out")" -eq 6 ]
	# SIGINT too
	dblog-capture --poll-interval 20ms "sqlite:$S" > "$T/out2" &
	pid=$!
	wait_for 10 grep -q '"op":"commit"' "$T/out2"
	kill -INT "$pid"
	st=0
	wait_pid 10 "$pid" || st=$?
	[ "$st" -eq 0 ]
}

@test "capture: --until-caught-up stops at what was committed when it started" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	sq "$S" "INSERT INTO t VALUES(1); INSERT INTO t VALUES(2)"
	run cap "$S"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.op == "insert") | .pos' <<< "$output" | tr -d '\n')" = 12 ]
	# nothing new: no output, status 0, at once
	sq "$S" "DELETE FROM _dblog_changes"
	run cap "$S"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# a writer that keeps writing does not keep it going
	( while :; do sq "$S" "BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; INSERT INTO t VALUES(NULL); COMMIT"; sleep 0.01; done ) &
	w=$!
	# (at least 6 of its transactions before the capture starts, however
	# slow the machine)
	for i in $(seq 200); do
		[ "$(sq "$S" "SELECT count(*) FROM _dblog_changes WHERE op = 'insert'")" -gt 5 ] && break
		sleep 0.05
	done
	cap "$S" > "$T/out" 2> /dev/null &
	pid=$!
	st=0
	wait_pid 10 "$pid" || st=$?
	kill -0 "$w"
	kill "$w"
	wait "$w" || true
	[ "$st" -eq 0 ]
	[ "$(tail -n 1 "$T/out" | jq -r .op)" = commit ]
	[ "$(count_changes "$T/out")" -gt 5 ]
}

# ------------------------------------------------------------- errors

@test "capture: a missing database file is an error (status 1), and is not created" {
	run dblog-capture --until-caught-up "sqlite:$T/nosuch.db"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"$T/nosuch.db"* ]]
	[ ! -e "$T/nosuch.db" ]
	run dblog-capture -m snapshot "sqlite:$T/nosuch.db"
	[ "$status" -eq 1 ]
	[ ! -e "$T/nosuch.db" ]
}

@test "capture: a database without changelog: clear error, status 1" {
	new_db "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	run dblog-capture --until-caught-up "sqlite:$S"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: no changelog in \"$S\""*"--setup"* ]]
	run dblog-capture -f "sqlite:$S"
	[ "$status" -eq 1 ]
	# a file that is not a database
	echo "not a database" > "$T/junk.db"
	run dblog-capture --until-caught-up "sqlite:$T/junk.db"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "* ]]
}

@test "capture: usage errors exit 2 with a hint" {
	new_src "$S" "CREATE TABLE t(id INTEGER PRIMARY KEY)"
	for args in "" "$S" "postgresql:$S" "sqlite:" "--setup --teardown sqlite:$S" \
		"--follow --until-caught-up sqlite:$S" "--prune sqlite:$S" "-m nosuch sqlite:$S" \
		"-m incremental sqlite:$S" "--cursor id sqlite:$S" "-m snapshot -f sqlite:$S" "-m snapshot --until-caught-up sqlite:$S" \
		"--poll-interval soon sqlite:$S" "--poll-interval 0 sqlite:$S" "sqlite:$S extra"; do
		run dblog-capture $args
		[ "$status" -eq 2 ] || { echo "args '$args': status $status: $output"; return 1; }
		[[ "$output" == *"Try 'dblog-capture --help'."* ]] || { echo "args '$args': $output"; return 1; }
	done
	# nothing was written to the database
	[ "$(sq "$S" "SELECT count(*) FROM _dblog_changes")" = 0 ]
}
