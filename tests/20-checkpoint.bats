#!/usr/bin/env bats
# dblog-checkpoint: show, set, track and since, bad checkpoint files, and
# the atomicity of checkpoint writes under kill -9.
# The contract is doc/SPEC-foundation.md ("Checkpoint file", "dblog-checkpoint").
load helpers

bats_require_minimum_version 1.5.0

setup() { setup_tmp; }
teardown() {
	# a test that failed half-way may leave a background job
	[ -z "${BG_PID:-}" ] || kill -9 "$BG_PID" 2> /dev/null || true
	teardown_tmp
}

SRC='"source":{"driver":"postgres","name":"app"}'

# tx TX POS N [TIME]: a PostgreSQL transaction of N inserts (begin, changes,
# commit) at LSN POS.
tx() {
	local t="${4:-2026-11-22T10:00:00.000000Z}" i
	echo '{"op":"begin",'"$SRC"',"tx":'"$1"',"pos":"'"$2"'","commit_time":"'"$t"'"}'
	for ((i = 0; i < $3; i++)); do
		echo '{"op":"insert","table":"public.t",'"$SRC"',"tx":'"$1"',"pos":"'"$2"'","seq":'"$i"',"commit_time":"'"$t"'","key":{"id":'"$i"'},"after":{"id":'"$i"'}}'
	done
	echo '{"op":"commit",'"$SRC"',"tx":'"$1"',"pos":"'"$2"'","commit_time":"'"$t"'","count":'"$3"'}'
}

# A full checkpoint file as a producer may write it, extra fields included.
full_checkpoint() {
	cat > "$1" <<'EOF'
{"version":1,"source":{"driver":"postgres","name":"app"},"pos":"0/16B3748","seq":3,"tx":731,"commit_time":"2026-11-22T10:00:00.123456Z","written":"2026-11-22T10:00:01.000000Z","stream":"orders-v1","cursor":{"a":[1,2]},"counters":{"events":10,"changes":4,"transactions":2,"bytes":999}}
EOF
}

# is_rfc3339_utc STRING
is_rfc3339_utc() {
	[[ "$1" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$ ]]
}

# show_value FILE NAME: the value printed by 'show FILE' on NAME's row.
show_value() {
	dblog-checkpoint show "$1" | awk -v n="$2" '$1 == n { $1 = ""; sub(/^ +/, ""); print }'
}

# The invalid checkpoint files: NAME|CONTENT|what the message says.
invalid_files() {
	cat <<'EOF'
empty||empty
newline only|\n|not valid
half-written|{"version":1,"source":{"driver":"postgres","na|not valid
half-written pos|{"version":1,"pos":"0/16B3|not valid
array|[1,2]|not a JSON object
null|null|not valid
string|"0/16B3748"|not valid
no pos|{"version":1,"seq":3}|"pos"
pos true|{"pos":true}|"pos"
pos negative|{"pos":-5}|"pos"
pos not an LSN|{"pos":"zz"}|"pos"
pos fraction|{"pos":1.5}|"pos"
seq negative|{"pos":"0/1","seq":-1}|"seq"
seq string|{"pos":"0/1","seq":"2"}|"seq"
trailing garbage|{"pos":"0/1"} x|not valid
two objects|{"pos":"0/1"}{"pos":"0/2"}|not valid
EOF
}

# ------------------------------------------------------------------ show

@test "show prints the checkpoint as a table" {
	full_checkpoint "$T/cp.json"
	run dblog-checkpoint show "$T/cp.json"
	[ "$status" -eq 0 ]
	[ "$(show_value "$T/cp.json" pos)" = "0/16B3748" ]
	[ "$(show_value "$T/cp.json" seq)" = "3" ]
	[ "$(show_value "$T/cp.json" tx)" = "731" ]
	[ "$(show_value "$T/cp.json" commit_time)" = "2026-11-22T10:00:00.123456Z" ]
	[ "$(show_value "$T/cp.json" written)" = "2026-11-22T10:00:01.000000Z" ]
	[[ "$(show_value "$T/cp.json" source)" == *postgres*app* ]]
	[ "$(show_value "$T/cp.json" events)" = "10" ]
	[ "$(show_value "$T/cp.json" changes)" = "4" ]
	[ "$(show_value "$T/cp.json" transactions)" = "2" ]
	[ "$(show_value "$T/cp.json" bytes)" = "999" ]
	# a checkpoint without seq covers the whole position: no seq number shown
	echo '{"version":1,"pos":42}' > "$T/lite.json"
	[ "$(show_value "$T/lite.json" pos)" = "42" ]
	[[ "$(show_value "$T/lite.json" seq)" != *[0-9]* ]]
}

@test "show --json prints the checkpoint object" {
	full_checkpoint "$T/cp.json"
	run dblog-checkpoint show "$T/cp.json" --json
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$(echo "$output" | jq -S -c .)" = "$(jq -S -c . "$T/cp.json")" ]
	run dblog-checkpoint show --json "$T/cp.json"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .pos)" = "0/16B3748" ]
}

@test "show: a missing file is an error; a missing FILE argument a usage error" {
	run dblog-checkpoint show "$T/nope.json"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-checkpoint: "*"$T/nope.json"*"does not exist"* ]]
	run dblog-checkpoint show
	[ "$status" -eq 2 ]
	[[ "$output" == *"Try 'dblog-checkpoint --help'."* ]]
	run dblog-checkpoint frobnicate "$T/cp.json"
	[ "$status" -eq 2 ]
}

# ------------------------------------------------------- invalid files

@test "invalid checkpoint files (empty, half-written, wrong shape) are errors for show, since and track" {
	bad=0
	while IFS='|' read -r name content why; do
		printf "$content" > "$T/cp.json"
		cp "$T/cp.json" "$T/orig.json"
		run dblog-checkpoint show "$T/cp.json"
		if [ "$status" -ne 1 ] || [[ "$output" != "dblog-checkpoint: "*"$T/cp.json"*"$why"* ]]; then
			echo "show, $name: status $status: $output"
			bad=1
		fi
		run dblog-checkpoint show --json "$T/cp.json"
		if [ "$status" -ne 1 ] || [[ "$output" == "{"* ]]; then
			echo "show --json, $name: status $status: $output"
			bad=1
		fi
		run dblog-checkpoint since "$T/cp.json" < <(tx 1 0/10 1)
		if [ "$status" -ne 1 ] || [[ "$output" == *'"op"'* ]]; then
			echo "since, $name: status $status: $output"
			bad=1
		fi
		# track refuses to start over a bad file, and leaves it alone
		run dblog-checkpoint track "$T/cp.json" < <(tx 1 0/10 1)
		if [ "$status" -ne 1 ] || ! cmp -s "$T/cp.json" "$T/orig.json"; then
			echo "track, $name: status $status: $output; file now: $(cat "$T/cp.json")"
			bad=1
		fi
	done < <(invalid_files)
	[ "$bad" -eq 0 ]
}

@test "a checkpoint that is a directory or unreadable is an error, not a fresh start" {
	mkdir "$T/dir.json"
	run dblog-checkpoint show "$T/dir.json"
	[ "$status" -eq 1 ]
	run dblog-checkpoint track "$T/dir.json" < <(tx 1 0/10 1)
	[ "$status" -eq 1 ]
	[ -d "$T/dir.json" ]
}

# ------------------------------------------------------------------- set

@test "set writes an LSN position atomically: pos in upper-case hex, version and written" {
	run dblog-checkpoint set "$T/cp.json" --pos 0/16b3748
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	jq_true "$T/cp.json" '.pos == "0/16B3748" and .version == 1 and (has("seq") | not)'
	is_rfc3339_utc "$(jq -r .written "$T/cp.json")"
	[ "$(show_value "$T/cp.json" pos)" = "0/16B3748" ]
	dblog-checkpoint set "$T/cp.json" --pos 1A/FF
	jq_true "$T/cp.json" '.pos == "1A/FF"'
	# no temp file is left behind
	[ "$(ls -A "$T")" = "cp.json" ]
}

@test "set writes a sequence position as a JSON integer" {
	dblog-checkpoint set "$T/cp.json" --pos 42
	jq_true "$T/cp.json" '.pos == 42 and (.pos | type) == "number"'
	dblog-checkpoint set "$T/cp.json" --pos 0
	jq_true "$T/cp.json" '.pos == 0'
}

@test "set --seq records a partly covered position; set without --seq drops it" {
	dblog-checkpoint set "$T/cp.json" --pos 0/10 --seq 3
	jq_true "$T/cp.json" '.pos == "0/10" and .seq == 3'
	dblog-checkpoint set "$T/cp.json" --pos 7 --seq 0
	jq_true "$T/cp.json" '.pos == 7 and .seq == 0'
	dblog-checkpoint set "$T/cp.json" --pos 0/20
	jq_true "$T/cp.json" '.pos == "0/20" and (has("seq") | not)'
}

@test "set --time records the commit time in RFC 3339 UTC (offsets, relative times)" {
	dblog-checkpoint set "$T/cp.json" --pos 0/10 --time 2026-11-22T12:00:00+02:00
	jq_true "$T/cp.json" '.commit_time == "2026-11-22T10:00:00.000000Z"'
	dblog-checkpoint set "$T/cp.json" --pos 0/10 --time '2026-11-22 10:00:00.5Z'
	jq_true "$T/cp.json" '.commit_time == "2026-11-22T10:00:00.500000Z"'
	dblog-checkpoint set "$T/cp.json" --pos 0/10 --time 2026-11-22
	jq_true "$T/cp.json" '.commit_time == "2026-11-22T00:00:00.000000Z"'
	dblog-checkpoint set "$T/cp.json" --pos 0/10 --time 2h
	t=$(jq -r .commit_time "$T/cp.json")
	is_rfc3339_utc "$t"
	want=$(( $(date -u +%s) - 7200 ))
	got=$(date -u -d "${t%.*}Z" +%s)
	[ $((got - want)) -le 60 ] && [ $((want - got)) -le 60 ]
}

@test "set keeps the other fields of an existing checkpoint" {
	full_checkpoint "$T/cp.json"
	dblog-checkpoint set "$T/cp.json" --pos 0/20000000 --seq 1
	jq_true "$T/cp.json" '.pos == "0/20000000" and .seq == 1 and .version == 1 and
		.source == {"driver":"postgres","name":"app"} and .stream == "orders-v1" and
		.cursor == {"a":[1,2]} and
		.counters == {"events":10,"changes":4,"transactions":2,"bytes":999} and
		.written != "2026-11-22T10:00:01.000000Z"'
}

@test "set refuses to overwrite an invalid checkpoint" {
	bad=0
	while IFS='|' read -r name content why; do
		printf "$content" > "$T/cp.json"
		cp "$T/cp.json" "$T/orig.json"
		run dblog-checkpoint set "$T/cp.json" --pos 0/10
		if [ "$status" -ne 1 ] || ! cmp -s "$T/cp.json" "$T/orig.json" ||
		   [[ "$output" != "dblog-checkpoint: "*"$T/cp.json"* ]]; then
			echo "$name: status $status: $output; file now: $(cat "$T/cp.json")"
			bad=1
		fi
	done < <(invalid_files)
	[ "$bad" -eq 0 ]
}

@test "set: usage errors" {
	for args in "" "--pos" "--pos nope" "--pos 0/XYZ" "--pos -1" "--pos 0/10 --seq -1" \
		"--pos 0/10 --seq x" "--seq 3" "--pos 0/10 --time yesterday-ish" "--pos 0/10 --every 3"; do
		run dblog-checkpoint set "$T/cp.json" $args
		[ "$status" -eq 2 ] || { echo "set $args: status $status: $output"; return 1; }
		[[ "$output" == *"Try 'dblog-checkpoint --help'."* ]]
	done
	run dblog-checkpoint set --pos 0/10
	[ "$status" -eq 2 ]
	[ ! -e "$T/cp.json" ]
}

# ----------------------------------------------------------------- track

@test "track passes events through byte for byte" {
	cat > "$T/in" <<'EOF'
{ "op" : "begin" , "tx" : 1 , "pos" : "0/10" }
	{"op":"insert","table":"public.caf\u00e9","tx":1,"pos":"0/10","seq":0,"after":{"v":1.50,"s":"\/"}}   
{"pos":"0/10","op":"commit","count":1,"tx":1}
{"op":"heartbeat","pos":"0/20","x-unknown":[1,{"a":null}]}
EOF
	dblog-checkpoint track "$T/cp.json" < "$T/in" > "$T/out"
	cmp "$T/in" "$T/out"
	gen_events -n 3000 -s 5 > "$T/gen"
	dblog-checkpoint track "$T/cp2.json" < "$T/gen" > "$T/out"
	cmp "$T/gen" "$T/out"
}

@test "track records the commit of the last complete transaction, without seq" {
	{ tx 1 0/10 2; tx 2 0/20 3 2026-11-22T10:00:02.000000Z; } > "$T/in"
	dblog-checkpoint track "$T/cp.json" < "$T/in" > /dev/null
	jq_true "$T/cp.json" '.pos == "0/20" and (has("seq") | not) and .tx == 2 and
		.commit_time == "2026-11-22T10:00:02.000000Z" and
		.source == {"driver":"postgres","name":"app"} and .version == 1'
	is_rfc3339_utc "$(jq -r .written "$T/cp.json")"
	# an unfinished transaction at the end is not covered: status 4, and
	# the checkpoint notes it
	{ tx 3 0/30 1; tx 4 0/40 2 | head -n 2; } > "$T/in2"
	run --separate-stderr dblog-checkpoint track "$T/cp.json" < "$T/in2"
	[ "$status" -eq 4 ]
	[[ "$stderr" == *"line 5: the input ended inside transaction 4 (pos 0/40), begun at line 4 (recorded up to pos 0/30 (tx 3))"* ]] ||
		{ echo "$stderr"; return 1; }
	jq_true "$T/cp.json" '.pos == "0/30" and .tx == 3 and .unfinished == {"pos":"0/40","tx":4}'
}

@test "track: a piece that starts inside a transaction, or after one read only in part, is refused and records nothing past it" {
	{ tx 1 0/10 2; tx 2 0/20 3; tx 3 0/30 2; tx 4 0/40 1; } > "$T/all"
	split -l 6 "$T/all" "$T/piece."
	# piece aa: tx 1 whole, tx 2 begun: status 4, tx 2 unfinished
	run --separate-stderr dblog-checkpoint track "$T/cp.json" < "$T/piece.aa"
	[ "$status" -eq 4 ]
	jq_true "$T/cp.json" '.pos == "0/10" and .unfinished == {"pos":"0/20","tx":2}'
	# piece ab starts inside tx 2: refused before anything passes
	run --separate-stderr dblog-checkpoint track "$T/cp.json" < "$T/piece.ab"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == *"line 1: insert of transaction 2 (pos 0/20), whose begin was not read"* ]] ||
		{ echo "$stderr"; return 1; }
	jq_true "$T/cp.json" '.pos == "0/10" and .unfinished.pos == "0/20"'
	# a piece that starts at a later transaction cannot pass tx 2 either
	tx 3 0/30 1 > "$T/later"
	run --separate-stderr dblog-checkpoint track "$T/cp.json" < "$T/later"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"transaction 2 (pos 0/20) was read only in part by an earlier run"* ]] ||
		{ echo "$stderr"; return 1; }
	jq_true "$T/cp.json" '.pos == "0/10"'
	# the whole input clears it and goes to the end
	dblog-checkpoint track "$T/cp.json" < "$T/all" > "$T/out"
	cmp "$T/all" "$T/out"
	jq_true "$T/cp.json" '.pos == "0/40" and (has("unfinished") | not)'
	# events already covered pass (an archive appended twice), and a
	# transaction's tail that is already covered is no error
	tail -n 3 "$T/all" | dblog-checkpoint track "$T/cp.json" > /dev/null
}

@test "track records a heartbeat outside a transaction, not one inside" {
	{
		tx 1 0/10 1
		echo '{"op":"heartbeat",'"$SRC"',"pos":"0/18","commit_time":"2026-11-22T10:00:05.000000Z"}'
	} > "$T/in"
	dblog-checkpoint track "$T/cp.json" < "$T/in" > /dev/null
	jq_true "$T/cp.json" '.pos == "0/18" and (has("seq") | not) and (has("tx") | not) and
		.commit_time == "2026-11-22T10:00:05.000000Z"'
	{
		tx 2 0/20 1
		echo '{"op":"begin","tx":3,"pos":"0/30"}'
		echo '{"op":"heartbeat","pos":"0/28"}'
		echo '{"op":"schema","table":"public.t","pos":"0/30","columns":[]}'
	} > "$T/in2"
	run dblog-checkpoint track "$T/cp.json" < "$T/in2"
	[ "$status" -eq 4 ]
	jq_true "$T/cp.json" '.pos == "0/20" and .tx == 2'
}

@test "track records a change outside any transaction with its seq" {
	cat > "$T/in" <<'EOF'
{"op":"snapshot","table":"main.t","source":{"driver":"sqlite","name":"shop"},"pos":5,"seq":0,"after":{"id":1}}
{"op":"snapshot","table":"main.t","source":{"driver":"sqlite","name":"shop"},"pos":5,"seq":1,"after":{"id":2}}
EOF
	dblog-checkpoint track "$T/cp.json" < "$T/in" > /dev/null
	jq_true "$T/cp.json" '.pos == 5 and .seq == 1 and .source.driver == "sqlite"'
	# a later complete transaction replaces the seq
	printf '%s\n' '{"op":"begin","tx":9,"pos":6}' '{"op":"insert","table":"main.t","tx":9,"pos":6,"seq":0}' \
		'{"op":"commit","tx":9,"pos":6,"count":1}' > "$T/in2"
	dblog-checkpoint track "$T/cp.json" < "$T/in2" > /dev/null
	jq_true "$T/cp.json" '.pos == 6 and (has("seq") | not) and .tx == 9'
	[ "$(dblog-checkpoint since "$T/cp.json" < "$T/in2" | wc -l)" -eq 0 ]
}

@test "track counts events, changes, transactions and bytes, accumulating across runs" {
	{
		tx 1 0/10 2
		echo
		echo '{"op":"heartbeat","pos":"0/18"}'
		tx 2 0/20 3
	} > "$T/in"
	bytes=$(grep -v '^$' "$T/in" | wc -c)
	dblog-checkpoint track "$T/cp.json" < "$T/in" > /dev/null
	jq_true "$T/cp.json" --argjson b "$bytes" '.counters == {"events":10,"changes":5,"transactions":2,"bytes":$b}'
	tx 3 0/30 1 > "$T/in2"
	bytes2=$(wc -c < "$T/in2")
	dblog-checkpoint track "$T/cp.json" < "$T/in2" > /dev/null
	jq_true "$T/cp.json" --argjson b "$((bytes + bytes2))" '.pos == "0/30" and
		.counters == {"events":13,"changes":6,"transactions":3,"bytes":$b}'
	# producers' fields are kept
	jq '.stream = "s1"' "$T/cp.json" > "$T/x" && mv "$T/x" "$T/cp.json"
	tx 4 0/40 1 | dblog-checkpoint track "$T/cp.json" > /dev/null
	jq_true "$T/cp.json" '.pos == "0/40" and .stream == "s1" and .counters.transactions == 4'
}

@test "track --every N writes after every N recorded positions, --interval at most that often" {
	command -v strace > /dev/null || skip "strace is not installed"
	gen_events -n 5000 -s 9 > "$T/gen"
	commits=$(grep -c '"op":"commit"' "$T/gen")
	# LeakSanitizer cannot run under ptrace
	export ASAN_OPTIONS=detect_leaks=0
	strace -f -e trace=rename,renameat,renameat2 -o "$T/every.trace" \
		dblog-checkpoint track "$T/cp.json" --every 100 --interval 1h < "$T/gen" > /dev/null
	renames=$(grep -c 'rename' "$T/every.trace")
	want=$((commits / 100 + (commits % 100 != 0)))
	[ "$renames" -eq "$want" ] || { echo "$renames writes for $commits commits, want $want"; return 1; }
	rm "$T/cp.json"
	strace -f -e trace=rename,renameat,renameat2 -o "$T/interval.trace" \
		dblog-checkpoint track "$T/cp.json" --interval 1h < "$T/gen" > /dev/null
	[ "$(grep -c 'rename' "$T/interval.trace")" -eq 1 ]
	jq_true "$T/cp.json" --argjson c "$commits" '.counters.transactions == $c'
}

@test "track --every N on live input: the checkpoint follows, after stdout" {
	mkfifo "$T/fifo"
	dblog-checkpoint track "$T/cp.json" --every 2 --interval 1h < "$T/fifo" > "$T/out" 3>&- &
	BG_PID=$!
	exec 5> "$T/fifo"
	{ tx 1 0/10 1; tx 2 0/20 2; } >&5
	wait_until 10 jq_true "$T/cp.json" '.pos == "0/20"'
	# what the checkpoint covers is already in the output
	grep -q '"op":"commit".*"pos":"0/20"' "$T/out"
	tx 3 0/30 1 >&5
	sleep 0.3
	jq_true "$T/cp.json" '.pos == "0/20"'
	tx 4 0/40 1 >&5
	wait_until 10 jq_true "$T/cp.json" '.pos == "0/40"'
	grep -q '"op":"commit".*"pos":"0/40"' "$T/out"
	tx 5 0/50 2 | head -n 2 >&5
	exec 5>&-
	rc=0
	wait "$BG_PID" 2> /dev/null || rc=$?
	BG_PID=
	[ "$rc" -eq 4 ]   # the input ended inside transaction 5
	jq_true "$T/cp.json" '.pos == "0/40" and .counters.transactions == 4'
	[ "$(wc -l < "$T/out")" -eq 15 ]
}

@test "track --interval writes while the input is idle, and not before the interval" {
	mkfifo "$T/fifo"
	dblog-checkpoint track "$T/cp.json" --interval 300ms < "$T/fifo" > "$T/out" 3>&- &
	BG_PID=$!
	exec 5> "$T/fifo"
	tx 1 0/10 1 >&5
	wait_until 10 jq_true "$T/cp.json" '.pos == "0/10"'
	kill -0 "$BG_PID"
	tx 2 0/20 1 >&5
	wait_until 10 jq_true "$T/cp.json" '.pos == "0/20"'
	exec 5>&-
	wait "$BG_PID"
	BG_PID=

	# a long interval: nothing is written while idle, all of it at the end
	dblog-checkpoint track "$T/cp2.json" --interval 1h < "$T/fifo" > "$T/out" 3>&- &
	BG_PID=$!
	exec 5> "$T/fifo"
	tx 1 0/10 1 >&5
	wait_until 10 grep -q commit "$T/out"
	sleep 0.5
	[ ! -e "$T/cp2.json" ]
	exec 5>&-
	wait "$BG_PID"
	BG_PID=
	jq_true "$T/cp2.json" '.pos == "0/10"'
}

@test "track: SIGTERM and SIGINT inside a transaction: the rest does not come, status 4, the checkpoint written" {
	mkfifo "$T/fifo"
	for sig in TERM INT; do
		rm -f "$T/cp.json"
		dblog-checkpoint track "$T/cp.json" --interval 1h < "$T/fifo" > "$T/out" 2> "$T/err" 3>&- &
		BG_PID=$!
		exec 5> "$T/fifo"
		{ tx 1 0/10 1; tx 2 0/20 2 | head -n 2; } >&5
		wait_until 10 grep -q '"pos":"0/20","seq":0' "$T/out"
		[ ! -e "$T/cp.json" ]
		kill -"$sig" "$BG_PID"
		rc=0
		wait "$BG_PID" || rc=$?
		BG_PID=
		exec 5>&-
		[ "$rc" -eq 4 ] || { echo "SIG$sig: status $rc"; return 1; }
		grep -q "stopped by .* before the end of the input (at line 5): recorded up to pos 0/10 (tx 1)" "$T/err" ||
			{ cat "$T/err"; return 1; }
		jq_true "$T/cp.json" '.pos == "0/10" and .counters.events == 5 and .unfinished.pos == "0/20"'
	done
}

@test "track: a stop inside a transaction waits for its rest, and the end of the input then is status 0" {
	mkfifo "$T/fifo"
	dblog-checkpoint track "$T/cp.json" --interval 1h < "$T/fifo" > "$T/out" 2> "$T/err" 3>&- &
	BG_PID=$!
	exec 5> "$T/fifo"
	tx 1 0/10 2 > "$T/in"
	head -n 2 "$T/in" >&5
	wait_until 10 grep -q '"seq":0' "$T/out"
	kill -TERM "$BG_PID"
	sleep 0.2
	tail -n +3 "$T/in" >&5
	exec 5>&-
	rc=0
	wait "$BG_PID" || rc=$?
	BG_PID=
	[ "$rc" -eq 0 ] || { echo "status $rc: $(cat "$T/err")"; return 1; }
	cmp "$T/in" "$T/out"
	jq_true "$T/cp.json" '.pos == "0/10" and (has("unfinished") | not)'
	# with more input than its transaction, it stops after the commit
	tx 2 0/20 1 >> "$T/in"
	rm "$T/cp.json"
	dblog-checkpoint track "$T/cp.json" --interval 1h < "$T/fifo" > "$T/out" 2> "$T/err" 3>&- &
	BG_PID=$!
	exec 5> "$T/fifo"
	head -n 2 "$T/in" >&5
	wait_until 10 grep -q '"seq":0' "$T/out"
	kill -INT "$BG_PID"
	sleep 0.2
	tail -n +3 "$T/in" >&5
	rc=0
	wait "$BG_PID" || rc=$?
	BG_PID=
	exec 5>&-
	[ "$rc" -eq 4 ]
	[ "$(wc -l < "$T/out")" -eq 4 ]
	jq_true "$T/cp.json" '.pos == "0/10"'
}

@test "track: output to /dev/full fails with status 1" {
	run bash -c "dblog-checkpoint track '$T/cp.json' < '$TESTS_DIR/golden/tx.in.ndjson' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == "dblog-checkpoint: "*"standard output"* ]]
}

@test "track and since: usage errors" {
	run dblog-checkpoint track < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint track "$T/cp.json" --every 0 < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint track "$T/cp.json" --interval soon < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint track "$T/cp.json" --pos 0/10 < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint since < /dev/null
	[ "$status" -eq 2 ]
	dblog-checkpoint set "$T/cp.json" --pos 0/10
	run dblog-checkpoint since "$T/cp.json" --pos 0/10 < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint since --pos 0/10 --time 1h < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint since --time 'the day before' < /dev/null
	[ "$status" -eq 2 ]
	run dblog-checkpoint since --seq 3 < /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"Try 'dblog-checkpoint --help'."* ]]
}

# ----------------------------------------------------------------- since

# A stream of three transactions, a heartbeat and a schema event.
since_stream() {
	cat > "$T/s.ndjson" <<'EOF'
{"op":"schema","table":"public.a","columns":[]}
{"op":"begin","tx":1,"pos":"0/10","commit_time":"2026-11-22T10:00:00.000000Z"}
{"op":"insert","table":"public.a","tx":1,"pos":"0/10","seq":0,"commit_time":"2026-11-22T10:00:00.000000Z"}
{"op":"insert","table":"public.a","tx":1,"pos":"0/10","seq":1,"commit_time":"2026-11-22T10:00:00.000000Z"}
{"op":"commit","tx":1,"pos":"0/10","commit_time":"2026-11-22T10:00:00.000000Z","count":2}
{"op":"heartbeat","pos":"0/18","commit_time":"2026-11-22T10:00:00.500000Z"}
{"op":"begin","tx":2,"pos":"0/20","commit_time":"2026-11-22T10:00:01.000000Z"}
{"op":"schema","table":"public.a","columns":[{"name":"id"}]}
{"op":"insert","table":"public.a","tx":2,"pos":"0/20","seq":0,"commit_time":"2026-11-22T10:00:01.000000Z"}
{"op":"insert","table":"public.a","tx":2,"pos":"0/20","seq":1,"commit_time":"2026-11-22T10:00:01.000000Z"}
{"op":"insert","table":"public.a","tx":2,"pos":"0/20","seq":2,"commit_time":"2026-11-22T10:00:01.000000Z"}
{"op":"commit","tx":2,"pos":"0/20","commit_time":"2026-11-22T10:00:01.000000Z","count":3}
{"op":"begin","tx":3,"pos":"0/100","commit_time":"2026-11-22T12:00:00+02:00"}
{"op":"insert","table":"public.a","tx":3,"pos":"0/100","seq":0,"commit_time":"2026-11-22T12:00:00+02:00"}
{"op":"commit","tx":3,"pos":"0/100","commit_time":"2026-11-22T12:00:00+02:00","count":1}
EOF
}

# since_lines ARGS...: the line numbers of since_stream that 'since ARGS'
# passes, as one line ("2 3 4").
since_lines() {
	dblog-checkpoint since "$@" < "$T/s.ndjson" > "$T/since.out" || return 1
	# the events pass byte for byte: find each in the input
	local l
	while IFS= read -r l; do
		grep -nxF -- "$l" "$T/s.ndjson" | cut -d: -f1
	done < "$T/since.out" | awk '!seen[$0]++' | tr '\n' ' ' | sed 's/ $//'
}

@test "since FILE passes the events strictly after the checkpoint" {
	since_stream
	dblog-checkpoint set "$T/cp.json" --pos 0/10
	[ "$(since_lines "$T/cp.json")" = "6 7 8 9 10 11 12 13 14 15" ]
	dblog-checkpoint set "$T/cp.json" --pos 0/18
	[ "$(since_lines "$T/cp.json")" = "7 8 9 10 11 12 13 14 15" ]
	dblog-checkpoint set "$T/cp.json" --pos 0/F
	[ "$(since_lines "$T/cp.json")" = "2 3 4 5 6 7 8 9 10 11 12 13 14 15" ]
	dblog-checkpoint set "$T/cp.json" --pos 0/100
	[ "$(since_lines "$T/cp.json")" = "" ]
	# LSNs compare as numbers: 0/F < 0/10 < 0/18 < 0/20 < 0/100
	dblog-checkpoint set "$T/cp.json" --pos 0/9F
	[ "$(since_lines "$T/cp.json")" = "13 14 15" ]
}

@test "since with a seq: the rest of a partly covered transaction, inside its begin and commit" {
	since_stream
	[ "$(since_lines --pos 0/20 --seq 0)" = "7 8 10 11 12 13 14 15" ]
	[ "$(since_lines --pos 0/20 --seq 2)" = "7 8 12 13 14 15" ]
	[ "$(since_lines --pos 0/10 --seq 0)" = "2 4 5 6 7 8 9 10 11 12 13 14 15" ]
	dblog-checkpoint set "$T/cp.json" --pos 0/20 --seq 1
	[ "$(since_lines "$T/cp.json")" = "7 8 11 12 13 14 15" ]
	# what track records after since resumes covers the same ground
	dblog-checkpoint since "$T/cp.json" < "$T/s.ndjson" | dblog-checkpoint track "$T/cp.json" > /dev/null
	jq_true "$T/cp.json" '.pos == "0/100" and (has("seq") | not)'
}

@test "since with sequence positions (SQLite)" {
	cat > "$T/lite.ndjson" <<'EOF'
{"op":"begin","tx":1,"pos":9,"commit_time":"2026-11-22T10:00:00.000000Z"}
{"op":"insert","table":"main.t","tx":1,"pos":9,"seq":0}
{"op":"commit","tx":1,"pos":9,"count":1}
{"op":"begin","tx":2,"pos":10}
{"op":"insert","table":"main.t","tx":2,"pos":10,"seq":0}
{"op":"insert","table":"main.t","tx":2,"pos":10,"seq":1}
{"op":"commit","tx":2,"pos":10,"count":2}
{"op":"snapshot","table":"main.t","pos":11,"seq":0}
EOF
	dblog-checkpoint set "$T/cp.json" --pos 9
	run dblog-checkpoint since "$T/cp.json" < "$T/lite.ndjson"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '4,8p' "$T/lite.ndjson")" ]
	run dblog-checkpoint since --pos 10 --seq 0 < "$T/lite.ndjson"
	[ "$output" = "$(sed -n '4p;6,8p' "$T/lite.ndjson")" ]
	run dblog-checkpoint since --pos 10 < "$T/lite.ndjson"
	[ "$output" = "$(sed -n '8p' "$T/lite.ndjson")" ]
}

@test "since: events without pos follow their transaction, or the event before them" {
	cat > "$T/in" <<'EOF'
{"op":"schema","table":"public.a","columns":[]}
{"op":"heartbeat"}
{"op":"insert","table":"public.a","pos":"0/30","seq":0}
{"op":"schema","table":"public.b","columns":[]}
{"op":"begin","tx":1,"pos":"0/5"}
{"op":"schema","table":"public.c","columns":[]}
{"op":"insert","table":"public.a","tx":1,"pos":"0/5","seq":0}
{"op":"commit","tx":1,"pos":"0/5"}
{"op":"schema","table":"public.d","columns":[]}
{"op":"begin","tx":2,"pos":"0/40"}
{"op":"schema","table":"public.e","columns":[]}
{"op":"commit","tx":2,"pos":"0/40"}
EOF
	run dblog-checkpoint since --pos 0/10 < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '3,4p;10,12p' "$T/in")" ]
}

@test "since --time passes events with commit_time after T (RFC 3339, offsets, date only)" {
	since_stream
	[ "$(since_lines --time 2026-11-22T10:00:00.5Z)" = "7 8 9 10 11 12" ]
	[ "$(since_lines --time 2026-11-22T10:00:00.499999Z)" = "6 7 8 9 10 11 12" ]
	# 11:00+01:00 is 10:00Z: equal is not after, so transaction 3 (12:00+02:00) stays out
	[ "$(since_lines --time 2026-11-22T11:00:00+01:00)" = "6 7 8 9 10 11 12" ]
	[ "$(since_lines --time '2026-11-22 09:59:59.999999Z')" = "2 3 4 5 6 7 8 9 10 11 12 13 14 15" ]
	[ "$(since_lines --time 2026-11-22)" = "2 3 4 5 6 7 8 9 10 11 12 13 14 15" ]
	[ "$(since_lines --time 2026-11-23)" = "" ]
}

@test "since --time with relative times: 2h, 30m ago, -1d, now" {
	at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000000Z; }
	{
		echo '{"op":"insert","table":"t","pos":"0/1","seq":0,"commit_time":"'"$(at '-3 hours')"'"}'
		echo '{"op":"insert","table":"t","pos":"0/2","seq":0,"commit_time":"'"$(at '-90 minutes')"'"}'
		echo '{"op":"insert","table":"t","pos":"0/3","seq":0,"commit_time":"'"$(at '-10 minutes')"'"}'
		echo '{"op":"insert","table":"t","pos":"0/4","seq":0,"commit_time":"'"$(at '+1 hour')"'"}'
		echo '{"op":"insert","table":"t","pos":"0/5","seq":0,"commit_time":"'"$(at '-2 days')"'"}'
	} > "$T/in"
	poss() { dblog-checkpoint since --time "$1" < "$T/in" | jq -r .pos | tr '\n' ' '; }
	[ "$(poss 2h)" = "0/2 0/3 0/4 " ]
	[ "$(poss '2h ago')" = "0/2 0/3 0/4 " ]
	[ "$(poss -2h)" = "0/2 0/3 0/4 " ]
	[ "$(poss '30m ago')" = "0/3 0/4 " ]
	[ "$(poss 1d)" = "0/1 0/2 0/3 0/4 " ]
	[ "$(poss -1d)" = "0/1 0/2 0/3 0/4 " ]
	[ "$(poss 3d)" = "0/1 0/2 0/3 0/4 0/5 " ]
	[ "$(poss now)" = "0/4 " ]
}

@test "since: an event position of another kind than the checkpoint's is an error" {
	since_stream
	dblog-checkpoint set "$T/cp.json" --pos 5
	run --separate-stderr dblog-checkpoint since "$T/cp.json" < "$T/s.ndjson"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[[ "$stderr" == "dblog-checkpoint: line 2: "*"kind"* ]]
	printf '%s\n' '{"op":"insert","table":"t","pos":"0/30","seq":0}' '{"op":"insert","table":"t","pos":31,"seq":0}' > "$T/mixed"
	run --separate-stderr dblog-checkpoint since --pos 0/10 < "$T/mixed"
	[ "$status" -eq 1 ]
	[ "$output" = '{"op":"insert","table":"t","pos":"0/30","seq":0}' ]
	[[ "$stderr" == "dblog-checkpoint: line 2: "*"kind"* ]]
	# with --dlq the line is parked and the run goes on
	run --separate-stderr dblog-checkpoint since --pos 0/10 --dlq "$T/dlq" < "$T/mixed"
	[ "$status" -eq 0 ]
	[ "$output" = '{"op":"insert","table":"t","pos":"0/30","seq":0}' ]
	jq_true "$T/dlq" '.program == "dblog-checkpoint" and .line == 2 and .event.pos == 31'
}

@test "since: bad input lines stop with status 1 and 'line N'" {
	printf '%s\n' '{"op":"insert","table":"t","pos":"0/30","seq":0}' '{"op":"insert","table":"t","pos":"0/31"' > "$T/in"
	run --separate-stderr dblog-checkpoint since --pos 0/10 < "$T/in"
	[ "$status" -eq 1 ]
	[ "$output" = '{"op":"insert","table":"t","pos":"0/30","seq":0}' ]
	[[ "$stderr" == "dblog-checkpoint: line 2: malformed JSON"* ]]
	run --separate-stderr dblog-checkpoint track "$T/cp.json" < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "dblog-checkpoint: line 2: malformed JSON"* ]]
}

@test "since: a missing checkpoint file is an error" {
	run dblog-checkpoint since "$T/nope.json" < /dev/null
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/nope.json"*"does not exist"* ]]
}

# ------------------------------------------------------------ atomicity

@test "kill -9 at random moments never leaves a partial checkpoint, and restart resumes" {
	gen_events -n 300000 -s 5 > "$T/big"
	commits=$(grep -c '"op":"commit"' "$T/big")
	last=$(grep '"op":"commit"' "$T/big" | tail -n 1 | jq -r .pos)
	mkdir "$T/state"
	cp="$T/state/cp.json"
	dblog-checkpoint set "$cp" --pos 0/0
	lsn() { echo $((16#${1#*/})); }
	prev=0 advanced=0
	for round in $(seq 1 12); do
		dblog-checkpoint since "$cp" < "$T/big" 2> /dev/null |
			dblog-checkpoint track "$cp" --every 1 > /dev/null 2> "$T/track.err" 3>&- &
		BG_PID=$!
		# read the file while it is being rewritten, a random number of times
		for i in $(seq 1 $((RANDOM % 10 + 2))); do
			jq_true "$cp" '.pos | type == "string"' > /dev/null 2>&1 || { echo "round $round: unreadable while running: $(cat "$cp")"; return 1; }
			sleep 0.0$((RANDOM % 5 + 1))
		done
		kill -9 "$BG_PID" 2> /dev/null || true
		wait || true
		BG_PID=
		if grep -q 'dblog-checkpoint:' "$T/track.err"; then
			echo "round $round: track failed: $(cat "$T/track.err")"
			return 1
		fi
		# a complete, valid checkpoint: never empty, never half-written
		jq_true "$cp" '.version == 1 and (.pos | type) == "string"' > /dev/null ||
			{ echo "round $round: bad checkpoint: $(cat "$cp")"; return 1; }
		dblog-checkpoint show "$cp" > /dev/null
		pos=$(lsn "$(jq -r .pos "$cp")")
		[ "$pos" -ge "$prev" ] || { echo "round $round: went back from $prev to $pos"; return 1; }
		[ "$pos" -eq "$prev" ] || advanced=$((advanced + 1))
		prev=$pos
		# nothing in the directory but the checkpoint and temp-file leftovers
		leftovers=$(ls -A "$T/state" | grep -vx 'cp.json' | grep -v '^cp\.json\.tmp\.' || true)
		[ -z "$leftovers" ] || { echo "round $round: unexpected files: $leftovers"; return 1; }
	done
	[ "$advanced" -ge 3 ] || { echo "the checkpoint advanced in only $advanced rounds"; return 1; }
	# a stale temp file of a process long gone does no harm, and is removed
	# once over a minute old (a fresh one may be a live writer's elsewhere)
	echo '{"pos":' > "$T/state/cp.json.tmp.999999"
	echo '{"pos":' > "$T/state/cp.json.tmp.999998"
	touch -d '2 minutes ago' "$T/state/cp.json.tmp.999999"
	dblog-checkpoint since "$cp" < "$T/big" | dblog-checkpoint track "$cp" > /dev/null
	[ ! -e "$T/state/cp.json.tmp.999999" ]
	[ -e "$T/state/cp.json.tmp.999998" ]
	# every transaction was counted once, whatever the kills interrupted
	jq_true "$cp" --arg last "$last" --argjson c "$commits" \
		'.pos == $last and .counters.transactions == $c' ||
		{ echo "want pos $last and $commits transactions"; return 1; }
}

@test "kill -9 at each step of a checkpoint write leaves the old or the new checkpoint (strace injection)" {
	command -v strace > /dev/null || skip "strace is not installed"
	strace -o /dev/null -e inject=getpid:error=EPERM true 2> /dev/null ||
		skip "strace cannot inject faults here"
	# LeakSanitizer cannot run under ptrace
	export ASAN_OPTIONS=detect_leaks=0
	gen_events -n 300 -s 8 > "$T/in"
	last=$(grep '"op":"commit"' "$T/in" | tail -n 1 | jq -r .pos)
	{ echo 0/0; grep '"op":"commit"' "$T/in" | jq -r .pos; } > "$T/positions"
	mkdir "$T/state"
	cp="$T/state/cp.json"
	# one traced run: which calls (by ordinal per syscall) make the first checkpoint writes
	dblog-checkpoint set "$cp" --pos 0/0
	strace -o "$T/trace" -e trace=openat,write,fsync,fdatasync,rename,renameat,renameat2 \
		dblog-checkpoint track "$cp" --every 1 < "$T/in" > "$T/out"
	awk '{
		name = $0; sub(/\(.*/, "", name); n[name]++
		hit = 0
		if (name == "openat" && ($0 ~ /cp\.json/ || $0 ~ /O_DIRECTORY/) && $0 !~ /O_RDONLY\|O_CLOEXEC\)/) hit = 1
		if (name == "write" && $0 !~ /^write\([012],/) hit = 1
		if (name == "fsync" || name == "fdatasync" || name ~ /^rename/) hit = 1
		if (hit && k[name]++ < 3) print name, n[name]
	}' "$T/trace" > "$T/points"
	[ "$(wc -l < "$T/points")" -ge 9 ] || { cat "$T/points"; return 1; }
	while read -r sc when; do
		rm -f "$T/state"/*
		dblog-checkpoint set "$cp" --pos 0/0
		rc=0
		strace -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$when" \
			dblog-checkpoint track "$cp" --every 1 < "$T/in" > "$T/out" 2> /dev/null || rc=$?
		[ "$rc" -eq 137 ] || { echo "$sc #$when: not killed (status $rc)"; return 1; }
		pos=$(jq -r '.pos | strings' "$cp") && [ -n "$pos" ] ||
			{ echo "$sc #$when: bad checkpoint: [$(cat "$cp")]"; return 1; }
		grep -qxF "$pos" "$T/positions" || { echo "$sc #$when: unknown pos $pos"; return 1; }
		leftovers=$(ls -A "$T/state" | grep -vx 'cp.json' | grep -v '^cp\.json\.tmp\.' || true)
		[ -z "$leftovers" ] || { echo "$sc #$when: unexpected files: $leftovers"; return 1; }
		# and a restart goes on from there to the end
		dblog-checkpoint since "$cp" < "$T/in" | dblog-checkpoint track "$cp" > /dev/null
		jq_true "$cp" --arg last "$last" '.pos == $last' > /dev/null ||
			{ echo "$sc #$when: restart ended at $(jq -r .pos "$cp")"; return 1; }
	done < "$T/points"
}
