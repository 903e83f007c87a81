#!/usr/bin/env python3
"""torture.py - dblog's torture suite (issue 15): random schemas, values,
workloads and faults over PostgreSQL->PostgreSQL, PostgreSQL->SQLite,
SQLite->SQLite and SQLite->PostgreSQL; the destination is compared with the
source row for row, and the events of a PostgreSQL source with wal2json's.

Case number N is fully determined by N (the seed): SEED=S COUNT=C runs the
cases S, S+1, ..., S+C-1; the pair is chosen by N % 4. Every failure prints
its seed and one command that runs that case again. See README.md.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
from proc import Failure, Accepted, Pg, run, ROOT, TIMEOUT  # noqa: E402
from values import (Num, load_event, table_join, event_text, pos_num, complete_lines, err_line, multiset_diff, show, sq_open, sq_columns, sq_canon, sq_canon_row, pg_canon_from_text, sqlite_as_pg)  # noqa: E402
from gen import pg_ident, pg_lit, sq_ident  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PAIRS = ["pg2pg", "pg2sqlite", "sqlite2sqlite", "sqlite2pg"]
FAULTS = ["none", "split", "overlap", "kill9", "sigint", "kill-stage", "restart"]
MAX_TX = 30


def log(ctx, msg):
    if ctx.verbose:
        print("  " + msg, file=sys.stderr, flush=True)


# -------------------------------------------------------------- a case

class Case:
    def __init__(self, ctx, seed):
        self.ctx = ctx
        self.seed = seed
        self.rng = random.Random(seed)
        self.pair = PAIRS[seed % len(PAIRS)]
        self.src_kind, self.dst_kind = self.pair.split("2")
        # seeds S..S+27 cover every pair with every fault
        self.fault = ctx.args.fault or FAULTS[(seed // len(PAIRS)) % len(FAULTS)]
        self.g = gen.Gen(self.rng, self.pair, ctx.skip, ctx.args.allow)
        self.dir = os.path.join(ctx.tmp, "case-%d" % seed)
        os.makedirs(self.dir, exist_ok=True)
        self.db_src = "src_%d" % seed
        self.db_dst = "dst_%d" % seed
        self.slot = "sl_%d" % seed
        self.w2j = "w2j_%d" % seed
        self.sq_src = os.path.join(self.dir, "src.db")
        self.sq_dst = os.path.join(self.dir, "dst.db")
        self.events = os.path.join(self.dir, "events.ndjson")
        self.cp = os.path.join(self.dir, "apply.cp")
        self.mode = "cdc"
        self.notes = []
        self.killed = False     # the last dblog-apply was killed

    # ----- sources

    def src_conn(self):
        if self.src_kind == "pg":
            return self.ctx.pg.conninfo(self.db_src)
        return "sqlite:" + self.sq_src

    def dst_conn(self):
        if self.dst_kind == "pg":
            return self.ctx.pg.conninfo(self.db_dst)
        return "sqlite:" + self.sq_dst

    def capture_cmd(self, extra=()):
        cmd = [self.ctx.bin("dblog-capture")]
        if self.src_kind == "pg":
            cmd += ["--slot", self.slot, "--publication", self.slot]
        return cmd + list(extra) + [self.src_conn()]

    def setup_source(self):
        rng = self.rng
        ntx = self.ctx.ntx(rng)
        pg = self.ctx.pg
        if self.src_kind == "pg":
            self.tables, sql = gen.pg_schema(self.g)
            self.schema_sql = sql
            pg.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE); CREATE DATABASE %s;" % (
                self.db_src, self.db_src))
            pg.psql(self.db_src, sql)
            if rng.random() < 0.25:
                self.mode = "snapshot_then_cdc"
                for tx in gen.pg_workload(self.g, self.tables, rng.randrange(1, 5)):
                    pg.psql(self.db_src, tx)
            run(self.capture_cmd(["--setup"]))
            if self.mode == "cdc" and self.ctx.ok("wal2json"):
                pg.psql(self.db_src, "SELECT 1 FROM pg_create_logical_replication_slot(%s, 'wal2json');"
                        % pg_lit(self.w2j))
            self.workload = gen.pg_workload(self.g, self.tables, ntx)
        else:
            self.tables, sql = gen.sq_schema(self.g)
            self.schema_sql = sql
            db = sqlite3.connect(self.sq_src, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            for s in sql:
                db.execute(s)
            db.close()
            run(self.capture_cmd(["--setup"]))
            self.markers = rng.random() < 0.6
            self.workload = gen.sq_workload(self.g, self.tables, ntx)

    def run_workload(self, txs):
        if self.src_kind == "pg":
            self.ctx.pg.psql(self.db_src, "".join(txs))
            return
        db = sqlite3.connect(self.sq_src, isolation_level=None)
        for tx in txs:
            db.execute("BEGIN")
            if self.markers:
                db.execute("INSERT INTO _dblog_tx DEFAULT VALUES")
            for sql, params in tx:
                db.execute(sql, params)
            db.execute("COMMIT")
        db.close()

    def nudge(self):
        """A snapshot_then_cdc capture makes a slot, which waits for the
        server to log its running transactions: every 15 s when idle, or
        at a checkpoint. Checkpoints in the background spare the wait."""
        if self.src_kind != "pg" or self.mode == "cdc":
            return
        def go():
            for d in (0.3, 0.7, 1.5, 3):
                time.sleep(d)
                try:
                    self.ctx.pg.psql("postgres", "CHECKPOINT;")
                except Failure:
                    pass
        threading.Thread(target=go, daemon=True).start()

    def capture(self):
        extra = ["--until-caught-up", "-c", os.path.join(self.dir, "none.cp")]
        if self.mode != "cdc":
            extra += ["-m", self.mode]
        with open(self.events, "wb") as f:
            self.nudge()
            p = subprocess.run(self.capture_cmd(extra), stdout=f, stderr=subprocess.PIPE,
                               timeout=TIMEOUT)
        if p.returncode != 0:
            self.capture_failed(p.returncode, p.stderr.decode("utf-8", "replace"))

    def capture_failed(self, rc, err):
        if "sqlite-drift" in self.g.used and rc == 1 and err.strip():
            raise Accepted("dblog-capture refused a table whose columns changed: " + err.strip()[:300])
        raise Failure("dblog-capture: status %d: %s" % (rc, err[-1500:]))

    # ----- destination

    def setup_dest(self):
        if self.dst_kind == "pg":
            pg = self.ctx.pg
            pg.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE); CREATE DATABASE %s;" % (
                self.db_dst, self.db_dst))
            if self.src_kind == "pg":
                pg.psql(self.db_dst, gen.PG_PRELUDE)   # enum and domain types must exist
                if self.precreate:
                    # the tables made first, as pg_dump --schema-only would:
                    # identity and generated columns stay what they are
                    pg.psql(self.db_dst, self.schema_sql)
                    self.notes.append("destination tables created first")
        elif self.src_kind == "sqlite" and self.precreate:
            db = sqlite3.connect(self.sq_dst, isolation_level=None)
            for sql in self.schema_sql:
                db.execute(sql)
            db.close()
            self.notes.append("destination tables created first")

    def apply_cmd(self, cp=True):
        cmd = [self.ctx.bin("dblog-apply"), "--create-tables", "-s", "s"] + self.apply_opts
        if cp:
            cmd += ["-c", self.cp]
        return cmd + [self.dst_conn()]

    def apply(self, data):
        for _ in range(50):
            p = subprocess.run(self.apply_cmd(), input=data, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
            err = p.stderr.decode("utf-8", "replace")
            # status 3, "being applied by another dblog-apply", right after
            # the previous run ended: the server has not yet ended the
            # previous session, which holds the stream's advisory lock
            if p.returncode != 3 or "another dblog-apply" not in err:
                break
            if not self.killed and self.ctx.ok("apply-lock-linger"):
                raise Failure("dblog-apply: status 3 right after the previous run had ended "
                              "(not killed): %s" % err.strip())
            time.sleep(0.1)
        self.killed = False
        return p.returncode, err

    def applied_pos(self):
        if self.dst_kind == "pg":
            r = self.ctx.pg.rows(self.db_dst, "SELECT position::text FROM dblog.applied WHERE stream = 's'")
            return json.loads(r[0][0]) if r else None
        db = sqlite3.connect(self.sq_dst)
        try:
            cols = [c[1] for c in db.execute("PRAGMA table_info(_dblog_applied)")]
            if not cols:
                return None
            pc = "position" if "position" in cols else cols[1]
            r = db.execute("SELECT %s FROM _dblog_applied WHERE stream = 's'" % pc).fetchone()
        finally:
            db.close()
        return json.loads(r[0]) if r and r[0] else None

    # ----- faults

    def check_status(self, what, rc, err, ok=(0, 1, 4)):
        if rc not in ok:
            raise Failure("%s: status %d (expected one of %s): %s" % (what, rc, ok, err[-1500:]))
        if rc > 0 and not err.strip():
            raise Failure("%s: status %d and nothing on stderr" % (what, rc))

    def track(self, what, data, fed_upto, complete):
        """dblog-checkpoint track over the same piece: its recorded
        position is never past the input fed so far either."""
        trk = os.path.join(self.dir, "track.cp")
        p = subprocess.run([self.ctx.bin("dblog-checkpoint"), "track", trk, "--every", "1"], input=data,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.check_status("dblog-checkpoint track, " + what, p.returncode,
                          p.stderr.decode("utf-8", "replace"))
        if os.path.exists(trk):
            self.check_position("dblog-checkpoint track, " + what, fed_upto, complete,
                                json.load(open(trk)))

    def check_position(self, what, fed_upto, complete, pos=None):
        """The applied position is never past the input fed so far."""
        pos = self.applied_pos() if pos is None else pos
        if not pos or pos.get("snapshot") or "seq" in pos or "pos" not in pos:
            return
        p = pos_num(pos["pos"])
        line = complete.get(p)
        if line is not None and line > fed_upto:
            raise Failure("%s: the applied position %s is the unit whole only at line %d, "
                          "but only lines up to %d were given" % (what, pos["pos"], line, fed_upto))

    def fault_split(self, lines):
        complete = complete_lines(lines)
        k = self.rng.randrange(1, max(2, len(lines)))
        pdir = os.path.join(self.dir, "pieces")
        os.makedirs(pdir, exist_ok=True)
        run(["split", "-l", str(k), self.events, pdir + "/p."])
        fed = 0
        all_ok = True
        for name in sorted(os.listdir(pdir)):
            data = open(os.path.join(pdir, name), "rb").read()
            fed += data.count(b"\n")
            rc, err = self.apply(data)
            self.check_status("piece %s (split -l %d)" % (name, k), rc, err)
            self.check_position("piece %s" % name, fed, complete)
            self.track("piece %s" % name, data, fed, complete)
            all_ok = all_ok and rc == 0
        self.notes.append("split -l %d" % k)
        if all_ok:
            self.compare("after every piece applied with status 0")

    def fault_overlap(self, lines):
        complete = complete_lines(lines)
        n = len(lines)
        start, pieces = 0, []
        while start < n:
            end = min(n, start + self.rng.randrange(1, max(2, n // 2)))
            pieces.append((start, end))
            start = max(0, end - self.rng.randrange(0, 6))
            if end == n:
                break
        if len(pieces) > 1 and self.rng.random() < 0.5:
            i = self.rng.randrange(len(pieces) - 1)
            pieces.insert(i + 2, pieces[i])   # an earlier piece replayed
        maxfed = 0
        for a, b in pieces:
            rc, err = self.apply(b"".join(lines[a:b]))
            self.check_status("lines %d-%d" % (a + 1, b), rc, err)
            maxfed = max(maxfed, b)
            self.check_position("lines %d-%d" % (a + 1, b), maxfed, complete)
            self.track("lines %d-%d" % (a + 1, b), b"".join(lines[a:b]), maxfed, complete)
        self.notes.append("pieces %s" % pieces)

    def fault_signal(self, lines, sig):
        complete = complete_lines(lines)
        r = self.rng.randrange(0, len(lines) + 1)
        errf = open(os.path.join(self.dir, "apply.err"), "w+b")
        p = subprocess.Popen(self.apply_cmd(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=errf)
        try:
            for i, line in enumerate(lines[:r]):
                p.stdin.write(line)
                if i % 50 == 0:
                    p.stdin.flush()
            p.stdin.flush()
        except BrokenPipeError:
            pass
        time.sleep(self.rng.choice([0.05, 0.3, 0.6]))
        p.send_signal(sig)
        self.killed = True
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failure("dblog-apply did not stop within 20 s of signal %d" % sig)
        finally:
            try:
                p.stdin.close()
            except BrokenPipeError:
                pass
        errf.seek(0)
        err = errf.read().decode("utf-8", "replace")
        errf.close()
        self.notes.append("signal %d after %d of %d lines: status %d" % (sig, r, len(lines), rc))
        if sig == signal.SIGINT:
            # -SIGINT: the signal came before dblog-apply had set its
            # handlers (while it connects): nothing read, nothing applied
            self.check_status("dblog-apply stopped by SIGINT", rc, err, ok=(0, 4, -signal.SIGINT))
            if rc == 0:
                self.compare("dblog-apply stopped by SIGINT after line %d exited 0" % r)
        self.maxfed = max(getattr(self, "maxfed", 0), r)
        self.check_position("after the signal", self.maxfed, complete)

    def fault_pipeline(self, how):
        """capture -c cp [| dblog-txbuf [--as-tx]] | apply -c cp, broken
        once (how: "kill" kills one stage, or several, with SIGKILL;
        "restart" restarts the PostgreSQL server in immediate mode), then
        run again until it ends with status 0."""
        extra = ["-c", self.cp, "--until-caught-up"]
        if self.mode != "cdc":
            extra += ["-m", self.mode]
        txbuf = None
        if self.rng.random() < 0.5 or (how == "restart" and self.pair == "sqlite2sqlite"):
            txbuf = [self.ctx.bin("dblog-txbuf")] + (["--as-tx"] if self.rng.random() < 0.5 else [])
        for attempt in range(30):
            self.nudge()
            procs = [subprocess.Popen(self.capture_cmd(extra), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)]
            if txbuf:
                procs.append(subprocess.Popen(txbuf, stdin=procs[-1].stdout, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE))
            procs.append(subprocess.Popen(self.apply_cmd(), stdin=procs[-1].stdout,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            for p in procs[:-1]:
                p.stdout.close()
            if attempt == 0:
                time.sleep(self.rng.uniform(0.01, 0.6))
                if how == "restart" and self.pair != "sqlite2sqlite":
                    # a crash (immediate) can lose a PostgreSQL destination's
                    # last commits under synchronous_commit = off, which
                    # dblog-apply's checkpoint has recorded already
                    mode = "immediate"
                    if self.dst_kind == "pg":
                        if self.ctx.ok("apply-async-commit"):
                            self.g.used.add("apply-async-commit")
                        else:
                            mode = "fast"
                    self.ctx.pg.restart(mode)
                    self.notes.append("PostgreSQL restarted (%s) under the pipeline" % mode)
                else:
                    victims = self.rng.sample(procs, self.rng.randrange(1, len(procs) + 1))
                    sig = self.rng.choice([signal.SIGKILL, signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
                    for v in victims:
                        v.send_signal(sig)
                    self.notes.append("signal %d to %s" % (sig, ", ".join(
                        os.path.basename(v.args[0]) for v in victims)))
                self.killed = True
            errs = []
            try:
                for p in reversed(procs):
                    _, e = p.communicate(timeout=TIMEOUT)
                    errs.append((e or b"").decode("utf-8", "replace"))
            except subprocess.TimeoutExpired:
                for p in procs:
                    p.kill()
                raise Failure("the pipeline did not end")
            err = " | ".join(e.strip() for e in errs if e.strip())
            self.wait_slot_idle()
            if attempt == 0:
                continue
            rcs = [p.returncode for p in procs]
            if rcs[-1] == 3 and "another dblog-apply" in err:
                time.sleep(0.2)   # the killed run's session still holds the lock
                continue
            if rcs[0] != 0:
                self.capture_failed(rcs[0], errs[-1])
            if any(rcs):
                raise Failure("the pipeline run again: statuses %s: %s" % (rcs, err[-2000:]))
            break
        else:
            raise Failure("the pipeline did not succeed in 30 runs")
        if txbuf:
            self.notes.append("with " + " ".join(os.path.basename(x) for x in txbuf))

    def wait_slot_idle(self):
        if self.src_kind != "pg":
            return
        for _ in range(200):
            r = self.ctx.pg.rows("postgres", "SELECT active::text FROM pg_replication_slots "
                                 "WHERE slot_name = %s" % pg_lit(self.slot))
            if not r or r[0][0] == "false":
                return
            time.sleep(0.05)
        raise Failure("slot %s still active 10 s after its capture was killed" % self.slot)

    # ----- comparisons

    def compare(self, when):
        if self.src_kind == "pg" and self.dst_kind == "pg":
            diffs = self.cmp_pg_pg()
        elif self.src_kind == "pg":
            diffs = self.cmp_pg_sqlite()
        elif self.dst_kind == "sqlite":
            diffs = self.cmp_sqlite_sqlite()
        else:
            diffs = self.cmp_sqlite_pg()
        if diffs:
            raise Failure("destination differs from the source (%s):\n    %s" % (
                when, "\n    ".join(d[:400] for d in diffs[:12])))

    def pg_cols(self, t):
        """[(name, type without modifiers for numeric, full type)] of t in the source."""
        return self.ctx.pg.rows(self.db_src, """
            SELECT attname, CASE WHEN atttypid = 'numeric'::regtype THEN 'numeric'
                                 WHEN atttypid = 'numeric[]'::regtype THEN 'numeric[]'
                                 ELSE format_type(atttypid, atttypmod) END,
                   format_type(atttypid, atttypmod)
            FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
            ORDER BY attnum""" % pg_lit(gen.pg_qname(t)))

    def cmp_pg_pg(self):
        """md5 of row::text per key (the multiset of them for keyless
        tables), then the rows that differ shown whole."""
        diffs = []
        pg = self.ctx.pg
        for t in self.tables:
            keys = [pg_ident(c.name) for c in t.key_cols()]
            kexpr = "json_build_array(%s)::text" % ", ".join(k + "::text" for k in keys) if keys else "''"
            q = "SELECT %s, md5(t_::text) FROM %s t_" % (kexpr, gen.pg_qname(t))
            a = pg.rows(self.db_src, q)
            try:
                b = pg.rows(self.db_dst, q)
            except Failure as e:
                diffs.append("%s: %s" % (gen.pg_qname(t), err_line(e)))
                continue
            if not keys:
                md = multiset_diff(gen.pg_qname(t), [(r[1], r[1]) for r in a], [(r[1], r[1]) for r in b])
                if md:
                    diffs += self.rows_by_md5(t, [r[1] for r in a], [r[1] for r in b]) + md[-1:]
                continue
            da, db_ = dict(a), dict(b)
            bad = [k for k in sorted(set(da) | set(db_)) if da.get(k) != db_.get(k)]
            for k in bad[:8]:
                diffs.append("%s key %s: %s" % (gen.pg_qname(t), k, self.row_pair(t, kexpr, k, k in da, k in db_)))
            if len(bad) > 8:
                diffs.append("%s: %d keys differ in all (%d rows in the source, %d in the destination)" % (
                    gen.pg_qname(t), len(bad), len(a), len(b)))
        return diffs

    def row_pair(self, t, kexpr, k, in_a, in_b):
        q = "SELECT t_::text FROM %s t_ WHERE %s = %s" % (gen.pg_qname(t), kexpr, pg_lit(k))
        ra = self.ctx.pg.rows(self.db_src, q) if in_a else []
        rb = self.ctx.pg.rows(self.db_dst, q) if in_b else []
        return "source %s, destination %s" % (show(ra[0][0]) if ra else "none", show(rb[0][0]) if rb else "none")

    def rows_by_md5(self, t, a, b):
        from collections import Counter
        out = []
        for side, db, hs in (("source", self.db_src, Counter(a) - Counter(b)),
                             ("destination", self.db_dst, Counter(b) - Counter(a))):
            for h in list(hs)[:4]:
                r = self.ctx.pg.rows(db, "SELECT t_::text FROM %s t_ WHERE md5(t_::text) = %s LIMIT 1" % (
                    gen.pg_qname(t), pg_lit(h)))
                out.append("%s: only in the %s: %s" % (gen.pg_qname(t), side, show(r[0][0]) if r else h))
        return out

    def cmp_pg_sqlite(self):
        """Each SQLite value is cast back in PostgreSQL to the source
        column's type; rows compare by their record text."""
        diffs = []
        pg = self.ctx.pg
        db = sq_open(self.sq_dst)
        for t in self.tables:
            cols = self.pg_cols(t)
            src = pg.rows(self.db_src, "SELECT ROW(%s)::text FROM %s" % (
                ", ".join("%s::%s" % (pg_ident(c[0]), c[1]) for c in cols), gen.pg_qname(t)))
            have = sq_columns(db, t.name)
            missing = [c[0] for c in cols if c[0] not in have]
            if missing:
                diffs.append("%s: the destination has no column %s" % (t.name, ", ".join(missing)))
                cols = [c for c in cols if c[0] in have]
                src = pg.rows(self.db_src, "SELECT ROW(%s)::text FROM %s" % (
                    ", ".join("%s::%s" % (pg_ident(c[0]), c[1]) for c in cols), gen.pg_qname(t)))
            try:
                rows = db.execute("SELECT %s FROM %s" % (", ".join(sq_ident(c[0]) for c in cols),
                                                       sq_ident(t.name))).fetchall()
            except sqlite3.Error as e:
                diffs.append("%s: %s" % (t.name, e))
                continue
            exprs = []
            for r in rows:
                exprs.append("ROW(%s)::text" % ", ".join(
                    sqlite_as_pg(v, c[1]) for v, c in zip(r, cols)))
            dst = []
            for i in range(0, len(exprs), 200):
                try:
                    dst += pg.rows(self.db_src, " UNION ALL ".join("SELECT " + e for e in exprs[i:i + 200]))
                except Failure:
                    for r, e in zip(rows[i:i + 200], exprs[i:i + 200]):
                        try:
                            dst += pg.rows(self.db_src, "SELECT " + e)
                        except Failure as err:
                            diffs.append("%s: a destination row does not read back as the source's types "
                                         "(%s): %s" % (t.name, err_line(err), show(repr(r))))
            diffs += multiset_diff(t.name, [(r[0], r[0]) for r in src], [(r[0], r[0]) for r in dst])
        db.close()
        return diffs

    def cmp_sqlite_sqlite(self):
        diffs = []
        a = sq_open(self.sq_src)
        b = sq_open(self.sq_dst)
        for t in self.tables:
            rid = "rowid, " if t.keykind == "none" else ""
            q = "SELECT %s%s FROM %s" % (rid, ", ".join(sq_ident(c.name) for c in t.cols), sq_ident(t.name))
            missing = [c.name for c in t.cols if c.name not in sq_columns(b, t.name)]
            if missing:
                diffs.append("%s: the destination has no column %s" % (t.name, ", ".join(missing)))
                continue
            ra = [sq_canon_row(r) for r in a.execute(q)]
            try:
                rb = [sq_canon_row(r) for r in b.execute(q)]
            except sqlite3.Error as e:
                diffs.append("%s: %s" % (t.name, e))
                continue
            diffs += multiset_diff(t.name, [(x, x) for x in ra], [(x, x) for x in rb])
        a.close()
        b.close()
        return diffs

    def cmp_sqlite_pg(self):
        diffs = []
        pg = self.ctx.pg
        a = sq_open(self.sq_src)
        for t in self.tables:
            names = (["rowid"] if t.keykind == "none" else []) + [c.name for c in t.cols]
            q = "SELECT %s FROM %s" % (", ".join(sq_ident(n) for n in names), sq_ident(t.name))
            src = a.execute(q).fetchall()
            try:
                types = pg.rows(self.db_dst, """SELECT attname, format_type(atttypid, atttypmod)
                    FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"""
                                % pg_lit(pg_ident("main") + "." + pg_ident(t.name)))
                types = dict((r[0], r[1]) for r in types)
                dst = pg.rows(self.db_dst, "SELECT %s FROM %s.%s" % (
                    ", ".join(pg_ident(n) + "::text" for n in names), pg_ident("main"), pg_ident(t.name)))
            except Failure as e:
                diffs.append("%s: %s" % (t.name, str(e).splitlines()[0]))
                continue
            ca = [tuple(sq_canon(v) for v in r) for r in src]
            cb = [tuple(pg_canon_from_text(v, types.get(n, "text"), sv)
                        for v, n, sv in zip(r, names, r)) for r in dst]
            # pg_canon_from_text needs the SQLite value's kind only for text
            # columns that hold numbers; match rows by key first
            keyidx = [i for i, n in enumerate(names)
                      if n == "rowid" or any(c.key and c.name == n for c in t.cols)]
            amap = {}
            for r, c in zip(src, ca):
                amap.setdefault(tuple(c[i] for i in keyidx), []).append((r, c))
            bl = []
            for r in dst:
                k = tuple(pg_canon_from_text(r[i], types.get(names[i], "text"), None) for i in keyidx)
                cand = amap.get(k)
                ref = cand[0][0] if cand else [None] * len(r)
                bl.append(tuple(pg_canon_from_text(v, types.get(n, "text"), sv)
                                for v, n, sv in zip(r, names, ref)))
            if os.environ.get("TORTURE_DEBUG"):
                print(ca[:2], bl[:2], dst[:2], file=sys.stderr)
            diffs += multiset_diff(t.name, [(x, x) for x in ca], [(x, x) for x in bl])
        a.close()
        return diffs

    def cmp_wal2json(self, lines):
        """The captured row changes against wal2json's, value by value,
        each pair cast to the column's type in PostgreSQL."""
        pg = self.ctx.pg
        opts = ("-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 "
                "-c extra_float_digits=3 -c bytea_output=hex")
        out = pg.psql(self.db_src, """SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL,
            'format-version', '2', 'include-types', '1', 'include-transaction', '0',
            'actions', 'insert,update,delete,truncate');""" % pg_lit(self.w2j), opts)
        w = [json.loads(x, parse_int=Num, parse_float=Num) for x in out.splitlines() if x.strip()]
        w = [x for x in w if x.get("action") in ("I", "U", "D", "T")]
        d = [load_event(x) for x in lines]
        d = [e for e in d if e.get("op") in ("insert", "update", "delete", "truncate")]
        letter = {"insert": "I", "update": "U", "delete": "D", "truncate": "T"}
        # generated columns: the destination computes them (dblog-event(5));
        # wal2json sends them, dblog may not
        generated = set((table_join(r[0], r[1]), r[2]) for r in pg.rows(self.db_src, """
            SELECT n.nspname::text, c.relname::text, a.attname::text FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.attgenerated = 's' AND NOT a.attisdropped"""))
        diffs = []
        checks = []
        if len(w) != len(d):
            diffs.append("dblog captured %d row changes, wal2json %d" % (len(d), len(w)))
        for i, (e, x) in enumerate(zip(d, w)):
            where = "change %d (%s %s, wal2json %s)" % (i + 1, e.get("op"), e.get("table"), x.get("action"))
            if letter[e["op"]] != x["action"] or e.get("table") != table_join(x["schema"], x["table"]):
                diffs.append("%s: not the same change: %s" % (where, json.dumps(x, ensure_ascii=False)[:300]))
                break
            if x["action"] in ("I", "U"):
                mine = e.get("after") or {}
                theirs = dict((c["name"], (c["type"], c["value"])) for c in x.get("columns", []))
                unchanged = set(e.get("unchanged") or [])
                for name in set(theirs) | set(mine):
                    if name in unchanged:
                        continue
                    if name not in mine and (e.get("table"), name) in generated:
                        continue
                    if name not in mine or name not in theirs:
                        diffs.append("%s: column %s only in %s" % (where, name,
                                                                  "dblog" if name in mine else "wal2json"))
                        continue
                    checks.append((where, name, theirs[name][0], mine[name], theirs[name][1]))
            if x["action"] in ("U", "D") and "identity" in x:
                mine = e.get("before") or e.get("key") or {}
                for c in x["identity"]:
                    if c["name"] in mine:
                        checks.append((where + " before", c["name"], c["type"], mine[c["name"]], c["value"]))
        diffs += self.cast_compare(checks)
        return diffs

    def cast_compare(self, checks):
        # wal2json writes NaN and the infinities of float and numeric
        # columns as null (its limit, not dblog's): those are not compared
        checks = [c for c in checks if not (c[4] is None and c[3] in ("NaN", "Infinity", "-Infinity"))]
        # and bytea as bare hex digits, without \x
        checks = [c[:4] + ("\\x" + c[4],) if c[2] == "bytea" and isinstance(c[4], str)
                  and not c[4].startswith("\\x") else c for c in checks]
        diffs = []
        for i in range(0, len(checks), 300):
            if len(diffs) >= 12:
                break
            part = checks[i:i + 300]
            vals = []
            for j, (_, _, typ, mine, theirs) in enumerate(part):
                a = event_text(mine, typ)
                b = event_text(theirs if not isinstance(theirs, bool) else theirs, typ)
                vals.append("(%d, (%s::%s)::text IS NOT DISTINCT FROM (%s::%s)::text)" % (
                    j, "NULL" if a is None else pg_lit(a), typ, "NULL" if b is None else pg_lit(b), typ))
            try:
                bad = self.ctx.pg.rows(self.db_src, "SELECT i FROM (VALUES %s) v(i, ok) WHERE NOT ok"
                                       % ", ".join(vals))
            except Failure as e:
                bad = []
                for j, (where, name, typ, mine, theirs) in enumerate(part):
                    if len(diffs) >= 12:
                        break
                    try:
                        self.ctx.pg.rows(self.db_src, "SELECT i FROM (VALUES %s) v(i, ok) WHERE NOT ok"
                                         % vals[j])
                    except Failure as e2:
                        diffs.append("%s: column %s (%s): dblog %s, wal2json %s: %s" % (
                            where, name, typ, json.dumps(mine, ensure_ascii=False)[:100],
                            json.dumps(theirs, ensure_ascii=False)[:100], err_line(e2)))
                if not diffs:
                    raise e
            for (j,) in bad:
                where, name, typ, mine, theirs = part[int(j)]
                diffs.append("%s: column %s (%s): dblog %s, wal2json %s" % (
                    where, name, typ, json.dumps(mine, ensure_ascii=False)[:150],
                    json.dumps(theirs, ensure_ascii=False)[:150]))
        return diffs

    # ----- the case

    def run(self):
        self.setup_source()
        self.precreate = self.src_kind == self.dst_kind and self.rng.random() < 0.5
        # a destination nobody else writes: every policy must give the
        # source's rows; the other policies and --dlq take PostgreSQL's
        # statement-at-a-time path instead of the pipeline
        self.apply_opts = []
        r = self.rng.random()
        if r < 0.3:
            self.apply_opts = ["--conflict", self.rng.choice(["dest_wins", "last_writer_wins", "manual_review"])]
        elif r < 0.4:
            self.apply_opts = ["--dlq", os.path.join(self.dir, "dlq.ndjson")]
        if self.apply_opts:
            self.notes.append(" ".join(os.path.basename(x) for x in self.apply_opts))
        self.setup_dest()
        self.run_workload(self.workload)
        lines = []
        if self.fault in ("kill-stage", "restart"):
            self.fault_pipeline("kill" if self.fault == "kill-stage" else "restart")
        else:
            self.capture()
            lines = open(self.events, "rb").read().splitlines(keepends=True)
        log(self.ctx, "seed %d: %s, %d tables, mode %s, fault %s, %d event lines, tags %s" % (
            self.seed, self.pair, len(self.tables), self.mode, self.fault, len(lines),
            ",".join(sorted(self.g.used))))
        if self.src_kind == "pg" and self.mode == "cdc" and self.ctx.ok("wal2json") and lines:
            diffs = self.cmp_wal2json(lines)
            if diffs:
                raise Failure("captured events differ from wal2json's:\n    " +
                              "\n    ".join(x[:400] for x in diffs[:12]))
        if self.fault == "split":
            self.fault_split(lines)
        elif self.fault == "overlap":
            self.fault_overlap(lines)
        elif self.fault == "kill9":
            self.fault_signal(lines, signal.SIGKILL)
            if self.rng.random() < 0.5:
                self.fault_signal(lines, signal.SIGKILL)
        elif self.fault == "sigint":
            self.fault_signal(lines, signal.SIGINT)
        if lines or self.fault not in ("kill-stage", "restart"):
            rc, err = self.apply(b"".join(lines))
            if rc != 0:
                raise Failure("dblog-apply of the whole archive%s: status %d: %s" % (
                    " after the fault" if self.fault != "none" else "", rc, err[-2000:]))
        self.compare("after the whole archive")
        dlq = os.path.join(self.dir, "dlq.ndjson")
        if os.path.exists(dlq) and os.path.getsize(dlq):
            raise Failure("events parked in the --dlq file: %s" % open(dlq, errors="replace").read()[:1500])

    def cleanup(self):
        pg = self.ctx.pg
        if self.src_kind == "pg":
            try:
                pg.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE);" % self.db_src)
                pg.psql("postgres", """SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                    WHERE slot_name IN (%s, %s) AND NOT active;""" % (pg_lit(self.slot), pg_lit(self.w2j)))
            except Failure:
                pass
        if self.dst_kind == "pg":
            try:
                pg.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE);" % self.db_dst)
            except Failure:
                pass


# -------------------------------------------------------------- driver

class Ctx:
    def __init__(self, args):
        self.args = args
        self.verbose = args.verbose
        self.bindir = args.bin
        self.pending = load_pending(os.path.join(HERE, "pending.txt"))
        self.skip = set(self.pending) - set(args.allow) if args.skip_pending else set()
        if args.skip is not None:
            self.skip |= set(x for x in args.skip.split(",") if x)
        self.tmp = tempfile.mkdtemp(prefix="dblog-torture.")
        os.chmod(self.tmp, 0o755)
        self.pg = None

    def ok(self, tag):
        return tag not in self.skip

    def bin(self, name):
        return os.path.join(self.bindir, name)

    def ntx(self, rng):
        return rng.randrange(5, self.args.max_tx + 1)


def load_pending(path):
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            f = line.split(None, 2)
            out[f[0]] = f[1] if len(f) > 1 else "?"
    return out


def repro(ctx, seed):
    """The command that runs case seed again, whatever pending.txt says then."""
    flags = []
    if ctx.skip:
        flags.append("--skip " + ",".join(sorted(ctx.skip)))
    if ctx.args.fault:
        flags.append("--fault " + ctx.args.fault)
    if ctx.args.max_tx != MAX_TX:
        flags.append("--max-tx %d" % ctx.args.max_tx)
    cmd = "make torture SEED=%d COUNT=1" % seed
    if flags:
        cmd += " TORTURE_FLAGS='%s'" % " ".join(flags)
    return cmd


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=None, help="first case (default: random)")
    ap.add_argument("--count", type=int, default=None, help="number of cases")
    ap.add_argument("--seconds", type=float, default=None, help="run cases for this long")
    ap.add_argument("--bin", default=os.environ.get("DBLOG_BIN", os.path.join(ROOT, "build", "bin")))
    ap.add_argument("--skip-pending", action="store_true",
                    help="do not generate the properties listed in pending.txt")
    ap.add_argument("--skip", default=None, metavar="LIST",
                    help="do not generate these properties (comma-separated); "
                         "what a failure's reproduce line gives, so that it holds when pending.txt changes")
    ap.add_argument("--allow", action="append", default=[], metavar="PROPERTY",
                    help="with --skip-pending: generate PROPERTY all the same, and often (to check a fix)")
    ap.add_argument("--fault", choices=FAULTS, help="this fault in every case (default: by seed)")
    ap.add_argument("--max-tx", type=int, default=MAX_TX, help="most transactions per case")
    ap.add_argument("--keep", action="store_true", help="keep the work directory of failed cases")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 10**6)
    if args.count is None and args.seconds is None:
        args.count = 20
    ctx = Ctx(args)
    print("torture: seed %d%s%s%s" % (args.seed, " count %d" % args.count if args.count else "",
                                      " seconds %g" % args.seconds if args.seconds else "",
                                      ", skipping the properties of pending.txt: " + " ".join(sorted(ctx.skip))
                                      if ctx.skip else ""), flush=True)
    failed = []
    ran = 0
    t0 = time.time()
    try:
        ctx.pg = Pg(ctx.tmp)
        seed = args.seed
        while True:
            if args.count is not None and ran >= args.count:
                break
            if args.seconds is not None and time.time() - t0 >= args.seconds:
                break
            case = Case(ctx, seed)
            try:
                case.run()
                print("ok %d %s %s%s" % (seed, case.pair, case.fault,
                                         " (%s)" % "; ".join(case.notes) if case.notes and args.verbose else ""),
                      flush=True)
                shutil.rmtree(case.dir, ignore_errors=True)
            except Accepted as e:
                print("ok %d %s %s (accepted: %s)" % (seed, case.pair, case.fault, e), flush=True)
                shutil.rmtree(case.dir, ignore_errors=True)
            except (Failure, subprocess.TimeoutExpired, Exception) as e:
                if not isinstance(e, (Failure, subprocess.TimeoutExpired)):
                    import traceback
                    e = Failure("the suite itself failed: " + traceback.format_exc())
                failed.append(seed)
                print("FAIL seed %d: %s %s, mode %s, tags %s%s\n  %s\n  reproduce: %s%s" % (
                    seed, case.pair, case.fault, case.mode, ",".join(sorted(case.g.used)),
                    " (%s)" % "; ".join(case.notes) if case.notes else "",
                    str(e).replace("\n", "\n  "), repro(ctx, seed),
                    "\n  files: " + case.dir if args.keep else ""), flush=True)
                if not args.keep:
                    shutil.rmtree(case.dir, ignore_errors=True)
            finally:
                if not (args.keep and failed and failed[-1] == seed):
                    case.cleanup()
            ran += 1
            seed += 1
    finally:
        if ctx.pg:
            ctx.pg.stop()
        if not (args.keep and failed):
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    print("torture: %d cases, %d failed%s (%.0f s)" % (
        ran, len(failed), ": seeds " + " ".join(map(str, failed)) if failed else "", time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
