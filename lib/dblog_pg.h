/* dblog_pg.h - PostgreSQL parts of libdblog (pg.c, pgtypes.c, pgoutput.c,
 * src_pg.c). Same ownership rule as dblog.h. */
#ifndef DBLOG_PG_H
#define DBLOG_PG_H

#include <libpq-fe.h>

#include "dblog.h"

/* ----------------------------------------------------------------- pg.c */

/* Connect with a URI or conninfo string; replication=1 asks for a logical
 * replication connection. Session settings make output formats stable (ISO
 * dates, UTC, ISO 8601 intervals, hex bytea, exact floats). NULL with a
 * message in err (no password in it) and *retry set when the failure is
 * temporary (server unreachable, starting or shutting down). */
PGconn *dblog_pg_connect(const char *conninfo, int replication, char *err, size_t errlen,
			 int *retry);
/* conninfo or URI with any password removed, for messages (owned). */
char *dblog_pg_redact(const char *conninfo);
/* Is this result's failure a lost connection? */
int dblog_pg_lost(PGconn *c);
/* Run a command; 0, or -1 with the server's message in err. */
int dblog_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);
/* Parse "16/B374D848"; 0 or -1. */
int dblog_lsn_parse(const char *s, uint64_t *lsn);
void dblog_lsn_format(uint64_t lsn, char *out, size_t n);

/* ------------------------------------------------------------ pgtypes.c */

/* How a type's text form becomes JSON. */
enum dblog_pgkind {
	PGK_TEXT, PGK_NUMBER, PGK_FLOAT, PGK_NUMERIC, PGK_BOOL, PGK_JSON,
	PGK_TIMESTAMPTZ, PGK_TIMESTAMP, PGK_ARRAY,
};
struct dblog_pgtype {
	uint32_t oid;
	enum dblog_pgkind kind;
	uint32_t elem;      /* arrays: element type */
	char delim;         /* arrays: element delimiter */
	char *name;         /* format_type() of the type */
};
struct dblog_pgtypes;
/* A type cache resolving unknown OIDs through conn (borrowed; may be NULL:
 * unknown types are then text). */
struct dblog_pgtypes *dblog_pgtypes_new(PGconn *conn);
void dblog_pgtypes_free(struct dblog_pgtypes *t);
/* Look types up through conn from now on (after a reconnect). */
void dblog_pgtypes_set_conn(struct dblog_pgtypes *t, PGconn *conn);
/* The type (borrowed, cached). Never NULL. */
const struct dblog_pgtype *dblog_pgtype(struct dblog_pgtypes *t, uint32_t oid);
/* Append the JSON for the text form s[0..n) of a value of type oid. */
void dblog_pg_value(struct dblog_pgtypes *t, uint32_t oid, const char *s, size_t n,
		    struct dblog_buf *out);

#endif
