#!/usr/bin/env bash
# tests/stress/kill9.sh - replicate a busy PostgreSQL database while killing
# the pipeline with kill -9 at random moments, then compare the tables.
#
# Three pipelines run at the same time, each with its own slot, checkpoint
# and destination, against one source database:
#
#   pg      dblog-capture | dblog-apply                 -> PostgreSQL db
#   txbuf   dblog-capture | dblog-txbuf | dblog-apply   -> PostgreSQL db
#   sqlite  dblog-capture | [dblog-txbuf |] dblog-apply -> SQLite file
#           (dblog-txbuf in about half of the runs)
#
# Every run of a pipeline is
#   dblog-capture -m snapshot_then_cdc --until-caught-up -c CP ... |
#       dblog-apply -c CP DEST
# (the first run takes the snapshot, later ones find CP and resume cdc).
# While pgbench and a psql loop write, each pipeline is restarted in a loop,
# and after a random 0.2-2 s one of its processes is killed with kill -9
# (or, now and then, the server is made to end the replication connection,
# or the destination connection of dblog-apply, with pg_terminate_backend).
# dblog-capture runs with --retry 3 in half of the runs.
# After the workload, each pipeline is run without kills until caught up,
# and every table is compared row for row with the source.
#
# Usage: tests/stress/kill9.sh            (from anywhere; needs make build)
# Environment:
#   ITERATIONS=3    how many times the whole thing is repeated
#   DURATION=20     seconds of workload (pgbench -T) per iteration
#   SCALE=2         pgbench -s
#   KILL_SNAPSHOT=  1: kill also while the initial snapshot is read (which
#                   overlaps the workload);
#                   0: let the first run take the snapshot unkilled, and
#                   start the workload once every pipeline has caught up;
#                   unset: 1 in the first iteration, 0 in the others
#   PIPELINES="pg txbuf sqlite"
#   WORK=/tmp/stress-kill9    scratch directory (removed at the end
#                             unless KEEP=1)
#   SEED            for $RANDOM (default: the pid)
# Exit status: 0 when every table of every iteration matched, 1 otherwise.

set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
ITERATIONS=${ITERATIONS:-3}
DURATION=${DURATION:-20}
SCALE=${SCALE:-2}
PIPELINES=${PIPELINES:-"pg txbuf sqlite"}
WORK=${WORK:-/tmp/stress-kill9}
SEED=${SEED:-$$}
KEEP=${KEEP:-0}
RANDOM=$SEED

export PATH=/usr/lib/postgresql/15/bin:$PATH
. "$ROOT/tests/lib/pgcluster.sh"

for b in dblog-capture dblog-apply dblog-txbuf; do
	[ -x "$BIN/$b" ] || { echo "kill9: $BIN/$b missing: run make build" >&2; exit 2; }
done
command -v pgbench >/dev/null || { echo "kill9: pgbench not found" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "kill9: sqlite3 not found" >&2; exit 2; }

TABLES="pgbench_accounts pgbench_branches pgbench_tellers pgbench_history nopk comp bulk trunc"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

rand_ms() { echo $((200 + RANDOM % 1801)); }   # 200..2000
ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

cleanup() {
	# shellcheck disable=SC2086 # a list of pids
	[ -n "${WL_PIDS:-}" ] && kill $WL_PIDS 2>/dev/null
	[ -n "${PL_PIDS:-}" ] && kill $PL_PIDS 2>/dev/null
	wait 2>/dev/null
	if [ "$KEEP" = 1 ]; then
		echo "kill9: KEEP=1: cluster left running (PGHOST=$PGHOST PGPORT=$PGPORT), files in $WORK" >&2
	else
		pg_stop "$WORK/pg"
		rm -rf "$WORK"
	fi
}

conn() { echo "host=$PGHOST port=$PGPORT user=postgres dbname=$1"; }
sql() { local db=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -At -d "$db" "$@"; }

# --- source --------------------------------------------------------------

make_source() {
	local db=$1
	createdb "$db"
	pgbench -i -q -s "$SCALE" "$db" >/dev/null 2>&1 || { echo "pgbench -i failed" >&2; return 1; }
	sql "$db" <<'SQL'
ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
CREATE TABLE nopk (a int, b text, c numeric(10,2));
ALTER TABLE nopk REPLICA IDENTITY FULL;
-- 30 groups, with duplicate rows and NULLs
INSERT INTO nopk SELECT g % 30,
	CASE g % 4 WHEN 0 THEN NULL ELSE 'v' || (g % 3) END,
	CASE g % 5 WHEN 0 THEN NULL ELSE (g % 2) + 0.5 END
FROM generate_series(1, 300) g;
CREATE TABLE comp (
	k1 int NOT NULL,
	k2 text NOT NULL,
	v text,
	n int,
	big text,
	PRIMARY KEY (k1, k2)
);
INSERT INTO comp SELECT g % 20, 'ключ "' || g || ''' ☕',
	E'it''s "quoted" \\ back\ttab – café 日本語 😀 #' || g,
	g,
	CASE WHEN g % 10 = 0 THEN
		(SELECT string_agg(md5(random()::text || i), '') FROM generate_series(1, 300) i)
	END
FROM generate_series(1, 200) g;
-- large transactions (bulk paths of dblog-apply, spills of dblog-txbuf)
CREATE TABLE bulk (id int PRIMARY KEY, g int, payload text);
INSERT INTO bulk SELECT g, g % 7, md5(g::text) FROM generate_series(1, 3000) g;
-- emptied with TRUNCATE and filled again
CREATE TABLE trunc (id int PRIMARY KEY, v text);
INSERT INTO trunc SELECT g, 'r' || g FROM generate_series(1, 50) g;
SQL
}

# The psql loop: updates, deletes and inserts of nopk (also one of several
# equal rows by ctid) and comp (key changes, unicode, TOASTed column left
# unchanged, ...).
gen_sql() {
	local end=$1 i=0 x y
	while :; do
		i=$((i + 1))
		if [ $((i % 20)) = 0 ] && [ "$(date +%s)" -ge "$end" ]; then break; fi
		x=$((RANDOM % 30)); y=$((RANDOM % 20))
		echo "BEGIN;"
		case $((RANDOM % 14)) in
		0|1|2|3|4)
			# now and then a large transaction or a truncate
			case $((RANDOM % 30)) in
			0) echo "INSERT INTO bulk SELECT coalesce((SELECT max(id) FROM bulk), 0) + g, g % 7, md5(random()::text) FROM generate_series(1, 1500) g;" ;;
			1) echo "UPDATE bulk SET payload = left(payload, 40) || 'u' WHERE g = $((RANDOM % 7));" ;;
			2) echo "UPDATE bulk SET id = id + 10000000 WHERE id % 97 = $((RANDOM % 97)) AND id < 10000000;" ;;
			3) echo "DELETE FROM bulk WHERE g = $((RANDOM % 7)) AND id % 3 = $((RANDOM % 3));" ;;
			4) echo "INSERT INTO nopk SELECT 99, 'bulk', NULL FROM generate_series(1, 600);" ;;
			5) echo "DELETE FROM nopk WHERE a = 99;" ;;
			6) echo "TRUNCATE trunc; INSERT INTO trunc SELECT g, 't$RANDOM' FROM generate_series(1, $((RANDOM % 100 + 1))) g;" ;;
			7) echo "UPDATE trunc SET v = v || 'x';" ;;
			esac
		esac
		case $((RANDOM % 14)) in
		0) echo "INSERT INTO nopk VALUES ($x, 'v$((RANDOM % 3))', 1.50), ($x, 'v$((RANDOM % 3))', 1.50);" ;;
		1) echo "INSERT INTO nopk VALUES ($x, NULL, NULL);" ;;
		2) echo "UPDATE nopk SET c = coalesce(c, 0) + 1 WHERE ctid = (SELECT ctid FROM nopk WHERE a = $x LIMIT 1);" ;;
		3) echo "DELETE FROM nopk WHERE ctid = (SELECT ctid FROM nopk WHERE a = $x AND b IS NULL LIMIT 1);" ;;
		4) echo "UPDATE nopk SET b = NULL WHERE ctid = (SELECT ctid FROM nopk WHERE a = $x ORDER BY random() LIMIT 1);" ;;
		5) echo "UPDATE nopk SET c = c WHERE a = $x;" ;;                       # no-op updates of equal rows
		6) echo "UPDATE nopk SET b = 'v1', c = 1.50 WHERE ctid = (SELECT ctid FROM nopk WHERE a = $x LIMIT 1);" ;;  # make rows equal
		7) echo "DELETE FROM nopk WHERE ctid = (SELECT ctid FROM nopk WHERE a = $x ORDER BY random() LIMIT 1);"
		   echo "INSERT INTO nopk VALUES ($x, 'v2', NULL);" ;;
		8) echo "INSERT INTO comp VALUES ($y, 'k $((RANDOM % 50)) ''q'' ☕', E'ins \"x\" \\\\ é $RANDOM', 1, NULL) ON CONFLICT (k1, k2) DO UPDATE SET n = comp.n + 1, v = EXCLUDED.v;" ;;
		9) echo "UPDATE comp SET v = left(coalesce(v, '') || '''ü', 200), n = n + 1 WHERE k1 = $y;" ;;   # big unchanged (TOAST)
		10) echo "UPDATE comp SET k2 = k2 || '$((RANDOM % 10))' WHERE ctid = (SELECT ctid FROM comp WHERE k1 = $y ORDER BY random() LIMIT 1);" ;;  # key change
		11) echo "DELETE FROM comp WHERE ctid = (SELECT ctid FROM comp WHERE k1 = $y ORDER BY random() LIMIT 1);" ;;
		12) echo "UPDATE comp SET big = (SELECT string_agg(md5(random()::text || i), '') FROM generate_series(1, 300) i) WHERE ctid = (SELECT ctid FROM comp WHERE k1 = $y ORDER BY random() LIMIT 1);" ;;
		13) echo "UPDATE comp SET big = NULL, v = NULL WHERE ctid = (SELECT ctid FROM comp WHERE k1 = $y ORDER BY random() LIMIT 1);"
		    echo "INSERT INTO nopk VALUES ($x, E'mixed \\\\ ''tx''', 2.25);" ;;
		esac
		echo "COMMIT;"
	done
}

# --- destinations ----------------------------------------------------------

SQLITE_DDL='
CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER, abalance INTEGER, filler TEXT);
CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER, filler TEXT);
CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER, tbalance INTEGER, filler TEXT);
CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TEXT, filler TEXT);
CREATE TABLE nopk (a INTEGER, b TEXT, c TEXT);
CREATE TABLE comp (k1 INTEGER NOT NULL, k2 TEXT NOT NULL, v TEXT, n INTEGER, big TEXT, PRIMARY KEY (k1, k2));
CREATE TABLE bulk (id INTEGER PRIMARY KEY, g INTEGER, payload TEXT);
CREATE TABLE trunc (id INTEGER PRIMARY KEY, v TEXT);
'

make_dest() { # pipeline
	local p=$1
	case $p in
	sqlite) sqlite3 "$IT_DIR/$p/dst.db" "$SQLITE_DDL" ;;
	*)
		createdb "dst_${p}_$IT"
		pg_dump -s -t pgbench_accounts -t pgbench_branches -t pgbench_tellers \
			-t pgbench_history -t nopk -t comp -t bulk -t trunc "src_$IT" |
			sql "dst_${p}_$IT" >/dev/null
		;;
	esac
}

dest_of() {
	case $1 in
	sqlite) echo "sqlite:$IT_DIR/$1/dst.db" ;;
	*) conn "dst_${1}_$IT" ;;
	esac
}

# --- pipelines ---------------------------------------------------------------

# run_pipeline NAME KILL: one run; with KILL=1 kill -9 one of its processes
# after a random time.  Logs to $IT_DIR/NAME/runs.log.
run_pipeline() {
	local p=$1 k=$2 d=$IT_DIR/$1 cpid tpid='' apid in use_txbuf=0 victim vpid ms rss st_c st_t='' st_a
	case $p in
	txbuf) use_txbuf=1 ;;
	sqlite) use_txbuf=$((RANDOM % 2)) ;;
	esac
	rm -f "$d/f1" "$d/f2"
	mkfifo "$d/f1" "$d/f2"
	local extra=
	[ "$p" = sqlite ] && extra="--map-schema public=main"
	local retry=
	[ $((RANDOM % 2)) = 1 ] && retry="--retry 3"
	"$BIN/dblog-capture" -m snapshot_then_cdc --slot "s_${p}_$IT" --publication "pub_$IT" $retry \
		-n src -c "$d/cp" --until-caught-up "$SRC" >"$d/f1" 2>>"$d/capture.err" &
	cpid=$!
	in=$d/f1
	local topts='' aopts=''
	# small memory so that large transactions spill; sometimes batching
	[ $use_txbuf = 1 ] && topts="--max-memory 1M"
	[ $use_txbuf = 1 ] && [ $((RANDOM % 2)) = 1 ] && topts="$topts --batch-rows 500 --batch-ms 100ms"
	# sometimes many small destination transactions per run
	[ $((RANDOM % 2)) = 1 ] && aopts="--batch-rows 300 --batch-ms 50ms"
	if [ $use_txbuf = 1 ]; then
		"$BIN/dblog-txbuf" $topts <"$d/f1" >"$d/f2" 2>>"$d/txbuf.err" &
		tpid=$!
		in=$d/f2
	fi
	"$BIN/dblog-apply" -c "$d/cp" $extra $aopts "$(dest_of "$p")" <"$in" 2>>"$d/apply.err" &
	apid=$!
	victim=-
	if [ "$k" = 1 ]; then
		ms=$(rand_ms)
		sleep "$(ms_to_s "$ms")"
		# mostly kill -9 of a process; now and then the server ends the
		# replication connection (walsender) or the destination connection
		local victims="capture apply capture apply walsender"
		[ $use_txbuf = 1 ] && victims="$victims txbuf txbuf"
		[ "$p" != sqlite ] && victims="$victims destconn"
		set -- $victims
		shift $((RANDOM % $#))
		victim=$1
		case $victim in
		capture) vpid=$cpid ;;
		apply) vpid=$apid ;;
		txbuf) vpid=$tpid ;;
		esac
		case $victim in
		walsender | destconn)
			local q
			if [ $victim = walsender ]; then
				q="SELECT count(pg_terminate_backend(active_pid)) FROM pg_replication_slots WHERE slot_name = 's_${p}_$IT' AND active_pid IS NOT NULL"
			else
				q="SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'dst_${p}_$IT' AND application_name = 'dblog-apply'"
			fi
			local nt
			nt=$(sql postgres -c "$q" 2>&1)
			# nothing to end (no replication connection during the
			# snapshot): kill -9 dblog-capture instead
			[ "$nt" = 0 ] || { victim="$victim@${ms}ms(terminated=$nt)"; vpid=; }
			[ "$nt" = 0 ] && victim=capture vpid=$cpid
			;;
		esac
		case $victim in
		capture | apply | txbuf)
			if [ -d "/proc/$vpid" ] && ! grep -q '^State:.*Z' "/proc/$vpid/status" 2>/dev/null; then
				rss=$(awk '/^VmRSS/ {print $2}' "/proc/$vpid/status" 2>/dev/null)
				kill -9 "$vpid" 2>/dev/null
				victim="$victim@${ms}ms(rss=${rss:-?}kB)"
			else
				victim="none(exited-before-${ms}ms)"
			fi
			;;
		esac
	fi
	# (stderr: no "Killed" notices from the shell)
	{ wait "$cpid"; } 2>/dev/null; st_c=$?
	[ -n "$tpid" ] && { { wait "$tpid"; } 2>/dev/null; st_t=$?; }
	{ wait "$apid"; } 2>/dev/null; st_a=$?
	echo "run $(date +%T.%N | cut -c1-12)${retry:+ capture(--retry 3)} txbuf=$use_txbuf${topts:+($topts)}${aopts:+ apply($aopts)} kill=$victim capture=$st_c txbuf=${st_t:--} apply=$st_a" >>"$d/runs.log"
	# status of a process that was not killed: report unexpected ones
	return 0
}

pipeline_loop() { # NAME
	local p=$1 n=0 k
	while [ ! -e "$IT_DIR/stop" ]; do
		n=$((n + 1))
		k=1
		# without KILL_SNAPSHOT the first run reads the snapshot unkilled
		[ "$n" = 1 ] && [ "$KS" = 0 ] && k=0
		echo "# run $n $(date +%T.%N)" >>"$IT_DIR/$p/runs.log"
		run_pipeline "$p" "$k"
		touch "$IT_DIR/$p/snapdone"
	done
}

# --- comparison --------------------------------------------------------------

# one query per table, the same text for PostgreSQL and SQLite where possible
q_pg() {
	case $1 in
	pgbench_accounts) echo "SELECT aid, bid, abalance, rtrim(filler) FROM pgbench_accounts" ;;
	pgbench_branches) echo "SELECT bid, bbalance, rtrim(filler) FROM pgbench_branches" ;;
	pgbench_tellers) echo "SELECT tid, bid, tbalance, rtrim(filler) FROM pgbench_tellers" ;;
	pgbench_history) echo "SELECT tid, bid, aid, delta, to_char(mtime, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), rtrim(filler) FROM pgbench_history" ;;
	nopk) echo "SELECT a, b, c FROM nopk" ;;
	comp) echo "SELECT k1, k2, v, n, big FROM comp" ;;
	bulk) echo "SELECT id, g, payload FROM bulk" ;;
	trunc) echo "SELECT id, v FROM trunc" ;;
	esac
}
q_sqlite() {
	case $1 in
	pgbench_history) echo "SELECT tid, bid, aid, delta, mtime, rtrim(filler) FROM pgbench_history" ;;
	*) q_pg "$1" ;;
	esac
}

dump_pg() { # DB TABLE
	psql -X -At -F '|' -P null='\N' -d "$1" -c "$(q_pg "$2")" | LC_ALL=C sort
}
dump_sqlite() { # FILE TABLE
	sqlite3 -separator '|' -nullvalue '\N' "$1" "$(q_sqlite "$2")" | LC_ALL=C sort
}

compare() { # PIPELINE -> prints PASS/FAIL lines, returns 1 on any FAIL
	local p=$1 t rc=0 a b d=$IT_DIR/$1
	for t in $TABLES; do
		dump_pg "src_$IT" "$t" >"$d/src.$t"
		case $p in
		sqlite) dump_sqlite "$d/dst.db" "$t" >"$d/dst.$t" ;;
		*) dump_pg "dst_${p}_$IT" "$t" >"$d/dst.$t" ;;
		esac
		a=$(md5sum <"$d/src.$t" | cut -c1-32)
		b=$(md5sum <"$d/dst.$t" | cut -c1-32)
		if [ "$a" = "$b" ]; then
			printf 'iter %s %-7s %-17s PASS (%s rows)\n' "$IT" "$p" "$t" "$(wc -l <"$d/src.$t")"
			rm -f "$d/src.$t" "$d/dst.$t"
		else
			rc=1
			printf 'iter %s %-7s %-17s FAIL (source %s rows, destination %s rows; %s only in source, %s only in destination)\n' \
				"$IT" "$p" "$t" "$(wc -l <"$d/src.$t")" "$(wc -l <"$d/dst.$t")" \
				"$(LC_ALL=C comm -23 "$d/src.$t" "$d/dst.$t" | wc -l)" \
				"$(LC_ALL=C comm -13 "$d/src.$t" "$d/dst.$t" | wc -l)"
		fi
	done
	return $rc
}

# --- main ------------------------------------------------------------------------

rm -rf "$WORK"
mkdir -p "$WORK"
pg_start "$WORK/pg" || exit 2
trap cleanup EXIT
trap 'exit 130' INT TERM
log "cluster on $PGHOST port $PGPORT; seed $SEED; $ITERATIONS iterations of ${DURATION}s; pipelines: $PIPELINES"

FAILS=0
for IT in $(seq 1 "$ITERATIONS"); do
	if [ -n "${KILL_SNAPSHOT:-}" ]; then KS=$KILL_SNAPSHOT; elif [ "$IT" = 1 ]; then KS=1; else KS=0; fi
	IT_DIR=$WORK/it$IT
	mkdir -p "$IT_DIR"
	SRC=$(conn "src_$IT")
	log "iteration $IT: building source src_$IT (kills during the snapshot: $KS)"
	make_source "src_$IT" || exit 2
	for p in $PIPELINES; do
		mkdir -p "$IT_DIR/$p"
		make_dest "$p"
		"$BIN/dblog-capture" --setup --slot "s_${p}_$IT" --publication "pub_$IT" "$SRC" \
			2>>"$IT_DIR/$p/capture.err" || log "setup $p failed: $(cat "$IT_DIR/$p/capture.err")"
	done

	# pipelines first (the snapshot then overlaps the workload)
	PL_PIDS=
	for p in $PIPELINES; do
		pipeline_loop "$p" &
		PL_PIDS="$PL_PIDS $!"
	done
	sleep 1
	if [ "$KS" = 0 ]; then
		# the first run of each pipeline reads the snapshot unkilled and
		# catches up; the workload starts once they all have
		for p in $PIPELINES; do
			while [ ! -e "$IT_DIR/$p/snapdone" ]; do sleep 0.2; done
		done
		log "iteration $IT: snapshots done"
	fi
	log "iteration $IT: workload for ${DURATION}s"
	end=$(($(date +%s) + DURATION))
	pgbench -c 4 -j 2 -T "$DURATION" -n "src_$IT" >"$IT_DIR/pgbench.log" 2>&1 &
	WL_PIDS=$!
	gen_sql "$end" | psql -X -q -d "src_$IT" >"$IT_DIR/psql.log" 2>&1 &
	WL_PIDS="$WL_PIDS $!"
	wait $WL_PIDS
	WL_PIDS=
	log "iteration $IT: workload done ($(grep -h 'number of transactions actually processed' "$IT_DIR/pgbench.log")); stopping kill loops"
	touch "$IT_DIR/stop"
	wait $PL_PIDS
	PL_PIDS=

	# catch up without kills
	for p in $PIPELINES; do
		echo "# final runs" >>"$IT_DIR/$p/runs.log"
		for _ in 1 2 3; do run_pipeline "$p" 0; done
	done
	for p in $PIPELINES; do
		compare "$p" || FAILS=$((FAILS + 1))
		kills=$(grep -c 'kill=[a-z]*@' "$IT_DIR/$p/runs.log")
		runs=$(grep -c '^run ' "$IT_DIR/$p/runs.log")
		log "iteration $IT $p: $runs runs, $kills kills; exit statuses:" \
			"$(grep '^run ' "$IT_DIR/$p/runs.log" | sed 's/^run [^ ]* [^k]*//; s/@[^ ]*//; s/(exited-before-[0-9]*ms)//' | sort | uniq -c | sed 's/^ *//' | paste -sd';')"
	done
	# leftovers
	left=$(find "$IT_DIR" -name '*.tmp.*' | wc -l)
	[ "$left" = 0 ] || log "iteration $IT: $left leftover checkpoint temp files: $(find "$IT_DIR" -name '*.tmp.*' | head -3 | tr '\n' ' ')"
	for p in $PIPELINES; do
		log "iteration $IT $p: checkpoint pos $(jq -r .pos "$IT_DIR/$p/cp" 2>/dev/null); slot:" \
			"$(sql postgres -c "SELECT 'active=' || active || ' confirmed_flush=' || confirmed_flush_lsn || ' current=' || pg_current_wal_lsn() || ' behind=' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)) FROM pg_replication_slots WHERE slot_name = 's_${p}_$IT'")"
	done
	for p in $PIPELINES; do
		"$BIN/dblog-capture" --teardown --slot "s_${p}_$IT" --publication "pub_$IT" "$SRC" 2>>"$IT_DIR/$p/capture.err" ||
			log "teardown $p: exit $?"
	done
done

if [ "$FAILS" = 0 ]; then
	log "ALL PASS"
	exit 0
fi
log "$FAILS pipeline(s) with differences (KEEP=1 keeps $WORK)"
exit 1
