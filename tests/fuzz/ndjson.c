/* ndjson.c - the line reader (lib/ndjson.c) over a file holding the input,
 * each line then scanned as an event (lib/event.c), expanded when it is a
 * transaction line (lib/txline.c), and checked for a compression magic
 * number, as the commands do with their standard input. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd < 0 || dblog_write_all(fd, (const char *)data, size) || lseek(fd, 0, SEEK_SET)) {
		perror("fuzz: memfd");
		abort();
	}
	struct dblog_reader r;
	struct dblog_buf scratch = { 0 }, tx = { 0 };
	dblog_reader_init(&r, fd);
	const char *line, *why;
	size_t n, total = 0;
	int rc;
	while ((rc = dblog_read_line(&r, &line, &n)) == 1) {
		total += n + !r.unterminated;
		FUZZ_CHECK(total <= size && !memchr(line, '\n', n));
		if (r.lineno == 1)
			dblog_compression(line, n);
		struct dblog_fields f;
		struct dblog_jerr e;
		if (dblog_event_scan(line, n, &f, &e, &scratch) < 0)
			FUZZ_CHECK(e.why);
		int k = dblog_txline_expand(line, n, &tx, &why);
		for (const char *p = tx.p; k > 0; k--) {
			size_t len = strlen(p);
			dblog_event_scan(p, len, &f, &e, &scratch);
			p += len + 1;
		}
	}
	FUZZ_CHECK(rc == 0 && total == size);
	dblog_reader_free(&r);
	dblog_buf_free(&scratch);
	dblog_buf_free(&tx);
	close(fd);
	return 0;
}
