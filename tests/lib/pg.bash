# pg.bash - helpers of the PostgreSQL capture tests (60-*.bats), loaded
# after helpers.bash. One throwaway cluster per bats file (pg_file_start in
# setup_file, pg_file_stop in teardown_file); each test uses its own slot,
# publication and tables, and pg_clean drops slots and publications after it.

# shellcheck source=tests/lib/pgcluster.sh
. "$TESTS_DIR/lib/pgcluster.sh"

# pg_file_start: fail - never skip - without the server binaries; start the
# cluster of this file in a short directory (unix socket paths are limited
# to ~100 bytes) and export PGD, PGHOST, PGPORT, PGUSER, PGDATABASE, DBLOG_PG.
pg_file_start() {
	if [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
		echo "PostgreSQL tests need the PostgreSQL 15 server binaries (initdb, pg_ctl):" \
			"none in '${PG_BIN:-/usr/lib/postgresql/*/bin}'; install postgresql-15" \
			"(apt-get install postgresql-15) or set PG_BIN" >&2
		return 1
	fi
	command -v psql > /dev/null || { echo "PostgreSQL tests need psql (postgresql-client-15)" >&2; return 1; }
	PGD=$(mktemp -d /tmp/dblog-pg.XXXXXX) || return 1
	chmod 755 "$PGD"
	export PGD
	pg_start "$PGD/c" || { echo "cannot start a PostgreSQL cluster in $PGD/c" >&2; return 1; }
	# money's text form depends on lc_monetary: make it the same everywhere
	q "ALTER SYSTEM SET lc_monetary = 'C'" && q "SELECT pg_reload_conf()" > /dev/null
}

pg_file_stop() {
	[ -n "${PGD:-}" ] || return 0
	pg_stop "$PGD/c"
	rm -rf "$PGD"
}

# q SQL: run SQL (one or more statements) with psql, unaligned, tuples only,
# stopping at the first error; a lock wait fails after 20 s rather than
# hanging the suite.
q() {
	PGOPTIONS="-c lock_timeout=20s" psql -qXAt -v ON_ERROR_STOP=1 -c "$1"
}

# pg_clean: after a test: end the walsenders still using slots, drop every
# slot and publication.
pg_clean() {
	q "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE active_pid IS NOT NULL" \
		> /dev/null 2>&1
	wait_until 10 slots_idle || true
	q "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" > /dev/null 2>&1
	q "DO \$\$ DECLARE p text; BEGIN FOR p IN SELECT pubname FROM pg_publication LOOP
		EXECUTE format('DROP PUBLICATION %I', p); END LOOP; END \$\$" > /dev/null 2>&1
	return 0
}

slots_idle() {
	[ "$(q "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ]
}

# slot_idle NAME: is slot NAME there and not used by a walsender?
slot_idle() {
	[ "$(q "SELECT NOT active FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]
}

# src_setup NAME TABLES: dblog-capture --setup with slot and publication
# NAME for the comma-separated TABLES.
src_setup() {
	dblog-capture --setup --slot "$1" --publication "$1" --tables "$2" "$DBLOG_PG"
}

# cap NAME ARGS...: dblog-capture on slot and publication NAME.
cap() {
	local n="$1"; shift
	dblog-capture --slot "$n" --publication "$n" "$@" "$DBLOG_PG"
}

# confirmed NAME: the confirmed_flush_lsn of slot NAME.
confirmed() {
	q "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$1'"
}

# pg_identity [DB]: the source identity of database DB (default: $PGDATABASE)
# of this cluster, "<system identifier>/<database>" (dblog-event(5)).
pg_identity() {
	PGDATABASE=${1:-$PGDATABASE} q "SELECT system_identifier || '/' || current_database() FROM pg_control_system()"
}

# lsn_num LSN: "X/Y" as a decimal number; lsn_fmt N: the reverse.
lsn_num() {
	local h=${1%/*} l=${1#*/}
	echo $(((16#$h << 32) + 16#$l))
}
lsn_fmt() {
	printf '%X/%X\n' $(($1 >> 32)) $(($1 & 0xFFFFFFFF))
}

# strip FILE: the events of FILE without the fields that differ from run to
# run (tx, pos, commit_time, id; check_stream checks those), keys sorted.
strip() {
	jq -cS 'del(.tx, .pos, .commit_time, .id)' "$1"
}

# sorted: stdin's JSON lines with sorted keys (for comparing with strip).
sorted() {
	jq -cS .
}

# commits FILE: the pos of every commit of FILE, one a line.
commits() {
	jq -r 'select(.op == "commit") | .pos' "$1"
}

# check_stream FILE: the framing rules of dblog-event(5) for a PostgreSQL
# stream: begin ... commit with the same tx, pos and commit_time on every
# event inside, seq 0..n-1, count n, id the UUID v5 of (name, pos, seq),
# transactions in increasing pos, LSNs uppercase hex, times RFC 3339 UTC
# with microseconds, every line one compact object. Prints what is wrong.
# PARTIAL=1: a transaction may start at a seq above 0 (resumed inside it).
check_stream() {
	python3 - "$1" <<'PY'
import json, os, re, sys, uuid
partial = os.environ.get("PARTIAL") == "1"
NS = uuid.UUID("6d1b0e4a-8f3c-4e21-9a57-d20c61b37e90")
LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
def lsn(s):
    h, l = s.split("/")
    return int(h, 16) << 32 | int(l, 16)
bad = []
cur = None
last = -1
changes = ("insert", "update", "delete", "truncate")
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    def fail(why):
        bad.append("line %d: %s: %s" % (n, why, line.strip()[:300]))
    e = json.loads(line)
    op = e.get("op")
    if "pos" in e and not (isinstance(e["pos"], str) and LSN.match(e["pos"])):
        fail("pos is not an uppercase LSN string")
        continue
    if "commit_time" in e and not TIME.match(e["commit_time"]):
        fail("commit_time is not RFC 3339 UTC with microseconds")
    src = e.get("source")
    if not (isinstance(src, dict) and src.get("driver") == "postgres" and isinstance(src.get("name"), str)):
        fail("bad source")
        continue
    if op == "begin":
        if cur:
            fail("begin inside a transaction")
        if not isinstance(e.get("tx"), int):
            fail("begin without a numeric tx")
        if lsn(e["pos"]) <= last:
            fail("transaction pos not after the previous one")
        last = lsn(e["pos"])
        cur = dict(tx=e.get("tx"), pos=e["pos"], t=e.get("commit_time"), seq=0, first=True)
    elif op == "commit":
        if not cur:
            fail("commit outside a transaction")
            continue
        if (e.get("tx"), e["pos"], e.get("commit_time")) != (cur["tx"], cur["pos"], cur["t"]):
            fail("commit differs from its begin")
        if e.get("count") != cur["seq"]:
            fail("count %r, %d changes" % (e.get("count"), cur["seq"]))
        cur = None
    elif op in changes:
        if not cur:
            fail("change outside begin/commit")
            continue
        if (e.get("tx"), e["pos"], e.get("commit_time")) != (cur["tx"], cur["pos"], cur["t"]):
            fail("change differs from its begin in tx, pos or commit_time")
        if partial and cur["first"] and isinstance(e.get("seq"), int):
            cur["seq"] = e["seq"]
        cur["first"] = False
        if e.get("seq") != cur["seq"]:
            fail("seq %r, expected %d" % (e.get("seq"), cur["seq"]))
        want = str(uuid.uuid5(NS, "%s\0%s\0%s" % (src["name"], e["pos"], e.get("seq"))))
        if e.get("id") != want:
            fail("id %r, expected %s" % (e.get("id"), want))
        if not isinstance(e.get("table"), str) or e["table"].count(".") < 1:
            fail("bad table")
        if op != "truncate" and not isinstance(e.get("key"), dict):
            fail("no key")
        cur["seq"] += 1
    elif op == "schema":
        if cur and e["pos"] != cur["pos"]:
            fail("schema inside a transaction with another pos")
        cols = e.get("columns")
        if not isinstance(cols, list) or not all(
                set(c) >= {"name", "type", "key", "nullable"} for c in cols):
            fail("bad columns")
    elif op == "heartbeat":
        if cur:
            fail("heartbeat inside a transaction")
        if "pos" not in e or "commit_time" not in e:
            fail("heartbeat without pos or commit_time")
    elif op == "snapshot":
        pass
    else:
        fail("unknown op")
if cur:
    bad.append("the stream ends inside a transaction")
for b in bad[:20]:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# json_cols_eq WANT EVENT MEMBER: compare the object WANT with the member
# MEMBER (after, key, before) of the event line EVENT member by member,
# strictly (numbers by exact decimal value, never through a double; a number
# never equals a string or a boolean); print each member that differs.
json_cols_eq() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, sys
from decimal import Decimal
def load(s):
    return json.loads(s, parse_float=Decimal, parse_int=Decimal,
                      parse_constant=lambda c: ("CONSTANT", c))
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b
want, got = load(sys.argv[1]), load(sys.argv[2])[sys.argv[3]]
bad = 0
for k in want:
    if k not in got:
        print("%s: missing (want %s)" % (k, json.dumps(want[k], default=str))); bad = 1
    elif not same(want[k], got[k]):
        print("%s: want %s, got %s" % (k, json.dumps(want[k], default=str),
                                       json.dumps(got[k], default=str, ensure_ascii=False))); bad = 1
for k in got:
    if k not in want:
        print("%s: unexpected member" % k); bad = 1
sys.exit(bad)
PY
}

# replay FILE: the table state that the snapshot and change events of FILE
# build, as one JSON object {"<key as JSON>": after, ...} with sorted keys;
# fails on an insert or snapshot of a key already there (a duplicate) and on
# an update or delete of a key that is not (a gap).
replay() {
	jq -nS 'reduce (inputs | select(.op == "snapshot" or .op == "insert" or
				     .op == "update" or .op == "delete")) as $e ({};
		($e.key | tojson) as $k |
		if $e.op == "snapshot" or $e.op == "insert" then
			if has($k) then error("duplicate \($e.op) of \($k) at \($e.pos)/\($e.seq)")
			else .[$k] = $e.after end
		elif $e.op == "update" then
			if has($k) | not then error("update of missing \($k) at \($e.pos)")
			else del(.[$k]) | .[$e.after | {id} | tojson] = $e.after end
		else
			if has($k) | not then error("delete of missing \($k) at \($e.pos)")
			else del(.[$k]) end
		end)' "$1"
}

# holder NAME: a psql session fed through a fifo (fd 7), to keep a
# transaction open across commands; hold SQL sends SQL and waits until the
# session is idle again; release ends it.
holder() {
	mkfifo "$T/holder.fifo"
	PGAPPNAME="$1" PGOPTIONS="-c lock_timeout=20s" psql -qXAt -v ON_ERROR_STOP=1 < "$T/holder.fifo" > "$T/holder.out" 2>&1 3>&- &
	HOLDER_PID=$!
	HOLDER_NAME=$1
	exec 7> "$T/holder.fifo"
}
hold() {
	echo "$1" >&7
	wait_until 10 holder_waiting
}
holder_waiting() {
	[ "$(q "SELECT state FROM pg_stat_activity WHERE application_name = '$HOLDER_NAME'")" = "idle in transaction" ]
}
release() {
	echo "$1" >&7
	exec 7>&-
	wait "$HOLDER_PID"
}

# cap_bg NAME ARGS...: cap in the background, stdout to $T/out, stderr to
# $T/err; its pid in CAP_PID.
cap_bg() {
	local n="$1"; shift
	dblog-capture --slot "$n" --publication "$n" "$@" "$DBLOG_PG" > "$T/out" 2> "$T/err" 3>&- &
	CAP_PID=$!
}

# eventually SECONDS 'SHELL TEST': wait_until for a test given as one string,
# evaluated again at every try ("$(...)" in it is run each time).
eventually() {
	local secs="$1"; shift
	wait_until "$secs" eval "$1"
}
