#!/bin/sh
# flashback.sh - dblog-flashback reversing a window of BENCH_N events (all
# of them: every change undone, newest first), side by side with tac on
# the same file as the anchor. The events are gen-events' with whole old
# rows (as under REPLICA IDENTITY FULL), so that every change can be
# undone. Target of issue 7: >= 500,000 events/s.
# Run by run.sh; runs alone too (see lib.sh for the environment).
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_need tac awk
bench_setup

# whole old rows: updates get a before-image (status differs), deletes
# more than the key
EV=$BENCH_TMP/flashback.ndjson
awk '
/"op":"update"/ { i = index($0, ",\"after\":"); a = substr($0, i + 9, length($0) - i - 9)
	b = a; sub(/"status":"[a-z]+"/, "\"status\":\"old\"", b)
	print substr($0, 1, i - 1) ",\"before\":" b substr($0, i); next }
/"op":"delete"/ { sub(/"before":\{"id":[0-9]+/, "&,\"status\":\"gone\"") }
{ print }' "$BENCH_EVENTS" > "$EV" || bench_die "cannot prepare the events"
BENCH_EVENTS=$EV
BENCH_LINES=$(wc -l <"$EV" | tr -d ' ')
BENCH_BYTES=$(wc -c <"$EV" | tr -d ' ')

eps_tac=0 eps_fb=0 eps_fb_mem=0
bench_header "dblog-flashback vs tac"
bench_row eps_tac "$BENCH_RUNS" "tac"
bench_row eps_fb "$BENCH_RUNS" "dblog-flashback 2>/dev/null"
bench_row eps_fb_mem "$BENCH_RUNS" "dblog-flashback --max-memory 1G 2>/dev/null"

echo
changes=$(grep -c '"seq"' "$EV")
undone=$(dblog-flashback <"$EV" 2>/dev/null | grep -c '"seq"')
bench_check "changes undone" "$changes" "$undone"

echo
bench_target_header
bench_target "dblog-flashback (events/s) vs 500,000" "$eps_fb" 500000 1
bench_ratio "(scale) dblog-flashback vs tac" "$eps_fb" "$eps_tac"
exit "$bench_status"
