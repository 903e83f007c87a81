#!/usr/bin/env python3
"""gen-rows.py - the same rows as dblog events and as sqlite3 SQL, for the
SQLite apply benchmark. Usage: gen-rows.py N SEED KIND OUTDIR
KIND insert: N inserts into an empty table; upsert: N rows that all exist.
Writes OUTDIR/KIND.ndjson (one source transaction, as capture emits) and
OUTDIR/KIND.sql (single-row statements in one transaction)."""
import random
import sys

n, seed, kind, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rnd = random.Random(seed + (kind == "upsert"))
src = '{"driver":"sqlite","name":"bench"}'
with open(f"{out}/{kind}.ndjson", "w") as ev, open(f"{out}/{kind}.sql", "w") as sql:
    sql.write("BEGIN;\n")
    ev.write(f'{{"op":"begin","source":{src},"pos":{n},"commit_time":"2026-11-22T10:00:00.000000Z"}}\n')
    for i in range(1, n + 1):
        a = rnd.randint(0, 100000)
        b = f"name {a} {kind}"
        c = a / 7
        ev.write(f'{{"op":"insert","table":"main.t","source":{src},"pos":{n},"seq":{i - 1},'
                 f'"commit_time":"2026-11-22T10:00:00.000000Z","key":{{"id":{i}}},'
                 f'"after":{{"id":{i},"a":{a},"b":"{b}","c":{c!r}}}}}\n')
        if kind == "insert":
            sql.write(f"INSERT INTO t VALUES({i},{a},'{b}',{c!r});\n")
        else:
            sql.write(f"INSERT INTO t VALUES({i},{a},'{b}',{c!r}) ON CONFLICT(id) DO UPDATE "
                      "SET a = excluded.a, b = excluded.b, c = excluded.c;\n")
    ev.write(f'{{"op":"commit","source":{src},"pos":{n},"commit_time":"2026-11-22T10:00:00.000000Z","count":{n}}}\n')
    sql.write("COMMIT;\n")
