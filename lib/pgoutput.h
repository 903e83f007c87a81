/* pgoutput.h - the pgoutput decoder's state (pgoutput.c). The decoder
 * borrows conn for catalog look-ups and writes events through emit. */
#ifndef DBLOG_PGOUTPUT_H
#define DBLOG_PGOUTPUT_H

#include "dblog_pg.h"

struct dblog_pgcol {
	char *name;
	uint32_t type;
	int32_t typmod;
	int key;
};

struct dblog_pgrel {
	uint32_t oid;
	char *table;        /* "schema.name" */
	char ident;         /* replica identity: d, n, f, i */
	struct dblog_pgcol *cols;
	int ncols;
	char *columns;      /* the schema event's columns JSON */
	int keyless;        /* FULL without a primary key: the key is the row */
	int ignored;        /* schema dblog (dblog-apply's state): never sent */
	int schema_sent;
};

struct dblog_pgdec {
	char *name;                 /* source name */
	PGconn *conn;               /* catalog look-ups (borrowed, may be NULL) */
	struct dblog_pgtypes *types;
	struct dblog_pgrel *rels;
	size_t nrels;
	/* output */
	int (*emit)(void *ctx, const char *line, size_t n);
	int (*on_commit)(void *ctx, uint64_t lsn);
	void *ctx;
	/* the transaction being decoded */
	int in_tx, skip_tx, begin_pending;
	uint64_t tx_lsn, tx_end, last_commit, commits;
	uint32_t xid;
	int64_t seq;
	char lsn[24], time[40];
	char *origin;
	/* resume: transactions at or before skip_lsn (changes up to skip_seq
	 * of the one at skip_lsn when skip_has_seq) are not sent again */
	uint64_t skip_lsn;
	int64_t skip_seq;
	int skip_has_seq;
	/* --endpos / --until-caught-up: transactions committing after this
	 * are not sent; reached_end is set at the first one */
	uint64_t stop_before;
	int reached_end;
	struct dblog_buf line, src, k, bef, aft, unch;
};

void dblog_pgdec_init(struct dblog_pgdec *d, const char *name, PGconn *conn);
/* The source object of the events gets "identity" (NULL: none). */
void dblog_pgdec_set_identity(struct dblog_pgdec *d, const char *identity);
void dblog_pgdec_free(struct dblog_pgdec *d);
/* Decode one pgoutput message (the XLogData payload). 0, or -1 for a
 * malformed message or a failed emit. */
int dblog_pgdec_message(struct dblog_pgdec *d, const char *msg, size_t n);

#endif
