#!/bin/sh
# ctl.sh - the overhead of dblogctl run --once over the same pipeline built
# by hand: a SQLite source with ROWS captured inserts replicated into an
# empty SQLite file, first by
#   dblog-capture --until-caught-up ... | dblog-apply ...
# then by dblogctl (its own stream, the same commands, options and input).
# Target of the issue: dblogctl within 5% of the hand-built throughput.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_need sqlite3 python3
bench_setup
ROWS=${BENCH_CTL_ROWS:-500000}
W=$BENCH_TMP/ctl
mkdir -p "$W"
schema='CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)'

# source DB: a fresh source with the changelog set up and ROWS inserts.
source_db() {
	rm -f "$1"*
	sqlite3 "$1" "PRAGMA journal_mode = WAL; $schema" > /dev/null
	dblog-capture --setup "sqlite:$1" || bench_die "capture --setup failed"
	python3 - "$1" "$ROWS" <<'PY' || bench_die "loading the source failed"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
c.executemany("INSERT INTO t VALUES(?, ?, ?, ?)",
              ((i, i % 1000, "name %d" % i, i / 7) for i in range(1, n + 1)))
c.commit()
PY
}

seconds() {
	_t0=$(date +%s.%N)
	sh -c "$1" || { echo "bench: failed: $1" >&2; bench_status=1; }
	_t1=$(date +%s.%N)
	awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f\n", b - a }'
}
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }

echo
echo "== dblogctl run --once vs the pipeline by hand: $ROWS captured inserts, SQLite -> SQLite"
printf '  %12s %9s  %s\n' "rows/s" "seconds" "command"
best_hand=0 best_ctl=0
for round in 1 2 3; do
	source_db "$W/hand.db"
	rm -f "$W/hand-replica.db"* "$W/hand.cp"
	s=$(seconds "dblog-capture --checkpoint $W/hand.cp --name hand --mode cdc --until-caught-up sqlite:$W/hand.db |
		dblog-apply --stream hand --checkpoint $W/hand.cp --conflict source_wins --create-tables sqlite:$W/hand-replica.db")
	r=$(rate "$s")
	[ "$r" -gt "$best_hand" ] && best_hand=$r
	printf '  %12s %9s  %s\n' "$r" "$s" "dblog-capture | dblog-apply  [round $round]"
	source_db "$W/ctl.db"
	rm -rf "$W/home" "$W/ctl-replica.db"*
	DBLOG_HOME=$W/home dblogctl upsert b --source "sqlite:$W/ctl.db" --dest "sqlite:$W/ctl-replica.db" ||
		bench_die "dblogctl upsert failed"
	s=$(seconds "DBLOG_HOME=$W/home dblogctl run b --once")
	r=$(rate "$s")
	[ "$r" -gt "$best_ctl" ] && best_ctl=$r
	printf '  %12s %9s  %s\n' "$r" "$s" "dblogctl run --once  [round $round]"
done
bench_check "rows replicated, by hand vs dblogctl" \
	"$(sqlite3 "$W/hand-replica.db" 'SELECT count(*), sum(a), total(c) FROM t')" \
	"$(sqlite3 "$W/ctl-replica.db" 'SELECT count(*), sum(a), total(c) FROM t')"
echo
bench_target_header
bench_target "dblogctl run --once vs by hand (best of 3)" "$best_ctl" "$best_hand" 0.95
exit "$bench_status"
