#!/bin/sh
# run.sh - the benchmarks of dblog (make bench). Generates the events once,
# then runs each benchmark script tests/bench/NAME.sh (all of them, or the
# NAMEs given) on that same file and prints their tables.
# Usage: sh tests/bench/run.sh [NAME...]
# Exit status: 0 every check and target passed, 1 one failed, 2 setup error.
# To add a benchmark: write tests/bench/NAME.sh like filter.sh (source
# lib.sh, call bench_setup, print rows and targets, exit $bench_status); it
# is picked up by name.
dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/lib.sh
. "$dir/lib.sh"

if [ $# -eq 0 ]; then
	for f in "$dir"/*.sh; do
		name=$(basename "$f" .sh)
		case $name in run | lib) continue ;; esac
		set -- "$@" "$name"
	done
fi
for name in "$@"; do
	[ -f "$dir/$name.sh" ] || bench_die "no benchmark '$name' (no $dir/$name.sh)"
done

bench_setup
echo "dblog benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc 2>/dev/null || echo ?) CPUs," \
	"$(jq --version 2>/dev/null || echo 'no jq')"
status=0
for name in "$@"; do
	sh "$dir/$name.sh" || status=1
done
echo
if [ "$status" -eq 0 ]; then
	echo "bench: all checks and targets passed"
else
	echo "bench: some checks or targets FAILED"
fi
exit $status
