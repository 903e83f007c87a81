#!/usr/bin/env bats
# The JSON scanner (lib/json.c, dblog_event_scan in lib/event.c): a
# differential test against the scanner as it was before the word-at-a-time
# and SSE2 string scanning. tests/bench/json-corpus writes a deterministic
# corpus (every escape, every UTF-8 length, overlongs, surrogates, control
# characters, numbers, literals, nesting around the depth limit, special
# bytes at every offset of strings up to 80 bytes, truncations at every byte
# of events, random mutations); tests/bench/json-scan prints, per line, the
# verdict with its column and message, the spans of the indexed fields,
# dblog_json_skip's result, dblog_utf8_valid, and a hash of everything the
# iterators return. tests/golden/json-scan.sums holds the sha256 of that
# output per chunk of 1000 lines, made by the scanner of commit 2211127.
# json-scan copies each line into a buffer of exactly its size, so that the
# sanitizer build (make check-asan) catches any read past a line.
load helpers

bats_require_minimum_version 1.5.0

setup_file() {
	"${DBLOG_BENCH_BIN:?}/json-corpus" > "$BATS_FILE_TMPDIR/corpus.txt"
	"$DBLOG_BENCH_BIN/json-scan" < "$BATS_FILE_TMPDIR/corpus.txt" > "$BATS_FILE_TMPDIR/scan.txt"
}

setup() { setup_tmp; }
teardown() { teardown_tmp; }

@test "json-corpus is deterministic and has no line break inside a line" {
	"$DBLOG_BENCH_BIN/json-corpus" > "$T/again.txt"
	cmp "$BATS_FILE_TMPDIR/corpus.txt" "$T/again.txt"
	[ "$(wc -l < "$T/again.txt")" -gt 100000 ]
	[ "$(wc -l < "$BATS_FILE_TMPDIR/scan.txt")" -eq "$(wc -l < "$T/again.txt")" ]
}

@test "json-scan: verdicts, error columns and messages, spans and iterators as before (golden sums)" {
	(cd "$T" && split -l 1000 -d -a 3 "$BATS_FILE_TMPDIR/scan.txt" chunk.)
	(cd "$T" && for f in chunk.*; do
		printf '%s %s\n' "${f#chunk.}" "$(sha256sum < "$f" | cut -c1-64)"
	done) > "$T/sums"
	if ! diff "$TESTS_DIR/golden/json-scan.sums" "$T/sums" > "$T/diff"; then
		# show the first differing lines of the first chunk that differs
		local c
		c=$(grep -m1 '^>' "$T/diff" | cut -d' ' -f2)
		echo "chunk $c (lines $((10#$c * 1000 + 1))-$((10#$c * 1000 + 1000))) differs; its output now:"
		head -n 20 "$T/chunk.$c"
		return 1
	fi
}

@test "json-scan: the verdict counts by message (a readable summary of the golden sums)" {
	run -0 sh -c "sed 's/^[0-9]* scan=//; s/ fields=.*//; s/^[0-9]*://' '$BATS_FILE_TMPDIR/scan.txt' |
		grep -v '^unknown op' | sort | uniq -c | sort -k2"
	diff -u "$TESTS_DIR/golden/json-scan.counts" - <<< "$output"
}

@test "dblog-filter rejects exactly the lines json-scan rejects, with the same message, and passes the rest byte for byte" {
	dblog-filter --dlq "$T/dlq.ndjson" < "$BATS_FILE_TMPDIR/corpus.txt" > "$T/out.txt" 2> "$T/err"
	grep -q "events parked in" "$T/err"
	# the lines json-scan accepts, in order, are dblog-filter's output
	awk '$2 == "scan=ok" { print $1 }' "$BATS_FILE_TMPDIR/scan.txt" > "$T/ok.lines"
	awk 'NR == FNR { ok[$1] = 1; next } (FNR in ok)' "$T/ok.lines" \
		"$BATS_FILE_TMPDIR/corpus.txt" > "$T/want.txt"
	cmp "$T/want.txt" "$T/out.txt"
	# rejected: the same line numbers, and the same messages (those in
	# printable ASCII: an unknown op's name is printed as it is)
	# (read with sed: jq stops at nesting deeper than 256)
	sed -E 's/^\{"program":"[^"]*","line":([0-9]+),.*/\1/' "$T/dlq.ndjson" > "$T/bad.got"
	awk '$2 != "scan=ok" && $2 != "scan=blank" { print $1 }' \
		"$BATS_FILE_TMPDIR/scan.txt" > "$T/bad.want"
	cmp "$T/bad.want" "$T/bad.got"
	# the messages as JSON strings; left out: those with bytes that are not
	# printable ASCII (an unknown op's name is printed as it is)
	sed -E -n 's/^\{"program":"[^"]*","line":([0-9]+),"error":"((\\.|[^"\\])*)",.*/\1 \2/p' \
		"$T/dlq.ndjson" | LC_ALL=C awk '{ t = $0; gsub(/\\\\|\\"/, "", t) }
		t !~ /\\/ && $0 !~ /[^ -~]/' > "$T/why.got"
	LC_ALL=C awk 'function esc(s,  o, i, c) {
		for (i = 1; i <= length(s); i++) {
			c = substr(s, i, 1)
			o = o (c == "\\" ? "\\\\" : c == "\"" ? "\\\"" : c)
		}
		return o
	}
	$2 != "scan=ok" && $2 != "scan=blank" {
		line = $0; sub(/ fields=.*/, "", line); sub(/^[0-9]+ scan=/, "", line)
		col = line; sub(/:.*/, "", col); why = substr(line, length(col) + 2)
		if (why ~ /\\x[0-9a-f][0-9a-f]/) next
		if (col != "0") why = "malformed JSON at column " col ": " why
		print $1, esc(why)
	}' "$BATS_FILE_TMPDIR/scan.txt" > "$T/why.want"
	[ "$(wc -l < "$T/why.want")" -gt 100000 ]
	diff "$T/why.want" "$T/why.got" | head -n 20
	cmp -s "$T/why.want" "$T/why.got"
}

@test "every line the scanner accepts is JSON to jq (but nesting deeper than jq allows)" {
	awk '$2 == "scan=ok" { print $1 }' "$BATS_FILE_TMPDIR/scan.txt" > "$T/ok.lines"
	awk 'NR == FNR { ok[$1] = 1; next } (FNR in ok) && length($0) < 1000' "$T/ok.lines" \
		"$BATS_FILE_TMPDIR/corpus.txt" > "$T/ok.txt"
	[ "$(wc -l < "$T/ok.txt")" -gt 40000 ]
	run -0 sh -c "jq -c . < '$T/ok.txt' | wc -l"
	[ "$output" -eq "$(wc -l < "$T/ok.txt")" ]
}

@test "generated events are all accepted, and every truncation of one is rejected" {
	gen_events -n 20000 -s 5 > "$T/ev.ndjson"
	"$DBLOG_BENCH_BIN/json-scan" < "$T/ev.ndjson" > "$T/scan.txt"
	run -0 sh -c "grep -v ' scan=ok ' '$T/scan.txt' | wc -l"
	[ "$output" -eq 0 ] || { grep -v ' scan=ok ' "$T/scan.txt" | head; false; }
	# and every truncation of a generated event is rejected at its end
	head -n 3 "$T/ev.ndjson" | while IFS= read -r ev; do
		for ((i = 1; i < ${#ev}; i++)); do printf '%s\n' "${ev:0:i}"; done
	done > "$T/cut.txt"
	"$DBLOG_BENCH_BIN/json-scan" < "$T/cut.txt" > "$T/cut.scan"
	run -0 sh -c "grep ' scan=ok ' '$T/cut.scan' | wc -l"
	[ "$output" -eq 0 ]
	[ "$(wc -l < "$T/cut.scan")" -gt 500 ]
}
