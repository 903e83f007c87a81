#!/bin/sh
# pgcapture.sh - dblog-capture against pg_recvlogical draining the same
# slot contents: 1,000,000 inserted rows in 100 transactions, then 100,000
# one-row transactions. Every slot is created before the load and drained
# once, up to the same end position (pg_current_wal_insert_lsn()); each
# tool drains BENCH_PG_RUNS slots (default 3) and its best run counts.
# Anchors: pg_recvlogical with wal2json (format 2) and with raw pgoutput.
# Target of the issue: dblog-capture >= 1.5x pg_recvlogical + wal2json on
# both workloads, with resident memory under 20 MB.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pgcluster.sh
. "$(dirname "$0")/../lib/pgcluster.sh"
bench_need psql python3
[ -x "$PG_BIN/pg_recvlogical" ] || bench_die "no pg_recvlogical (postgresql-15)"
[ -f "$("$PG_BIN/pg_config" --pkglibdir)/wal2json.so" ] ||
	bench_die "no wal2json (apt-get install postgresql-15-wal2json)"
bench_setup
PGD=$(mktemp -d "${TMPDIR:-/tmp}/dblog-bench-pg.XXXXXX") || bench_die "mktemp failed"
pg_start "$PGD" || bench_die "cannot start PostgreSQL"
trap 'pg_stop "$PGD"; bench_cleanup' EXIT
ROWS=${BENCH_PG_ROWS:-1000000}
TXS=${BENCH_PG_TXS:-100000}
RUNS=${BENCH_PG_RUNS:-3}
# a command that fails inside a pipeline (whose status is cat's) says so
FAIL=": > '$BENCH_TMP/failed-pgcapture'"
rm -f "$BENCH_TMP/failed-pgcapture"

seconds() {
	_t0=$(date +%s.%N)
	# (in a subshell: a failure is noted in a file, and its time is never
	# the best)
	if ! sh -c "$1"; then
		echo "bench: failed: $1" >&2
		: > "$BENCH_TMP/failed-pgcapture"
		echo 999999
		return
	fi
	_t1=$(date +%s.%N)
	awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f\n", b - a }'
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f\n", n / s }'; }

# best CMD_PATTERN: the shortest of BENCH_PG_RUNS runs of the command,
# %s in it replaced by the run's number (its own slot, drained once).
best() {
	_b=''
	for _i in $(seq 1 "$RUNS"); do
		_c=$(printf '%s' "$1" | sed "s/%s/$_i/g")
		_s=$(seconds "$_c")
		_b=$(awk -v a="$_s" -v b="$_b" 'BEGIN { if (b == "" || a + 0 < b + 0) b = a; print b }')
	done
	echo "$_b"
}

# run WORKLOAD_NAME ROWS LOAD_SQL TAG: every slot made before the load
# (BENCH_PG_RUNS of each kind), each drained once; the best run counts.
run() {
	psql -qX -c "DROP TABLE IF EXISTS t; CREATE TABLE t(id int PRIMARY KEY, a int, b text, c float8)" >/dev/null
	dblog-capture --teardown --slot dblog1 "$DBLOG_PG" 2>/dev/null
	psql -qX -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
	dblog-capture --setup --slot dblog1 "$DBLOG_PG" || bench_die "setup failed"
	for i in $(seq 1 "$RUNS"); do
		[ "$i" = 1 ] || psql -qX -c "SELECT pg_create_logical_replication_slot('dblog$i', 'pgoutput')" >/dev/null
		[ "$i" = 1 ] && psql -qX -c "SELECT pg_create_logical_replication_slot('check', 'pgoutput')" >/dev/null
		psql -qX -c "SELECT pg_create_logical_replication_slot('w2j$i', 'wal2json'), \
			pg_create_logical_replication_slot('raw$i', 'pgoutput')" >/dev/null
	done
	psql -qX -c "$3" >/dev/null || bench_die "load failed"
	end=$(psql -qXAt -c "SELECT pg_current_wal_insert_lsn()")
	psql -qX -c "CHECKPOINT" >/dev/null
	echo
	echo "== $1: $2 rows, drained to $end (best of $RUNS, a slot each)"
	printf '  %12s %9s  %s\n' "rows/s" "seconds" "command"
	s_w2j=$(best "{ $PG_BIN/pg_recvlogical -d '$DBLOG_PG' --slot w2j%s --start -E $end -o format-version=2 -f - || $FAIL; } | cat > /dev/null")
	printf '  %12s %9s  %s\n' "$(rate "$2" "$s_w2j")" "$s_w2j" "pg_recvlogical + wal2json (format 2) | cat"
	s_raw=$(best "{ $PG_BIN/pg_recvlogical -d '$DBLOG_PG' --slot raw%s --start -E $end -o proto_version=1 -o publication_names=dblog -f - || $FAIL; } | cat > /dev/null")
	printf '  %12s %9s  %s\n' "$(rate "$2" "$s_raw")" "$s_raw" "pg_recvlogical + pgoutput (raw) | cat"
	s_dbl=$(best "{ /usr/bin/time -f %M -o $BENCH_TMP/rss%s dblog-capture --slot dblog%s --endpos $end '$DBLOG_PG' || $FAIL; } | cat > /dev/null")
	printf '  %12s %9s  %s\n' "$(rate "$2" "$s_dbl")" "$s_dbl" "dblog-capture --endpos | cat"
	rss=$(sort -n "$BENCH_TMP"/rss* | tail -n 1)
	# what it writes, checked on a slot of its own (not timed)
	dblog-capture --slot check --endpos "$end" "$DBLOG_PG" > "$BENCH_TMP/out.ndjson"
	bench_check "$1: changes captured" "$2" "$(grep -c '"op":"insert"' "$BENCH_TMP/out.ndjson")"
	rm -f "$BENCH_TMP"/rss* "$BENCH_TMP/out.ndjson"
	echo "  dblog-capture max resident memory: $((rss / 1024)) MB"
	eval "r_w2j_$4=\$(rate \"\$2\" \"\$s_w2j\") r_dbl_$4=\$(rate \"\$2\" \"\$s_dbl\") rss_$4=\$rss"
}

run "1,000,000 rows in 100 transactions" "$ROWS" \
	"DO \$\$ BEGIN FOR k IN 0..99 LOOP INSERT INTO t SELECT g, g % 1000, 'name ' || g, g / 7.0 FROM generate_series(k * ($ROWS / 100) + 1, (k + 1) * ($ROWS / 100)) g; COMMIT; END LOOP; END \$\$" big
run "$TXS one-row transactions" "$TXS" \
	"DO \$\$ BEGIN FOR g IN 1..$TXS LOOP INSERT INTO t VALUES (g, g % 1000, 'name ' || g, g / 7.0); COMMIT; END LOOP; END \$\$" small

echo
[ ! -e "$BENCH_TMP/failed-pgcapture" ] || bench_status=1
bench_target_header
bench_target "capture vs pg_recvlogical+wal2json, 100 tx" "$r_dbl_big" "$r_w2j_big" 1.5
bench_target "capture vs pg_recvlogical+wal2json, 1-row tx" "$r_dbl_small" "$r_w2j_small" 1.5
bench_target "resident memory: 20 MB / max RSS (100 tx)" 20480 "$rss_big" 1
exit "$bench_status"
