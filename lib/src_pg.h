/* src_pg.h - the PostgreSQL source (src_pg.c). Same ownership rule as
 * dblog.h: options and lists are borrowed. */
#ifndef DBLOG_SRC_PG_H
#define DBLOG_SRC_PG_H

#include <signal.h>

#include "dblog_pg.h"

enum dblog_pgsrc_mode { DBLOG_PG_CDC, DBLOG_PG_SNAPSHOT, DBLOG_PG_SNAPSHOT_THEN_CDC,
			DBLOG_PG_INCREMENTAL };

struct dblog_pgsrc_opts {
	const char *conninfo, *slot, *publication, *name, *checkpoint;
	const char *cursor;            /* incremental: the cursor column */
	int64_t poll_ms;               /* incremental: between polls */
	const struct dblog_list *tables;
	enum dblog_pgsrc_mode mode;
	int until, unbuffered, retries, snapshot_jobs;
	int replica_identity_full;     /* setup: on tables without a replica identity */
	uint64_t endpos;               /* 0: none */
	int64_t heartbeat_ms;          /* 0: no heartbeats */
	int64_t status_ms;             /* standby status update interval */
	volatile sig_atomic_t *stop;
};

/* Create the publication and the slot (idempotent). 0 or -1 with err. */
int dblog_pgsrc_setup(PGconn *c, const struct dblog_pgsrc_opts *o, char *err, size_t errlen);
/* Drop the slot and the publication. 0 or -1 with err. */
int dblog_pgsrc_teardown(PGconn *c, const struct dblog_pgsrc_opts *o, char *err, size_t errlen);
/* Capture: snapshot and/or stream to out. Returns an exit status; err
 * holds the message for a failure. */
int dblog_pgsrc_run(const struct dblog_pgsrc_opts *o, FILE *out, char *err, size_t errlen);

#endif
