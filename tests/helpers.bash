# helpers.bash - shared by every bats file: binaries, temp dirs, golden files.
: "${DBLOG_BIN:?set DBLOG_BIN to the directory of the built binaries (make check does)}"
export PATH="$DBLOG_BIN:$PATH"
TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export TESTS_DIR
ROOT_DIR="$(cd "$TESTS_DIR/.." && pwd)"
export ROOT_DIR

# Every test gets its own temp dir, removed afterwards.
setup_tmp() {
	T="$(mktemp -d "${BATS_TMPDIR:-/tmp}/dblog-test.XXXXXX")"
	export T
}
teardown_tmp() {
	[ -n "${T:-}" ] && rm -rf "$T"
}

# golden NAME CMD...: run CMD with tests/golden/NAME.in.ndjson on stdin and
# compare stdout with tests/golden/NAME.out.ndjson.
golden() {
	local name="$1"; shift
	"$@" < "$TESTS_DIR/golden/$name.in.ndjson" > "$T/$name.got" || return 1
	diff -u "$TESTS_DIR/golden/$name.out.ndjson" "$T/$name.got"
}

# All the dblog binaries that exist in this build.
dblog_binaries() {
	ls "$DBLOG_BIN" | grep '^dblog'
}

# ----------------------------------------- filter and checkpoint tests

# gen_events ARGS...: the deterministic event generator of tests/bench.
gen_events() {
	"${DBLOG_BENCH_BIN:?set DBLOG_BENCH_BIN to the directory of gen-events (make check does)}/gen-events" "$@"
}

# changes_only: the change events of stdin (insert update delete truncate
# snapshot), each normalised by jq -c, so that byte-for-byte output and a
# jq rewrite of the same events compare equal.
changes_only() {
	jq -c 'select(.op == "insert" or .op == "update" or .op == "delete" or
		      .op == "truncate" or .op == "snapshot")'
}

# wait_until SECONDS CMD...: run CMD every 50 ms until it succeeds; status 1
# (and a message) when it still fails after SECONDS.
wait_until() {
	local tries=$(($1 * 20)); shift
	while ! "$@" 2>/dev/null; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# is_utf8 FILE: does FILE hold only valid UTF-8?
is_utf8() {
	iconv -f UTF-8 -t UTF-8 "$1" > /dev/null 2>&1
}

# jq_true FILE [JQ OPTIONS...] FILTER: FILE is not empty and jq FILTER
# prints exactly true for it (jq -e alone passes on an empty file).
jq_true() {
	local file="$1" out; shift
	[ -s "$file" ] || { echo "$file is missing or empty" >&2; return 1; }
	out=$(jq -c "$@" "$file") || return 1
	[ "$out" = true ] || { echo "jq $*: $out" >&2; return 1; }
}
