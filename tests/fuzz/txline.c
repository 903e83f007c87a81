/* txline.c - transaction lines (lib/txline.c), {"op":"tx", ...,
 * "changes":[...]} as dblog-txbuf --as-tx writes them: each event a valid
 * line expands to is an event the scanner reads whole. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dblog_buf out = { 0 }, scratch = { 0 };
	const char *why = NULL;
	int k = dblog_txline_expand((const char *)data, size, &out, &why);
	if (k < 0)
		FUZZ_CHECK(why != NULL);
	FUZZ_CHECK(k == 0 || k == -1 || k >= 2);
	const char *p = out.p, *end = p ? p + out.len : NULL;
	for (int i = 0; i < k; i++) {
		size_t len = strlen(p);
		FUZZ_CHECK(p + len < end);
		struct dblog_fields f;
		struct dblog_jerr e;
		struct dblog_span v = { p, len };
		/* a whole JSON object each, whatever its members */
		FUZZ_CHECK(dblog_json_skip(p, p + len, p, &e) == p + len);
		FUZZ_CHECK(dblog_json_type(v) == DBLOG_J_OBJECT);
		dblog_event_scan(p, len, &f, &e, &scratch);
		p += len + 1;
	}
	dblog_buf_free(&out);
	dblog_buf_free(&scratch);
	return 0;
}
