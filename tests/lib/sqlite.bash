# sqlite.bash - helpers of the SQLite capture and apply tests (30-, 40-,
# 50-*.bats), loaded after helpers.bash.

WORKLOAD="$TESTS_DIR/lib/sqlite_workload.py"

# sq DB SQL...: the sqlite3 shell with a busy timeout, stopping at the
# first error.
sq() {
	local db="$1"; shift
	sqlite3 -batch -bail -cmd '.timeout 10000' "$db" "$@"
}

# wl ARGS...: the workload generator and comparer (sqlite_workload.py).
wl() {
	python3 "$WORKLOAD" "$@"
}

# new_db DB SQL: a WAL-mode database made by SQL.
new_db() {
	sq "$1" "PRAGMA journal_mode=WAL;" > /dev/null
	sq "$1" "$2"
}

# new_src DB SQL: new_db, then dblog-capture --setup (its warnings dropped).
new_src() {
	new_db "$1" "$2"
	dblog-capture --setup "sqlite:$1" 2> /dev/null
}

# cap DB ARGS...: capture what DB has committed, once.
cap() {
	local db="$1"; shift
	dblog-capture --until-caught-up "$@" "sqlite:$db"
}

# changes_of FILE: the change events of FILE, compact.
changes_of() {
	jq -c 'select(.op == "insert" or .op == "update" or .op == "delete" or
		      .op == "truncate" or .op == "snapshot")' "$1"
}

# identity_of FILE: op, table, pos, seq, id, tx, key, before and after of
# every change of FILE - what must not depend on how it was read.
identity_of() {
	changes_of "$1" | jq -c '[.op, .table, .pos, .seq, .id, .tx, .key, .before, .after]'
}

# head_of DB: the changelog head (highest seq number handed out).
head_of() {
	sq "$1" "SELECT coalesce(max(seq), 0) FROM _dblog_changes"
}

# same_db A B [--ignore TABLE]...: the user tables of A and B hold the same
# rows (value and type).
same_db() {
	wl compare "$@"
}

# ------------------------------------------------ events for apply tests
# Events of source "s" (sqlite), table $E_TABLE (main.t), commit time
# $E_TIME. KEY, BEFORE, AFTER are JSON, or - to leave the field out.
E_TABLE=main.t
E_TIME=2026-01-01T00:00:00.000000Z
E_SRC='{"driver":"sqlite","name":"s"}'

ev_begin() { # POS [TX]
	printf '{"op":"begin","source":%s,"tx":%s,"pos":%s,"commit_time":"%s"}\n' \
		"$E_SRC" "${2:-$1}" "$1" "$E_TIME"
}
ev_commit() { # POS [COUNT] [TX]
	printf '{"op":"commit","source":%s,"tx":%s,"pos":%s,"commit_time":"%s","count":%s}\n' \
		"$E_SRC" "${3:-$1}" "$1" "$E_TIME" "${2:-1}"
}
ev_heartbeat() { # POS
	printf '{"op":"heartbeat","source":%s,"pos":%s,"commit_time":"%s"}\n' "$E_SRC" "$1" "$E_TIME"
}
ev() { # OP POS SEQ KEY [BEFORE] [AFTER]
	local op="$1" pos="$2" seq="$3" key="$4" before="${5:--}" after="${6:--}" s
	s=$(printf '{"op":"%s","table":"%s","source":%s,"pos":%s,"seq":%s,"commit_time":"%s"' \
		"$op" "$E_TABLE" "$E_SRC" "$pos" "$seq" "$E_TIME")
	[ "$key" = - ] || s="$s,\"key\":$key"
	[ "$before" = - ] || s="$s,\"before\":$before"
	[ "$after" = - ] || s="$s,\"after\":$after"
	printf '%s}\n' "$s"
}
# ev_tx POS CHANGE-LINES...: begin, the lines given, commit.
ev_tx() {
	local pos="$1"; shift
	ev_begin "$pos"
	printf '%s\n' "$@"
	ev_commit "$pos" "$#"
}

# ------------------------------------------------------------ processes

# wait_for SECONDS CMD...: run CMD every 50 ms until it succeeds; 1 (with
# a message) if it still fails after SECONDS.
wait_for() {
	local tries=$(($1 * 20)); shift
	until "$@" 2> /dev/null; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# wait_pid SECONDS PID: wait for PID to end; its status, or 124 after
# SECONDS (then it is killed with -9).
wait_pid() {
	local tries=$(($1 * 20)) pid="$2"
	while kill -0 "$pid" 2> /dev/null; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			kill -9 "$pid" 2> /dev/null
			wait "$pid" 2> /dev/null
			return 124
		fi
		sleep 0.05
	done
	wait "$pid"
}

# count_changes FILE: how many change events FILE holds.
count_changes() {
	changes_of "$1" | wc -l
}

# last_change DB: the changelog row of the last change (marker rows of
# empty transactions left out).
last_change() {
	sq "$1" "SELECT coalesce(max(seq), 0) FROM _dblog_changes WHERE op != 'begin'"
}

# caught_up FILE DB: the last commit in FILE is at DB's last change.
caught_up() {
	[ "$(jq -r 'select(.op == "commit") | .pos' "$1" | tail -n 1)" = "$(last_change "$2")" ]
}

# rows_in DB N [TABLE]: TABLE (t) of DB has N rows.
rows_in() {
	[ "$(sq "$1" "SELECT count(*) FROM \"${3:-t}\"")" = "$2" ]
}

# has_changes FILE N: FILE holds at least N change events.
has_changes() {
	[ "$(count_changes "$1")" -ge "$2" ]
}
