# lib.sh - shared by the benchmark scripts tests/bench/NAME.sh (POSIX sh,
# sourced). Sets up the events file once, times commands, prints rows of
# results and PASS/FAIL targets.
#
# Environment: DBLOG_BIN, DBLOG_BENCH_BIN (directories of the binaries and of
# gen-events; make bench sets them); BENCH_N (events, default 1000000),
# BENCH_SEED (default 1), BENCH_RUNS (runs of the fast commands, best one
# counts, default 3), BENCH_EVENTS (an events file to reuse: run.sh makes it
# once and passes it to every script).

# shellcheck disable=SC2034 # bench_status is read by the sourcing scripts

: "${DBLOG_BIN:?set DBLOG_BIN to the directory of the dblog binaries (make bench does)}"
: "${DBLOG_BENCH_BIN:?set DBLOG_BENCH_BIN to the directory of gen-events (make bench does)}"
BENCH_N=${BENCH_N:-1000000}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_RUNS=${BENCH_RUNS:-3}
PATH="$DBLOG_BIN:$PATH"
export DBLOG_BIN DBLOG_BENCH_BIN BENCH_N BENCH_SEED BENCH_RUNS PATH

# Set by bench_row, bench_check and bench_target when something fails;
# scripts exit with it.
bench_status=0

bench_die() {
	echo "bench: $*" >&2
	exit 2
}

# bench_need PROGRAM...: stop unless every PROGRAM is installed.
bench_need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || bench_die "$p is not installed"
	done
}

# bench_setup: make BENCH_TMP (removed at exit) and, unless BENCH_EVENTS
# names an existing file, generate BENCH_N events into it.
# bench_cleanup: remove the temporary directory if this script made it
# (a script with an EXIT trap of its own calls it from there).
bench_cleanup() {
	[ -z "${BENCH_OWN:-}" ] || rm -rf "$BENCH_TMP"
}

bench_setup() {
	if [ -z "${BENCH_TMP:-}" ]; then
		BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dblog-bench.XXXXXX") || bench_die "mktemp failed"
		BENCH_OWN=1   # made here: removed at exit (run.sh shares its own)
		trap 'bench_cleanup' EXIT
		trap 'exit 130' INT TERM
		export BENCH_TMP
	fi
	if [ -z "${BENCH_EVENTS:-}" ] || [ ! -s "$BENCH_EVENTS" ]; then
		BENCH_EVENTS=$BENCH_TMP/events.ndjson
		"$DBLOG_BENCH_BIN/gen-events" -n "$BENCH_N" -s "$BENCH_SEED" >"$BENCH_EVENTS" ||
			bench_die "gen-events failed"
		export BENCH_EVENTS
	fi
	BENCH_LINES=$(wc -l <"$BENCH_EVENTS" | tr -d ' ')
	BENCH_BYTES=$(wc -c <"$BENCH_EVENTS" | tr -d ' ')
}

# bench_time RUNS COMMAND: run the shell command COMMAND RUNS times with the
# events file on stdin and stdout to /dev/null; print the best wall time in
# seconds. Fails if COMMAND fails.
bench_time() {
	_runs=$1 _best='' _i=0
	while [ "$_i" -lt "$_runs" ]; do
		_t0=$(date +%s.%N)
		sh -c "$2" <"$BENCH_EVENTS" >/dev/null || { echo "bench: failed: $2" >&2; return 1; }
		_t1=$(date +%s.%N)
		_best=$(awk -v a="$_t0" -v b="$_t1" -v best="$_best" \
			'BEGIN { d = b - a; if (best == "" || d < best + 0) best = d; printf "%.6f\n", best }')
		_i=$((_i + 1))
	done
	echo "$_best"
}

# bench_header TITLE: start a section of the report.
bench_header() {
	echo
	echo "== $1: $BENCH_LINES events, $((BENCH_BYTES / 1048576)) MiB (gen-events -n $BENCH_N -s $BENCH_SEED)"
	printf '  %12s %9s %9s  %s\n' "events/s" "MiB/s" "seconds" "command  [runs; the best counts]"
}

# bench_row VAR RUNS COMMAND: time COMMAND (see bench_time), print a row and
# set VAR to its events/s.
bench_row() {
	_secs=$(bench_time "$2" "$3") || { bench_status=1; eval "$1=0"; return 1; }
	_eps=$(awk -v n="$BENCH_LINES" -v s="$_secs" 'BEGIN { printf "%.0f\n", n / s }')
	awk -v e="$_eps" -v b="$BENCH_BYTES" -v s="$_secs" -v r="$2" -v c="$3" \
		'BEGIN { printf "  %12d %9.1f %9.3f  %s  [%d]\n", e, b / s / 1048576, s, c, r }'
	eval "$1=\$_eps"
}

# bench_check WHAT A B: report that A equals B (counts of WHAT), or fail.
bench_check() {
	if [ "$2" = "$3" ]; then
		echo "  check: $1: $2 = $3  ok"
	else
		echo "  check: $1: $2 != $3  MISMATCH"
		bench_status=1
	fi
}

# bench_target_header: start the table of targets.
bench_target_header() {
	printf '  %-44s %8s %8s  %s\n' "target" "ratio" "goal" "result"
}

# bench_target WHAT EPS BASE_EPS GOAL: PASS when EPS / BASE_EPS >= GOAL.
bench_target() {
	_r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }')
	if awk -v r="$_r" -v g="$4" 'BEGIN { exit !(r >= g) }'; then
		_res=PASS
	else
		_res=FAIL
		bench_status=1
	fi
	printf '  %-44s %7sx %7s  %s\n' "$1" "$_r" ">= ${4}x" "$_res"
}

# bench_ratio WHAT EPS BASE_EPS: a ratio without a goal, for scale.
bench_ratio() {
	_r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }')
	printf '  %-44s %7sx %8s  %s\n' "$1" "$_r" "-" "-"
}
