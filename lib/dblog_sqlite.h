/* dblog_sqlite.h - SQLite parts of libdblog (sqlite.c, src_sqlite.c,
 * sink_sqlite.c). Same ownership rule as dblog.h. */
#ifndef DBLOG_SQLITE_H
#define DBLOG_SQLITE_H

#include <signal.h>
#include <sqlite3.h>

#include "dblog.h"

/* ------------------------------------------------------------- sqlite.c */

struct dblog_sqlite_col {
	char *name, *type;
	int notnull, pk;      /* pk: 1-based position in the primary key, 0 if none */
};
struct dblog_sqlite_table {
	char *name;
	struct dblog_sqlite_col *cols;
	size_t ncols, npk;
};

/* Open a database (read-write, created if missing, unless readonly) with a
 * busy timeout. 0, or -1 with a message in err. */
int dblog_sqlite_open(const char *path, int readonly, sqlite3 **db, char *err, size_t errlen);
/* Run SQL; 0, or -1 with SQLite's message in err. */
int dblog_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
/* Columns of a table: 0, 1 if the table does not exist, -1 on error. */
int dblog_sqlite_table_info(sqlite3 *db, const char *name, struct dblog_sqlite_table *t);
void dblog_sqlite_table_free(struct dblog_sqlite_table *t);
/* User tables (not sqlite_*, not _dblog_*), appended to out. 0 or -1. */
int dblog_sqlite_user_tables(sqlite3 *db, struct dblog_list *out);

/* --------------------------------------------------------- src_sqlite.c */

/* Create the changelog, marker and stash tables and the triggers of the
 * tables in want (all user tables if empty), in one transaction;
 * idempotent (triggers are re-created from the current columns, which
 * _dblog_captured records). With migration (SQL, or NULL), the triggers of
 * want are dropped and migration is run first, in the same transaction.
 * 0 or -1. */
int dblog_sqlite_setup(sqlite3 *db, const struct dblog_list *want, const char *migration,
		       char *err, size_t errlen);
/* Drop the triggers of want; with want empty, of every table and the
 * changelog tables too. 0 or -1. */
int dblog_sqlite_teardown(sqlite3 *db, const struct dblog_list *want, char *err, size_t errlen);

/* A changelog reader writing events to out (borrowed). */
struct dblog_sqlite_src;
struct dblog_sqlite_src *dblog_sqlite_src_new(sqlite3 *db, const char *name, FILE *out,
					      int unbuffered);
void dblog_sqlite_src_free(struct dblog_sqlite_src *s);
/* The next read skips changes at or before (pos, seq): resuming inside a
 * transaction. */
void dblog_sqlite_src_resume_inside(struct dblog_sqlite_src *s, int64_t pos, int64_t seq);
/* Reads end after the transaction in progress once *stop is set. */
void dblog_sqlite_src_stop_flag(struct dblog_sqlite_src *s, volatile sig_atomic_t *stop);
/* The begin marker at or before changelog row pos, or -1 if none. */
int64_t dblog_sqlite_src_tx_start(struct dblog_sqlite_src *s, int64_t pos);
/* The last changelog sequence number (0 if empty), -1 without a changelog. */
int64_t dblog_sqlite_src_head(struct dblog_sqlite_src *s);
int dblog_sqlite_src_read(struct dblog_sqlite_src *s, int64_t after, int64_t until,
			  int64_t *last, char *err, size_t errlen);
int dblog_sqlite_src_snapshot(struct dblog_sqlite_src *s, const struct dblog_list *want,
			      int64_t *pos, int truncate_first, char *err, size_t errlen);
/* --mode incremental: rows of the tables whose cursor column is past the
 * value in cursors ({"main.t": value, ...}; borrowed, updated to the last
 * values read) as snapshot events carrying "cursor": {"main.t": value}. 0
 * or -1 (err, or empty for a write error). */
int dblog_sqlite_src_incremental(struct dblog_sqlite_src *s, const struct dblog_list *want,
				 const char *column, json_t *cursors, char *err,
				 size_t errlen);
int dblog_sqlite_src_prune(struct dblog_sqlite_src *s, int64_t upto, char *err, size_t errlen);
/* PRAGMA data_version: changes when another connection commits. */
int dblog_sqlite_src_data_version(struct dblog_sqlite_src *s);

#endif
