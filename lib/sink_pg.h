/* sink_pg.h - inside the PostgreSQL apply backend: the sink's state and
 * what its two files share. sink_pg.c runs changes (statements, pipeline,
 * gathered upserts); sink_pg_schema.c creates tables and keeps the
 * dblog.applied and dblog.conflicts rows. Not for use elsewhere. */
#ifndef DBLOG_SINK_PG_H
#define DBLOG_SINK_PG_H

#include "dblog.h"
#include "dblog_pg.h"
#include "sink.h"

#define NBUCKETS 1024
#define MAXCOLS 1600
#define PIPE_MAX 1000           /* commands queued between sync points */
#define ACC_MAX 256             /* rows in one multi-row upsert */
#define ACC_SLOTS 1024

struct pstmt {
	char *key, name[24];
	int nparams;
	struct pstmt *next;
};

struct pcol {
	char *name, *type;
	int array, pk, json;
	int noeq;           /* the type has no equality: compare as text */
};

struct ptable {
	char *name;         /* as given: "schema.table" or "table" */
	char *qname;        /* quoted */
	struct pcol *cols;
	int ncols;
};

struct psink {
	struct dblog_sink base;
	PGconn *c;
	struct pstmt *buckets[NBUCKETS];
	int nstmts;
	struct ptable *tables;
	size_t ntables;
	struct dblog_buf key, sql, s1, vals;
	struct dblog_span names[MAXCOLS], v[MAXCOLS], knames[MAXCOLS], kv[MAXCOLS],
		bnames[MAXCOLS], bv[MAXCOLS];
	size_t ncols, nkeys, nbefore;
	char *dest_row;
	/* parameters of the statement being run */
	const char *params[3 * MAXCOLS];
	size_t offs[3 * MAXCOLS];
	int isnull[3 * MAXCOLS];
	int np;
	/* libpq pipeline mode (source_wins without --dlq): commands are sent
	 * without waiting, results read at sync points; a failure rolls the
	 * whole destination transaction back */
	int pipe, in_pipe, dead, queued;
	char desc[PIPE_MAX][112];   /* what each queued command was, for errors */
	int expect[PIPE_MAX];       /* rows a data command changes unless they
	                               already were as the events leave them */
	int next_expect;
	const struct dblog_fields *cur;
	char failure[1024];
	/* upserts of one table and column set gathered into one multi-row
	 * statement (pipeline mode): their parameters, keys seen (hashes) */
	struct dblog_buf acc_key, acc_vals, acc_sql;
	int *acc_null;
	size_t acc_rows, acc_cap, acc_ncols;
	unsigned acc_seen[ACC_SLOTS];
	char acc_desc[112];
	int flushing;
};

/* sink_pg.c */
int psink_fail(struct psink *s, PGresult *r, char *err, size_t errlen);
int psink_exec(struct psink *s, const char *sql, char *err, size_t errlen);
int psink_pipe_failed(struct psink *s, char *err, size_t errlen);
int psink_pipe_queued(struct psink *s, int ok, const char *what, char *err, size_t errlen);
int psink_pipe_pause(struct psink *s);
void psink_pipe_resume(struct psink *s, int was);
int psink_acc_flush(struct psink *s, char *err, size_t errlen);
struct ptable *psink_table(struct psink *s, const char *name);
void psink_forget(struct psink *s, const char *name);
void psink_ident_span(struct psink *s, struct dblog_buf *b, struct dblog_span name);

/* sink_pg_schema.c: the schema, load_pos, save_pos and park operations */
int psink_schema(struct dblog_sink *base, const struct dblog_fields *f, const char *name,
		 int create, char *err, size_t errlen);
int psink_load_pos(struct dblog_sink *base, const char *stream, json_t **pos, char *err,
		   size_t errlen);
int psink_save_pos(struct dblog_sink *base, const char *stream, const json_t *pos, char *err,
		   size_t errlen);
int psink_park(struct dblog_sink *base, const char *stream, const char *event, size_t n,
	       const struct dblog_conflict_info *ci, char *err, size_t errlen);

#endif
