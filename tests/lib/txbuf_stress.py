#!/usr/bin/env python3
"""txbuf_stress.py - stress streams for dblog-txbuf(1) and a checker of its output.

  gen-markers SEED SOURCES TXS MAXCHANGES [WINDOW]
      PostgreSQL-like sources with begin/commit markers, merged line by line:
      up to WINDOW transactions of a source open at once, their lines
      interleaved, changes of a transaction shuffled, commits in pos order;
      sources reuse each other's tx ids.
  gen-markerless SEED ROUNDS TABLES [--no-last-heartbeats]
      a per-table polling capture without markers: transactions with tx and
      commit_time touching 1-3 tables, each round's changes in commit_time
      order (a tx's changes shuffled among themselves), a heartbeat naming
      every table at the end of each round.
  gen-big TX CHANGES [SOURCES]
      SOURCES (default 1) transactions of CHANGES changes each, interleaved
      change by change, seq descending in blocks of 1000.
  check IN OUT [--markerless] [--reasons R,R] [--as-tx] [--allow-missing TX...]
      every transaction of IN comes out exactly once, whole, contiguous, its
      changes byte for byte in seq order; per source in commit order
      (markers) or in (commit_time, pos) order (--markerless); delivery
      reasons among R; batch ids well formed and not decreasing.
      Prints a summary line; exit 1 with the first problem on stderr.
"""
import json
import random
import re
import sys

BATCH = re.compile(r'^[0-9]{13}-[0-9a-f]{8}$')
CHANGE_OPS = {"insert", "update", "delete", "truncate", "snapshot"}


def dumps(o):
    return json.dumps(o, separators=(",", ":"))


def gen_markers(seed, nsrc, ntx, maxch, window=3):
    rnd = random.Random(seed)
    streams = []
    for s in range(nsrc):
        src = {"driver": "postgres", "name": "s%d" % s}
        lines, open_, lsn, txid = [], [], 0x1000, 700
        pending = ntx
        while pending or open_:
            # open a transaction, or advance one of the open ones
            if pending and (not open_ or (len(open_) < window and rnd.random() < 0.4)):
                pending -= 1
                txid += rnd.randint(1, 3)
                n = rnd.randint(0, maxch)
                order = list(range(n))
                rnd.shuffle(order)
                open_.append({"tx": txid, "todo": order, "n": n, "begun": False})
                continue
            t = rnd.choice(open_)
            if not t["begun"]:
                t["begun"] = True
                t["ct"] = "2026-01-01T00:00:%02d.%06dZ" % (len(lines) % 60, len(lines) % 999999)
                lines.append(dumps({"op": "begin", "source": src, "tx": t["tx"],
                                    "pos": "0/PENDING", "commit_time": t["ct"]}))
                t["begin_i"] = len(lines) - 1
                continue
            if t["todo"]:
                q = t["todo"].pop()
                lines.append(("chg", t, q))
                continue
            # commit: pos grows in commit order
            lsn += rnd.randint(1, 50000)
            t["pos"] = "%X/%X" % (lsn >> 32, lsn & 0xFFFFFFFF)
            lines.append(dumps({"op": "commit", "source": src, "tx": t["tx"], "pos": t["pos"],
                                "commit_time": t["ct"], "count": t["n"]}))
            lines[t["begin_i"]] = lines[t["begin_i"]].replace("0/PENDING", t["pos"])
            open_.remove(t)
        out = []
        for x in lines:
            if isinstance(x, tuple):
                _, t, q = x
                x = dumps({"op": "insert" if q % 3 else "update", "table": "public.t%d" % (q % 4),
                           "source": src, "tx": t["tx"], "pos": t["pos"], "seq": q,
                           "commit_time": t["ct"], "key": {"id": q},
                           "after": {"id": q, "v": "x" * rnd.randint(0, 40)}})
            out.append(x)
        streams.append(out)
    # merge line by line, in random proportions
    idx = [0] * nsrc
    live = [i for i in range(nsrc) if streams[i]]
    w = sys.stdout.write
    while live:
        i = rnd.choice(live)
        w(streams[i][idx[i]] + "\n")
        idx[i] += 1
        if idx[i] == len(streams[i]):
            live.remove(i)


def gen_markerless(seed, rounds, ntables, last_hb=True):
    rnd = random.Random(seed)
    src = {"driver": "sqlite", "name": "poll"}
    tables = ["main.t%d" % i for i in range(ntables)]
    us, pos, tx = 0, 0, 100
    w = sys.stdout.write
    for r in range(rounds):
        for _ in range(rnd.randint(1, 6)):
            tx += 1
            us += rnd.randint(1, 3000000)
            ct = "2026-01-01T%02d:%02d:%02d.%06dZ" % (us // 3600000000 % 24, us // 60000000 % 60,
                                                       us // 1000000 % 60, us % 1000000)
            evs = []
            for seq, tb in enumerate(rnd.sample(tables, rnd.randint(1, min(3, ntables)))):
                for k in range(rnd.randint(1, 3)):
                    pos += 1
                    evs.append({"op": "insert", "table": tb, "source": src, "tx": tx, "pos": pos,
                                "seq": seq * 3 + k, "commit_time": ct, "key": {"id": pos},
                                "after": {"id": pos}})
            rnd.shuffle(evs)
            for e in evs:
                w(dumps(e) + "\n")
        if r + 1 < rounds or last_hb:
            us += 1
            ct = "2026-01-01T%02d:%02d:%02d.%06dZ" % (us // 3600000000 % 24, us // 60000000 % 60,
                                                       us // 1000000 % 60, us % 1000000)
            for tb in tables:
                w(dumps({"op": "heartbeat", "source": src, "table": tb, "pos": pos,
                         "commit_time": ct}) + "\n")


def gen_big(ntx, nch, nsrc=1):
    w = sys.stdout.write
    srcs = ['{"driver":"postgres","name":"big%d"}' % s for s in range(nsrc)]
    for k in range(ntx):
        s = srcs[k % nsrc]
        w('{"op":"begin","source":%s,"tx":%d,"pos":"0/%X"}\n' % (s, 9000 + k, 16 + k))
    buf = []
    for i in range(nch):
        q = i // 1000 * 1000 + 999 - i % 1000
        if q >= nch:
            continue
        for k in range(ntx):
            buf.append('{"op":"insert","table":"t","tx":%d,"source":%s,"seq":%d,"after":{"id":%d}}\n'
                       % (9000 + k, srcs[k % nsrc], q, q))
        if len(buf) > 4096:
            w("".join(buf))
            buf = []
    w("".join(buf))
    for k in range(ntx):
        s = srcs[k % nsrc]
        w('{"op":"commit","source":%s,"tx":%d,"pos":"0/%X","count":%d}\n' % (s, 9000 + k, 16 + k, nch))


def fail(msg):
    sys.stderr.write("txbuf_stress check: %s\n" % msg)
    sys.exit(1)


def key_of(e):
    return (dumps(e.get("source")), dumps(e.get("tx")))


def read_input(path, markerless):
    txs, order = {}, []     # key -> {"changes": [(seq, i, line)], ...}
    with open(path) as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n")
            e = json.loads(line)
            if e.get("tx") is None:
                continue
            k = key_of(e)
            t = txs.setdefault(k, {"changes": [], "commit": False, "ct": e.get("commit_time"),
                                   "pos": None, "src": dumps(e.get("source"))})
            if e["op"] in CHANGE_OPS:
                t["changes"].append((e.get("seq", 0), i, line))
                if t["pos"] is None:
                    t["pos"] = e.get("pos")
            elif e["op"] == "commit":
                t["commit"] = True
                order.append(k)
    return txs, order


def read_output(path, as_tx):
    got, i = [], 0
    with open(path) as f:
        lines = [ln.rstrip("\n") for ln in f]
    if as_tx:
        for ln in lines:
            e = json.loads(ln)
            if e.get("op") != "tx":
                continue
            got.append({"key": key_of(e), "changes": [dumps(c) for c in e["changes"]],
                        "commit": e, "raw": True})
        return got
    cur = None
    for n, ln in enumerate(lines, 1):
        e = json.loads(ln)
        op = e.get("op")
        if op == "begin":
            if cur is not None:
                fail("output line %d: begin inside transaction %s" % (n, cur["key"]))
            cur = {"key": key_of(e), "changes": [], "commit": None}
        elif op == "commit":
            if cur is None or key_of(e) != cur["key"]:
                fail("output line %d: commit of %s, open: %s" % (n, key_of(e), cur and cur["key"]))
            cur["commit"] = e
            got.append(cur)
            cur = None
        elif cur is not None:
            if key_of(e) != cur["key"]:
                fail("output line %d: event of %s inside transaction %s" % (n, key_of(e), cur["key"]))
            cur["changes"].append(ln)
        elif e.get("tx") is not None and op in CHANGE_OPS:
            fail("output line %d: change of %s outside its transaction" % (n, key_of(e)))
    if cur is not None:
        fail("output ends inside transaction %s" % (cur["key"],))
    return got


def check(argv):
    inp, outp = argv[0], argv[1]
    markerless = "--markerless" in argv
    as_tx = "--as-tx" in argv
    reasons = {"commit"}
    allow = set()
    for j, a in enumerate(argv):
        if a == "--reasons":
            reasons = set(argv[j + 1].split(","))
        if a == "--allow-missing":
            allow = set(argv[j + 1:])
    txs, order = read_input(inp, markerless)
    got = read_output(outp, as_tx)
    seen, last_batch, per_src, counts = set(), "", {}, {}
    for g in got:
        k = g["key"]
        if k in seen:
            fail("transaction %s delivered twice" % (k,))
        seen.add(k)
        if k not in txs:
            fail("transaction %s was not in the input" % (k,))
        want = [ln for _, _, ln in sorted(txs[k]["changes"])]
        have = g["changes"]
        if as_tx:
            want = [dumps(json.loads(x)) for x in want]
        if have != want:
            fail("transaction %s: %d changes out, %d in, or not in seq order / not byte for byte"
                 % (k, len(have), len(want)))
        c = g["commit"]
        r = c.get("delivery")
        if r not in reasons:
            fail("transaction %s: delivery %r, not one of %s" % (k, r, sorted(reasons)))
        counts[r] = counts.get(r, 0) + 1
        b = c.get("batch", "")
        if not BATCH.match(b) or b < last_batch:
            fail("transaction %s: batch %r after %r" % (k, b, last_batch))
        last_batch = b
        per_src.setdefault(txs[k]["src"], []).append(k)
    # completeness
    for k, t in txs.items():
        if k not in seen and (t["commit"] or markerless) and k[1] not in allow:
            fail("transaction %s never came out" % (k,))
    # order
    if markerless:
        for s, ks in per_src.items():
            keys = [(txs[k]["ct"], txs[k]["pos"]) for k in ks]
            if keys != sorted(keys):
                fail("source %s: transactions not in (commit_time, pos) order" % s)
    else:
        for s, ks in per_src.items():
            want = [k for k in order if txs[k]["src"] == s]
            if ks != want:
                fail("source %s: transactions not in commit order" % s)
    print("ok: %d transactions, %d changes, %s" % (
        len(got), sum(len(g["changes"]) for g in got),
        " ".join("%s=%d" % kv for kv in sorted(counts.items()))))


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "gen-markers":
        gen_markers(int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]) if len(a) > 5 else 3)
    elif a[0] == "gen-markerless":
        gen_markerless(int(a[1]), int(a[2]), int(a[3]), "--no-last-heartbeats" not in a)
    elif a[0] == "gen-big":
        gen_big(int(a[1]), int(a[2]), int(a[3]) if len(a) > 3 else 1)
    elif a[0] == "check":
        check(a[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
