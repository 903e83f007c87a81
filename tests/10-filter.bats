#!/usr/bin/env bats
# dblog-filter: pass-through, selection (-t -T -o -w -v), the expression
# language, transactions, projection (-c -x), masking, renaming, bad input
# (--dlq), buffering and write errors, and jq as an oracle for selection.
# The contract is doc/SPEC-foundation.md ("dblog-filter").
load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	# a deterministic stream for the oracle tests, made once per file
	gen_events -n 20000 -s 11 > "$BATS_FILE_TMPDIR/gen.ndjson"
}

setup() { setup_tmp; }
teardown() { teardown_tmp; }

# ---------------------------------------------------------------- helpers

# The one event the expression tests evaluate against.
expr_event() {
	cat > "$T/ev.ndjson" <<'EOF'
{"op":"update","table":"public.t","source":{"driver":"postgres","name":"app"},"tx":7,"pos":"0/9","seq":3,"commit_time":"2026-11-22T10:00:00.123456Z","id":"6d1b0e4a-8f3c-5e21-9a57-d20c61b37e90","key":{"id":5},"before":{"id":5,"s":"x","n":null,"only_b":"b","amount":"1.00"},"after":{"id":5,"amount":"12.50","f":0.1,"t":0.30000000000000004,"big":123456789012345678901234567890,"n53":9007199254740993,"neg":-3,"zero":"0.000","exp":"1E2","num_str":"12.5","flag":true,"off":false,"tags":[1,2],"tags2":[1,2],"tags3":[1, 2],"obj":{"a":1},"s":null,"name":"café","esc":"caf\u00e9","pct":"a%b","und":"a_b","u":"é😀","bs":"a\\b","word":"abc","EMAIL":"X@Y.Z","op":"odd","we\"ird":1,"a b":2,"ts":"2026-11-22T12:00:00+02:00","day":"2026-11-22"}}
EOF
}

# expr_table FILE: read "T EXPR" / "F EXPR" lines on stdin and check that
# dblog-filter -w EXPR passes (T) or drops (F) the one event in FILE.
# Every mismatch is reported, not just the first.
expr_table() {
	local file="$1" want expr out rc bad=0
	while read -r want expr; do
		[ -n "$want" ] || continue
		[ "$want" != "#" ] || continue
		rc=0
		out=$(dblog-filter -w "$expr" < "$file" 2>&1) || rc=$?
		if [ "$rc" -ne 0 ]; then
			echo "status $rc for [$expr]: $out"
			bad=1
			continue
		fi
		if [ -n "$out" ] && [ "$out" != "$(cat "$file")" ]; then
			echo "output changed for [$expr]: $out"
			bad=1
		fi
		local got=F
		[ -z "$out" ] || got=T
		if [ "$got" != "$want" ]; then
			echo "want $want, got $got: $expr"
			bad=1
		fi
	done
	return "$bad"
}

# A file of change events outside transactions, one per table and op.
tables_file() {
	cat > "$T/tables.ndjson" <<'EOF'
{"op":"insert","table":"public.orders","pos":"0/1","seq":0,"key":{"id":1},"after":{"id":1}}
{"op":"update","table":"public.order_items","pos":"0/1","seq":1,"key":{"id":1},"after":{"id":1}}
{"op":"delete","table":"public.customers","pos":"0/1","seq":2,"key":{"id":1},"before":{"id":1}}
{"op":"truncate","table":"sales.orders","pos":"0/1","seq":3}
{"op":"snapshot","table":"main.t","pos":"0/1","seq":4,"key":{"id":1},"after":{"id":1}}
{"op":"insert","table":"public.caf\u00e9","pos":"0/1","seq":5,"key":{"id":1},"after":{"id":1}}
EOF
}

# tables ARGS...: the tables (one line, space-separated) that dblog-filter
# ARGS keeps from tables_file.
tables() {
	dblog-filter "$@" < "$T/tables.ndjson" | jq -r .table | tr '\n' ' ' | sed 's/ $//'
}

# --------------------------------------------------------- pass-through

@test "no options: every event passes byte for byte, blank lines are skipped" {
	golden passthrough dblog-filter
	golden tx dblog-filter
	golden project dblog-filter
	golden adversarial dblog-filter
}

@test "events that pass a selection keep their bytes (odd spacing, escapes, key order)" {
	cat > "$T/in" <<'EOF'
{ "op" : "insert" , "table" : "public.a" , "pos":"0/1","seq":0 ,"after":{ "id" : 1, "v" : 1.50 }}
	{"table":"public.a","op":"update","pos":"0/1","seq":1,"after":{"s":"caf\u00e9 \/ \"q\""}}   
{"op":"insert","table":"public.b","pos":"0/1","seq":2}
{"op" : "heartbeat" ,"pos":"0/2"}
{ "op":"schema", "table":"public.a", "pos":"0/2", "columns":[ ] }
EOF
	run dblog-filter -t 'public.a' -o insert,update -w "pos = '0/1'" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '1,2p;4,5p' "$T/in")" ]
}

@test "a commit whose transaction lost no change keeps its bytes under a selection" {
	# only a commit of a transaction that lost changes is rewritten
	cat > "$T/in" <<'EOF'
{"op":"begin", "pos":"0/10"}
{"op":"insert","table":"public.a","pos":"0/10","seq":0,"after":{"id":1}}
{ "op" : "commit" , "pos" : "0/10" , "count" : 1 }
EOF
	run dblog-filter -t 'public.*' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in")" ]
}

@test "a last line without a newline is read, and written with one" {
	printf '{"op":"heartbeat","pos":"0/1"}\n{"op":"heartbeat", "pos":"0/2"}' > "$T/in"
	dblog-filter < "$T/in" > "$T/out"
	printf '{"op":"heartbeat","pos":"0/1"}\n{"op":"heartbeat", "pos":"0/2"}\n' | cmp - "$T/out"
}

# ------------------------------------------------------------ selection

@test "-t and -T select tables by glob; '*' matches '.'; lists and repeats add up" {
	tables_file
	[ "$(tables -t public.orders)" = "public.orders" ]
	[ "$(tables -t 'public.order*')" = "public.orders public.order_items" ]
	[ "$(tables -t '*orders')" = "public.orders sales.orders" ]
	[ "$(tables -t '*')" = "public.orders public.order_items public.customers sales.orders main.t public.café" ]
	[ "$(tables -t 'public.orders,sales.*')" = "public.orders sales.orders" ]
	[ "$(tables -t public.orders -t main.t)" = "public.orders main.t" ]
	[ "$(tables -t 'public.[cd]*')" = "public.customers public.café" ]
	# the decoded name is matched: "public.caf\u00e9" is public.café
	[ "$(tables -t 'public.café')" = "public.café" ]
	[ "$(tables -T 'public.*')" = "sales.orders main.t" ]
	[ "$(tables -T 'public.*,main.t')" = "sales.orders" ]
	[ "$(tables -t 'public.*' -T '*items' -T '*é')" = "public.orders public.customers" ]
	[ "$(tables -t nomatch)" = "" ]
	[ "$(tables -v -t 'public.*')" = "sales.orders main.t" ]
}

@test "-o keeps change ops; a control op or an unknown op is a usage error" {
	tables_file
	[ "$(dblog-filter -o insert,update < "$T/tables.ndjson" | jq -r .op | tr '\n' ' ')" = "insert update insert " ]
	[ "$(dblog-filter -o delete -o truncate < "$T/tables.ndjson" | jq -r .op | tr '\n' ' ')" = "delete truncate " ]
	[ "$(dblog-filter -o snapshot < "$T/tables.ndjson" | jq -r .table)" = "main.t" ]
	[ "$(dblog-filter -v -o insert < "$T/tables.ndjson" | jq -r .op | tr '\n' ' ')" = "update delete truncate snapshot " ]
	[ "$(dblog-filter -t 'public.*' -o insert < "$T/tables.ndjson" | jq -r .table | tr '\n' ' ')" = "public.orders public.café " ]
	for op in begin commit schema heartbeat nope; do
		run dblog-filter -o "insert,$op" < "$T/tables.ndjson"
		[ "$status" -eq 2 ] || { echo "-o $op: status $status"; return 1; }
		[[ "$output" == *"$op"* ]]
		[[ "$output" == *"Try 'dblog-filter --help'."* ]]
	done
}

@test "the EXPR argument is the same as -w; giving both, or two, is a usage error" {
	tables_file
	a=$(dblog-filter -w "op = 'delete' OR table LIKE 'sales.%'" < "$T/tables.ndjson")
	b=$(dblog-filter "op = 'delete' OR table LIKE 'sales.%'" < "$T/tables.ndjson")
	[ "$a" = "$b" ]
	[ "$(echo "$a" | jq -r .table | tr '\n' ' ')" = "public.customers sales.orders " ]
	run dblog-filter -w "op = 'insert'" "op = 'delete'" < "$T/tables.ndjson"
	[ "$status" -eq 2 ]
	[ -z "$(echo "$output" | grep '^{')" ]
	run dblog-filter "op = 'insert'" "op = 'delete'" < "$T/tables.ndjson"
	[ "$status" -eq 2 ]
	run dblog-filter -w "op = 'insert'" -w "op = 'delete'" < "$T/tables.ndjson"
	[ "$status" -eq 2 ]
}

# ---------------------------------------------------------- expressions

@test "expressions: comparison operators over the event fields" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T op = 'update'
T op == 'update'
F op = 'insert'
T op != 'insert'
T op <> 'insert'
F op != 'update'
F op <> 'update'
T seq < 4
F seq < 3
T seq <= 3
F seq > 3
T seq >= 3
T seq > 2
T tx = 7
T table = 'public.t'
T source.name = 'app'
T source.driver == 'postgres'
F source.name = 'other'
T id = '6d1b0e4a-8f3c-5e21-9a57-d20c61b37e90'
T key.id = 5
F key.id = 6
T before.id = 5
T after.id = 5
T commit_time = '2026-11-22T10:00:00.123456Z'
T word > 'abb'
T word < 'abd'
F word < 'abc'
T word <= 'abc'
T word >= 'abc'
# strings compare by code point (byte-wise UTF-8): é and 😀 sort after z
T u > 'z'
T name > 'cafz'
T 'it''s' = 'it''s'
T 1 = 1
F 1 = 2
EOF
}

@test "expressions: keywords are case-insensitive; NOT binds tighter than AND, AND tighter than OR" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T op = 'update' and seq = 3
T op = 'x' Or seq = 3
T op iN ('update')
T n iS nUlL
T word Is NoT nUlL
T word iLiKe 'ABC'
T word lIkE 'a%'
T word NoT lIkE 'x%'
T not op = 'x'
T flag = true
T off = False
T n = NuLl OR flag
T op = 'update' OR op = 'x' AND seq = 4
F (op = 'update' OR op = 'x') AND seq = 4
F NOT op = 'x' AND seq = 4
T NOT (op = 'x' AND seq = 4)
T NOT op = 'update' OR seq = 3
F NOT (op = 'update' OR seq = 3)
T NOT NOT flag
T ((( flag )))
T op = 'x' OR op = 'y' OR op = 'update'
F op = 'update' AND seq = 3 AND tx = 8
EOF
}

@test "expressions: NULL rules (missing or null is false for every operator but !=)" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T n IS NULL
T missing IS NULL
T after.missing IS NULL
T key.missing IS NULL
F n IS NOT NULL
F missing IS NOT NULL
T word IS NOT NULL
F missing = 1
T missing != 1
T missing <> 1
F missing < 1
F missing <= 1
F missing > 1
F missing >= 1
F missing = missing
T missing != missing
T NOT missing = 1
F n = 1
T n != 1
F n < 1
F n >= 1
F n = NULL
T n != NULL
F NULL = NULL
F word = NULL
T word != NULL
F word < NULL
F n IN (NULL)
F missing IN (1, NULL)
T missing NOT IN (1)
F missing LIKE '%'
T missing NOT LIKE '%'
F n LIKE '%'
F missing
T NOT missing
F n
EOF
}

@test "expressions: numbers compare as exact decimals, also against numeric strings" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T amount = 12.5
T amount = 12.50
T amount = 12.500000
T amount = 1.25e1
T amount = 1250e-2
T amount > 12.49
F amount > 12.5
T amount < 12.500000000000000000001
T amount >= 12.5
T f = 0.10
T f = '0.1'
T f = '0.10'
T 0.1 = 0.10
T 1 = 1.0
T 1e3 = 1000
T -0 = 0
F t = 0.3
T t > 0.3
T t < 0.30000000000000005
T big = 123456789012345678901234567890
F big = 123456789012345678901234567891
T big < 123456789012345678901234567891
T big > 123456789012345678901234567889
T big = 1.2345678901234567890123456789e29
F big > 1.2345678901234567890123456789e29
F n53 = 9007199254740992
T n53 > 9007199254740992
T n53 = 9007199254740993
T neg < -2.99
T neg > -3.01
T neg = -3.0
F neg > -3
T zero = 0
T zero = -0
T exp = 100
T num_str = 12.5
T num_str = 12.50
T before.amount = 1
# two strings compare byte-wise even when they hold numbers
F amount = '12.5'
F num_str = '12.50'
T amount > '12.4999'
# a string that is not a number never equals a number
F word = 0
T word != 0
F word < 1
F word > 1
F flag = 1
EOF
}

@test "expressions: RFC 3339 times compare as times, offsets honoured" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T commit_time = '2026-11-22T12:00:00.123456+02:00'
T commit_time = '2026-11-22T05:00:00.123456-05:00'
T commit_time = '2026-11-22T10:00:00.123456+00:00'
T commit_time > '2026-11-22T11:00:00+02:00'
F commit_time > '2026-11-22T11:00:00+00:00'
T commit_time < '2026-11-22T11:00:00+00:00'
T commit_time < '2026-11-22 10:00:01Z'
T commit_time > '2026-11-22'
T commit_time < '2026-11-23'
T commit_time >= '2026-11-22T10:00:00.123456Z'
F commit_time > '2026-11-22T10:00:00.123456Z'
T commit_time > '2026-11-22T10:00:00.123455Z'
T ts = '2026-11-22T10:00:00Z'
T ts < commit_time
F ts > commit_time
T day < commit_time
T day = '2026-11-22T00:00:00Z'
T day = '2026-11-22T01:00:00+01:00'
EOF
}

@test "expressions: pos compares as an LSN (or a sequence number)" {
	cat > "$T/pg.ndjson" <<'EOF'
{"op":"insert","table":"public.t","pos":"0/16B3748","seq":0,"after":{"id":1}}
EOF
	cat > "$T/lite.ndjson" <<'EOF'
{"op":"insert","table":"main.t","pos":42,"seq":0,"after":{"id":1}}
EOF
	expr_table "$T/pg.ndjson" <<'EOF'
T pos = '0/16B3748'
T pos = '0/16b3748'
T pos > '0/99999'
F pos < '0/99999'
T pos < '0/16B3749'
T pos > '0/16B3747'
T pos < '1/0'
T pos > '0/FFFFFF'
T pos <= '0/16B3748'
T pos IN ('0/1', '0/16b3748')
T '0/16C0000' > pos
EOF
	expr_table "$T/lite.ndjson" <<'EOF'
T pos = 42
T pos > 9
T pos < 100
T pos = '42'
F pos > 42
EOF
}

@test "expressions: LIKE and ILIKE (% and _ over characters, backslash escapes)" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T word LIKE 'abc'
F word LIKE 'ab'
F word LIKE 'abcd'
T word LIKE 'a%'
T word LIKE '%c'
T word LIKE '%b%'
T word LIKE 'a%b%c'
T word LIKE '%'
T word LIKE '%%'
T word LIKE 'a_c'
T word LIKE '___'
F word LIKE '__'
F word LIKE 'ABC'
T word ILIKE 'ABC'
T word ILIKE 'A%'
T EMAIL ILIKE 'x@y.z'
F EMAIL LIKE 'x@y.z'
T name LIKE 'caf_'
F name LIKE 'caf__'
T name LIKE '%é'
T name ILIKE 'CAF_'
F name ILIKE 'CAFÉ'
T esc LIKE 'caf_'
T esc = 'café'
T u LIKE '__'
F u LIKE '_'
F u LIKE '___'
T u LIKE 'é_'
T u LIKE '_😀'
T u LIKE '%😀'
T pct LIKE 'a\%b'
F word LIKE 'a\%c'
T und LIKE 'a\_b'
F word LIKE 'a\_c'
T bs LIKE 'a\\b'
F word LIKE 'a\\c'
T word NOT LIKE 'x%'
F word NOT LIKE 'a%'
T word NOT ILIKE 'X%'
F word NOT ILIKE 'A%'
T amount LIKE '12.5_'
F amount LIKE '12.5'
EOF
}

@test "expressions: IN and NOT IN" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T op IN ('insert', 'update')
F op IN ('insert', 'delete')
T op NOT IN ('insert')
F op NOT IN ('insert', 'update')
T seq IN (3)
T after.id IN (1, 5.0)
T after.id IN ('5')
T after.id IN ('5.00', 7)
T amount IN (12.5, 99)
F amount IN ('12.5')
T flag IN (TRUE)
F off IN (TRUE)
T commit_time IN ('2026-11-22T12:00:00.123456+02:00')
T after.id NOT IN (1, 2)
F after.id NOT IN (5)
T word IN ('x', 'abc', 'y')
EOF
}

@test "expressions: \"double quotes\" name columns; bare COL is after.COL, else before.COL" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T "op" = 'odd'
T op = 'update'
T after."op" = 'odd'
T "we""ird" = 1
T after."we""ird" = 1
T "a b" = 2
T after."a b" = 2
T "EMAIL" = 'X@Y.Z'
T "seq" IS NULL
T seq IS NOT NULL
T "word" = word
T only_b = 'b'
T after.only_b IS NULL
T before.s = 'x'
F s = 'x'
T s IS NULL
T amount = 12.5
T before.amount = 1
F before.amount = 12.5
EOF
}

@test "expressions: booleans, objects and arrays, mismatched types" {
	expr_event
	expr_table "$T/ev.ndjson" <<'EOF'
T flag
F off
T NOT off
F word
T flag = TRUE
T off = FALSE
F flag = FALSE
T flag > off
T off < TRUE
F flag < off
T flag >= TRUE
F flag = 'true'
T flag != 'true'
F flag = 1
T flag != 1
F flag < 2
F word > TRUE
T tags = tags2
F tags = tags3
T tags != tags3
F tags < tags2
F tags > tags3
F tags = '[1,2]'
T tags != '[1,2]'
T obj = after.obj
F obj = '{"a":1}'
F obj = tags
T obj != tags
F obj < tags
EOF
}

@test "an expression syntax error is a usage error naming the 1-based column" {
	run dblog-filter 'a >' < /dev/null
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "dblog-filter: expression: column 4: expected a field or a value: a >" ]
	[ "${lines[1]}" = "Try 'dblog-filter --help'." ]
	bad=0
	while IFS='|' read -r col expr; do
		run dblog-filter -w "$expr" < /dev/null
		if [ "$status" -ne 2 ] || [[ "${lines[0]}" != "dblog-filter: expression: column $col: "*": $expr" ]]; then
			echo "[$expr]: status $status: ${lines[0]} (want column $col)"
			bad=1
		fi
	done <<'EOF'
6|op = 
10|(op = 'x'
9|op = 'x')
10|op = 'x' foo
10|a = 1 AND
1|AND a = 1
6|op = 'abc
1|"abc = 1
1|foo.bar = 1
7|op IN 1
7|op IS 1
8|after. = 1
12|op IN ('a' 'b')
EOF
	[ "$bad" -eq 0 ]
	run dblog-filter -w '' < /dev/null
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == "dblog-filter: expression: column 1: "* ]]
}

# --------------------------------------------------------- transactions

@test "transactions: begin held, heartbeat for an all-dropped transaction, count rewritten, schema follows its table" {
	golden tx-table dblog-filter -t public.a
	# the same selection made with -T, -o and -w gives the same stream
	dblog-filter -T public.b < "$TESTS_DIR/golden/tx.in.ndjson" | diff -u "$TESTS_DIR/golden/tx-table.out.ndjson" -
	dblog-filter "table = 'public.a'" < "$TESTS_DIR/golden/tx.in.ndjson" > "$T/w"
	# -w does not select schema events: they follow -t/-T only
	grep -c '"op":"schema"' "$T/w" | grep -qx 2
	[ "$(changes_only < "$T/w")" = "$(changes_only < "$TESTS_DIR/golden/tx-table.out.ndjson")" ]
}

@test "transactions: -v keeps the dropped changes, and every schema event" {
	golden tx-invert dblog-filter -v -t public.a
}

@test "transactions: a dropped transaction's heartbeat copies source, pos and commit_time only" {
	cat > "$T/in" <<'EOF'
{"op":"begin","source":{"driver":"sqlite","name":"s"},"tx":1,"pos":7,"commit_time":"2026-11-22T10:00:00.000000Z"}
{"op":"insert","table":"main.x","source":{"driver":"sqlite","name":"s"},"tx":1,"pos":7,"seq":0,"after":{"id":1}}
{"op":"commit","source":{"driver":"sqlite","name":"s"},"tx":1,"pos":7,"commit_time":"2026-11-22T10:00:00.000000Z","count":1,"origin":"o"}
EOF
	run dblog-filter -o delete < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = '{"op":"heartbeat","source":{"driver":"sqlite","name":"s"},"pos":7,"commit_time":"2026-11-22T10:00:00.000000Z"}' ]
}

@test "transactions: every passing change of a big transaction follows its one begin" {
	{
		echo '{"op":"begin","tx":1,"pos":"0/10"}'
		for i in $(seq 0 999); do
			echo '{"op":"insert","table":"public.'$((i % 2 ? 1 : 2))'","tx":1,"pos":"0/10","seq":'$i'}'
		done
		echo '{"op":"commit","tx":1,"pos":"0/10","count":1000}'
	} > "$T/in"
	dblog-filter -t public.1 < "$T/in" > "$T/out"
	[ "$(wc -l < "$T/out")" -eq 502 ]
	[ "$(head -1 "$T/out")" = '{"op":"begin","tx":1,"pos":"0/10"}' ]
	[ "$(sed -n 2p "$T/out")" = '{"op":"insert","table":"public.1","tx":1,"pos":"0/10","seq":1}' ]
	[ "$(tail -1 "$T/out")" = '{"op":"commit","tx":1,"pos":"0/10","count":500}' ]
}

# ----------------------------------------------------------- projection

@test "-c keeps only the listed columns (key columns kept; unchanged and schema columns follow)" {
	golden project-columns dblog-filter -c email
}

@test "-x drops the listed columns (key columns kept; unchanged and schema columns follow)" {
	golden project-exclude dblog-filter -x secret,doc
	# a key column named in -x stays, in key and in after/before
	dblog-filter -x id,email < "$TESTS_DIR/golden/project.in.ndjson" > "$T/out"
	jq_true "$T/out" -s 'map(select(.op == "insert" and .table == "public.users")) |
		length == 1 and .[0].key == {"id":1} and .[0].after.id == 1 and (.[0].after | has("email") | not)'
	jq_true "$T/out" -s 'map(select(.op == "schema")) | length == 1 and [.[0].columns[].name] == ["id","name","doc","secret"]'
}

@test "-c and -x combine; comma lists and repeats add up" {
	a=$(dblog-filter -c email,name -x name < "$TESTS_DIR/golden/project.in.ndjson")
	b=$(dblog-filter -c email < "$TESTS_DIR/golden/project.in.ndjson")
	[ "$a" = "$b" ]
	c=$(dblog-filter -x secret -x doc < "$TESTS_DIR/golden/project.in.ndjson")
	[ "$c" = "$(cat "$TESTS_DIR/golden/project-exclude.out.ndjson")" ]
}

# -------------------------------------------------------------- masking

mask_events() {
	cat > "$T/m.ndjson" <<'EOF'
{"op":"insert","table":"public.users","pos":"0/1","seq":0,"key":{"id":5},"after":{"id":5,"email":"a@example.com","n9":999999999,"n12":123456789012,"neg":-42,"f":1.5,"z":null,"b":true,"bf":false,"o":{"x":1},"arr":[1,2],"s2":"a@example.com","keep":"plain"}}
{"op":"update","table":"public.other","pos":"0/1","seq":1,"key":{"mail":"a@example.com"},"before":{"mail":"a@example.com","id":5},"after":{"mail":"b@example.com","id":6}}
EOF
}

@test "--mask: keyed hash; null and booleans kept, integers stay integers, the rest 32 hex digits" {
	mask_events
	dblog-filter --mask id,email,n9,n12,neg,f,z,b,bf,o,arr,s2,mail --mask-key k1 < "$T/m.ndjson" > "$T/out"
	[ "$(wc -l < "$T/out")" -eq 2 ]
	jq_true "$T/out" -s '.[0] as $a | $a.after as $v |
		($v.email | type == "string" and test("^[0-9a-f]{32}$")) and
		($v.f | type == "string" and test("^[0-9a-f]{32}$")) and
		($v.o | type == "string" and test("^[0-9a-f]{32}$")) and
		($v.arr | type == "string" and test("^[0-9a-f]{32}$")) and
		$v.z == null and $v.b == true and $v.bf == false and $v.keep == "plain" and
		($v.id | type == "number" and . == floor and . >= 0 and . <= 2147483646) and
		($v.n9 | type == "number" and . == floor and . >= 0 and . <= 2147483646) and
		($v.neg | type == "number" and . == floor and . >= 0 and . <= 2147483646) and
		($v.n12 | type == "number" and . == floor and . >= 0 and . <= 9007199254740991) and
		$v.id != 5 and $v.n9 != 999999999 and $v.email != "a@example.com" and
		$a.key.id == $v.id and $v.s2 == $v.email'
	# joinable across tables and columns; different values differ
	jq_true "$T/out" -s '.[0].after.email as $e | .[1] |
		.key.mail == $e and .before.mail == $e and .after.mail != $e and
		(.after.mail | test("^[0-9a-f]{32}$")) and .before.id != .after.id'
	# the fields that are not masked are untouched
	jq_true "$T/out" -s '.[1] | .op == "update" and .table == "public.other" and .pos == "0/1" and .seq == 1'
}

@test "--mask: deterministic, key-dependent; the key from --mask-key, --mask-key-file or DBLOG_MASK_KEY" {
	mask_events
	m='id,email,n12,mail'
	a=$(dblog-filter --mask "$m" --mask-key k1 < "$T/m.ndjson")
	b=$(dblog-filter --mask "$m" --mask-key k1 < "$T/m.ndjson")
	[ "$a" = "$b" ]
	c=$(DBLOG_MASK_KEY=k1 dblog-filter --mask "$m" < "$T/m.ndjson")
	[ "$a" = "$c" ]
	printf 'k1\n' > "$T/key"
	d=$(env -u DBLOG_MASK_KEY dblog-filter --mask "$m" --mask-key-file "$T/key" < "$T/m.ndjson")
	[ "$a" = "$d" ]
	e=$(dblog-filter --mask "$m" --mask-key k2 < "$T/m.ndjson")
	[ "$a" != "$e" ]
	[ "$(echo "$a" | jq -s '.[0].after.email')" != "$(echo "$e" | jq -s '.[0].after.email')" ]
	[ "$(echo "$a" | jq -s '.[0].after.id')" != "$(echo "$e" | jq -s '.[0].after.id')" ]
	[ "$(echo "$a" | jq -s '.[0].after.n12')" != "$(echo "$e" | jq -s '.[0].after.n12')" ]
}

@test "--mask without a key is a usage error" {
	mask_events
	run env -u DBLOG_MASK_KEY dblog-filter --mask email < "$T/m.ndjson"
	[ "$status" -eq 2 ]
	[[ "$output" == *"key"* ]]
	[[ "$output" == *"Try 'dblog-filter --help'."* ]]
	[[ "$output" != *"example.com"* ]]
	run env DBLOG_MASK_KEY= dblog-filter --mask email < "$T/m.ndjson"
	[ "$status" -eq 2 ]
}

@test "--mask: up to 9 digits maps into 0..2^31-2, longer integers into 0..2^53-1" {
	for i in $(seq 1 300); do
		echo '{"op":"insert","table":"t","after":{"a":'$((100000000 + i))',"b":'$((100000000000 + i))',"c":-'$i'}}'
	done > "$T/in"
	dblog-filter --mask a,b,c --mask-key k < "$T/in" > "$T/out"
	jq_true "$T/out" -s '
		([.[].after.a] | all(type == "number" and . == floor and . >= 0 and . <= 2147483646)) and
		([.[].after.c] | all(type == "number" and . == floor and . >= 0 and . <= 2147483646)) and
		([.[].after.b] | all(type == "number" and . == floor and . >= 0 and . <= 9007199254740991)) and
		([.[].after.b] | max > 2147483647) and
		([.[].after.a] | unique | length > 295) and
		([.[].after.b] | unique | length > 295)'
}

@test "--mask and -c: a masked key column is kept and masked like the same value elsewhere" {
	mask_events
	dblog-filter -c email --mask id,email --mask-key k1 < "$T/m.ndjson" > "$T/out"
	jq_true "$T/out" -s '.[0] | (.after | keys) == ["email","id"] and .key.id == .after.id and .after.id != 5'
}

# -------------------------------------------------------------- renaming

@test "--rename-table: globs, first match wins, '*' carried over, schema events too" {
	golden rename dblog-filter --rename-table 'public.audit=first.audit' \
		--rename-table 'public.*=staging.*' --rename-table '*.log=logs.*' \
		--rename-table 'legacy.*=archive.all'
	# odd names are written as valid JSON strings, in the quoting of
	# dblog-event(5); an old event's name (app.events.log, written before
	# the quoting) is read as events were then: split at the first dot
	jq_true "$TESTS_DIR/golden/rename.out.ndjson" -s '[.[].table // empty] |
		index("staging.\"we\"\"ird\"") != null and index("logs.\"app.events\"") != null'
}

@test "--rename-table applies after selection by the original name" {
	dblog-filter -t 'public.a' --rename-table 'public.*=s.*' < "$TESTS_DIR/golden/tx.in.ndjson" > "$T/out"
	[ "$(jq -r 'select(.op != "heartbeat") | .table // empty' "$T/out" | sort -u)" = "s.a" ]
	[ "$(changes_only < "$T/out" | wc -l)" -eq 5 ]
	run dblog-filter --rename-table 'nonsense' < /dev/null
	[ "$status" -eq 2 ]
}

@test "--rename-table: '*' gets what it matched when FROM also has [...] or ?" {
	echo '{"op":"insert","table":"public.orders","after":{"id":1}}' > "$T/in"
	run dblog-filter --rename-table '[p]ublic.*=s.*' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .table)" = "s.orders" ]
	run dblog-filter --rename-table 'public.*[s]=s.*' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .table)" = "s.order" ]
	run dblog-filter --rename-table 'p?blic.*=s.*' < "$T/in"
	[ "$(echo "$output" | jq -r .table)" = "s.orders" ]
}

@test "--rename-table: a FROM glob longer than the name it matches does not crash" {
	echo '{"op":"insert","table":"a.b","after":{"id":1}}' > "$T/in"
	run timeout -s KILL 3 dblog-filter --rename-table '[abcdefghij]*=s.*' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .table)" = 's.".b"' ]
}

# ----------------------------------------------------------- bad input

@test "bad input lines: status 1, 'line N' and the reason on stderr, the events before written" {
	good1='{"op":"heartbeat","pos":"0/1"}'
	good2='{"op":"insert","table":"public.a","pos":"0/1","seq":0}'
	bad=0
	while IFS='|' read -r why line; do
		printf '%s\n%s\n%s\n%s\n' "$good1" "$good2" "$line" "$good1" > "$T/in"
		run --separate-stderr dblog-filter < "$T/in"
		if [ "$status" -ne 1 ] || [ "$output" != "$good1"$'\n'"$good2" ] ||
		   [[ "$stderr" != "dblog-filter: line 3: "*"$why"* ]]; then
			echo "[$line]: status $status, stdout [$output], stderr [$stderr], want [$why]"
			bad=1
		fi
	done <<'EOF'
malformed JSON at column 15|{"op":"insert"
malformed JSON at column 1|nope
malformed JSON at column 28|{"op":"insert","table":"t",}
malformed JSON at column 32|{"op":"insert","table":"t","a":1.}
malformed JSON at column 32|{"op":"insert","table":"t","a":tru}
malformed JSON at column 33|{"op":"insert","table":"t","a":"\x"}
not a JSON object|[1,2]
not a JSON object|"str"
not a JSON object|42
unknown op|{"op":"frobnicate","table":"t"}
unknown op|{"op":"INSERT","table":"t"}
missing field "op"|{"table":"t"}
missing field "table"|{"op":"insert","after":{}}
missing field "table"|{"op":"schema","pos":"0/1"}
field "op"|{"op":1}
field "table" must be a string|{"op":"insert","table":5}
field "table" must be a string|{"op":"insert","table":null}
field "seq"|{"op":"insert","table":"t","seq":"1"}
field "after"|{"op":"insert","table":"t","after":[1]}
field "before"|{"op":"insert","table":"t","before":"x"}
field "key"|{"op":"insert","table":"t","key":5}
field "pos"|{"op":"insert","table":"t","pos":true}
field "source"|{"op":"insert","table":"t","source":"x"}
field "unchanged"|{"op":"insert","table":"t","unchanged":"b"}
field "count"|{"op":"commit","count":"1"}
field "commit_time"|{"op":"insert","table":"t","commit_time":5}
surrogate|{"op":"insert","table":"t","after":{"a":"\ud800"}}
surrogate|{"op":"insert","table":"t","after":{"a":"\udc00x"}}
surrogate|{"op":"insert","table":"t","after":{"a":"\ud800\u0041"}}
surrogate|{"op":"insert","table":"t\ud83d"}
malformed JSON at column 20: unexpected characters after the event object|{"op":"heartbeat"} x
unexpected characters after the event object|{"op":"heartbeat"}{}
unexpected characters after the event object|{"op":"heartbeat"},
EOF
	# bytes that are not UTF-8, and a raw control character in a string
	while IFS='|' read -r why fmt; do
		printf '%s\n%s\n'"$fmt"'\n%s\n' "$good1" "$good2" "$good1" > "$T/in"
		run --separate-stderr dblog-filter < "$T/in"
		if [ "$status" -ne 1 ] || [ "$output" != "$good1"$'\n'"$good2" ] ||
		   [[ "$stderr" != "dblog-filter: line 3: "*"$why"* ]]; then
			echo "[$fmt]: status $status, stdout [$output], stderr [$stderr], want [$why]"
			bad=1
		fi
	done <<'EOF'
invalid UTF-8|{"op":"insert","table":"t","after":{"a":"\xff"}}
invalid UTF-8|{"op":"insert","table":"t","after":{"a":"\xc3\x28"}}
invalid UTF-8|{"op":"insert","table":"t\xc0\xaf"}
invalid UTF-8|{"op":"insert","table":"t\xed\xa0\x80"}
invalid UTF-8|{"op":"insert","table":"t\xf4\x90\x80\x80"}
invalid UTF-8|{"op":"insert","table":"t","after":{"a":"\xe2\x82"}}
malformed JSON at column 1|\xef\xbb\xbf{"op":"heartbeat"}
control character|{"op":"insert","table":"t","after":{"a":"x\ty"}}
control character|{"op":"insert","table":"t","after":{"a":"x\x01y"}}
EOF
	[ "$bad" -eq 0 ]
}

@test "filter: input cut off inside its last line: a warning, the whole lines passed, status 0" {
	printf '{"op":"insert","table":"a","pos":"0/1","seq":0}\n{"op":"insert","tab' > "$T/in"
	run --separate-stderr dblog-filter < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = '{"op":"insert","table":"a","pos":"0/1","seq":0}' ]
	[[ "$stderr" == "dblog-filter: warning: line 2: the input ends inside this line"* ]]
}

@test "bad input: blank lines are skipped but counted in 'line N'" {
	printf '{"op":"heartbeat","pos":"0/1"}\n\n   \n\t\n{"op":"heartbeat","pos":"0/2"}\n \t \nbroken\n' > "$T/in"
	run --separate-stderr dblog-filter < "$T/in"
	[ "$status" -eq 1 ]
	[ "$output" = '{"op":"heartbeat","pos":"0/1"}'$'\n''{"op":"heartbeat","pos":"0/2"}' ]
	[[ "$stderr" == "dblog-filter: line 7: "* ]]
	[[ "$stderr" == *"--dlq"* ]]
}

@test "bad input: everything before the bad line is written, beyond the output buffer" {
	gen_events -n 5000 -s 3 > "$T/in"
	good=$(wc -l < "$T/in")
	echo '{"op":"insert","table":"t","after":' >> "$T/in"
	gen_events -n 10 -s 4 >> "$T/in"
	run --separate-stderr dblog-filter < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dblog-filter: line $((good + 1)): "* ]]
	dblog-filter < "$T/in" 2>/dev/null | cmp - <(head -n "$good" "$T/in")
	# with a selection, the changes that passed are out too
	dblog-filter -t 'public.orders' < "$T/in" 2>/dev/null | changes_only > "$T/got" || true
	head -n "$good" "$T/in" | changes_only | jq -c 'select(.table == "public.orders")' | diff - "$T/got"
}

@test "--dlq FILE parks bad lines as JSON records and goes on" {
	cat > "$T/in" <<'EOF'
{"op":"insert","table":"public.a","pos":"0/1","seq":0}
{"op":"insert",

{"op":"nope","table":"t"}
[1, 2]
{"op":"heartbeat","pos":"0/2"}
{ "op" : "delete" , "x":"caf\u00e9" }
EOF
	run --separate-stderr dblog-filter --dlq "$T/dlq" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '1p;6p' "$T/in")" ]
	[[ "$stderr" == *"4 "*"$T/dlq"* ]]
	[ "$(wc -l < "$T/dlq")" -eq 4 ]
	jq_true "$T/dlq" -s 'length == 4 and all(.program == "dblog-filter") and [.[].line] == [2, 4, 5, 7] and
		all(.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$")) and
		(.[0].error | test("malformed JSON at column")) and .[0].raw == "{\"op\":\"insert\"," and
		(.[0] | has("event") | not) and
		(.[1].error | test("unknown op")) and .[1].event == {"op":"nope","table":"t"} and
		(.[1] | has("raw") | not) and
		(.[2].error | test("not a JSON object")) and .[2].event == [1, 2] and
		(.[3].error | test("missing field \"table\"")) and .[3].event == {"op":"delete","x":"café"}'
	# the original object is embedded verbatim
	grep -qF '"event":{ "op" : "delete" , "x":"caf\u00e9" }' "$T/dlq"
	grep -qF '"event":[1, 2]' "$T/dlq"
	# the file is appended to
	dblog-filter --dlq "$T/dlq" < "$T/in" > /dev/null 2>&1
	[ "$(jq -s length "$T/dlq")" -eq 8 ]
	[ "$(jq -s '[.[].line]' -c "$T/dlq")" = "[2,4,5,7,2,4,5,7]" ]
}

@test "--dlq: a line that is not UTF-8 or has a lone surrogate is parked as valid JSON" {
	printf '{"op":"insert","table":"t","after":{"a":"\xff\xfe"}}\n{"op":"insert","table":"t","after":{"a":"\\ud800"}}\n{"op":"heartbeat","pos":"0/1"}\n' > "$T/in"
	run --separate-stderr dblog-filter --dlq "$T/dlq" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = '{"op":"heartbeat","pos":"0/1"}' ]
	[ "$(wc -l < "$T/dlq")" -eq 2 ]
	# every record is valid JSON: UTF-8 text, parsed by jq
	is_utf8 "$T/dlq"
	jq_true "$T/dlq" -s 'length == 2 and [.[].line] == [1, 2]'
	# a line that is not UTF-8 is kept byte for byte as hex
	jq_true "$T/dlq" -s '.[0].raw_hex == "7b226f70223a22696e73657274222c227461626c65223a2274222c226166746572223a7b2261223a22fffe227d7d"'
	jq_true "$T/dlq" -s '.[1].raw == "{\"op\":\"insert\",\"table\":\"t\",\"after\":{\"a\":\"\\ud800\"}}"'
}

@test "--dlq FILE that cannot be opened is an error before reading" {
	run dblog-filter --dlq "$T/no/such/dir/dlq" < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/no/such/dir/dlq"* ]]
}

# ------------------------------------------------------- output and I/O

@test "output to /dev/full fails with status 1 and a message" {
	run bash -c "dblog-filter < '$TESTS_DIR/golden/tx.in.ndjson' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-filter: "*"standard output"* ]]
	gen_events -n 5000 -s 1 > "$T/in"
	run bash -c "dblog-filter -t 'public.*' < '$T/in' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-filter: "*"standard output"* ]]
	run bash -c "dblog-filter -u < '$T/in' > /dev/full"
	[ "$status" -eq 1 ]
}

@test "output is flushed before every read: events come out while input is open" {
	mkfifo "$T/fifo"
	for u in "" -u; do
		rm -f "$T/out"
		dblog-filter $u -t 'public.a' < "$T/fifo" > "$T/out" 3>&- &
		pid=$!
		exec 5> "$T/fifo"
		echo '{"op":"insert","table":"public.a","pos":"0/1","seq":0}' >&5
		echo '{"op":"insert","table":"public.b","pos":"0/1","seq":1}' >&5
		wait_until 10 grep -q 'public.a' "$T/out"
		echo '{"op":"heartbeat","pos":"0/2"}' >&5
		wait_until 10 grep -q 'heartbeat' "$T/out"
		exec 5>&-
		wait "$pid"
		[ "$(wc -l < "$T/out")" -eq 2 ]
	done
}

@test "-u writes every event as it goes (one write per event)" {
	command -v strace > /dev/null || skip "strace is not installed"
	printf '%s\n' '{"op":"heartbeat","pos":"0/1"}' '{"op":"heartbeat","pos":"0/2"}' \
		'{"op":"heartbeat","pos":"0/3"}' '{"op":"heartbeat","pos":"0/4"}' > "$T/in"
	# LeakSanitizer cannot run under ptrace
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=write -o "$T/u.trace" \
		dblog-filter -u < "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	[ "$(grep -c '^[0-9 ]*write(1, ' "$T/u.trace")" -eq 4 ]
	ASAN_OPTIONS=detect_leaks=0 strace -f -e trace=write -o "$T/b.trace" \
		dblog-filter < "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	[ "$(grep -c '^[0-9 ]*write(1, ' "$T/b.trace")" -eq 1 ]
}

@test "SIGTERM stops the filter cleanly: status 0, what passed is written" {
	mkfifo "$T/fifo"
	dblog-filter < "$T/fifo" > "$T/out" 3>&- &
	pid=$!
	exec 5> "$T/fifo"
	echo '{"op":"heartbeat","pos":"0/1"}' >&5
	wait_until 10 grep -q heartbeat "$T/out"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 5>&-
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/out")" = '{"op":"heartbeat","pos":"0/1"}' ]
}

# ---------------------------------------------------------- jq as oracle

# The value of bare COL for jq: after.COL if after has it, else before.COL.
JQ_COL='def col(c): if (.after | type) == "object" and (.after | has(c)) then .after[c] else (.before // {})[c] end;
def hex: ascii_upcase | explode | map(if . >= 65 then . - 55 else . - 48 end) | reduce .[] as $d (0; . * 16 + $d);
def lsn: split("/") | (.[0] | hex) * 4294967296 + (.[1] | hex);'

# oracle FILE JQ_PREDICATE FILTER_ARGS...: the change events dblog-filter
# ARGS keeps from FILE are those jq selects with the predicate, and the
# predicate keeps some but not all of them.
oracle() {
	local file="$1" pred="$2"; shift 2
	local all="$BATS_FILE_TMPDIR/$(basename "$file").changes"
	# the change events of FILE, normalised once per file
	[ -s "$all" ] || changes_only < "$file" > "$all"
	dblog-filter "$@" < "$file" | changes_only > "$T/got"
	jq -c "$JQ_COL select($pred)" "$all" > "$T/want"
	if ! diff -u "$T/want" "$T/got" > "$T/diff"; then
		echo "dblog-filter $* differs from jq 'select($pred)':"
		head -20 "$T/diff"
		return 1
	fi
	local n total
	n=$(wc -l < "$T/want")
	total=$(wc -l < "$all")
	[ "$n" -gt 0 ] && [ "$n" -lt "$total" ] || { echo "not a selective case: $n of $total for $*"; return 1; }
}

@test "jq oracle: -t, -T, -o and -v on generated events" {
	G="$BATS_FILE_TMPDIR/gen.ndjson"
	oracle "$G" '.table | startswith("public.order")' -t 'public.order*'
	oracle "$G" '.table == "public.orders" or .table == "public.payments"' -t 'public.orders,public.payments'
	oracle "$G" '.table | endswith("s") | not' -T 'public.*s'
	oracle "$G" '(.table | startswith("public.")) and (.table | test("_") | not)' -t 'public.*' -T '*_*'
	oracle "$G" '.op == "insert" or .op == "delete"' -o insert,delete
	oracle "$G" '(.table == "public.sessions") and .op == "update"' -t public.sessions -o update
	oracle "$G" '.op != "delete"' -v -o delete
	oracle "$G" '(.table == "public.reviews" and .op == "insert") | not' -v -t public.reviews -o insert
}

@test "jq oracle: -w predicates on generated events" {
	G="$BATS_FILE_TMPDIR/gen.ndjson"
	oracle "$G" '(.after.amount // null) as $a | $a != null and ($a | tonumber) > 2500 and (col("status") as $s | $s == "paid" or $s == "shipped")' \
		-w "after.amount > 2500 AND status IN ('paid', 'shipped')"
	oracle "$G" '(col("name") as $n | ($n | type) == "string" and ($n | startswith("delta"))) or (col("note") as $n | ($n | type) == "string" and ($n | test("mike."; "i")))' \
		-w "name LIKE 'delta%' OR note ILIKE '%MIKE_%'"
	oracle "$G" '(.pos | lsn) > ("0/2000000" | lsn) and (.pos | lsn) <= ("0/2800000" | lsn) and .seq < 3' \
		-w "pos > '0/2000000' AND pos <= '0/2800000' AND seq < 3"
	oracle "$G" '.key.id < 100000 or (col("customer_id") as $c | $c == 1 or $c == 2 or $c == 3 or $c == 99)' \
		-w "key.id < 100000 OR customer_id IN (1, 2, 3, 99)"
	oracle "$G" '.commit_time > "2026-11-18T12:00:00.000000Z"' \
		-w "commit_time > '2026-11-18T14:00:00+02:00'"
	oracle "$G" 'col("status") == null' -w "status IS NULL"
	oracle "$G" '(.op != "update") and (col("updated_at") // "" | . >= "2026-11-15")' \
		-w "NOT op = 'update' AND updated_at >= '2026-11-15'"
	oracle "$G" '.after.amount == null' -w "after.amount != after.amount"
}

@test "jq oracle: odd table names, unicode, escapes, huge numbers, depth 100" {
	A="$TESTS_DIR/golden/adversarial.in.ndjson"
	# the file holds what it claims: depth 100 and huge numbers parse in jq
	jq_true "$A" -s '[.[] | select(.after.deep != null) | .after.deep | [paths] | map(length) | max] == [100]'
	oracle "$A" '.table | startswith("public.")' -t 'public.*'
	oracle "$A" '.table | startswith("public.") | not' -T 'public.*'
	oracle "$A" '.table | contains(" ")' -t '* *'
	oracle "$A" '.table | contains("\"")' -t '*"*'
	oracle "$A" '(.table | startswith("públic.")) or (.table | contains("😀"))' -t 'públic.*,*😀*'
	oracle "$A" '.table == "a\\b.c*[x]?"' -t 'a\\b.c\*\[x\]\?'
	oracle "$A" '.table == "public.café"' -w "table = 'public.café'"
	oracle "$A" '.op == "delete" or .op == "truncate"' -o delete,truncate
	oracle "$A" 'col("n") as $n | ($n | type) == "number" and $n > 10' -w 'n > 10'
	oracle "$A" 'col("s") as $s | ($s | type) == "string" and ($s | contains("😀"))' -w "s LIKE '%😀%'"
	oracle "$A" 'col("s") == null' -w 's IS NULL'
	oracle "$A" '.key["kéy"] == "v"' -w "key.\"kéy\" = 'v'"
	oracle "$A" '(.after.huge // 0) > 1e38' -w 'after.huge > 1e38'
	oracle "$A" 'col("s") as $s | ($s | type) == "string" and ($s | test("\n"))' -w "s LIKE '%newline'"
}
