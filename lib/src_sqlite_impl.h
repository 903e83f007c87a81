/* src_sqlite_impl.h - what src_sqlite_log.c (changelog, triggers, setup)
 * and src_sqlite.c (reading) share; not part of the library's API. */
#ifndef DBLOG_SRC_SQLITE_IMPL_H
#define DBLOG_SRC_SQLITE_IMPL_H

#include "dblog.h"
#include "dblog_sqlite.h"

/* The tables to capture: those of want, or every user table. */
int sqsrc_chosen_tables(sqlite3 *db, const struct dblog_list *want, struct dblog_list *out);
/* The JSON object text of the columns (all, or the key columns) of t, as
 * one SQL expression over the row ref ("NEW", "OLD", a table). */
void sqsrc_object_expr(struct dblog_buf *b, const struct dblog_sqlite_table *t, const char *ref,
		       int keys);
/* The powers of two that the value expressions write reals exactly with,
 * in the database (temp 0) or the temp schema (1). 0, or -1 with err. */
int sqsrc_real_table(sqlite3 *db, int temp, char *err, size_t errlen);
/* Append a row's JSON object text, its exact reals as decimals. */
void sqsrc_put_values(struct dblog_buf *b, const char *v, size_t n);

/* Whether every table set up still matches its triggers: 0 yes, 1 when
 * setup recorded no columns (older dblog), -1 with err naming the table
 * that was renamed, made again or given other columns since, and the fix. */
int sqsrc_check_tables(sqlite3 *db, char *err, size_t errlen);

#endif
