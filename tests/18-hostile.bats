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

@test "hostile: an empty table name: dblog-apply names it and stops, dblog-flashback undoes it (was a heap over-read)" {
	printf '%s\n' '{"op":"begin","tx":1,"pos":1}' \
		'{"op":"insert","table":"","tx":1,"pos":1,"seq":0,"key":{"id":1},"after":{"id":1}}' \
		'{"op":"commit","tx":1,"pos":1,"count":1}' > "$T/in"
	run --separate-stderr dblog-apply "sqlite:$T/d.db" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'dblog-apply: line 2: insert change pos 1 seq 0 table "": no table "" in the destination'* ]]
	run --separate-stderr dblog-flashback < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | jq -r 'select(.op == "delete") | "\(.table|tojson) \(.key.id)"')" = '"" 1' ]
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

