#!/usr/bin/env bats
# dblog-capture on PostgreSQL (doc/SPEC-pg-capture.md, dblog-event(5)):
# --setup/--teardown, every operation and the type mapping, replica
# identities and unchanged TOAST, transactions and schema events, ending
# (--until-caught-up, --endpos, signals), acknowledgement through the
# checkpoint, resuming and kill -9, heartbeats, snapshots, connection
# errors, memory. One cluster for the whole file (tests/lib/pgcluster.sh);
# without the PostgreSQL server binaries every test fails, none is skipped.
load helpers
bats_require_minimum_version 1.5.0
load lib/pg

setup_file() {
	pg_file_start
}
teardown_file() {
	pg_file_stop
}

setup() {
	setup_tmp
	NONE="$T/no-checkpoint.json"   # -c with a missing file: read, confirm nothing
}
teardown() {
	local p
	for p in $(jobs -p); do kill -9 "$p" 2> /dev/null || true; done
	[ ! -d "$PGD/w" ] || pg_stop "$PGD/w"   # the wal_level test's cluster
	pg_clean
	teardown_tmp
}

# ------------------------------------------------------ setup, teardown

@test "pg setup: --setup creates the publication, then the slot; idempotent; --tables sets the list" {
	q "CREATE TABLE su_a(id int PRIMARY KEY); CREATE TABLE su_b(id int PRIMARY KEY)"
	run dblog-capture --setup --slot su --publication su "$DBLOG_PG"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run q "SELECT slot_name, plugin, slot_type, database FROM pg_replication_slots"
	[ "$output" = "su|pgoutput|logical|postgres" ]
	run q "SELECT pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication"
	[ "$output" = "su|t|t|t|t|t" ]
	# the publication first: its row is older than anything the slot decodes
	run q "SELECT p.xmin::text::bigint < s.catalog_xmin::text::bigint
	       FROM pg_publication p, pg_replication_slots s WHERE p.pubname = 'su' AND s.slot_name = 'su'"
	[ "$output" = t ]
	slot1=$(q "SELECT restart_lsn || ' ' || confirmed_flush_lsn || ' ' || catalog_xmin FROM pg_replication_slots")
	puboid=$(q "SELECT oid FROM pg_publication WHERE pubname = 'su'")
	# again: nothing recreated
	run dblog-capture --setup --slot su --publication su "$DBLOG_PG"
	[ "$status" -eq 0 ]
	dblog-capture --setup --slot su --publication su "$DBLOG_PG"
	[ "$(q "SELECT restart_lsn || ' ' || confirmed_flush_lsn || ' ' || catalog_xmin FROM pg_replication_slots")" = "$slot1" ]
	[ "$(q "SELECT oid FROM pg_publication WHERE pubname = 'su'")" = "$puboid" ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots")" = 1 ]
	# decodable at once: a change right after setup comes out
	q "INSERT INTO su_a VALUES (1)"
	run cap su --until-caught-up -c "$NONE"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.op == "insert") | [.table, .key]' <<< "$output")" = '["public.su_a",{"id":1}]' ]
	# a second publication with --tables; again with another list sets it
	dblog-capture --setup --slot su2 --publication su2 --tables su_a,public.su_b "$DBLOG_PG"
	run q "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'su2' ORDER BY 1"
	[ "$output" = "$(printf 'public.su_a\npublic.su_b')" ]
	dblog-capture --setup --slot su2 --publication su2 --tables su_b "$DBLOG_PG"
	run q "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = 'su2'"
	[ "$output" = "public.su_b" ]
	# a table that does not exist: status 1, named, nothing created
	run dblog-capture --setup --slot su3 --publication su3 --tables su_a,no_such_table "$DBLOG_PG"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"no_such_table"* ]]
	[ "$(q "SELECT count(*) FROM pg_publication WHERE pubname = 'su3'")" = 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'su3'")" = 0 ]
}

@test "pg setup: tables without a primary key or replica identity: refused, each named with its fix; --replica-identity-full sets FULL" {
	q "DROP DATABASE IF EXISTS ri WITH (FORCE)" && q "CREATE DATABASE ri"
	src="host=$PGHOST port=$PGPORT user=postgres dbname=ri"
	PGDATABASE=ri q "CREATE TABLE pk(id int PRIMARY KEY, v text);
	   CREATE TABLE bare(a int, b text);
	   CREATE TABLE nothing(id int PRIMARY KEY, v text); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
	   CREATE TABLE full_t(a int); ALTER TABLE full_t REPLICA IDENTITY FULL;
	   CREATE TABLE idx(a int NOT NULL); CREATE UNIQUE INDEX idx_a ON idx(a);
	   ALTER TABLE idx REPLICA IDENTITY USING INDEX idx_a;
	   CREATE SCHEMA \"s.x\"; CREATE TABLE \"s.x\".\"b a\"(a int);
	   CREATE TABLE parted(a int, b text) PARTITION BY RANGE (a);
	   CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
	   CREATE UNLOGGED TABLE scratch(a int);
	   INSERT INTO bare VALUES (1, 'x'); INSERT INTO nothing VALUES (1, 'x'); INSERT INTO parted VALUES (1, 'x')"
	fix() { printf 'ALTER TABLE %s REPLICA IDENTITY FULL; ' "$@"; }
	# --tables: the tables named and the partitions of a partitioned one
	run dblog-capture --setup --slot ri --publication ri --tables pk,bare,nothing,full_t,idx,parted "$src"
	[ "$status" -eq 1 ]
	[ "$output" = "dblog-capture: setup: 3 tables have no primary key or replica identity, so the application's UPDATE and DELETE would fail once published: public.bare, public.nothing, public.parted_1 (fix: $(fix public.bare public.nothing public.parted_1)or --setup --replica-identity-full does it)" ]
	# nothing created: the application's UPDATE and DELETE go on working
	[ "$(PGDATABASE=ri q "SELECT count(*) FROM pg_publication")" = 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots")" = 0 ]
	PGDATABASE=ri q "UPDATE bare SET b = 'y'; UPDATE nothing SET v = 'y'; UPDATE parted SET b = 'y'"
	# one table named: one table refused
	run dblog-capture --setup --slot ri --publication ri --tables '"s.x"."b a"' "$src"
	[ "$status" -eq 1 ]
	[ "$output" = "dblog-capture: setup: 1 table has no primary key or replica identity, so the application's UPDATE and DELETE would fail once published: \"s.x\".b a (fix: $(fix '"s.x"."b a"')or --setup --replica-identity-full does it)" ]
	# the whole database: every such table of every schema (unlogged ones are not published)
	run dblog-capture --setup --slot ri --publication ri "$src"
	[ "$status" -eq 1 ]
	[ "$output" = "dblog-capture: setup: 4 tables have no primary key or replica identity, so the application's UPDATE and DELETE would fail once published: public.bare, public.nothing, public.parted_1, \"s.x\".b a (fix: $(fix public.bare public.nothing public.parted_1 '"s.x"."b a"')or --setup --replica-identity-full does it)" ]
	[ "$(PGDATABASE=ri q "SELECT count(*) FROM pg_publication")" = 0 ]
	# tables with a usable identity: set up
	run dblog-capture --setup --slot ri2 --publication ri2 --tables pk,full_t,idx "$src"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# an identity index dropped: the table has no identity any more
	PGDATABASE=ri q "DROP INDEX idx_a"
	run dblog-capture --setup --slot ri2 --publication ri2 --tables pk,full_t,idx "$src"
	[ "$status" -eq 1 ]
	[[ "$output" == *"published: public.idx (fix: ALTER TABLE public.idx REPLICA IDENTITY FULL; or"* ]]
	[ "$(PGDATABASE=ri q "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'ri2'")" = 3 ]
	# --replica-identity-full: FULL on those tables, none other; the
	# application's UPDATE and DELETE work and are captured whole
	run dblog-capture --setup --replica-identity-full --slot ri --publication ri "$src"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run env PGDATABASE=ri psql -qXAt -c "SELECT c.relname || ':' || c.relreplident::text FROM pg_class c
		WHERE c.relkind IN ('r', 'p') AND c.relnamespace IN ('public'::regnamespace, '\"s.x\"'::regnamespace)
		ORDER BY 1"
	[ "$output" = "$(printf '%s\n' 'b a:f' bare:f full_t:f idx:f nothing:f parted:d parted_1:f pk:d scratch:d)" ]
	PGDATABASE=ri q "UPDATE bare SET b = 'z'; DELETE FROM nothing; UPDATE parted SET b = 'z'; DELETE FROM idx"
	run dblog-capture --slot ri --publication ri --until-caught-up "$src"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.seq) | [.op, .table, .before]' <<< "$output")" = '["update","public.bare",{"a":1,"b":"y"}]
["delete","public.nothing",{"id":1,"v":"y"}]
["update","public.parted_1",{"a":1,"b":"y"}]' ]
	# run again: nothing to do
	run dblog-capture --setup --slot ri --publication ri "$src"
	[ "$status" -eq 0 ]
	# a publication of inserts only allows them: UPDATE and DELETE are not published
	PGDATABASE=ri q "CREATE TABLE bare2(a int); CREATE PUBLICATION ins FOR TABLE bare2 WITH (publish = 'insert')"
	run dblog-capture --setup --slot ins --publication ins --tables bare2 "$src"
	[ "$status" -eq 0 ]
	# the option goes with --setup of a PostgreSQL source
	run dblog-capture --replica-identity-full "$src"
	[ "$status" -eq 2 ]
	[[ "$output" == "dblog-capture: --replica-identity-full goes with --setup"* ]]
	run dblog-capture --setup --replica-identity-full "sqlite:$T/x.db"
	[ "$status" -eq 2 ]
	pg_clean
	q "DROP DATABASE ri WITH (FORCE)"
}

@test "pg errors: a slot another capture streams from: status 1 after a few seconds, with the fix" {
	q "CREATE TABLE busy(id int PRIMARY KEY)"
	src_setup busy busy
	cap_bg busy -f
	eventually 10 '[ "$(q "SELECT active FROM pg_replication_slots WHERE slot_name = '"'busy'"'")" = t ]'
	SECONDS=0
	run dblog-capture --slot busy --publication busy --until-caught-up "$DBLOG_PG"
	[ "$status" -eq 1 ]
	[ "$SECONDS" -ge 4 ]
	[[ "$output" == "dblog-capture: "*"is active for PID"*"another process uses this slot"* ]] || { echo "$output"; return 1; }
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
}

@test "pg setup: --teardown drops slot and publication, refuses while a capture runs, is idempotent" {
	q "CREATE TABLE td_a(id int PRIMARY KEY)"
	src_setup td td_a
	cap_bg td -u
	eventually 10 '[ "$(q "SELECT active FROM pg_replication_slots WHERE slot_name = '"'td'"'")" = t ]'
	[ "$(q "SELECT application_name FROM pg_stat_replication")" = dblog-capture ]
	run dblog-capture --teardown --slot td --publication td "$DBLOG_PG"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"in use"* ]]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'td'")" = 1 ]
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	wait_until 10 slot_idle td
	run dblog-capture --teardown --slot td --publication td "$DBLOG_PG"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'td'")" = 0 ]
	[ "$(q "SELECT count(*) FROM pg_publication WHERE pubname = 'td'")" = 0 ]
	run dblog-capture --teardown --slot td --publication td "$DBLOG_PG"
	[ "$status" -eq 0 ]
	# capture without a slot says what to do
	run cap td --until-caught-up
	[ "$status" -eq 1 ]
	[[ "$output" == *"dblog-capture: "*"td"*"--setup"* ]]
}

@test "pg setup: missing privileges: each error says what to grant; running again does the rest" {
	q "CREATE ROLE su_app LOGIN; CREATE TABLE su_app_t(id int PRIMARY KEY); ALTER TABLE su_app_t OWNER TO su_app"
	src="host=$PGHOST port=$PGPORT user=su_app dbname=postgres"
	run dblog-capture --setup --slot sa --publication sa --tables su_app_t "$src"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"permission denied for database"*"GRANT CREATE ON DATABASE"* ]]
	q "GRANT CREATE ON DATABASE postgres TO su_app"
	run dblog-capture --setup --slot sa --publication sa "$src"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"superuser"*"--tables"* ]]
	run dblog-capture --setup --slot sa --publication sa --tables su_app_t "$src"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "*"ALTER ROLE"*"REPLICATION"* ]]
	[ "$(q "SELECT count(*) FROM pg_publication WHERE pubname = 'sa'")" = 1 ]   # the step before stays done
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sa'")" = 0 ]
	q "ALTER ROLE su_app REPLICATION"
	run dblog-capture --setup --slot sa --publication sa --tables su_app_t "$src"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sa'")" = 1 ]
	q "INSERT INTO su_app_t VALUES (1)"
	run dblog-capture --slot sa --publication sa --until-caught-up "$src"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'select(.op == "insert") | .key' <<< "$output")" = '{"id":1}' ]
	run dblog-capture --teardown --slot sa --publication sa "$src"
	[ "$status" -eq 0 ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sa'")" = 0 ]
}

@test "pg setup: wal_level=replica: --setup fails with the ALTER SYSTEM advice and creates nothing" {
	# a second small cluster, in a subshell so the first one's variables stay
	(
		pg_start "$PGD/w" > /dev/null || exit 9
		q "ALTER SYSTEM SET wal_level = replica" || exit 9
		pg_as_owner "$PG_BIN/pg_ctl" -D "$PGD/w/data" -w -m fast restart > /dev/null || exit 9
		q "SHOW wal_level" > "$T/level"
		st=0
		dblog-capture --setup "$DBLOG_PG" > "$T/out" 2> "$T/err" || st=$?
		echo "$st" > "$T/status"
		q "SELECT (SELECT count(*) FROM pg_publication) || ' ' || (SELECT count(*) FROM pg_replication_slots)" > "$T/objects"
		pg_stop "$PGD/w"
	)
	[ "$(cat "$T/level")" = replica ]
	[ "$(cat "$T/status")" = 1 ]
	[ ! -s "$T/out" ]
	cat "$T/err"
	[[ "$(cat "$T/err")" == "dblog-capture: "*"wal_level"*"ALTER SYSTEM SET wal_level = logical;"*"restart"* ]]
	[ "$(cat "$T/objects")" = "0 0" ]
}

# ------------------------------------------------------------ operations

@test "pg ops: insert, update, key-changing update, delete and truncate as exact JSON" {
	q "CREATE TABLE op_a(id int PRIMARY KEY, v text, n int NOT NULL DEFAULT 0);
	   CREATE TABLE op_b(k text PRIMARY KEY)"
	src_setup op op_a,op_b
	# one transaction each (psql -c: one implicit transaction); its xid
	for stmt in "INSERT INTO op_a VALUES (1, 'one', 10), (2, NULL, 20)" \
		    "UPDATE op_a SET v = 'uno' WHERE id = 1" \
		    "UPDATE op_a SET id = 3, n = 30 WHERE id = 2" \
		    "DELETE FROM op_a WHERE id = 1" \
		    "INSERT INTO op_b VALUES ('x')" \
		    "TRUNCATE op_a, op_b"; do
		q "$stmt; SELECT pg_current_xact_id()" >> "$T/xids"
	done
	run cap op -n app --until-caught-up -c "$NONE"
	[ "$status" -eq 0 ]
	echo "$output" > "$T/out"
	check_stream "$T/out"
	S='"source":{"driver":"postgres","name":"app","identity":"'"$(pg_identity)"'"}'
	sorted > "$T/want" <<EOF2
{"op":"begin",$S}
{"op":"schema","table":"public.op_a",$S,"columns":[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"v","type":"text","key":false,"nullable":true},{"name":"n","type":"integer","key":false,"nullable":false}]}
{"op":"insert","table":"public.op_a",$S,"seq":0,"key":{"id":1},"after":{"id":1,"v":"one","n":10}}
{"op":"insert","table":"public.op_a",$S,"seq":1,"key":{"id":2},"after":{"id":2,"v":null,"n":20}}
{"op":"commit",$S,"count":2}
{"op":"begin",$S}
{"op":"update","table":"public.op_a",$S,"seq":0,"key":{"id":1},"after":{"id":1,"v":"uno","n":10}}
{"op":"commit",$S,"count":1}
{"op":"begin",$S}
{"op":"update","table":"public.op_a",$S,"seq":0,"key":{"id":2},"before":{"id":2},"after":{"id":3,"v":null,"n":30}}
{"op":"commit",$S,"count":1}
{"op":"begin",$S}
{"op":"delete","table":"public.op_a",$S,"seq":0,"key":{"id":1},"before":{"id":1}}
{"op":"commit",$S,"count":1}
{"op":"begin",$S}
{"op":"schema","table":"public.op_b",$S,"columns":[{"name":"k","type":"text","key":true,"nullable":false}]}
{"op":"insert","table":"public.op_b",$S,"seq":0,"key":{"k":"x"},"after":{"k":"x"}}
{"op":"commit",$S,"count":1}
{"op":"begin",$S}
{"op":"truncate","table":"public.op_a",$S,"seq":0}
{"op":"truncate","table":"public.op_b",$S,"seq":1}
{"op":"commit",$S,"count":2}
EOF2
	strip "$T/out" > "$T/got"
	diff -u "$T/want" "$T/got"
	# tx: the xid of each transaction
	diff "$T/xids" <(jq -r 'select(.op == "begin") | .tx' "$T/out")
}

@test "pg ops: REPLICA IDENTITY FULL: before is the whole old row, key the primary key" {
	q "CREATE TABLE rf(id int PRIMARY KEY, v text, n numeric); ALTER TABLE rf REPLICA IDENTITY FULL"
	src_setup rf rf
	q "INSERT INTO rf VALUES (1, 'a', 1.5)"
	q "UPDATE rf SET v = 'b' WHERE id = 1"
	q "UPDATE rf SET id = 2 WHERE id = 1"
	q "DELETE FROM rf"
	cap rf --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	jq -c 'select(.seq) | del(.tx, .pos, .commit_time, .id, .source, .seq, .table)' "$T/out" > "$T/got"
	sorted > "$T/want" <<'EOF2'
{"op":"insert","key":{"id":1},"after":{"id":1,"v":"a","n":"1.5"}}
{"op":"update","key":{"id":1},"before":{"id":1,"v":"a","n":"1.5"},"after":{"id":1,"v":"b","n":"1.5"}}
{"op":"update","key":{"id":1},"before":{"id":1,"v":"b","n":"1.5"},"after":{"id":2,"v":"b","n":"1.5"}}
{"op":"delete","key":{"id":2},"before":{"id":2,"v":"b","n":"1.5"}}
EOF2
	diff -u "$T/want" <(sorted < "$T/got")
	# the schema event flags the primary key, and a snapshot keys it so too
	[ "$(jq -c 'select(.op == "schema") | [.columns[].key]' "$T/out" | sort -u)" = '[true,false,false]' ]
	q "INSERT INTO rf VALUES (7, 'x', 2)"
	dblog-capture --mode snapshot --tables rf "$DBLOG_PG" > "$T/snap"
	[ "$(jq -c 'select(.op == "snapshot") | .key' "$T/snap")" = '{"id":7}' ]
}

@test "pg ops: tables without primary key: REPLICA IDENTITY FULL and NOTHING" {
	q "CREATE TABLE nf(a int, b text); ALTER TABLE nf REPLICA IDENTITY FULL;
	   CREATE TABLE nn(a int, b text); ALTER TABLE nn REPLICA IDENTITY NOTHING"
	src_setup npk nf
	# PostgreSQL refuses UPDATE and DELETE of a table without replica
	# identity in a publication that publishes them: nn gets a publication
	# of inserts only, where they are allowed and not sent
	q "CREATE PUBLICATION npk2 FOR TABLE nn WITH (publish = 'insert')"
	dblog-capture --setup --slot npk2 --publication npk2 "$DBLOG_PG"
	q "INSERT INTO nf VALUES (1, 'x'), (1, 'x'), (2, NULL)"
	q "UPDATE nf SET b = 'y' WHERE ctid = (SELECT min(ctid) FROM nf WHERE a = 1)"
	q "DELETE FROM nf WHERE a = 1"
	q "INSERT INTO nn VALUES (1, 'x')"
	q "UPDATE nn SET b = 'y'"
	q "DELETE FROM nn"
	q "INSERT INTO nn VALUES (2, 'z')"
	cap npk --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	jq -c 'select(.seq) | [.op, .key, .before, .after]' "$T/out" > "$T/got"
	cat > "$T/want" <<'EOF2'
["insert",{"a":1,"b":"x"},null,{"a":1,"b":"x"}]
["insert",{"a":1,"b":"x"},null,{"a":1,"b":"x"}]
["insert",{"a":2,"b":null},null,{"a":2,"b":null}]
["update",{"a":1,"b":"x"},{"a":1,"b":"x"},{"a":1,"b":"y"}]
["delete",{"a":1,"b":"x"},{"a":1,"b":"x"},null]
["delete",{"a":1,"b":"y"},{"a":1,"b":"y"},null]
EOF2
	diff -u "$T/want" "$T/got"
	[ "$(jq -c 'select(.op == "schema") | .columns | map(.key)' "$T/out")" = '[true,true]' ]
	# NOTHING: no key columns, inserts only
	dblog-capture --slot npk2 --publication npk2 --until-caught-up -c "$NONE" "$DBLOG_PG" > "$T/out2"
	check_stream "$T/out2"
	run jq -c 'select(.seq) | [.op, .key, .before, .after]' "$T/out2"
	[ "$output" = '["insert",{},null,{"a":1,"b":"x"}]
["insert",{},null,{"a":2,"b":"z"}]' ]
	[ "$(jq -c 'select(.op == "schema") | .columns | map(.key)' "$T/out2")" = '[false,false]' ]
}

@test "pg ops: an unchanged TOAST column is in unchanged, not in after" {
	q "CREATE TABLE ts_t(id int PRIMARY KEY, big text, small int)"
	src_setup tst ts_t
	q "INSERT INTO ts_t SELECT 1, string_agg(md5(g::text), ''), 1 FROM generate_series(1, 400) g"
	big=$(q "SELECT big FROM ts_t")
	[ "${#big}" -eq 12800 ]
	# stored out of line, in the TOAST table
	toast=$(q "SELECT reltoastrelid::regclass FROM pg_class WHERE relname = 'ts_t'")
	[ "$(q "SELECT count(*) > 0 FROM $toast")" = t ]
	q "UPDATE ts_t SET small = 2"
	q "UPDATE ts_t SET id = 5"
	q "UPDATE ts_t SET big = 'short now', small = 3"
	cap tst --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	jq -c 'select(.seq) | [.op, .key, .before, (.after | del(.big)), (.after | has("big")), .unchanged]' "$T/out" > "$T/got"
	cat > "$T/want" <<'EOF2'
["insert",{"id":1},null,{"id":1,"small":1},true,null]
["update",{"id":1},null,{"id":1,"small":2},false,["big"]]
["update",{"id":1},{"id":1},{"id":5,"small":2},false,["big"]]
["update",{"id":5},null,{"id":5,"small":3},true,null]
EOF2
	diff -u "$T/want" "$T/got"
	[ "$(jq -r 'select(.op == "insert") | .after.big' "$T/out")" = "$big" ]
	[ "$(jq -r 'select(.after.small == 3) | .after.big' "$T/out")" = "short now" ]
}

# ------------------------------------------------------------ types

@test "pg types: every type maps to the JSON of dblog-event(5), value by value" {
	q "CREATE TYPE ty_mood AS ENUM ('sad', 'ok', 'happy');
	   CREATE DOMAIN ty_pos AS int CHECK (VALUE > 0)"
	q "CREATE TABLE ty(id int PRIMARY KEY,
		i2 int2, i4 int4, i8 int8, i8min int8, o oid,
		n numeric, n_nan numeric, n_big numeric, n_prec numeric(40,20), n_inf numeric, n_ninf numeric,
		f4 float4, f4big float4, f8 float8, f8big float8, f8small float8, f8neg float8,
		f8nan float8, f8inf float8, f8ninf float8, f4nan float4,
		b_t bool, b_f bool,
		t text, t_empty text, t_ctl text, vc varchar(20), ch char(5),
		by bytea, by_empty bytea,
		d date, d_inf date, tm time, tm_frac time(6), ttz timetz,
		ts timestamp, ts_ninf timestamp, ts_bc timestamp,
		tstz timestamptz, tstz_whole timestamptz, tstz_inf timestamptz, tstz_ninf timestamptz,
		iv interval, iv_neg interval, u uuid,
		j json, j_scalar json, jb jsonb,
		ia int[], ta text[], i2d int[], a3 int[], ia_empty int[], ia_bounds int[],
		na numeric[], fa float8[], ba bool[], tsa timestamptz[], bya bytea[], jba jsonb[],
		e ty_mood, ea ty_mood[], dom ty_pos, doma ty_pos[],
		ip inet, cid cidr, m money, pt point, rng int4range,
		\"odd \"\"col\" int)"
	src_setup ty ty
	q "INSERT INTO ty VALUES (1,
		-32768, 2147483647, 9223372036854775807, -9223372036854775808, 4294967295,
		12.50, 'NaN', '123456789012345678901234567890.123456789012345678901234567890',
		'-0.00000000000000000001', 'Infinity', '-Infinity',
		1.5, 3.4e38, 0.1, 1e300, 1e-300, -2.5,
		'NaN', 'Infinity', '-Infinity', 'NaN',
		true, false,
		E'h\u00e9llo \"q\" ''s''\nline2\r\\\\back\\\\slash\ttab \U0001F600 \u4e2d', '', E'a\x01b\x1fc',
		'varchar', 'ab',
		'\x00ff0a', '\x',
		'2026-11-22', 'infinity', '10:00:00.5', '23:59:59.999999', '10:00:00+02',
		'2026-11-22 10:00:00.5', '-infinity', '0044-03-15 10:00:00 BC',
		'2026-11-22 10:00:00.123456+02', '2026-11-22 10:00:00+00', 'infinity', '-infinity',
		'1 year 2 months 3 days 04:05:06', '-1 day -00:00:01.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
		E'{ \"a\" : [1, 2],\n  \"b\" : \"x y\\\\n\",\n\t\"c\": {\"d\" : null} }', E' \"str  ing\" ',
		'{\"z\": 1, \"a\": [true, null, 1.50]}',
		'{1,NULL,3}', E'{\"a\\\\\"b\",NULL,\"NULL\",\"c,d\",\"\",x,\"back\\\\\\\\slash\",\"{}\",\"h\u00e9\"}',
		'{{1,2},{3,4}}', '{{{1},{2}},{{3},{4}}}', '{}', '[0:1]={7,8}',
		'{1.10,NaN,NULL}', '{Infinity,-Infinity,NaN,1.5}', '{t,f,NULL}',
		'{\"2026-11-22 10:00:00+02\",infinity}', ARRAY['\x00ff'::bytea, '\x'::bytea],
		ARRAY['{\"a\": 1}'::jsonb, '[1, \"x\"]'],
		'happy', '{sad,happy}', 42, '{1,2}',
		'192.168.0.1/24', '10.0.0.0/8', 1234.56, '(1,2)', '[1,5)',
		7)"
	q "INSERT INTO ty (id) VALUES (2)"
	cap ty --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	[ "$(jq -c 'select(.op == "insert")' "$T/out" | wc -l)" -eq 2 ]
	want=$(cat <<'EOF2'
{"id":1,
 "i2":-32768, "i4":2147483647, "i8":9223372036854775807, "i8min":-9223372036854775808, "o":4294967295,
 "n":"12.50", "n_nan":"NaN", "n_big":"123456789012345678901234567890.123456789012345678901234567890",
 "n_prec":"-0.00000000000000000001", "n_inf":"Infinity", "n_ninf":"-Infinity",
 "f4":1.5, "f4big":3.4e38, "f8":0.1, "f8big":1e300, "f8small":1e-300, "f8neg":-2.5,
 "f8nan":"NaN", "f8inf":"Infinity", "f8ninf":"-Infinity", "f4nan":"NaN",
 "b_t":true, "b_f":false,
 "t":"h\u00e9llo \"q\" 's'\nline2\r\\back\\slash\ttab \ud83d\ude00 \u4e2d", "t_empty":"", "t_ctl":"a\u0001b\u001fc",
 "vc":"varchar", "ch":"ab   ",
 "by":"\\x00ff0a", "by_empty":"\\x",
 "d":"2026-11-22", "d_inf":"infinity", "tm":"10:00:00.5", "tm_frac":"23:59:59.999999", "ttz":"10:00:00+02",
 "ts":"2026-11-22T10:00:00.500000", "ts_ninf":"-infinity", "ts_bc":"0044-03-15 10:00:00 BC",
 "tstz":"2026-11-22T08:00:00.123456Z", "tstz_whole":"2026-11-22T10:00:00.000000Z",
 "tstz_inf":"infinity", "tstz_ninf":"-infinity",
 "iv":"P1Y2M3DT4H5M6S", "iv_neg":"P-1DT-1.5S", "u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
 "j":"{ \"a\" : [1, 2],\n  \"b\" : \"x y\\n\",\n\t\"c\": {\"d\" : null} }", "j_scalar":" \"str  ing\" ",
 "jb":"{\"a\": [true, null, 1.50], \"z\": 1}",
 "ia":[1,null,3], "ta":["a\"b",null,"NULL","c,d","","x","back\\slash","{}","h\u00e9"],
 "i2d":[[1,2],[3,4]], "a3":[[[1],[2]],[[3],[4]]], "ia_empty":[], "ia_bounds":"[0:1]={7,8}",
 "na":["1.10","NaN",null], "fa":["Infinity","-Infinity","NaN",1.5], "ba":[true,false,null],
 "tsa":["2026-11-22T08:00:00.000000Z","infinity"], "bya":["\\x00ff","\\x"], "jba":["{\"a\": 1}","[1, \"x\"]"],
 "e":"happy", "ea":["sad","happy"], "dom":42, "doma":[1,2],
 "ip":"192.168.0.1/24", "cid":"10.0.0.0/8", "m":"$1,234.56", "pt":"(1,2)", "rng":"[1,5)",
 "odd \"col":7}
EOF2
)
	json_cols_eq "$want" "$(grep '"op":"insert"' "$T/out" | grep '"key":{"id":1}')" after
	# NULL is null for every type
	run jq -c 'select(.op == "insert" and .key.id == 2) | .after | to_entries | map(select(.value != null)) | map(.key)' "$T/out"
	[ "$output" = '["id"]' ]
	[ "$(jq 'select(.op == "insert" and .key.id == 2) | .after | length' "$T/out")" = "$(jq "$want | length" <<< null)" ]
	# a snapshot reads the same values the same way
	dblog-capture --mode snapshot --tables ty "$DBLOG_PG" > "$T/snap"
	json_cols_eq "$want" "$(grep '"op":"snapshot"' "$T/snap" | grep '"key":{"id":1}')" after
	[ "$(grep '"op":"snapshot"' "$T/snap" | grep '"key":{"id":1}' | sed 's/.*"after"://')" = \
	  "$(grep '"op":"insert"' "$T/out" | grep '"key":{"id":1}' | sed 's/.*"after"://')" ]
	# the raw text of the big numbers, exact (no floating point on the way)
	grep -q '"i8":9223372036854775807,"i8min":-9223372036854775808,' "$T/out"
	# schema: format_type names with modifiers, domains and enums by their own name
	run jq -c 'select(.op == "schema") | .columns | map(select(.name | test("^(i2|i8|f4|f8|vc|ch|ts|tstz|ia|e|ea|dom|u)$")) | [.name, .type]) | .[]' "$T/out"
	[ "$output" = '["i2","smallint"]
["i8","bigint"]
["f4","real"]
["f8","double precision"]
["vc","character varying(20)"]
["ch","character(5)"]
["ts","timestamp without time zone"]
["tstz","timestamp with time zone"]
["u","uuid"]
["ia","integer[]"]
["e","ty_mood"]
["ea","ty_mood[]"]
["dom","ty_pos"]' ]
}

# ------------------------------------------------ transactions, schema

@test "pg source: every event carries the server's identity; the default name is <database>@<system identifier>; a checkpoint keeps its name, one of another server is refused" {
	q "CREATE TABLE sid(id int PRIMARY KEY)"
	src_setup sid sid
	q "INSERT INTO sid VALUES (1)"
	sysid=$(q "SELECT system_identifier FROM pg_control_system()")
	[[ "$sysid" =~ ^[0-9]+$ ]]
	ident="$sysid/postgres"
	[ "$(pg_identity)" = "$ident" ]
	want='{"driver":"postgres","name":"postgres@'$sysid'","identity":"'$ident'"}'
	# cdc: the default name, on every event; ids are of that name
	cap sid --until-caught-up -c "$NONE" > "$T/cdc"
	check_stream "$T/cdc"
	[ "$(jq -c .source "$T/cdc" | sort -u)" = "$want" ]
	[ "$(jq -c 'select(.op == "insert") | .key' "$T/cdc")" = '{"id":1}' ]
	# snapshot and incremental reads too
	dblog-capture --mode snapshot --tables sid "$DBLOG_PG" > "$T/snap"
	[ "$(jq -c .source "$T/snap" | sort -u)" = "$want" ]
	dblog-capture --mode incremental --cursor id --until-caught-up --tables sid "$DBLOG_PG" > "$T/inc"
	[ "$(jq -c .source "$T/inc" | sort -u)" = "$want" ]
	# another database of the same server: another identity, another name
	q "DROP DATABASE IF EXISTS sid2" && q "CREATE DATABASE sid2"
	PGDATABASE=sid2 q "CREATE TABLE sid(id int PRIMARY KEY); INSERT INTO sid VALUES (1)"
	dblog-capture --mode snapshot "host=$PGHOST port=$PGPORT user=postgres dbname=sid2" > "$T/snap2"
	[ "$(jq -c .source "$T/snap2" | sort -u)" = '{"driver":"postgres","name":"sid2@'$sysid'","identity":"'$sysid'/sid2"}' ]
	q "DROP DATABASE sid2"
	# -n NAME: the name given, the identity still there
	q "INSERT INTO sid VALUES (2)"
	cap sid --until-caught-up -n app -c "$NONE" > "$T/named"
	[ "$(jq -c .source "$T/named" | sort -u)" = '{"driver":"postgres","name":"app","identity":"'$ident'"}' ]
	# a checkpoint written under the old default name "postgres" (no
	# identity): the capture resumed from it keeps that name
	first=$(jq -r 'select(.op == "commit") | .pos' "$T/cdc")
	printf '{"version":1,"source":{"driver":"postgres","name":"postgres"},"pos":"%s","tx":1,"commit_time":"2026-01-01T00:00:00.000000Z"}\n' "$first" > "$T/old.cp"
	cap sid --until-caught-up -c "$T/old.cp" > "$T/old"
	check_stream "$T/old"
	[ "$(jq -c .source "$T/old" | sort -u)" = '{"driver":"postgres","name":"postgres","identity":"'$ident'"}' ]
	[ "$(jq -c 'select(.op == "insert") | .key' "$T/old")" = '{"id":2}' ]
	# applied with it: the checkpoint records the identity and goes on
	dblog-apply -c "$T/old.cp" "sqlite:$T/d.db" --create-tables < "$T/old"
	[ "$(jq -c .source "$T/old.cp")" = '{"driver":"postgres","name":"postgres","identity":"'$ident'"}' ]
	q "INSERT INTO sid VALUES (3)"
	cap sid --until-caught-up -c "$T/old.cp" > "$T/old2"
	[ "$(jq -c .source "$T/old2" | sort -u)" = '{"driver":"postgres","name":"postgres","identity":"'$ident'"}' ]
	dblog-apply -c "$T/old.cp" "sqlite:$T/d.db" < "$T/old2"
	[ "$(sqlite3 "$T/d.db" "SELECT group_concat(id) FROM sid")" = "2,3" ]
	# a checkpoint of another server: refused, nothing read
	jq -c '.source.identity = "1234/postgres"' "$T/old.cp" > "$T/other.cp"
	run --separate-stderr dblog-capture --slot sid --publication sid --until-caught-up -c "$T/other.cp" "$DBLOG_PG"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$stderr" = "dblog-capture: checkpoint \"$T/other.cp\" records source \"postgres\" of the server with identity 1234/postgres, but this server is $ident: its position means nothing here (give this source its own checkpoint file)" ]
	run --separate-stderr dblog-capture --mode snapshot_then_cdc --slot sid --publication sid --until-caught-up -c "$T/other.cp" "$DBLOG_PG"
	[ "$status" -eq 1 ]
}

@test "pg tx: a multi-table transaction is one begin/commit frame; transactions in commit order" {
	q "CREATE TABLE mt_a(id int PRIMARY KEY, v text); CREATE TABLE mt_b(id int PRIMARY KEY)"
	src_setup mt mt_a,mt_b
	xid=$(q "BEGIN;
		INSERT INTO mt_a VALUES (1, 'a');
		INSERT INTO mt_b VALUES (1), (2);
		SELECT pg_logical_emit_message(true, 'dblog-test', 'not a change');
		UPDATE mt_a SET v = 'b';
		DELETE FROM mt_b WHERE id = 1;
		SELECT pg_current_xact_id();
		COMMIT" | tail -1)
	# T1 starts first and commits last: it comes after T2
	holder mt-t1
	hold "BEGIN; INSERT INTO mt_a VALUES (10, 't1');"
	q "INSERT INTO mt_b VALUES (20)"
	release "INSERT INTO mt_a VALUES (11, 't1'); COMMIT;"
	cap mt --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	run jq -r '[.op, .table // "-", .seq // "-"] | join(" ")' "$T/out"
	[ "$output" = "begin - -
schema public.mt_a -
insert public.mt_a 0
schema public.mt_b -
insert public.mt_b 1
insert public.mt_b 2
update public.mt_a 3
delete public.mt_b 4
commit - -
begin - -
insert public.mt_b 0
commit - -
begin - -
insert public.mt_a 0
insert public.mt_a 1
commit - -" ]
	# the first transaction: its xid, one pos on every event, count 5
	[ "$(head -9 "$T/out" | jq -r .tx | sort -u)" = "$xid" ]
	[ "$(head -9 "$T/out" | jq -r .pos | sort -u | wc -l)" = 1 ]
	[ "$(sed -n 9p "$T/out" | jq .count)" = 5 ]
	[ "$(jq -r 'select(.op == "insert" and .table == "public.mt_a") | .after.v' "$T/out" | tr '\n' ' ')" = "a t1 t1 " ]
	# three transactions at increasing positions (check_stream), ids unique
	[ "$(commits "$T/out" | wc -l)" = 3 ]
	[ "$(jq -r 'select(.id) | .id' "$T/out" | sort | uniq -d)" = "" ]
}

@test "pg tx: a transaction made under a replication origin carries it on its events" {
	q "CREATE TABLE og(id int PRIMARY KEY)"
	src_setup og og
	q "SELECT pg_replication_origin_create('dblog-test-origin')" > /dev/null
	q "SELECT pg_replication_origin_session_setup('dblog-test-origin');
	   BEGIN; INSERT INTO og VALUES (1), (2); COMMIT;
	   SELECT pg_replication_origin_session_reset();" > /dev/null
	q "INSERT INTO og VALUES (3)"
	q "SELECT pg_replication_origin_drop('dblog-test-origin')" > /dev/null
	cap og --until-caught-up -c "$NONE" > "$T/out"
	check_stream "$T/out"
	run jq -r 'select(.op != "schema") | [.op, .key.id // "-", .origin // "-"] | join(" ")' "$T/out"
	echo "$output"
	[ "$output" = "begin - dblog-test-origin
insert 1 dblog-test-origin
insert 2 dblog-test-origin
commit - dblog-test-origin
begin - -
insert 3 -
commit - -" ]
}

@test "pg tx: schema events before a table's first change, again after ADD COLUMN, not for the same shape" {
	q "CREATE TABLE sc(id int PRIMARY KEY, v text NOT NULL)"
	src_setup sc sc
	q "INSERT INTO sc VALUES (1, 'a')"
	q "INSERT INTO sc VALUES (2, 'b')"
	q "ALTER TABLE sc ALTER COLUMN v SET STATISTICS 500"   # relation sent again, same shape
	q "INSERT INTO sc VALUES (3, 'c')"
	q "ALTER TABLE sc ADD COLUMN w numeric(10,2)"
	q "INSERT INTO sc VALUES (4, 'd', 1.5)"
	q "UPDATE sc SET v = 'z' WHERE id = 1"
	cap sc -c "$T/cp" --until-caught-up > "$T/out"
	check_stream "$T/out"
	run jq -r '[.op, .key.id // "-"] | join(" ")' "$T/out"
	[ "$output" = "begin -
schema -
insert 1
commit -
begin -
insert 2
commit -
begin -
insert 3
commit -
begin -
schema -
insert 4
commit -
begin -
update 1
commit -" ]
	run jq -c 'select(.op == "schema") | .columns' "$T/out"
	[ "$output" = '[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"v","type":"text","key":false,"nullable":false}]
[{"name":"id","type":"integer","key":true,"nullable":false},{"name":"v","type":"text","key":false,"nullable":false},{"name":"w","type":"numeric(10,2)","key":false,"nullable":true}]' ]
	# the schema event carries the pos of the transaction it precedes
	[ "$(jq -r 'select(.op == "schema") | .pos' "$T/out" | tail -1)" = "$(commits "$T/out" | sed -n 4p)" ]
	# a new run: the schema again before the first change it writes
	dblog-checkpoint set "$T/cp" --pos "$(commits "$T/out" | sed -n 3p)"
	cap sc -c "$T/cp" --until-caught-up > "$T/out2"
	run jq -r '[.op, .key.id // "-", (if .columns then .columns | length else "-" end)] | join(" ")' "$T/out2"
	[ "$output" = "begin - -
schema - 3
insert 4 -
commit - -
begin - -
update 1 -
commit - -" ]
}

# ---------------------------------------------------------------- ending

@test "pg end: --until-caught-up emits everything committed before it started, then exits 0" {
	q "CREATE TABLE uc(id int PRIMARY KEY)"
	src_setup uc uc
	for i in 1 2 3; do q "INSERT INTO uc VALUES ($i)"; done
	# a transaction open while capture starts commits after it started
	holder uc-open
	hold "BEGIN; INSERT INTO uc VALUES (1000);"
	q "INSERT INTO uc SELECT g FROM generate_series(4, 500) g"
	run cap uc --until-caught-up -c "$NONE"
	[ "$status" -eq 0 ]
	echo "$output" > "$T/out"
	check_stream "$T/out"
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out" | tr '\n' ' ')" = "$(seq 1 500 | tr '\n' ' ')" ]
	release "COMMIT;"
	# nothing was confirmed (-c names a missing file): a second run has all
	run cap uc --until-caught-up -c "$NONE"
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.op == "insert") | .key.id' <<< "$output" | tail -2 | tr '\n' ' ')" = "500 1000 " ]
}

@test "pg end: --endpos LSN emits the transactions committed up to LSN, then exits 0" {
	q "CREATE TABLE ep(id int PRIMARY KEY)"
	src_setup ep ep
	for i in 1 2 3 4; do q "INSERT INTO ep VALUES ($i)"; done
	cap ep --until-caught-up -c "$NONE" > "$T/all"
	mapfile -t P < <(commits "$T/all")
	[ "${#P[@]}" -eq 4 ]
	run cap ep --endpos "${P[1]}" -c "$NONE"
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.op == "insert") | .key.id' <<< "$output" | tr '\n' ' ')" = "1 2 " ]
	[ "$(tail -1 <<< "$output" | jq -r '.op + " " + .pos')" = "commit ${P[1]}" ]
	# one below the commit of the second transaction: only the first
	run cap ep --endpos "$(lsn_fmt $(($(lsn_num "${P[1]}") - 1)))" -c "$NONE"
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.op == "insert") | .key.id' <<< "$output" | tr '\n' ' ')" = "1 " ]
	# the same events, byte for byte, as the full run
	diff <(grep -v '"op":"schema"' "$T/all" | head -3) <(grep -v '"op":"schema"' <<< "$output")
	# an LSN the server has not reached yet: capture waits for it; a
	# transaction committed after it is not written
	end=$(q "SELECT pg_current_wal_insert_lsn()")
	cap_bg ep --endpos "$end" -c "$NONE"
	sleep 0.5
	# (still waiting, unless the server's own WAL, a running-transactions
	# record say, has already passed "$end": then it ended, as it should)
	q "INSERT INTO ep VALUES (5)"
	st=0
	wait "$CAP_PID" || st=$?
	[ "$st" -eq 0 ]
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out" | tr '\n' ' ')" = "1 2 3 4 " ]
	run cap ep --endpos "${P[1]}" --follow
	[ "$status" -eq 2 ]
	[[ "$output" == *"Try 'dblog-capture --help'."* ]]
}

@test "pg end: SIGTERM while following finishes the transaction being written and exits 0" {
	q "CREATE TABLE st(id int PRIMARY KEY, v text)"
	src_setup st st
	cap_bg st   # no -u: a transaction is flushed before capture waits
	q "INSERT INTO st VALUES (1, 'a')"
	wait_until 10 grep -q '"op":"commit"' "$T/out"
	kill -TERM "$CAP_PID"
	st=0
	wait "$CAP_PID" || st=$?
	[ "$st" -eq 0 ]
	[ ! -s "$T/err" ]
	[ "$(jq -r .op "$T/out" | tr '\n' ' ')" = "begin schema insert commit " ]
	# in the middle of a large transaction: it is written to the end
	cap_bg st -u
	q "INSERT INTO st SELECT g, repeat('x', 100) FROM generate_series(2, 40001) g"
	wait_until 20 grep -q '"op":"insert"' "$T/out"
	kill -TERM "$CAP_PID"
	st=0
	wait "$CAP_PID" || st=$?
	[ "$st" -eq 0 ]
	check_stream "$T/out"
	[ "$(tail -1 "$T/out" | jq -c '[.op, .count]')" = '["commit",40000]' ]
	[ "$(grep -c '"op":"insert"' "$T/out")" -eq 40000 ]
}

# ---------------------------------------- acknowledgement, checkpoints

@test "pg ack: without --checkpoint, what was written is confirmed: the next run goes on after it" {
	q "CREATE TABLE ak(id int PRIMARY KEY)"
	src_setup ak ak
	q "INSERT INTO ak VALUES (1)"
	q "INSERT INTO ak VALUES (2)"
	cap ak --until-caught-up > "$T/out1"
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out1" | tr '\n' ' ')" = "1 2 " ]
	[ "$(lsn_num "$(confirmed ak)")" -gt "$(lsn_num "$(commits "$T/out1" | head -1)")" ]
	q "INSERT INTO ak VALUES (3)"
	cap ak --until-caught-up > "$T/out2"
	# dblog-capture(1): the server may send the last transaction of a run
	# again, identical; nothing before it
	grep -v -F -x -f "$T/out1" "$T/out2" | grep -v '"op":"schema"' > "$T/new" || true
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/new" | tr '\n' ' ')" = "3 " ]
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out2" | grep -c -x 1)" = 0 ]
	cap ak --until-caught-up > "$T/out3"
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out3" | grep -v -x 3 | tr '\n' ' ')" = "" ]
}

@test "pg ack: with -c the slot never passes the checkpoint, and follows it when it moves" {
	q "CREATE TABLE ck(id int PRIMARY KEY)"
	src_setup ck ck
	for i in 1 2 3 4; do q "INSERT INTO ck VALUES ($i)"; done
	cap ck --until-caught-up -c "$NONE" > "$T/all"
	mapfile -t P < <(commits "$T/all")
	[ "${#P[@]}" -eq 4 ]
	# nothing confirmed so far
	[ "$(lsn_num "$(confirmed ck)")" -lt "$(lsn_num "${P[0]}")" ]
	dblog-checkpoint set "$T/cp" --pos "${P[0]}"
	cap_bg ck -u -c "$T/cp" --status-interval 100ms
	eventually 10 '[ "$(grep -c "\"op\":\"commit\"" "$T/out")" -eq 3 ]'
	# the stream is at P[3]; for 2 seconds the slot stays at the checkpoint
	max=0
	for i in $(seq 20); do
		c=$(lsn_num "$(confirmed ck)")
		[ "$c" -gt "$max" ] && max=$c
		sleep 0.1
	done
	[ "$max" -le "$(lsn_num "${P[0]}")" ]
	[ "$(confirmed ck)" = "${P[0]}" ]
	# the checkpoint moves: the slot follows within seconds
	dblog-checkpoint set "$T/cp" --pos "${P[2]}"
	eventually 5 '[ "$(confirmed ck)" = "${P[2]}" ]'
	# a checkpoint inside a transaction (with a seq) confirms one less
	dblog-checkpoint set "$T/cp" --pos "${P[3]}" --seq 0
	eventually 5 '[ "$(confirmed ck)" = "$(lsn_fmt $(($(lsn_num "${P[3]}") - 1)))" ]'
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	[ "$(lsn_num "$(confirmed ck)")" -lt "$(lsn_num "${P[3]}")" ]
	# what capture wrote after the checkpoint: transactions 2, 3 and 4
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out" | tr '\n' ' ')" = "2 3 4 " ]
}

@test "pg ack: a run with the checkpoint emits only later transactions, identical" {
	q "CREATE TABLE rs(id int PRIMARY KEY)"
	src_setup rs rs
	q "INSERT INTO rs VALUES (1)"
	q "INSERT INTO rs VALUES (2), (3), (4)"
	cap rs -c "$NONE" --until-caught-up > "$T/all"
	P1=$(commits "$T/all" | sed -n 1p)
	P2=$(commits "$T/all" | sed -n 2p)
	# a checkpoint inside the second transaction (seq 0): its begin, the
	# rest of its changes with the same pos, seq and id, its commit
	dblog-checkpoint set "$T/cp" --pos "$P2" --seq 0
	cap rs -c "$T/cp" --until-caught-up > "$T/out0"
	PARTIAL=1 check_stream "$T/out0"   # count is the transaction's: 3
	diff <(jq -c 'select(.op == "insert" and .key.id >= 3)' "$T/all") <(jq -c 'select(.op == "insert")' "$T/out0")
	[ "$(jq -r .op "$T/out0" | grep -v schema | tr '\n' ' ')" = "begin insert insert commit " ]
	# after the first transaction: the second one, identical
	dblog-checkpoint set "$T/cp" --pos "$P1"
	cap rs -c "$T/cp" --until-caught-up | dblog-checkpoint track "$T/cp" > "$T/out1"
	diff <(grep -v '"op":"schema"' "$T/all" | tail -n +4) <(grep -v '"op":"schema"' "$T/out1")
	[ "$(jq -r .pos "$T/cp")" = "$P2" ]
	q "INSERT INTO rs VALUES (5)"
	q "INSERT INTO rs VALUES (6)"
	cap rs -c "$T/cp" --until-caught-up | dblog-checkpoint track "$T/cp" > "$T/out2"
	check_stream "$T/out2"
	[ "$(jq -r 'select(.op == "insert") | .key.id' "$T/out2" | tr '\n' ' ')" = "5 6 " ]
	[ "$(jq -r .pos "$T/cp")" = "$(commits "$T/out2" | tail -1)" ]
	# nothing new: nothing out (no begin, no commit)
	cap rs -c "$T/cp" --until-caught-up | dblog-checkpoint track "$T/cp" > "$T/out3"
	[ "$(jq -c 'select(.op != "heartbeat")' "$T/out3")" = "" ]
	# a SQLite position, an empty file: status 1, nothing written
	echo '{"version":1,"pos":42}' > "$T/sqlite.cp"
	: > "$T/empty.cp"
	for f in "$T/sqlite.cp" "$T/empty.cp"; do
		st=0
		cap rs -c "$f" --until-caught-up > "$T/bad.out" 2> "$T/bad.err" || st=$?
		[ "$st" -eq 1 ]
		[ ! -s "$T/bad.out" ]
		[[ "$(cat "$T/bad.err")" == "dblog-capture: checkpoint \"$f\""* ]]
	done
}

@test "pg ack: kill -9 of the pipeline mid-stream, restart from the checkpoint: nothing missing, repeats identical" {
	q "CREATE TABLE k9(id int PRIMARY KEY, tx int, v text)"
	src_setup k9 k9
	# 400 transactions of 3 rows, while capture runs
	psql -qX -c "DO \$\$ BEGIN FOR i IN 0..399 LOOP
		INSERT INTO k9 SELECT 3 * i + g, i, md5(i::text) FROM generate_series(0, 2) g;
		COMMIT; PERFORM pg_sleep(0.002); END LOOP; END \$\$" > /dev/null 2> "$T/writer.err" 3>&- &
	writer=$!
	mkfifo "$T/pipe"
	dblog-checkpoint track "$T/cp" --interval 100ms < "$T/pipe" > "$T/out1" 3>&- &
	track=$!
	dblog-capture --slot k9 --publication k9 -u -c "$T/cp" "$DBLOG_PG" > "$T/pipe" 2> "$T/err" 3>&- &
	capture=$!
	eventually 20 '[ "$(grep -c "\"op\":\"commit\"" "$T/out1")" -ge 60 ]'
	# the whole pipeline dies: the checkpoint lags behind what was written
	kill -9 "$capture" "$track"
	wait "$writer"
	[ -z "$(tail -c 1 "$T/out1")" ] || sed -i '$d' "$T/out1"   # a cut last line
	[ "$(q "SELECT count(*) FROM k9")" = 1200 ]
	cp_pos=$(jq -r .pos "$T/cp")
	# killed in the middle: the first run has part of the transactions
	[ "$(commits "$T/out1" | wc -l)" -lt 400 ]
	[ "$(jq -r 'select(.op == "commit") | .pos' "$T/out1" | grep -c -x "$cp_pos")" = 1 ]
	# a new run at once: it waits for the killed capture's walsender to let
	# the slot go, and resumes
	cap k9 -c "$T/cp" --until-caught-up > "$T/out2"
	check_stream "$T/out2"
	# every row, every transaction: in one of the two runs
	cat "$T/out1" "$T/out2" | jq -r 'select(.op == "insert") | .key.id' | sort -n | uniq > "$T/ids"
	diff <(seq 0 1199) "$T/ids"
	# the second run starts after the checkpoint
	[ "$(lsn_num "$(jq -r 'select(.op == "begin") | .pos' "$T/out2" | head -1)")" -gt "$(lsn_num "$cp_pos")" ]
	# repeated changes: only those already seen, byte for byte the same
	jq -r 'select(.seq) | .id' "$T/out1" | sort > "$T/ids1"
	jq -r 'select(.seq) | .id' "$T/out2" | sort > "$T/ids2"
	[ "$(uniq -d "$T/ids1")" = "" ]
	[ "$(uniq -d "$T/ids2")" = "" ]
	comm -12 "$T/ids1" "$T/ids2" > "$T/dups"
	echo "first run: $(wc -l < "$T/ids1") changes, second: $(wc -l < "$T/ids2"), repeated: $(wc -l < "$T/dups")"
	while read -r id; do
		[ "$(grep -F "\"id\":\"$id\"" "$T/out1")" = "$(grep -F "\"id\":\"$id\"" "$T/out2")" ] ||
			{ echo "repeated $id differs"; return 1; }
	done < "$T/dups"
	# each transaction once in the union (same pos -> same tx, same rows)
	cat "$T/out1" "$T/out2" | jq -c 'select(.op == "insert") | [.pos, .seq, .tx, .key.id]' | sort -u |
		jq -r '.[0]' | sort | uniq -c | awk '$1 != 3 { print; bad = 1 } END { exit bad }'
	[ "$(cat "$T/out1" "$T/out2" | jq -c 'select(.op == "insert") | [.pos, .seq]' | sort -u | wc -l)" = 1200 ]
}

# ------------------------------------------------------------ heartbeats

@test "pg heartbeat: --heartbeat emits heartbeats while the tables are idle; their pos grows; the slot follows" {
	q "CREATE TABLE hb(id int PRIMARY KEY); CREATE TABLE hb_other(id int)"
	src_setup hb hb
	mkfifo "$T/pipe"
	dblog-checkpoint track "$T/cp" --interval 100ms < "$T/pipe" > "$T/out" 3>&- &
	track=$!
	dblog-capture --slot hb --publication hb -u -c "$T/cp" --heartbeat 200ms --status-interval 200ms \
		"$DBLOG_PG" > "$T/pipe" 2> "$T/err" 3>&- &
	capture=$!
	q "INSERT INTO hb VALUES (1)"
	# the rest of the database is written: WAL moves, nothing is published
	for i in $(seq 8); do q "INSERT INTO hb_other VALUES ($i)"; sleep 0.2; done
	eventually 10 '[ "$(grep -c heartbeat "$T/out")" -ge 3 ]'
	# the checkpoint records the heartbeats, and the slot follows it past
	# the last published change
	commit=$(lsn_num "$(commits "$T/out")")
	eventually 10 '[ "$(lsn_num "$(jq -r .pos "$T/cp")")" -gt "$commit" ]'
	eventually 10 '[ "$(lsn_num "$(confirmed hb)")" -gt "$commit" ]'
	[ "$(lsn_num "$(confirmed hb)")" -le "$(lsn_num "$(jq -r .pos "$T/cp")")" ]
	kill -TERM "$capture"
	wait "$capture"
	wait "$track"
	[ ! -s "$T/err" ]
	check_stream "$T/out"
	# only the published change, then heartbeats
	[ "$(jq -r .op "$T/out" | grep -v heartbeat | tr '\n' ' ')" = "begin schema insert commit " ]
	# pos strictly increasing, from the commit on
	jq -r 'select(.op == "commit" or .op == "heartbeat") | .pos' "$T/out" > "$T/pos"
	prev=0
	while read -r p; do
		n=$(lsn_num "$p")
		[ "$n" -gt "$prev" ] || { echo "pos $p does not grow"; return 1; }
		prev=$n
	done < "$T/pos"
	[ "$(jq -r 'select(.op == "heartbeat") | .op' "$T/out" | wc -l)" -ge 3 ]
	# a heartbeat: source, pos, commit_time (now), nothing else
	jq -en '[inputs | select(.op == "heartbeat") | keys == ["commit_time", "op", "pos", "source"]] | all' "$T/out"
	[ "$(jq -r 'select(.op == "heartbeat") | .commit_time[:4]' "$T/out" | sort -u)" = "$(date -u +%Y)" ]
}

@test "pg end: a lost connection exits 3 with a message saying to run again" {
	q "CREATE TABLE lc(id int PRIMARY KEY)"
	src_setup lc lc
	cap_bg lc -u
	q "INSERT INTO lc VALUES (1)"
	eventually 10 'grep -q "\"op\":\"commit\"" "$T/out"'
	q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 'lc'" > /dev/null
	st=0
	wait "$CAP_PID" || st=$?
	[ "$st" -eq 3 ]
	[[ "$(cat "$T/err")" == "dblog-capture: "*"(temporary: run again to resume from the checkpoint)" ]]
}

# ------------------------------------------------------------- snapshots

@test "pg snapshot: --mode snapshot: tables in key order, snapshot events at one pos, a heartbeat, no slot" {
	q "CREATE SCHEMA snap;
	   CREATE TABLE snap.b(id int PRIMARY KEY, v text);
	   CREATE TABLE snap.a(k1 text, k2 int, v numeric, PRIMARY KEY (k2, k1));
	   CREATE TABLE snap.nokey(x int);
	   INSERT INTO snap.b SELECT g, 'v' || g FROM generate_series(12000, 1, -1) g;
	   INSERT INTO snap.a VALUES ('b', 2, 1.5), ('a', 2, NULL), ('z', 1, 0);
	   INSERT INTO snap.nokey VALUES (3), (1)"
	before=$(q "SELECT pg_current_wal_lsn()")
	run dblog-capture --mode snapshot --slot no-such-slot --tables snap.b,snap.a,snap.nokey -n app "$DBLOG_PG"
	[ "$status" -eq 0 ]
	echo "$output" > "$T/out"
	after=$(q "SELECT pg_current_wal_lsn()")
	# tables in schema and name order, each after its schema event
	run jq -r 'select(.op != "snapshot") | [.op, .table // "-"] | join(" ")' "$T/out"
	[ "$output" = "schema snap.a
schema snap.b
schema snap.nokey
heartbeat -" ]
	[ "$(jq -c 'select(.op == "schema" and .table == "snap.a") | .columns | map([.name, .key, .nullable])' "$T/out")" = \
		'[["k1",true,false],["k2",true,false],["v",false,true]]' ]
	# rows in key order (k2, k1), with key and after
	run jq -c 'select(.op == "snapshot" and .table == "snap.a") | [.key, .after]' "$T/out"
	[ "$output" = '[{"k2":1,"k1":"z"},{"k1":"z","k2":1,"v":"0"}]
[{"k2":2,"k1":"a"},{"k1":"a","k2":2,"v":null}]
[{"k2":2,"k1":"b"},{"k1":"b","k2":2,"v":"1.5"}]' ] || [ "$output" = '[{"k1":"z","k2":1},{"k1":"z","k2":1,"v":"0"}]
[{"k1":"a","k2":2},{"k1":"a","k2":2,"v":null}]
[{"k1":"b","k2":2},{"k1":"b","k2":2,"v":"1.5"}]' ]
	[ "$(jq -r 'select(.op == "snapshot" and .table == "snap.b") | .key.id' "$T/out" | tr '\n' ' ')" = "$(seq 1 12000 | tr '\n' ' ')" ]
	[ "$(jq -c 'select(.op == "snapshot" and .table == "snap.b" and .key.id == 7) | .after' "$T/out")" = '{"id":7,"v":"v7"}' ]
	[ "$(jq -c 'select(.op == "snapshot" and .table == "snap.nokey") | .after' "$T/out" | sort | tr '\n' ' ')" = '{"x":1} {"x":3} ' ]
	# one pos, between the LSNs before and after; seq 0.. across tables;
	# ids unique; the heartbeat at the same pos ends it; no begin/commit
	pos=$(jq -r .pos "$T/out" | sort -u)
	[ "$(wc -l <<< "$pos")" = 1 ]
	[ "$(lsn_num "$pos")" -ge "$(lsn_num "$before")" ]
	[ "$(lsn_num "$pos")" -le "$(lsn_num "$after")" ]
	[ "$(jq -r 'select(.op == "snapshot") | .seq' "$T/out" | tr '\n' ' ')" = "$(seq 0 12004 | tr '\n' ' ')" ]
	[ "$(jq -r 'select(.op == "snapshot") | .id' "$T/out" | sort -u | wc -l)" = 12005 ]
	jq -en '[inputs | select(.op == "snapshot") | .id |
		test("^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")] | all' "$T/out"
	[ "$(jq -r 'select(.op == "snapshot" or .op == "heartbeat") | .commit_time' "$T/out" | sort -u | wc -l)" = 1 ]
	[ "$(jq -c 'select(.op == "snapshot") | .source' "$T/out" | sort -u)" = '{"driver":"postgres","name":"app","identity":"'"$(pg_identity)"'"}' ]
	[ "$(tail -1 "$T/out" | jq -c 'del(.commit_time)')" = "{\"op\":\"heartbeat\",\"source\":{\"driver\":\"postgres\",\"name\":\"app\",\"identity\":\"$(pg_identity)\"},\"pos\":\"$pos\"}" ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots")" = 0 ]
	# a table that does not exist: status 1, no rows
	run dblog-capture --mode snapshot --tables snap.a,snap.no_such "$DBLOG_PG"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: "* ]]
	[[ "$output" != *'"op":"snapshot"'* ]]
}

@test "pg snapshot: snapshot rows carry the keys that changes carry, for every replica identity" {
	q "CREATE TABLE sk_pk(id int PRIMARY KEY, v text);
	   CREATE TABLE sk_full(a int, b text); ALTER TABLE sk_full REPLICA IDENTITY FULL;
	   CREATE TABLE sk_idx(a int NOT NULL, b text, c int PRIMARY KEY);
	   CREATE UNIQUE INDEX sk_idx_a ON sk_idx(a); ALTER TABLE sk_idx REPLICA IDENTITY USING INDEX sk_idx_a"
	src_setup sk sk_pk,sk_full,sk_idx
	q "INSERT INTO sk_pk VALUES (1, 'x'); INSERT INTO sk_full VALUES (2, 'y'); INSERT INTO sk_idx VALUES (3, 'z', 9)"
	cap sk --until-caught-up -c "$NONE" > "$T/cdc"
	dblog-capture --mode snapshot --tables sk_pk,sk_full,sk_idx "$DBLOG_PG" > "$T/snap"
	want='["public.sk_full",{"a":2,"b":"y"}]
["public.sk_idx",{"a":3}]
["public.sk_pk",{"id":1}]'
	[ "$(jq -c 'select(.op == "insert") | [.table, .key]' "$T/cdc" | sort)" = "$want" ]
	[ "$(jq -c 'select(.op == "snapshot") | [.table, .key]' "$T/snap" | sort)" = "$want" ]
	# and the schema events flag the same columns
	diff <(jq -c 'select(.op == "schema") | [.table, .columns]' "$T/cdc" | sort) \
	     <(jq -c 'select(.op == "schema") | [.table, .columns]' "$T/snap" | sort)
}

@test "pg snapshot: snapshot_then_cdc with writes during and after the snapshot: every row once, final state equal" {
	q "CREATE TABLE sc2(id int PRIMARY KEY, n int NOT NULL, v text);
	   INSERT INTO sc2 SELECT g, 0, md5(g::text) FROM generate_series(1, 30000) g"
	src_setup sc2 sc2
	q "CREATE TABLE sc2_stop(x int)"   # not published: tells the writer to stop
	# writer: inserts, updates spread over the table, deletes, key changes,
	# one transaction every few ms until told to stop
	psql -qX -c "DO \$\$ BEGIN FOR i IN 1..20000 LOOP
		INSERT INTO sc2 VALUES (100000 + i, i, 'new');
		UPDATE sc2 SET n = n + 1, v = 'upd' || i WHERE id = (i * 7919) % 30000 + 1;
		DELETE FROM sc2 WHERE id = (i * 104729) % 30000 + 1;
		IF i % 3 = 0 THEN UPDATE sc2 SET id = id + 200000 WHERE id = 100000 + i - 1; END IF;
		COMMIT; PERFORM pg_sleep(0.003);
		EXIT WHEN EXISTS (SELECT FROM sc2_stop); END LOOP; END \$\$" > /dev/null 2> "$T/writer.err" 3>&- &
	writer=$!
	eventually 20 '[ "$(q "SELECT count(*) FROM sc2 WHERE id > 100000")" -ge 20 ]'
	cap_bg sc2 -u -m snapshot_then_cdc -c "$T/cp"
	# the snapshot is out, then changes after it; then the writer stops
	eventually 30 'grep -q "\"op\":\"heartbeat\"" "$T/out"'
	eventually 30 '[ "$(grep -c "\"op\":\"commit\"" "$T/out")" -ge 30 ]'
	q "INSERT INTO sc2_stop VALUES (1)"
	wait "$writer"
	[ ! -s "$T/writer.err" ]
	q "INSERT INTO sc2 VALUES (0, -1, 'the end')"
	eventually 30 'grep -q "\"key\":{\"id\":0}" "$T/out"'
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	[ ! -s "$T/err" ]
	# the snapshot, its heartbeat, then transactions after it
	hb=$(jq -r 'select(.op == "heartbeat") | .pos' "$T/out" | head -1)
	[ "$(jq -r 'select(.op == "snapshot") | .pos' "$T/out" | sort -u)" = "$hb" ]
	[ "$(jq -r 'select(.op == "snapshot") | .seq' "$T/out" | awk 'NR - 1 != $1 { bad = 1 } END { print NR; exit bad }')" -gt 29000 ]
	first_change=$(grep -n -m1 '"op":"begin"' "$T/out" | cut -d: -f1)
	last_snapshot=$(grep -n '"op":"snapshot"' "$T/out" | tail -1 | cut -d: -f1)
	[ "$first_change" -gt "$last_snapshot" ]
	grep -v '"op":"snapshot"' "$T/out" | grep -v '"op":"heartbeat"' > "$T/cdc"
	check_stream "$T/cdc"
	[ "$(lsn_num "$(jq -r 'select(.op == "begin") | .pos' "$T/cdc" | head -1)")" -gt "$(lsn_num "$hb")" ]
	# the writer was busy on both sides of the hand-off
	[ "$(jq -c 'select(.op == "snapshot" and .key.id > 100000)' "$T/out" | wc -l)" -gt 0 ]
	[ "$(jq -c 'select(.op == "insert" and .key.id > 100000 and .key.id < 200000)' "$T/cdc" | wc -l)" -gt 0 ]
	# every row exactly once: replaying fails on a duplicate or a gap
	replay "$T/out" > "$T/state"
	q "SELECT coalesce(jsonb_object_agg(jsonb_build_object('id', id)::text, to_jsonb(t)), '{}') FROM sc2 t" |
		jq -S 'with_entries(.key |= (fromjson | tojson))' > "$T/table"
	[ "$(jq length "$T/table")" -gt 29000 ]
	diff "$T/table" "$T/state"
	# no transaction twice
	[ "$(jq -r 'select(.op == "begin") | .tx' "$T/cdc" | sort | uniq -d)" = "" ]
}

@test "pg snapshot: snapshot_then_cdc resumes cdc from its checkpoint, and redoes an interrupted snapshot" {
	q "CREATE TABLE sr(id int PRIMARY KEY, v text); INSERT INTO sr VALUES (1, 'a'), (2, 'b'), (3, 'c')"
	src_setup sr sr
	cap sr -m snapshot_then_cdc -c "$T/cp" --until-caught-up | dblog-checkpoint track "$T/cp" > "$T/out1"
	[ "$(jq -r 'select(.op != "schema") | [.op, .key.id // "-"] | join(" ")' "$T/out1" | tr '\n' ',')" = \
		"snapshot 1,snapshot 2,snapshot 3,heartbeat -," ]
	[ "$(jq -r .pos "$T/cp")" = "$(jq -r 'select(.op == "heartbeat") | .pos' "$T/out1")" ]
	slot=$(q "SELECT catalog_xmin FROM pg_replication_slots WHERE slot_name = 'sr'")
	q "UPDATE sr SET v = 'B' WHERE id = 2"
	q "INSERT INTO sr VALUES (4, 'd')"
	# the checkpoint is there: no snapshot, the same slot, the changes after it
	cap sr -m snapshot_then_cdc -c "$T/cp" --until-caught-up | dblog-checkpoint track "$T/cp" > "$T/out2"
	check_stream "$T/out2"
	[ "$(jq -r 'select(.op != "schema") | [.op, .key.id // "-"] | join(" ")' "$T/out2" | tr '\n' ',')" = \
		"begin -,update 2,commit -,begin -,insert 4,commit -," ]
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sr'")" = 1 ]
	# a checkpoint written inside a snapshot: read again, with a warning
	jq -c '. + {"snapshot": true}' "$T/cp" > "$T/cp.new" && mv "$T/cp.new" "$T/cp"
	cap sr -m snapshot_then_cdc -c "$T/cp" --until-caught-up > "$T/out3" 2> "$T/err3"
	[[ "$(cat "$T/err3")" == "dblog-capture: warning: checkpoint \"$T/cp\" is inside an interrupted snapshot"* ]]
	[ "$(jq -c 'select(.op == "snapshot") | .after' "$T/out3" | tr '\n' ' ')" = \
		'{"id":1,"v":"a"} {"id":2,"v":"B"} {"id":3,"v":"c"} {"id":4,"v":"d"} ' ]
	# the table is truncated first: rows of the first attempt gone since
	# must not stay behind
	[ "$(jq -r 'select(.op != "schema" and .op != "heartbeat") | [.op, .seq] | join(" ")' "$T/out3" | head -n 2 | tr '\n' ',')" = \
		"truncate 0,snapshot 1," ]
	[ "$(q "SELECT catalog_xmin FROM pg_replication_slots WHERE slot_name = 'sr'")" != "$slot" ]
}

# ---------------------------------------------------------------- errors

@test "pg snapshot: a database that is also a destination: dblog's own tables (schema dblog) are never captured" {
	q "DROP DATABASE IF EXISTS both_db WITH (FORCE)" && q "CREATE DATABASE both_db"
	src="host=$PGHOST port=$PGPORT user=postgres dbname=both_db"
	PGDATABASE=both_db q "CREATE TABLE app(id int PRIMARY KEY, v text); INSERT INTO app VALUES (1, 'a');
	   CREATE TABLE dest(id int PRIMARY KEY, v text)"
	# dblog-apply into it: dblog.applied, dblog.lww and dblog.conflicts, with rows
	ev() {   # POS ID: one transaction inserting ID into public.dest
		local s='"source":{"driver":"postgres","name":"other"},"tx":'$2',"pos":"0/'$1'","commit_time":"2026-01-01T00:00:00.000000Z"'
		printf '{"op":"begin",%s}\n' "$s"
		printf '{"op":"insert","table":"public.dest",%s,"seq":0,"key":{"id":%s},"after":{"id":%s,"v":"x"}}\n' "$s" "$2" "$2"
		printf '{"op":"commit",%s,"count":1}\n' "$s"
	}
	{ ev 10 1; ev 20 2; } | dblog-apply --conflict last_writer_wins "$src"
	PGDATABASE=both_db q "INSERT INTO dest VALUES (3, 'local')"
	ev 30 3 | dblog-apply --conflict manual_review "$src" 2> /dev/null   # a conflict, parked
	[ "$(PGDATABASE=both_db q "SELECT (SELECT count(*) FROM dblog.applied)::text || (SELECT count(*) FROM dblog.lww) ||
	     (SELECT count(*) FROM dblog.conflicts)")" = 121 ]
	# the whole database: the publication FOR ALL TABLES has dblog's tables too
	dblog-capture --setup --slot both --publication both "$src"
	[ "$(PGDATABASE=both_db q "SELECT count(*) FROM pg_publication_tables WHERE schemaname = 'dblog'")" = 3 ]
	# snapshot: the application's tables only
	dblog-capture --mode snapshot --slot both --publication both "$src" > "$T/snap"
	[ "$(jq -r 'select(.table) | .table' "$T/snap" | sort -u | tr '\n' ' ')" = "public.app public.dest " ]
	# changes: dblog-apply at work, a transaction of dblog's tables only,
	# one of both; none of dblog's changes comes out, nor an empty transaction
	PGDATABASE=both_db q "INSERT INTO app VALUES (2, 'b')"
	ev 40 4 | dblog-apply --conflict last_writer_wins "$src"
	PGDATABASE=both_db q "UPDATE dblog.applied SET updated = now(); DELETE FROM dblog.lww; TRUNCATE dblog.conflicts"
	PGDATABASE=both_db q "BEGIN; UPDATE dblog.applied SET updated = now(); UPDATE app SET v = 'c' WHERE id = 2;
	   TRUNCATE dblog.conflicts, dest; COMMIT"
	before=$(PGDATABASE=both_db q "SELECT pg_current_wal_lsn()")
	PGDATABASE=both_db q "UPDATE dblog.applied SET updated = now()"
	run dblog-capture --slot both --publication both --until-caught-up "$src"
	[ "$status" -eq 0 ]
	echo "$output" > "$T/cdc"
	check_stream "$T/cdc"
	[ "$(jq -c 'select(.seq) | [.op, .table, .key]' "$T/cdc")" = '["insert","public.app",{"id":2}]
["insert","public.dest",{"id":4}]
["update","public.app",{"id":2}]
["truncate","public.dest",null]' ]
	[ "$(jq -c 'select(.op == "commit") | .count' "$T/cdc" | tr '\n' ' ')" = "1 1 2 " ]
	[ "$(jq -r 'select(.op == "schema") | .table' "$T/cdc" | sort | tr '\n' ' ')" = "public.app public.dest " ]
	# what was written is confirmed, up to the last transaction, not sent
	[ "$(lsn_num "$(confirmed both)")" -gt "$(lsn_num "$before")" ]
	# snapshot_then_cdc reads the publication's tables: not dblog's either
	PGDATABASE=both_db q "UPDATE dblog.applied SET updated = now()"
	dblog-capture --mode snapshot_then_cdc --slot both2 --publication both --until-caught-up "$src" > "$T/stc"
	[ "$(jq -r 'select(.table) | .table' "$T/stc" | sort -u | tr '\n' ' ')" = "public.app public.dest " ]
	# named: refused
	run dblog-capture --mode snapshot --tables app,dblog.applied "$src"
	[ "$status" -eq 2 ]
	[[ "$output" == "dblog-capture: --tables: 'dblog.applied' is in schema dblog"* ]]
	pg_clean
	q "DROP DATABASE both_db WITH (FORCE)"
}

@test "pg errors: a publication that does not exist ends the replication at the first change with status 1 and the fix" {
	q "CREATE TABLE nopub(id int PRIMARY KEY)"
	src_setup nopub nopub
	q "INSERT INTO nopub VALUES (1)"
	for end in --until-caught-up --retry=3; do
		run --separate-stderr dblog-capture --slot nopub --publication no_such_pub "$end" "$DBLOG_PG"
		[ "$status" -eq 1 ] || { echo "$end: status $status: $stderr"; return 1; }
		[[ "$stderr" == "dblog-capture: replication ended: "*'publication "no_such_pub" does not exist'*"--teardown, then --setup"* ]]
		[ -z "$(jq -c 'select(.op == "insert")' <<< "$output")" ]
	done
}

@test "pg errors: an unreachable server exits 3 with a message naming the program" {
	port=$(pg_free_port)
	for src in "host=$PGHOST port=$port user=postgres dbname=postgres" \
		   "host=127.0.0.1 port=$port user=postgres dbname=postgres connect_timeout=5" \
		   "postgres://postgres@127.0.0.1:$port/postgres"; do
		run dblog-capture --until-caught-up "$src"
		[ "$status" -eq 3 ] || { echo "$src: status $status: $output"; return 1; }
		[[ "$output" == "dblog-capture: cannot connect to "* ]]
		[[ "$output" == *"port=$port"* || "$output" == *":$port"* ]]
		# one line, libpq's hint on it too
		[ "${#lines[@]}" -eq 1 ] || { echo "$src: ${#lines[@]} lines: $output"; return 1; }
		[[ "$src" != host=/* || "$output" == *"No such file or directory Is the server running"* ]]
		run dblog-capture --setup "$src"
		[ "$status" -eq 3 ]
		[[ "$output" == "dblog-capture: cannot connect to "* ]]
		run dblog-capture --mode snapshot "$src"
		[ "$status" -eq 3 ]
		[[ "$output" == "dblog-capture: "* ]]
	done
}

@test "pg errors: a bad user, password or database exits 1 and never shows the password" {
	pw=Sekr3t-Pa55word
	for src in "host=$PGHOST port=$PGPORT user=no_such_user password=$pw dbname=postgres" \
		   "postgresql://no_such_user:$pw@/postgres?host=$PGHOST&port=$PGPORT" \
		   "postgresql:///postgres?host=$PGHOST&port=$PGPORT&user=no_such_user&password=$pw" \
		   "host=$PGHOST port=$PGPORT user=postgres password=$pw dbname=no_such_db"; do
		run dblog-capture --until-caught-up "$src"
		[ "$status" -eq 1 ] || { echo "$src: status $status: $output"; return 1; }
		[[ "$output" == "dblog-capture: cannot connect to "* ]]
		[[ "$output" != *"$pw"* ]]
		[[ "$output" == *"no_such_"* ]]
		run dblog-capture --setup "$src"
		[ "$status" -eq 1 ]
		[[ "$output" != *"$pw"* ]]
	done
	# a real password check: a role that must give one, the wrong one given
	q "CREATE ROLE pw_user LOGIN REPLICATION PASSWORD 'right-one'"
	hba="$PGD/c/data/pg_hba.conf"
	{ echo "local all pw_user scram-sha-256"; cat "$hba"; } > "$T/hba"
	cat "$T/hba" > "$hba"   # keeps the file's owner
	q "SELECT pg_reload_conf()" > /dev/null
	sleep 0.2
	src="host=$PGHOST port=$PGPORT user=pw_user password=$pw dbname=postgres"
	run dblog-capture --until-caught-up "$src"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-capture: cannot connect to "*"password authentication failed"* ]]
	[[ "$output" != *"$pw"* ]]
	run dblog-capture --until-caught-up "postgres://pw_user:$pw@/postgres?host=$PGHOST&port=$PGPORT"
	[ "$status" -eq 1 ]
	[[ "$output" != *"$pw"* ]]
	# and the right one gets through to the next question (no slot)
	run dblog-capture --until-caught-up "host=$PGHOST port=$PGPORT user=pw_user password=right-one dbname=postgres"
	[[ "$output" != *"password authentication failed"* ]]
	[[ "$output" != *"right-one"* ]]
}

# ---------------------------------------------------------------- memory

@test "pg memory: a 200,000-row transaction streams through in under 20 MB resident" {
	q "CREATE TABLE mem(id int PRIMARY KEY, a int, b text, c float8)"
	src_setup mem mem
	q "INSERT INTO mem SELECT g, g % 1000, 'name ' || g, g / 7.0 FROM generate_series(1, 200000) g"
	limit=20480   # KB
	if [ -n "${DBLOG_ASAN:-}" ]; then
		# sanitizer builds: shadow memory and a quarantine of freed blocks;
		# measure the growth over a run of one small transaction instead
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
		q "CREATE TABLE mem_small(id int PRIMARY KEY); INSERT INTO mem_small VALUES (1)"
		dblog-capture --setup --slot mem_s --publication mem_s --tables mem_small "$DBLOG_PG"
		q "INSERT INTO mem_small VALUES (2)"
		/usr/bin/time -f %M -o "$T/rss0" dblog-capture --slot mem_s --publication mem_s \
			--until-caught-up -c "$NONE" "$DBLOG_PG" > /dev/null
		limit=$(($(cat "$T/rss0") + 20480))
	fi
	/usr/bin/time -f %M -o "$T/rss" dblog-capture --slot mem --publication mem --until-caught-up \
		-c "$NONE" "$DBLOG_PG" > "$T/out"
	[ "$(grep -c '"op":"insert"' "$T/out")" -eq 200000 ]
	[ "$(tail -1 "$T/out" | jq -c '[.op, .count]')" = '["commit",200000]' ]
	[ "$(grep -c '"op":"begin"' "$T/out")" -eq 1 ]
	grep -q '"key":{"id":200000},"after":{"id":200000,"a":0,"b":"name 200000","c":28571.428571428572}' "$T/out"
	rss=$(tail -1 "$T/rss")
	echo "max resident: $rss KB (limit $limit KB)"
	[ "$rss" -lt "$limit" ]
}
