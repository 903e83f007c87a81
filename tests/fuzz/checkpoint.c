/* checkpoint.c - checkpoint files (lib/checkpoint.c): what a load accepts
 * gives a position that the rest of the program reads without surprise. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *cp = NULL;
	char err[512];
	err[0] = 0;
	int rc = dblog_checkpoint_parse((const char *)data, size, "fuzz.cp", &cp, err, sizeof err);
	if (rc) {
		FUZZ_CHECK(rc == -1 && !cp && err[0]);
		return 0;
	}
	FUZZ_CHECK(json_is_object(cp));
	struct dblog_pos pos, q;
	int64_t seq;
	int has_seq;
	char d[128], text[32];
	dblog_checkpoint_pos(cp, &pos, &seq, &has_seq);
	FUZZ_CHECK(pos.kind != DBLOG_POS_NONE);
	FUZZ_CHECK(!has_seq || seq >= 0);
	dblog_pos_format(&pos, text, sizeof text);
	FUZZ_CHECK(!dblog_pos_parse(text, strlen(text), &q) && q.kind == pos.kind && q.v == pos.v);
	dblog_position_describe(cp, d, sizeof d);
	q.kind = pos.kind;
	q.v = 5;
	FUZZ_CHECK(dblog_pos_after(&q, 1, &pos, seq, has_seq) >= 0);
	json_decref(cp);
	return 0;
}
