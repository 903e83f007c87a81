/* pg.c - libpq helpers: connecting (with stable output settings), keeping
 * passwords out of messages, LSNs. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_pg.h"

char *
dblog_pg_redact(const char *conninfo)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		PQfreemem(err);
		return dblog_xstrdup("(unparsable connection string)");
	}
	struct dblog_buf b = { 0 };
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !strcmp(o->keyword, "password"))
			continue;
		if (b.len)
			dblog_buf_addc(&b, ' ');
		dblog_buf_printf(&b, "%s=%s", o->keyword, o->val);
	}
	PQconninfoFree(opts);
	if (!b.p)
		dblog_buf_adds(&b, "");
	return b.p;
}

/* Is a failed connection worth retrying later? Authentication, unknown
 * database or role and bad options are not. */
static int
temporary(PGconn *c)
{
	const char *m = PQerrorMessage(c);
	if (PQconnectionNeedsPassword(c))
		return 0;
	static const char *const permanent[] = {
		"authentication failed", "does not exist", "no pg_hba.conf entry",
		"invalid connection option", "invalid URI", "invalid integer value",
		"invalid value", "permission denied", "missing \"=\"",
		"must be superuser or replication role", "password",
	};
	for (size_t i = 0; i < sizeof permanent / sizeof *permanent; i++)
		if (strstr(m, permanent[i]))
			return 0;
	return 1;
}

PGconn *
dblog_pg_connect(const char *conninfo, int replication, char *err, size_t errlen, int *retry)
{
	const char *keys[] = { "dbname", "replication", "fallback_application_name", "options", NULL };
	const char *vals[] = {
		conninfo, replication ? "database" : NULL, dblog_prog,
		"-c datestyle=ISO -c timezone=UTC -c intervalstyle=iso_8601 "
		"-c extra_float_digits=3 -c bytea_output=hex -c client_encoding=UTF8 "
		"-c client_min_messages=warning",
		NULL,
	};
	if (!replication) {
		keys[1] = "fallback_application_name";
		vals[1] = dblog_prog;
		keys[2] = "options";
		vals[2] = vals[3];
		keys[3] = NULL;
	}
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	*retry = 0;
	if (!c) {
		snprintf(err, errlen, "out of memory connecting");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char *safe = dblog_pg_redact(conninfo);
		const char *m = PQerrorMessage(c);
		size_t ml = strlen(m);
		while (ml && (m[ml - 1] == '\n' || m[ml - 1] == ' '))
			ml--;
		snprintf(err, errlen, "cannot connect to \"%s\": %.*s", safe, (int)ml, m);
		free(safe);
		*retry = temporary(c);
		PQfinish(c);
		return NULL;
	}
	/* A SQL_ASCII database holds bytes, not text in an encoding: the
	 * server would refuse to send those that are not UTF-8 ("invalid byte
	 * sequence"), so take them as they are; events carry them as
	 * {"text_hex":..} and names with \xNN (dblog-event(5)). */
	const char *enc = PQparameterStatus(c, "server_encoding");
	if (enc && !strcmp(enc, "SQL_ASCII") && PQsetClientEncoding(c, "SQL_ASCII")) {
		snprintf(err, errlen, "cannot set client_encoding of a SQL_ASCII database: %s",
			 PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

int
dblog_pg_lost(PGconn *c)
{
	return PQstatus(c) == CONNECTION_BAD;
}

int
dblog_pg_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorMessage(r);
		size_t ml = strlen(m);
		while (ml && m[ml - 1] == '\n')
			ml--;
		snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n") < (int)ml ? (int)strcspn(m, "\n") : (int)ml, m);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int
dblog_lsn_parse(const char *s, uint64_t *lsn)
{
	struct dblog_pos p;
	if (dblog_pos_parse(s, strlen(s), &p) || p.kind != DBLOG_POS_LSN)
		return -1;
	*lsn = p.v;
	return 0;
}

void
dblog_lsn_format(uint64_t lsn, char *out, size_t n)
{
	snprintf(out, n, "%X/%X", (unsigned)(lsn >> 32), (unsigned)lsn);
}
