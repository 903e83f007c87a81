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
#define PIPE_UNSENT_MAX (16u << 20)   /* bytes queued in the client, not sent */
#define STAGE_SLOTS 65536       /* key hashes of a stage (> its rows) */

struct pstmt {
	char *key, name[24];
	int nparams;
	struct pstmt *next;
};

struct pcol {
	char *name, *type;
	char *btype;        /* the type without its modifier, for casts */
	int array, pk, json;
	int noeq;           /* the type has no equality: compare as text */
	char ident;         /* identity column: 'a' ALWAYS, 'd' BY DEFAULT, else 0 */
	char *seq;          /* its sequence (an SQL name), or NULL */
	int generated;      /* GENERATED ALWAYS AS (...) STORED */
};

struct ptable {
	char *name;         /* as given: "schema.table" or "table" */
	char *qname;        /* quoted */
	struct pcol *cols;
	int ncols;
	int nocopy;         /* a COPY met a row already there: upsert instead */
	int ctid;           /* a table: a row can be picked by (tableoid, ctid) */
	int always;         /* has a GENERATED ALWAYS identity column: inserts
	                       say OVERRIDING SYSTEM VALUE */
	int seqs;           /* has identity columns with a sequence */
};

/* A row of a set-based statement and its sort key. */
struct pskey {
	int64_t k;         /* an integer key's value */
	const char *t;     /* else the key's (first column's) text */
	uint32_t row;
};

/* A run of changes to one table and column set (sink_pg_bulk.c). */
struct pstage {
	int open, flushing, inserts, nocopy;
	int always;                /* the table has a GENERATED ALWAYS identity */
	int copying, copy_bad;     /* a COPY is open (outside the pipeline) */
	size_t copied, copy_at;    /* rows sent by it; where the next one starts */
	struct dblog_buf key;      /* the statement key of table and columns */
	struct dblog_buf names;    /* quoted column names, NUL-terminated */
	char **types;              /* their types, for the casts */
	char *isarr;               /* per column: of an array type */
	size_t ncols, npk, *pkpos; /* primary key columns: positions in names */
	char *table, *qname;
	struct dblog_buf vals;     /* ncols NUL-terminated values per row */
	char *null;                /* rows * ncols: the value is NULL */
	size_t cap;
	struct dblog_buf ops;      /* per row: 'i' insert, 'u' update, 'd' delete */
	size_t rows;
	uint64_t *seen;            /* key hashes, STAGE_SLOTS */
	uint16_t *nseen;           /* per slot: changes of that key staged */
	uint32_t *used;            /* the slots of seen in use */
	size_t nused;
	/* a key's n-th change in the stage goes in round n: the rounds go
	 * out in order, each as set-based statements (no key twice in one) */
	uint16_t *round;           /* per row */
	size_t round_cap;
	unsigned nrounds, cur_round;
	struct pskey *order;       /* the rows of the set being sent, by key */
	size_t order_cap, norder;
	size_t limit;              /* rows of this stage: grows in a transaction */
	struct dblog_buf upsert, del, cast, out;
	char desc[112];
	/* the parameters of a set-based statement: binary arrays, each of
	 * text ('t') or of its column's own type ('b') */
	int lens[MAXCOLS], fmts[MAXCOLS];
	char elem[MAXCOLS + 1];
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
	size_t next_bytes;          /* the size of the next command's values */
	size_t unsent;              /* bytes queued since all was sent */
	const struct dblog_fields *cur;
	char failure[1024];
	struct pstage stage;
	/* tables whose staged inserts go in by plain INSERT (plain_yes: one
	 * went in; plain_no: one met a row already there, or a batch holding
	 * one failed: upserted instead), and those plain-inserted in the batch
	 * being sent; NUL-terminated names, kept over a reset */
	struct dblog_buf plain_yes, plain_no, plain_batch;
	/* tables with identity columns written in the batch: their sequences
	 * are moved past the values applied before it commits */
	struct dblog_buf ident_batch;
};

/* Are changes sent without waiting: in the pipeline, or in a COPY of the
 * bulk path (which goes back to the pipeline when it ends)? */
static inline int
psink_piped(const struct psink *s)
{
	return s->in_pipe || s->stage.copying;
}

/* sink_pg_pipe.c */
int psink_pipe_enter(struct psink *s);
void psink_pipe_exit(struct psink *s);
int psink_pipe_sync(struct psink *s);
int psink_pipe_failed(struct psink *s, char *err, size_t errlen);
int psink_pipe_queued(struct psink *s, int ok, const char *what, char *err, size_t errlen);
int psink_pipe_pause(struct psink *s);
void psink_pipe_resume(struct psink *s, int was);
int psink_pipe_push(struct psink *s);
size_t psink_text_bytes(const char *const *v, int n);

/* sink_pg.c */
int psink_fail(struct psink *s, PGresult *r, char *err, size_t errlen);
int psink_exec(struct psink *s, const char *sql, char *err, size_t errlen);
/* The table of name (as events write it; the caller checked it with
 * psink_qualified), its columns read when not known yet. */
struct ptable *psink_table(struct psink *s, const char *name);
int psink_qualified(struct dblog_buf *b, const char *name);
void psink_forget(struct psink *s, const char *name);
void psink_ident_span(struct psink *s, struct dblog_buf *b, struct dblog_span name);
struct ptable *psink_table_cached(struct psink *s, const char *name);
const struct pcol *psink_col(const struct ptable *t, struct dblog_span name, struct dblog_buf *scratch);
void psink_describe(struct psink *s, char *out, size_t n, const char *what);
void psink_mkkey(struct psink *s, char kind, const struct ptable *t, const struct dblog_span *a,
		 size_t na, const struct dblog_span *b, size_t nb);
void psink_params_of(struct psink *s, const struct ptable *t, const struct dblog_span *names,
		     const struct dblog_span *vals, size_t n);
struct pstmt *psink_find(struct psink *s);
struct pstmt *psink_prepare(struct psink *s, const char *sql, int nparams, char *err, size_t errlen);
/* The one-row INSERT of s->names into s->sql (upsert: ON CONFLICT ...). */
void psink_insert_sql(struct psink *s, const struct ptable *t, int upsert);
/* s->sql cleared, then the ON CONFLICT clause of the upsert of s->names. */
void psink_conflict_clause(struct psink *s, const struct ptable *t);

/* sink_pg_bulk.c: the bulk path (pipeline mode) */
int psink_stage_add(struct psink *s, const struct ptable *t, char op, char *err, size_t errlen);
int psink_stage_flush(struct psink *s, char *err, size_t errlen);
void psink_stage_drop(struct psink *s);
int psink_name_in(const struct dblog_buf *b, const char *name);
void psink_name_add(struct dblog_buf *b, const char *name);
void psink_stage_free(struct pstage *st);

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
