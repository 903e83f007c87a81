/* src_pg_impl.h - what src_pg.c (setup, stream, run) and src_pg_snap.c
 * (snapshots, incremental reads) share; not part of the library's API. */
#ifndef DBLOG_SRC_PG_IMPL_H
#define DBLOG_SRC_PG_IMPL_H

#include <time.h>

#include "dblog.h"
#include "pgoutput.h"
#include "src_pg.h"

struct stream {
	const struct dblog_pgsrc_opts *o;
	PGconn *repl, *sql;
	struct dblog_pgdec dec;
	FILE *out;
	uint64_t received, confirm, sent_ptr, target, last_hb;
	int64_t last_status, last_event, last_cp_check, last_ask;
	uint64_t msgs, written;
	int stopped;
	int resnap;   /* the snapshot is read again: truncate each table first */
	struct timespec cp_mtime;
	int write_failed;
};

/* A one-value query: the value (owned) or NULL with err set. */
char *pgsrc_query1(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
		   size_t errlen);
/* Turn a server error into advice: what is wrong and what fixes it. */
void pgsrc_advise(const struct dblog_pgsrc_opts *o, const char *what, const char *msg, char *err,
		  size_t errlen);
int pgsrc_slot_exists(PGconn *c, const char *slot, int *active, char *err, size_t errlen);
/* Write one event line (the decoder's emit callback; ctx a struct stream). */
int pgsrc_emit_line(void *ctx, const char *line, size_t n);

/* Read the tables in exported snapshot snap (NULL: a snapshot of its own),
 * as of lsn. 0 or -1 (err set). */
int pgsrc_snapshot(struct stream *s, const char *snap, uint64_t lsn, int use_pub, char *err,
		   size_t errlen);
/* Create the slot with an exported snapshot, read the tables in it; *start
 * is where the stream goes on. */
int pgsrc_snapshot_with_slot(struct stream *s, uint64_t *start, char *err, size_t errlen);
/* The incremental mode: read every table past its cursor. */
int pgsrc_incremental(struct stream *s, char *err, size_t errlen);

#endif
