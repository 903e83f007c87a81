/* txbuf.c - the transaction buffer of dblog-txbuf(1): takes events one by
 * one, holds the changes of each transaction until it is complete (its
 * commit, or for sources without markers the commit-time, poll-interval,
 * timeout and batch-limit rules), hands complete transactions to
 * txbuf_out.c in commit order, and at end of input or on a signal decides
 * what becomes of the rest. Transactions are kept by txbuf_tx.c, spilled
 * by txbuf_spill.c. */
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "txbuf_impl.h"

/* A bad input line: message into b->err, returns 1. */
static int
bad(struct dblog_txbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->err, sizeof b->err, fmt, ap);
	va_end(ap);
	return 1;
}

/* The tx text of an event for messages, cut at 40 bytes. */
static int
txlen(struct dblog_span tx)
{
	return tx.n > 40 ? 40 : (int)tx.n;
}

/* ------------------------------------------------------- gating */

/* Why the marker-less t may go now, or -1. timers: wall-clock gates too. */
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
	int64_t now = timers ? dblog_now_ms() : 0;
	while (b->nheap) {
		struct tx *t = b->heap[0];
		if (!txb_markerless(t)) {
			txb_heap_remove(b, t);
			continue;
		}
		int r = gate(b, t, now, timers);
		if (r < 0)
			break;
		if (txb_deliver(b, t, (enum dblog_txbuf_reason)r))
			return -1;
	}
	return 0;
}

static int
over_limits(const struct dblog_txbuf *b)
{
	return (b->o.max_tx && b->st.pending_tx > (uint64_t)b->o.max_tx) ||
	       (b->o.max_bytes && b->st.pending_bytes > b->o.max_bytes);
}

/* --max-tx and --max-bytes: force the oldest marker-less ones out. A
 * delivered transaction no longer counts as pending, also while it waits
 * in the open batch. */
static int
enforce_limits(struct dblog_txbuf *b)
{
	if (!over_limits(b))
		return 0;
	if (drain_markerless(b, 1))
		return -1;
	while (b->nheap && over_limits(b)) {
		struct tx *t = b->heap[0];
		if (!txb_markerless(t))
			txb_heap_remove(b, t);
		else if (txb_deliver(b, t, DBLOG_TXB_BATCH_LIMIT))
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------- events */

/* An event that passes at once: after the complete transactions of the
 * open batch, which came before it. */
static int
pass(struct dblog_txbuf *b, const char *line, size_t n)
{
	if (b->nbatch && txb_write_batch(b))
		return -1;
	txb_emit(b, line, n);
	txb_emit(b, "\n", 1);
	return 0;
}

/* Heartbeats and schema events without a tx pass at once; a heartbeat
 * waits for the pending transactions of its source, and may complete
 * marker-less ones by the commit-time rule. */
static int
on_control(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f)
{
	if (f->op != DBLOG_OP_HEARTBEAT)
		return pass(b, line, n);
	struct source *src = txb_source_of(b, f->source);
	int64_t us;
	if (!txb_span_null(f->commit_time) &&
	    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
		if (f->table.p) {
			struct table *tb = txb_table_of(b, src, f->table);
			if (us > tb->max_ct)
				tb->max_ct = us;
		} else if (us > src->hb_ct) {
			src->hb_ct = us;
		}
		if (us > b->event_ct && !src->markers)
			b->event_ct = us;
	}
	if (!src->pending) {
		txb_emit(b, line, n);
		txb_emit(b, "\n", 1);
		return 0;
	}
	dblog_buf_clear(&src->held);
	dblog_buf_add(&src->held, line, n);
	dblog_buf_addc(&src->held, '\n');
	return b->nheap ? drain_markerless(b, 0) : 0;
}

/* A transaction delivered before comes again (a capture that read it
 * again after a restart, archives that overlap): it is assembled and
 * delivered again, and dblog-apply, which skips what it has applied,
 * applies it once. Said on stderr, the first few times. */
static void
again(struct dblog_txbuf *b, const struct dblog_fields *f, uint64_t h)
{
	b->recent[h % TXB_RECENT] = 0;
	if (++b->again <= 3)
		dblog_warn("transaction %.*s was delivered before and comes again: it is delivered "
			   "again%s", txlen(f->tx), f->tx.p,
			   b->again == 3 ? " (further ones are not reported)" : "");
}

static int
on_begin(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	 struct source *src, uint64_t h, struct tx *t)
{
	if (t && t->has_begin && !txb_span_null(f->tx)) {
		/* cut off and sent again from its begin (a source that
		 * reconnected): what came of it is dropped, as dblog-apply does */
		dblog_warn("transaction %.*s began again before it committed: what came of it "
			   "before (%llu changes) is dropped", txlen(f->tx), f->tx.p,
			   (unsigned long long)t->count);
		t->src->pending--;
		txb_free(b, t);
		t = NULL;
	} else if (t && t->has_begin) {
		return bad(b, "second begin of transaction %.*s", txlen(f->tx), f->tx.p);
	}
	if (!t) {
		if (!txb_span_null(f->tx) && b->recent[h % TXB_RECENT] == h)
			again(b, f, h);
		t = txb_new(b, h, src, f->source,
			    txb_span_null(f->tx) ? (struct dblog_span){ 0 } : f->tx);
	}
	txb_heap_remove(b, t);
	t->has_begin = 1;
	src->markers |= !txb_span_null(f->tx);
	dblog_buf_add(&t->begin, line, n);
	txb_note(t, f);
	txb_recount(b, t);
	return 0;
}

static int
on_commit(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	  struct source *src, uint64_t h, struct tx *t)
{
	if (!t) {
		if (txb_span_null(f->tx))    /* an inexact group we did not see begin */
			return pass(b, line, n);
		if (b->recent[h % TXB_RECENT] == h)
			again(b, f, h);
		t = txb_new(b, h, src, f->source, f->tx);
	}
	src->markers |= !txb_span_null(f->tx);
	t->has_commit = 1;
	txb_heap_remove(b, t);
	dblog_buf_add(&t->commit, line, n);
	txb_note(t, f);
	txb_recount(b, t);
	return txb_deliver(b, t, DBLOG_TXB_COMMIT);
}

/* A marker-less change: keep what the gates need. */
static void
note_markerless(struct dblog_txbuf *b, struct tx *t, struct source *src,
		const struct dblog_fields *f)
{
	txb_note(t, f);
	int64_t us;
	if (f->table.p && !txb_span_null(f->commit_time) &&
	    !dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &us)) {
		struct table *tb = txb_table_of(b, src, f->table);
		if (f->op != DBLOG_OP_SCHEMA)
			txb_add_table(t, tb);
		if (us > tb->max_ct)
			tb->max_ct = us;
		if (us > b->event_ct)
			b->event_ct = us;
	}
	if (t->heap_i == SIZE_MAX && t->has_ct)
		txb_heap_push(b, t);
	txb_recount(b, t);
}

static int
on_change(struct dblog_txbuf *b, const char *line, size_t n, const struct dblog_fields *f,
	  struct source *src, uint64_t h, struct tx *t)
{
	int schema = f->op == DBLOG_OP_SCHEMA;
	/* with markers all changes share pos: seq alone identifies them; not
	 * so in a group without tx (SQLite's inexact groups: each change has
	 * a pos of its own, and seq 0) */
	int check = f->seq.p && !schema && !txb_span_null(f->tx) &&
		    (src->markers || (t && t->has_begin));
	int64_t seq = 0;
	if (f->seq.p && txb_span_int(f->seq, &seq))
		return bad(b, "seq %.*s is not an integer from 0 to 9223372036854775807",
			   txlen(f->seq), f->seq.p);
	if (!t) {
		if (b->recent[h % TXB_RECENT] == h)
			again(b, f, h);
		t = txb_new(b, h, src, f->source, f->tx);
	}
	if (check && txb_seen_seq(b, t, seq))    /* never for a new one */
		return bad(b, "duplicate seq %lld in transaction %.*s", (long long)seq,
			   txlen(f->tx), f->tx.p);
	if (schema || !f->seq.p)    /* after what came before it */
		seq = t->maxseq == INT64_MIN ? 0 : t->maxseq + schema;
	if (!schema)
		t->count++;
	if (txb_store(b, t, line, n, seq))
		return -1;
	if (t->has_begin || src->markers) {
		if (!t->pos_raw.len)
			txb_note(t, f);
		return 0;
	}
	note_markerless(b, t, src, f);
	return 0;
}

/* The pending transaction of (source, tx), and the hash of that key. */
static struct tx *
lookup(struct dblog_txbuf *b, const struct dblog_fields *f, struct dblog_span txs, uint64_t *h)
{
	struct tx *t = b->last;
	size_t sn = f->source.p ? f->source.n : 0, tn = txs.p ? txs.n : 0;
	if (t && t->txoff == sn + 1 && t->key.len == sn + 1 + tn &&
	    (!tn || !memcmp(t->key.p + sn + 1, txs.p, tn)) &&
	    (!sn || !memcmp(t->key.p, f->source.p, sn))) {
		*h = t->hash;    /* most events belong to the transaction before */
		return t;
	}
	*h = txb_key_hash(f->source, txs);
	return txb_find(b, *h, f->source, txs);
}

int
dblog_txbuf_event(struct dblog_txbuf *b, const char *line, size_t n,
		  const struct dblog_fields *f)
{
	int has_tx = !txb_span_null(f->tx);
	int marker = f->op == DBLOG_OP_BEGIN || f->op == DBLOG_OP_COMMIT;
	int change = DBLOG_OP_IS_CHANGE(f->op) || (f->op == DBLOG_OP_SCHEMA && has_tx);
	int rc;
	if (!marker && !change)
		rc = on_control(b, line, n, f);
	else {
		struct source *src = txb_source_of(b, f->source);
		struct dblog_span txs = has_tx ? f->tx : (struct dblog_span){ 0 };
		uint64_t h;
		struct tx *t = lookup(b, f, txs, &h);
		if (!has_tx && !marker && !(t && t->has_begin)) {
			if (pass(b, line, n))
				return -1;
			return ferror(b->out) ? txb_write_fail(b) : 0;
		}
		if (f->op == DBLOG_OP_BEGIN)
			rc = on_begin(b, line, n, f, src, h, t);
		else if (f->op == DBLOG_OP_COMMIT)
			rc = on_commit(b, line, n, f, src, h, t);
		else
			rc = on_change(b, line, n, f, src, h, t);
		if (rc)
			return rc;
		b->last = f->op == DBLOG_OP_COMMIT ? NULL : txb_find(b, h, f->source, txs);
		if (b->nheap && drain_markerless(b, 0))
			return -1;
	}
	if (rc || enforce_limits(b) || txb_enforce_memory(b, 0))
		return -1;
	return ferror(b->out) ? txb_write_fail(b) : 0;
}

int
dblog_txbuf_tick(struct dblog_txbuf *b)
{
	if (drain_markerless(b, 1))
		return -1;
	if (b->nbatch && b->o.batch_ms && dblog_now_ms() - b->batch_opened >= b->o.batch_ms)
		return txb_write_batch(b);
	return 0;
}

/* End of input: a transaction that had a begin but no commit. */
static int
incomplete(struct dblog_txbuf *b, struct tx *t)
{
	b->st.incomplete++;
	dblog_warn("transaction %.*s%s%.*s is incomplete at end of input (no commit): "
		   "%llu changes, %llu bytes%s",
		   (int)(t->key.len - t->txoff), t->key.p + t->txoff,
		   t->txoff > 1 ? " of source " : "", (int)(t->txoff - 1), t->key.p,
		   (unsigned long long)t->count, (unsigned long long)t->bytes,
		   b->o.flush_incomplete ? "; delivered (--flush-incomplete)" : "; not delivered");
	return b->o.flush_incomplete ? txb_deliver(b, t, DBLOG_TXB_FLUSH) : 0;
}

int
dblog_txbuf_finish(struct dblog_txbuf *b, int end_of_input)
{
	if (end_of_input && drain_markerless(b, 0))
		return -1;
	/* the open batch is complete: it goes first */
	if (txb_write_batch(b))
		return -1;
	if (!end_of_input) {
		for (struct tx *t = b->head; t; t = t->next)
			b->st.discarded++;
		return 0;
	}
	while (b->nheap) {
		struct tx *t = b->heap[0];
		txb_heap_remove(b, t);
		if (txb_markerless(t) && txb_deliver(b, t, DBLOG_TXB_FLUSH))
			return -1;
	}
	if (txb_write_batch(b))
		return -1;
	for (struct tx *t = b->head, *nx; t; t = nx) {
		nx = t->next;
		if (txb_markerless(t) ? txb_deliver(b, t, DBLOG_TXB_FLUSH) : incomplete(b, t))
			return -1;
	}
	if (txb_write_batch(b))
		return -1;
	for (size_t i = 0; i < b->nsrcs; i++) {
		b->srcs[i]->pending = 0;
		txb_release_heartbeats(b, b->srcs[i]);
	}
	return ferror(b->out) ? txb_write_fail(b) : 0;
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
	b->spill_fd = -1;
	/* a quarter of the limit for the rest: buffers, code, reading back */
	b->budget = o->max_memory - o->max_memory / 4;
	/* large buffers mapped and unmapped, never kept by malloc after they
	 * are freed (and grown by mremap without a copy): the resident size
	 * follows what is counted */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	txb_batch_id_init(b);
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
	while (b->head)
		txb_free(b, b->head);
	for (size_t i = 0; i < b->nbatch; i++)
		txb_free(b, b->batch[i]);
	for (size_t i = 0; i < b->nsrcs; i++) {
		free(b->srcs[i]->raw);
		dblog_buf_free(&b->srcs[i]->held);
		free(b->srcs[i]);
	}
	for (size_t i = 0; i < b->ntables; i++) {
		free(b->tables[i]->name);
		free(b->tables[i]);
	}
	if (b->spill_fd >= 0)
		close(b->spill_fd);
	free(b->srcs);
	free(b->tables);
	free(b->buckets);
	free(b->heap);
	free(b->batch);
	dblog_buf_free(&b->line);
	free(b);
}
