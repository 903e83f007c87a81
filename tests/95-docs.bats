#!/usr/bin/env bats
# Documentation: every page is mandoc-lint clean, every binary has a page,
# and every option in a command's --help is documented in its page.
load helpers

@test "every man page is clean under mandoc -Tlint" {
	command -v mandoc || skip "mandoc is not installed"
	run mandoc -Tlint -Wwarning "$ROOT_DIR"/man/*.[157]
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "dblog(7) and dblog-event(5) exist, and every binary has a page" {
	[ -f "$ROOT_DIR/man/dblog.7" ]
	[ -f "$ROOT_DIR/man/dblog-event.5" ]
	for b in $(dblog_binaries); do
		[ -f "$ROOT_DIR/man/$b.1" ] || { echo "no man/$b.1"; return 1; }
	done
}

@test "every option in --help is documented in the command's page" {
	command -v mandoc || skip "mandoc is not installed"
	for b in $(dblog_binaries); do
		page=$(mandoc -Tascii "$ROOT_DIR/man/$b.1" | col -b)
		for opt in $("$b" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			grep -q -- "$opt" <<<"$page" || { echo "$b: $opt is not in man/$b.1"; return 1; }
		done
	done
}

@test "every page has an EXIT STATUS section with the shared statuses" {
	for f in "$ROOT_DIR"/man/*.1 "$ROOT_DIR"/man/dblog.7; do
		grep -q '^\.Sh EXIT STATUS' "$f" || { echo "$f: no EXIT STATUS"; return 1; }
	done
}

@test "the README shows the two commands at the top" {
	head -12 "$ROOT_DIR/README.md" | grep -q 'make demo'
	head -12 "$ROOT_DIR/README.md" | grep -q 'make check'
}
