#!/usr/bin/env bats
# Hostile input the fuzzers (tests/fuzz/, make fuzz) found, as a user meets
# it through the commands: each input is also in the fuzzers' corpora. Some
# of these only crashed under the sanitizers (make check-asan): an empty
# table name read past its buffer, the expression '' copied from NULL.
load helpers

bats_require_minimum_version 1.5.0

setup() { setup_tmp; }
teardown() { teardown_tmp; }

SRC='{"driver":"sqlite","name":"p"}'

@test "hostile: an empty table name: dblog-apply names it and stops, dblog-flashback (--sql) undoes it (was a heap over-read)" {
	printf '%s\n' '{"op":"begin","tx":1,"pos":1}' \
		'{"op":"insert","table":"","tx":1,"pos":1,"seq":0,"key":{"id":1},"after":{"id":1}}' \
		'{"op":"commit","tx":1,"pos":1,"count":1}' > "$T/in"
	run --separate-stderr dblog-apply "sqlite:$T/d.db" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'dblog-apply: line 2: insert change pos 1 seq 0 table "": no table "" in the destination'* ]]
	run --separate-stderr dblog-flashback < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r 'select(.op == "delete") | "\(.table|tojson) \(.key.id)"')" = '"" 1' ]
	# --sql decoded the name into a fresh buffer: read past it (ASan)
	run --separate-stderr dblog-flashback --sql postgres < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nDELETE FROM "" WHERE "id" = \'1\';\n'* ]]
	run --separate-stderr dblog-flashback --sql sqlite < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nDELETE FROM "" WHERE "id" = 1 AND EXISTS'* ]]
}

@test "hostile: dblog-filter -w nested 52,000 deep is an error naming the column and the limit (was a stack overflow)" {
	echo '{"op":"insert","table":"t","after":{"id":1}}' > "$T/in"
	local deep
	deep=$(printf '%52000s' '' | tr ' ' '(')
	run --separate-stderr dblog-filter -w "$deep" < "$T/in"
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == "dblog-filter: expression: column 1001: nested too deeply (more than 1000 parentheses and NOTs inside each other): (((("* ]]
	deep=$(printf '%1200s' '' | sed 's/ /NOT /g')
	run --separate-stderr dblog-filter -w "${deep}op = 'insert'" < "$T/in"
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"column 4001: nested too deeply"* ]]
	# 1000 levels are fine, and so is a chain of 7,000 ORs (evaluated
	# in a loop, not a recursion as deep as the chain; 128 KiB is the most
	# one argument may hold)
	local open close
	open=$(printf '%1000s' '' | tr ' ' '(')
	close=$(printf '%1000s' '' | tr ' ' ')')
	run dblog-filter -w "${open}op = 'insert'${close}" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in")" ]
	local chain
	chain="$(printf "op = 'delete' OR %.0s" $(seq 7000))op = 'insert'"
	run dblog-filter -w "$chain" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in")" ]
}

@test "hostile: dblog-filter -w with the empty string '' compares with empty values (was a memcpy from NULL)" {
	printf '%s\n' '{"op":"insert","table":"t","after":{"id":1,"s":""}}' \
		'{"op":"insert","table":"t","after":{"id":2,"s":"x"}}' > "$T/in"
	run dblog-filter -w "s = ''" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -c .after.id)" = 1 ]
	run dblog-filter -w "''" < "$T/in"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "hostile: dblog-txbuf refuses a seq beyond 2^63-1 by name (was wrapped into a wrong duplicate-seq error)" {
	local s
	for s in 18446744073709551617 9223372036854775808 1.5 -1; do
		printf '%s\n' "{\"op\":\"begin\",\"source\":$SRC,\"tx\":9,\"pos\":1}" \
			"{\"op\":\"insert\",\"table\":\"t\",\"tx\":9,\"source\":$SRC,\"pos\":1,\"seq\":1,\"after\":{\"id\":1}}" \
			"{\"op\":\"insert\",\"table\":\"t\",\"tx\":9,\"source\":$SRC,\"pos\":1,\"seq\":$s,\"after\":{\"id\":2}}" \
			"{\"op\":\"commit\",\"source\":$SRC,\"tx\":9,\"pos\":1,\"count\":2}" > "$T/in"
		run --separate-stderr dblog-txbuf < "$T/in"
		[ "$status" -eq 1 ] || { echo "seq $s: status $status"; return 1; }
		[[ "$stderr" == "dblog-txbuf: line 3: seq $s is not an integer from 0 to 9223372036854775807 "* ]] ||
			{ echo "seq $s: $stderr"; return 1; }
	done
	# the largest one is a seq like any other
	sed -i 's/"seq":-1,/"seq":9223372036854775807,/' "$T/in"
	run dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ]
	# (jq reads numbers as doubles: grep)
	[ "$(printf '%s\n' "$output" | grep -o '"seq":[0-9]*' | tail -1)" = '"seq":9223372036854775807' ]
}

@test "hostile: relative times that go back before the year 1 are refused (was a signed overflow)" {
	run --separate-stderr dblog-checkpoint since --time 1000000000d < /dev/null
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "dblog-checkpoint: --time: '1000000000d' goes back before the year 1" ]
	run --separate-stderr dblog-flashback --since '1000000000d ago' < /dev/null
	[ "$status" -eq 2 ]
	[ "${stderr_lines[0]}" = "dblog-flashback: --since: '1000000000d ago' goes back before the year 1" ]
	# 700,000 days back is year 110 or so: a time like any other
	echo '{"op":"heartbeat","pos":1,"commit_time":"2026-11-22T10:00:00Z"}' > "$T/in"
	run dblog-checkpoint since --time 700000d < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$T/in")" ]
}

@test "hostile: a sequence position beyond 2^63-1 is refused (was written as a negative number)" {
	run --separate-stderr dblog-checkpoint set "$T/cp" --pos 9223372036854775808
	[ "$status" -eq 2 ]
	[[ "${stderr_lines[0]}" == *"--pos: expected an LSN like 0/16B3748 or a sequence number"* ]]
	[ ! -e "$T/cp" ]
	dblog-checkpoint set "$T/cp" --pos 9223372036854775807
	grep -q '"pos":9223372036854775807,' "$T/cp"
	run dblog-checkpoint show "$T/cp"
	[ "$status" -eq 0 ]
	[[ "$output" == *9223372036854775807* ]]
}
