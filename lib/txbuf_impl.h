/* txbuf_impl.h - the insides of the transaction buffer of dblog-txbuf(1),
 * shared by txbuf.c (events, gating, end of input), txbuf_tx.c (sources,
 * tables, the transaction table and heap, storing changes), txbuf_spill.c
 * (spill file, sorted runs, merging) and txbuf_out.c (writing, batches).
 * Not for commands: they use the txbuf section of dblog.h. Everything a
 * struct points to is owned by it; struct tx is owned by the buffer from
 * tx_new until tx_free. */
#ifndef DBLOG_TXBUF_IMPL_H
#define DBLOG_TXBUF_IMPL_H

#include <sys/types.h>

#include "dblog.h"
#include "dblog_txbuf.h"

/* One stored change (or schema event) of a transaction: its sort key and
 * where its bytes are in the transaction's data buffer. Sorting by (seq,
 * off) is stable, since off grows with arrival. */
struct rec {
	int64_t seq;
	size_t off;
	uint32_t len;       /* bytes, the '\n' included */
};

/* A sorted run of records in the spill file: records of
 * [int64 seq][uint32 len][len bytes], from off to end. */
struct run {
	off_t off, end;
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
	int has_begin, has_commit, in_list, delivered;
	size_t heap_i;          /* position in the marker-less heap, or SIZE_MAX */
	uint64_t serial;        /* arrival order */
	int64_t arrived_ms;
	enum dblog_txbuf_reason reason;
	struct dblog_buf begin, commit;     /* the marker lines */
	struct dblog_buf data;  /* change lines in memory, '\n' after each */
	struct rec *rec;
	size_t nrec, caprec;
	int sorted;             /* the records in memory are in seq order */
	int64_t memmax;         /* greatest seq of the records in memory */
	int64_t maxseq;         /* greatest seq of all, spilled ones too */
	uint64_t *seen;         /* bitmap of the seqs seen (duplicate check) */
	size_t nseen;           /* words */
	uint64_t count, bytes;  /* changes and their bytes, spilled ones too */
	int64_t ct;             /* commit_time (marker-less order), us */
	int has_ct;
	struct dblog_pos pos0;  /* first pos (marker-less order) */
	struct dblog_pos maxpos;
	struct dblog_buf ct_raw, pos_raw;   /* JSON texts for synthesized markers */
	struct table **tables;
	size_t ntables, captables;
	struct run *runs;       /* in the buffer's spill file */
	size_t nruns;
	size_t mem;             /* bytes counted against max_memory */
};

#define TXB_RECENT 4096

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
	uint64_t recent[TXB_RECENT];    /* hashes of delivered transactions */
	uint64_t again;                 /* of them, seen again */
	struct tx *last;                /* the transaction of the last event */
	uint64_t serial;
	int64_t event_ct;               /* latest commit_time of the stream */
	int64_t last_ms;                /* batch id clock */
	uint32_t id_lo;                 /* batch id counter, random at start */
	int spill_fd;                   /* one spill file for all, -1 none */
	off_t spill_end;
	size_t live_runs;               /* runs in it not delivered yet */
	size_t mem;
	size_t budget;                  /* max_memory less the fixed overhead */
	struct dblog_buf line;
	struct dblog_txbuf_stats st;
	char err[512];
};

/* txbuf_tx.c */
struct source *txb_source_of(struct dblog_txbuf *b, struct dblog_span s);
struct table *txb_table_of(struct dblog_txbuf *b, struct source *src, struct dblog_span name);
uint64_t txb_key_hash(struct dblog_span src, struct dblog_span tx);
struct tx *txb_find(struct dblog_txbuf *b, uint64_t h, struct dblog_span src,
                    struct dblog_span tx);
struct tx *txb_new(struct dblog_txbuf *b, uint64_t h, struct source *src,
                   struct dblog_span s, struct dblog_span txs);
/* Take t out of the hash, the arrival list and the heap: delivered. */
void txb_detach(struct dblog_txbuf *b, struct tx *t);
void txb_free(struct dblog_txbuf *b, struct tx *t);
void txb_recount(struct dblog_txbuf *b, struct tx *t);
int txb_markerless(const struct tx *t);
void txb_note(struct tx *t, const struct dblog_fields *f);
void txb_add_table(struct tx *t, struct table *tb);
/* Has t had a change with this seq? Marks it seen. Sparse seqs far beyond
 * the number of changes are not tracked (0). */
int txb_seen_seq(struct dblog_txbuf *b, struct tx *t, int64_t seq);
/* Store one change line of t under seq, spilling first if memory would
 * pass the limit. 0 or -1 (spill error). */
int txb_store(struct dblog_txbuf *b, struct tx *t, const char *line, size_t n, int64_t seq);
void txb_heap_push(struct dblog_txbuf *b, struct tx *t);
void txb_heap_remove(struct dblog_txbuf *b, struct tx *t);
int txb_span_int(struct dblog_span v, int64_t *out);
int txb_span_null(struct dblog_span v);

/* txbuf_spill.c */
/* Sort t's records in memory by (seq, arrival). */
void txb_sort(struct tx *t);
/* Spill the largest transactions until memory plus extra fits the budget.
 * 0 or -1. */
int txb_enforce_memory(struct dblog_txbuf *b, size_t extra);
/* Call put for each change of t in seq order, spilled runs and memory
 * merged. 0 or -1 (a spill file that cannot be read; b->err set). */
int txb_each_change(struct dblog_txbuf *b, struct tx *t,
                    void (*put)(void *arg, const char *p, size_t n), void *arg);
/* t is gone: give its runs' space back. */
void txb_release_runs(struct dblog_txbuf *b, struct tx *t);

/* txbuf_out.c */
void txb_emit(struct dblog_txbuf *b, const char *p, size_t n);
int txb_write_fail(struct dblog_txbuf *b);
/* Put t, complete for reason r, into the open batch; write the batch when
 * it is full or when not batching. 0 or -1. */
int txb_deliver(struct dblog_txbuf *b, struct tx *t, enum dblog_txbuf_reason r);
/* Write the open batch under one id, then flush. 0 or -1. */
int txb_write_batch(struct dblog_txbuf *b);
void txb_release_heartbeats(struct dblog_txbuf *b, struct source *src);
void txb_batch_id_init(struct dblog_txbuf *b);

#endif
