#!/usr/bin/env python3
"""sqlite_workload.py - random writes into a SQLite source, and a row-for-row
comparison of two databases, for the dblog SQLite tests.

  sqlite_workload.py init DB
      create the test schema (WAL mode): a counter table, a table with odd
      names and a text key, a composite WITHOUT ROWID key, an integer key
      and a table without primary key; seed the counters
  sqlite_workload.py run DB --seed N --tx N [--mark all|none|mixed]
                         [--sleep-ms N] [--max-ops N] [--writer NAME]
      N random transactions (inserts, updates, deletes, key changes,
      REPLACE, upserts, counter increments) of 1..max-ops statements each;
      --mark all starts each with INSERT INTO _dblog_tx DEFAULT VALUES
  sqlite_workload.py compare A B [--ignore TABLE]...
      every table of A (but _dblog_* and sqlite_*) must exist in B with the
      same rows (rowid too for tables without primary key), value and type
      exact; B may have no other tables except the ignored ones. Prints the
      first differences and exits 1 when they differ.

The counter table ctr(id, n, note) only ever gets `n = n + 1` updates, so
n counts the updates of a row: a replica that counts the updates it
receives (a trigger) can tell a change applied twice.
"""
import argparse
import random
import sqlite3
import sys
import time

WEIRD = 'we"ird tåble; --'
COMP = "comp key"
NOKEY = "no key"
NCTR = 20

SCHEMA = [
    "CREATE TABLE ctr(id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, note TEXT)",
    'CREATE TABLE "we""ird tåble; --"("k ey" TEXT PRIMARY KEY, "vål\'ue" TEXT, '
    '"b" BLOB, "r" REAL, "n" INTEGER)',
    'CREATE TABLE "comp key"(a INTEGER NOT NULL, "b-part" TEXT NOT NULL, v TEXT, '
    'PRIMARY KEY(a, "b-part")) WITHOUT ROWID',
    "CREATE TABLE items(id INTEGER PRIMARY KEY, qty INTEGER, price REAL, data BLOB, "
    "label TEXT)",
    'CREATE TABLE "no key"(x TEXT, y INTEGER)',
]

PIECES = ["it's", 'say "hi"', "'); DROP TABLE items; --", "tåble ünï 😀", "back\\slash",
          "new\nline", "tab\t", "%_*?[", "\\x41 not a blob", "", "ﬁ‮rtl", "a''b", "--",
          "/* c */", "NULL", "0x10"]


def q(name):
    return '"' + name.replace('"', '""') + '"'


def text(r):
    parts = [r.choice(PIECES) for _ in range(r.randint(1, 3))]
    return "".join(parts) + str(r.randint(0, 999))


def maybe(r, v, p=0.1):
    return None if r.random() < p else v


def blob(r):
    return bytes(r.getrandbits(8) for _ in range(r.randint(0, 12)))


def real(r):
    # short decimals: exact in 15 significant digits (the JSON functions of
    # SQLite print 15); REAL precision has a test of its own
    return r.randint(-10 ** 6, 10 ** 6) / 8.0


def bigint(r):
    return r.choice([0, -1, 2 ** 63 - 1, -2 ** 63, r.randint(-10 ** 12, 10 ** 12)])


def wkey(r):
    return "k" + str(r.randint(0, 400)) + r.choice(["", " sp", "'q", '"dq', "ü"])


def one(con, sql, args=()):
    row = con.execute(sql, args).fetchone()
    return row[0] if row else None


def op_ctr(con, r):
    con.execute("UPDATE ctr SET n = n + 1, note = ? WHERE id = ?",
                (maybe(r, text(r)), r.randint(1, NCTR)))


def op_weird(con, r):
    t = q(WEIRD)
    k = wkey(r)
    exists = one(con, f'SELECT 1 FROM {t} WHERE "k ey" = ?', (k,))
    c = r.random()
    vals = (maybe(r, text(r)), maybe(r, blob(r)), maybe(r, real(r)), maybe(r, bigint(r)))
    if not exists and c < 0.5:
        con.execute(f'INSERT INTO {t} VALUES(?, ?, ?, ?, ?)', (k,) + vals)
    elif c < 0.6:
        con.execute(f'REPLACE INTO {t} VALUES(?, ?, ?, ?, ?)', (k,) + vals)
    elif c < 0.7:
        con.execute(f'INSERT INTO {t} VALUES(?, ?, ?, ?, ?) ON CONFLICT("k ey") DO UPDATE '
                    f'SET "vål\'ue" = excluded."vål\'ue", b = excluded.b', (k,) + vals)
    elif exists and c < 0.8:
        con.execute(f'DELETE FROM {t} WHERE "k ey" = ?', (k,))
    elif exists and c < 0.9:
        nk = wkey(r)
        if not one(con, f'SELECT 1 FROM {t} WHERE "k ey" = ?', (nk,)):
            con.execute(f'UPDATE {t} SET "k ey" = ?, r = ? WHERE "k ey" = ?', (nk, real(r), k))
    elif exists:
        col = r.choice(['"vål\'ue"', "b", "r", "n"])
        v = {'"vål\'ue"': text(r), "b": blob(r), "r": real(r), "n": bigint(r)}[col]
        con.execute(f'UPDATE {t} SET {col} = ? WHERE "k ey" = ?', (maybe(r, v), k))


def op_comp(con, r):
    t = q(COMP)
    a, b = r.randint(0, 30), r.choice(["x", "y", "z'", "ß"])
    exists = one(con, f'SELECT 1 FROM {t} WHERE a = ? AND "b-part" = ?', (a, b))
    c = r.random()
    if not exists:
        con.execute(f'INSERT INTO {t} VALUES(?, ?, ?)', (a, b, maybe(r, text(r))))
    elif c < 0.4:
        con.execute(f'UPDATE {t} SET v = ? WHERE a = ? AND "b-part" = ?', (text(r), a, b))
    elif c < 0.7:
        na = r.randint(0, 30)
        if not one(con, f'SELECT 1 FROM {t} WHERE a = ? AND "b-part" = ?', (na, b)):
            con.execute(f'UPDATE {t} SET a = ? WHERE a = ? AND "b-part" = ?', (na, a, b))
    else:
        con.execute(f'DELETE FROM {t} WHERE a = ? AND "b-part" = ?', (a, b))


def op_items(con, r):
    c = r.random()
    ids = [x[0] for x in con.execute("SELECT id FROM items ORDER BY random() LIMIT 1")]
    if not ids or c < 0.4:
        con.execute("INSERT INTO items(qty, price, data, label) VALUES(?, ?, ?, ?)",
                    (r.randint(-5, 500), maybe(r, real(r)), maybe(r, blob(r)), text(r)))
    elif c < 0.7:
        con.execute("UPDATE items SET qty = qty + ?, label = ? WHERE id = ?",
                    (r.randint(1, 9), maybe(r, text(r)), ids[0]))
    elif c < 0.8:
        nid = r.randint(1, 100000)
        if not one(con, "SELECT 1 FROM items WHERE id = ?", (nid,)):
            con.execute("UPDATE items SET id = ? WHERE id = ?", (nid, ids[0]))
    else:
        con.execute("DELETE FROM items WHERE id = ?", (ids[0],))


def op_nokey(con, r):
    t = q(NOKEY)
    c = r.random()
    rid = one(con, f"SELECT rowid FROM {t} ORDER BY random() LIMIT 1")
    if rid is None or c < 0.5:
        con.execute(f"INSERT INTO {t} VALUES(?, ?)", (maybe(r, text(r)), r.randint(0, 99)))
    elif c < 0.8:
        con.execute(f"UPDATE {t} SET y = y + 1, x = ? WHERE rowid = ?", (text(r), rid))
    else:
        con.execute(f"DELETE FROM {t} WHERE rowid = ?", (rid,))


OPS = [(op_ctr, 4), (op_weird, 4), (op_comp, 2), (op_items, 3), (op_nokey, 1)]


def connect(path):
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.execute("PRAGMA busy_timeout = 30000")
    return con


def cmd_init(a):
    con = connect(a.db)
    con.execute("PRAGMA journal_mode=WAL")
    for s in SCHEMA:
        con.execute(s)
    con.close()


def cmd_seed(a):
    con = connect(a.db)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO _dblog_tx DEFAULT VALUES")
    for i in range(1, NCTR + 1):
        con.execute("INSERT INTO ctr(id, n, note) VALUES(?, 0, ?)", (i, "c%d" % i))
    con.execute("COMMIT")
    con.close()


def cmd_run(a):
    r = random.Random(a.seed)
    con = connect(a.db)
    ops = [f for f, w in OPS for _ in range(w)]
    for i in range(a.tx):
        mark = a.mark == "all" or (a.mark == "mixed" and r.random() < 0.5)
        n = r.randint(1, a.max_ops)
        while True:
            try:
                con.execute("BEGIN IMMEDIATE")
                if mark:
                    con.execute("INSERT INTO _dblog_tx DEFAULT VALUES")
                rs = random.Random(r.random())
                for _ in range(n):
                    rs.choice(ops)(con, rs)
                con.execute("COMMIT")
                break
            except sqlite3.OperationalError as e:
                # busy: roll back and run the same transaction again
                if con.in_transaction:
                    con.execute("ROLLBACK")
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(0.01)
        if a.sleep_ms:
            time.sleep(r.random() * a.sleep_ms / 1000.0)
    con.close()


def tables(con):
    con.text_factory = str
    return sorted(x[0] for x in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' AND name NOT LIKE '\\_dblog\\_%' ESCAPE '\\'"))


def rows(con, t):
    con.text_factory = str
    info = list(con.execute("SELECT name, pk FROM pragma_table_info(?)", (t,)))
    con.text_factory = bytes
    cols = sorted(c[0] for c in info)
    sel = ", ".join(q(c) for c in cols)
    if not any(c[1] for c in info):
        cols = ["rowid"] + cols
        sel = "rowid, " + sel
    out = []
    for row in con.execute(f"SELECT {sel} FROM {q(t)}"):
        out.append(tuple((type(v).__name__, v) for v in row))
    out.sort(key=repr)
    return cols, out


def cmd_compare(a):
    ca, cb = sqlite3.connect(a.a), sqlite3.connect(a.b)
    ta, tb = tables(ca), [t for t in tables(cb) if t not in a.ignore]
    bad = 0
    if ta != tb:
        print("tables differ: %r vs %r" % (ta, tb))
        bad += 1
    total = 0
    for t in ta:
        if t not in tb:
            continue
        cols_a, ra = rows(ca, t)
        cols_b, rb = rows(cb, t)
        if cols_a != cols_b:
            print("table %r: columns %r vs %r" % (t, cols_a, cols_b))
            bad += 1
            continue
        total += len(ra)
        if ra != rb:
            sa, sb = set(ra), set(rb)
            print("table %r: %d vs %d rows; only in %s: %r; only in %s: %r" % (
                t, len(ra), len(rb), a.a, sorted(sa - sb, key=repr)[:5], a.b,
                sorted(sb - sa, key=repr)[:5]))
            bad += 1
    if bad:
        sys.exit(1)
    print("equal: %d tables, %d rows" % (len(ta), total))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("init")
    s.add_argument("db")
    s = sub.add_parser("seed")
    s.add_argument("db")
    s = sub.add_parser("run")
    s.add_argument("db")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--tx", type=int, default=100)
    s.add_argument("--mark", choices=["all", "none", "mixed"], default="all")
    s.add_argument("--sleep-ms", type=float, default=0)
    s.add_argument("--max-ops", type=int, default=12)
    s = sub.add_parser("compare")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--ignore", action="append", default=[])
    a = p.parse_args()
    {"init": cmd_init, "seed": cmd_seed, "run": cmd_run, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
