/* src_sqlite_log.c - the SQLite source's changelog: the table the
 * triggers fill, the triggers themselves (with the exact encoding of
 * values they write), setup and teardown. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_sqlite.h"
#include "src_sqlite_impl.h"

static const char changelog_ddl[] =
	"CREATE TABLE IF NOT EXISTS _dblog_changes(\n"
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  tbl TEXT NOT NULL,\n"
	"  op TEXT NOT NULL,\n"
	"  key TEXT,\n"
	"  before TEXT,\n"
	"  after TEXT,\n"
	"  time TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));\n"
	"CREATE INDEX IF NOT EXISTS _dblog_changes_begin ON _dblog_changes(seq)\n"
	"  WHERE op = 'begin';\n"
	"CREATE TABLE IF NOT EXISTS _dblog_tx(\n"
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
	"  time TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));\n"
	"CREATE TRIGGER IF NOT EXISTS _dblog_tx_begin AFTER INSERT ON _dblog_tx BEGIN\n"
	"  INSERT INTO _dblog_changes(tbl, op, key) VALUES('', 'begin', NEW.id);\n"
	"  DELETE FROM _dblog_tx WHERE id = NEW.id;\n"
	"END;\n"
	"CREATE TABLE IF NOT EXISTS _dblog_stash(\n"
	"  tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT,\n"
	"  PRIMARY KEY(tbl, key)) WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS _dblog_captured(\n"
	"  tbl TEXT PRIMARY KEY, columns TEXT NOT NULL, uniques TEXT NOT NULL DEFAULT '')\n"
	"  WITHOUT ROWID;\n";

/* ------------------------------------------------------------- setup */

/* A column's value as JSON text: blobs become "\\x..." hex strings,
 * infinities strings. A real is written exactly, as the array [i, f, k]
 * of integers, its value (i + f / 2^62) / 2^k: SQLite's own printf() and
 * text-to-real conversion are not exact (a 15- or 17-digit text that
 * SQLite reads back as the same real can be another one to everybody
 * else). k comes from the table _dblog_real (see sqsrc_real_table), which
 * scales the real's magnitude into [2^-10, 2^54): there i and f / 2^62
 * are its integer and fraction parts, both exact. The reader turns the
 * array back into the shortest decimal that is that real (see
 * put_values). Zero is 0.0: SQLite's printf() drops the sign of -0, and
 * no core function tells it (atan2() is an optional extension that the
 * writer's SQLite may lack, and an unknown function would fail its writes). */
static void
value_expr(struct dblog_buf *b, const char *ref, const char *col)
{
	struct dblog_buf c = { 0 };
	dblog_buf_adds(&c, ref);
	dblog_buf_addc(&c, '.');
	dblog_sql_ident(&c, col);
	const char *x = c.p;
	dblog_buf_printf(b, "json_quote(CASE typeof(%s) WHEN 'blob' THEN '\\x' || lower(hex(%s)) "
			 "WHEN 'real' THEN CASE WHEN abs(%s) > 1.7976931348623157e308 THEN "
			 "CASE WHEN %s > 0 THEN 'Infinity' ELSE '-Infinity' END "
			 "WHEN %s = 0 THEN json(printf('%%!.15g', %s)) "
			 "ELSE json((SELECT '[' || i || ',' || CAST((y - i) * 4611686018427387904 AS INTEGER) "
			 "|| ',' || k || ']' FROM (SELECT y, CAST(y AS INTEGER) AS i, k FROM "
			 "(SELECT %s * s * s AS y, k FROM _dblog_real WHERE lo <= abs(%s) "
			 "ORDER BY lo DESC LIMIT 1)))) END ELSE %s END)", x, x, x, x, x, x, x, x, x);
	dblog_buf_free(&c);
}

/* The scales of value_expr: for j in -17..16, reals of magnitude from lo =
 * 2^(64j - 10) (0 for the lowest) are multiplied by s twice, s = 2^-32j,
 * and k = -64j. Written as bound doubles, so every one is exact; in the
 * temp schema for the reader's own queries (snapshots, incremental). */
int
sqsrc_real_table(sqlite3 *db, int temp, char *err, size_t errlen)
{
	char sql[160];
	snprintf(sql, sizeof sql, "CREATE %sTABLE IF NOT EXISTS _dblog_real(lo REAL PRIMARY KEY, "
		 "k INTEGER NOT NULL, s REAL NOT NULL) WITHOUT ROWID", temp ? "TEMP " : "");
	if (dblog_sqlite_exec(db, sql, err, errlen))
		return -1;
	snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s_dblog_real(lo, k, s) VALUES(?1, ?2, ?3)",
		 temp ? "temp." : "main.");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot fill _dblog_real: %s", sqlite3_errmsg(db));
		return -1;
	}
	int rc = 0;
	for (int j = -17; j <= 16 && !rc; j++) {
		sqlite3_bind_double(st, 1, j == -17 ? 0.0 : ldexp(1.0, 64 * j - 10));
		sqlite3_bind_int(st, 2, -64 * j);
		sqlite3_bind_double(st, 3, ldexp(1.0, -32 * j));
		if (sqlite3_step(st) != SQLITE_DONE) {
			snprintf(err, errlen, "cannot fill _dblog_real: %s", sqlite3_errmsg(db));
			rc = -1;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Append the JSON object text v[0..n) of a row to b, each exact real of
 * value_expr ([i, f, k]) written as the shortest decimal that reads back
 * as that real (with a ".0" when it would look like an integer), and each
 * text that is not valid UTF-8 (json_quote() copies its bytes) as
 * {"text_hex":"..."}. Other values go as they are (also the texts of a
 * changelog written before exact reals). */
void
sqsrc_put_values(struct dblog_buf *b, const char *v, size_t n)
{
	struct dblog_buf fixed = { 0 };
	if (!dblog_utf8_valid(v, n)) {
		dblog_text_hex_object(&fixed, v, n);
		v = fixed.p;
		n = fixed.len;
	}
	if (!memchr(v, '[', n)) {
		dblog_buf_add(b, v, n);
		dblog_buf_free(&fixed);
		return;
	}
	struct dblog_span obj = { v, n }, key, val;
	const char *it = NULL;
	int first = 1;
	dblog_buf_addc(b, '{');
	while (dblog_json_next(obj, &it, &key, &val)) {
		if (!first)
			dblog_buf_addc(b, ',');
		first = 0;
		dblog_buf_add(b, key.p, key.n);
		dblog_buf_addc(b, ':');
		long long ifk[3];
		if (dblog_json_type(val) != DBLOG_J_ARRAY ||
		    sscanf(val.p, "[%lld,%lld,%lld]", &ifk[0], &ifk[1], &ifk[2]) != 3) {
			dblog_buf_add(b, val.p, val.n);
			continue;
		}
		double x = ldexp((double)ifk[0], (int)-ifk[2]) + ldexp((double)ifk[1], (int)(-ifk[2] - 62));
		char num[40];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(num, sizeof num, "%.*g", prec, x);
			if (strtod(num, NULL) == x)
				break;
		}
		dblog_buf_adds(b, num);
		if (!strpbrk(num, ".eE"))
			dblog_buf_adds(b, ".0");
	}
	dblog_buf_addc(b, '}');
	dblog_buf_free(&fixed);
}

/* The JSON object text of the columns (all, or the key columns) of t, as
 * one SQL expression: '{"a":' || json_quote(..) || ',"b":' || .. || '}'.
 * No function-argument limit, any column name. Tables without a primary
 * key are keyed by rowid, which full rows carry too. */
void
sqsrc_object_expr(struct dblog_buf *b, const struct dblog_sqlite_table *t, const char *ref, int keys)
{
	struct dblog_buf name = { 0 }, lit = { 0 };
	int first = 1;
	dblog_buf_addc(b, '(');
	if (!t->npk) {
		dblog_buf_printf(b, "'{\"rowid\":' || %s.rowid", ref);
		first = 0;
	}
	for (size_t i = 0; i < t->ncols && (t->npk || !keys); i++) {
		const struct dblog_sqlite_col *c = &t->cols[i];
		if (keys && !c->pk)
			continue;
		dblog_buf_clear(&name);
		dblog_buf_addc(&name, first ? '{' : ',');
		dblog_json_escape(&name, c->name, strlen(c->name));
		dblog_buf_addc(&name, ':');
		dblog_buf_clear(&lit);
		dblog_sql_string(&lit, name.p, name.len);
		if (!first)
			dblog_buf_adds(b, " || ");
		dblog_buf_printf(b, "%s || ", lit.p);
		value_expr(b, ref, c->name);
		first = 0;
	}
	dblog_buf_adds(b, first ? "'{}')" : " || '}')");
	dblog_buf_free(&name);
	dblog_buf_free(&lit);
}

static void
trigger_name(struct dblog_buf *b, const char *table, const char *what)
{
	struct dblog_buf n = { 0 };
	dblog_buf_printf(&n, "_dblog_%s_%s", table, what);
	dblog_sql_ident(b, n.p);
	dblog_buf_free(&n);
}

static void
drop_triggers(struct dblog_buf *b, const char *table)
{
	static const char *const kinds[] = { "bins", "bupd", "ins", "upd", "del" };
	for (int i = 0; i < 5; i++) {
		dblog_buf_adds(b, "DROP TRIGGER IF EXISTS ");
		trigger_name(b, table, kinds[i]);
		dblog_buf_adds(b, ";\n");
	}
}

/* The triggers that feed the changelog from table t. */
/* The condition "a row of the table conflicts with NEW on a UNIQUE index
 * other than the primary key" (into cond; empty when there is none). */
static void
unique_conflict(sqlite3 *db, const struct dblog_sqlite_table *t, const char *q, struct dblog_buf *cond)
{
	sqlite3_stmt *il, *ii;
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" AND "
			       "origin <> 'pk' AND NOT partial", -1, &il, NULL) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_index_info(?1) ORDER BY seqno", -1, &ii,
			       NULL) != SQLITE_OK) {
		sqlite3_finalize(il);
		return;
	}
	sqlite3_bind_text(il, 1, t->name, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(il) == SQLITE_ROW) {
		struct dblog_buf one = { 0 };
		int ok = 1, n = 0;
		sqlite3_bind_text(ii, 1, (const char *)sqlite3_column_text(il, 0), -1, SQLITE_TRANSIENT);
		while (sqlite3_step(ii) == SQLITE_ROW) {
			const char *col = (const char *)sqlite3_column_text(ii, 0);
			if (!col) {
				ok = 0;   /* an expression index: not followed */
				continue;
			}
			dblog_buf_adds(&one, n++ ? " AND " : "(");
			dblog_buf_printf(&one, "%s.", q);
			dblog_sql_ident(&one, col);
			dblog_buf_adds(&one, " = NEW.");
			dblog_sql_ident(&one, col);
		}
		sqlite3_reset(ii);
		if (ok && n) {
			dblog_buf_adds(cond, cond->len ? " OR " : "");
			dblog_buf_add(cond, one.p, one.len);
			dblog_buf_addc(cond, ')');
		}
		dblog_buf_free(&one);
	}
	sqlite3_finalize(il);
	sqlite3_finalize(ii);
}

/* L."k1" OP R."k1" AND ... over the primary key columns; without r,
 * L."k1" = the json value of the stashed key s.key. */
static void
pk_match(struct dblog_buf *b, const struct dblog_sqlite_table *t, const char *l, const char *op,
	 const char *r)
{
	int first = 1;
	if (!t->npk) {
		/* a table without primary key: its rows are keyed by rowid */
		dblog_buf_printf(b, "%s.rowid", l);
		if (r)
			dblog_buf_printf(b, " %s %s.rowid", op, r);
		else
			dblog_buf_adds(b, " = (SELECT value FROM json_each(s.key) WHERE key = 'rowid')");
		return;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		if (!t->cols[i].pk)
			continue;
		dblog_buf_adds(b, first ? "" : " AND ");
		first = 0;
		dblog_buf_printf(b, "%s.", l);
		dblog_sql_ident(b, t->cols[i].name);
		if (r) {
			dblog_buf_printf(b, " %s %s.", op, r);
			dblog_sql_ident(b, t->cols[i].name);
		} else {
			dblog_buf_adds(b, " = (SELECT value FROM json_each(s.key) WHERE key = ");
			dblog_sql_string(b, t->cols[i].name, strlen(t->cols[i].name));
			dblog_buf_addc(b, ')');
		}
	}
}

static void
table_triggers(struct dblog_buf *b, const struct dblog_sqlite_table *t, const char *ucond)
{
	struct dblog_buf q = { 0 }, tl = { 0 }, kn = { 0 }, ko = { 0 }, rn = { 0 }, ro = { 0 }, rt = { 0 };
	dblog_sql_ident(&q, t->name);
	dblog_sql_string(&tl, t->name, strlen(t->name));
	sqsrc_object_expr(&kn, t, "NEW", 1);
	sqsrc_object_expr(&ko, t, "OLD", 1);
	sqsrc_object_expr(&rn, t, "NEW", 0);
	sqsrc_object_expr(&ro, t, "OLD", 0);
	sqsrc_object_expr(&rt, t, q.p, 0);
	drop_triggers(b, t->name);
	{
		/* REPLACE deletes the old row without delete triggers unless
		 * recursive_triggers is on: keep its image for the insert (of a
		 * table without primary key, the row of the rowid the insert
		 * names; NEW.rowid is -1 when SQLite chooses it) */
		dblog_buf_adds(b, "CREATE TRIGGER ");
		trigger_name(b, t->name, "bins");
		dblog_buf_printf(b, " BEFORE INSERT ON %s BEGIN\n"
				 "  DELETE FROM _dblog_stash WHERE tbl = %s AND key = %s;\n"
				 "  INSERT INTO _dblog_stash(tbl, key, row) SELECT %s, %s, %s FROM %s WHERE ",
				 q.p, tl.p, kn.p, tl.p, kn.p, rt.p, q.p);
		pk_match(b, t, q.p, "=", "NEW");
		dblog_buf_adds(b, ";\n");
		if (*ucond) {
			/* rows a REPLACE would remove through another UNIQUE index */
			dblog_buf_printf(b, "  DELETE FROM _dblog_stash WHERE tbl = %s || '#u';\n"
					 "  INSERT OR REPLACE INTO _dblog_stash(tbl, key, row) SELECT %s || '#u', ",
					 tl.p, tl.p);
			sqsrc_object_expr(b, t, q.p, 1);
			dblog_buf_printf(b, ", %s FROM %s WHERE (%s) AND NOT (", rt.p, q.p, ucond);
			pk_match(b, t, q.p, "IS", "NEW");
			dblog_buf_adds(b, ");\n");
		}
		dblog_buf_adds(b, "END;\n");
	}
	{
		/* UPDATE OR REPLACE giving a row the key of another deletes that
		 * other row without its delete trigger (unless recursive_triggers
		 * is on): keep its image, the after-update trigger logs its delete */
		dblog_buf_adds(b, "CREATE TRIGGER ");
		trigger_name(b, t->name, "bupd");
		dblog_buf_printf(b, " BEFORE UPDATE ON %s WHEN NOT (", q.p);
		pk_match(b, t, "NEW", "IS", "OLD");
		dblog_buf_printf(b, ") BEGIN\n"
				 "  DELETE FROM _dblog_stash WHERE tbl = %s || '#r' AND key = %s;\n"
				 "  INSERT INTO _dblog_stash(tbl, key, row) SELECT %s || '#r', %s, %s FROM %s WHERE ",
				 tl.p, kn.p, tl.p, kn.p, rt.p, q.p);
		pk_match(b, t, q.p, "=", "NEW");
		dblog_buf_adds(b, ";\nEND;\n");
	}
	dblog_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, t->name, "ins");
	dblog_buf_printf(b, " AFTER INSERT ON %s BEGIN\n", q.p);
	if (*ucond) {
		/* the stashed rows that are gone were removed by this REPLACE */
		dblog_buf_printf(b, "  INSERT INTO _dblog_changes(tbl, op, key, before)\n"
				 "    SELECT %s, 'delete', s.key, s.row FROM _dblog_stash AS s\n"
				 "    WHERE s.tbl = %s || '#u' AND NOT EXISTS (SELECT 1 FROM %s WHERE ",
				 tl.p, tl.p, q.p);
		pk_match(b, t, q.p, "=", NULL);
		dblog_buf_printf(b, ");\n  DELETE FROM _dblog_stash WHERE tbl = %s || '#u';\n", tl.p);
	}
	dblog_buf_printf(b, ""
			 "  INSERT INTO _dblog_changes(tbl, op, key, before, after)\n"
			 "    SELECT %s, CASE WHEN s.row IS NULL THEN 'insert' ELSE 'update' END, k.k, s.row, %s\n"
			 "    FROM (SELECT %s AS k) AS k LEFT JOIN _dblog_stash AS s ON s.tbl = %s AND s.key = k.k;\n"
			 "  DELETE FROM _dblog_stash WHERE tbl = %s AND key = %s;\n"
			 "END;\n", tl.p, rn.p, kn.p, tl.p, tl.p, kn.p);
	dblog_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, t->name, "upd");
	dblog_buf_printf(b, " AFTER UPDATE ON %s BEGIN\n", q.p);
	/* the row an UPDATE OR REPLACE removed for this one's new key */
	dblog_buf_printf(b, "  INSERT INTO _dblog_changes(tbl, op, key, before)\n"
			 "    SELECT %s, 'delete', s.key, s.row FROM _dblog_stash AS s\n"
			 "    WHERE s.tbl = %s || '#r' AND s.key = %s;\n"
			 "  DELETE FROM _dblog_stash WHERE tbl = %s || '#r' AND key = %s;\n",
			 tl.p, tl.p, kn.p, tl.p, kn.p);
	dblog_buf_printf(b, "  INSERT INTO _dblog_changes(tbl, op, key, before, after)\n"
			 "    VALUES(%s, 'update', %s, %s, %s);\n"
			 "END;\n", tl.p, ko.p, ro.p, rn.p);
	dblog_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, t->name, "del");
	dblog_buf_printf(b, " AFTER DELETE ON %s BEGIN\n"
			 "  INSERT INTO _dblog_changes(tbl, op, key, before)\n"
			 "    VALUES(%s, 'delete', %s, %s);\n"
			 "  DELETE FROM _dblog_stash WHERE tbl IN (%s, %s || '#u', %s || '#r') AND key = %s;\n"
			 "END;\n", q.p, tl.p, ko.p, ro.p, tl.p, tl.p, tl.p, ko.p);
	struct dblog_buf *bufs[] = { &q, &tl, &kn, &ko, &rn, &ro, &rt };
	for (size_t i = 0; i < 7; i++)
		dblog_buf_free(bufs[i]);
}

/* Drop dblog triggers whose name no longer matches the table they are on
 * (the table was renamed), or every dblog trigger when all is set. */
static int
drop_dblog_triggers(sqlite3 *db, int all, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	struct dblog_buf sql = { 0 };
	if (sqlite3_prepare_v2(db, "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' "
			       "AND name LIKE '\\_dblog\\_%' ESCAPE '\\' AND name <> '_dblog_tx_begin'",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *tbl = (const char *)sqlite3_column_text(st, 1);
		size_t tl = strlen(tbl);
		int current = !strncmp(name + 7, tbl, tl) && name[7 + tl] == '_' &&
			      (!strcmp(name + 8 + tl, "bins") || !strcmp(name + 8 + tl, "ins") ||
			       !strcmp(name + 8 + tl, "upd") || !strcmp(name + 8 + tl, "del"));
		if (all || !current) {
			dblog_buf_adds(&sql, "DROP TRIGGER IF EXISTS ");
			dblog_sql_ident(&sql, name);
			dblog_buf_adds(&sql, ";\n");
		}
	}
	sqlite3_finalize(st);
	int rc = sql.len ? dblog_sqlite_exec(db, sql.p, err, errlen) : 0;
	dblog_buf_free(&sql);
	return rc;
}

/* The tables to work on: the list given (names as events write them,
 * "main." optional) or every user table. A name of another schema is the
 * whole name, dots and all, as before the quoting rule ("a.b": the table
 * a.b; "\"a.b\"" and "main.\"a.b\"" say the same). */
int
sqsrc_chosen_tables(sqlite3 *db, const struct dblog_list *want, struct dblog_list *out)
{
	if (!want->n)
		return dblog_sqlite_user_tables(db, out);
	struct dblog_buf schema = { 0 }, name = { 0 };
	for (size_t i = 0; i < want->n; i++) {
		const char *t = want->v[i];
		int has;
		if (!dblog_table_split(t, strlen(t), &schema, &name, &has) &&
		    (!has || !strcmp(schema.p, "main")))
			t = name.p;
		out->v = dblog_xrealloc(out->v, (out->n + 1) * sizeof *out->v);
		out->v[out->n++] = dblog_xstrdup(t);
	}
	dblog_buf_free(&schema);
	dblog_buf_free(&name);
	return 0;
}

/* The column names of t as a JSON array: what its triggers write. */
static void
column_names(struct dblog_buf *b, const struct dblog_sqlite_table *t)
{
	dblog_buf_addc(b, '[');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			dblog_buf_addc(b, ',');
		dblog_json_escape(b, t->cols[i].name, strlen(t->cols[i].name));
	}
	dblog_buf_addc(b, ']');
}

/* Note in _dblog_captured the columns the triggers of t were made for,
 * and the condition of its UNIQUE indexes (unique_conflict) they follow. */
static int
record_columns(sqlite3 *db, const struct dblog_sqlite_table *t, const char *ucond, char *err,
	       size_t errlen)
{
	struct dblog_buf sql = { 0 }, cols = { 0 };
	column_names(&cols, t);
	dblog_buf_adds(&sql, "INSERT OR REPLACE INTO _dblog_captured(tbl, columns, uniques) VALUES(");
	dblog_sql_string(&sql, t->name, strlen(t->name));
	dblog_buf_adds(&sql, ", ");
	dblog_sql_string(&sql, cols.p, cols.len);
	dblog_buf_adds(&sql, ", ");
	dblog_sql_string(&sql, ucond, strlen(ucond));
	dblog_buf_adds(&sql, ")");
	int rc = dblog_sqlite_exec(db, sql.p, err, errlen);
	dblog_buf_free(&sql);
	dblog_buf_free(&cols);
	return rc;
}

/* Before a migration: drop the triggers of want (of every table if empty),
 * which would refuse or mistranslate a DROP or RENAME COLUMN, and run it. */
static int
migrate(sqlite3 *db, const struct dblog_list *want, const char *sql, char *err, size_t errlen)
{
	struct dblog_list tables = { 0 };
	struct dblog_buf drop = { 0 };
	int rc = -1;
	if (!want->n) {
		rc = drop_dblog_triggers(db, 1, err, errlen);
	} else if (!sqsrc_chosen_tables(db, want, &tables)) {
		for (size_t i = 0; i < tables.n; i++)
			drop_triggers(&drop, tables.v[i]);
		rc = dblog_sqlite_exec(db, drop.p, err, errlen);
	}
	if (!rc && dblog_sqlite_exec(db, sql, err, errlen)) {
		char m[400];
		snprintf(m, sizeof m, "%s", err);
		snprintf(err, errlen, "the migration failed (nothing changed): %s", m);
		rc = -1;
	}
	dblog_list_free(&tables);
	dblog_buf_free(&drop);
	return rc;
}

int
dblog_sqlite_setup(sqlite3 *db, const struct dblog_list *want, const char *migration, char *err,
		   size_t errlen)
{
	struct dblog_list tables = { 0 };
	struct dblog_buf sql = { 0 };
	int rc = -1;
	if (dblog_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen))
		return -1;
	if (dblog_sqlite_exec(db, changelog_ddl, err, errlen) || sqsrc_real_table(db, 0, err, errlen) ||
	    (migration && migrate(db, want, migration, err, errlen)) ||
	    sqsrc_chosen_tables(db, want, &tables) ||
	    drop_dblog_triggers(db, 0, err, errlen))
		goto out;
	for (size_t i = 0; i < tables.n; i++) {
		struct dblog_sqlite_table t;
		int r = dblog_sqlite_table_info(db, tables.v[i], &t);
		if (r) {
			snprintf(err, errlen, "no table \"%s\" in the database", tables.v[i]);
			dblog_sqlite_table_free(&t);
			goto out;
		}
		if (!t.npk)
			dblog_warn("table \"%s\" has no primary key: its rows are identified by "
				   "rowid (key {\"rowid\": N}); VACUUM may renumber them", t.name);
		dblog_buf_clear(&sql);
		struct dblog_buf ucond = { 0 }, qn = { 0 };
		dblog_sql_ident(&qn, t.name);
		unique_conflict(db, &t, qn.p, &ucond);
		table_triggers(&sql, &t, ucond.p ? ucond.p : "");
		r = dblog_sqlite_exec(db, sql.p, err, errlen) ||
		    record_columns(db, &t, ucond.p ? ucond.p : "", err, errlen);
		dblog_buf_free(&ucond);
		dblog_buf_free(&qn);
		dblog_sqlite_table_free(&t);
		if (r)
			goto out;
	}
	/* tables dropped or renamed since: nothing of theirs to check */
	rc = dblog_sqlite_exec(db, "DELETE FROM _dblog_captured WHERE tbl NOT IN (SELECT name FROM "
			       "sqlite_schema WHERE type = 'table');\nCOMMIT", err, errlen);
out:
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	dblog_buf_free(&sql);
	dblog_list_free(&tables);
	return rc;
}

/* A table whose dblog insert trigger is on another table (renamed after
 * --setup): its changes are logged under the old name. */
static int
check_renamed(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'trigger' "
			       "AND name LIKE '\\_dblog\\_%\\_ins' ESCAPE '\\'", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
		return -1;
	}
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *tbl = (const char *)sqlite3_column_text(st, 1);
		size_t n = strlen(name), tl = strlen(tbl);
		if (n == tl + 11 && !strncmp(name + 7, tbl, tl))
			continue;
		snprintf(err, errlen, "table \"%.*s\" was renamed to \"%s\" after dblog-capture --setup: "
			 "its changes are logged under the old name. Run dblog-capture --setup again; "
			 "rename tables with dblog-capture --setup --migrate SQL (see MIGRATIONS in "
			 "dblog-capture(1))", (int)(n > 11 ? n - 11 : 0), name + 7, tbl);
		rc = -1;
	}
	sqlite3_finalize(st);
	return rc;
}

int
sqsrc_check_tables(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (check_renamed(db, err, errlen))
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT tbl, columns, EXISTS (SELECT 1 FROM sqlite_schema WHERE "
			       "type = 'trigger' AND tbl_name = tbl AND name = '_dblog_' || tbl || '_ins'), "
			       "uniques FROM _dblog_captured ORDER BY tbl", -1, &st, NULL) != SQLITE_OK)
		return 1;   /* set up before dblog recorded columns */
	int rc = 0;
	struct dblog_buf now = { 0 }, qn = { 0 }, ucond = { 0 };
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const char *tbl = (const char *)sqlite3_column_text(st, 0);
		const char *was = (const char *)sqlite3_column_text(st, 1);
		const char *uwas = (const char *)sqlite3_column_text(st, 3);
		struct dblog_sqlite_table t;
		if (dblog_sqlite_table_info(db, tbl, &t)) {
			dblog_sqlite_table_free(&t);
			continue;   /* dropped: nothing more to log */
		}
		dblog_buf_clear(&now);
		column_names(&now, &t);
		dblog_buf_clear(&qn);
		dblog_buf_clear(&ucond);
		dblog_sql_ident(&qn, t.name);
		unique_conflict(db, &t, qn.p, &ucond);
		dblog_sqlite_table_free(&t);
		if (!sqlite3_column_int(st, 2)) {
			snprintf(err, errlen, "table \"%s\" has no capture triggers since it was made again "
				 "after dblog-capture --setup: its changes are not logged. Run "
				 "dblog-capture --setup --tables '%s' now; rebuild tables with "
				 "dblog-capture --setup --migrate SQL (see MIGRATIONS in dblog-capture(1))",
				 tbl, tbl);
			rc = -1;
		} else if (strcmp(now.p, was)) {
			snprintf(err, errlen, "table \"%s\" has the columns %s, but its capture triggers "
				 "were made by dblog-capture --setup for %s: its changes since are logged "
				 "without the columns added or renamed. Run dblog-capture --setup --tables "
				 "'%s' now; change columns with dblog-capture --setup --migrate SQL (see "
				 "MIGRATIONS in dblog-capture(1))", tbl, now.p, was, tbl);
			rc = -1;
		} else if (strcmp(ucond.p ? ucond.p : "", uwas ? uwas : "")) {
			snprintf(err, errlen, "table \"%s\" has other UNIQUE indexes than its capture "
				 "triggers were made for by dblog-capture --setup: a row that an INSERT OR "
				 "REPLACE removes through them is not logged as deleted. Run dblog-capture "
				 "--setup --tables '%s' now; change indexes with dblog-capture --setup "
				 "--migrate SQL (see MIGRATIONS in dblog-capture(1))", tbl, tbl);
			rc = -1;
		}
	}
	sqlite3_finalize(st);
	dblog_buf_free(&now);
	dblog_buf_free(&qn);
	dblog_buf_free(&ucond);
	return rc;
}

int
dblog_sqlite_teardown(sqlite3 *db, const struct dblog_list *want, char *err, size_t errlen)
{
	struct dblog_list tables = { 0 };
	struct dblog_buf sql = { 0 };
	int rc = -1;
	if (dblog_sqlite_exec(db, "BEGIN IMMEDIATE", err, errlen))
		return -1;
	if (sqsrc_chosen_tables(db, want, &tables) || (!want->n && drop_dblog_triggers(db, 1, err, errlen)))
		goto out;
	for (size_t i = 0; i < tables.n; i++) {
		drop_triggers(&sql, tables.v[i]);
		if (want->n && sqlite3_table_column_metadata(db, "main", "_dblog_captured", "tbl", NULL,
							     NULL, NULL, NULL, NULL) == SQLITE_OK) {
			dblog_buf_adds(&sql, "DELETE FROM _dblog_captured WHERE tbl = ");
			dblog_sql_string(&sql, tables.v[i], strlen(tables.v[i]));
			dblog_buf_adds(&sql, ";\n");
		}
	}
	if (!want->n)
		dblog_buf_adds(&sql, "DROP TRIGGER IF EXISTS _dblog_tx_begin;\n"
			       "DROP TABLE IF EXISTS _dblog_captured;\n"
			       "DROP TABLE IF EXISTS _dblog_changes;\n"
			       "DROP TABLE IF EXISTS _dblog_tx;\n"
			       "DROP TABLE IF EXISTS _dblog_stash;\n"
			       "DROP TABLE IF EXISTS _dblog_real;\n");
	if (sql.len && dblog_sqlite_exec(db, sql.p, err, errlen))
		goto out;
	rc = dblog_sqlite_exec(db, "COMMIT", err, errlen);
out:
	if (rc)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	dblog_buf_free(&sql);
	dblog_list_free(&tables);
	return rc;
}
