#!/usr/bin/env bats
# dblog-txbuf: whole transactions in commit order, each delivery reason
# (golden files), interleaved and shuffled transactions, batches, --as-tx,
# end of input, bad input (--dlq), signals, --stats, and a 2,000,000-change
# transaction through --max-memory 16M. The contract is issue 6 and
# dblog-txbuf(1).
load helpers

bats_require_minimum_version 1.5.0

setup() { setup_tmp; }
teardown() { teardown_tmp; }

# ---------------------------------------------------------------- helpers

# Batch ids depend on the clock: golden files hold "B" instead.
# wait_commit FILE: until FILE holds a commit event (at most 10 s), so a
# writer keeps its pipe open while the reader is idle, however slow the
# machine is to start it.
wait_commit() {
	local i
	for i in $(seq 100); do
		grep -q '"op":"commit"' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 0
}

norm_batch() {
	sed -E 's/"batch":"[0-9]{13}-[0-9a-f]{8}"/"batch":"B"/'
}

# golden_txb NAME ARGS...: dblog-txbuf ARGS on tests/golden/NAME.in.ndjson,
# batch ids normalised, equals NAME.out.ndjson.
golden_txb() {
	local name="$1"; shift
	dblog-txbuf "$@" < "$TESTS_DIR/golden/$name.in.ndjson" > "$T/$name.raw" || return 1
	norm_batch < "$T/$name.raw" > "$T/$name.got"
	diff -u "$TESTS_DIR/golden/$name.out.ndjson" "$T/$name.got"
}

SRC='{"driver":"postgres","name":"app"}'

# tx_events SOURCE TX SEQ...: begin, one insert per SEQ (in that order), commit.
tx_events() {
	local src=$1 tx=$2 s; shift 2
	echo "{\"op\":\"begin\",\"source\":$src,\"tx\":$tx,\"pos\":\"0/$tx\",\"commit_time\":\"2026-11-22T10:00:00Z\"}"
	for s in "$@"; do
		echo "{\"op\":\"insert\",\"table\":\"public.t\",\"source\":$src,\"tx\":$tx,\"pos\":\"0/$tx\",\"seq\":$s,\"key\":{\"id\":$s},\"after\":{\"id\":$s}}"
	done
	echo "{\"op\":\"commit\",\"source\":$src,\"tx\":$tx,\"pos\":\"0/$tx\",\"commit_time\":\"2026-11-22T10:00:00Z\",\"count\":$#}"
}

# ------------------------------------------------------ delivery reasons

@test "commit: interleaved transactions of two sources come out whole, in commit order" {
	# tx 7 of source b commits first; tx 7 of source a has the same id; a
	# change without tx and a heartbeat pass at once; an old delivery and
	# batch on a commit are replaced; a schema event with a tx stays in it
	golden_txb txbuf-commit
	run jq -r 'select(.op == "commit") | .delivery' "$T/txbuf-commit.raw"
	[ "$output" = $'commit\ncommit\ncommit' ]
}

@test "commit_time: a marker-less transaction goes once its tables show later changes" {
	golden_txb txbuf-commit-time --poll-interval 0
}

@test "poll_interval: a marker-less transaction older than twice --poll-interval in the stream" {
	golden_txb txbuf-poll-interval --poll-interval 1s
	# without poll-interval gating it waits until the end
	dblog-txbuf --poll-interval 0 < "$TESTS_DIR/golden/txbuf-poll-interval.in.ndjson" > "$T/out"
	jq_true "$T/out" -s '[.[] | select(.op == "commit") | .delivery] == ["flush", "flush"]'
}

@test "poll_interval: on the wall clock while input is idle" {
	printf '%s\n' '{"op":"insert","table":"main.a","source":{"driver":"sqlite","name":"p"},"tx":1,"pos":1,"seq":0,"commit_time":"2020-01-01T00:00:00Z","key":{"id":1},"after":{"id":1}}' > "$T/in"
	{ cat "$T/in"; wait_commit "$T/out"; } | dblog-txbuf --poll-interval 100ms > "$T/out"
	jq_true "$T/out" -s '[.[] | select(.op == "commit") | .delivery] == ["poll_interval"]'
}

@test "timeout: --max-wait delivers a transaction still open, with a warning" {
	{ cat "$TESTS_DIR/golden/txbuf-timeout.in.ndjson"; wait_commit "$T/raw"; } |
		dblog-txbuf --poll-interval 0 --max-wait 200ms > "$T/raw" 2> "$T/err"
	stderr=$(cat "$T/err")
	norm_batch < "$T/raw" > "$T/got"
	diff -u "$TESTS_DIR/golden/txbuf-timeout.out.ndjson" "$T/got"
	[[ "$stderr" == *"warning: transaction 1 of source"*"--max-wait"* ]]
}

@test "batch_limit: --max-tx forces the oldest marker-less transaction out" {
	golden_txb txbuf-batch-limit --poll-interval 0 --max-tx 2
}

@test "flush: marker-less transactions at end of input, changes sorted by seq" {
	golden_txb txbuf-flush --poll-interval 0
}

# ------------------------------------------------------- order and form

@test "changes shuffled within a transaction come out in seq order" {
	tx_events "$SRC" 5 3 0 4 1 2 > "$T/in"
	dblog-txbuf < "$T/in" > "$T/out"
	run jq -r 'select(.seq != null) | .seq' "$T/out"
	[ "$output" = $'0\n1\n2\n3\n4' ]
}

@test "merged streams: every transaction whole and in its source's commit order" {
	gen_events -n 3000 -s 5 --tx-max 20 > "$T/a"
	gen_events -n 3000 -s 6 --tx-max 20 --driver sqlite > "$T/b"
	# interleave the two streams line by line
	paste -d '\n' "$T/a" "$T/b" | grep -v '^$' > "$T/in"
	dblog-txbuf < "$T/in" > "$T/out" 2> "$T/err"
	# no event between a begin and its commit belongs to another transaction
	jq_true "$T/out" -s -c '
		reduce .[] as $e ({open: null, ok: true};
			if $e.op == "begin" then .ok = (.ok and .open == null) | .open = [$e.source, $e.tx]
			elif $e.op == "commit" then .ok = (.ok and .open == [$e.source, $e.tx]) | .open = null
			else .ok = (.ok and .open == [$e.source, $e.tx]) end) | .ok'
	# each source's transactions keep their order, with all their changes
	for s in app shop; do
		jq -c "select(.source.name == \"$s\" and .seq != null)" "$T/out" > "$T/got.$s"
		grep -h '"seq"' "$T/a" "$T/b" | jq -c "select(.source.name == \"$s\")" > "$T/want.$s"
		diff -q "$T/want.$s" "$T/got.$s"
	done
	[ ! -s "$T/err" ]
	# a transaction of each stream cut off at the end is reported
	paste -d '\n' <(head -n -1 "$T/a") <(head -n -1 "$T/b") | grep -v '^$' > "$T/in2"
	dblog-txbuf < "$T/in2" > /dev/null 2> "$T/err"
	[ "$(grep -c 'incomplete at end of input' "$T/err")" -eq 2 ]
}

@test "--batch-rows: complete transactions share a batch id; ids increase" {
	{ tx_events "$SRC" 1 0 1; tx_events "$SRC" 2 0; tx_events "$SRC" 3 0 1 2; tx_events "$SRC" 4 0; } > "$T/in"
	dblog-txbuf --batch-rows 3 < "$T/in" > "$T/out"
	run jq -r 'select(.op == "commit") | .batch' "$T/out"
	b=($output)
	[ "${#b[@]}" -eq 4 ]
	[ "${b[0]}" = "${b[1]}" ]     # 2 + 1 changes: one batch
	[ "${b[2]}" != "${b[1]}" ]    # 3 changes: a batch alone
	[ "${b[3]}" != "${b[2]}" ]    # the rest at end of input
	[[ "${b[1]}" < "${b[2]}" && "${b[2]}" < "${b[3]}" ]]
	# without batching every transaction has its own, increasing
	dblog-txbuf < "$T/in" | jq -r 'select(.op == "commit") | .batch' > "$T/ids"
	[ "$(sort -u "$T/ids" | wc -l)" -eq 4 ]
	sort -c "$T/ids"
}

@test "--batch-ms: a batch closes when it is that old, also while input is idle" {
	tx_events "$SRC" 1 0 > "$T/in"
	{ cat "$T/in"; wait_commit "$T/out"; tx_events "$SRC" 2 0; } | dblog-txbuf --batch-ms 200ms > "$T/out"
	run jq -r 'select(.op == "commit") | .batch' "$T/out"
	b=($output)
	[ "${#b[@]}" -eq 2 ]
	[ "${b[0]}" != "${b[1]}" ]
}

@test "--as-tx: one line per transaction that jq reads" {
	{ tx_events "$SRC" 1 1 0; tx_events "$SRC" 2 0; } > "$T/in"
	dblog-txbuf --as-tx < "$T/in" > "$T/out"
	[ "$(wc -l < "$T/out")" -eq 2 ]
	jq_true "$T/out" -s '[.[] | .op == "tx" and .delivery == "commit" and (.batch | test("^[0-9]{13}-[0-9a-f]{8}$"))
		and (.changes | length) == .count and ([.changes[].seq] == [range(.count)])] == [true, true]'
	jq_true "$T/out" -s '[.[].tx] == [1, 2] and .[0].source.name == "app" and .[0].pos == "0/1"'
}

# ------------------------------------------------------- end of input

@test "a transaction without commit at end of input is reported, not delivered" {
	{ tx_events "$SRC" 1 0; tx_events "$SRC" 2 0 1 | head -n 3; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(jq -r .tx <<<"$output" | sort -u)" = 1 ]
	[[ "$stderr" == *"transaction 2 of source"*"incomplete at end of input"*"2 changes"*"not delivered"* ]]
}

@test "--flush-incomplete delivers it, marked flush and incomplete" {
	tx_events "$SRC" 2 0 1 | head -n 3 > "$T/in"
	dblog-txbuf --flush-incomplete < "$T/in" > "$T/out" 2> "$T/err"
	jq_true "$T/out" -s '[.[].op] == ["begin", "insert", "insert", "commit"] and
		.[3].delivery == "flush" and .[3].incomplete == true and .[3].count == 2 and .[3].tx == 2'
	grep -q 'delivered (--flush-incomplete)' "$T/err"
}

# ------------------------------------------------------- bad input

@test "malformed events: line number and status 1; what came before is out" {
	{ tx_events "$SRC" 1 0; echo '{"op":"insert",'; tx_events "$SRC" 2 0; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"dblog-txbuf: line 4: malformed JSON"* ]]
	[ "$(jq -r .tx <<<"$output" | sort -u)" = 1 ]
	printf '%s\n' '{"op":"upsert","table":"t"}' > "$T/bad"
	run --separate-stderr dblog-txbuf < "$T/bad"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"line 1: unknown op"* ]]
}

@test "input cut off inside its last line: a warning, the whole transactions out, status 0" {
	{ tx_events "$SRC" 1 0; tx_events "$SRC" 2 0 | head -n 2; printf '{"op":"insert","tab'; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	[[ "$stderr" == *"the input ends inside this line"* ]]
	[ "$(jq -r .tx <<<"$output" | sort -u)" = 1 ]
}

@test "--dlq parks bad lines and goes on" {
	{ tx_events "$SRC" 1 0; echo 'not json'; tx_events "$SRC" 2 0; } > "$T/in"
	run --separate-stderr dblog-txbuf --dlq "$T/dlq" < "$T/in"
	[ "$status" -eq 0 ]
	[ "$(jq -r 'select(.op == "commit") | .tx' <<<"$output" | tr '\n' ' ')" = "1 2 " ]
	jq_true "$T/dlq" '.line == 4 and .raw == "not json"'
}

@test "a transaction that comes again after it was delivered (overlapping input) is delivered again, with a warning; apply applies it once" {
	{ tx_events "$SRC" 1 0 1; tx_events "$SRC" 2 0; tx_events "$SRC" 1 0 1; tx_events "$SRC" 3 0; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"transaction 1 was delivered before and comes again: it is delivered again"* ]]
	[ "$(jq -r 'select(.op == "commit") | "\(.tx):\(.count)"' <<<"$output" | tr '\n' ' ')" = "1:2 2:1 1:2 3:1 " ]
	# dblog-apply skips what it has applied: rows and counters as once
	echo "$output" | dblog-apply -c "$T/cp" --create-tables "sqlite:$T/db"
	[ "$(sqlite3 "$T/db" 'SELECT count(*) FROM t')" = 2 ]
	[ "$(jq -c '.counters | [.changes, .transactions]' "$T/cp")" = '[4,3]' ]
	# a change of it alone, with no commit after: incomplete at the end, not delivered
	{ tx_events "$SRC" 1 0; tx_events "$SRC" 1 1 | sed -n 2p; } > "$T/in2"
	run --separate-stderr dblog-txbuf < "$T/in2"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"transaction 1 was delivered before and comes again"* ]]
	[[ "$stderr" == *"incomplete at end of input"* ]]
	[ "$(jq -r 'select(.op == "commit") | .tx' <<<"$output")" = 1 ]
}

@test "usage errors: stray argument, bad duration, bad size" {
	run dblog-txbuf extra
	[ "$status" -eq 2 ]
	run dblog-txbuf --max-wait soon
	[ "$status" -eq 2 ]
	[[ "$output" == *"Try 'dblog-txbuf --help'."* ]]
	run dblog-txbuf --max-memory lots
	[ "$status" -eq 2 ]
	run dblog-txbuf --spill-dir "$T/none"
	[ "$status" -eq 2 ]
}

@test "a write error fails loudly" {
	tx_events "$SRC" 1 0 > "$T/in"
	run bash -c "dblog-txbuf < '$T/in' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dblog-txbuf: "* ]]
}

# ------------------------------------------------------- signals, stats

@test "SIGTERM: complete transactions are out, status 0, the open one reported" {
	mkfifo "$T/fifo"
	dblog-txbuf --stats < "$T/fifo" > "$T/out" 2> "$T/err" &
	pid=$!
	exec 7> "$T/fifo"
	{ tx_events "$SRC" 1 0 1; tx_events "$SRC" 2 0 | head -n 2; } >&7
	wait_until 5 grep -q '"op":"commit"' "$T/out"
	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	exec 7>&-
	[ "$st" -eq 0 ]
	jq_true "$T/out" -s '[.[].op] == ["begin", "insert", "insert", "commit"]'
	grep -q '1 pending transactions not delivered' "$T/err"
	grep -q 'stats: delivered commit=1 ' "$T/err"
}

@test "--stats on SIGUSR1 and at exit: reasons, pending, spills" {
	mkfifo "$T/fifo"
	dblog-txbuf --stats < "$T/fifo" > "$T/out" 2> "$T/err" &
	pid=$!
	exec 7> "$T/fifo"
	{ tx_events "$SRC" 1 0; tx_events "$SRC" 2 0 | head -n 2; } >&7
	wait_until 5 grep -q '"op":"commit"' "$T/out"
	kill -USR1 "$pid"
	wait_until 5 grep -q 'pending tx=1 ' "$T/err"
	exec 7>&-
	wait "$pid"
	grep -q 'stats: delivered commit=1 commit_time=0 poll_interval=0 timeout=0 batch_limit=0 flush=0; batches=1; pending tx=1 bytes=[0-9]*; spills=0 ' "$T/err"
	[ "$(grep -c 'stats:' "$T/err")" -eq 2 ]
}

# ------------------------------------------------------- bounded memory

@test "a 2,000,000-change transaction through --max-memory 16M: spilled, whole, in order, RSS bounded" {
	[ -x /usr/bin/time ] || skip "GNU time (/usr/bin/time) is not installed"
	mkdir "$T/spill"
	# seq descends inside blocks of 1000 so that the spilled runs must be
	# merged, not just concatenated
	awk -v src="$SRC" 'BEGIN {
		printf "{\"op\":\"begin\",\"source\":%s,\"tx\":9,\"pos\":\"0/9\"}\n", src
		for (i = 0; i < 2000000; i++) {
			s = int(i / 1000) * 1000 + 999 - i % 1000
			printf "{\"op\":\"insert\",\"table\":\"t\",\"tx\":9,\"source\":%s,\"seq\":%d,\"after\":{\"id\":%d}}\n", src, s, s
		}
		printf "{\"op\":\"commit\",\"source\":%s,\"tx\":9,\"pos\":\"0/9\",\"count\":2000000}\n", src
	}' > "$T/in"
	/usr/bin/time -f '%M' -o "$T/rss" dblog-txbuf --stats --max-memory 16M --spill-dir "$T/spill" \
		< "$T/in" > "$T/out" 2> "$T/err"
	[ "$(wc -l < "$T/out")" -eq 2000002 ]
	# every seq once, in order
	awk -F'"seq":' 'NR > 1 && NF > 1 { split($2, a, ","); if (a[1] != n++) { print "seq " a[1] " at " NR; exit 1 } }
		END { if (n != 2000000) { print n " changes"; exit 1 } }' "$T/out"
	head -n 1 "$T/out" | grep -q '"op":"begin"'
	tail -n 1 "$T/out" | grep -q '"op":"commit".*"delivery":"commit"'
	grep -Eq 'spills=([2-9]|[1-9][0-9]+) ' "$T/err"
	[ -z "$(ls -A "$T/spill")" ]
	rss=$(tail -n 1 "$T/rss")
	echo "peak RSS ${rss} KiB"
	# under the limit itself; the sanitizers' shadow memory does not count
	[ -n "${DBLOG_ASAN:-}" ] || [ "$rss" -lt 16384 ]
}

# ------------------------------------------------ stress (tests/lib/txbuf_stress.py)

stress() { python3 "$TESTS_DIR/lib/txbuf_stress.py" "$@"; }

# peak_rss FILE CMD...: run CMD, its peak RSS in KiB into FILE.
peak_rss() {
	local f=$1; shift
	/usr/bin/time -f '%M' -o "$f" "$@"
}

@test "stress: merged sources with markers, interleaved and shuffled: each transaction once, whole, in commit order" {
	stress gen-markers 11 5 400 25 4 > "$T/in"
	dblog-txbuf < "$T/in" > "$T/out"
	stress check "$T/in" "$T/out"
	dblog-txbuf --as-tx < "$T/in" > "$T/tx"
	stress check "$T/in" "$T/tx" --as-tx
	# batched, and spilled through a small memory limit
	dblog-txbuf --batch-rows 50 --max-memory 1M --spill-dir "$T" < "$T/in" > "$T/b"
	stress check "$T/in" "$T/b"
	[ "$(grep -o '"batch":"[^"]*"' "$T/b" | sort -u | wc -l)" -lt 2000 ]
}

@test "stress: marker-less polling rounds with heartbeats naming tables: commit_time, flush, batch_limit" {
	stress gen-markerless 5 200 5 > "$T/in"
	dblog-txbuf --poll-interval 0 < "$T/in" > "$T/out"
	stress check "$T/in" "$T/out" --markerless --reasons commit_time
	stress gen-markerless 5 200 5 --no-last-heartbeats > "$T/in2"
	dblog-txbuf --poll-interval 0 < "$T/in2" > "$T/out2"
	stress check "$T/in2" "$T/out2" --markerless --reasons commit_time,flush
	# --max-tx with batching: a forced transaction stops counting as
	# pending when it is delivered, not when its batch is written, so only
	# the oldest go and none is cut short
	dblog-txbuf --poll-interval 0 --max-tx 3 --batch-rows 50 < "$T/in2" > "$T/out3"
	run stress check "$T/in2" "$T/out3" --markerless --reasons commit_time,flush,batch_limit
	[ "$status" -eq 0 ]
	[[ "$output" == *"batch_limit="* ]]
}

@test "a heartbeat naming a table delivers at once, input still open" {
	mkfifo "$T/fifo"
	dblog-txbuf --poll-interval 0 < "$T/fifo" > "$T/out" &
	pid=$!
	exec 7> "$T/fifo"
	echo '{"op":"insert","table":"main.a","source":{"driver":"sqlite","name":"p"},"tx":1,"pos":1,"seq":0,"commit_time":"2026-01-01T00:00:01Z","key":{"id":1},"after":{"id":1}}' >&7
	echo '{"op":"heartbeat","table":"main.a","source":{"driver":"sqlite","name":"p"},"pos":1,"commit_time":"2026-01-01T00:00:02Z"}' >&7
	wait_until 5 grep -q '"op":"heartbeat"' "$T/out"
	exec 7>&-
	wait "$pid"
	jq_true "$T/out" -s '[.[].op] == ["begin", "insert", "commit", "heartbeat"] and .[2].delivery == "commit_time"'
}

@test "an event without tx passes after the complete transactions of the open batch" {
	{ tx_events "$SRC" 1 0; echo '{"op":"insert","table":"public.t","source":'"$SRC"',"pos":"0/9","seq":0,"key":{"id":9},"after":{"id":9}}'; } > "$T/in"
	dblog-txbuf --batch-rows 100 < "$T/in" > "$T/out"
	jq_true "$T/out" -s '[.[].op] == ["begin", "insert", "commit", "insert"] and .[3].key.id == 9'
}

@test "a schema event after a spill stays after the changes before it" {
	{ echo "{\"op\":\"begin\",\"source\":$SRC,\"tx\":3,\"pos\":\"0/3\"}"
	  awk -v src="$SRC" -v pad="$(printf '%0500d' 0)" 'BEGIN { for (i = 0; i < 6000; i++)
		printf "{\"op\":\"insert\",\"table\":\"t\",\"source\":%s,\"tx\":3,\"seq\":%d,\"after\":{\"p\":\"%s\"}}\n", src, i, pad }'
	  echo "{\"op\":\"schema\",\"table\":\"t\",\"source\":$SRC,\"tx\":3,\"columns\":[]}"
	  echo "{\"op\":\"insert\",\"table\":\"t\",\"source\":$SRC,\"tx\":3,\"seq\":6000,\"after\":{}}"
	  echo "{\"op\":\"commit\",\"source\":$SRC,\"tx\":3,\"pos\":\"0/3\",\"count\":6001}"; } > "$T/in"
	dblog-txbuf --stats --max-memory 1M --spill-dir "$T" < "$T/in" > "$T/out" 2> "$T/err"
	grep -Eq 'spills=[1-9]' "$T/err"
	[ "$(grep -n '"op":"schema"' "$T/out" | cut -d: -f1)" -eq 6002 ]
}

@test "records longer than the read-back buffer come back whole" {
	{ echo "{\"op\":\"begin\",\"source\":$SRC,\"tx\":4,\"pos\":\"0/4\"}"
	  python3 -c 'import sys
for i in range(300):
    print("{\"op\":\"insert\",\"table\":\"t\",\"source\":%s,\"tx\":4,\"seq\":%d,\"after\":{\"p\":\"%s\"}}"
          % (sys.argv[1], 299 - i, "x" * (7000 + i * 97)))' "$SRC"
	  echo "{\"op\":\"commit\",\"source\":$SRC,\"tx\":4,\"pos\":\"0/4\",\"count\":300}"; } > "$T/in"
	dblog-txbuf --stats --max-memory 1M --spill-dir "$T" < "$T/in" > "$T/out" 2> "$T/err"
	grep -Eq 'spills=[1-9]' "$T/err"
	stress check "$T/in" "$T/out"
}

@test "bounded memory: several big interleaved transactions, and many medium ones, under --max-memory 16M" {
	[ -x /usr/bin/time ] || skip "GNU time (/usr/bin/time) is not installed"
	mkdir "$T/spill"
	stress gen-big 4 100000 2 > "$T/big"
	peak_rss "$T/rss1" dblog-txbuf --max-memory 16M --spill-dir "$T/spill" < "$T/big" > "$T/out1"
	stress check "$T/big" "$T/out1"
	python3 -c '
N, C = 2000, 60
s = "{\"driver\":\"postgres\",\"name\":\"m\"}"
w = __import__("sys").stdout.write
for k in range(N): w("{\"op\":\"begin\",\"source\":%s,\"tx\":%d,\"pos\":\"0/%X\"}\n" % (s, k, k + 1))
for q in range(C):
    w("".join("{\"op\":\"insert\",\"table\":\"t\",\"tx\":%d,\"source\":%s,\"seq\":%d,\"after\":{\"p\":\"%s\"}}\n" % (k, s, C - 1 - q, "p" * 60) for k in range(N)))
for k in range(N): w("{\"op\":\"commit\",\"source\":%s,\"tx\":%d,\"pos\":\"0/%X\",\"count\":%d}\n" % (s, k, k + 1, C))
' > "$T/med"
	peak_rss "$T/rss2" dblog-txbuf --max-memory 16M --spill-dir "$T/spill" < "$T/med" > "$T/out2"
	stress check "$T/med" "$T/out2"
	[ -z "$(ls -A "$T/spill")" ]
	echo "peak RSS: big $(tail -n 1 "$T/rss1") KiB, medium $(tail -n 1 "$T/rss2") KiB"
	[ -n "${DBLOG_ASAN:-}" ] || [ "$(tail -n 1 "$T/rss1")" -lt 16384 ]
	[ -n "${DBLOG_ASAN:-}" ] || [ "$(tail -n 1 "$T/rss2")" -lt 16384 ]
}

@test "spill files have no name: none visible while spilling, none after SIGTERM or kill -9" {
	mkdir "$T/spill"
	stress gen-big 1 100000 > "$T/big"
	head -n 80000 "$T/big" > "$T/part"
	for sig in TERM KILL; do
		mkfifo "$T/fifo.$sig"
		dblog-txbuf --stats --max-memory 1M --spill-dir "$T/spill" < "$T/fifo.$sig" > "$T/out.$sig" 2> "$T/err.$sig" &
		pid=$!
		exec 7> "$T/fifo.$sig"
		cat "$T/part" >&7
		kill -USR1 "$pid"
		wait_until 5 grep -Eq 'spills=[1-9]' "$T/err.$sig"
		[ -z "$(ls -A "$T/spill")" ]
		kill -"$sig" "$pid"
		st=0
		wait "$pid" || st=$?
		exec 7>&-
		if [ "$sig" = TERM ]; then
			[ "$st" -eq 0 ]
			grep -q '1 pending transactions not delivered' "$T/err.$sig"
		fi
		[ ! -s "$T/out.$sig" ]
		[ -z "$(ls -A "$T/spill")" ]
	done
	# and the next run is not confused
	dblog-txbuf --max-memory 1M --spill-dir "$T/spill" < "$T/big" > "$T/out"
	stress check "$T/big" "$T/out"
}

@test "bad input: duplicate seq, unknown op; a commit seen twice; a change without tx passes; --dlq parks" {
	{ tx_events "$SRC" 1 0 1 2 | sed '3p'; tx_events "$SRC" 2 0; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"dblog-txbuf: line 4: duplicate seq 1 in transaction 1"* ]]
	run --separate-stderr dblog-txbuf --dlq "$T/dlq" < "$T/in"
	[ "$status" -eq 0 ]
	jq_true "$T/dlq" '.line == 4'
	[ "$(jq -r 'select(.op == "commit") | "\(.tx):\(.count)"' <<<"$output" | tr '\n' ' ')" = "1:3 2:1 " ]
	[ "$(jq -c 'select(.tx == 1 and .seq != null) | .seq' <<<"$output" | tr '\n' ' ')" = "0 1 2 " ]
	# a commit without its begin completes it (the input started inside
	# it); the same commit again is delivered again, with a warning
	{ tx_events "$SRC" 5 0 | tail -n 1; tx_events "$SRC" 5 0 | tail -n 1; } > "$T/in2"
	run --separate-stderr dblog-txbuf < "$T/in2"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"transaction 5 was delivered before and comes again"* ]]
	echo "$output" > "$T/out2"
	jq_true "$T/out2" -s '[.[].op] == ["begin", "commit", "begin", "commit"]'
	printf '%s\n' '{"op":"frobnicate","table":"t"}' > "$T/in3"
	run --separate-stderr dblog-txbuf < "$T/in3"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"dblog-txbuf: line 1: unknown op"* ]]
	# a change without tx in the middle of a transaction passes at once
	{ tx_events "$SRC" 6 0 | head -n 2; echo '{"op":"insert","table":"public.t","source":'"$SRC"',"pos":"0/7","seq":0,"key":{"id":7},"after":{"id":7}}'; tx_events "$SRC" 6 0 | tail -n 1; } > "$T/in4"
	dblog-txbuf < "$T/in4" > "$T/out4"
	jq_true "$T/out4" -s '[.[] | "\(.op):\(.tx)"] == ["insert:null", "begin:6", "insert:6", "commit:6"]'
}

@test "SQLite groups without markers (several changes, each its own pos and seq 0) pass whole, in order" {
	new_sqlite() { sqlite3 -batch -bail "$@"; }
	new_sqlite "$T/a.db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)" > /dev/null
	dblog-capture --setup "sqlite:$T/a.db"
	new_sqlite "$T/a.db" "INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b'); UPDATE t SET v = 'B' WHERE id = 2"
	dblog-capture --until-caught-up "sqlite:$T/a.db" > "$T/in"
	jq_true "$T/in" -s '[.[] | select(.seq != null) | [.pos, .seq]] == [[1, 0], [2, 0], [3, 0]] and
		(map(select(.op == "begin")) | length == 1 and .[0].grouping == "inexact")'
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	# the schema event (no tx) passes at once; the group follows whole
	[ "$(grep -Ev '"op":"(commit|schema)"' <<< "$output")" = "$(grep -Ev '"op":"(commit|schema)"' "$T/in")" ]
	[ "$(jq -r .op <<< "$output" | paste -sd' ')" = "schema begin insert insert update commit" ]
	dblog-txbuf < "$T/in" | dblog-apply --create-tables "sqlite:$T/b.db"
	[ "$(new_sqlite "$T/b.db" "SELECT group_concat(id || v, ' ') FROM t")" = "1a 2B" ]
}

@test "write errors fail loudly: --as-tx, and a spilled transaction" {
	tx_events "$SRC" 1 0 1 > "$T/in"
	run bash -c "dblog-txbuf --as-tx < '$T/in' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dblog-txbuf: cannot write standard output"* ]]
	stress gen-big 1 50000 > "$T/big"
	run bash -c "dblog-txbuf --max-memory 1M --spill-dir '$T' < '$T/big' > /dev/full"
	[ "$status" -eq 1 ]
	[[ "$output" == *"dblog-txbuf: cannot write standard output"* ]]
}

@test "batch ids: unique across runs started together, increasing within a run" {
	for i in $(seq 30); do tx_events "$SRC" "$i" 0; done > "$T/in"
	for k in 1 2 3 4 5 6 7 8; do
		dblog-txbuf < "$T/in" > "$T/out.$k" &
	done
	wait
	for k in 1 2 3 4 5 6 7 8; do
		jq -r 'select(.op == "commit") | .batch' "$T/out.$k" > "$T/ids.$k"
		[ "$(wc -l < "$T/ids.$k")" -eq 30 ]
		sort -c "$T/ids.$k"
		grep -Evq '^[0-9]{13}-[0-9a-f]{8}$' "$T/ids.$k" && false
	done
	[ "$(cat "$T"/ids.* | sort -u | wc -l)" -eq 240 ]
}

@test "a transaction cut off and sent again from its begin (a source that reconnected): the first part is dropped, with a warning" {
	{ tx_events "$SRC" 4 0 1 | head -n 2; tx_events "$SRC" 4 0 1 2; tx_events "$SRC" 5 0; } > "$T/in"
	run --separate-stderr dblog-txbuf < "$T/in"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"transaction 4 began again before it committed"* ]]
	[ "$(jq -r 'select(.op == "commit") | "\(.tx):\(.count)"' <<<"$output" | tr '\n' ' ')" = "4:3 5:1 " ]
	[ "$(jq -c 'select(.tx == 4 and .seq != null) | .seq' <<<"$output" | tr '\n' ' ')" = "0 1 2 " ]
}
