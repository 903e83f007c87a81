/* txline.c - the one-line-per-transaction form that dblog-txbuf --as-tx
 * writes, {"op":"tx", <the commit's members>, "changes":[...]}, read back
 * as the events it stands for: a begin, the changes, a commit. */
#include <string.h>

#include "dblog.h"

/* Append the members of obj except op, changes and (for a begin) the
 * commit's own, each after a comma. */
static void
members(struct dblog_buf *out, struct dblog_span obj, int begin)
{
	const char *it = NULL;
	struct dblog_span k, v;
	while (dblog_json_next(obj, &it, &k, &v)) {
		if (dblog_json_streq(k, "op", 2) || dblog_json_streq(k, "changes", 7))
			continue;
		if (begin && (dblog_json_streq(k, "count", 5) || dblog_json_streq(k, "delivery", 8) ||
			      dblog_json_streq(k, "batch", 5)))
			continue;
		dblog_buf_addc(out, ',');
		dblog_buf_add(out, k.p, k.n);
		dblog_buf_addc(out, ':');
		dblog_buf_add(out, v.p, v.n);
	}
}

int
dblog_txline_expand(const char *line, size_t n, struct dblog_buf *out, const char **why)
{
	struct dblog_jerr e;
	const char *end = line + n, *p = dblog_json_ws(line, end);
	if (p == end || *p != '{')
		return 0;
	const char *q = dblog_json_skip(p, end, line, &e);
	if (!q || dblog_json_ws(q, end) != end)
		return 0;
	struct dblog_span obj = { p, (size_t)(q - p) };
	if (!dblog_json_streq(dblog_json_member(obj, "op", 2), "tx", 2))
		return 0;
	struct dblog_span changes = dblog_json_member(obj, "changes", 7);
	if (dblog_json_type(changes) != DBLOG_J_ARRAY) {
		*why = "a transaction line (op \"tx\") needs a \"changes\" array";
		return -1;
	}
	dblog_buf_clear(out);
	int count = 0;
	dblog_buf_adds(out, "{\"op\":\"begin\"");
	members(out, obj, 1);
	dblog_buf_adds(out, "}");
	dblog_buf_addc(out, 0);
	count++;
	const char *it = NULL;
	struct dblog_span c;
	while (dblog_json_next_elem(changes, &it, &c)) {
		if (dblog_json_type(c) != DBLOG_J_OBJECT) {
			*why = "the \"changes\" of a transaction line must be event objects";
			return -1;
		}
		dblog_buf_add(out, c.p, c.n);
		dblog_buf_addc(out, 0);
		count++;
	}
	dblog_buf_adds(out, "{\"op\":\"commit\"");
	members(out, obj, 0);
	dblog_buf_adds(out, "}");
	dblog_buf_addc(out, 0);
	return ++count;
}
