#!/usr/bin/env bats
# The generic contract every binary keeps: --help, --version, a bogus
# option, output to /dev/full.
load helpers
bats_require_minimum_version 1.5.0

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

# ------------------------------------------------ commands reading events

# The commands that read events on stdin, one line each, as run here.
readers() {
	cat <<EOF
dblog-apply sqlite:$T/dest.db
dblog-checkpoint since --pos 0
dblog-checkpoint track $T/track.cp
dblog-filter
dblog-flashback
dblog-txbuf
EOF
}

# Two one-row transactions of table main.t (ids 1 and 2), with a line that
# is not JSON between them (line 4).
two_tx_and_a_bad_line() {
	local s='"source":{"driver":"sqlite","name":"s"}' i
	for i in 1 2; do
		echo "{\"op\":\"begin\",$s,\"tx\":$i,\"pos\":$i}"
		echo "{\"op\":\"insert\",\"table\":\"main.t\",$s,\"tx\":$i,\"pos\":$i,\"seq\":0,\"key\":{\"id\":$i},\"after\":{\"id\":$i,\"v\":\"v$i\"}}"
		echo "{\"op\":\"commit\",$s,\"tx\":$i,\"pos\":$i}"
		[ "$i" = 2 ] || echo "not json"
	done
}

@test "every command that reads events takes --dlq FILE: the bad line is parked, the rest goes through" {
	[ "$(dblog_binaries | wc -l)" -eq 7 ]
	# the readers are exactly the binaries whose --help offers --dlq
	[ "$(for b in $(dblog_binaries); do "$b" --help | grep -q -- '--dlq FILE' && echo "$b"; done | xargs)" = \
		"$(readers | cut -d' ' -f1 | sort -u | xargs)" ]
	two_tx_and_a_bad_line > "$T/in"
	sqlite3 "$T/dest.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	while read -r cmd; do
		p=${cmd%% *}
		rm -f "$T/dlq"
		# shellcheck disable=SC2086
		run --separate-stderr $cmd --dlq "$T/dlq" < "$T/in"
		[ "$status" -eq 0 ] || { echo "$cmd: status $status: $stderr"; return 1; }
		[ "$stderr" = "$p: warning: 1 event parked in \"$T/dlq\"" ] || { echo "$cmd: $stderr"; return 1; }
		jq_true "$T/dlq" -s --arg p "$p" \
			'length == 1 and .[0].program == $p and .[0].line == 4 and .[0].raw == "not json"'
		case $cmd in
		dblog-apply*) got=$(sqlite3 "$T/dest.db" "SELECT group_concat(id || v, ' ') FROM t"); want="1v1 2v2" ;;
		dblog-flashback) got=$(jq -c 'select(.table) | [.op, .key.id]' <<< "$output" | paste -sd' ')
			want='["delete",2] ["delete",1]' ;;
		*) got=$(jq -c 'select(.table) | [.op, .key.id]' <<< "$output" | paste -sd' ')
			want='["insert",1] ["insert",2]' ;;
		esac
		[ "$got" = "$want" ] || { echo "$cmd: got $got, want $want"; return 1; }
	done < <(readers)
}

@test "every command that reads events says that compressed input is compressed and how to read it, status 1" {
	local ev='{"op":"begin","source":{"driver":"sqlite","name":"s"},"tx":1,"pos":1}'
	# small gzip data holds no newline (the whole input is one cut-off
	# line); large gzip data holds some (line 1 ends inside it)
	echo '{"op":"begin"}' | gzip -n > "$T/in.gz"
	[ "$(tr -dc '\n' < "$T/in.gz" | wc -c)" -eq 0 ]
	for i in $(seq 2000); do echo "${ev/\"tx\":1/\"tx\":$i}"; done | gzip -n > "$T/big.gz"
	[ "$(tr -dc '\n' < "$T/big.gz" | wc -c)" -gt 0 ]
	# the outputs of zstd, xz and bzip2 for one line {"op":"begin"}
	printf '\x28\xb5\x2f\xfd\x04\x58\x79\x00\x00\x7b\x22\x6f\x70\x22\x3a\x22\x62\x65\x67\x69\x6e\x22\x7d\x0a\x04\x34\x29\x76' \
		> "$T/in.zst"
	printf '\xfd\x37\x7a\x58\x5a\x00\x00\x04\xe6\xd6\xb4\x46\x02\x00\x21\x01\x16\x00\x00\x00\x74\x2f\xe5\xa3\x01\x00\x0e\x7b\x22\x6f\x70\x22\x3a\x22\x62\x65\x67\x69\x6e\x22\x7d\x0a\x00\x00\x3e\xe0\xd6\xf8\xd4\xae\xb2\x04\x00\x01\x27\x0f\xdf\x1a\xfc\x6a\x1f\xb6\xf3\x7d\x01\x00\x00\x00\x00\x04\x59\x5a' \
		> "$T/in.xz"
	printf '\x42\x5a\x68\x39\x31\x41\x59\x26\x53\x59\x71\xce\x78\x53\x00\x00\x06\xd9\x80\x00\x10\x10\x00\x00\x10\x12\xa1\xc0\x0a\x20\x00\x22\x00\x0c\x84\x0d\x03\x40\x89\x22\xd3\x37\x84\x92\xfe\x2e\xe4\x8a\x70\xa1\x20\xe3\x9c\xf0\xa6' \
		> "$T/in.bz2"
	sqlite3 "$T/dest.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
	for f in in.gz:gzip:zcat:gz big.gz:gzip:zcat:gz in.zst:zstd:zstdcat:zst in.xz:xz:xzcat:xz \
		in.bz2:bzip2:bzcat:bz2; do
		IFS=: read -r file kind cat ext <<< "$f"
		while read -r cmd; do
			p=${cmd%% *}
			for dlq in "" "--dlq $T/dlq"; do
				rm -f "$T/dlq"
				# shellcheck disable=SC2086
				run --separate-stderr $cmd $dlq < "$T/$file"
				[ "$status" -eq 1 ] || { echo "$cmd $dlq < $file: status $status: $stderr"; return 1; }
				[ "$stderr" = "$p: line 1: the input is $kind-compressed data, not NDJSON events: decompress it on the way in, e.g. $cat archive.ndjson.$ext | $p ..." ] ||
					{ echo "$cmd $dlq < $file: $stderr"; return 1; }
				[ -z "$output" ]
				[ ! -s "$T/dlq" ]   # nothing parked: nothing in it can be read
			done
		done < <(readers)
	done
	[ "$(sqlite3 "$T/dest.db" "SELECT count(*) FROM t")" -eq 0 ]
	[ ! -e "$T/track.cp" ]
	# later lines are bad lines like any other, named as compressed data
	{ echo "$ev"; cat "$T/in.gz"; } > "$T/late"
	run --separate-stderr dblog-filter < "$T/late"
	[ "$status" -eq 1 ]
	[ "$stderr" = "dblog-filter: line 2: compressed data (gzip, zstd, xz or bzip2), not an event (fix or remove the line, or use --dlq FILE to park bad events and go on)" ]
}
