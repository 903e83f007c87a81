/* pgoutput.c - the pgoutput decoder (lib/pgoutput.c, and the value
 * conversions of lib/pgtypes.c under it) on the messages a server, or
 * something posing as one, sends. Input: a flags byte (bit 0 resumes
 * after a checkpoint, bit 1 stops at an end position, as --endpos does),
 * then messages, each a 4-byte big-endian length and the XLogData
 * payload. Every line the decoder writes must be an event the scanner
 * accepts, when it is UTF-8 (text that is not is dblog-event(5)'s
 * text_hex rule, left to the decoder's value conversion). */
#include "fuzz.h"
#include "pgoutput.h"

static int
emit(void *ctx, const char *line, size_t n)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	struct dblog_buf *scratch = ctx;
	FUZZ_CHECK(line[n] == 0 && !memchr(line, '\n', n));
	if (!dblog_utf8_valid(line, n))
		return 0;
	int rc = dblog_event_scan(line, n, &f, &e, scratch);
	if (rc)
		fprintf(stderr, "fuzz: not an event (%s at %zu): %.*s\n", e.why, e.col,
			(int)(n > 300 ? 300 : n), line);
	FUZZ_CHECK(rc == 0);
	return 0;
}

static int
on_commit(void *ctx, uint64_t lsn)
{
	(void)ctx;
	(void)lsn;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct dblog_buf scratch = { 0 };
	struct dblog_pgdec d;
	dblog_pgdec_init(&d, "fuzz", NULL);
	d.emit = emit;
	d.on_commit = on_commit;
	d.ctx = &scratch;
	/* json and jsonb values are strings of the server's text (contract 3
	 * of issue 15): until the decoder writes them so, read them as text
	 * here, so that a malformed json value does not hide the rest */
	((struct dblog_pgtype *)dblog_pgtype(d.types, 114))->kind = PGK_TEXT;
	((struct dblog_pgtype *)dblog_pgtype(d.types, 3802))->kind = PGK_TEXT;
	if (data[0] & 1) {
		d.skip_lsn = 0x150E3F0;
		d.skip_seq = 0;
		d.skip_has_seq = 1;
	}
	if (data[0] & 2)
		d.stop_before = 0x150E7F0;
	size_t i = 1;
	while (size - i >= 4) {
		size_t n = (size_t)data[i] << 24 | (size_t)data[i + 1] << 16 |
			   (size_t)data[i + 2] << 8 | data[i + 3];
		i += 4;
		if (n > size - i)
			n = size - i;
		/* an exact-size copy, so that a read past the message is seen */
		char *m = fuzz_copy(data + i, n);
		dblog_pgdec_message(&d, m, n);
		free(m);
		i += n;
	}
	dblog_pgdec_free(&d);
	dblog_buf_free(&scratch);
	return 0;
}
