/* event.c - the event scanner (lib/event.c) and the JSON reader under it
 * (lib/json.c) on one line: dblog_event_scan, then every field that
 * readers decode (table names, positions, times, columns), and the
 * escaper's round trip for every string the line holds. */
#include "fuzz.h"

/* Escaping decoded bytes and decoding them again gives them back. */
static void
roundtrip(const char *p, size_t n)
{
	struct dblog_buf esc = { 0 }, back = { 0 };
	struct dblog_jerr e;
	dblog_json_escape(&esc, p, n);
	FUZZ_CHECK(dblog_json_skip(esc.p, esc.p + esc.len, esc.p, &e) == esc.p + esc.len);
	struct dblog_span s = { esc.p, esc.len };
	dblog_json_unescape(s, &back);
	FUZZ_CHECK(back.len == n && (!n || !memcmp(back.p, p, n)));
	dblog_buf_free(&esc);
	dblog_buf_free(&back);
}

/* Walk a validated value: decode every string, recurse into containers. */
static void
walk(struct dblog_span v, struct dblog_buf *tmp, int depth)
{
	const char *it = NULL;
	struct dblog_span k, x;
	switch (dblog_json_type(v)) {
	case DBLOG_J_OBJECT:
		while (dblog_json_next(v, &it, &k, &x)) {
			walk(k, tmp, depth + 1);
			walk(x, tmp, depth + 1);
		}
		break;
	case DBLOG_J_ARRAY:
		while (dblog_json_next_elem(v, &it, &x))
			walk(x, tmp, depth + 1);
		break;
	case DBLOG_J_STRING: {
		const char *p = dblog_json_unescape(v, tmp);
		/* decoded text is NUL-terminated, even when empty */
		FUZZ_CHECK(p && p[tmp->len] == 0);
		size_t n = tmp->len;
		if (dblog_utf8_valid(p, n)) {
			char *c = fuzz_copy(p, n);
			roundtrip(c, n);
			free(c);
		}
		break;
	}
	default:
		break;
	}
}

static void
fields(const struct dblog_fields *f, struct dblog_buf *tmp)
{
	struct dblog_pos pos, again;
	char text[32];
	if (f->table.p) {
		/* a fresh buffer, as the commands decode the first table into */
		struct dblog_buf t = { 0 }, schema = { 0 }, name = { 0 }, canon = { 0 };
		const char *p = dblog_json_unescape(f->table, &t);
		FUZZ_CHECK(p && strlen(p) <= t.len);
		int has_schema;
		if (!dblog_table_split(t.p, t.len, &schema, &name, &has_schema))
			FUZZ_CHECK(strlen(schema.p) <= schema.len && strlen(name.p) <= name.len);
		dblog_table_canon(&canon, t.p, t.len);
		dblog_buf_free(&t);
		dblog_buf_free(&schema);
		dblog_buf_free(&name);
		dblog_buf_free(&canon);
	}
	if (f->pos.p && !dblog_pos_from_span(f->pos, &pos)) {
		dblog_pos_format(&pos, text, sizeof text);
		FUZZ_CHECK(!dblog_pos_parse(text, strlen(text), &again));
		FUZZ_CHECK(again.kind == pos.kind && again.v == pos.v);
	}
	const char *s;
	size_t n;
	int64_t us;
	if (dblog_json_str(f->commit_time, tmp, &s, &n)) {
		char *c = fuzz_copy(s, n);
		dblog_time_parse(c, n, &us);
		free(c);
	}
	if (f->cursor.p) {
		json_t *j = json_object();
		dblog_cursor_merge(j, f->cursor);
		json_decref(j);
	}
	char d[128];
	dblog_tx_describe(f, d, sizeof d);
	dblog_op_name(f->op);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct dblog_fields f;
	struct dblog_jerr e;
	struct dblog_buf scratch = { 0 }, tmp = { 0 };
	memset(&f, 0, sizeof f);
	int rc = dblog_event_scan(line, size, &f, &e, &scratch);
	if (rc == -1)
		FUZZ_CHECK(e.why != NULL);
	if (rc == 0)
		fields(&f, &tmp);
	/* the JSON reader alone, on any value */
	const char *end = line + size, *p = dblog_json_ws(line, end);
	if (p < end) {
		const char *q = dblog_json_skip(p, end, line, &e);
		if (q) {
			FUZZ_CHECK(q > p && q <= end);
			struct dblog_span v = { p, (size_t)(q - p) };
			walk(v, &tmp, 0);
		} else {
			FUZZ_CHECK(e.why != NULL);
		}
	}
	dblog_buf_free(&scratch);
	dblog_buf_free(&tmp);
	return 0;
}
