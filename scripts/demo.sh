#!/bin/sh
# demo.sh - `make demo`: the main job on the embedded default. A small shop
# in SQLite is captured, filtered and replicated to a second SQLite file,
# stopped and resumed from its checkpoint, replayed from a time, and checked;
# last, a bad update and delete are undone with dblog-flashback.
# Everything happens in ./demo (made anew each run); each step prints the
# pipeline it runs and what came of it.
set -eu
: "${DBLOG_BIN:?run through make demo}"
PATH="$DBLOG_BIN:$PATH"
export PATH
D="$(pwd)/demo"
rm -rf "$D"
mkdir -p "$D"
cd "$D"

if [ -t 1 ]; then B='\033[1m' N='\033[0m'; else B='' N=''; fi
step() { printf "\n${B}== %s${N}\n" "$*"; }
run() { printf '$ %s\n' "$*"; sh -c "$*"; }
sql() { sqlite3 -batch "$@"; }
# Every writer of this shop marks its transactions, so capture groups them
# exactly: one row in _dblog_tx first in each transaction.
tx() { printf 'BEGIN;\nINSERT INTO _dblog_tx DEFAULT VALUES;\n%s\nCOMMIT;\n' "$1" | sql shop.db; }

# The tables both databases must agree on (sessions are filtered out).
dump() {
	for t in customers products orders "order items"; do
		sql "$1" "SELECT '$t', * FROM \"$t\" ORDER BY 1, 2"
	done
}

step "a small shop in SQLite (WAL mode), with four tables, one of them named \"order items\""
sql shop.db <<'EOF'
PRAGMA journal_mode = WAL;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE products(sku TEXT PRIMARY KEY, title TEXT, price NUMERIC, photo BLOB);
CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER, status TEXT, total NUMERIC);
CREATE TABLE "order items"(order_id INTEGER, sku TEXT, qty INTEGER, PRIMARY KEY(order_id, sku));
CREATE TABLE sessions(token TEXT PRIMARY KEY, customer_id INTEGER);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.org'), (2, 'Brian', 'brian@example.org');
INSERT INTO products VALUES ('tea', 'Green tea', 4.50, x'89504e47'), ('mug', 'Mug', 9.90, NULL);
EOF
echo "shop.db: $(sql shop.db 'SELECT count(*) FROM customers') customers, $(sql shop.db 'SELECT count(*) FROM products') products"

step "prepare capture: a changelog table and triggers on every table"
run "dblog-capture --setup sqlite:shop.db"
sql shop.db "SELECT '  trigger ' || name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'orders'"

step "the shop works: an order, a session, a price change (each transaction marked)"
echo "  BEGIN; INSERT INTO _dblog_tx DEFAULT VALUES; ...; COMMIT;"
tx "INSERT INTO orders VALUES (100, 1, 'new', 13.50); INSERT INTO \"order items\" VALUES (100, 'tea', 3);"
tx "INSERT INTO sessions VALUES ('s3cr3t', 1);"
tx "UPDATE products SET price = 4.20 WHERE sku = 'tea';"
run "dblog-capture --until-caught-up sqlite:shop.db | jq -c '{op, table, tx, pos, seq, key}' | head -12"

step "replicate: capture | filter (drop sessions) | apply, with one checkpoint file"
echo "(snapshot_then_cdc: the rows from before --setup come first, once; later runs resume)"
P="dblog-capture -m snapshot_then_cdc --until-caught-up -c replica.cp sqlite:shop.db | dblog-filter -T main.sessions | dblog-apply -c replica.cp sqlite:replica.db --create-tables"
run "$P"
run "dblog-checkpoint show replica.cp"

step "more changes, then the same pipeline again: it resumes after the checkpoint"
tx "UPDATE orders SET status = 'paid' WHERE id = 100;"
tx "INSERT INTO customers VALUES (3, 'Chidi', NULL); DELETE FROM customers WHERE id = 2;"
tx "INSERT OR REPLACE INTO products VALUES ('mug', 'Big mug', 11.00, NULL);"
run "$P"
run "sqlite3 replica.db 'SELECT * FROM customers; SELECT sku, title, price, hex(photo) FROM products'"

step "a follower archives the stream; stop it with SIGTERM, write more, resume it"
F="dblog-filter -T main.sessions | dblog-checkpoint track archive.cp"
printf '$ (dblog-capture -c archive.cp sqlite:shop.db &) | %s > archive.ndjson &\n' "$F"
( dblog-capture -c archive.cp --poll-interval 100ms sqlite:shop.db & echo $! > capture.pid; wait ) \
	| dblog-filter -T main.sessions | dblog-checkpoint track archive.cp > archive.ndjson &
sleep 0.5
tx "INSERT INTO orders VALUES (101, 3, 'new', 4.20);"
sleep 0.5
kill -TERM "$(cat capture.pid)"
wait
echo "follower stopped cleanly; the archive has $(wc -l < archive.ndjson) events, archive.cp is at pos $(jq .pos archive.cp)"
tx "UPDATE orders SET status = 'shipped' WHERE id = 101;"
sleep 0.1
MARK=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
sleep 0.1
tx "UPDATE orders SET total = 5.00 WHERE id = 101;"
run "dblog-capture --until-caught-up -c archive.cp sqlite:shop.db | $F >> archive.ndjson"
run "dblog-apply -c replica.cp sqlite:replica.db < archive.ndjson"
run "sqlite3 replica.db 'SELECT * FROM orders'"

step "exactly once: applying the whole archive again changes nothing"
run "dblog-apply sqlite:replica.db < archive.ndjson && sqlite3 replica.db 'SELECT * FROM orders'"

step "replay from a time: the changes after $MARK as SQL for review (a new stream name, so nothing is skipped)"
run "dblog-checkpoint since --time $MARK < archive.ndjson | dblog-apply --dry-run --stream review sqlite:replica.db"
step "replay from a time into a copy of the replica as it was before"
cp replica.db before.db
run "dblog-checkpoint since --time $MARK < archive.ndjson | dblog-apply --stream replay sqlite:before.db && sqlite3 before.db 'SELECT * FROM orders WHERE id = 101'"

step "check: the shop and its replica agree on every replicated table"
dump shop.db > shop.txt
dump replica.db > replica.txt
if cmp -s shop.txt replica.txt; then
	echo "OK: $(wc -l < shop.txt) rows in 4 tables are the same in shop.db and replica.db"
else
	diff -u shop.txt replica.txt
	echo "MISMATCH"
	exit 1
fi

step "dblogctl: the same replica as a named stream, run the way cron would run it"
export DBLOG_HOME="$D/ctl"
run "dblogctl upsert shop --source sqlite:shop.db --dest sqlite:ctl-replica.db --mode snapshot_then_cdc --filter \"table != 'main.sessions'\" --archive 7d"
run "dblogctl run shop --once"
tx "UPDATE orders SET status = 'delivered' WHERE id = 100;"
run "dblogctl status shop"
run "dblogctl pause shop && dblogctl run shop --once; dblogctl resume shop && dblogctl run shop --once"
run "dblogctl status shop --json | jq -c '{name, state, lag_events, events_replicated}'"
echo "from cron, every five minutes: */5 * * * * DBLOG_HOME=$DBLOG_HOME dblogctl run shop --once"
dump shop.db > shop.txt
dump ctl-replica.db > ctl-replica.txt
if cmp -s shop.txt ctl-replica.txt; then
	echo "OK: $(wc -l < shop.txt) rows in 4 tables are the same in shop.db and ctl-replica.db"
else
	diff -u shop.txt ctl-replica.txt
	echo "MISMATCH (dblogctl)"
	exit 1
fi

step "flashback: a bad update and a bad delete, undone to the exact earlier state"
dump shop.db > before-bad.txt
sleep 0.1
BAD=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
sleep 0.1
echo "at $BAD someone zeroes every price and deletes a customer:"
tx "UPDATE products SET price = 0;"
tx "DELETE FROM customers WHERE id = 1;"
run "sqlite3 shop.db 'SELECT sku, price FROM products; SELECT id, name FROM customers'"
run "dblog-capture --until-caught-up -c archive.cp sqlite:shop.db | $F >> archive.ndjson"
run "dblog-flashback --since $BAD --plan < archive.ndjson"
run "dblog-flashback --since $BAD < archive.ndjson > undo.ndjson && jq -c 'select(.table) | {op, table, key, before, after} | del(.[] | nulls)' undo.ndjson"
echo "meanwhile, before the undo is applied, someone edits the mug on purpose:"
tx "UPDATE products SET title = 'Mug (new photo)', price = 12.00 WHERE sku = 'mug';"
run "dblog-apply --conflict manual_review sqlite:shop.db < undo.ndjson"
run "sqlite3 shop.db 'SELECT sku, title, price FROM products; SELECT id, name FROM customers'"
run "sqlite3 shop.db 'SELECT reason, json_extract(event, \"\$.key\") FROM _dblog_conflicts'"
dump shop.db > after-undo.txt
if [ "$(grep -av '|mug|' before-bad.txt)" = "$(grep -av '|mug|' after-undo.txt)" ] &&
	grep -aq "|mug|Mug (new photo)|12" after-undo.txt; then
	echo "OK: every row is as before $BAD, except the mug: its later edit was kept and the undo of its price parked for review"
else
	diff -u before-bad.txt after-undo.txt
	echo "MISMATCH"
	exit 1
fi

printf '\ndemo done: the files are in %s\n' "$D"
