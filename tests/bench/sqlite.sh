#!/bin/sh
# sqlite.sh - dblog-apply sqlite: against the sqlite3 CLI on the same rows
# (1,000,000 single-row inserts into an empty table, then 1,000,000 upserts
# of rows that all exist, each in one transaction), and dblog-capture
# draining the changelog those inserts left. Targets of the issue: apply >=
# 1.5x the CLI on both mixes; capture >= 300,000 events/s.
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_need sqlite3 python3
bench_setup
ROWS=${BENCH_ROWS:-1000000}
dir=$(dirname "$0")
W=$BENCH_TMP/sqlite
mkdir -p "$W"
python3 "$dir/gen-rows.py" "$ROWS" "$BENCH_SEED" insert "$W" || bench_die "gen-rows failed"
python3 "$dir/gen-rows.py" "$ROWS" "$BENCH_SEED" upsert "$W" || bench_die "gen-rows failed"
schema='CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c REAL)'

# seconds CMD: wall time of the shell command CMD.
seconds() {
	_t0=$(date +%s.%N)
	sh -c "$1" || { echo "bench: failed: $1" >&2; bench_status=1; }
	_t1=$(date +%s.%N)
	awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.3f\n", b - a }'
}
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f\n", n / s }'; }
row() { printf '  %12s %9s  %s\n' "$(rate "$1")" "$1" "$2"; }
fresh() { rm -f "$W/$1"*; sqlite3 "$W/$1" "$schema"; }

echo
echo "== dblog-apply sqlite: vs the sqlite3 CLI: $ROWS rows, one transaction"
printf '  %12s %9s  %s\n' "rows/s" "seconds" "command"
fresh cli.db
s_cli_ins=$(seconds "sqlite3 $W/cli.db < $W/insert.sql"); row "$s_cli_ins" "sqlite3 < insert.sql"
fresh apply.db
s_app_ins=$(seconds "dblog-apply sqlite:$W/apply.db < $W/insert.ndjson"); row "$s_app_ins" "dblog-apply sqlite: < insert.ndjson"
s_cli_ups=$(seconds "sqlite3 $W/cli.db < $W/upsert.sql"); row "$s_cli_ups" "sqlite3 < upsert.sql (every row exists)"
s_app_ups=$(seconds "dblog-apply --stream upserts sqlite:$W/apply.db < $W/upsert.ndjson"); row "$s_app_ups" "dblog-apply sqlite: < upsert.ndjson (every row exists)"
bench_check "rows after the upserts, CLI vs apply" \
	"$(sqlite3 "$W/cli.db" 'SELECT count(*), sum(a), total(c) FROM t')" \
	"$(sqlite3 "$W/apply.db" 'SELECT count(*), sum(a), total(c) FROM t')"

echo
echo "== dblog-capture sqlite: draining $ROWS captured inserts"
rm -f "$W/src.db"*
sqlite3 "$W/src.db" "PRAGMA journal_mode = WAL; $schema" >/dev/null
dblog-capture --setup "sqlite:$W/src.db" || bench_die "capture --setup failed"
python3 - "$W/src.db" "$W/insert.sql" <<'PY' || bench_die "loading the source failed"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = []
for line in open(sys.argv[2]):
    if line.startswith("INSERT"):
        v = line[line.index("(") + 1:line.rindex(")")].split(",")
        rows.append((int(v[0]), int(v[1]), v[2].strip("'"), float(v[3])))
c.executemany("INSERT INTO t VALUES(?, ?, ?, ?)", rows)
c.commit()
PY
s_cap=$(seconds "dblog-capture --until-caught-up sqlite:$W/src.db > $W/captured.ndjson")
row "$s_cap" "dblog-capture --until-caught-up sqlite: > file"
bench_check "captured changes" "$ROWS" "$(grep -c '"op":"insert"' "$W/captured.ndjson")"

echo
bench_target_header
bench_target "dblog-apply vs sqlite3 CLI, inserts (rows/s)" "$(rate "$s_app_ins")" "$(rate "$s_cli_ins")" 1.5
bench_target "dblog-apply vs sqlite3 CLI, upserts (rows/s)" "$(rate "$s_app_ups")" "$(rate "$s_cli_ups")" 1.5
bench_target "dblog-capture vs 300,000 events/s" "$(rate "$s_cap")" 300000 1
exit "$bench_status"
