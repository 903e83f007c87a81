/* sqlite.c - SQLite helpers shared by capture and apply: opening, quoting,
 * table shapes. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_sqlite.h"

int
dblog_sqlite_open(const char *path, int readonly, sqlite3 **db, char *err, size_t errlen)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open SQLite database \"%s\": %s", path,
			 *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	sqlite3_extended_result_codes(*db, 1);
	return 0;
}

int
dblog_sqlite_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

void
dblog_sqlite_table_free(struct dblog_sqlite_table *t)
{
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type);
	}
	free(t->cols);
	free(t->name);
	memset(t, 0, sizeof *t);
}

int
dblog_sqlite_table_info(sqlite3 *db, const char *name, struct dblog_sqlite_table *t)
{
	sqlite3_stmt *st;
	memset(t, 0, sizeof *t);
	if (sqlite3_prepare_v2(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		t->cols = dblog_xrealloc(t->cols, (t->ncols + 1) * sizeof *t->cols);
		struct dblog_sqlite_col *c = &t->cols[t->ncols++];
		c->name = dblog_xstrdup((const char *)sqlite3_column_text(st, 0));
		c->type = dblog_xstrdup((const char *)sqlite3_column_text(st, 1) ?: "");
		c->notnull = sqlite3_column_int(st, 2);
		c->pk = sqlite3_column_int(st, 3);
		if (c->pk)
			t->npk++;
	}
	sqlite3_finalize(st);
	t->name = dblog_xstrdup(name);
	return t->ncols ? 0 : 1;
}

int
dblog_sqlite_user_tables(sqlite3 *db, struct dblog_list *out)
{
	sqlite3_stmt *st;
	/* ordinary tables only: not views, virtual tables or their shadows */
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_list WHERE schema = 'main' AND "
			       "type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND "
			       "name NOT LIKE '\\_dblog\\_%' ESCAPE '\\' ORDER BY name",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		out->v = dblog_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n++] = dblog_xstrdup((const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return 0;
}
