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
