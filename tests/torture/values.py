# values.py - the torture suite's view of values: events read with their
# numbers kept as written, event values as the text dblog-apply gives
# PostgreSQL, SQLite values by storage class, and the differences of two
# sets of rows as messages.
import json
import sqlite3
from collections import Counter

from gen import pg_lit  # noqa: F401


# -------------------------------------------------------------- events

class Num(str):
    """A JSON number, kept as its text."""


def load_event(line):
    return json.loads(line, parse_int=Num, parse_float=Num, parse_constant=Num)


def table_join(schema, name):
    """dblog-event(5)'s table form."""
    def part(s):
        if s == "" or "." in s or '"' in s:
            return '"' + s.replace('"', '""') + '"'
        return s
    return part(schema) + "." + part(name)


def pg_array(v):
    """A JSON array of an event as a PostgreSQL array literal."""
    if isinstance(v, list):
        return "{" + ",".join(pg_array(x) for x in v) + "}"
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, dict):
        v = jdump(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def jdump(v):
    """JSON text of a value read by load_event (numbers kept as written)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jdump(x) for x in v) + "]"
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jdump(x) for k, x in v.items()) + "}"


def event_text(v, typ):
    """An event's value as the text dblog-apply gives PostgreSQL."""
    if v is None:
        return None
    if typ in ("json", "jsonb") and not (isinstance(v, str) and not isinstance(v, Num)):
        return jdump(v)
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, list) and typ.endswith("[]"):
        return pg_array(v)
    return jdump(v)


def pos_num(p):
    if isinstance(p, str) and "/" in p:
        h, l = p.split("/")
        return int(h, 16) << 32 | int(l, 16)
    return int(p)


def complete_lines(lines):
    """{pos: line number (1-based) at which the unit of pos is whole}."""
    out = {}
    for n, line in enumerate(lines, 1):
        try:
            e = json.loads(line)
        except ValueError:
            continue
        op = e.get("op")
        if "pos" not in e:
            continue
        p = pos_num(e["pos"])
        if op == "commit" and "tx" in e:
            out.setdefault(p, n)
        elif op in ("insert", "update", "delete", "truncate") and "tx" not in e:
            out.setdefault(p, n)
    return out


# ---------------------------------------------------------- normalising

def err_line(e):
    for line in str(e).splitlines():
        if "ERROR" in line:
            return line.strip()[:200]
    return str(e)[:200]


def multiset_diff(name, a, b):
    """a, b: lists of (key, shown); the differences as messages."""
    from collections import Counter
    ca, cb = Counter(k for k, _ in a), Counter(k for k, _ in b)
    shown = dict(a + b)
    out = []
    for k in sorted((ca - cb).keys(), key=repr)[:6]:
        out.append("%s: only in the source: %s" % (name, show(shown[k])))
    for k in sorted((cb - ca).keys(), key=repr)[:6]:
        out.append("%s: only in the destination: %s" % (name, show(shown[k])))
    if out:
        out.append("%s: %d rows in the source, %d in the destination, %d and %d not in the other" % (
            name, len(a), len(b), sum((ca - cb).values()), sum((cb - ca).values())))
    return out


def show(v):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) < 300 else s[:300] + "..."


class Text(bytes):
    """A SQLite TEXT value, as its bytes (sqlite3 text_factory)."""


def sq_open(path):
    db = sqlite3.connect(path)
    db.text_factory = Text
    return db


def sq_columns(db, table):
    """The column names of a SQLite table ("x" of a missing column would
    read as the string 'x')."""
    return set(r[1].decode() if isinstance(r[1], bytes) else r[1]
               for r in db.execute("SELECT * FROM pragma_table_info(?)", (table,)))


def sq_canon(v):
    """A SQLite value with its storage class, floats by their bits."""
    if isinstance(v, float):
        return ("real", v.hex() if v == v else "nan")
    if isinstance(v, int):
        return ("integer", v)
    if isinstance(v, Text):
        return ("text", v.hex())
    if isinstance(v, bytes):
        return ("blob", v.hex())
    return (type(v).__name__, v)


def sq_canon_row(r):
    return tuple(sq_canon(v) for v in r)


def pg_canon_from_text(text, typ, sv):
    """A PostgreSQL destination value (text form) in the form sq_canon
    gives the SQLite source value sv (None: guess from the type)."""
    if text is None:
        return ("NoneType", None)
    t = typ.lower()
    if t in ("bigint", "integer", "smallint"):
        return ("integer", int(text))
    if t in ("double precision", "real"):
        f = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.get(text)
        f = float(text) if f is None else f
        return ("real", f.hex() if f == f else "nan")
    if t == "bytea":
        return ("blob", text[2:])
    if t == "boolean":
        return ("integer", 1 if text in ("t", "true") else 0)
    # a text column: the SQLite value's own kind decides
    if isinstance(sv, bytes) and not isinstance(sv, Text) and text.startswith("\\x"):
        return ("blob", text[2:])
    if isinstance(sv, float):
        try:
            f = float(text.replace("Infinity", "inf"))
            return ("real", f.hex())
        except ValueError:
            return ("text", text)
    if isinstance(sv, int):
        try:
            return ("integer", int(text))
        except ValueError:
            return ("text", text)
    return ("text", text.encode().hex())


def sqlite_as_pg(v, typ):
    """A SQLite destination value as a PostgreSQL expression of type typ."""
    if v is None:
        return "NULL::" + typ
    if isinstance(v, float):
        s = "NaN" if v != v else "Infinity" if v == float("inf") else "-Infinity" if v == float("-inf") else repr(v)
        return "%s::%s" % (pg_lit(s), typ)
    if isinstance(v, int):
        return "%s::%s" % (pg_lit(str(v)), typ)
    if isinstance(v, bytes) and not isinstance(v, Text) and typ == "bytea":
        return "'\\x%s'::bytea" % v.hex()
    if isinstance(v, Text):
        try:
            s = v.decode("utf-8")
        except UnicodeDecodeError:
            return "'\\x%s'::bytea::text::%s" % (v.hex(), typ)
        if typ.endswith("[]") and s.startswith("["):
            try:
                s = pg_array(json.loads(s, parse_int=Num, parse_float=Num, parse_constant=Num))
            except ValueError:
                pass
        return "%s::%s" % (pg_lit(s), typ)
    if isinstance(v, bytes):   # a blob in a column that is not bytea
        return "%s::%s" % (pg_lit("\\x" + v.hex()), typ)
    return "%s::%s" % (pg_lit(str(v)), typ)
