/* sink.h - the apply backends behind one interface (sink_sqlite.c; the
 * PostgreSQL sink follows the same contract). Same ownership rule as
 * dblog.h: every function borrows its arguments. */
#ifndef DBLOG_SINK_H
#define DBLOG_SINK_H

#include "dblog.h"

enum dblog_conflict {
	DBLOG_SOURCE_WINS, DBLOG_DEST_WINS, DBLOG_LAST_WRITER_WINS, DBLOG_MANUAL_REVIEW,
};

/* What applying one change did. */
enum dblog_outcome {
	DBLOG_APPLIED,          /* the change took effect */
	DBLOG_NOOP,             /* the row already was as the event leaves it */
	DBLOG_CONFLICT_KEPT,    /* a conflict the policy resolved for the destination */
	DBLOG_CONFLICT_PARKED,  /* a conflict parked for review (manual_review) */
};

struct dblog_conflict_info {
	const char *why;        /* static: "insert found an existing row", ... */
	char *dest_row;         /* the destination row as JSON (owned by the sink) */
};

struct dblog_sink;
struct dblog_sink_ops {
	/* Start, commit or roll back the destination transaction. */
	int (*begin)(struct dblog_sink *, char *err, size_t errlen);
	int (*commit)(struct dblog_sink *, char *err, size_t errlen);
	int (*rollback)(struct dblog_sink *);
	/* Savepoints around one source transaction. */
	int (*savepoint)(struct dblog_sink *, char *err, size_t errlen);
	int (*release)(struct dblog_sink *, char *err, size_t errlen);
	int (*rollback_to)(struct dblog_sink *, char *err, size_t errlen);
	/* The table arguments are names as events write them ("schema.table",
	 * dblog_table_join), after the apply's mapping; each backend splits
	 * them (SQLite keeps the last part). */
	/* Apply one change event (f) to dest table `table`. 0 with *out set
	 * (and *ci on conflicts), or -1 with a message: the event is bad and
	 * had no effect. */
	int (*apply)(struct dblog_sink *, const struct dblog_fields *f, const char *table,
		     enum dblog_outcome *out, struct dblog_conflict_info *ci,
		     char *err, size_t errlen);
	/* A schema event: create the table when asked to and missing. */
	int (*schema)(struct dblog_sink *, const struct dblog_fields *f, const char *table,
		      int create, char *err, size_t errlen);
	/* The applied position of a stream: 0 with *pos (new JSON object:
	 * source, pos, seq, ...) or NULL if none, -1 on error. */
	int (*load_pos)(struct dblog_sink *, const char *stream, json_t **pos,
			char *err, size_t errlen);
	/* Record the applied position (inside the open transaction). */
	int (*save_pos)(struct dblog_sink *, const char *stream, const json_t *pos,
			char *err, size_t errlen);
	/* Park a conflict in the destination's conflict table. */
	int (*park)(struct dblog_sink *, const char *stream, const char *event, size_t n,
		    const struct dblog_conflict_info *ci, char *err, size_t errlen);
	/* Hold the stream for this run: no other dblog-apply applies it into
	 * this destination until close (or until the process dies). 0, 1 when
	 * another holds it, -1 on error. */
	int (*lock)(struct dblog_sink *, const char *stream, char *err, size_t errlen);
	/* After batch_failed: leave the failed state so that the batch can be
	 * applied again (carefully). */
	void (*reset)(struct dblog_sink *);
	/* Pipelined sinks: wait for the results of what was sent so far; -1
	 * (and batch_failed) when one failed. NULL for the others. */
	int (*sync)(struct dblog_sink *, char *err, size_t errlen);
	void (*close)(struct dblog_sink *);
};

struct dblog_sink {
	const struct dblog_sink_ops *ops;
	enum dblog_conflict policy;
	FILE *dry_run;          /* non-NULL: print SQL there instead of running it */
	int create_tables;      /* create missing tables (from schema events, or
	                           from a change's columns when none came) */
	int careful;            /* a bad event must leave the transaction usable
	                           (--dlq): PostgreSQL puts a savepoint around it */
	int pipelined;          /* changes are sent without waiting: a failure is
	                           found later and fails the whole batch */
	int batch_failed;       /* set with such a failure; the destination
	                           transaction was rolled back */
	int lost;               /* the connection to the destination was lost */
	int in_pipeline;        /* the open batch is being pipelined right now */
	int no_replay;          /* the open batch is too large to be applied
	                           again: no shortcut that a row already there
	                           would fail (plain INSERTs) */
	long noops;             /* no-ops found at pipeline sync points */
};

/* sink.c: shared by the backends. */
/* FNV-1a hash of s[0..n) (statement cache keys). */
unsigned dblog_sink_hash(const char *s, size_t n);
/* An event's column object split into at most max (name, value) spans. */
size_t dblog_sink_split(struct dblog_span obj, struct dblog_span *names, struct dblog_span *vals,
			size_t max);
/* Does the policy compare the destination row before changing it? */
int dblog_sink_guarded(enum dblog_conflict policy);
/* Append a column name (a JSON string span) to b as a quoted identifier. */
void dblog_sink_ident(struct dblog_buf *b, struct dblog_span name, struct dblog_buf *scratch);
/* Are all the column names non-empty and free of NUL characters? */
int dblog_sink_names_ok(const struct dblog_span *names, size_t n, struct dblog_buf *scratch);
/* The message for a table name (as the apply gives it, an event's form)
 * that dblog_table_split() refuses, into err. */
void dblog_sink_bad_table(const char *table, char *err, size_t errlen);

/* Open a SQLite destination (created if missing). NULL with err set. */
struct dblog_sink *dblog_sink_sqlite_open(const char *path, enum dblog_conflict policy,
					  FILE *dry_run, char *err, size_t errlen);

/* Open a PostgreSQL destination (conninfo or URI); the dblog schema's
 * tables are created if missing. NULL with err set, *retry when the server
 * could not be reached. */
struct dblog_sink *dblog_sink_pg_open(const char *conninfo, enum dblog_conflict policy,
				      FILE *dry_run, int *retry, char *err, size_t errlen);

#endif
