/* pos.c - source positions and their order. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "dblog.h"

static int
parse_hex32(const char *s, size_t n, uint64_t *v)
{
	if (n == 0 || n > 8)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (uint64_t)(c - 'A' + 10);
		else
			return -1;
	}
	*v = x;
	return 0;
}

int
dblog_pos_parse(const char *s, size_t n, struct dblog_pos *pos)
{
	const char *slash = memchr(s, '/', n);
	if (slash) {
		uint64_t hi, lo;
		if (parse_hex32(s, (size_t)(slash - s), &hi) ||
		    parse_hex32(slash + 1, n - (size_t)(slash - s) - 1, &lo))
			return -1;
		pos->kind = DBLOG_POS_LSN;
		pos->v = hi << 32 | lo;
		return 0;
	}
	if (n == 0 || n > 19)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > INT64_MAX)   /* written as a JSON integer, read back by jansson */
		return -1;
	pos->kind = DBLOG_POS_SEQ;
	pos->v = x;
	return 0;
}

int
dblog_pos_from_span(struct dblog_span v, struct dblog_pos *pos)
{
	switch (dblog_json_type(v)) {
	case DBLOG_J_STRING:
		if (memchr(v.p, '\\', v.n))
			return -1;
		if (dblog_pos_parse(v.p + 1, v.n - 2, pos))
			return -1;
		return pos->kind == DBLOG_POS_LSN ? 0 : -1;
	case DBLOG_J_NUMBER:
		return dblog_pos_parse(v.p, v.n, pos);
	default:
		return -1;
	}
}

int
dblog_pos_from_json(const json_t *v, struct dblog_pos *pos)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (dblog_pos_parse(s, json_string_length(v), pos) || pos->kind != DBLOG_POS_LSN)
			return -1;
		return 0;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		pos->kind = DBLOG_POS_SEQ;
		pos->v = (uint64_t)json_integer_value(v);
		return 0;
	}
	return -1;
}

json_t *
dblog_pos_to_json(const struct dblog_pos *pos)
{
	char t[32];
	if (pos->kind == DBLOG_POS_SEQ)
		return json_integer((json_int_t)pos->v);
	dblog_pos_format(pos, t, sizeof t);
	return json_string(t);
}

void
dblog_pos_format(const struct dblog_pos *pos, char *out, size_t n)
{
	if (pos->kind == DBLOG_POS_LSN)
		snprintf(out, n, "%X/%X", (unsigned)(pos->v >> 32), (unsigned)(pos->v & 0xFFFFFFFFu));
	else if (pos->kind == DBLOG_POS_SEQ)
		snprintf(out, n, "%" PRIu64, pos->v);
	else
		snprintf(out, n, "-");
}

int
dblog_pos_cmp(const struct dblog_pos *a, const struct dblog_pos *b, int *bad)
{
	if (a->kind != b->kind) {
		if (bad)
			*bad = 1;
		return 0;
	}
	return a->v < b->v ? -1 : a->v > b->v;
}

const char *
dblog_pos_kind_name(enum dblog_pos_kind k)
{
	switch (k) {
	case DBLOG_POS_LSN: return "a PostgreSQL LSN";
	case DBLOG_POS_SEQ: return "a sequence number";
	default: return "no position";
	}
}

int
dblog_pos_after(const struct dblog_pos *epos, int64_t eseq,
		const struct dblog_pos *cpos, int64_t cseq, int c_has_seq)
{
	int bad = 0;
	int c = dblog_pos_cmp(epos, cpos, &bad);
	if (bad)
		return -1;
	if (c != 0)
		return c > 0;
	if (!c_has_seq)
		return 0;
	/* same position, the checkpoint covers changes up to cseq */
	return eseq > cseq;
}
