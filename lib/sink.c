/* sink.c - what both apply backends share: splitting an event's column
 * objects, hashing statement keys, the policies that compare rows first,
 * checking column names. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "sink.h"

unsigned
dblog_sink_hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

size_t
dblog_sink_split(struct dblog_span obj, struct dblog_span *names, struct dblog_span *vals,
		 size_t max)
{
	size_t n = 0;
	const char *it = NULL;
	if (dblog_json_type(obj) != DBLOG_J_OBJECT)
		return 0;
	while (n < max && dblog_json_next(obj, &it, &names[n], &vals[n]))
		n++;
	return n;
}

int
dblog_sink_guarded(enum dblog_conflict policy)
{
	return policy == DBLOG_DEST_WINS || policy == DBLOG_MANUAL_REVIEW;
}

void
dblog_sink_ident(struct dblog_buf *b, struct dblog_span name, struct dblog_buf *scratch)
{
	const char *p;
	size_t n;
	dblog_json_str(name, scratch, &p, &n);
	char *z = dblog_xstrndup(p, n);
	dblog_sql_ident(b, z);
	free(z);
}

int
dblog_sink_names_ok(const struct dblog_span *names, size_t n, struct dblog_buf *scratch)
{
	for (size_t i = 0; i < n; i++) {
		const char *p;
		size_t len;
		if (dblog_json_str(names[i], scratch, &p, &len) && (memchr(p, 0, len) || !len))
			return 0;
	}
	return 1;
}

void
dblog_sink_bad_table(const char *table, char *err, size_t errlen)
{
	snprintf(err, errlen, "the table name %s is malformed: a quoted part needs its closing "
		 "quote and ends the part (write names as dblog-event(5) says: \"a.b\".c, "
		 "public.\"x\"\"y\")", table);
}
