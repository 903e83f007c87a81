/* sink_sqlite.h - what sink_sqlite.c (the SQLite apply backend) and
 * sink_sqlite_types.c (its declared types) share; not part of the
 * library's API. */
#ifndef DBLOG_SINK_SQLITE_H
#define DBLOG_SINK_SQLITE_H

#include "dblog.h"
#include "dblog_sqlite.h"

/* SQLite's affinity of the declared type t, by its rules in their order:
 * 'I'nteger, 'T'ext, 'B'lob (none), 'R'eal or 'N'umeric. */
char sqsink_affinity(const char *t);
/* How bind() treats values for column c (NULL: unknown): 1 decode '\\x'
 * text into a blob, 2 a floating-point column (numbers as doubles,
 * "Infinity" as infinity), 4 a PostgreSQL array column (JSON arrays as
 * PostgreSQL's array text), 8 of json or jsonb (elements' JSON text kept). */
unsigned char sqsink_col_bits(const struct dblog_sqlite_col *c);
/* Append to out the declared type of a created column for the schema
 * event type t[0..n): mapped for a PostgreSQL source (from_pg) so that
 * SQLite's affinity changes no value (dblog-apply(1), SQLite types), else
 * as it is. */
void sqsink_decl_type(struct dblog_buf *out, const char *t, size_t n, int from_pg);

#endif
