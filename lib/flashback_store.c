/* flashback_store.c - records read back newest first. Records are
 * appended to a segment in memory; a full segment is written to an
 * unlinked temporary file. Each record ends with its type and length, so a
 * segment is walked from its end: the last segment (in memory) first, then
 * the ones in the file, loaded one at a time. Memory stays within about
 * one segment, whatever the number of records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_flashback.h"

#define TRAILER 5   /* type byte + 32-bit length */

struct seg {
	uint64_t off, len;
};

struct dblog_fbstore {
	struct dblog_buf mem;       /* the segment being filled, then read */
	size_t seg_max;
	const char *dir;
	int fd;                     /* spill file, -1 until needed */
	uint64_t file_len;
	struct seg *segs;
	size_t nseg, cap;
	/* reading back */
	int reading;
	size_t cur;                 /* segments left in the file */
	char *rd;                   /* the segment being read */
	size_t at;                  /* end of the next record in rd */
	char err[512];
};

struct dblog_fbstore *
dblog_fbstore_new(uint64_t max_memory, const char *dir)
{
	struct dblog_fbstore *s = dblog_xmalloc(sizeof *s);
	memset(s, 0, sizeof *s);
	/* the segment being filled and the one being read back never
	 * coexist, but a record larger than a segment grows it */
	s->seg_max = max_memory < (1u << 16) ? (1u << 16) : (size_t)max_memory;
	s->dir = dir;
	s->fd = -1;
	return s;
}

static int
open_spill(struct dblog_fbstore *s)
{
	const char *dir = s->dir ? s->dir : getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	struct dblog_buf path = { 0 };
	dblog_buf_printf(&path, "%s/dblog-flashback.XXXXXX", dir);
	s->fd = mkstemp(path.p);
	if (s->fd < 0) {
		snprintf(s->err, sizeof s->err, "cannot create a spill file in \"%s\": %s", dir,
			 strerror(errno));
		dblog_buf_free(&path);
		return -1;
	}
	unlink(path.p);
	dblog_buf_free(&path);
	return 0;
}

static int
write_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Move the segment in memory to the spill file. */
static int
spill(struct dblog_fbstore *s)
{
	if (s->fd < 0 && open_spill(s))
		return -1;
	if (write_all(s->fd, s->mem.p, s->mem.len, s->file_len)) {
		snprintf(s->err, sizeof s->err, "cannot write the spill file: %s",
			 errno ? strerror(errno) : "disk full");
		return -1;
	}
	if (s->nseg == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->segs = dblog_xrealloc(s->segs, s->cap * sizeof *s->segs);
	}
	s->segs[s->nseg++] = (struct seg){ s->file_len, s->mem.len };
	s->file_len += s->mem.len;
	dblog_buf_clear(&s->mem);
	return 0;
}

int
dblog_fbstore_put(struct dblog_fbstore *s, char type, const void *data, size_t n)
{
	if (n > UINT32_MAX) {
		snprintf(s->err, sizeof s->err, "an event of %zu bytes is too large", n);
		return -1;
	}
	if (s->mem.len && s->mem.len + n + TRAILER > s->seg_max && spill(s))
		return -1;
	unsigned char t[TRAILER];
	uint32_t len = (uint32_t)n;
	t[0] = (unsigned char)type;
	memcpy(t + 1, &len, 4);
	dblog_buf_add(&s->mem, data, n);
	dblog_buf_add(&s->mem, t, TRAILER);
	return 0;
}

/* Load the previous segment of the file into s->rd. 1, 0 (none), -1. */
static int
load_prev(struct dblog_fbstore *s)
{
	if (!s->cur)
		return 0;
	const struct seg *g = &s->segs[--s->cur];
	s->rd = dblog_xrealloc(s->rd, g->len ? g->len : 1);
	size_t got = 0;
	while (got < g->len) {
		ssize_t r = pread(s->fd, s->rd + got, g->len - got, (off_t)(g->off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(s->err, sizeof s->err, "cannot read the spill file: %s",
				 r < 0 ? strerror(errno) : "short file");
			return -1;
		}
		got += (size_t)r;
	}
	s->at = g->len;
	return 1;
}

int
dblog_fbstore_prev(struct dblog_fbstore *s, char *type, const char **data, size_t *n)
{
	if (!s->reading) {
		s->reading = 1;
		s->cur = s->nseg;
		/* the last segment is the one in memory: read it in place */
		s->rd = s->mem.p;
		s->at = s->mem.len;
		s->mem = (struct dblog_buf){ 0 };
	}
	while (s->at == 0) {
		int rc = load_prev(s);
		if (rc <= 0)
			return rc;
	}
	uint32_t len;
	const char *end = s->rd + s->at;
	*type = end[-TRAILER];
	memcpy(&len, end - 4, 4);
	*data = end - TRAILER - len;
	*n = len;
	s->at -= len + TRAILER;
	return 1;
}

const char *
dblog_fbstore_error(const struct dblog_fbstore *s)
{
	return s->err;
}

uint64_t
dblog_fbstore_spilled(const struct dblog_fbstore *s)
{
	return s->file_len;
}

void
dblog_fbstore_free(struct dblog_fbstore *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	dblog_buf_free(&s->mem);
	free(s->rd);
	free(s->segs);
	free(s);
}
