#!/bin/sh
# pgapply.sh - dblog-apply into PostgreSQL against psql on the same rows:
# \copy, INSERT ... ON CONFLICT DO UPDATE with 1,000 rows a statement (into
# an empty table, then with every row conflicting), one-row INSERTs in one
# transaction; dblog-apply with a stream of single-row change events
# (mixed insert/update/delete) and with a snapshot load.
# Targets of the issue: change events >= 2x the batched upsert; snapshot
# load >= 0.8x \copy. Each command runs BENCH_PG_APPLY_RUNS times (rounds of
# all of them, each from an empty table after a CHECKPOINT); the best counts.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/lib/pgcluster.sh
. "$(dirname "$0")/../lib/pgcluster.sh"
bench_need psql python3
# dblog-apply commits with synchronous_commit = on whatever the server says
# (dblog-apply(1), durability); the psql anchors get the same durability
export PGOPTIONS="-c client_min_messages=warning -c synchronous_commit=on"
bench_setup
PGD=$(mktemp -d "${TMPDIR:-/tmp}/dblog-bench-pg.XXXXXX") || bench_die "mktemp failed"
pg_start "$PGD" || bench_die "cannot start PostgreSQL"
trap 'pg_stop "$PGD"; rm -rf "${W:-}"; bench_cleanup' EXIT
ROWS=${BENCH_PG_APPLY_ROWS:-1000000}
RUNS=${BENCH_PG_APPLY_RUNS:-3}
rm -f "$BENCH_TMP/failed-pgapply"
W=$BENCH_TMP/pgapply
mkdir -p "$W"

python3 - "$ROWS" "$W" <<'PY' || bench_die "generating rows failed"
import random, sys
n, w = int(sys.argv[1]), sys.argv[2]
r = random.Random(1)
src = '{"driver":"postgres","name":"bench"}'
with open(f"{w}/rows.csv", "w") as csv, open(f"{w}/upsert.sql", "w") as up, \
     open(f"{w}/single.sql", "w") as single, open(f"{w}/snapshot.ndjson", "w") as snap, \
     open(f"{w}/changes.ndjson", "w") as ch:
    rows = []
    for i in range(1, n + 1):
        a = r.randint(0, 100000)
        rows.append((i, a, f"name {a}", a / 7))
    for row in rows:
        csv.write("%d,%d,%s,%r\n" % row)
    single.write("BEGIN;\n")
    for row in rows:
        single.write("INSERT INTO t VALUES (%d, %d, '%s', %r);\n" % row)
    single.write("COMMIT;\n")
    for k in range(0, n, 1000):
        vals = ",".join("(%d, %d, '%s', %r)" % row for row in rows[k:k + 1000])
        up.write(f"INSERT INTO t VALUES {vals} ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a, "
                 "b = EXCLUDED.b, c = EXCLUDED.c;\n")
    for s, row in enumerate(rows):
        snap.write('{"op":"snapshot","table":"public.t","source":%s,"pos":"0/1000000","seq":%d,'
                   '"key":{"id":%d},"after":{"id":%d,"a":%d,"b":"%s","c":%r}}\n'
                   % (src, s, row[0], row[0], row[1], row[2], row[3]))
    # single-row transactions of mixed ops: 60% insert, 30% update, 10% delete
    lsn, live = 0x2000000, []
    for s in range(n):
        lsn += 0x100
        pos = "%X/%X" % (lsn >> 32, lsn & 0xFFFFFFFF)
        x = r.random()
        ch.write('{"op":"begin","source":%s,"tx":%d,"pos":"%s"}\n' % (src, s, pos))
        if x < 0.6 or len(live) < 10:
            i = s + 1
            live.append(i)
            ch.write('{"op":"insert","table":"public.t","source":%s,"tx":%d,"pos":"%s","seq":0,'
                     '"key":{"id":%d},"after":{"id":%d,"a":%d,"b":"n%d","c":1.5}}\n' % (src, s, pos, i, i, s, s))
        elif x < 0.9:
            i = live[r.randrange(len(live))]
            ch.write('{"op":"update","table":"public.t","source":%s,"tx":%d,"pos":"%s","seq":0,'
                     '"key":{"id":%d},"after":{"id":%d,"a":%d,"b":"u%d","c":2.5}}\n' % (src, s, pos, i, i, s, s))
        else:
            i = live.pop(r.randrange(len(live)))
            ch.write('{"op":"delete","table":"public.t","source":%s,"tx":%d,"pos":"%s","seq":0,'
                     '"key":{"id":%d}}\n' % (src, s, pos, i))
        ch.write('{"op":"commit","source":%s,"tx":%d,"pos":"%s","count":1}\n' % (src, s, pos))
PY

# each command starts from the same state: an empty table, no dirty buffers
# of the last one left to write, spent WAL segments recycled
fresh() { psql -qX -c "DROP TABLE IF EXISTS t; CREATE TABLE t(id int PRIMARY KEY, a int, b text, c float8); DROP SCHEMA IF EXISTS dblog CASCADE" -c CHECKPOINT >/dev/null; }
seconds() {
	_t0=$(date +%s.%N)
	# (in a subshell: a failure is noted in a file, and its time is never
	# the best)
	if ! sh -c "$1" >/dev/null; then
		echo "bench: failed: $1" >&2
		: > "$BENCH_TMP/failed-pgapply"
		echo 999999
		return
	fi
	_t1=$(date +%s.%N)
	awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f\n", b - a }'
}
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }
row() { printf '  %12s %9s  %s\n' "$(rate "$1")" "$1" "$2"; }

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }'; }

# BENCH_PG_APPLY_RUNS rounds (default 3) of every command, each command's
# best round counting (the one-row INSERTs and the upsert over rows already
# there: the first round only)
s_copy='' s_up='' s_snap='' s_ch=''
for r in $(seq 1 "$RUNS"); do
	fresh; s_copy=$(min "$(seconds "psql -qX -c \"\\\\copy t FROM '$W/rows.csv' WITH (FORMAT csv)\"")" "$s_copy")
	fresh; s_up=$(min "$(seconds "psql -qX -f $W/upsert.sql")" "$s_up")
	if [ "$r" = 1 ]; then
		s_up2=$(seconds "psql -qX -f $W/upsert.sql")
		fresh; s_single=$(seconds "psql -qX -f $W/single.sql")
	fi
	fresh; s_snap=$(min "$(seconds "dblog-apply '$DBLOG_PG' < $W/snapshot.ndjson")" "$s_snap")
	fresh; s_ch=$(min "$(seconds "dblog-apply '$DBLOG_PG' < $W/changes.ndjson")" "$s_ch")
done
echo
echo "== dblog-apply postgres: vs psql: $ROWS rows (best of $RUNS rounds)"
printf '  %12s %9s  %s\n' "rows/s" "seconds" "command"
row "$s_copy" "psql \\copy"
row "$s_up" "psql INSERT ... ON CONFLICT, 1,000 rows a statement (empty table)"
row "$s_up2" "psql INSERT ... ON CONFLICT, 1,000 rows a statement (every row conflicts, one round)"
row "$s_single" "psql one-row INSERTs, one transaction (one round)"
row "$s_snap" "dblog-apply < snapshot events"
row "$s_ch" "dblog-apply < single-row change transactions (insert/update/delete)"
echo
[ ! -e "$BENCH_TMP/failed-pgapply" ] || bench_status=1
bench_target_header
bench_target "change events vs psql batched upsert" "$(rate "$s_ch")" "$(rate "$s_up")" 2
bench_target "snapshot load vs psql \\copy" "$(rate "$s_snap")" "$(rate "$s_copy")" 0.8
exit "$bench_status"
