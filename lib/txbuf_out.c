/* txbuf_out.c - how dblog-txbuf writes: a transaction as begin, changes in
 * seq order and its commit with "delivery" and "batch" (or as one "tx"
 * line with --as-tx), batches of transactions under one id, and the
 * heartbeats held back until their source's transactions are out. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "txbuf_impl.h"

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

int
txb_write_fail(struct dblog_txbuf *b)
{
	snprintf(b->err, sizeof b->err, "cannot write standard output: %s",
		 strerror(errno ? errno : EIO));
	return -1;
}

void
txb_emit(struct dblog_txbuf *b, const char *p, size_t n)
{
	if (!n)
		return;
	fwrite(p, 1, n, b->out);
	if (b->o.unbuffered && memchr(p, '\n', n))
		fflush(b->out);
}

struct writer {
	struct dblog_txbuf *b;
	int as_tx, first;
};

static void
put_change(void *arg, const char *p, size_t n)
{
	struct writer *w = arg;
	if (!w->as_tx) {
		txb_emit(w->b, p, n);
		return;
	}
	if (!w->first)
		putc(',', w->b->out);
	w->first = 0;
	fwrite(p, 1, n - 1, w->b->out);
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
		txb_emit(b, t->begin.p, t->begin.len);
		txb_emit(b, "\n", 1);
	}
	rewrite_commit(b, t->commit.p, t->commit.len, t->reason, batch, w.as_tx);
	if (w.as_tx)
		txb_emit(b, b->line.p, b->line.len);
	if (!t->nruns && t->sorted && !w.as_tx)
		txb_emit(b, t->data.p, t->data.len);    /* the common case */
	else if (txb_each_change(b, t, put_change, &w))
		return -1;
	if (w.as_tx)
		txb_emit(b, "]}\n", 3);
	else
		txb_emit(b, b->line.p, b->line.len);
	return 0;
}

/* The counter of batch ids starts at random, so that processes started in
 * the same millisecond do not share ids. */
void
txb_batch_id_init(struct dblog_txbuf *b)
{
	uint32_t r;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
	}
	/* room for 2^30 ids before the 8 digits could wrap */
	b->id_lo = r & 0xbfffffff;
}

/* A new batch id: "{ms}-{8 hex}", the counter incremented for each, so
 * ids increase as strings, also when the clock goes back. */
static void
batch_id(struct dblog_txbuf *b, char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms < b->last_ms)
		ms = b->last_ms;
	b->last_ms = ms;
	b->id_lo++;
	snprintf(out, 40, "%013lld-%08x", (long long)ms, (unsigned)b->id_lo);
}

void
txb_release_heartbeats(struct dblog_txbuf *b, struct source *src)
{
	if (!src->pending && src->held.len) {
		txb_emit(b, src->held.p, src->held.len);
		dblog_buf_clear(&src->held);
	}
}

int
txb_write_batch(struct dblog_txbuf *b)
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
		struct source *src = t->src;
		src->pending--;
		txb_free(b, t);
		if (!rc)
			txb_release_heartbeats(b, src);
	}
	b->nbatch = 0;
	b->batch_rows = 0;
	b->st.batches++;
	if (rc)
		return -1;
	if ((b->o.batch_rows || b->o.batch_ms || b->o.unbuffered) && fflush(b->out))
		return txb_write_fail(b);
	return ferror(b->out) ? txb_write_fail(b) : 0;
}

int
txb_deliver(struct dblog_txbuf *b, struct tx *t, enum dblog_txbuf_reason r)
{
	t->reason = r;
	if (b->last == t)
		b->last = NULL;
	txb_detach(b, t);
	b->recent[t->hash % TXB_RECENT] = t->hash;
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
		return txb_write_batch(b);
	if (b->o.batch_rows && b->batch_rows >= (uint64_t)b->o.batch_rows)
		return txb_write_batch(b);
	return 0;
}
