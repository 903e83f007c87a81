/* txbuf_tx.c - the transactions that dblog-txbuf holds: sources and tables
 * (for the commit-time rule), the hash table that finds a transaction by
 * source and tx, the heap of marker-less transactions by (commit_time,
 * pos), and storing a transaction's changes with their memory counted. */
#include <stdlib.h>
#include <string.h>

#include "txbuf_impl.h"

int
txb_span_int(struct dblog_span v, int64_t *out)
{
	int64_t x = 0;
	if (!v.n)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9' || x > (INT64_MAX - (v.p[i] - '0')) / 10)
			return -1;
		x = x * 10 + (v.p[i] - '0');
	}
	*out = x;
	return 0;
}

int
txb_span_null(struct dblog_span v)
{
	return !v.p || dblog_json_type(v) == DBLOG_J_NULL;
}

static size_t
tx_mem_of(const struct tx *t)
{
	return sizeof *t + t->key.cap + t->begin.cap + t->commit.cap + t->data.cap +
	       t->caprec * sizeof *t->rec + t->ct_raw.cap + t->pos_raw.cap +
	       t->captables * sizeof *t->tables + t->nruns * sizeof *t->runs +
	       t->nseen * sizeof *t->seen;
}

void
txb_recount(struct dblog_txbuf *b, struct tx *t)
{
	size_t m = tx_mem_of(t);
	b->mem = b->mem - t->mem + m;
	t->mem = m;
	if (b->mem > b->st.peak_memory)
		b->st.peak_memory = b->mem;
}

/* ------------------------------------------------------------ sources */

struct source *
txb_source_of(struct dblog_txbuf *b, struct dblog_span s)
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

struct table *
txb_table_of(struct dblog_txbuf *b, struct source *src, struct dblog_span name)
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

uint64_t
txb_key_hash(struct dblog_span src, struct dblog_span tx)
{
	uint64_t h = hash_bytes(src.p ? src.p : "", src.p ? src.n : 0, 0xcbf29ce484222325ULL);
	h = hash_bytes("", 1, h);
	return hash_bytes(tx.p ? tx.p : "", tx.p ? tx.n : 0, h) | 1;
}

struct tx *
txb_find(struct dblog_txbuf *b, uint64_t h, struct dblog_span src, struct dblog_span tx)
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

void
txb_heap_push(struct dblog_txbuf *b, struct tx *t)
{
	if (b->nheap == b->capheap) {
		b->capheap = b->capheap ? 2 * b->capheap : 64;
		b->heap = dblog_xrealloc(b->heap, b->capheap * sizeof *b->heap);
	}
	heap_set(b, b->nheap++, t);
	heap_up(b, b->nheap - 1);
}

void
txb_heap_remove(struct dblog_txbuf *b, struct tx *t)
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

struct tx *
txb_new(struct dblog_txbuf *b, uint64_t h, struct source *src, struct dblog_span s,
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
	t->memmax = t->maxseq = INT64_MIN;
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
	txb_recount(b, t);
	b->st.pending_tx++;
	return t;
}

void
txb_detach(struct dblog_txbuf *b, struct tx *t)
{
	txb_heap_remove(b, t);
	tx_unhash(b, t);
	if (t->in_list) {
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
	if (!t->delivered) {
		/* pending means not delivered, also while in the open batch */
		t->delivered = 1;
		b->st.pending_tx--;
		b->st.pending_bytes -= t->bytes;
	}
}

void
txb_free(struct dblog_txbuf *b, struct tx *t)
{
	txb_detach(b, t);
	b->mem -= t->mem;
	txb_release_runs(b, t);
	struct dblog_buf *bufs[] = { &t->key, &t->begin, &t->commit, &t->data, &t->ct_raw,
				     &t->pos_raw };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	free(t->rec);
	free(t->tables);
	free(t->runs);
	free(t->seen);
	free(t);
}

int
txb_markerless(const struct tx *t)
{
	return !t->has_begin && !t->has_commit && !t->src->markers;
}

/* Record pos and commit_time of an event of t (for synthesized markers
 * and the order of marker-less transactions). */
void
txb_note(struct tx *t, const struct dblog_fields *f)
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
	if (!txb_span_null(f->commit_time) && !t->ct_raw.len &&
	    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
		t->ct = us;
		t->has_ct = 1;
		dblog_buf_add(&t->ct_raw, f->commit_time.p, f->commit_time.n);
	}
}

void
txb_add_table(struct tx *t, struct table *tb)
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

int
txb_seen_seq(struct dblog_txbuf *b, struct tx *t, int64_t seq)
{
	if (seq < 0)
		return 0;
	size_t w = (size_t)((uint64_t)seq / 64);
	if (w >= t->nseen) {
		/* at most a word per change and 64K bits more: seqs are dense */
		if ((uint64_t)seq >= 64 * (t->count + 1024))
			return 0;
		size_t n = t->nseen ? t->nseen : 16;
		while (n <= w)
			n *= 2;
		t->seen = dblog_xrealloc(t->seen, n * sizeof *t->seen);
		memset(t->seen + t->nseen, 0, (n - t->nseen) * sizeof *t->seen);
		t->nseen = n;
		txb_recount(b, t);
	}
	uint64_t bit = 1ULL << ((uint64_t)seq % 64);
	if (t->seen[w] & bit)
		return 1;
	t->seen[w] |= bit;
	return 0;
}

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

int
txb_store(struct dblog_txbuf *b, struct tx *t, const char *line, size_t n, int64_t seq)
{
	size_t g = tx_growth(t, n);
	if (g && b->mem + g > b->budget && txb_enforce_memory(b, g))
		return -1;
	if (t->nrec == t->caprec) {
		t->caprec = t->caprec ? 2 * t->caprec : 16;
		t->rec = dblog_xrealloc(t->rec, t->caprec * sizeof *t->rec);
	}
	if (seq < t->memmax)
		t->sorted = 0;
	else
		t->memmax = seq;
	if (seq > t->maxseq)
		t->maxseq = seq;
	t->rec[t->nrec++] = (struct rec){ seq, t->data.len, (uint32_t)(n + 1) };
	dblog_buf_reserve(&t->data, n + 1);
	memcpy(t->data.p + t->data.len, line, n);
	t->data.p[t->data.len + n] = '\n';
	t->data.len += n + 1;
	t->bytes += n + 1;
	b->st.pending_bytes += n + 1;
	txb_recount(b, t);
	return 0;
}
