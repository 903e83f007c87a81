/* event.c - the event model: ops, the field index of one line, ids. */
#include <string.h>
#include <uuid/uuid.h>

#include "dblog.h"

static const char *const op_names[] = {
	[DBLOG_OP_UNKNOWN] = "unknown",
	[DBLOG_OP_INSERT] = "insert",
	[DBLOG_OP_UPDATE] = "update",
	[DBLOG_OP_DELETE] = "delete",
	[DBLOG_OP_TRUNCATE] = "truncate",
	[DBLOG_OP_SNAPSHOT] = "snapshot",
	[DBLOG_OP_BEGIN] = "begin",
	[DBLOG_OP_COMMIT] = "commit",
	[DBLOG_OP_SCHEMA] = "schema",
	[DBLOG_OP_HEARTBEAT] = "heartbeat",
};

/* Lengths of op_names, so that parsing needs no strlen. */
static const unsigned char op_lens[] = {
	[DBLOG_OP_UNKNOWN] = 7, [DBLOG_OP_INSERT] = 6, [DBLOG_OP_UPDATE] = 6,
	[DBLOG_OP_DELETE] = 6, [DBLOG_OP_TRUNCATE] = 8, [DBLOG_OP_SNAPSHOT] = 8,
	[DBLOG_OP_BEGIN] = 5, [DBLOG_OP_COMMIT] = 6, [DBLOG_OP_SCHEMA] = 6,
	[DBLOG_OP_HEARTBEAT] = 9,
};

enum dblog_op
dblog_op_parse(const char *s, size_t n)
{
	for (int i = DBLOG_OP_INSERT; i <= DBLOG_OP_HEARTBEAT; i++)
		if (op_lens[i] == n && op_names[i][0] == s[0] && !memcmp(op_names[i], s, n))
			return (enum dblog_op)i;
	return DBLOG_OP_UNKNOWN;
}

const char *
dblog_op_name(enum dblog_op op)
{
	if (op < DBLOG_OP_UNKNOWN || op > DBLOG_OP_HEARTBEAT)
		return "unknown";
	return op_names[op];
}

#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(k, lit, sizeof(lit) - 1))

/* The field slot for a member name, or NULL for a field we do not index. */
static struct dblog_span *
slot(struct dblog_fields *f, const char *k, size_t n)
{
	switch (k[0]) {
	case 'a': return IS("after") ? &f->after : NULL;
	case 'b': return IS("before") ? &f->before : NULL;
	case 'c': return IS("commit_time") ? &f->commit_time : IS("count") ? &f->count :
			 IS("columns") ? &f->columns : IS("cursor") ? &f->cursor : NULL;
	case 'i': return IS("id") ? &f->id : NULL;
	case 'k': return IS("key") ? &f->key : IS("keyless") ? &f->keyless : NULL;
	case 'o': return IS("op") ? &f->op_raw : IS("origin") ? &f->origin : NULL;
	case 'p': return IS("pos") ? &f->pos : NULL;
	case 's': return IS("seq") ? &f->seq : IS("source") ? &f->source : NULL;
	case 't': return IS("table") ? &f->table : IS("tx") ? &f->tx : NULL;
	case 'u': return IS("unchanged") ? &f->unchanged : NULL;
	default: return NULL;
	}
}

static int
bad(struct dblog_jerr *e, const char *why)
{
	e->col = 0;
	e->why = why;
	return -1;
}

/* The first byte of a present (validated, so non-empty) value, which tells
 * its type as dblog_json_type does; 0 for an absent one. */
static inline char
lead(struct dblog_span v)
{
	return v.p ? v.p[0] : 0;
}

/* Does the lead byte c start a number (a validated value that is not an
 * object, array, string or literal)? */
static inline int
is_num(char c)
{
	return c == '-' || (c >= '0' && c <= '9');
}

/* Field types: a present field of the wrong JSON type is a data error. */
static int
check_types(const struct dblog_fields *f, struct dblog_jerr *e)
{
	char c;
	if ((c = lead(f->table)) && c != '"')
		return bad(e, "field \"table\" must be a string");
	if ((c = lead(f->source)) && c != '{')
		return bad(e, "field \"source\" must be an object");
	if ((c = lead(f->pos)) && c != '"' && !is_num(c))
		return bad(e, "field \"pos\" must be a string (LSN) or a number");
	if ((c = lead(f->seq)) && !is_num(c))
		return bad(e, "field \"seq\" must be a number");
	if ((c = lead(f->commit_time)) && c != '"' && c != 'n')
		return bad(e, "field \"commit_time\" must be an RFC 3339 string");
	if ((c = lead(f->key)) && c != '{' && c != 'n')
		return bad(e, "field \"key\" must be an object");
	if ((c = lead(f->before)) && c != '{' && c != 'n')
		return bad(e, "field \"before\" must be an object");
	if ((c = lead(f->after)) && c != '{' && c != 'n')
		return bad(e, "field \"after\" must be an object");
	if ((c = lead(f->unchanged)) && c != '[')
		return bad(e, "field \"unchanged\" must be an array of column names");
	if ((c = lead(f->count)) && !is_num(c))
		return bad(e, "field \"count\" must be a number");
	if ((c = lead(f->cursor)) && c != '{')
		return bad(e, "field \"cursor\" must be an object");
	return 0;
}

/* A string span's contents when it has no escape (sets *s,*n, returns 1);
 * 0 otherwise. */
static int
plain_str(struct dblog_span v, const char **s, size_t *n)
{
	for (size_t i = 1; i + 1 < v.n; i++)
		if (v.p[i] == '\\')
			return 0;
	*s = v.p + 1;
	*n = v.n - 2;
	return 1;
}

static int
check_op(struct dblog_fields *f, struct dblog_jerr *e, struct dblog_buf *scratch)
{
	const char *s;
	size_t n;
	if (!f->op_raw.p)
		return bad(e, "missing field \"op\"");
	if (f->op_raw.p[0] != '"')
		return bad(e, "field \"op\" must be a string");
	if (!plain_str(f->op_raw, &s, &n))
		dblog_json_str(f->op_raw, scratch, &s, &n);
	f->op = dblog_op_parse(s, n);
	if (f->op == DBLOG_OP_UNKNOWN) {
		/* the message names the op; it lives until the next scan */
		static _Thread_local char msg[160];
		snprintf(msg, sizeof msg, "unknown op \"%.*s\" (expected insert, update, delete, "
			 "truncate, snapshot, begin, commit, schema or heartbeat)",
			 n > 32 ? 32 : (int)n, s);
		return bad(e, msg);
	}
	if ((DBLOG_OP_IS_CHANGE(f->op) || f->op == DBLOG_OP_SCHEMA) && !f->table.p)
		return bad(e, "missing field \"table\"");
	return check_types(f, e);
}

/* Skip whitespace: the common case (none) without a call. */
static inline const char *
ws(const char *p, const char *end)
{
	if (p < end && (unsigned char)*p <= ' ')
		p = dblog_json_ws(p, end);
	return p;
}

/* Index the value span v under the member name key (quotes included). A
 * name with an escape never equals a field name as it stands, so it is
 * decoded only when the plain lookup fails: the same slot as decoding
 * first, without a memchr per member. */
static inline void
index_member(struct dblog_fields *f, struct dblog_span key, struct dblog_span v,
	     struct dblog_buf *scratch)
{
	struct dblog_span *sl = key.n > 2 ? slot(f, key.p + 1, key.n - 2) : NULL;
	if (!sl && memchr(key.p, '\\', key.n)) {
		dblog_json_unescape(key, scratch);
		sl = scratch->len ? slot(f, scratch->p, scratch->len) : NULL;
	}
	if (sl)
		*sl = v;
}

/* The members of the object whose '{' is at p: their end, or NULL with *e
 * filled. */
static const char *
scan_members(const char *line, const char *p, const char *end, struct dblog_fields *f,
	     struct dblog_jerr *e, struct dblog_buf *scratch)
{
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return p + 1;
	for (;;) {
		if (p >= end || *p != '"') {
			e->col = (size_t)(p - line) + 1;
			e->why = "expected a member name";
			return NULL;
		}
		const char *ks = p;
		p = dblog_json_skip(ks, end, line, e);
		if (!p)
			return NULL;
		struct dblog_span key = { ks, (size_t)(p - ks) };
		p = ws(p, end);
		if (p >= end || *p != ':') {
			e->col = (size_t)(p - line) + 1;
			e->why = "expected ':'";
			return NULL;
		}
		p = ws(p + 1, end);
		const char *vs = p;
		p = dblog_json_skip(p, end, line, e);
		if (!p)
			return NULL;
		index_member(f, key, (struct dblog_span){ vs, (size_t)(p - vs) }, scratch);
		p = ws(p, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return p + 1;
		e->col = (size_t)(p - line) + 1;
		e->why = "expected ',' or '}'";
		return NULL;
	}
}

int
dblog_event_scan(const char *line, size_t n, struct dblog_fields *f,
		 struct dblog_jerr *e, struct dblog_buf *scratch)
{
	const char *end = line + n;
	memset(f, 0, sizeof *f);
	const char *p = ws(line, end);
	if (p == end)
		return 1;
	if (*p != '{') {
		/* not a syntax error at a column: never taken for a cut line */
		if (p == line && dblog_compression(line, n))
			return bad(e, "compressed data (gzip, zstd, xz or bzip2), not an event");
		if (!dblog_json_skip(p, end, line, e))
			return -1;
		return bad(e, "not a JSON object");
	}
	p = scan_members(line, p, end, f, e, scratch);
	if (!p)
		return -1;
	p = ws(p, end);
	if (p != end) {
		e->col = (size_t)(p - line) + 1;
		e->why = "unexpected characters after the event object";
		return -1;
	}
	return check_op(f, e, scratch);
}

void
dblog_event_id(const char *source_name, const char *pos, int64_t seq, char out[37])
{
	/* a fixed namespace for dblog change ids */
	static const uuid_t ns = { 0x6d, 0x1b, 0x0e, 0x4a, 0x8f, 0x3c, 0x4e, 0x21,
				   0x9a, 0x57, 0xd2, 0x0c, 0x61, 0xb3, 0x7e, 0x90 };
	char name[512];
	size_t sl = source_name ? strlen(source_name) : 0, pl = strlen(pos), n = 0;
	char digits[24];
	int dl = snprintf(digits, sizeof digits, "%lld", (long long)seq);
	uuid_t u;
	if (sl + pl + (size_t)dl + 2 <= sizeof name) {
		/* name = source NUL pos NUL seq */
		memcpy(name, source_name ? source_name : "", sl);
		n = sl;
		name[n++] = 0;
		memcpy(name + n, pos, pl);
		n += pl;
		name[n++] = 0;
		memcpy(name + n, digits, (size_t)dl);
		n += (size_t)dl;
		uuid_generate_sha1(u, ns, name, n);
	} else {
		struct dblog_buf b = { 0 };
		dblog_buf_add(&b, source_name ? source_name : "", sl);
		dblog_buf_addc(&b, 0);
		dblog_buf_add(&b, pos, pl);
		dblog_buf_addc(&b, 0);
		dblog_buf_add(&b, digits, (size_t)dl);
		uuid_generate_sha1(u, ns, b.p, b.len);
		dblog_buf_free(&b);
	}
	uuid_unparse_lower(u, out);
}

void
dblog_cursor_merge(json_t *pos, struct dblog_span cursor)
{
	json_t *c = cursor.p ? json_loadb(cursor.p, cursor.n, JSON_ALLOW_NUL, NULL) : NULL;
	if (!json_is_object(c)) {
		json_decref(c);
		return;
	}
	json_t *have = json_object_get(pos, "cursor");
	if (json_is_object(have))
		json_object_update(have, c);
	else
		json_object_set(pos, "cursor", c);
	json_decref(c);
}
