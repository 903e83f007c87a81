/* scanq.c - event lines read and scanned on a second thread. The reading
 * thread reads standard input into blocks, cuts them into lines in place
 * (no copy) and indexes each line with dblog_event_scan; the caller takes
 * the scanned lines a block at a time, in order. On two CPUs validating
 * the JSON then runs beside the work on the events. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"

#define NBLOCKS 2
#define BLOCK (192u << 10)      /* bytes read into a block before it goes */

struct block {
	char *buf;
	size_t cap, len;
	struct dblog_scanned *items;
	size_t nitems, cap_items, next;
	int end;                /* 0, or the last block: 1 EOF, -1 read error */
	int err;                /* errno of the read error */
	struct dblog_buf errs;  /* the messages of its bad lines */
};

struct dblog_scanq {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct block blocks[NBLOCKS];
	int full[NBLOCKS];      /* queue of filled blocks, in order */
	size_t head, count;     /* of full[] */
	int is_free[NBLOCKS];
	int quit, done;
	struct block *cur;      /* the caller's block */
	uint64_t lineno;
	struct dblog_buf scratch, scratch2;   /* of the reader, of the caller */
};

/* ------------------------------------------------------ reading thread */

static struct block *
take_free(struct dblog_scanq *q)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		for (int i = 0; i < NBLOCKS; i++)
			if (q->is_free[i]) {
				q->is_free[i] = 0;
				pthread_mutex_unlock(&q->mu);
				struct block *b = &q->blocks[i];
				b->len = b->nitems = b->next = 0;
				dblog_buf_clear(&b->errs);
				b->end = b->err = 0;
				return b;
			}
		if (q->quit) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		pthread_cond_wait(&q->cond, &q->mu);
	}
}

static void
publish(struct dblog_scanq *q, struct block *b)
{
	pthread_mutex_lock(&q->mu);
	q->full[(q->head + q->count++) % NBLOCKS] = (int)(b - q->blocks);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

static void
scan(struct dblog_scanned *it, struct dblog_buf *scratch, struct dblog_buf *errs)
{
	struct dblog_jerr e = { 0, NULL };
	it->status = dblog_event_scan(it->line, it->n, &it->f, &e, scratch);
	it->col = e.col;
	it->why = NULL;
	if (it->status < 0) {   /* the message may live in a static buffer */
		it->why_off = errs->len;
		dblog_buf_adds(errs, e.why ? e.why : "malformed event");
		dblog_buf_addc(errs, 0);
	}
}

/* Index the complete lines of b from byte *from; *from ends after them. */
static void
cut_lines(struct dblog_scanq *q, struct block *b, size_t *from, int eof)
{
	for (;;) {
		char *start = b->buf + *from;
		char *nl = memchr(start, '\n', b->len - *from);
		if (!nl && !(eof && *from < b->len))
			return;
		size_t n = nl ? (size_t)(nl - start) : b->len - *from;
		if (b->nitems == b->cap_items) {
			b->cap_items = b->cap_items ? 2 * b->cap_items : 1024;
			b->items = dblog_xrealloc(b->items, b->cap_items * sizeof *b->items);
		}
		struct dblog_scanned *it = &b->items[b->nitems++];
		it->line = start;
		it->n = n;
		it->lineno = ++q->lineno;
		it->unterminated = !nl;
		/* every third line is left to the caller's thread, which has
		 * less to do per line than this one */
		if (it->lineno % 3)
			scan(it, &q->scratch, &b->errs);
		else
			it->status = 2;
		*from += n + (nl != NULL);
	}
}

/* Wait until fd is readable or quit; 1 readable, 0 quit. */
static int
wait_input(struct dblog_scanq *q)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	for (;;) {
		pthread_mutex_lock(&q->mu);
		int quit = q->quit;
		pthread_mutex_unlock(&q->mu);
		if (quit)
			return 0;
		int r = poll(&p, 1, 100);
		if (r > 0 || (r < 0 && errno != EINTR))
			return 1;
	}
}

static void *
reader(void *arg)
{
	struct dblog_scanq *q = arg;
	struct block *b = take_free(q);
	size_t from = 0;
	while (b) {
		/* room for a read: only a block with no line indexed yet grows
		 * (indexed lines point into it); one with lines goes out first */
		if (b->cap - b->len < BLOCK / 4) {
			size_t cap = b->cap < BLOCK ? BLOCK : 2 * b->cap;
			b->buf = dblog_xrealloc(b->buf, cap);
			b->cap = cap;
		}
		if (!wait_input(q))
			break;
		ssize_t r = read(q->fd, b->buf + b->len, b->cap - b->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			b->err = r < 0 ? errno : 0;
			cut_lines(q, b, &from, 1);
			b->end = r < 0 ? -1 : 1;
			publish(q, b);
			break;
		}
		b->len += (size_t)r;
		cut_lines(q, b, &from, 0);
		/* the block goes when full, or when no more input is waiting,
		 * so that lines never wait for input that does not come */
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		int more = poll(&p, 1, 0) > 0;
		if (!b->nitems || (more && b->len < BLOCK && b->cap - b->len >= BLOCK / 4))
			continue;
		struct block *nb = take_free(q);
		if (!nb) {
			publish(q, b);
			break;
		}
		/* the partial line at the end starts the next block */
		size_t rest = b->len - from;
		if (nb->cap < rest + BLOCK) {
			nb->buf = dblog_xrealloc(nb->buf, rest + BLOCK);
			nb->cap = rest + BLOCK;
		}
		memcpy(nb->buf, b->buf + from, rest);
		nb->len = rest;
		b->len = from;
		publish(q, b);
		b = nb;
		from = 0;
	}
	pthread_mutex_lock(&q->mu);
	q->done = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* ------------------------------------------------------------- caller */

struct dblog_scanq *
dblog_scanq_start(int fd)
{
	struct dblog_scanq *q = calloc(1, sizeof *q);
	if (!q)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	q->fd = fd;
	/* one malloc arena for both threads: a second one would hold memory
	 * that the caller's limits (dblog-txbuf --max-memory) do not see */
	mallopt(M_ARENA_MAX, 1);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	for (int i = 0; i < NBLOCKS; i++)
		q->is_free[i] = 1;
	/* signals are for the caller's thread: the reader never takes one */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&q->thread, NULL, reader, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		dblog_die(DBLOG_EXIT_FAIL, "cannot start a thread: %s", strerror(rc));
	return q;
}

int
dblog_scanq_next(struct dblog_scanq *q, int64_t idle_ms, FILE *flush,
		 volatile sig_atomic_t *stop, const struct dblog_scanned **out)
{
	struct block *b = q->cur;
	if (b && b->next < b->nitems) {
		struct dblog_scanned *it = &b->items[b->next++];
		if (it->status == 2)
			scan(it, &q->scratch2, &b->errs);
		if (it->status < 0)
			it->why = b->errs.p + it->why_off;
		*out = it;
		return 1;
	}
	if (b && b->end)
		return b->end < 0 ? (errno = b->err, -1) : 0;
	if (stop && *stop)
		return 3;
	pthread_mutex_lock(&q->mu);
	if (b) {   /* done with it: the reader may fill it again */
		q->is_free[b - q->blocks] = 1;
		q->cur = NULL;
		pthread_cond_broadcast(&q->cond);
	}
	if (!q->count && flush) {
		pthread_mutex_unlock(&q->mu);
		fflush(flush);   /* before waiting for input, as readers do */
		pthread_mutex_lock(&q->mu);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	int64_t ns = until.tv_nsec + (idle_ms > 0 ? idle_ms : 100) * 1000000;
	until.tv_sec += ns / 1000000000;
	until.tv_nsec = ns % 1000000000;
	while (!q->count) {
		if (pthread_cond_timedwait(&q->cond, &q->mu, &until) == ETIMEDOUT || (stop && *stop))
			break;
	}
	if (!q->count) {
		pthread_mutex_unlock(&q->mu);
		return stop && *stop ? 3 : 2;
	}
	q->cur = b = &q->blocks[q->full[q->head]];
	q->head = (q->head + 1) % NBLOCKS;
	q->count--;
	pthread_mutex_unlock(&q->mu);
	return dblog_scanq_next(q, idle_ms, flush, stop, out);
}

void
dblog_scanq_free(struct dblog_scanq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->quit = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	for (int i = 0; i < NBLOCKS; i++) {
		free(q->blocks[i].buf);
		free(q->blocks[i].items);
		dblog_buf_free(&q->blocks[i].errs);
	}
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	dblog_buf_free(&q->scratch);
	dblog_buf_free(&q->scratch2);
	free(q);
}
