/* pos.c - positions (lib/pos.c): "16/B374D848" LSNs and sequence numbers,
 * as text (--pos, --since, --until) and as JSON values (an event's "pos").
 * A position that parses prints as text that parses to the same one. */
#include "fuzz.h"

static void
again(const struct dblog_pos *p)
{
	char text[32];
	struct dblog_pos q;
	dblog_pos_format(p, text, sizeof text);
	FUZZ_CHECK(!dblog_pos_parse(text, strlen(text), &q));
	FUZZ_CHECK(q.kind == p->kind && q.v == p->v);
	json_t *j = dblog_pos_to_json(p);
	FUZZ_CHECK(j && !dblog_pos_from_json(j, &q));
	FUZZ_CHECK(q.kind == p->kind && q.v == p->v);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dblog_pos p, q;
	if (!dblog_pos_parse(s, size, &p)) {
		again(&p);
		int bad = 0;
		q.kind = DBLOG_POS_LSN;
		q.v = 0x16B3748;
		dblog_pos_after(&p, 3, &q, 2, 1);
		dblog_pos_cmp(&p, &q, &bad);
	}
	struct dblog_span v = { s, size };
	struct dblog_jerr e;
	if (size && dblog_json_skip(s, s + size, s, &e) == s + size && !dblog_pos_from_span(v, &p))
		again(&p);
	return 0;
}
