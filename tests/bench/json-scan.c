/* json-scan - a test driver for the JSON scanner (tests/15-json.bats): for
 * each input line, copied into a buffer of exactly its size (so that the
 * sanitizers see any read past the line), prints one line:
 *   N scan=ok|COL:WHY fields=HASH skip=END|COL:WHY utf8=0|1 walk=HASH
 * scan: dblog_event_scan; fields: the offsets of the indexed fields; skip:
 * dblog_json_skip over the line; walk: every key, value and element span
 * found by the iterators over a valid value, recursively, and what
 * dblog_json_str and dblog_json_member return for them.
 * Usage: json-scan < LINES */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

static unsigned long long h;

static void
mix(unsigned long long v)
{
	/* FNV-1a over the 8 bytes of v */
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (8 * i)) & 0xFF;
		h *= 0x100000001B3ULL;
	}
}

static void
mix_span(const char *base, struct dblog_span s)
{
	mix(s.p ? (unsigned long long)(s.p - base) : ~0ULL);
	mix(s.n);
}

static void
walk(const char *base, struct dblog_span v, struct dblog_buf *scratch, int depth)
{
	struct dblog_span k, e;
	const char *it = NULL, *p;
	size_t n;
	enum dblog_jtype t = dblog_json_type(v);
	mix(t);
	if (t == DBLOG_J_STRING && dblog_json_str(v, scratch, &p, &n)) {
		mix(n);
		for (size_t i = 0; i < n; i++)
			mix((unsigned char)p[i]);
	}
	if (depth > 64)
		return;
	if (t == DBLOG_J_OBJECT) {
		while (dblog_json_next(v, &it, &k, &e)) {
			mix_span(base, k);
			mix_span(base, e);
			walk(base, k, scratch, depth + 1);
			walk(base, e, scratch, depth + 1);
			if (dblog_json_str(k, scratch, &p, &n)) {
				char name[256];
				size_t m = n < sizeof name ? n : sizeof name;
				memcpy(name, p, m);
				mix_span(base, dblog_json_member(v, name, m));
				mix(dblog_json_streq(k, name, m));
			}
		}
	} else if (t == DBLOG_J_ARRAY) {
		while (dblog_json_next_elem(v, &it, &e)) {
			mix_span(base, e);
			walk(base, e, scratch, depth + 1);
		}
	}
}

/* A message, with the bytes of a decoded op that are not printable ASCII
 * as \xHH: one output line per input line. */
static void
put_why(const char *why)
{
	for (const unsigned char *c = (const unsigned char *)why; *c; c++) {
		if (*c >= 0x20 && *c < 0x7F)
			putchar(*c);
		else
			printf("\\x%02x", *c);
	}
}

static void
one(unsigned long long lineno, const char *line, size_t n, struct dblog_buf *scratch)
{
	struct dblog_fields f;
	struct dblog_jerr e = { 0, NULL };
	printf("%llu scan=", lineno);
	int s = dblog_event_scan(line, n, &f, &e, scratch);
	if (s == 0)
		printf("ok");
	else if (s == 1)
		printf("blank");
	else
		printf("%zu:", e.col), put_why(e.why);
	h = 0xCBF29CE484222325ULL;
	if (s == 0) {
		const struct dblog_span *sp[] = { &f.op_raw, &f.table, &f.source, &f.tx, &f.pos,
			&f.seq, &f.commit_time, &f.id, &f.key, &f.before, &f.after, &f.unchanged,
			&f.count, &f.columns, &f.origin, &f.cursor };
		mix(f.op);
		for (size_t i = 0; i < sizeof sp / sizeof *sp; i++)
			mix_span(line, *sp[i]);
	}
	printf(" fields=%016llx skip=", h);
	const char *end = line + n, *p = dblog_json_ws(line, end), *q = NULL;
	e.col = 0;
	e.why = NULL;
	if (p < end)
		q = dblog_json_skip(p, end, line, &e);
	if (q)
		printf("%zu", (size_t)(q - line));
	else if (p < end)
		printf("%zu:", e.col), put_why(e.why);
	else
		printf("empty");
	printf(" utf8=%d", dblog_utf8_valid(line, n));
	h = 0xCBF29CE484222325ULL;
	if (q) {
		struct dblog_span v = { p, (size_t)(q - p) };
		walk(line, v, scratch, 0);
	}
	printf(" walk=%016llx\n", h);
}

int
main(void)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t got;
	unsigned long long lineno = 0;
	struct dblog_buf scratch = { 0 };
	while ((got = getline(&buf, &cap, stdin)) > 0) {
		size_t n = (size_t)got;
		if (buf[n - 1] == '\n')
			n--;
		/* exactly n bytes (one for an empty line): reads past the line
		 * are caught by the address sanitizer */
		char *copy = malloc(n ? n : 1);
		if (!copy)
			return 1;
		memcpy(copy, buf, n);
		one(++lineno, copy, n, &scratch);
		free(copy);
	}
	free(buf);
	dblog_buf_free(&scratch);
	return fflush(stdout) || ferror(stdin) ? 1 : 0;
}
