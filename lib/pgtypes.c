/* pgtypes.c - PostgreSQL types: resolving OIDs (domains to their base,
 * arrays to their elements) and turning text forms into JSON values as
 * dblog-event(5) maps them. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dblog.h"
#include "dblog_pg.h"

#define NSLOTS 512

struct entry {
	struct dblog_pgtype t;
	struct entry *next;
};

struct dblog_pgtypes {
	PGconn *conn;
	struct entry *slots[NSLOTS];
	struct dblog_buf tmp;
};

static const struct { uint32_t oid; enum dblog_pgkind kind; const char *name; } builtin[] = {
	{ 16, PGK_BOOL, "boolean" }, { 20, PGK_NUMBER, "bigint" }, { 21, PGK_NUMBER, "smallint" },
	{ 23, PGK_NUMBER, "integer" }, { 26, PGK_NUMBER, "oid" }, { 700, PGK_FLOAT, "real" },
	{ 701, PGK_FLOAT, "double precision" }, { 1700, PGK_NUMERIC, "numeric" },
	{ 114, PGK_JSON, "json" }, { 3802, PGK_JSON, "jsonb" },
	{ 1184, PGK_TIMESTAMPTZ, "timestamp with time zone" },
	{ 1114, PGK_TIMESTAMP, "timestamp without time zone" },
	{ 25, PGK_TEXT, "text" }, { 1043, PGK_TEXT, "character varying" },
	{ 1042, PGK_TEXT, "character" }, { 17, PGK_TEXT, "bytea" }, { 2950, PGK_TEXT, "uuid" },
	{ 1082, PGK_TEXT, "date" }, { 1083, PGK_TEXT, "time without time zone" },
	{ 1266, PGK_TEXT, "time with time zone" }, { 1186, PGK_TEXT, "interval" },
};

/* builtin arrays: oid, element */
static const uint32_t builtin_arrays[][2] = {
	{ 1000, 16 }, { 1005, 21 }, { 1007, 23 }, { 1016, 20 }, { 1028, 26 }, { 1021, 700 },
	{ 1022, 701 }, { 1231, 1700 }, { 199, 114 }, { 3807, 3802 }, { 1185, 1184 },
	{ 1115, 1114 }, { 1009, 25 }, { 1015, 1043 }, { 1014, 1042 }, { 1001, 17 },
	{ 2951, 2950 }, { 1182, 1082 },
};

struct dblog_pgtypes *
dblog_pgtypes_new(PGconn *conn)
{
	struct dblog_pgtypes *t = calloc(1, sizeof *t);
	if (!t)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	t->conn = conn;
	return t;
}

void
dblog_pgtypes_set_conn(struct dblog_pgtypes *t, PGconn *conn)
{
	t->conn = conn;
}

void
dblog_pgtypes_free(struct dblog_pgtypes *t)
{
	if (!t)
		return;
	for (int i = 0; i < NSLOTS; i++)
		for (struct entry *e = t->slots[i], *n; e; e = n) {
			n = e->next;
			free(e->t.name);
			free(e);
		}
	dblog_buf_free(&t->tmp);
	free(t);
}

static struct entry *
put(struct dblog_pgtypes *t, uint32_t oid, enum dblog_pgkind kind, uint32_t elem, char delim,
    const char *name)
{
	struct entry *e = calloc(1, sizeof *e);
	if (!e)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	e->t.oid = oid;
	e->t.kind = kind;
	e->t.elem = elem;
	e->t.delim = delim ? delim : ',';
	e->t.name = dblog_xstrdup(name);
	e->next = t->slots[oid % NSLOTS];
	t->slots[oid % NSLOTS] = e;
	return e;
}

/* Resolve through the catalog: domains to their base type, arrays to
 * their element; enums, ranges, composites and the rest are text. */
static struct entry *
lookup(struct dblog_pgtypes *t, uint32_t oid)
{
	for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
		if (builtin[i].oid == oid)
			return put(t, oid, builtin[i].kind, 0, 0, builtin[i].name);
	for (size_t i = 0; i < sizeof builtin_arrays / sizeof *builtin_arrays; i++)
		if (builtin_arrays[i][0] == oid) {
			struct dblog_buf n = { 0 };
			dblog_buf_printf(&n, "%s[]", dblog_pgtype(t, builtin_arrays[i][1])->name);
			struct entry *e = put(t, oid, PGK_ARRAY, builtin_arrays[i][1], ',', n.p);
			dblog_buf_free(&n);
			return e;
		}
	if (!t->conn)
		return put(t, oid, PGK_TEXT, 0, 0, "unknown");
	char o[16];
	snprintf(o, sizeof o, "%u", oid);
	const char *params[1] = { o };
	PGresult *r = PQexecParams(t->conn,
		"SELECT t.typtype, t.typcategory, t.typelem, t.typdelim, t.typbasetype, "
		"format_type(t.oid, NULL) FROM pg_catalog.pg_type t WHERE t.oid = $1::oid",
		1, NULL, params, NULL, NULL, 0);
	struct entry *e = NULL;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 6) {
		char typtype = PQgetvalue(r, 0, 0)[0], cat = PQgetvalue(r, 0, 1)[0];
		uint32_t elem = (uint32_t)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
		uint32_t base = (uint32_t)strtoul(PQgetvalue(r, 0, 4), NULL, 10);
		const char *name = PQgetvalue(r, 0, 5);
		if (typtype == 'd' && base) {
			const struct dblog_pgtype *b = dblog_pgtype(t, base);
			e = put(t, oid, b->kind, b->elem, b->delim, name);
		} else if (cat == 'A' && elem) {
			e = put(t, oid, PGK_ARRAY, elem, PQgetvalue(r, 0, 3)[0], name);
		} else {
			e = put(t, oid, PGK_TEXT, 0, 0, name);
		}
	}
	PQclear(r);
	return e ? e : put(t, oid, PGK_TEXT, 0, 0, "unknown");
}

const struct dblog_pgtype *
dblog_pgtype(struct dblog_pgtypes *t, uint32_t oid)
{
	for (struct entry *e = t->slots[oid % NSLOTS]; e; e = e->next)
		if (e->t.oid == oid)
			return &e->t;
	return &lookup(t, oid)->t;
}

/* "2026-11-22 10:00:00.5" -> "2026-11-22T10:00:00.500000" (+ "Z" if utc);
 * 0, or -1 when the text is not of that shape (infinity, BC, years > 9999). */
static int
iso_time(const char *s, size_t n, int tz, struct dblog_buf *out)
{
	if (tz) {
		int64_t us;
		if (n < 19 || s[10] != ' ' || memchr(s, 'B', n) || dblog_time_parse(s, n, &us))
			return -1;
		char t[40];
		dblog_time_format(us, t, sizeof t);
		dblog_buf_addc(out, '"');
		dblog_buf_adds(out, t);
		dblog_buf_addc(out, '"');
		return 0;
	}
	if (n < 19 || s[10] != ' ' || s[4] != '-' || memchr(s, 'B', n))
		return -1;
	size_t frac = n > 19 && s[19] == '.' ? n - 20 : 0;
	if (frac > 6 || (n > 19 && s[19] != '.'))
		return -1;
	dblog_buf_addc(out, '"');
	dblog_buf_add(out, s, 10);
	dblog_buf_addc(out, 'T');
	dblog_buf_add(out, s + 11, 8);
	dblog_buf_addc(out, '.');
	if (frac)
		dblog_buf_add(out, s + 20, frac);
	for (size_t i = frac; i < 6; i++)
		dblog_buf_addc(out, '0');
	dblog_buf_addc(out, '"');
	return 0;
}

static const char *array_value(struct dblog_pgtypes *t, const struct dblog_pgtype *ty,
			       const char *p, const char *end, struct dblog_buf *out);

/* Is s[0..n) a JSON number as it stands? What the server prints for a
 * number is (but NaN and the infinities), what a hostile one sends may
 * not be ("05", "1.", "+1"). */
static int
json_number(const char *s, size_t n)
{
	struct dblog_jerr e;
	struct dblog_span v = { s, n };
	return n && dblog_json_type(v) == DBLOG_J_NUMBER && dblog_json_skip(s, s + n, s, &e) == s + n;
}

/* Do the braces of an array literal nest deeper than PostgreSQL's 6
 * dimensions (MAXDIM)? array_value recurses per level: such text stays a
 * string. */
static int
array_too_deep(const char *p, const char *end)
{
	int depth = 0, quoted = 0;
	for (; p < end; p++) {
		if (quoted) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				quoted = 0;
		} else if (*p == '"') {
			quoted = 1;
		} else if (*p == '{' && ++depth > 6) {
			return 1;
		} else if (*p == '}') {
			depth--;
		}
	}
	return 0;
}

/* One element (quoted or not) of an array literal. */
static const char *
array_elem(struct dblog_pgtypes *t, const struct dblog_pgtype *ty, const char *p,
	   const char *end, struct dblog_buf *out)
{
	struct dblog_buf v = { 0 };
	int quoted = 0;
	if (p < end && *p == '"') {
		quoted = 1;
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			dblog_buf_addc(&v, *p);
		}
		p++;
	} else {
		const char *s = p;
		while (p < end && *p != ty->delim && *p != '}')
			p++;
		const char *e = p;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		dblog_buf_add(&v, s, (size_t)(e - s));
	}
	if (!quoted && v.len == 4 && !strncasecmp(v.p, "NULL", 4))
		dblog_buf_adds(out, "null");
	else
		dblog_pg_value(t, ty->elem, v.p ? v.p : "", v.len, out);
	dblog_buf_free(&v);
	return p;
}

static const char *
array_value(struct dblog_pgtypes *t, const struct dblog_pgtype *ty, const char *p,
	    const char *end, struct dblog_buf *out)
{
	if (p >= end || *p != '{')
		return NULL;
	p++;
	dblog_buf_addc(out, '[');
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '}') {
		dblog_buf_addc(out, ']');
		return p + 1;
	}
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		p = p < end && *p == '{' ? array_value(t, ty, p, end, out) : array_elem(t, ty, p, end, out);
		if (!p)
			return NULL;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end && *p == ty->delim) {
			dblog_buf_addc(out, ',');
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return NULL;
	}
	dblog_buf_addc(out, ']');
	return p + 1;
}

void
dblog_pg_value(struct dblog_pgtypes *t, uint32_t oid, const char *s, size_t n,
	       struct dblog_buf *out)
{
	const struct dblog_pgtype *ty = dblog_pgtype(t, oid);
	size_t mark = out->len;
	switch (ty->kind) {
	case PGK_NUMBER:
		if (json_number(s, n)) {
			dblog_buf_add(out, s, n);
			return;
		}
		break;
	case PGK_FLOAT:
		if (json_number(s, n)) {
			dblog_buf_add(out, s, n);
			return;
		}
		break;   /* NaN, Infinity, -Infinity as strings */
	case PGK_BOOL:
		if (n == 1) {
			dblog_buf_adds(out, s[0] == 't' ? "true" : "false");
			return;
		}
		break;
	case PGK_JSON:
		break;   /* the server's text, exactly, as a string */
	case PGK_TIMESTAMPTZ:
	case PGK_TIMESTAMP:
		if (!iso_time(s, n, ty->kind == PGK_TIMESTAMPTZ, out))
			return;
		out->len = mark;
		break;
	case PGK_ARRAY: {
		/* the server writes bounds ("[0:2]={7,8,9}") only when some
		 * lower bound is not 1: such an array stays its text, a string,
		 * so that v[0] keeps its meaning */
		const char *p = s, *end = s + n;
		if (p < end && *p == '[')
			break;
		if (!array_too_deep(p, end) && array_value(t, ty, p, end, out))
			return;
		out->len = mark;   /* not an array literal we know: keep the text */
		break;
	}
	default:
		break;
	}
	dblog_json_escape(out, s, n);
}
