/* ndjson.c - line I/O: a reader with one reused buffer, checked writes,
 * the dead-letter queue. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"

#define READ_CHUNK (256 * 1024)

void
dblog_reader_init(struct dblog_reader *r, int fd)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->cap = READ_CHUNK * 2;
	r->buf = dblog_xmalloc(r->cap);
}

void
dblog_reader_free(struct dblog_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Wait for input up to idle_ms. 1 readable, 0 timeout, 3 stop, -1 error. */
static int
wait_input(struct dblog_reader *r)
{
	int64_t deadline = dblog_now_ms() + r->idle_ms;
	for (;;) {
		if (r->stop && *r->stop)
			return 3;
		int64_t left = deadline - dblog_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* Read more bytes into the buffer. 1 read some, 0 EOF, 2 idle, 3 stop, -1. */
static int
fill(struct dblog_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end < READ_CHUNK) {
		r->cap *= 2;
		r->buf = dblog_xrealloc(r->buf, r->cap);
	}
	if (r->flush_before_read)
		fflush(r->flush_before_read);
	for (;;) {
		if (r->stop && *r->stop)
			return 3;
		if (r->idle_ms > 0) {
			int w = wait_input(r);
			if (w != 1)
				return w == 0 ? 2 : w;
		}
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n > 0) {
			r->end += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int
dblog_read_line(struct dblog_reader *r, const char **line, size_t *n)
{
	size_t scanned = r->start;
	for (;;) {
		char *nl = memchr(r->buf + scanned, '\n', r->end - scanned);
		if (nl) {
			*line = r->buf + r->start;
			*n = (size_t)(nl - (r->buf + r->start));
			r->start = (size_t)(nl - r->buf) + 1;
			r->lineno++;
			return 1;
		}
		if (r->eof) {
			if (r->end > r->start) {
				*line = r->buf + r->start;
				*n = r->end - r->start;
				r->start = r->end;
				r->lineno++;
				r->unterminated = 1;
				return 1;
			}
			return 0;
		}
		scanned = r->end - r->start;
		int f = fill(r);
		scanned += r->start;
		if (f == 0)
			r->eof = 1;
		else if (f != 1)
			return f;
	}
}

int
dblog_write_line(FILE *f, const char *p, size_t n)
{
	if (fwrite(p, 1, n, f) != n || putc('\n', f) == EOF)
		return -1;
	return 0;
}

static char *stdout_buf;

void
dblog_stdout_init(int unbuffered)
{
	if (unbuffered)
		return;
	stdout_buf = dblog_xmalloc(256 * 1024);
	setvbuf(stdout, stdout_buf, _IOFBF, 256 * 1024);
}

int
dblog_stdout_close(void)
{
	int bad = fflush(stdout) != 0 || ferror(stdout);
	int e = errno;
	if (fclose(stdout) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	free(stdout_buf);   /* setvbuf's buffer must outlive the stream */
	stdout_buf = NULL;
	if (bad) {
		dblog_err("cannot write standard output: %s", strerror(e ? e : EIO));
		return DBLOG_EXIT_FAIL;
	}
	return DBLOG_EXIT_OK;
}

void
dblog_die_write(void)
{
	dblog_die(DBLOG_EXIT_FAIL, "cannot write standard output: %s",
		  strerror(errno ? errno : EIO));
}

int
dblog_dlq_open(struct dblog_dlq *q, const char *path)
{
	memset(q, 0, sizeof *q);
	q->path = path;
	q->f = fopen(path, "a");
	if (!q->f) {
		dblog_err("cannot open dead-letter file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
dblog_dlq_put(struct dblog_dlq *q, uint64_t lineno, const char *line, size_t n,
	      const char *why)
{
	return dblog_dlq_put_extra(q, lineno, line, n, why, NULL, NULL);
}

int
dblog_dlq_put_extra(struct dblog_dlq *q, uint64_t lineno, const char *line, size_t n,
		    const char *why, const char *key, const char *json)
{
	struct dblog_buf b = { 0 };
	char t[40];
	dblog_time_format(dblog_time_now(), t, sizeof t);
	dblog_buf_adds(&b, "{\"program\":");
	dblog_json_escape(&b, dblog_prog, strlen(dblog_prog));
	dblog_buf_printf(&b, ",\"line\":%llu,\"error\":", (unsigned long long)lineno);
	dblog_json_escape(&b, why, strlen(why));
	dblog_buf_printf(&b, ",\"time\":\"%s\",", t);
	struct dblog_jerr e;
	const char *s = dblog_json_ws(line, line + n);
	const char *end = s < line + n ? dblog_json_skip(s, line + n, line, &e) : NULL;
	if (end && dblog_json_ws(end, line + n) == line + n) {
		dblog_buf_adds(&b, "\"event\":");
		dblog_buf_add(&b, s, (size_t)(end - s));
	} else if (dblog_utf8_valid(line, n)) {
		dblog_buf_adds(&b, "\"raw\":");
		dblog_json_escape(&b, line, n);
	} else {
		/* not UTF-8: the bytes in hex, so the record stays valid JSON */
		static const char hex[] = "0123456789abcdef";
		dblog_buf_adds(&b, "\"raw_hex\":\"");
		for (size_t i = 0; i < n; i++) {
			dblog_buf_addc(&b, hex[(unsigned char)line[i] >> 4]);
			dblog_buf_addc(&b, hex[(unsigned char)line[i] & 15]);
		}
		dblog_buf_addc(&b, '"');
	}
	if (key) {
		dblog_buf_printf(&b, ",\"%s\":%s", key, json ? json : "null");
	}
	dblog_buf_adds(&b, "}\n");
	int rc = 0;
	if (fwrite(b.p, 1, b.len, q->f) != b.len || fflush(q->f)) {
		dblog_err("cannot write dead-letter file \"%s\": %s", q->path, strerror(errno));
		rc = -1;
	}
	dblog_buf_free(&b);
	q->count++;
	return rc;
}

int
dblog_dlq_close(struct dblog_dlq *q)
{
	if (!q->f)
		return 0;
	int rc = 0;
	if (fflush(q->f) || (fsync(fileno(q->f)) && errno != EINVAL && errno != EROFS) ||
	    ferror(q->f)) {
		dblog_err("cannot write dead-letter file \"%s\": %s", q->path, strerror(errno));
		rc = -1;
	}
	if (fclose(q->f) && !rc) {
		dblog_err("cannot close dead-letter file \"%s\": %s", q->path, strerror(errno));
		rc = -1;
	}
	q->f = NULL;
	if (q->count)
		dblog_warn("%llu event%s parked in \"%s\"", (unsigned long long)q->count,
			   q->count == 1 ? "" : "s", q->path);
	return rc;
}

const char *
dblog_compression(const char *p, size_t n)
{
	static const struct { const char *magic; size_t n; const char *name; } z[] = {
		{ "\x1f\x8b", 2, "gzip" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd" },
		{ "\xfd" "7zXZ", 5, "xz" },
	};
	for (size_t i = 0; i < sizeof z / sizeof *z; i++)
		if (n >= z[i].n && !memcmp(p, z[i].magic, z[i].n))
			return z[i].name;
	/* bzip2: "BZh" and the block size, a digit */
	if (n >= 4 && !memcmp(p, "BZh", 3) && p[3] >= '1' && p[3] <= '9')
		return "bzip2";
	return NULL;
}

/* The input of a whole run is compressed: nothing in it can be read, so
 * it stops the run even with a DLQ. */
static int
compressed_input(const char *line, size_t n)
{
	static const struct { const char *name, *cat, *ext; } z[] = {
		{ "gzip", "zcat", "gz" }, { "zstd", "zstdcat", "zst" },
		{ "xz", "xzcat", "xz" }, { "bzip2", "bzcat", "bz2" },
	};
	const char *name = dblog_compression(line, n);
	if (!name)
		return 0;
	size_t i = 0;
	while (strcmp(z[i].name, name))
		i++;
	dblog_err("line 1: the input is %s-compressed data, not NDJSON events: decompress it "
		  "on the way in, e.g. %s archive.ndjson.%s | %s ...", name, z[i].cat, z[i].ext,
		  dblog_prog);
	return 1;
}

int
dblog_bad_line(struct dblog_dlq *q, uint64_t lineno, const char *line, size_t n,
	       const char *why)
{
	if (lineno == 1 && compressed_input(line, n))
		return -1;
	if (q && q->f)
		return dblog_dlq_put(q, lineno, line, n, why);
	dblog_err("line %llu: %s (fix or remove the line, or use --dlq FILE to park "
		  "bad events and go on)", (unsigned long long)lineno, why);
	return -1;
}

void
dblog_warn_cut(uint64_t lineno)
{
	dblog_warn("line %llu: the input ends inside this line (no newline, not JSON): the writer "
		   "stopped mid-event; the line is left out", (unsigned long long)lineno);
}
