/* dblog_flashback.h - the compensating events of dblog-flashback(1) (flashback*.c).
 * Same ownership rule as dblog.h. */
#ifndef DBLOG_FLASHBACK_H
#define DBLOG_FLASHBACK_H

#include "dblog.h"

/* ------------------------------------------------------ flashback*.c */

/* dblog-flashback(1): the compensating events that undo a window of
 * changes. The engine borrows the lines and fields it is given (it copies
 * what it keeps), owns everything it allocates, and writes to the FILE it
 * was given; what it cannot undo it reports, it never skips silently. */

/* flashback_store.c: records kept for reading back newest first, in
 * memory up to a bound and in an unlinked temporary file beyond it. */
struct dblog_fbstore;
/* A store keeping at most max_memory bytes in memory; spill files go to
 * dir (NULL: $TMPDIR or /tmp). Never NULL. */
struct dblog_fbstore *dblog_fbstore_new(uint64_t max_memory, const char *dir);
/* Append a record of type (a byte) and data[0..n). 0, or -1 with a
 * message (dblog_fbstore_error) when the spill file cannot be written. */
int dblog_fbstore_put(struct dblog_fbstore *s, char type, const void *data, size_t n);
/* Read the records back, last first: 1 with *type, *data, *n (borrowed
 * until the next call), 0 after the first, -1 on a read error. Once
 * started, no more records can be put. */
int dblog_fbstore_prev(struct dblog_fbstore *s, char *type, const char **data, size_t *n);
const char *dblog_fbstore_error(const struct dblog_fbstore *s);
/* Bytes written to the spill file so far. */
uint64_t dblog_fbstore_spilled(const struct dblog_fbstore *s);
void dblog_fbstore_free(struct dblog_fbstore *s);

/* flashback_invert.c: the compensating change of one change. */
/* What is known of a table: its columns from schema events (NULL: no
 * schema seen), and the most columns an after-image of it had. */
struct dblog_fbtable {
	char *name;              /* decoded "schema.table" */
	char *columns;           /* the raw "columns" array of its last schema */
	struct dblog_list cols, types;   /* visible column names and types */
	size_t max_after;
	int has_rows;            /* --check-later: rows of it were touched */
};
struct dblog_fbtables {
	struct dblog_fbtable **v;
	size_t n, cap;
};
/* The entry of table (a decoded name), created when missing (borrowed). */
struct dblog_fbtable *dblog_fbtables_get(struct dblog_fbtables *t, const char *name);
void dblog_fbtables_free(struct dblog_fbtables *t);
/* Take a schema event's columns into t. Returns 1 when they differ from
 * the columns known before (a schema change), else 0. */
int dblog_fbtable_schema(struct dblog_fbtable *t, struct dblog_span columns);
/* The type of column name (NULL: unknown; borrowed). */
const char *dblog_fbtable_type(const struct dblog_fbtable *t, const char *name, size_t n);

/* Why a change cannot be undone: why and fix are static or point into
 * the struct's buffer; fix may name a SQL statement. */
struct dblog_fbrefusal {
	const char *why;
	struct dblog_buf fix;
};
/* Write into out the key, before and after members of the change that
 * undoes f (from ',"key":' on), into *op its op, and the canonical text of
 * the row's key before and after f into key_old/key_new (for --check-later).
 * driver is the source's driver ("postgres", "sqlite" or NULL), or
 * "flashback" for compensating events, whose old rows hold what their
 * inverse needs. Returns 1
 * when there is something to undo, 0 for an update that changed nothing,
 * -1 with r filled when f cannot be undone. */
int dblog_fb_invert(const struct dblog_fields *f, struct dblog_fbtable *t, const char *driver,
		    enum dblog_op *op, struct dblog_buf *out, struct dblog_buf *key_old,
		    struct dblog_buf *key_new, struct dblog_fbrefusal *r);
/* The canonical text of a key object ({"a":1,"b":"x"}, no white space),
 * into out (cleared first). */
void dblog_fb_key_text(struct dblog_span key, struct dblog_buf *out);

/* flashback_rows.c: the rows a window touched (--check-later). */
struct dblog_fbrows;
struct dblog_fbrows *dblog_fbrows_new(void);
/* The row number of (table, key text), or 0 when not known. */
uint64_t dblog_fbrows_find(struct dblog_fbrows *r, const char *table, const char *key, size_t n);
/* Add (table, key text) as row number row (0: a new row); returns it. */
uint64_t dblog_fbrows_add(struct dblog_fbrows *r, const char *table, const char *key, size_t n,
			  uint64_t row);
/* Mark row as changed after the window; is it marked? */
void dblog_fbrows_mark(struct dblog_fbrows *r, uint64_t row);
int dblog_fbrows_marked(const struct dblog_fbrows *r, uint64_t row);
/* Mark every row of table. */
void dblog_fbrows_mark_table(struct dblog_fbrows *r, const char *table);
void dblog_fbrows_free(struct dblog_fbrows *r);

/* flashback_sql.c: compensating transactions as SQL. */
enum dblog_fb_dialect { DBLOG_FB_POSTGRES, DBLOG_FB_SQLITE };
/* The preamble of a script (a guard table, comments). */
void dblog_fbsql_preamble(struct dblog_buf *out, enum dblog_fb_dialect d);
/* Append to body one guarded statement for the compensating change c
 * (scanned), of table (decoded name) with schema info t (may be NULL);
 * what (one line) names it in error messages. */
void dblog_fbsql_change(struct dblog_buf *body, enum dblog_fb_dialect d,
			const struct dblog_fields *c, const char *table,
			const struct dblog_fbtable *t, const char *what);
/* Append to out one compensating transaction holding body, preceded by
 * the comment (one line). */
void dblog_fbsql_tx(struct dblog_buf *out, enum dblog_fb_dialect d, const char *comment,
		    const struct dblog_buf *body);

/* flashback.c: the engine. */
struct dblog_fb_opts {
	int since_is_pos, until_is_pos, has_since, has_until;
	struct dblog_pos since_pos, until_pos;
	int64_t since_time, until_time;
	struct dblog_list txs;          /* --tx: transaction ids as text */
	struct dblog_list tables;       /* -t: globs */
	unsigned ops;                   /* bit per enum dblog_op; 0: all */
	struct dblog_expr *where;
	int allow_partial, check_later, cascade, nonconflict_only;
	int plan, unbuffered;
	int sql;                        /* 0: events; else 1 + enum dblog_fb_dialect */
	uint64_t max_memory;
	const char *spill_dir;
	struct dblog_dlq *dlq;          /* --dlq: bad lines parked there (the
	                                   caller's); NULL: a bad line stops */
};
struct dblog_fb;
/* A new engine writing to out (borrowed); o is copied (its lists and
 * expression stay the caller's). Never NULL. */
struct dblog_fb *dblog_fb_new(const struct dblog_fb_opts *o, FILE *out);
/* Take one input line (without '\n'), number lineno. 0 (also for a bad
 * line parked in the options' dlq), or -1 with a message printed (bad
 * line, mixed sources, spill error). */
int dblog_fb_line(struct dblog_fb *fb, const char *line, size_t n, uint64_t lineno);
/* End of input: report, then write the plan, the events or the SQL.
 * Returns the exit status (0, or 1 when refused or on a write error). */
int dblog_fb_finish(struct dblog_fb *fb);
void dblog_fb_free(struct dblog_fb *fb);

#endif
