#!/bin/sh
# txbuf.sh - dblog-txbuf against cat | cat on the same events: 1,000,000
# events in transactions of 1 to 100 changes (gen-events --tx-max 100).
# Prints events/s, checks that the output holds the same begin and change
# events in the same order (the last transaction, cut short by -n, never
# commits and is left out), and the targets of the issue: >= 1,000,000
# events/s and >= 1/3 of cat | cat in the same run.
# Run by run.sh; runs alone too (see lib.sh for the environment).
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_need cat cmp grep
bench_setup

# this benchmark has events of its own: bigger transactions
BENCH_EVENTS=$BENCH_TMP/txbuf-events.ndjson
"$DBLOG_BENCH_BIN/gen-events" -n "$BENCH_N" -s "$BENCH_SEED" --tx-max 100 >"$BENCH_EVENTS" ||
	bench_die "gen-events failed"
BENCH_LINES=$(wc -l <"$BENCH_EVENTS" | tr -d ' ')
BENCH_BYTES=$(wc -c <"$BENCH_EVENTS" | tr -d ' ')

raw='cat | cat'
txb='dblog-txbuf 2>/dev/null'
eps_raw=0 eps_txb=0
bench_header "dblog-txbuf vs cat | cat (transactions of 1-100 changes)"
bench_row eps_raw "$BENCH_RUNS" "$raw"
bench_row eps_txb "$BENCH_RUNS" "$txb"

echo
dblog-txbuf <"$BENCH_EVENTS" >"$BENCH_TMP/txb.out" 2>/dev/null || bench_status=1
grep -v '"op":"commit"' "$BENCH_TMP/txb.out" >"$BENCH_TMP/txb.rest"
grep -v '"op":"commit"' "$BENCH_EVENTS" >"$BENCH_TMP/in.rest"
out_n=$(wc -l <"$BENCH_TMP/txb.rest" | tr -d ' ')
in_n=$(wc -l <"$BENCH_TMP/in.rest" | tr -d ' ')
# only the transaction without commit at the end may be missing
bench_check "begin and change events out (at most 101 held back)" \
	"$(awk -v a="$in_n" -v b="$out_n" 'BEGIN { print (a - b >= 0 && a - b <= 101) ? "yes" : "no" }')" yes
if head -n "$out_n" "$BENCH_TMP/in.rest" | cmp -s - "$BENCH_TMP/txb.rest"; then
	echo "  check: the same events in the same order, byte for byte  ok"
else
	echo "  check: the events differ  MISMATCH"
	bench_status=1
fi
bench_check "commits delivered as \"commit\"" \
	"$(grep -c '"op":"commit"' "$BENCH_TMP/txb.out")" \
	"$(grep -c '"delivery":"commit","batch":"[0-9]*-[0-9a-f]*"}$' "$BENCH_TMP/txb.out")"

echo
bench_target_header
bench_target "dblog-txbuf vs 1,000,000 events/s" "$eps_txb" 1000000 1
bench_target "dblog-txbuf vs cat | cat (events/s)" "$eps_txb" "$eps_raw" 0.33
exit "$bench_status"
