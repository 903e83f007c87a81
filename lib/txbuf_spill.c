/* txbuf_spill.c - bounded memory for dblog-txbuf: when the events held
 * would pass the budget, the largest transactions are written, sorted by
 * seq, as runs to one spill file, which has no name (O_TMPFILE, or removed
 * right after it is made) so that nothing is left behind however the
 * process ends. At delivery the runs and what is still in memory are
 * merged, at most TXB_FANIN runs at a time, and their space is given back
 * (holes punched; the file truncated once no run is left). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "txbuf_impl.h"

#define TXB_FANIN 64
#define RUN_HDR (sizeof(int64_t) + sizeof(uint32_t))

static int
rec_cmp(const void *a, const void *c)
{
	const struct rec *x = a, *y = c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

void
txb_sort(struct tx *t)
{
	if (!t->sorted)
		qsort(t->rec, t->nrec, sizeof *t->rec, rec_cmp);
	t->sorted = 1;
}

static int
spill_fail(struct dblog_txbuf *b, const char *what)
{
	snprintf(b->err, sizeof b->err, "cannot %s a spill file in \"%s\": %s", what,
		 b->o.spill_dir, errno ? strerror(errno) : "short file");
	return -1;
}

static int
spill_open(struct dblog_txbuf *b)
{
	if (b->spill_fd >= 0)
		return 0;
#ifdef O_TMPFILE
	b->spill_fd = open(b->o.spill_dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (b->spill_fd >= 0)
		return 0;
#endif
	struct dblog_buf path = { 0 };
	dblog_buf_printf(&path, "%s/dblog-txbuf.XXXXXX", b->o.spill_dir);
	b->spill_fd = mkostemp(path.p, O_CLOEXEC);
	if (b->spill_fd >= 0)
		unlink(path.p);    /* gone as soon as it is closed, whatever happens */
	dblog_buf_free(&path);
	return b->spill_fd < 0 ? spill_fail(b, "create") : 0;
}

/* Appends records to the spill file through a buffer. */
struct runwr {
	struct dblog_txbuf *b;
	struct dblog_buf w;
	struct run r;
	int rc;
};

static void
runwr_flush(struct runwr *wr)
{
	const char *p = wr->w.p;
	size_t n = wr->w.len;
	while (n && !wr->rc) {
		ssize_t k = pwrite(wr->b->spill_fd, p, n, wr->r.end);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (!k)
				errno = ENOSPC;
			wr->rc = -1;
			break;
		}
		p += k;
		n -= (size_t)k;
		wr->r.end += k;
	}
	dblog_buf_clear(&wr->w);
}

static void
runwr_put(void *arg, int64_t seq, const char *p, size_t n)
{
	struct runwr *wr = arg;
	uint32_t len = (uint32_t)n;
	dblog_buf_add(&wr->w, &seq, sizeof seq);
	dblog_buf_add(&wr->w, &len, sizeof len);
	dblog_buf_add(&wr->w, p, n);
	if (wr->w.len >= 65536)
		runwr_flush(wr);
}

/* Finish the run being written: 0, or -1 with b->err set. */
static int
runwr_end(struct runwr *wr)
{
	runwr_flush(wr);
	dblog_buf_free(&wr->w);
	if (wr->rc)
		return spill_fail(wr->b, "write");
	wr->b->spill_end = wr->r.end;
	wr->b->live_runs++;
	wr->b->st.spills++;
	wr->b->st.spilled_bytes += (uint64_t)(wr->r.end - wr->r.off);
	return 0;
}

static void
add_run(struct tx *t, size_t at, struct run r)
{
	t->runs = dblog_xrealloc(t->runs, (t->nruns + 1) * sizeof *t->runs);
	memmove(t->runs + at + 1, t->runs + at, (t->nruns - at) * sizeof *t->runs);
	t->runs[at] = r;
	t->nruns++;
}

/* Write t's in-memory records to the spill file as one sorted run. */
static int
tx_spill(struct dblog_txbuf *b, struct tx *t)
{
	if (!t->nrec || spill_open(b))
		return t->nrec ? -1 : 0;
	txb_sort(t);
	struct runwr wr = { b, { 0 }, { b->spill_end, b->spill_end }, 0 };
	for (size_t k = 0; k < t->nrec; k++)
		runwr_put(&wr, t->rec[k].seq, t->data.p + t->rec[k].off, t->rec[k].len);
	if (runwr_end(&wr))
		return -1;
	add_run(t, t->nruns, wr.r);
	dblog_buf_free(&t->data);
	free(t->rec);
	t->rec = NULL;
	t->nrec = t->caprec = 0;
	t->sorted = 1;
	t->memmax = INT64_MIN;
	txb_recount(b, t);
	return 0;
}

int
txb_enforce_memory(struct dblog_txbuf *b, size_t extra)
{
	if (b->mem + extra <= b->budget)
		return 0;
	/* down to half the budget: fewer, longer runs, and whole pages free */
	size_t target = b->budget / 2 > extra ? b->budget / 2 - extra : 0;
	int spilled = 0;
	while (b->mem > target) {
		struct tx *big = NULL;
		for (struct tx *t = b->head; t; t = t->next)
			if (!big || t->data.cap > big->data.cap)
				big = t;
		for (size_t i = 0; i < b->nbatch; i++)
			if (!big || b->batch[i]->data.cap > big->data.cap)
				big = b->batch[i];
		if (!big || !big->nrec)
			break;
		if (tx_spill(b, big))
			return -1;
		spilled = 1;
	}
	/* the freed buffers of small transactions lie between others on the
	 * heap: give their pages back, or the resident size would not drop */
	if (spilled)
		malloc_trim(0);
	return 0;
}

void
txb_release_runs(struct dblog_txbuf *b, struct tx *t)
{
	for (size_t i = 0; i < t->nruns; i++) {
#ifdef FALLOC_FL_PUNCH_HOLE
		fallocate(b->spill_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, t->runs[i].off,
			  t->runs[i].end - t->runs[i].off);
#endif
		b->live_runs--;
	}
	t->nruns = 0;
	if (b->spill_fd >= 0 && !b->live_runs && b->spill_end) {
		if (ftruncate(b->spill_fd, 0) == 0)
			b->spill_end = 0;
	}
}

/* ------------------------------------------------------------ merging */

/* Reads one run of the spill file back, record by record. */
struct runrd {
	int fd;
	off_t off, end;
	char *buf;
	size_t cap, pos, len;
	int64_t seq;
	uint32_t n;
	const char *p;      /* current record's bytes, NULL at the end */
};

/* The next record into r->p, NULL at the end of the run. 0 or -1. */
static int
runrd_next(struct runrd *r)
{
	r->p = NULL;
	for (;;) {
		size_t have = r->len - r->pos;
		if (have >= RUN_HDR) {
			uint32_t n;
			memcpy(&n, r->buf + r->pos + sizeof(int64_t), sizeof n);
			if (have >= RUN_HDR + n) {
				memcpy(&r->seq, r->buf + r->pos, sizeof r->seq);
				r->n = n;
				r->p = r->buf + r->pos + RUN_HDR;
				r->pos += RUN_HDR + n;
				return 0;
			}
			if (RUN_HDR + n > r->cap) {
				r->cap = RUN_HDR + n;
				r->buf = dblog_xrealloc(r->buf, r->cap);
			}
		}
		if (r->off == r->end) {
			errno = 0;
			return have ? -1 : 0;    /* a record cut short */
		}
		memmove(r->buf, r->buf + r->pos, have);
		r->len = have;
		r->pos = 0;
		size_t want = r->cap - r->len;
		if ((off_t)want > r->end - r->off)
			want = (size_t)(r->end - r->off);
		ssize_t got = pread(r->fd, r->buf + r->len, want, r->off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (!got)
				errno = 0;
			return -1;
		}
		r->len += (size_t)got;
		r->off += got;
	}
}

typedef void merge_put(void *arg, int64_t seq, const char *p, size_t n);

/* Merge runs [0, nr) of t, and its records in memory if mem, into put, in
 * (seq, run order) order, memory last on ties. 0 or -1 (b->err set). */
static int
merge(struct dblog_txbuf *b, struct tx *t, size_t nr, int mem, merge_put *put, void *arg)
{
	struct runrd *rd = dblog_xmalloc((nr + 1) * sizeof *rd);
	size_t cap = b->o.max_memory / 16 / (nr + 1), k = 0, nm = mem ? t->nrec : 0;
	cap = cap < 4096 ? 4096 : cap > (1 << 20) ? (1 << 20) : cap;
	int rc = 0;
	if (mem)
		txb_sort(t);
	for (size_t i = 0; i < nr; i++) {
		rd[i] = (struct runrd){ .fd = b->spill_fd, .off = t->runs[i].off,
					.end = t->runs[i].end, .buf = dblog_xmalloc(cap), .cap = cap };
		if (!rc && runrd_next(&rd[i]))
			rc = -1;
	}
	while (!rc) {
		size_t best = SIZE_MAX;
		int64_t bs = 0;
		for (size_t i = 0; i < nr; i++)
			if (rd[i].p && (best == SIZE_MAX || rd[i].seq < bs)) {
				best = i;
				bs = rd[i].seq;
			}
		if (k < nm && (best == SIZE_MAX || t->rec[k].seq < bs)) {
			put(arg, t->rec[k].seq, t->data.p + t->rec[k].off, t->rec[k].len);
			k++;
			continue;
		}
		if (best == SIZE_MAX)
			break;
		put(arg, rd[best].seq, rd[best].p, rd[best].n);
		if (runrd_next(&rd[best]))
			rc = -1;
	}
	for (size_t i = 0; i < nr; i++)
		free(rd[i].buf);
	free(rd);
	return rc ? spill_fail(b, "read back") : 0;
}

/* Merge t's first TXB_FANIN runs into one, so that few are read at once. */
static int
merge_first_runs(struct dblog_txbuf *b, struct tx *t)
{
	struct runwr wr = { b, { 0 }, { b->spill_end, b->spill_end }, 0 };
	if (merge(b, t, TXB_FANIN, 0, runwr_put, &wr) || runwr_end(&wr))
		return -1;
	b->st.spills--;     /* the same bytes again, not a new spill */
	b->st.spilled_bytes -= (uint64_t)(wr.r.end - wr.r.off);
	struct tx old = { .nruns = TXB_FANIN, .runs = t->runs };
	txb_release_runs(b, &old);
	memmove(t->runs, t->runs + TXB_FANIN, (t->nruns - TXB_FANIN) * sizeof *t->runs);
	t->nruns -= TXB_FANIN;
	add_run(t, 0, wr.r);
	txb_recount(b, t);
	return 0;
}

struct put_arg {
	void (*put)(void *arg, const char *p, size_t n);
	void *arg;
};

static void
put_change(void *arg, int64_t seq, const char *p, size_t n)
{
	struct put_arg *pa = arg;
	(void)seq;
	pa->put(pa->arg, p, n);
}

int
txb_each_change(struct dblog_txbuf *b, struct tx *t,
		void (*put)(void *arg, const char *p, size_t n), void *arg)
{
	while (t->nruns > TXB_FANIN)
		if (merge_first_runs(b, t))
			return -1;
	struct put_arg pa = { put, arg };
	return merge(b, t, t->nruns, 1, put_change, &pa);
}
