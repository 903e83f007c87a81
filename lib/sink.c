/* sink.c - what both apply backends share: splitting an event's column
 * objects, hashing statement keys, the policies that compare rows first,
 * checking column names. */
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
