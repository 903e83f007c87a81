/* sink_sqlite_types.c - the SQLite destination's declared types: the
 * affinity SQLite gives a declared type, how values are bound for it, and
 * the declared types --create-tables gives a PostgreSQL source's columns
 * so that no value changes through affinity. */
#include <stdlib.h>
#include <string.h>

#include "sink_sqlite.h"

/* SQLite's affinity of a declared type, by its rules in their order:
 * 'I'nteger, 'T'ext, 'B'lob (none), 'R'eal or 'N'umeric. */
char
sqsink_affinity(const char *t)
{
	if (strcasestr(t, "int"))
		return 'I';
	if (strcasestr(t, "char") || strcasestr(t, "clob") || strcasestr(t, "text"))
		return 'T';
	if (!*t || strcasestr(t, "blob"))
		return 'B';
	if (strcasestr(t, "real") || strcasestr(t, "floa") || strcasestr(t, "doub"))
		return 'R';
	return 'N';
}

/* Bits of a column for bind(): 1 decode '\\x' text into a blob, 2 a
 * floating-point column (numbers as doubles, "Infinity" as infinity), 4 a
 * PostgreSQL array column (JSON arrays as PostgreSQL's array text), 8 of
 * json or jsonb (its elements' JSON text kept). */
unsigned char
sqsink_col_bits(const struct dblog_sqlite_col *c)
{
	if (!c)
		return 0;
	const char *t = c->type;
	char a = sqsink_affinity(t);
	size_t n = strlen(t);
	int blob = a == 'B' || strcasestr(t, "bytea") != NULL;
	/* REAL, or no affinity with a floating-point name ("double precision BLOB") */
	int real = a == 'R' || (a == 'B' && (strcasestr(t, "real") || strcasestr(t, "floa") ||
					     strcasestr(t, "doub")));
	int array = n >= 2 && t[n - 2] == '[' && t[n - 1] == ']';
	int json = array && strcasestr(t, "json") != NULL;
	return (unsigned char)(blob | real << 1 | array << 2 | json << 3);
}

/* The type t[0..n) of a schema event without its modifiers, in lower
 * case: "numeric(10,2)" is "numeric", "timestamp(3) with time zone" is
 * "timestamp with time zone", "character(5)[]" is "character[]". */
static void
type_base(struct dblog_buf *b, const char *t, size_t n)
{
	int depth = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '(')
			depth++;
		else if (t[i] == ')' && depth)
			depth--;
		else if (!depth)
			dblog_buf_addc(b, (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]));
	}
	while (b->len && b->p[b->len - 1] == ' ')
		b->p[--b->len] = 0;
	if (!b->p)
		dblog_buf_adds(b, "");
}

static int
among(const char *t, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(t, *list))
			return 1;
	return 0;
}

/* The declared type of a created column for the source type t[0..n), so
 * that SQLite's affinity changes no value of it (dblog-apply(1), SQLite
 * types). Only a PostgreSQL source's types are mapped (from_pg); others
 * stay as they are: a SQLite source's has the same affinity here. Of a
 * PostgreSQL type: numbers keep theirs (integers INTEGER, a
 * float's name gets " BLOB", no affinity, which keeps -0); bytea, arrays
 * and types whose text never looks like a number keep their name; the
 * other built-in types, whose values are strings, get " TEXT" (numeric,
 * bit, xml, json, xid8, dates, ...); any other type (domains, enums,
 * composites), whose values may be numbers or strings, " BLOB", no
 * affinity, or is BLOB where its name holds "int", which SQLite would read
 * as INTEGER. */
void
sqsink_decl_type(struct dblog_buf *out, const char *t, size_t n, int from_pg)
{
	static const char *const keep[] = {
		"smallint", "integer", "bigint", "int2", "int4", "int8", "oid", "boolean", "bool",
		"bytea", "interval", "point", "int4range", "int8range", "int4multirange",
		"int8multirange", NULL,
	};
	static const char *const floats[] = {
		"real", "double precision", "float4", "float8", NULL,
	};
	/* built-in types whose values are strings (dblog-event(5)) */
	static const char *const strings[] = {
		"numeric", "decimal", "bit", "bit varying", "varbit", "xml", "json", "jsonb", "xid8",
		"xid", "cid", "tid", "uuid", "date", "time", "time without time zone",
		"time with time zone", "timetz", "timestamp", "timestamp without time zone",
		"timestamp with time zone", "timestamptz", "money", "inet", "cidr", "macaddr",
		"macaddr8", "name", "tsvector", "tsquery", "pg_lsn", "line", "lseg", "box", "path",
		"polygon", "circle", "pg_snapshot", "txid_snapshot", "regclass", "regtype",
		"regproc", "regprocedure", "regoper", "regoperator", "regnamespace", "regrole",
		"regconfig", "regdictionary", "oidvector", NULL,
	};
	struct dblog_buf b = { 0 };
	type_base(&b, t, n);
	size_t bl = b.len;
	int array = (bl >= 2 && !strcmp(b.p + bl - 2, "[]")) || b.p[0] == '_';
	if (!from_pg || array || among(b.p, keep)) {
		dblog_buf_add(out, t, n);
	} else if (among(b.p, floats)) {
		dblog_buf_add(out, t, n);
		dblog_buf_adds(out, " BLOB");
	} else if (sqsink_affinity(b.p) == 'T') {
		dblog_buf_add(out, t, n);
	} else if (among(b.p, strings)) {
		dblog_buf_add(out, t, n);
		dblog_buf_adds(out, " TEXT");
	} else if (strstr(b.p, "int")) {
		dblog_buf_adds(out, "BLOB");
	} else {
		/* domains, enums, composites: no affinity, so that a domain
		 * over a number keeps numbers and one over text text */
		dblog_buf_add(out, t, n);
		dblog_buf_adds(out, " BLOB");
	}
	dblog_buf_free(&b);
}

