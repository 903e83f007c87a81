#!/bin/sh
# filter.sh - dblog-filter against jq on the same events file: selection by
# table and op (-t/-o), and by a --where expression. Prints events/s, checks
# that both select the same change events, and the targets of the issue:
# dblog-filter >= 6x jq with -t/-o, >= 3x with --where.
# Run by run.sh; runs alone too (see lib.sh for the environment).
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_need jq cat
bench_setup

JQ_RUNS=${BENCH_JQ_RUNS:-1} # jq is slow: one run is enough to compare

raw='cat | cat'
jq_sel="jq -c 'select(.table == \"public.orders\" and (.op == \"insert\" or .op == \"update\"))'"
flt_sel='dblog-filter -t public.orders -o insert,update'
jq_where="jq -c 'select(.after.status == \"paid\")'"
flt_where="dblog-filter -w \"after.status = 'paid'\""

# events/s of each command, set by bench_row
eps_raw=0 eps_jq_sel=0 eps_flt_sel=0 eps_jq_where=0 eps_flt_where=0
bench_header "dblog-filter vs jq"
bench_row eps_raw "$BENCH_RUNS" "$raw"
bench_row eps_jq_sel "$JQ_RUNS" "$jq_sel"
bench_row eps_flt_sel "$BENCH_RUNS" "$flt_sel"
bench_row eps_jq_where "$JQ_RUNS" "$jq_where"
bench_row eps_flt_where "$BENCH_RUNS" "$flt_where"

# Both must select the same change events. dblog-filter also passes the
# control events (begin, commit or the heartbeat replacing it), so keep only
# the changes of its output; jq re-serializes both sides alike.
changes='select(.op == "insert" or .op == "update" or .op == "delete" or .op == "truncate" or .op == "snapshot")'

# same_changes WHAT JQ_COMMAND FILTER_COMMAND
same_changes() {
	sh -c "$2" <"$BENCH_EVENTS" >"$BENCH_TMP/jq.out" || bench_status=1
	sh -c "$3" <"$BENCH_EVENTS" | jq -c "$changes" >"$BENCH_TMP/filter.out" || bench_status=1
	bench_check "$1: changes selected by jq and dblog-filter" \
		"$(wc -l <"$BENCH_TMP/jq.out" | tr -d ' ')" "$(wc -l <"$BENCH_TMP/filter.out" | tr -d ' ')"
	if cmp -s "$BENCH_TMP/jq.out" "$BENCH_TMP/filter.out"; then
		echo "  check: $1: the same events  ok"
	else
		echo "  check: $1: the events differ  MISMATCH"
		bench_status=1
	fi
}
echo
same_changes "-t/-o" "$jq_sel" "$flt_sel"
same_changes "--where" "$jq_where" "$flt_where"

echo
bench_target_header
bench_target "dblog-filter -t/-o vs jq (events/s)" "$eps_flt_sel" "$eps_jq_sel" 6
bench_target "dblog-filter --where vs jq (events/s)" "$eps_flt_where" "$eps_jq_where" 3
bench_ratio "(scale) dblog-filter -t/-o vs cat | cat" "$eps_flt_sel" "$eps_raw"
exit "$bench_status"
