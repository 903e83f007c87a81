/* sink_pg_pipe.c - libpq pipeline mode for the PostgreSQL sink: entering
 * and leaving it (non-blocking while in it), queueing commands with what
 * each one is for errors and row counts, sending what is queued without
 * waiting, and reading the results at sync points, where a failure rolls
 * the whole destination transaction back. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "sink_pg.h"

/* Wait until everything queued is sent, reading results meanwhile (the
 * server may be waiting to write them before it reads on): the client
 * holds at most PIPE_UNSENT_MAX bytes the server has not taken. A failure
 * shows at the next sync point. */
static void
pipe_send_all(struct psink *s)
{
	int fd = PQsocket(s->c);
	int r;
	while (fd >= 0 && (r = PQflush(s->c)) == 1) {
		struct pollfd p = { .fd = fd, .events = POLLOUT | POLLIN };
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return;
		if ((p.revents & POLLIN) && !PQconsumeInput(s->c))
			return;
	}
	s->unsent = 0;
}

/* Read the results up to the sync point; the first failure goes to
 * s->failure. 0, or -1 when a command failed. */
int
psink_pipe_sync(struct psink *s)
{
	int idx = 0, bad = 0;
	char e[256];
	if (s->stage.rows && psink_stage_flush(s, e, sizeof e))
		return -1;
	if (!s->queued)
		return 0;
	if (!PQpipelineSync(s->c)) {
		snprintf(s->failure, sizeof s->failure, "%s", PQerrorMessage(s->c));
		return -1;
	}
	for (;;) {
		PGresult *r = PQgetResult(s->c);
		if (!r) {
			idx++;
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if ((st == PGRES_COMMAND_OK || (st == PGRES_TUPLES_OK && PQntuples(r) == 1)) &&
		    idx < PIPE_MAX && s->expect[idx] > 0) {
			/* rows changed: a command tag, or the bulk statement's count */
			long done = atol(st == PGRES_COMMAND_OK ? PQcmdTuples(r) : PQgetvalue(r, 0, 0));
			if (done < s->expect[idx])
				s->base.noops += s->expect[idx] - done;
		}
		if (st == PGRES_FATAL_ERROR && !bad) {
			const char *m = PQresultErrorMessage(r);
			snprintf(s->failure, sizeof s->failure, "%s: %.*s", idx < PIPE_MAX ? s->desc[idx] : "",
				 (int)strcspn(m, "\n"), m);
			bad = 1;
		}
		if (st == PGRES_FATAL_ERROR && PQstatus(s->c) == CONNECTION_BAD) {
			PQclear(r);
			bad = 1;
			s->base.lost = 1;
			break;
		}
		PQclear(r);
	}
	s->queued = 0;
	return bad ? -1 : 0;
}

/* A command failed: roll the whole transaction back; the sink is dead. */
int
psink_pipe_failed(struct psink *s, char *err, size_t errlen)
{
	/* staged rows belong to the failed batch: never send them */
	psink_stage_drop(s);
	s->queued = 0;
	char keep[1024];
	snprintf(keep, sizeof keep, "%s", s->failure);
	psink_pipe_sync(s);   /* results of what was queued: the state is known after */
	if (PQtransactionStatus(s->c) != PQTRANS_IDLE) {
		PQsendQueryParams(s->c, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
		s->queued = 1;
		psink_pipe_sync(s);
	}
	s->dead = 1;
	s->base.batch_failed = 1;
	/* a plain INSERT may have met a row already there: upsert from now on */
	for (size_t o = 0; o < s->plain_batch.len; o += strlen(s->plain_batch.p + o) + 1)
		psink_name_add(&s->plain_no, s->plain_batch.p + o);
	dblog_buf_clear(&s->plain_batch);
	snprintf(s->failure, sizeof s->failure, "%s", keep);
	snprintf(err, errlen, "%s (the destination transaction was rolled back: nothing of this "
		 "batch was applied)", keep);
	return -1;
}

/* Queue the described command; sync when the queue is full. */
int
psink_pipe_queued(struct psink *s, int ok, const char *what, char *err, size_t errlen)
{
	if (!ok) {
		snprintf(s->failure, sizeof s->failure, "%s", PQerrorMessage(s->c));
		if (PQstatus(s->c) == CONNECTION_BAD)
			s->base.lost = 1;
		return psink_pipe_failed(s, err, errlen);
	}
	psink_describe(s, s->desc[s->queued], sizeof s->desc[0], what);
	s->expect[s->queued] = s->next_expect;
	s->next_expect = 0;
	s->unsent += s->next_bytes + 64;
	s->next_bytes = 0;
	if (s->unsent > PIPE_UNSENT_MAX && PQisnonblocking(s->c))
		pipe_send_all(s);
	if (++s->queued >= PIPE_MAX - 2 && psink_pipe_sync(s))
		return psink_pipe_failed(s, err, errlen);
	return 0;
}

/* Enter pipeline mode, non-blocking: the client goes on reading and
 * staging events while the server works, its commands waiting in libpq's
 * buffer instead of blocking on a full socket. 1 entered. */
int
psink_pipe_enter(struct psink *s)
{
	if (!PQenterPipelineMode(s->c))
		return 0;
	PQsetnonblocking(s->c, 1);
	return 1;
}

/* Leave it: blocking again (everything queued is sent first). */
void
psink_pipe_exit(struct psink *s)
{
	PQsetnonblocking(s->c, 0);
	PQexitPipelineMode(s->c);
}

/* Send what the pipeline has queued, as far as the socket takes it
 * without waiting (the server works on it while events are read). 1 when
 * the server has read all of it, so is busy with its last command at
 * most: time to send it more. */
int
psink_pipe_push(struct psink *s)
{
	if (!s->in_pipe || !PQisnonblocking(s->c) || PQflush(s->c) != 0)
		return 0;
	s->unsent = 0;
#ifdef TIOCOUTQ
	int n = 0;
	return ioctl(PQsocket(s->c), TIOCOUTQ, &n) == 0 && n == 0;
#else
	return 0;
#endif
}

/* The size of n text values (NULL: none). */
size_t
psink_text_bytes(const char *const *v, int n)
{
	size_t b = 0;
	for (int i = 0; i < n; i++)
		b += v[i] ? strlen(v[i]) : 0;
	return b;
}

/* Leave pipeline mode for a synchronous query (catalog look-ups); the
 * transaction stays open. 0, or -1 when a queued command had failed. */
int
psink_pipe_pause(struct psink *s)
{
	char e[256];
	if (s->stage.copying && !s->stage.flushing && psink_stage_flush(s, e, sizeof e)) {
		s->dead = 1;
		return -1;
	}
	if (!s->in_pipe)
		return 0;
	if (psink_pipe_sync(s)) {
		s->dead = 1;
		return -1;
	}
	psink_pipe_exit(s);
	s->in_pipe = 0;
	s->base.in_pipeline = 0;
	return 0;
}

void
psink_pipe_resume(struct psink *s, int was)
{
	if (was && !s->dead && psink_pipe_enter(s))
		s->in_pipe = s->base.in_pipeline = 1;
}
