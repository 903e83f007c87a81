/* dblog_txbuf.h - the transaction buffer of dblog-txbuf(1) (txbuf*.c).
 * Same ownership rule as dblog.h. */
#ifndef DBLOG_TXBUF_H
#define DBLOG_TXBUF_H

#include "dblog.h"

/* -------------------------------------------------------------- txbuf.c */

/* The transaction buffer of dblog-txbuf(1): events in, whole transactions
 * out in commit order. It borrows the lines and fields it is given (it
 * copies what it keeps) and owns everything it allocates; it writes to the
 * FILE it was given. Functions returning int give 0, 1 for a bad input
 * line (the reason in dblog_txbuf_error; nothing was kept of it) or -1 for
 * a write or spill-file error (message in dblog_txbuf_error). */
enum dblog_txbuf_reason {
	DBLOG_TXB_COMMIT, DBLOG_TXB_COMMIT_TIME, DBLOG_TXB_POLL_INTERVAL,
	DBLOG_TXB_TIMEOUT, DBLOG_TXB_BATCH_LIMIT, DBLOG_TXB_FLUSH,
	DBLOG_TXB_NREASONS,
};
struct dblog_txbuf_opts {
	int64_t poll_interval_ms;   /* 0: no poll-interval gating */
	int64_t max_wait_ms;        /* 0: no timeout */
	int64_t batch_rows, batch_ms;   /* 0: one transaction per batch */
	int64_t max_tx;             /* 0: no limit */
	uint64_t max_bytes;         /* 0: no limit */
	uint64_t max_memory;        /* spill above this */
	const char *spill_dir;
	int as_tx, flush_incomplete, unbuffered;
};
struct dblog_txbuf_stats {
	uint64_t delivered[DBLOG_TXB_NREASONS];
	uint64_t batches, pending_tx, pending_bytes, spills, spilled_bytes;
	uint64_t incomplete, discarded, memory, peak_memory;
};
struct dblog_txbuf;
/* A new buffer writing to out (borrowed). Never NULL. */
struct dblog_txbuf *dblog_txbuf_new(const struct dblog_txbuf_opts *o, FILE *out);
/* Take one event that dblog_event_scan accepted (line without '\n'). */
int dblog_txbuf_event(struct dblog_txbuf *b, const char *line, size_t n,
                      const struct dblog_fields *f);
/* Time has passed (or input is idle): run the timers and wall-clock gates. */
int dblog_txbuf_tick(struct dblog_txbuf *b);
/* end_of_input 1: deliver everything, report incomplete transactions on
 * stderr. 0 (a signal): write the complete ones, count the rest as
 * discarded. */
int dblog_txbuf_finish(struct dblog_txbuf *b, int end_of_input);
/* The message of the last error (borrowed). */
const char *dblog_txbuf_error(const struct dblog_txbuf *b);
void dblog_txbuf_get_stats(const struct dblog_txbuf *b, struct dblog_txbuf_stats *st);
const char *dblog_txbuf_reason_name(enum dblog_txbuf_reason r);
/* Free everything; spill files go with their descriptors. */
void dblog_txbuf_free(struct dblog_txbuf *b);

#endif
