/* ctl_dest.c - what dblogctl changes in a destination besides the data:
 * the stream's applied position (replay, checkpoint --set) and the
 * conflicts that manual_review parked (conflicts). The tables are those of
 * dblog-apply(1): _dblog_applied and _dblog_conflicts in SQLite,
 * dblog.applied and dblog.conflicts in PostgreSQL. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_ctl.h"
#include "dblog_pg.h"
#include "dblog_sqlite.h"

/* The recorded position moved to pos: "pos" replaced, the rest of the unit
 * forgotten (new reference). */
static json_t *
moved(const char *recorded, const json_t *pos)
{
	json_t *j = recorded ? json_loads(recorded, 0, NULL) : NULL;
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	json_object_set(j, "pos", json_object_get(pos, "pos"));
	static const char *const gone[] = { "seq", "tx", "commit_time", "snapshot" };
	for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
		json_object_del(j, gone[i]);
	return j;
}

/* ------------------------------------------------------------- SQLite */

static sqlite3 *
sq_open(const char *dest, char *err, size_t errlen)
{
	sqlite3 *db;
	const char *path = dblog_ctl_sqlite_path(dest);
	if (!path) {
		snprintf(err, errlen, "not a destination: '%s'", dest);
		return NULL;
	}
	return dblog_sqlite_open(path, 0, &db, err, errlen) ? NULL : db;
}

static int
sq_fail(sqlite3 *db, sqlite3_stmt *st, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return -1;
}

static int
sq_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int yes = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		yes = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return yes;
}

static int
sq_set_applied(const char *dest, const char *stream, const json_t *pos, char *err, size_t errlen)
{
	sqlite3 *db = sq_open(dest, err, errlen);
	sqlite3_stmt *st = NULL;
	if (!db)
		return -1;
	if (!sq_has_table(db, "_dblog_applied")) {
		sqlite3_close(db);
		return 0;
	}
	if (!pos) {
		if (sqlite3_prepare_v2(db, "DELETE FROM _dblog_applied WHERE stream = ?", -1, &st, NULL))
			return sq_fail(db, st, err, errlen);
		sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return sq_fail(db, st, err, errlen);
		sqlite3_finalize(st);
		sqlite3_close(db);
		return 0;
	}
	if (sqlite3_prepare_v2(db, "SELECT position FROM _dblog_applied WHERE stream = ?", -1, &st, NULL))
		return sq_fail(db, st, err, errlen);
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		sqlite3_close(db);
		return rc == SQLITE_DONE ? 0 : -1;
	}
	json_t *j = moved((const char *)sqlite3_column_text(st, 0), pos);
	sqlite3_finalize(st);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (sqlite3_prepare_v2(db, "UPDATE _dblog_applied SET position = ?, updated = "
			       "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE stream = ?", -1, &st, NULL)) {
		free(text);
		return sq_fail(db, st, err, errlen);
	}
	sqlite3_bind_text(st, 1, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	free(text);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sq_fail(db, st, err, errlen);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

/* A JSON text column as JSON (a string when it is not JSON). */
static json_t *
json_col(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
	return j ? j : json_string(s);
}

static json_t *
sq_conflicts(const char *dest, const char *stream, char *err, size_t errlen)
{
	sqlite3 *db = sq_open(dest, err, errlen);
	sqlite3_stmt *st = NULL;
	if (!db)
		return NULL;
	json_t *arr = json_array();
	if (!sq_has_table(db, "_dblog_conflicts")) {
		sqlite3_close(db);
		return arr;
	}
	if (sqlite3_prepare_v2(db, "SELECT id, time, reason, event, dest_row FROM _dblog_conflicts "
			       "WHERE stream = ? ORDER BY id", -1, &st, NULL)) {
		sq_fail(db, st, err, errlen);
		json_decref(arr);
		return NULL;
	}
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{sI ss ss so so}",
			"id", (json_int_t)sqlite3_column_int64(st, 0),
			"time", (const char *)sqlite3_column_text(st, 1),
			"reason", (const char *)sqlite3_column_text(st, 2),
			"event", json_col((const char *)sqlite3_column_text(st, 3)),
			"dest_row", json_col((const char *)sqlite3_column_text(st, 4))));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return arr;
}

static int
sq_conflict_delete(const char *dest, const char *stream, int64_t id, char *err, size_t errlen)
{
	sqlite3 *db = sq_open(dest, err, errlen);
	sqlite3_stmt *st = NULL;
	if (!db)
		return -1;
	if (!sq_has_table(db, "_dblog_conflicts")) {
		sqlite3_close(db);
		return 1;
	}
	if (sqlite3_prepare_v2(db, "DELETE FROM _dblog_conflicts WHERE stream = ? AND id = ?", -1, &st,
			       NULL))
		return sq_fail(db, st, err, errlen);
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return sq_fail(db, st, err, errlen);
	int n = sqlite3_changes(db);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n ? 0 : 1;
}

/* --------------------------------------------------------- PostgreSQL */

static PGconn *
pg_open(const char *dest, char *err, size_t errlen)
{
	int retry = 0;
	return dblog_pg_connect(dest, 0, err, errlen, &retry);
}

/* Run sql with params; the result when its status is want, else NULL with
 * the server's message in err. */
static PGresult *
pg_run(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want,
       char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == want)
		return r;
	snprintf(err, errlen, "%s", PQresultErrorMessage(r));
	size_t l = strlen(err);
	while (l && err[l - 1] == '\n')
		err[--l] = 0;
	PQclear(r);
	return NULL;
}

static int
pg_has(PGconn *c, const char *table)
{
	const char *p[1] = { table };
	char err[256];
	PGresult *r = pg_run(c, "SELECT to_regclass($1) IS NOT NULL", 1, p, PGRES_TUPLES_OK, err,
			     sizeof err);
	int yes = r && PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	return yes;
}

static int
pg_set_applied(const char *dest, const char *stream, const json_t *pos, char *err, size_t errlen)
{
	PGconn *c = pg_open(dest, err, errlen);
	if (!c)
		return -1;
	int rc = 0;
	PGresult *r = NULL;
	const char *p[2] = { stream, NULL };
	if (!pg_has(c, "dblog.applied")) {
		PQfinish(c);
		return 0;
	}
	if (!pos) {
		r = pg_run(c, "DELETE FROM dblog.applied WHERE stream = $1", 1, p, PGRES_COMMAND_OK,
			   err, errlen);
		rc = r ? 0 : -1;
	} else if ((r = pg_run(c, "SELECT position::text FROM dblog.applied WHERE stream = $1", 1, p,
			       PGRES_TUPLES_OK, err, errlen))) {
		if (PQntuples(r) == 1) {
			json_t *j = moved(PQgetvalue(r, 0, 0), pos);
			char *text = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			PQclear(r);
			p[1] = text;
			r = pg_run(c, "UPDATE dblog.applied SET position = $2::jsonb, updated = now() "
				   "WHERE stream = $1", 2, p, PGRES_COMMAND_OK, err, errlen);
			free(text);
			rc = r ? 0 : -1;
		}
	} else {
		rc = -1;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

static json_t *
pg_conflicts(const char *dest, const char *stream, char *err, size_t errlen)
{
	PGconn *c = pg_open(dest, err, errlen);
	if (!c)
		return NULL;
	json_t *arr = json_array();
	const char *p[1] = { stream };
	if (pg_has(c, "dblog.conflicts")) {
		PGresult *r = pg_run(c, "SELECT id, to_json(time)#>>'{}', reason, event::text, "
				     "dest_row::text FROM dblog.conflicts WHERE stream = $1 ORDER BY id",
				     1, p, PGRES_TUPLES_OK, err, errlen);
		if (!r) {
			json_decref(arr);
			PQfinish(c);
			return NULL;
		}
		for (int i = 0; i < PQntuples(r); i++)
			json_array_append_new(arr, json_pack("{sI ss ss so so}",
				"id", (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10),
				"time", PQgetvalue(r, i, 1), "reason", PQgetvalue(r, i, 2),
				"event", json_col(PQgetvalue(r, i, 3)),
				"dest_row", json_col(PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4))));
		PQclear(r);
	}
	PQfinish(c);
	return arr;
}

static int
pg_conflict_delete(const char *dest, const char *stream, int64_t id, char *err, size_t errlen)
{
	PGconn *c = pg_open(dest, err, errlen);
	if (!c)
		return -1;
	char ids[32];
	snprintf(ids, sizeof ids, "%lld", (long long)id);
	const char *p[2] = { stream, ids };
	int rc = 1;
	if (pg_has(c, "dblog.conflicts")) {
		PGresult *r = pg_run(c, "DELETE FROM dblog.conflicts WHERE stream = $1 AND id = $2", 2,
				     p, PGRES_COMMAND_OK, err, errlen);
		rc = !r ? -1 : strcmp(PQcmdTuples(r), "0") ? 0 : 1;
		PQclear(r);
	}
	PQfinish(c);
	return rc;
}

/* ----------------------------------------------------------- dispatch */

int
dblog_ctl_dest_set_applied(const char *dest, const char *stream, const json_t *pos,
			   char *err, size_t errlen)
{
	return dblog_ctl_is_pg(dest) ? pg_set_applied(dest, stream, pos, err, errlen)
				     : sq_set_applied(dest, stream, pos, err, errlen);
}

json_t *
dblog_ctl_dest_conflicts(const char *dest, const char *stream, char *err, size_t errlen)
{
	return dblog_ctl_is_pg(dest) ? pg_conflicts(dest, stream, err, errlen)
				     : sq_conflicts(dest, stream, err, errlen);
}

int
dblog_ctl_dest_conflict_delete(const char *dest, const char *stream, int64_t id,
			       char *err, size_t errlen)
{
	return dblog_ctl_is_pg(dest) ? pg_conflict_delete(dest, stream, id, err, errlen)
				     : sq_conflict_delete(dest, stream, id, err, errlen);
}
