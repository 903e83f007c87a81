/* txbuf.c - the transaction buffer of dblog-txbuf: holds the events of each
 * transaction until it is complete, then writes it whole, in commit order,
 * with the reason and the batch of its delivery; spills large transactions
 * to files to keep memory bounded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"

/* One stored change (or schema event) of a transaction. */
struct rec {
	int64_t seq;
	uint32_t len;       /* bytes, the '\n' included */
};

/* A sorted run of records written to a transaction's spill file:
 * records of [int64 seq][uint32 len][len bytes]. */
struct run {
	off_t off, end;
	int64_t first, last;
};

struct source {
	char *raw;          /* the "source" JSON text ("" when absent) */
	size_t n;
	int markers;        /* has sent begin/commit with a tx */
	int64_t hb_ct;      /* commit_time of its last heartbeat without table */
	uint64_t pending;   /* transactions not written yet */
	struct dblog_buf held;  /* a heartbeat waiting for them */
};

struct table {
	struct source *src;
	char *name;         /* the "table" JSON text */
	size_t n;
	int64_t max_ct;     /* latest commit_time shown */
};

struct tx {
	struct tx *hnext, *prev, *next;     /* hash chain; arrival list */
	uint64_t hash;
	struct source *src;
	struct dblog_buf key;   /* source text, NUL, tx text */
	size_t txoff;           /* where the tx text starts in key */
	int has_begin, has_commit, in_list;
	size_t heap_i;          /* position in the marker-less heap, or SIZE_MAX */
	uint64_t serial;        /* arrival order */
	int64_t arrived_ms;
	enum dblog_txbuf_reason reason;
	struct dblog_buf begin, commit;     /* the marker lines */
	struct dblog_buf data;  /* change lines, '\n' after each */
	struct rec *rec;
	size_t nrec, caprec;
	int sorted;
	int64_t maxseq;
	uint64_t count, bytes;  /* changes and their bytes, spilled ones too */
	int64_t ct;             /* commit_time (marker-less order), us */
	int has_ct;
	struct dblog_pos pos0;  /* first pos (marker-less order) */
	struct dblog_pos maxpos;
	struct dblog_buf ct_raw, pos_raw;   /* JSON texts for synthesized markers */
	struct table **tables;
	size_t ntables, captables;
	int fd;                 /* spill file, -1 none */
	struct run *runs;
	size_t nruns;
	off_t fend;
	size_t mem;             /* bytes counted against max_memory */
};

#define RECENT 4096

struct dblog_txbuf {
	struct dblog_txbuf_opts o;
	FILE *out;
	struct tx **buckets;
	size_t nbuckets, ntx;
	struct tx *head, *tail;         /* pending transactions by arrival */
	struct tx **heap;               /* marker-less ones by (commit_time, pos) */
	size_t nheap, capheap;
	struct tx **batch;              /* complete, waiting for their batch */
	size_t nbatch, capbatch;
	uint64_t batch_rows;
	int64_t batch_opened;
	struct source **srcs;
	size_t nsrcs;
	struct table **tables;
	size_t ntables;
	uint64_t recent[RECENT];        /* hashes of delivered transactions */
	struct tx *last;                /* the transaction of the last event */
	uint64_t serial;
	int64_t event_ct;               /* latest commit_time of the stream */
	int64_t last_ms;                /* batch id clock */
	uint32_t id_lo;
	size_t mem;
	size_t budget;                  /* max_memory less the fixed overhead */
	struct dblog_buf line, tmp;
	struct dblog_txbuf_stats st;
	char err[512];
};

static const char *const reason_names[] = {
	[DBLOG_TXB_COMMIT] = "commit", [DBLOG_TXB_COMMIT_TIME] = "commit_time",
	[DBLOG_TXB_POLL_INTERVAL] = "poll_interval", [DBLOG_TXB_TIMEOUT] = "timeout",
	[DBLOG_TXB_BATCH_LIMIT] = "batch_limit", [DBLOG_TXB_FLUSH] = "flush",
};

const char *
dblog_txbuf_reason_name(enum dblog_txbuf_reason r)
{
	return reason_names[r];
}

/* ------------------------------------------------------------ helpers */

static uint64_t
hash_bytes(const char *p, size_t n, uint64_t h)
{
	/* 8 bytes a step: the keys are a source object and a tx id */
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = (h ^ v) * 0x9E3779B97F4A7C15ULL;
		h ^= h >> 29;
	}
	for (; n; p++, n--)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

static int64_t
span_int(struct dblog_span v)
{
	int64_t x = 0;
	size_t i = v.n && v.p[0] == '-';
	for (; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++)
		x = x * 10 + (v.p[i] - '0');
	return v.n && v.p[0] == '-' ? -x : x;
}

static int
span_null(struct dblog_span v)
{
	return !v.p || dblog_json_type(v) == DBLOG_J_NULL;
}

static size_t
tx_mem_of(const struct tx *t)
{
	return sizeof *t + t->key.cap + t->begin.cap + t->commit.cap + t->data.cap +
	       t->caprec * sizeof *t->rec + t->ct_raw.cap + t->pos_raw.cap +
	       t->captables * sizeof *t->tables + t->nruns * sizeof *t->runs;
}

/* Recount t's memory after it changed. */
static void
tx_recount(struct dblog_txbuf *b, struct tx *t)
{
	size_t m = tx_mem_of(t);
	b->mem = b->mem - t->mem + m;
	t->mem = m;
	if (b->mem > b->st.peak_memory)
		b->st.peak_memory = b->mem;
}

static int
write_fail(struct dblog_txbuf *b)
{
	snprintf(b->err, sizeof b->err, "cannot write standard output: %s", strerror(errno));
	return -1;
}

static void
emit(struct dblog_txbuf *b, const char *p, size_t n)
{
	fwrite(p, 1, n, b->out);
	if (b->o.unbuffered && memchr(p, '\n', n))
		fflush(b->out);
}

/* ------------------------------------------------------------ sources */

static struct source *
source_of(struct dblog_txbuf *b, struct dblog_span s)
{
	const char *p = s.p ? s.p : "";
	size_t n = s.p ? s.n : 0;
	for (size_t i = 0; i < b->nsrcs; i++)
		if (b->srcs[i]->n == n && !memcmp(b->srcs[i]->raw, p, n))
			return b->srcs[i];
	struct source *src = dblog_xmalloc(sizeof *src);
	memset(src, 0, sizeof *src);
	src->raw = dblog_xstrndup(p, n);
	src->n = n;
	src->hb_ct = INT64_MIN;
	b->srcs = dblog_xrealloc(b->srcs, (b->nsrcs + 1) * sizeof *b->srcs);
	b->srcs[b->nsrcs++] = src;
	return src;
}

static struct table *
table_of(struct dblog_txbuf *b, struct source *src, struct dblog_span name)
{
	for (size_t i = b->ntables; i-- > 0;) {
		struct table *tb = b->tables[i];
		if (tb->src == src && tb->n == name.n && !memcmp(tb->name, name.p, name.n))
			return tb;
	}
	struct table *tb = dblog_xmalloc(sizeof *tb);
	tb->src = src;
	tb->name = dblog_xstrndup(name.p, name.n);
	tb->n = name.n;
	tb->max_ct = INT64_MIN;
	b->tables = dblog_xrealloc(b->tables, (b->ntables + 1) * sizeof *b->tables);
	b->tables[b->ntables++] = tb;
	return tb;
}

/* ---------------------------------------------------- the hash of txs */

static uint64_t
key_hash(struct dblog_span src, struct dblog_span tx)
{
	uint64_t h = hash_bytes(src.p ? src.p : "", src.p ? src.n : 0, 0xcbf29ce484222325ULL);
	h = hash_bytes("", 1, h);
	return hash_bytes(tx.p ? tx.p : "", tx.p ? tx.n : 0, h) | 1;
}

static struct tx *
tx_find(struct dblog_txbuf *b, uint64_t h, struct dblog_span src, struct dblog_span tx)
{
	size_t sn = src.p ? src.n : 0, tn = tx.p ? tx.n : 0;
	for (struct tx *t = b->buckets[h & (b->nbuckets - 1)]; t; t = t->hnext)
		if (t->hash == h && t->txoff == sn + 1 && t->key.len == sn + 1 + tn &&
		    (!sn || !memcmp(t->key.p, src.p, sn)) &&
		    (!tn || !memcmp(t->key.p + sn + 1, tx.p, tn)))
			return t;
	return NULL;
}

static void
tx_rehash(struct dblog_txbuf *b)
{
	size_t n = b->nbuckets * 2;
	struct tx **nb = dblog_xmalloc(n * sizeof *nb);
	memset(nb, 0, n * sizeof *nb);
	for (size_t i = 0; i < b->nbuckets; i++)
		for (struct tx *t = b->buckets[i], *nx; t; t = nx) {
			nx = t->hnext;
			t->hnext = nb[t->hash & (n - 1)];
			nb[t->hash & (n - 1)] = t;
		}
	free(b->buckets);
	b->buckets = nb;
	b->nbuckets = n;
}

static void
tx_unhash(struct dblog_txbuf *b, struct tx *t)
{
	struct tx **pp = &b->buckets[t->hash & (b->nbuckets - 1)];
	while (*pp && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = t->hnext;
		b->ntx--;
	}
}

static int
recently_delivered(struct dblog_txbuf *b, uint64_t h)
{
	return b->recent[h % RECENT] == h;
}

/* -------------------------------------------- the marker-less heap */

static int
heap_less(const struct tx *a, const struct tx *c)
{
	if (a->ct != c->ct)
		return a->ct < c->ct;
	int cmp = dblog_pos_cmp(&a->pos0, &c->pos0, NULL);
	if (cmp)
		return cmp < 0;
	return a->serial < c->serial;
}

static void
heap_set(struct dblog_txbuf *b, size_t i, struct tx *t)
{
	b->heap[i] = t;
	t->heap_i = i;
}

static void
heap_up(struct dblog_txbuf *b, size_t i)
{
	struct tx *t = b->heap[i];
	while (i > 0 && heap_less(t, b->heap[(i - 1) / 2])) {
		heap_set(b, i, b->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(b, i, t);
}

static void
heap_down(struct dblog_txbuf *b, size_t i)
{
	struct tx *t = b->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= b->nheap)
			break;
		if (c + 1 < b->nheap && heap_less(b->heap[c + 1], b->heap[c]))
			c++;
		if (!heap_less(b->heap[c], t))
			break;
		heap_set(b, i, b->heap[c]);
		i = c;
	}
	heap_set(b, i, t);
}

static void
heap_push(struct dblog_txbuf *b, struct tx *t)
{
	if (b->nheap == b->capheap) {
		b->capheap = b->capheap ? 2 * b->capheap : 64;
		b->heap = dblog_xrealloc(b->heap, b->capheap * sizeof *b->heap);
	}
	heap_set(b, b->nheap++, t);
	heap_up(b, b->nheap - 1);
}

static void
heap_remove(struct dblog_txbuf *b, struct tx *t)
{
	size_t i = t->heap_i;
	if (i == SIZE_MAX)
		return;
	t->heap_i = SIZE_MAX;
	struct tx *last = b->heap[--b->nheap];
	if (i == b->nheap)
		return;
	heap_set(b, i, last);
	heap_down(b, i);
	heap_up(b, last->heap_i);
}

/* ------------------------------------------------ transactions */

static struct tx *
tx_new(struct dblog_txbuf *b, uint64_t h, struct source *src, struct dblog_span s,
       struct dblog_span txs)
{
	struct tx *t = dblog_xmalloc(sizeof *t);
	memset(t, 0, sizeof *t);
	t->hash = h;
	t->src = src;
	if (s.p)
		dblog_buf_add(&t->key, s.p, s.n);
	dblog_buf_addc(&t->key, 0);    /* the NUL is part of the key */
	t->txoff = t->key.len;
	if (txs.p)
		dblog_buf_add(&t->key, txs.p, txs.n);
	t->heap_i = SIZE_MAX;
	t->sorted = 1;
	t->maxseq = INT64_MIN;
	t->fd = -1;
	t->serial = b->serial++;
	t->arrived_ms = dblog_now_ms();
	size_t i = h & (b->nbuckets - 1);
	t->hnext = b->buckets[i];
	b->buckets[i] = t;
	if (++b->ntx > b->nbuckets)
		tx_rehash(b);
	t->prev = b->tail;
	if (b->tail)
		b->tail->next = t;
	else
		b->head = t;
	b->tail = t;
	t->in_list = 1;
	src->pending++;
	tx_recount(b, t);
	b->st.pending_tx++;
	return t;
}

static void
tx_unlist(struct dblog_txbuf *b, struct tx *t)
{
	if (!t->in_list)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		b->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		b->tail = t->prev;
	t->prev = t->next = NULL;
	t->in_list = 0;
}

static void
tx_free(struct dblog_txbuf *b, struct tx *t)
{
	b->mem -= t->mem;
	b->st.pending_tx--;
	b->st.pending_bytes -= t->bytes;
	if (t->fd >= 0)
		close(t->fd);
	struct dblog_buf *bufs[] = { &t->key, &t->begin, &t->commit, &t->data, &t->ct_raw,
				     &t->pos_raw };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	free(t->rec);
	free(t->tables);
	free(t->runs);
	free(t);
}

static int
markerless(const struct tx *t)
{
	return !t->has_begin && !t->has_commit && !t->src->markers;
}

/* Record pos and commit_time of an event of t (for synthesized markers
 * and the order of marker-less transactions). */
static void
tx_note(struct tx *t, const struct dblog_fields *f)
{
	struct dblog_pos p;
	if (f->pos.p && !dblog_pos_from_span(f->pos, &p)) {
		int bad = 0;
		if (!t->pos_raw.len || dblog_pos_cmp(&p, &t->maxpos, &bad) > 0) {
			if (!t->pos_raw.len)
				t->pos0 = p;
			t->maxpos = p;
			dblog_buf_clear(&t->pos_raw);
			dblog_buf_add(&t->pos_raw, f->pos.p, f->pos.n);
		}
	}
	int64_t us;
	if (!span_null(f->commit_time) && !t->ct_raw.len &&
	    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
		t->ct = us;
		t->has_ct = 1;
		dblog_buf_add(&t->ct_raw, f->commit_time.p, f->commit_time.n);
	}
}

static void
tx_add_table(struct tx *t, struct table *tb)
{
	for (size_t i = t->ntables; i-- > 0;)
		if (t->tables[i] == tb)
			return;
	if (t->ntables == t->captables) {
		t->captables = t->captables ? 2 * t->captables : 4;
		t->tables = dblog_xrealloc(t->tables, t->captables * sizeof *t->tables);
	}
	t->tables[t->ntables++] = tb;
}

static int tx_spill(struct dblog_txbuf *b, struct tx *t);
static int enforce_memory(struct dblog_txbuf *b, size_t extra);

/* How much storing n more bytes in t would allocate. */
static size_t
tx_growth(const struct tx *t, size_t n)
{
	size_t g = 0;
	if (t->data.len + n + 2 > t->data.cap) {
		size_t cap = t->data.cap ? t->data.cap : 256;
		while (cap < t->data.len + n + 2)
			cap *= 2;
		g += cap;   /* realloc may hold old and new for a moment */
	}
	if (t->nrec == t->caprec)
		g += (t->caprec ? 2 * t->caprec : 16) * sizeof *t->rec;
	return g;
}

/* Store one change (or schema) line of t with sort key seq; spill first
 * if the memory it needs would pass the limit. 0 or -1. */
static int
tx_store(struct dblog_txbuf *b, struct tx *t, const char *line, size_t n, int64_t seq)
{
	size_t g = tx_growth(t, n);
	if (g && b->mem + g > b->budget) {
		if (enforce_memory(b, g))
			return -1;
	}
	if (t->nrec == t->caprec) {
		t->caprec = t->caprec ? 2 * t->caprec : 16;
		t->rec = dblog_xrealloc(t->rec, t->caprec * sizeof *t->rec);
	}
	if (seq < t->maxseq)
		t->sorted = 0;
	else
		t->maxseq = seq;
	t->rec[t->nrec].seq = seq;
	t->rec[t->nrec].len = (uint32_t)(n + 1);
	t->nrec++;
	dblog_buf_reserve(&t->data, n + 1);
	memcpy(t->data.p + t->data.len, line, n);
	t->data.p[t->data.len + n] = '\n';
	t->data.len += n + 1;
	t->bytes += n + 1;
	b->st.pending_bytes += n + 1;
	tx_recount(b, t);
	return 0;
}

/* ---------------------------------------------------------- spilling */

struct order {
	int64_t seq;
	size_t i;
};

static int
order_cmp(const void *a, const void *c)
{
	const struct order *x = a, *y = c;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* The in-memory records of t in seq order (stable): an array of record
 * indexes and the offsets of all records. */
static void
tx_order(const struct tx *t, size_t **idx, size_t **off)
{
	*off = dblog_xmalloc((t->nrec + 1) * sizeof **off);
	*idx = dblog_xmalloc((t->nrec + 1) * sizeof **idx);
	size_t o = 0;
	for (size_t i = 0; i < t->nrec; i++) {
		(*off)[i] = o;
		o += t->rec[i].len;
		(*idx)[i] = i;
	}
	if (t->sorted)
		return;
	struct order *ord = dblog_xmalloc((t->nrec + 1) * sizeof *ord);
	for (size_t i = 0; i < t->nrec; i++)
		ord[i] = (struct order){ t->rec[i].seq, i };
	qsort(ord, t->nrec, sizeof *ord, order_cmp);
	for (size_t i = 0; i < t->nrec; i++)
		(*idx)[i] = ord[i].i;
	free(ord);
}

static int
full_write(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
spill_open(struct dblog_txbuf *b, struct tx *t)
{
	struct dblog_buf path = { 0 };
	dblog_buf_printf(&path, "%s/dblog-txbuf.XXXXXX", b->o.spill_dir);
	t->fd = mkstemp(path.p);
	if (t->fd < 0) {
		snprintf(b->err, sizeof b->err, "cannot create a spill file in \"%s\": %s",
			 b->o.spill_dir, strerror(errno));
		dblog_buf_free(&path);
		return -1;
	}
	unlink(path.p);    /* gone as soon as it is closed, whatever happens */
	dblog_buf_free(&path);
	return 0;
}

/* Write t's in-memory records to its spill file as one sorted run. */
static int
tx_spill(struct dblog_txbuf *b, struct tx *t)
{
	if (!t->nrec)
		return 0;
	if (t->fd < 0 && spill_open(b, t))
		return -1;
	size_t *idx, *off;
	tx_order(t, &idx, &off);
	struct dblog_buf w = { 0 };
	struct run r = { t->fend, t->fend, t->rec[idx[0]].seq, t->rec[idx[t->nrec - 1]].seq };
	int rc = 0;
	for (size_t k = 0; k < t->nrec && !rc; k++) {
		const struct rec *x = &t->rec[idx[k]];
		dblog_buf_add(&w, &x->seq, sizeof x->seq);
		dblog_buf_add(&w, &x->len, sizeof x->len);
		dblog_buf_add(&w, t->data.p + off[idx[k]], x->len);
		if (w.len >= 65536 || k + 1 == t->nrec) {
			rc = full_write(t->fd, w.p, w.len);
			r.end += (off_t)w.len;
			dblog_buf_clear(&w);
		}
	}
	free(idx);
	free(off);
	dblog_buf_free(&w);
	if (rc) {
		snprintf(b->err, sizeof b->err, "cannot write a spill file in \"%s\": %s",
			 b->o.spill_dir, strerror(errno));
		return -1;
	}
	t->fend = r.end;
	t->runs = dblog_xrealloc(t->runs, (t->nruns + 1) * sizeof *t->runs);
	t->runs[t->nruns++] = r;
	b->st.spills++;
	b->st.spilled_bytes += (uint64_t)(r.end - r.off);
	dblog_buf_free(&t->data);
	free(t->rec);
	t->rec = NULL;
	t->nrec = t->caprec = 0;
	t->sorted = 1;
	t->maxseq = INT64_MIN;
	tx_recount(b, t);
	return 0;
}

/* Spill the largest transactions until memory plus extra is within the
 * budget. */
static int
enforce_memory(struct dblog_txbuf *b, size_t extra)
{
	while (b->mem + extra > b->budget) {
		struct tx *big = NULL;
		for (struct tx *t = b->head; t; t = t->next)
			if (!big || t->data.cap > big->data.cap)
				big = t;
		for (size_t i = 0; i < b->nbatch; i++)
			if (!big || b->batch[i]->data.cap > big->data.cap)
				big = b->batch[i];
		/* tiny transactions are not worth a file each */
		if (!big || big->data.cap < 65536)
			return 0;
		if (tx_spill(b, big))
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------- writing */

/* Reads one run of a spill file back, record by record. */
struct runrd {
	int fd;
	off_t off, end;
	char *buf;
	size_t cap, pos, len;
	int64_t seq;
	uint32_t n;
	const char *p;      /* current record's bytes, NULL at the end */
};

static int
runrd_next(struct runrd *r)
{
	const size_t hdr = sizeof(int64_t) + sizeof(uint32_t);
	r->p = NULL;
	for (int pass = 0; pass < 2; pass++) {
		if (r->len - r->pos >= hdr) {
			uint32_t n;
			memcpy(&n, r->buf + r->pos + sizeof(int64_t), sizeof n);
			if (r->len - r->pos >= hdr + n) {
				memcpy(&r->seq, r->buf + r->pos, sizeof r->seq);
				r->n = n;
				r->p = r->buf + r->pos + hdr;
				r->pos += hdr + n;
				return 0;
			}
			if (hdr + n > r->cap) {
				r->cap = hdr + n;
				r->buf = dblog_xrealloc(r->buf, r->cap);
			}
		}
		if (pass)
			break;
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		size_t want = r->cap - r->len;
		if ((off_t)want > r->end - r->off)
			want = (size_t)(r->end - r->off);
		while (want) {
			ssize_t got = pread(r->fd, r->buf + r->len, want, r->off);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return -1;
			r->len += (size_t)got;
			r->off += got;
			want -= (size_t)got;
		}
	}
	return r->len == r->pos ? 0 : -1;
}

struct writer {
	struct dblog_txbuf *b;
	int as_tx, first;
};

static void
put_change(struct writer *w, const char *p, size_t n)
{
	if (!w->as_tx) {
		emit(w->b, p, n);
		return;
	}
	if (!w->first)
		putc(',', w->b->out);
	w->first = 0;
	fwrite(p, 1, n - 1, w->b->out);
}

/* Write t's changes in seq order: spilled runs and memory merged. */
static int
put_changes(struct dblog_txbuf *b, struct tx *t, struct writer *w)
{
	if (!t->nruns && t->sorted && !w->as_tx) {
		emit(b, t->data.p, t->data.len);
		return 0;
	}
	size_t *idx, *off, k = 0, nr = t->nruns;
	tx_order(t, &idx, &off);
	struct runrd *rd = dblog_xmalloc((nr + 1) * sizeof *rd);
	size_t cap = b->o.max_memory / 16 / (nr + 1);
	cap = cap < 4096 ? 4096 : cap > (1 << 20) ? (1 << 20) : cap;
	int rc = 0;
	for (size_t i = 0; i < nr; i++) {
		rd[i] = (struct runrd){ .fd = t->fd, .off = t->runs[i].off, .end = t->runs[i].end,
					.buf = dblog_xmalloc(cap), .cap = cap };
		if (runrd_next(&rd[i]))
			rc = -1;
	}
	while (!rc) {
		/* the least seq; ties go to the earlier run, memory last */
		size_t best = SIZE_MAX;
		int64_t bs = 0;
		for (size_t i = 0; i < nr; i++)
			if (rd[i].p && (best == SIZE_MAX || rd[i].seq < bs)) {
				best = i;
				bs = rd[i].seq;
			}
		if (k < t->nrec && (best == SIZE_MAX || t->rec[idx[k]].seq < bs)) {
			put_change(w, t->data.p + off[idx[k]], t->rec[idx[k]].len);
			k++;
			continue;
		}
		if (best == SIZE_MAX)
			break;
		put_change(w, rd[best].p, rd[best].n);
		if (runrd_next(&rd[best]))
			rc = -1;
	}
	for (size_t i = 0; i < nr; i++)
		free(rd[i].buf);
	free(rd);
	free(idx);
	free(off);
	if (rc)
		snprintf(b->err, sizeof b->err, "cannot read back a spill file: %s",
			 errno ? strerror(errno) : "short file");
	return rc;
}

/* Append "source", "tx", "pos", "commit_time" of t to out. */
static void
put_head(const struct tx *t, struct dblog_buf *out)
{
	if (t->txoff > 1) {
		dblog_buf_adds(out, ",\"source\":");
		dblog_buf_add(out, t->key.p, t->txoff - 1);
	}
	if (t->key.len > t->txoff) {
		dblog_buf_adds(out, ",\"tx\":");
		dblog_buf_add(out, t->key.p + t->txoff, t->key.len - t->txoff);
	}
	if (t->pos_raw.len) {
		dblog_buf_adds(out, ",\"pos\":");
		dblog_buf_add(out, t->pos_raw.p, t->pos_raw.len);
	}
	if (t->ct_raw.len) {
		dblog_buf_adds(out, ",\"commit_time\":");
		dblog_buf_add(out, t->ct_raw.p, t->ct_raw.len);
	}
}

/* A begin or commit made from what t knows. */
static void
synth_marker(const struct tx *t, int commit, struct dblog_buf *out)
{
	dblog_buf_clear(out);
	dblog_buf_adds(out, commit ? "{\"op\":\"commit\"" : "{\"op\":\"begin\"");
	put_head(t, out);
	if (commit) {
		dblog_buf_adds(out, ",\"count\":");
		dblog_buf_addu(out, t->count);
		if (t->has_begin)
			dblog_buf_adds(out, ",\"incomplete\":true");
	}
	dblog_buf_addc(out, '}');
}

/* The commit line with "delivery" and "batch" set; as_tx: as the head of a
 * tx line, op "tx" and the "changes" array opened. Into b->line. */
static void
rewrite_commit(struct dblog_txbuf *b, const char *line, size_t n, enum dblog_txbuf_reason r,
	       const char *batch, int as_tx)
{
	struct dblog_buf *out = &b->line;
	struct dblog_span obj = { dblog_json_ws(line, line + n), 0 }, k, v;
	const char *end = line + n;
	while (end > obj.p && end[-1] != '}')
		end--;
	obj.n = (size_t)(end - obj.p);
	dblog_buf_clear(out);
	if (!as_tx && !memmem(line, n, "\"delivery\"", 10) && !memmem(line, n, "\"batch\"", 7)) {
		dblog_buf_add(out, obj.p, obj.n - 1);
	} else {
		const char *it = NULL;
		int first = 1;
		dblog_buf_addc(out, '{');
		while (dblog_json_next(obj, &it, &k, &v)) {
			if (dblog_json_streq(k, "delivery", 8) || dblog_json_streq(k, "batch", 5) ||
			    (as_tx && dblog_json_streq(k, "changes", 7)))
				continue;
			if (!first)
				dblog_buf_addc(out, ',');
			first = 0;
			dblog_buf_add(out, k.p, k.n);
			dblog_buf_addc(out, ':');
			if (as_tx && dblog_json_streq(k, "op", 2))
				dblog_buf_adds(out, "\"tx\"");
			else
				dblog_buf_add(out, v.p, v.n);
		}
	}
	dblog_buf_printf(out, ",\"delivery\":\"%s\",\"batch\":\"%s\"", reason_names[r], batch);
	dblog_buf_adds(out, as_tx ? ",\"changes\":[" : "}\n");
}

static int
write_tx(struct dblog_txbuf *b, struct tx *t, const char *batch)
{
	struct writer w = { b, b->o.as_tx, 1 };
	if (!t->commit.len)
		synth_marker(t, 1, &t->commit);
	if (!w.as_tx) {
		if (!t->begin.len)
			synth_marker(t, 0, &t->begin);
		emit(b, t->begin.p, t->begin.len);
		emit(b, "\n", 1);
	}
	rewrite_commit(b, t->commit.p, t->commit.len, t->reason, batch, w.as_tx);
	if (w.as_tx)
		emit(b, b->line.p, b->line.len);
	if (put_changes(b, t, &w))
		return -1;
	if (w.as_tx)
		emit(b, "]}\n", 3);
	else
		emit(b, b->line.p, b->line.len);
	return 0;
}

/* A new batch id: "{ms}-{8 hex}", increasing within the process. */
static void
batch_id(struct dblog_txbuf *b, char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms <= b->last_ms) {
		ms = b->last_ms;
		b->id_lo++;
	} else {
		b->id_lo = ((uint32_t)rand() ^ (uint32_t)ts.tv_nsec) & 0x7fffffff;
	}
	b->last_ms = ms;
	snprintf(out, 40, "%013lld-%08x", (long long)ms, (unsigned)b->id_lo);
}

static void
release_heartbeats(struct dblog_txbuf *b, struct source *src)
{
	if (!src->pending && src->held.len) {
		emit(b, src->held.p, src->held.len);
		dblog_buf_clear(&src->held);
	}
}

/* Write the transactions of the open batch under one id, then flush. */
static int
write_batch(struct dblog_txbuf *b)
{
	if (!b->nbatch)
		return 0;
	char id[40];
	batch_id(b, id);
	int rc = 0;
	for (size_t i = 0; i < b->nbatch; i++) {
		struct tx *t = b->batch[i];
		if (!rc && write_tx(b, t, id))
			rc = -1;
		b->st.delivered[t->reason]++;
		t->src->pending--;
		struct source *src = t->src;
		tx_free(b, t);
		if (!rc)
			release_heartbeats(b, src);
	}
	b->nbatch = 0;
	b->batch_rows = 0;
	b->st.batches++;
	if (rc)
		return -1;
	if ((b->o.batch_rows || b->o.batch_ms || b->o.unbuffered) && fflush(b->out))
		return write_fail(b);
	if (ferror(b->out))
		return write_fail(b);
	return 0;
}

/* t is complete (or forced out) for reason r: into the open batch. */
static int
deliver(struct dblog_txbuf *b, struct tx *t, enum dblog_txbuf_reason r)
{
	t->reason = r;
	if (b->last == t)
		b->last = NULL;
	heap_remove(b, t);
	tx_unhash(b, t);
	tx_unlist(b, t);
	b->recent[t->hash % RECENT] = t->hash;
	if (r == DBLOG_TXB_TIMEOUT) {
		dblog_warn("transaction %.*s%s%.*s delivered incomplete after --max-wait (%llu changes)",
			   (int)(t->key.len - t->txoff), t->key.p + t->txoff,
			   t->txoff > 1 ? " of source " : "", (int)(t->txoff - 1), t->key.p,
			   (unsigned long long)t->count);
	}
	if (b->nbatch == b->capbatch) {
		b->capbatch = b->capbatch ? 2 * b->capbatch : 64;
		b->batch = dblog_xrealloc(b->batch, b->capbatch * sizeof *b->batch);
	}
	if (!b->nbatch)
		b->batch_opened = dblog_now_ms();
	b->batch[b->nbatch++] = t;
	b->batch_rows += t->count;
	if (!b->o.batch_rows && !b->o.batch_ms)
		return write_batch(b);
	if (b->o.batch_rows && b->batch_rows >= (uint64_t)b->o.batch_rows)
		return write_batch(b);
	return 0;
}

/* ------------------------------------------------------- gating */

/* Why the marker-less t may go now, or -1. idle: wall-clock gates too. */
static int
gate(struct dblog_txbuf *b, const struct tx *t, int64_t now_ms, int timers)
{
	if (t->has_ct && t->ntables) {
		size_t i;
		for (i = 0; i < t->ntables; i++)
			if (t->tables[i]->max_ct <= t->ct && t->src->hb_ct <= t->ct)
				break;
		if (i == t->ntables)
			return DBLOG_TXB_COMMIT_TIME;
	}
	if (t->has_ct && t->ntables == 0 && t->src->hb_ct > t->ct)
		return DBLOG_TXB_COMMIT_TIME;
	int64_t p2 = b->o.poll_interval_ms * 2000;
	if (p2 > 0 && t->has_ct && b->event_ct - t->ct > p2)
		return DBLOG_TXB_POLL_INTERVAL;
	if (!timers)
		return -1;
	if (p2 > 0 && t->has_ct && dblog_time_now() - t->ct > p2)
		return DBLOG_TXB_POLL_INTERVAL;
	if (b->o.max_wait_ms > 0 && now_ms - t->arrived_ms >= b->o.max_wait_ms)
		return DBLOG_TXB_TIMEOUT;
	return -1;
}

/* Deliver the marker-less transactions whose gates are open, oldest
 * first; stop at the first that must wait. */
static int
drain_markerless(struct dblog_txbuf *b, int timers)
{
	int64_t now = dblog_now_ms();
	while (b->nheap) {
		struct tx *t = b->heap[0];
		if (!markerless(t)) {
			heap_remove(b, t);
			continue;
		}
		int r = gate(b, t, now, timers);
		if (r < 0)
			break;
		if (deliver(b, t, (enum dblog_txbuf_reason)r))
			return -1;
	}
	return 0;
}

/* --max-tx and --max-bytes: force the oldest marker-less ones out. */
static int
enforce_limits(struct dblog_txbuf *b)
{
	int over = (b->o.max_tx && b->st.pending_tx > (uint64_t)b->o.max_tx) ||
		   (b->o.max_bytes && b->st.pending_bytes > b->o.max_bytes);
	if (!over)
		return 0;
	if (drain_markerless(b, 1) || write_batch(b))
		return -1;
	while (b->nheap && ((b->o.max_tx && b->st.pending_tx > (uint64_t)b->o.max_tx) ||
			    (b->o.max_bytes && b->st.pending_bytes > b->o.max_bytes))) {
		struct tx *t = b->heap[0];
		if (!markerless(t)) {
			heap_remove(b, t);
			continue;
		}
		if (deliver(b, t, DBLOG_TXB_BATCH_LIMIT))
			return -1;
	}
	return write_batch(b);
}

/* --------------------------------------------------------- events */

static int
bad(struct dblog_txbuf *b, const char *fmt, struct dblog_span tx)
{
	char t[64];
	snprintf(t, sizeof t, "%.*s", tx.n > 40 ? 40 : (int)tx.n, tx.p ? tx.p : "");
	snprintf(b->err, sizeof b->err, fmt, t);
	return 1;
}

/* Heartbeats and schema events without a tx pass at once; a heartbeat
 * waits for the pending transactions of its source. */
static int
on_control(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f)
{
	if (f->op == DBLOG_OP_HEARTBEAT) {
		struct source *src = source_of(b, f->source);
		int64_t us;
		if (!span_null(f->commit_time) &&
		    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
			if (f->table.p) {
				struct table *tb = table_of(b, src, f->table);
				if (us > tb->max_ct)
					tb->max_ct = us;
			} else if (us > src->hb_ct) {
				src->hb_ct = us;
			}
			if (us > b->event_ct && !src->markers)
				b->event_ct = us;
		}
		if (src->pending) {
			dblog_buf_clear(&src->held);
			dblog_buf_add(&src->held, line, n);
			dblog_buf_addc(&src->held, '\n');
			return 0;
		}
	}
	emit(b, line, n);
	emit(b, "\n", 1);
	return 0;
}

static int
on_begin(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	 struct source *src, uint64_t h, struct tx *t)
{
	if (t && t->has_begin)
		return bad(b, "second begin of transaction %s", f->tx);
	if (!t) {
		if (!span_null(f->tx) && recently_delivered(b, h))
			return bad(b, "begin of transaction %s, which was already delivered", f->tx);
		t = tx_new(b, h, src, f->source, span_null(f->tx) ? (struct dblog_span){ 0 } : f->tx);
	}
	heap_remove(b, t);
	t->has_begin = 1;
	src->markers |= !span_null(f->tx);
	dblog_buf_add(&t->begin, line, n);
	tx_note(t, f);
	tx_recount(b, t);
	return 0;
}

static int
on_commit(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	  struct source *src, uint64_t h, struct tx *t)
{
	if (!t) {
		if (span_null(f->tx)) {    /* an inexact group we did not see begin */
			emit(b, line, n);
			emit(b, "\n", 1);
			return 0;
		}
		if (recently_delivered(b, h))
			return bad(b, "commit of transaction %s, which was already delivered", f->tx);
		t = tx_new(b, h, src, f->source, f->tx);
	}
	src->markers |= !span_null(f->tx);
	t->has_commit = 1;
	heap_remove(b, t);
	dblog_buf_add(&t->commit, line, n);
	tx_note(t, f);
	tx_recount(b, t);
	return deliver(b, t, DBLOG_TXB_COMMIT);
}

static int
on_change(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	  struct source *src, uint64_t h, struct tx *t)
{
	if (!t) {
		if (recently_delivered(b, h))
			return bad(b, "change of transaction %s after the transaction was delivered",
				   f->tx);
		t = tx_new(b, h, src, f->source, f->tx);
	}
	int64_t seq = f->seq.p ? span_int(f->seq) : (t->maxseq == INT64_MIN ? 0 : t->maxseq);
	if (f->op == DBLOG_OP_SCHEMA)
		seq = t->maxseq == INT64_MIN ? 0 : t->maxseq + 1;
	else
		t->count++;
	if (tx_store(b, t, line, n, seq))
		return -1;
	if (t->has_begin || src->markers) {
		if (!t->pos_raw.len)
			tx_note(t, f);
		return 0;
	}
	/* marker-less: keep what the gates need */
	tx_note(t, f);
	int64_t us;
	if (f->table.p && !span_null(f->commit_time) &&
	    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
		struct table *tb = table_of(b, src, f->table);
		if (f->op != DBLOG_OP_SCHEMA)
			tx_add_table(t, tb);
		if (us > tb->max_ct)
			tb->max_ct = us;
		if (us > b->event_ct)
			b->event_ct = us;
	}
	if (t->heap_i == SIZE_MAX && t->has_ct)
		heap_push(b, t);
	tx_recount(b, t);
	return 0;
}

int
dblog_txbuf_event(struct dblog_txbuf *b, const char *line, size_t n,
		  const struct dblog_fields *f)
{
	int has_tx = !span_null(f->tx);
	int marker = f->op == DBLOG_OP_BEGIN || f->op == DBLOG_OP_COMMIT;
	int change = DBLOG_OP_IS_CHANGE(f->op) || (f->op == DBLOG_OP_SCHEMA && has_tx);
	if (!marker && !change)
		return on_control(b, line, n, f);
	struct source *src = source_of(b, f->source);
	struct dblog_span txs = has_tx ? f->tx : (struct dblog_span){ 0 };
	struct tx *t = b->last;
	uint64_t h;
	size_t sn = f->source.p ? f->source.n : 0, tn = txs.p ? txs.n : 0;
	if (t && t->txoff == sn + 1 && t->key.len == sn + 1 + tn &&
	    (!tn || !memcmp(t->key.p + sn + 1, txs.p, tn)) &&
	    (!sn || !memcmp(t->key.p, f->source.p, sn))) {
		h = t->hash;    /* most events belong to the transaction before */
	} else {
		h = key_hash(f->source, txs);
		t = tx_find(b, h, f->source, txs);
	}
	int rc;

	if (!has_tx && !marker && !(t && t->has_begin)) {
		/* a change outside any transaction: at once */
		emit(b, line, n);
		emit(b, "\n", 1);
		return ferror(b->out) ? write_fail(b) : 0;
	}
	if (f->op == DBLOG_OP_BEGIN)
		rc = on_begin(b, line, n, f, src, h, t);
	else if (f->op == DBLOG_OP_COMMIT)
		rc = on_commit(b, line, n, f, src, h, t);
	else
		rc = on_change(b, line, n, f, src, h, t);
	if (rc)
		return rc;
	b->last = f->op == DBLOG_OP_COMMIT ? NULL : tx_find(b, h, f->source, txs);
	if (b->nheap && drain_markerless(b, 0))
		return -1;
	if (enforce_limits(b) || enforce_memory(b, 0))
		return -1;
	return ferror(b->out) ? write_fail(b) : 0;
}

int
dblog_txbuf_tick(struct dblog_txbuf *b)
{
	if (drain_markerless(b, 1))
		return -1;
	if (b->nbatch && b->o.batch_ms && dblog_now_ms() - b->batch_opened >= b->o.batch_ms)
		return write_batch(b);
	return 0;
}

int
dblog_txbuf_finish(struct dblog_txbuf *b, int end_of_input)
{
	if (end_of_input && drain_markerless(b, 0))
		return -1;
	/* the open batch is complete: it goes first */
	if (write_batch(b))
		return -1;
	if (!end_of_input) {
		for (struct tx *t = b->head; t; t = t->next)
			b->st.discarded++;
		return 0;
	}
	while (b->nheap) {
		struct tx *t = b->heap[0];
		heap_remove(b, t);
		if (markerless(t) && deliver(b, t, DBLOG_TXB_FLUSH))
			return -1;
	}
	if (write_batch(b))
		return -1;
	for (struct tx *t = b->head, *nx; t; t = nx) {
		nx = t->next;
		if (markerless(t)) {
			if (deliver(b, t, DBLOG_TXB_FLUSH))
				return -1;
			continue;
		}
		b->st.incomplete++;
		dblog_warn("transaction %.*s%s%.*s is incomplete at end of input (no commit): "
			   "%llu changes, %llu bytes%s",
			   (int)(t->key.len - t->txoff), t->key.p + t->txoff,
			   t->txoff > 1 ? " of source " : "", (int)(t->txoff - 1), t->key.p,
			   (unsigned long long)t->count, (unsigned long long)t->bytes,
			   b->o.flush_incomplete ? "; delivered (--flush-incomplete)" : "; not delivered");
		if (b->o.flush_incomplete && deliver(b, t, DBLOG_TXB_FLUSH))
			return -1;
	}
	if (write_batch(b))
		return -1;
	for (size_t i = 0; i < b->nsrcs; i++) {
		b->srcs[i]->pending = 0;
		release_heartbeats(b, b->srcs[i]);
	}
	return ferror(b->out) ? write_fail(b) : 0;
}

/* ------------------------------------------------------- lifecycle */

struct dblog_txbuf *
dblog_txbuf_new(const struct dblog_txbuf_opts *o, FILE *out)
{
	struct dblog_txbuf *b = dblog_xmalloc(sizeof *b);
	memset(b, 0, sizeof *b);
	b->o = *o;
	b->out = out;
	b->nbuckets = 1024;
	b->buckets = dblog_xmalloc(b->nbuckets * sizeof *b->buckets);
	memset(b->buckets, 0, b->nbuckets * sizeof *b->buckets);
	b->event_ct = INT64_MIN;
	/* a quarter of the limit for the rest: buffers, code, reading back */
	b->budget = o->max_memory - o->max_memory / 4;
	srand((unsigned)getpid() ^ (unsigned)dblog_time_now());
	return b;
}

const char *
dblog_txbuf_error(const struct dblog_txbuf *b)
{
	return b->err;
}

void
dblog_txbuf_get_stats(const struct dblog_txbuf *b, struct dblog_txbuf_stats *st)
{
	*st = b->st;
	st->memory = b->mem;
}

void
dblog_txbuf_free(struct dblog_txbuf *b)
{
	for (struct tx *t = b->head, *nx; t; t = nx) {
		nx = t->next;
		tx_free(b, t);
	}
	for (size_t i = 0; i < b->nbatch; i++)
		tx_free(b, b->batch[i]);
	for (size_t i = 0; i < b->nsrcs; i++) {
		free(b->srcs[i]->raw);
		dblog_buf_free(&b->srcs[i]->held);
		free(b->srcs[i]);
	}
	for (size_t i = 0; i < b->ntables; i++) {
		free(b->tables[i]->name);
		free(b->tables[i]);
	}
	free(b->srcs);
	free(b->tables);
	free(b->buckets);
	free(b->heap);
	free(b->batch);
	dblog_buf_free(&b->line);
	dblog_buf_free(&b->tmp);
	free(b);
}
