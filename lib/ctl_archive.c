/* ctl_archive.c - a stream's archive: the events passed to dblog-apply,
 * kept as NDJSON segment files named by the UTC time they were started
 * (archive/20261122T100000.123456Z.ndjson), so that name order is time
 * order; segments older than the retention are deleted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

#define SEGMENT_BYTES (64ULL << 20)
#define SEGMENT_MS (3600LL * 1000)
#define SYNC_MS 1000
#define BUF_BYTES (1 << 20)

static int
is_segment(const char *name)
{
	size_t n = strlen(name);
	return n > 7 && !strcmp(name + n - 7, ".ndjson") && name[0] >= '0' && name[0] <= '9';
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
dblog_ctl_archive_segments(const char *dir, struct dblog_list *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	size_t first = out->n;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_segment(de->d_name))
			continue;
		struct dblog_buf p = { 0 };
		dblog_buf_printf(&p, "%s/%s", dir, de->d_name);
		out->v = dblog_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n++] = p.p;
	}
	closedir(d);
	if (out->n > first)
		qsort(out->v + first, out->n - first, sizeof *out->v, cmp_str);
	return 0;
}

void
dblog_ctl_archive_prune(const char *dir, int64_t keep_ms)
{
	struct dblog_list segs = { 0 };
	if (keep_ms <= 0 || dblog_ctl_archive_segments(dir, &segs))
		return;
	time_t now = time(NULL);
	/* the newest segment is the one being written: kept */
	for (size_t i = 0; i + 1 < segs.n; i++) {
		struct stat st;
		if (!stat(segs.v[i], &st) && (int64_t)(now - st.st_mtime) * 1000 > keep_ms)
			unlink(segs.v[i]);
	}
	dblog_list_free(&segs);
}

static int
open_segment(const char *dir)
{
	char t[40], name[40];
	dblog_time_format(dblog_time_now(), t, sizeof t);
	/* 2026-11-22T10:00:00.123456Z -> 20261122T100000.123456Z */
	size_t j = 0;
	for (size_t i = 0; t[i] && j < sizeof name - 1; i++)
		if (t[i] != '-' && t[i] != ':')
			name[j++] = t[i];
	name[j] = 0;
	struct dblog_buf p = { 0 };
	dblog_buf_printf(&p, "%s/%s.ndjson", dir, name);
	int fd = open(p.p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		dblog_err("cannot create the archive segment \"%s\": %s", p.p, strerror(errno));
	dblog_buf_free(&p);
	return fd;
}

int
dblog_ctl_archive_tee(int in_fd, int out_fd, const char *dir, int64_t keep_ms)
{
	char *buf = dblog_xmalloc(BUF_BYTES);
	dblog_ctl_archive_prune(dir, keep_ms);
	int seg = open_segment(dir);
	uint64_t seg_bytes = 0;
	int64_t seg_start = dblog_now_ms(), synced = seg_start;
	int status = seg < 0;
	while (!status) {
		ssize_t n = read(in_fd, buf, BUF_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				dblog_err("archive: cannot read: %s", strerror(errno));
			status = n < 0;
			break;
		}
		/* the archive first: what dblog-apply gets is in a segment */
		size_t cut = (size_t)n;
		int64_t now = dblog_now_ms();
		int rotate = seg_bytes + (uint64_t)n > SEGMENT_BYTES || now - seg_start > SEGMENT_MS;
		if (rotate) {
			char *nl = memrchr(buf, '\n', (size_t)n);
			cut = nl ? (size_t)(nl + 1 - buf) : (size_t)n;
		}
		if (dblog_write_all(seg, buf, cut)) {
			dblog_err("archive: cannot write: %s", strerror(errno));
			status = 1;
			break;
		}
		seg_bytes += cut;
		if (rotate) {
			fdatasync(seg);
			close(seg);
			dblog_ctl_archive_prune(dir, keep_ms);
			if ((seg = open_segment(dir)) < 0 || dblog_write_all(seg, buf + cut, (size_t)n - cut)) {
				status = 1;
				break;
			}
			seg_bytes = (size_t)n - cut;
			seg_start = now;
		}
		if (now - synced >= SYNC_MS) {
			fdatasync(seg);
			synced = now;
		}
		if (dblog_write_all(out_fd, buf, (size_t)n)) {
			dblog_err("archive: cannot write to dblog-apply: %s", strerror(errno));
			status = 1;
		}
	}
	if (seg >= 0) {
		if (fdatasync(seg) && !status) {
			dblog_err("archive: cannot sync: %s", strerror(errno));
			status = 1;
		}
		close(seg);
	}
	free(buf);
	return status;
}

/* Count the changes of one segment after (pos, seq); *first gets whether
 * its first positioned event is after the point. */
static int64_t
count_after(const char *path, const struct dblog_pos *cpos, int64_t cseq, int has_seq,
	    int *first_after)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct dblog_reader rd;
	struct dblog_fields f;
	struct dblog_jerr e;
	struct dblog_buf scratch = { 0 };
	const char *line;
	size_t n;
	int64_t count = 0;
	int seen = 0;
	*first_after = 0;
	dblog_reader_init(&rd, fd);
	while (dblog_read_line(&rd, &line, &n) == 1) {
		struct dblog_pos p;
		if (dblog_event_scan(line, n, &f, &e, &scratch) || !f.pos.p ||
		    dblog_pos_from_span(f.pos, &p))
			continue;
		int64_t seq = f.seq.p && DBLOG_OP_IS_CHANGE(f.op) ? strtoll(f.seq.p, NULL, 10) : -1;
		int after = cpos->kind == DBLOG_POS_NONE ||
			    dblog_pos_after(&p, seq, cpos, cseq, has_seq) == 1;
		if (!seen++)
			*first_after = after;
		if (after && DBLOG_OP_IS_CHANGE(f.op))
			count++;
	}
	dblog_buf_free(&scratch);
	dblog_reader_free(&rd);
	close(fd);
	return count;
}

int64_t
dblog_ctl_archive_after(const char *dir, const json_t *cp)
{
	struct dblog_list segs = { 0 };
	if (dblog_ctl_archive_segments(dir, &segs))
		return -1;
	struct dblog_pos pos = { 0 };
	int64_t seq = -1, total = 0;
	int has_seq = 0;
	if (cp)
		dblog_checkpoint_pos(cp, &pos, &seq, &has_seq);
	/* newest first, until a segment that starts at or before the point */
	for (size_t i = segs.n; i-- > 0;) {
		int first_after;
		int64_t c = count_after(segs.v[i], &pos, seq, has_seq, &first_after);
		if (c < 0) {
			total = -1;
			break;
		}
		total += c;
		if (cp && !first_after)
			break;
	}
	dblog_list_free(&segs);
	return total;
}
