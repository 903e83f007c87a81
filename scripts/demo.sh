#!/bin/sh
# demo.sh - `make demo`: the toolkit on sample data, printing each pipeline
# and what it did. Runs in ./demo (removed and made anew each time).
set -eu
: "${DBLOG_BIN:?run through make demo}"
PATH="$DBLOG_BIN:$PATH"
ROOT=$(pwd)
D="$ROOT/demo"
rm -rf "$D"
mkdir -p "$D"
cd "$D"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; sh -c "$*"; }

step "sample events: 200 changes of a small shop (dblog-event(5) format)"
"$ROOT/build/bench/gen-events" -n 200 -s 7 > events.ndjson
show "head -c 600 events.ndjson; echo ..."
show "wc -l < events.ndjson"

step "select: inserts and updates of public.orders"
show "dblog-filter -t public.orders -o insert,update < events.ndjson | jq -c '{op, table, pos, id: .key.id, status: .after.status}' | head -5"

step "predicate: paid orders over 1000, counted"
show "dblog-filter \"table = 'public.orders' AND after.status = 'paid' AND after.amount > 1000\" < events.ndjson | grep -c '\"op\":\"update\"\\|\"op\":\"insert\"' || true"

step "privacy: keep id and name only, mask name (deterministic, joinable)"
show "DBLOG_MASK_KEY=demo-secret dblog-filter -t public.customers -o insert -c id,name --mask name < events.ndjson | grep '\"insert\"' | head -3"

step "rename tables for a staging copy"
show "dblog-filter --rename-table 'public.*=staging.*' -t public.payments < events.ndjson | jq -r 'select(.table) | .table' | sort -u"

step "track a checkpoint while archiving the stream"
show "dblog-checkpoint track cp.json --every 10 < events.ndjson > archive.ndjson"
show "dblog-checkpoint show cp.json"

step "replay: the events after a position (the last 2 transactions)"
POS=$(jq -r 'select(.op == "commit") | .pos' events.ndjson | tail -3 | head -1)
show "dblog-checkpoint since --pos $POS < archive.ndjson | jq -c '{op, tx, pos, seq}'"

step "bad input is reported with its line, or parked with --dlq"
printf '%s\n' '{"op":"insert","table":"public.t","key":{"id":1},"after":{"id":1}}' '{"op":"insert",' > bad.ndjson
show "dblog-filter < bad.ndjson || echo \"exit status \$?\""
show "dblog-filter --dlq dlq.ndjson < bad.ndjson > /dev/null; jq -c '{line, error}' dlq.ndjson"

printf '\ndemo done: files are in %s\n' "$D"
