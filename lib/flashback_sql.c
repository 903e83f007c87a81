/* flashback_sql.c - compensating transactions as SQL for PostgreSQL and
 * SQLite. Every statement is guarded by its key and the values the row
 * must have now, and must change exactly one row, or its whole
 * transaction fails and is rolled back:
 *  - PostgreSQL: the statements of a transaction run in one DO block that
 *    checks ROW_COUNT after each and raises an exception otherwise;
 *  - SQLite: a temporary table whose CHECK (n = 1) fails with OR ROLLBACK
 *    when a statement changed another number of rows (changes()); the
 *    statements after a rollback find the table empty and do nothing.
 * Identifiers are quoted, values written as quoted literals. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dblog.h"
#include "dblog_flashback.h"

#define GUARD "temp.dblog_flashback_guard"

/* Append s with line breaks turned into spaces (comments). */
static void
one_line(struct dblog_buf *out, const char *s)
{
	for (; *s; s++)
		dblog_buf_addc(out, *s == '\n' || *s == '\r' ? ' ' : *s);
}

void
dblog_fbsql_preamble(struct dblog_buf *out, enum dblog_fb_dialect d)
{
	dblog_buf_adds(out, "-- dblog-flashback: compensating transactions, newest first; each "
		       "fails whole when a row is not as the window left it\n");
	if (d == DBLOG_FB_SQLITE)
		dblog_buf_adds(out, "CREATE TEMP TABLE IF NOT EXISTS dblog_flashback_guard(n INTEGER "
			       "CONSTRAINT \"dblog-flashback: a row is not as the window left it\" "
			       "CHECK (n = 1));\n");
}

/* The table (as events write it) as SQL: "schema"."table" for
 * PostgreSQL, "table" for SQLite. A malformed name is taken whole, as one
 * name: the script then fails on a table that does not exist. */
static void
table_sql(struct dblog_buf *out, enum dblog_fb_dialect d, const char *table)
{
	struct dblog_buf schema = { 0 }, name = { 0 };
	int has;
	dblog_table_split_or_whole(table, &schema, &name, &has);
	if (has && d == DBLOG_FB_POSTGRES) {
		dblog_sql_ident(out, schema.p);
		dblog_buf_addc(out, '.');
	}
	dblog_sql_ident(out, name.p);
	dblog_buf_free(&schema);
	dblog_buf_free(&name);
}

static int
has_word(const char *type, const char *w)
{
	return type && strcasestr(type, w) != NULL;
}

static int
hex_blob(const char *s, size_t n)
{
	if (n < 2 || s[0] != '\\' || s[1] != 'x' || n % 2)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Append the JSON value v of a column of type (NULL: unknown) as a SQL
 * literal. */
static void
literal(struct dblog_buf *out, enum dblog_fb_dialect d, struct dblog_span v, const char *type)
{
	struct dblog_buf s = { 0 };
	int pg = d == DBLOG_FB_POSTGRES;
	switch (dblog_json_type(v)) {
	case DBLOG_J_NULL:
	case DBLOG_J_NONE:
		dblog_buf_adds(out, "NULL");
		break;
	case DBLOG_J_TRUE:
		dblog_buf_adds(out, pg ? "'true'" : "1");
		break;
	case DBLOG_J_FALSE:
		dblog_buf_adds(out, pg ? "'false'" : "0");
		break;
	case DBLOG_J_NUMBER:
		if (pg)
			dblog_buf_addc(out, '\'');
		dblog_buf_add(out, v.p, v.n);
		if (pg)
			dblog_buf_addc(out, '\'');
		break;
	case DBLOG_J_STRING:
		dblog_json_unescape(v, &s);
		if (!pg && has_word(type, "blob") && hex_blob(s.p, s.len)) {
			dblog_buf_adds(out, "X'");
			dblog_buf_add(out, s.p + 2, s.len - 2);
			dblog_buf_addc(out, '\'');
		} else if (pg) {
			dblog_sql_literal_e(out, s.p);
		} else {
			dblog_sql_string(out, s.p, s.len);
		}
		break;
	case DBLOG_J_ARRAY:
		/* an array column (json[] too: its elements are JSON texts), or
		 * the JSON of a json value embedded (events written before) */
		if (pg && (!has_word(type, "json") || has_word(type, "[]"))) {
			struct dblog_buf tmp = { 0 };
			dblog_sql_pg_array(&s, v, has_word(type, "json"), &tmp);
			dblog_buf_free(&tmp);
			dblog_sql_literal_e(out, s.p);
			break;
		}
		dblog_buf_add(&s, v.p, v.n);   /* JSON text */
		if (pg)
			dblog_sql_literal_e(out, s.p);
		else
			dblog_sql_string(out, s.p, s.len);
		break;
	case DBLOG_J_OBJECT:
		if (dblog_text_hex(v, &s)) {
			/* text that is not UTF-8: its bytes as text in SQLite; in
			 * PostgreSQL convert_from() refuses them, naming the byte */
			dblog_buf_adds(out, pg ? "convert_from('\\x" : "CAST(X'");
			for (size_t i = 0; i < s.len; i++)
				dblog_buf_printf(out, "%02x", (unsigned char)s.p[i]);
			dblog_buf_adds(out, pg ? "'::bytea, 'UTF8')" : "' AS TEXT)");
			break;
		}
		dblog_buf_add(&s, v.p, v.n);
		if (pg)
			dblog_sql_literal_e(out, s.p);
		else
			dblog_sql_string(out, s.p, s.len);
		break;
	}
	dblog_buf_free(&s);
}

/* Is the column of type compared as jsonb (json has no equality)? */
static int
is_json(enum dblog_fb_dialect d, const char *type)
{
	return d == DBLOG_FB_POSTGRES && type && !strcmp(type, "json");
}

/* Append "col" = value, or the null-safe comparison when guard. */
static void
condition(struct dblog_buf *out, enum dblog_fb_dialect d, struct dblog_span k, struct dblog_span v,
	  const struct dblog_fbtable *t, int guard, struct dblog_buf *tmp)
{
	const char *name;
	size_t n;
	dblog_json_str(k, tmp, &name, &n);
	const char *type = dblog_fbtable_type(t, name, n);
	char *cname = dblog_xstrndup(name, n);
	int null = dblog_json_type(v) == DBLOG_J_NULL;
	dblog_sql_ident(out, cname);
	free(cname);
	if (is_json(d, type))
		dblog_buf_adds(out, "::jsonb");
	if (!guard && null) {
		dblog_buf_adds(out, " IS NULL");
		return;
	}
	dblog_buf_adds(out, !guard ? " = " : d == DBLOG_FB_POSTGRES ? " IS NOT DISTINCT FROM " : " IS ");
	literal(out, d, v, type);
	if (is_json(d, type))
		dblog_buf_adds(out, "::jsonb");
}

/* WHERE: the key columns, then the other columns of before. */
static void
where(struct dblog_buf *out, enum dblog_fb_dialect d, const struct dblog_fields *c,
      const struct dblog_fbtable *t, struct dblog_buf *tmp)
{
	struct dblog_span k, v;
	const char *it = NULL, *p;
	size_t n, conds = 0;
	dblog_buf_adds(out, " WHERE ");
	int has_key = dblog_json_type(c->key) == DBLOG_J_OBJECT;
	while (has_key && dblog_json_next(c->key, &it, &k, &v)) {
		dblog_buf_adds(out, conds++ ? " AND " : "");
		condition(out, d, k, v, t, 0, tmp);
	}
	it = NULL;
	while (dblog_json_type(c->before) == DBLOG_J_OBJECT && dblog_json_next(c->before, &it, &k, &v)) {
		dblog_json_str(k, tmp, &p, &n);
		if (has_key && dblog_json_member(c->key, p, n).p)
			continue;
		dblog_buf_adds(out, conds++ ? " AND " : "");
		condition(out, d, k, v, t, 1, tmp);
	}
	if (!conds)
		dblog_buf_adds(out, "true");
	if (d == DBLOG_FB_SQLITE)
		dblog_buf_adds(out, " AND EXISTS (SELECT 1 FROM " GUARD ")");
}

/* The column list or SET list of an object. */
static void
columns(struct dblog_buf *out, enum dblog_fb_dialect d, struct dblog_span obj,
	const struct dblog_fbtable *t, int set, struct dblog_buf *tmp)
{
	struct dblog_span k, v;
	const char *it = NULL, *p;
	size_t n, i = 0;
	while (dblog_json_next(obj, &it, &k, &v)) {
		dblog_buf_adds(out, i++ ? ", " : "");
		dblog_json_str(k, tmp, &p, &n);
		char *name = dblog_xstrndup(p, n);
		dblog_sql_ident(out, name);
		if (set) {
			dblog_buf_adds(out, " = ");
			literal(out, d, v, dblog_fbtable_type(t, name, strlen(name)));
		}
		free(name);
	}
}

static void
values(struct dblog_buf *out, enum dblog_fb_dialect d, struct dblog_span obj,
       const struct dblog_fbtable *t, struct dblog_buf *tmp)
{
	struct dblog_span k, v;
	const char *it = NULL, *p;
	size_t n, i = 0;
	while (dblog_json_next(obj, &it, &k, &v)) {
		dblog_buf_adds(out, i++ ? ", " : "");
		dblog_json_str(k, tmp, &p, &n);
		literal(out, d, v, dblog_fbtable_type(t, p, n));
	}
}

void
dblog_fbsql_change(struct dblog_buf *body, enum dblog_fb_dialect d, const struct dblog_fields *c,
		   const char *table, const struct dblog_fbtable *t, const char *what)
{
	struct dblog_buf tmp = { 0 };
	int pg = d == DBLOG_FB_POSTGRES;
	dblog_buf_adds(body, "-- ");
	one_line(body, what);
	dblog_buf_addc(body, '\n');
	if (c->op == DBLOG_OP_INSERT) {
		dblog_buf_adds(body, pg ? "INSERT INTO " : "INSERT OR ROLLBACK INTO ");
		table_sql(body, d, table);
		dblog_buf_adds(body, " (");
		columns(body, d, c->after, t, 0, &tmp);
		dblog_buf_adds(body, pg ? ") VALUES (" : ") SELECT ");
		values(body, d, c->after, t, &tmp);
		dblog_buf_adds(body, pg ? ")" : " WHERE EXISTS (SELECT 1 FROM " GUARD ")");
	} else if (c->op == DBLOG_OP_UPDATE) {
		dblog_buf_adds(body, pg ? "UPDATE " : "UPDATE OR ROLLBACK ");
		table_sql(body, d, table);
		dblog_buf_adds(body, " SET ");
		columns(body, d, c->after, t, 1, &tmp);
		where(body, d, c, t, &tmp);
	} else {
		dblog_buf_adds(body, "DELETE FROM ");
		table_sql(body, d, table);
		where(body, d, c, t, &tmp);
	}
	dblog_buf_adds(body, ";\n");
	if (pg) {
		dblog_buf_adds(body, "GET DIAGNOSTICS dblog_flashback_n = ROW_COUNT;\n"
			       "IF dblog_flashback_n <> 1 THEN RAISE EXCEPTION 'dblog-flashback: % "
			       "changed % rows instead of 1: the row is not as the window left it', ");
		dblog_buf_clear(&tmp);
		one_line(&tmp, what);
		dblog_sql_literal_e(body, tmp.p);
		dblog_buf_adds(body, ", dblog_flashback_n; END IF;\n");
	} else {
		dblog_buf_adds(body, "UPDATE OR ROLLBACK " GUARD " SET n = changes();\n");
	}
	dblog_buf_free(&tmp);
}

void
dblog_fbsql_tx(struct dblog_buf *out, enum dblog_fb_dialect d, const char *comment,
	       const struct dblog_buf *body)
{
	dblog_buf_adds(out, "\n-- ");
	one_line(out, comment);
	dblog_buf_adds(out, "\nBEGIN;\n");
	if (d == DBLOG_FB_SQLITE) {
		dblog_buf_adds(out, "INSERT INTO " GUARD " VALUES (1);\n");
		dblog_buf_add(out, body->p, body->len);
		dblog_buf_adds(out, "DELETE FROM " GUARD ";\nCOMMIT;\n");
		return;
	}
	/* a dollar quote that the body does not hold */
	char tag[48];
	unsigned i = 0;
	do
		snprintf(tag, sizeof tag, i ? "$dblog_flashback_%u$" : "$dblog_flashback$", i);
	while (body->len && strstr(body->p, tag) && ++i);
	dblog_buf_printf(out, "DO %s\n#variable_conflict use_column\nDECLARE dblog_flashback_n "
			 "bigint;\nBEGIN\n", tag);
	dblog_buf_add(out, body->p, body->len);
	dblog_buf_printf(out, "END\n%s;\nCOMMIT;\n", tag);
}
