# gen.py - the random part of the torture suite: schemas, values and
# workloads for PostgreSQL and SQLite sources, all drawn from one
# random.Random so that a seed gives the same case every time.
#
# A feature that a known case of issue 15 still breaks carries a tag (a
# property name of pending.txt); Gen.ok(tag) says whether the case may use it.
import random
import uuid


def pg_lit(s):
    """A PostgreSQL string literal (standard_conforming_strings on)."""
    return "'" + s.replace("'", "''") + "'"


def pg_ident(s):
    return '"' + s.replace('"', '""') + '"'


def sq_ident(s):
    return '"' + s.replace('"', '""') + '"'


# Names with dots, quotes, spaces, upper case and unicode, as dblog-event(5)
# says they must round-trip.
SCHEMAS = ["public", "a.b", "sp ace", 'Qu"ote', "ünï", "UP"]
TABLES = ["t", "b.c", 'x"y', "Ta ble", "café", "tbl", "o.r.d", "日本"]
COLUMNS = ["c", "c.d", 'e"f', "g h", "ñandú", "Col", "v", "x.y.z", "€", "sel ect"]

TEXTS = ["", " ", "a\tb", "line1\nline2\r\n", "O'Reilly", '"dq"', "back\\slash",
         "café ☃ 😀", "\\x41", "NULL", "null", "007", "1e3", "-0", "\u200b", "ﬀ",
         "{1,2}", "[1]", "a,b", "\\", "'", "ÿ" * 3]


def rand_text(rng, n=None):
    n = rng.randrange(0, 12) if n is None else n
    alphabet = "abcXYZ 019_.,;'\"\\\t\néü☃😀{}[]()"
    return "".join(rng.choice(alphabet) for _ in range(n))


def big_text(rng):
    # not compressible, so that PostgreSQL keeps it out of line (TOAST):
    # updates that leave it alone send it as "unchanged"
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(2500))


class V:
    """One value: its SQL literal (PostgreSQL) or Python value (SQLite),
    and the tags of the features it needs."""
    __slots__ = ("v", "tags")

    def __init__(self, v, *tags):
        self.v = v
        self.tags = tags


# PostgreSQL types: (name, declaration, values); a value is a literal or a
# V with tags. "affinity" values change under SQLite's column affinity when
# the destination is SQLite (issue 15 case 11).
def pg_types(rng):
    aff = "sqlite-affinity"
    rb = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 9)))
    return [
        ("int2", "smallint", ["0", "-32768", "32767", str(rng.randrange(-32768, 32767))]),
        ("int4", "integer", ["0", "-2147483648", "2147483647", str(rng.randrange(-2**31, 2**31))]),
        ("int8", "bigint", ["-9223372036854775808", "9223372036854775807", "0",
                            str(rng.randrange(-2**63, 2**63))]),
        ("oid", "oid", ["0", "4294967295"]),
        ("numeric", "numeric", [V("'NaN'", aff), V("'Infinity'"), V("'-Infinity'"),
                                V("'1234567890123456789012345678901234567890'", aff),
                                V("'-0.0000000000000000000000000000000000000001'", aff),
                                V("'12.50'", aff), V("'0'", aff), V("'-12345678901234567890.123456789012345678901'", aff)]),
        ("numeric_tm", "numeric(12,2)", [V("'12.50'", aff), V("'-9999999999.99'", aff)]),
        ("float4", "real", ["'NaN'", "'Infinity'", "'-Infinity'", V("'-0'", aff), "'3.4028235e38'",
                            "'1.4e-45'", "1.5", "'0.1'"]),
        ("float8", "double precision", ["'NaN'", "'Infinity'", "'-Infinity'", V("'-0'", aff),
                                         "'1e308'", "'5e-324'", "'1.7976931348623157e308'", "0.1",
                                         repr(rng.uniform(-1e6, 1e6))]),
        ("bool", "boolean", ["true", "false"]),
        ("text", "text", [pg_lit(t) for t in TEXTS] + [pg_lit(rand_text(rng))]),
        ("varchar", "character varying(20)", [pg_lit(t) for t in TEXTS[:12]]),
        ("char", "character(5)", [V("'ab'", "char-n"), V("'abcde'", "char-n"), V("'  x'", "char-n")]),
        ("name", "name", [pg_lit("nm"), V(pg_lit("007"), aff), pg_lit("café")]),
        ("citext", "citext", [pg_lit("MiXeD"), pg_lit("ünï"), pg_lit("")]),
        ("bytea", "bytea", ["'\\x'::bytea", "'\\x00'::bytea", "'\\x00ff00'::bytea",
                            "'\\x%s'::bytea" % rb.hex()]),
        ("date", "date", ["'infinity'", "'-infinity'", "'0044-03-15 BC'", "'2026-11-22'", "'9999-12-31'"]),
        ("time", "time", ["'00:00:00'", "'23:59:59.999999'", "'24:00:00'", "'10:00:00.5'"]),
        ("timetz", "time with time zone", ["'10:00:00+02'", "'00:00:00-15:59'", "'23:59:59.999999+15:59'"]),
        ("timestamp", "timestamp", ["'infinity'", "'-infinity'", "'2026-11-22 10:00:00.123456'",
                                    "'0001-01-01 00:00:00 BC'", "'2000-02-29 00:00:00'"]),
        ("timestamptz", "timestamp with time zone", ["'infinity'", "'-infinity'",
                                                     "'2026-11-22 10:00:00.123456+05:30'",
                                                     "'1900-01-01 00:00:00+00'", "'0044-03-15 12:00:00+00 BC'"]),
        ("interval", "interval", ["'0'", "'1 year 2 mons 3 days 04:05:06.789'", "'-1 day +02:03:04.5'",
                                  "'178000000 years'", "'-00:00:00.000001'"]),
        ("uuid", "uuid", ["'00000000-0000-0000-0000-000000000000'", pg_lit(str(uuid.UUID(int=rng.getrandbits(128))))]),
        ("json", "json", ["'{\"b\":1,\"a\":[true,null]}'", V("'[1, 2]'", "json-text"), V("'\"007\"'", aff, "json-text"), V("'1.10'", aff),
                          V("'\"a\\tb\"'", "json-text"), "'{}'", V("'\"ünï\"'", "json-text"), "'{\"a\":{\"b\":[]}}'",
                          V("'null'", "json-null"), V("'{\"a\":\n1}'", "json-text"),
                          V("' [1,  2] '", "json-text"), V("'{\"a\":1,\"a\":2}'", "json-text")]),
        ("jsonb", "jsonb", ["'{\"b\":1,\"a\":[true,null]}'", "'[]'", V("'\"007\"'", aff, "json-text"), V("'1.10'", aff),
                            "'{\"a\": null}'", V("'true'", aff), V("'\"\\u00e9\"'", "json-text"), V("'null'", "json-null")]),
        ("int4[]", "integer[]", ["'{1,NULL,3}'", "'{{1,2},{3,NULL}}'", "'{}'", "'{{{1}},{{2}}}'",
                                 "'{NULL}'", V("'[0:2]={7,8,9}'", "array-bounds"),
                                 V("'[-1:0][2:3]={{1,2},{3,4}}'", "array-bounds")]),
        ("text[]", "text[]", ["'{\"a b\",\"NULL\",NULL,\"q\\\"x\",\"\",\"c,d\",\"{}\"}'", "'{{a,b},{c,NULL}}'",
                              "'{\"ünï\",\"back\\\\slash\"}'"]),
        ("float8[]", "double precision[]", [V("'{NaN,-0,Infinity,-Infinity,1e308}'", aff), "'{0.1,NULL}'"]),
        ("numeric[]", "numeric[]", [V("'{1.10,NaN,NULL,12345678901234567890123456789012345678901}'", aff)]),
        ("bool[]", "boolean[]", ["'{t,f,NULL}'"]),
        ("enum", "mood", ["'happy'", "'sad'", "'with space'", "'ünï'"]),
        ("domain", "posint", ["1", "2147483647"]),
        ("inet", "inet", ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"]),
        ("cidr", "cidr", ["'10.0.0.0/8'", "'2001:db8::/32'"]),
        ("macaddr", "macaddr", ["'08:00:2b:01:02:03'"]),
        ("money", "money", ["'12.34'", "'-92233720368547758.08'", "'0'"]),
        ("point", "point", ["'(1,2)'", "'(-0.5,1e300)'"]),
        ("int4range", "int4range", ["'[1,5)'", "'empty'", "'(,)'"]),
        ("tstzrange", "tstzrange", ["'[2026-01-01 00:00:00+00,infinity)'"]),
        ("bit", "bit(3)", [V("B'101'", "char-n"), V("B'001'", "char-n")]),
        ("varbit", "bit varying(8)", [V("B''", aff), V("B'0101'", aff)]),
        ("xml", "xml", [V("'<a>1.10</a>'"), V("'1.10'", aff)]),
        ("xid8", "xid8", [V("'18446744073709551615'", aff), "'0'"]),
    ]


PG_PRELUDE = """
CREATE EXTENSION IF NOT EXISTS citext;
DO $$ BEGIN
  CREATE TYPE mood AS ENUM ('happy', 'sad', 'with space', 'ünï');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
DO $$ BEGIN
  CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
EXCEPTION WHEN duplicate_object THEN NULL; END $$;
"""


class Col:
    def __init__(self, name, decl, values, key=False, gen=None):
        self.name = name
        self.decl = decl        # declared type
        self.values = values    # list of literals / python values or V
        self.key = key
        self.gen = gen          # None, "generated" or "identity"
        self.counter = 0


class Table:
    def __init__(self, schema, name, cols, keykind):
        self.schema = schema
        self.name = name
        self.cols = cols
        self.keykind = keykind  # int, int8, text, uuid, composite, none
        self.rows = 0
        self.next = 1

    def data_cols(self):
        return [c for c in self.cols if not c.gen]

    def key_cols(self):
        return [c for c in self.cols if c.key]


class Gen:
    def __init__(self, rng, pair, skip, focus=()):
        self.rng = rng
        self.pair = pair        # pg2pg pg2sqlite sqlite2sqlite sqlite2pg
        self.skip = skip        # set of pending property tags to avoid
        self.focus = set(focus)  # tags to prefer (--allow): values and types that have them
        self.used = set()       # tags used by this case

    def focused(self, values):
        return [v for v in values if isinstance(v, V) and self.focus & set(v.tags)]

    def ok(self, tag):
        return tag not in self.skip

    def pick(self, values):
        """A value among values whose tags are allowed; records its tags."""
        for _ in range(20):
            f = self.focused(values)
            v = self.rng.choice(f if f and self.rng.random() < 0.5 else values)
            tags = v.tags if isinstance(v, V) else ()
            if all(self.ok(t) for t in tags):
                self.used.update(tags)
                return v.v if isinstance(v, V) else v
        return None

    def maybe(self, p):
        return self.rng.random() < p


# ------------------------------------------------------------ PostgreSQL

def pg_filter_values(g, vals):
    out = []
    for v in vals:
        tags = v.tags if isinstance(v, V) else ()
        if g.pair != "pg2sqlite":
            tags = tuple(t for t in tags if t != "sqlite-affinity")
            v = V(v.v if isinstance(v, V) else v, *tags)
        out.append(v)
    return out


def pg_schema(g):
    """Random PostgreSQL tables: returns (tables, sql)."""
    rng = g.rng
    types = pg_types(rng)
    ntab = rng.randrange(1, 4)
    schemas = ["public"]
    if g.ok("names"):
        schemas = SCHEMAS
        g.used.add("names")
    tnames = rng.sample(TABLES if g.ok("names") else ["t1", "t2", "t3", "t4"], ntab)
    tables = []
    sql = [PG_PRELUDE]
    for tn in tnames:
        sch = rng.choice(schemas)
        kinds = ["int", "int8", "text", "uuid", "composite"]
        if g.ok("keyless"):
            kinds.append("none")
        kind = rng.choice(kinds)
        if "generated" in g.focus:
            kind = "int"
        cols = []
        cnames = iter(rng.sample(COLUMNS, len(COLUMNS)) if g.ok("names") else ["c%d" % i for i in range(40)])
        if kind in ("int", "int8", "composite"):
            cols.append(Col("id", "bigint" if kind == "int8" else "integer", None, key=kind != "none"))
        if kind in ("text", "composite"):
            cols.append(Col("k" if kind == "composite" else next(cnames), "text", None, key=True))
        if kind == "uuid":
            cols.append(Col(next(cnames), "uuid", None, key=True))
        nval = rng.randrange(2, 7)
        chosen = rng.sample(types, min(nval, len(types)))
        if g.focus:
            chosen = [x for x in types if g.focused(pg_filter_values(g, x[2]))][:2] + chosen
        used_names = {c.name for c in cols}
        for tname, decl, vals in chosen:
            name = next(cnames, None)
            while name is None or name in used_names:
                name = "x%d" % rng.randrange(10**6)
            used_names.add(name)
            vals = pg_filter_values(g, vals)
            if not any(all(g.ok(t) for t in (v.tags if isinstance(v, V) else ())) for v in vals):
                continue
            cols.append(Col(name, decl, vals))
        if kind == "none" and not any(not c.key for c in cols):
            cols.append(Col("v0", "integer", ["1", "2"]))
        if kind == "int" and g.ok("generated") and (g.maybe(0.3) or "generated" in g.focus):
            cols.append(Col("gen", "bigint", None, gen="generated"))
            g.used.add("generated")
        if g.ok("identity") and (g.maybe(0.2) or "identity" in g.focus):
            cols.append(Col("ident", "bigint", None, gen="identity"))
            g.used.add("identity")
        if g.maybe(0.2):
            cols.append(Col("big", "text", ["big"]))
        t = Table(sch, tn, cols, kind)
        t.next = rng.choice([1, 1000, -5000])
        if kind == "int8":
            t.next = rng.choice([1, 9223372036854775807 - 100000])
        tables.append(t)
        defs = []
        for c in cols:
            d = pg_ident(c.name) + " " + c.decl
            if c.gen == "generated":
                d += " GENERATED ALWAYS AS (id * 2) STORED"
            elif c.gen == "identity":
                d += " GENERATED ALWAYS AS IDENTITY"
            elif c.key:
                d += " NOT NULL"
            defs.append(d)
        keys = [pg_ident(c.name) for c in cols if c.key]
        if keys:
            defs.append("PRIMARY KEY (%s)" % ", ".join(keys))
        if sch != "public":
            sql.append("CREATE SCHEMA IF NOT EXISTS %s;" % pg_ident(sch))
        q = pg_qname(t)
        sql.append("CREATE TABLE %s (%s);" % (q, ", ".join(defs)))
        if kind == "none":
            g.used.add("keyless")
            sql.append("ALTER TABLE %s REPLICA IDENTITY FULL;" % q)
        elif g.maybe(0.2):
            sql.append("ALTER TABLE %s REPLICA IDENTITY FULL;" % q)
    return tables, "\n".join(sql) + "\n"


def pg_qname(t):
    return pg_ident(t.schema) + "." + pg_ident(t.name)


def pg_key_value(g, t, c):
    n = t.next
    if c.decl in ("integer", "bigint"):
        return str(n)
    if c.decl == "uuid":
        return pg_lit(str(uuid.UUID(int=g.rng.getrandbits(128))))
    prefix = g.rng.choice(["k", "k ", 'k"', "k.", "ü", "", "K'"]) if g.ok("names") else "k"
    return pg_lit("%s%d" % (prefix, n))


def pg_value(g, c):
    if c.values == ["big"]:
        return pg_lit(big_text(g.rng)) if g.maybe(0.5) else pg_lit("small")
    if g.maybe(0.1):
        return "NULL"
    v = g.pick(c.values)
    return "NULL" if v is None else v


def pg_row(g, t):
    vals = []
    for c in t.data_cols():
        vals.append(pg_key_value(g, t, c) if c.key else pg_value(g, c))
    t.next += 1
    return vals


def pg_insert(g, t, nrows=1):
    cols = t.data_cols()
    rows = [pg_row(g, t) for _ in range(nrows)]
    t.rows += nrows
    return "INSERT INTO %s (%s) VALUES %s;" % (
        pg_qname(t), ", ".join(pg_ident(c.name) for c in cols),
        ", ".join("(" + ", ".join(r) + ")" for r in rows))


def pg_where_nth(t, k):
    return "ctid = (SELECT ctid FROM %s ORDER BY ctid OFFSET %d LIMIT 1)" % (pg_qname(t), k)


def pg_op(g, t):
    """One random statement on table t."""
    rng = g.rng
    r = rng.random()
    q = pg_qname(t)
    nonkey = [c for c in t.data_cols() if not c.key]
    if t.rows == 0 or r < 0.4:
        return pg_insert(g, t, rng.choice([1, 1, 1, 3]))
    k = rng.randrange(t.rows)
    if r < 0.65 and nonkey:
        sets = rng.sample(nonkey, rng.randrange(1, len(nonkey) + 1))
        return "UPDATE %s SET %s WHERE %s;" % (q, ", ".join(
            "%s = %s" % (pg_ident(c.name), pg_value(g, c)) for c in sets), pg_where_nth(t, k))
    if r < 0.75 and t.key_cols():
        sets = []
        for c in t.key_cols():
            sets.append("%s = %s" % (pg_ident(c.name), pg_key_value(g, t, c)))
        t.next += 1
        return "UPDATE %s SET %s WHERE %s;" % (q, ", ".join(sets), pg_where_nth(t, k))
    if r < 0.78 and t.key_cols() and nonkey:
        # an upsert that finds the row (INSERT ... ON CONFLICT DO UPDATE)
        keys = [pg_ident(c.name) for c in t.key_cols()]
        sets = rng.sample(nonkey, rng.randrange(1, len(nonkey) + 1))
        return ("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s "
                "ON CONFLICT (%s) DO UPDATE SET %s;" % (
                    q, ", ".join(keys + [pg_ident(c.name) for c in sets]),
                    ", ".join(keys + ["(%s)::%s" % (pg_value(g, c), c.decl) for c in sets]),
                    q, pg_where_nth(t, k), ", ".join(keys),
                    ", ".join("%s = EXCLUDED.%s" % (pg_ident(c.name), pg_ident(c.name)) for c in sets)))
    if r < 0.8 and t.keykind == "none" and g.ok("keyless"):
        t.rows += 1   # an equal row again
        cols = ", ".join(pg_ident(c.name) for c in t.data_cols())
        return "INSERT INTO %s (%s) SELECT %s FROM %s ORDER BY ctid OFFSET %d LIMIT 1;" % (q, cols, cols, q, k)
    if r < 0.97:
        t.rows -= 1
        return "DELETE FROM %s WHERE %s;" % (q, pg_where_nth(t, k))
    t.rows = 0
    return "TRUNCATE %s;" % q


def pg_workload(g, tables, ntx):
    """A list of transactions, each a SQL text."""
    rng = g.rng
    out = []
    for _ in range(ntx):
        stmts = []
        if rng.random() < 0.05:
            t = rng.choice(tables)
            n = rng.randrange(100, 700)
            stmts.append(pg_insert(g, t, n))
            g.used.add("large-tx")
        else:
            for _ in range(rng.randrange(1, 6)):
                stmts.append(pg_op(g, rng.choice(tables)))
        if rng.random() < 0.03:
            ts = rng.sample(tables, rng.randrange(1, len(tables) + 1))
            for t in ts:
                t.rows = 0
            stmts.append("TRUNCATE %s;" % ", ".join(pg_qname(t) for t in ts))
        out.append("BEGIN;\n" + "\n".join(stmts) + "\nCOMMIT;\n")
    return out


# ---------------------------------------------------------------- SQLite

class Latin1(bytes):
    """TEXT that is not valid UTF-8 (issue 15 case 7)."""


def sq_types(g):
    """SQLite declared types and values (Python values for sqlite3)."""
    rng = g.rng
    cross = g.pair == "sqlite2pg"
    ints = [0, 1, -1, 2**63 - 1, -2**63, 2**31, rng.randrange(-2**63, 2**63)]
    reals = [0.0, V(-0.0, "sqlite-negzero"), 1e308, -1e308, 5e-324, 0.1, 1.0, 2.5e-300, float("inf"), float("-inf"),
             rng.uniform(-1e9, 1e9), 1.7976931348623157e308, 123456789.0]
    texts = list(TEXTS) + [rand_text(rng)]
    blobs = [b"", b"\x00", b"\x00\xff\x00", bytes(rng.getrandbits(8) for _ in range(5))]
    out = [
        ("INTEGER", ints),
        ("REAL", reals),
        ("TEXT", texts + [V("a\x00b", "sqlite-nul"), V(Latin1(b"caf\xe9 \xff"), "non-utf8")]),
        ("BLOB", blobs),
        ("VARCHAR(20)", [t for t in texts if len(t) < 20]),
        ("DOUBLE", reals),
        ("INT", ints),
    ]
    if not cross:
        out += [("NUMERIC", [1, 2.5, "12.50", "abc", 0]),
                ("", ints[:3] + reals[:4] + texts[:5] + blobs[:2] + [V("\\x41", "sqlite-hex-text")]),
                ("DATETIME", ["2026-11-22 10:00:00", "now"]),
                ("BOOLEAN", [0, 1])]
    else:
        out += [("", texts[:8] + [V("\\x41", "sqlite-hex-text")]),
                ("BOOLEAN", [0, 1])]
    res = []
    for decl, vals in out:
        vv = []
        for v in vals:
            if not isinstance(v, V):
                v = V(v)
            tags = list(v.tags)
            if cross and isinstance(v.v, str) and "\x00" in v.v:
                continue
            if cross and "non-utf8" in tags:
                continue   # documented: refused per event into PostgreSQL
            vv.append(V(v.v, *tags))
        res.append((decl, vv))
    return res




def sq_schema(g):
    rng = g.rng
    types = sq_types(g)
    ntab = rng.randrange(1, 4)
    names = TABLES if g.ok("names") else ["t1", "t2", "t3", "t4"]
    if g.ok("names"):
        g.used.add("names")
    tnames = rng.sample(names, ntab)
    tables, sql = [], []
    for tn in tnames:
        kind = rng.choice(["int", "text", "composite", "none"])
        cnames = iter(rng.sample(COLUMNS, len(COLUMNS)) if g.ok("names") else ["c%d" % i for i in range(40)])
        cols = []
        if kind in ("int", "composite"):
            cols.append(Col("id", "INTEGER", None, key=True))
        if kind in ("text", "composite"):
            cols.append(Col("k" if kind == "composite" else next(cnames), "TEXT", None, key=True))
        used = {c.name for c in cols}
        chosen = rng.sample(types, rng.randrange(2, 6))
        if g.focus:
            chosen = [x for x in types if g.focused(x[1])][:2] + chosen
        for decl, vals in chosen:
            name = next(cnames, None)
            while name is None or name in used or name.lower() == "rowid":
                name = "x%d" % rng.randrange(10**6)
            used.add(name)
            cols.append(Col(name, decl, vals))
        t = Table("main", tn, cols, kind)
        t.next = rng.choice([1, 1000, -5000])
        tables.append(t)
        defs = []
        for c in cols:
            defs.append((sq_ident(c.name) + " " + c.decl).strip() + (" NOT NULL" if c.key else ""))
        keys = [sq_ident(c.name) for c in cols if c.key]
        if keys:
            defs.append("PRIMARY KEY (%s)" % ", ".join(keys))
        sql.append("CREATE TABLE %s (%s);" % (sq_ident(tn), ", ".join(defs)))
    return tables, sql


def sq_key_value(g, t, c):
    if c.decl == "INTEGER":
        return t.next
    prefix = g.rng.choice(["k", "k ", 'k"', "k.", "ü", "", "K'"]) if g.ok("names") else "k"
    return "%s%d" % (prefix, t.next)


def sq_value(g, c):
    if g.maybe(0.1):
        return None
    return g.pick(c.values)


def sq_row(g, t):
    vals = [sq_key_value(g, t, c) if c.key else sq_value(g, c) for c in t.cols]
    t.next += 1
    return vals


def sq_param(v):
    """(SQL placeholder, parameter) for value v: Latin1 bytes are bound as
    a blob and cast to TEXT."""
    if isinstance(v, Latin1):
        return "CAST(? AS TEXT)", bytes(v)
    return "?", v


def sq_nth(t, k):
    return "rowid = (SELECT rowid FROM %s ORDER BY rowid LIMIT 1 OFFSET %d)" % (sq_ident(t.name), k)


def sq_insert(g, t, n=1):
    out = []
    for _ in range(n):
        row = sq_row(g, t)
        ph = [sq_param(v) for v in row]
        out.append(("INSERT INTO %s (%s) VALUES (%s)" % (
            sq_ident(t.name), ", ".join(sq_ident(c.name) for c in t.cols),
            ", ".join(p for p, _ in ph)), [v for _, v in ph]))
        t.rows += 1
    return out


def sq_op(g, t):
    rng = g.rng
    r = rng.random()
    q = sq_ident(t.name)
    nonkey = [c for c in t.cols if not c.key]
    if t.rows == 0 or r < 0.4:
        return sq_insert(g, t, rng.choice([1, 1, 2]))
    k = rng.randrange(t.rows)
    if r < 0.65 and nonkey:
        sets = rng.sample(nonkey, rng.randrange(1, len(nonkey) + 1))
        ph = [sq_param(sq_value(g, c)) for c in sets]
        return [("UPDATE %s SET %s WHERE %s" % (q, ", ".join(
            "%s = %s" % (sq_ident(c.name), p[0]) for c, p in zip(sets, ph)), sq_nth(t, k)),
            [p[1] for p in ph])]
    if r < 0.75 and t.key_cols():
        sets = [(c, sq_key_value(g, t, c)) for c in t.key_cols()]
        t.next += 1
        return [("UPDATE %s SET %s WHERE %s" % (q, ", ".join(
            "%s = ?" % sq_ident(c.name) for c, _ in sets), sq_nth(t, k)), [v for _, v in sets])]
    if r < 0.82 and nonkey and (t.keykind != "none" or g.ok("sqlite-replace-rowid")):
        # the row replaced whole (INSERT OR REPLACE), or upserted
        if t.keykind == "none":
            g.used.add("sqlite-replace-rowid")
        keys = [c.name for c in t.cols if c.key] or ["rowid"]
        sets = rng.sample(nonkey, rng.randrange(1, len(nonkey) + 1))
        ph = [sq_param(sq_value(g, c)) for c in sets]
        cols = ", ".join(sq_ident(n) for n in keys + [c.name for c in sets])
        sel = ", ".join([sq_ident(n) for n in keys] + [p for p, _ in ph])
        if rng.random() < 0.5:
            sql = "INSERT OR REPLACE INTO %s (%s) SELECT %s FROM %s WHERE %s" % (q, cols, sel, q, sq_nth(t, k))
        else:
            sql = "INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s ON CONFLICT (%s) DO UPDATE SET %s" % (
                q, cols, sel, q, sq_nth(t, k), ", ".join(sq_ident(n) for n in keys),
                ", ".join("%s = excluded.%s" % (sq_ident(c.name), sq_ident(c.name)) for c in sets))
        return [(sql, [p[1] for p in ph])]
    if r < 0.97:
        t.rows -= 1
        return [("DELETE FROM %s WHERE %s" % (q, sq_nth(t, k)), [])]
    t.rows = 0
    return [("DELETE FROM %s" % q, [])]


def sq_workload(g, tables, ntx):
    """A list of transactions, each a list of (sql, params)."""
    rng = g.rng
    out = []
    for _ in range(ntx):
        stmts = []
        if rng.random() < 0.05:
            stmts += sq_insert(g, rng.choice(tables), rng.randrange(100, 700))
            g.used.add("large-tx")
        elif rng.random() < (0.3 if "sqlite-drift" in g.focus else 0.03) and g.ok("sqlite-drift"):
            # the application's migration adds a column (issue 15 case 16)
            t = rng.choice(tables)
            c = Col("added %d" % len(t.cols), "TEXT", [V(x) for x in TEXTS[:6]])
            t.cols.append(c)
            stmts.append(("ALTER TABLE %s ADD COLUMN %s TEXT" % (sq_ident(t.name), sq_ident(c.name)), []))
            g.used.add("sqlite-drift")
        else:
            for _ in range(rng.randrange(1, 6)):
                stmts += sq_op(g, rng.choice(tables))
        out.append(stmts)
    return out
