#!/usr/bin/env bats
# The generic contract every binary keeps: --help, --version, a bogus
# option, output to /dev/full.
load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

@test "every binary prints --help to stdout and exits 0" {
	for b in $(dblog_binaries); do
		run "$b" --help
		[ "$status" -eq 0 ] || { echo "$b --help: $status"; return 1; }
		[[ "$output" == *"Usage: $b"* ]] || { echo "$b: no usage line"; return 1; }
		[[ "$output" == *"Exit status"* ]] || { echo "$b: no exit status"; return 1; }
	done
}

@test "every binary prints --version and exits 0" {
	for b in $(dblog_binaries); do
		run "$b" --version
		[ "$status" -eq 0 ]
		[[ "$output" == "$b (dblog) "* ]]
	done
}

@test "every binary rejects a bogus option with status 2 and a hint" {
	for b in $(dblog_binaries); do
		run "$b" --no-such-option
		[ "$status" -eq 2 ] || { echo "$b: status $status"; return 1; }
		[[ "$output" == *"Try '$b --help'."* ]]
	done
}

@test "every binary fails loudly when --help goes to /dev/full" {
	for b in $(dblog_binaries); do
		run bash -c "'$b' --help > /dev/full"
		[ "$status" -eq 1 ] || { echo "$b: status $status"; return 1; }
		[[ "$output" == *"$b: "* ]]
	done
}
