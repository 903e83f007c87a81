/* sink_pg_schema.c - the PostgreSQL apply backend's tables: CREATE TABLE
 * from schema events (type names checked by the server), and the rows
 * it keeps in the dblog schema (applied positions, parked conflicts). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sink_pg.h"

/* A declared type from a schema event, for PostgreSQL: PostgreSQL names
 * pass; SQLite's affinities map to their nearest type; the " TEXT" or
 * " BLOB" that a SQLite destination's --create-tables gives a PostgreSQL
 * type ("numeric(10,2) TEXT") is taken off again (t is changed). */
static const char *
pg_type(char *t)
{
	size_t n = strlen(t);
	if (n > 5 && (!strcasecmp(t + n - 5, " TEXT") || !strcasecmp(t + n - 5, " BLOB")))
		t[n - 5] = 0;
	if (!*t)
		return "text";
	if (!strcasecmp(t, "BLOB"))
		return "bytea";
	if (!strcasecmp(t, "REAL") || !strcasecmp(t, "DOUBLE") || !strcasecmp(t, "FLOAT"))
		return "double precision";
	if (!strcasecmp(t, "INTEGER") || !strcasecmp(t, "INT"))
		return "bigint";
	return t;
}

/* A type name safe to put in CREATE TABLE: words (letters, digits, _,
 * spaces, dots) and modifiers in parentheses (digits, commas, spaces), as
 * format_type() prints them ("character varying(20)", "timestamp(3) with
 * time zone"), then optional []s. */
static int
type_name_ok(const char *t)
{
	const char *p = t;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
		return 0;
	for (;;) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == ' ' || *p == '.') {
			p++;
		} else if (*p == '(') {
			p++;
			while ((*p >= '0' && *p <= '9') || *p == ',' || *p == ' ')
				p++;
			if (*p++ != ')')
				return 0;
		} else {
			break;
		}
	}
	while (p[0] == '[' && p[1] == ']')
		p += 2;
	return *p == 0;
}

/* Does the server read the text as one type name and nothing else? */
static int
server_type_ok(struct psink *s, const char *type)
{
	int was = psink_piped(s), ok = 0;
	if (psink_pipe_pause(s))
		return 0;
	const char *p[1] = { type };
	/* to_regtype raises on text that is no type name at all: a savepoint
	 * keeps the transaction usable */
	int in_tx = PQtransactionStatus(s->c) == PQTRANS_INTRANS;
	if (in_tx)
		PQclear(PQexec(s->c, "SAVEPOINT dblog_type"));
	PGresult *r = PQexecParams(s->c, "SELECT to_regtype($1) IS NOT NULL", 1, NULL, p, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (in_tx)
		PQclear(PQexec(s->c, ok ? "RELEASE SAVEPOINT dblog_type" :
				   "ROLLBACK TO SAVEPOINT dblog_type; RELEASE SAVEPOINT dblog_type"));
	psink_pipe_resume(s, was);
	return ok;
}

/* Can the type be an identity column's (smallint, integer, bigint)? */
static int
integer_type(const char *t)
{
	static const char *const ok[] = { "smallint", "integer", "bigint", "int2", "int4", "int8",
					   "int", "pg_catalog.int2", "pg_catalog.int4", "pg_catalog.int8" };
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (!strcasecmp(t, ok[i]))
			return 1;
	return 0;
}

/* Is the generation expression e one expression that stays inside the
 * parentheses put around it? Quoted strings and identifiers are skipped;
 * parentheses balance and never close below zero; no comment, and no
 * backslash, dollar sign or semicolon anywhere (escapes and dollar quotes
 * would need the server's own lexer; pg_get_expr's expressions have none
 * of them but in rare literals). The server checks the rest. */
static int
gen_expr_ok(const char *e)
{
	int depth = 0;
	if (!*e || strpbrk(e, "\\$;"))
		return 0;
	for (const char *p = e; *p; p++) {
		if (*p == '\'' || *p == '"') {
			char q = *p;
			for (p++; *p && !(*p == q && p[1] != q); p++)
				if (*p == q)
					p++;   /* a doubled quote */
			if (!*p)
				return 0;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')') {
			if (--depth < 0)
				return 0;
		} else if ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*')) {
			return 0;
		}
	}
	return depth == 0;
}

/* A source column that is generated must not go into a plain column of
 * an existing table: the change stream does not carry its values, so every
 * row written later would have NULL there. 0, or -1 with err naming the
 * table, the column and the fix. */
static int
generated_ok(struct psink *s, const struct ptable *t, const struct dblog_fields *f, char *err,
	     size_t errlen)
{
	struct dblog_span v;
	const char *it = NULL, *p;
	size_t n;
	while (dblog_json_next_elem(f->columns, &it, &v)) {
		struct dblog_span g = dblog_json_member(v, "generated", 9);
		if (dblog_json_type(g) != DBLOG_J_STRING)
			continue;
		const struct pcol *c = psink_col(t, dblog_json_member(v, "name", 4), &s->s1);
		if (!c || c->generated)
			continue;
		dblog_json_str(g, &s->s1, &p, &n);
		struct dblog_buf q = { 0 };
		dblog_sql_ident(&q, c->name);
		snprintf(err, errlen, "column %s of %s is generated at the source (GENERATED ALWAYS AS "
			 "(%.*s) STORED) but a plain column here, which the change stream would leave "
			 "NULL: make it generated (ALTER TABLE %s DROP COLUMN %s, ADD COLUMN %s %s "
			 "GENERATED ALWAYS AS (%.*s) STORED)", q.p, t->name, (int)n, p, t->qname, q.p, q.p,
			 c->type, (int)n, p);
		dblog_buf_free(&q);
		return -1;
	}
	return 0;
}

int
psink_schema(struct dblog_sink *base, const struct dblog_fields *f, const char *name, int create,
	 char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	s->cur = f;
	struct dblog_buf q = { 0 }, pk = { 0 }, schema = { 0 }, table = { 0 };
	int has;
	if (dblog_table_split(name, strlen(name), &schema, &table, &has)) {
		dblog_sink_bad_table(name, err, errlen);
		dblog_buf_free(&schema);
		dblog_buf_free(&table);
		return -1;
	}
	dblog_buf_free(&table);
	struct ptable *t = psink_table(s, name);
	if (t && t->ncols && generated_ok(s, t, f, err, errlen)) {
		dblog_buf_free(&schema);
		return -1;
	}
	if (!t || t->ncols || !create) {
		dblog_buf_free(&schema);
		return t ? 0 : psink_pipe_failed(s, err, errlen);
	}
	if (has) {
		dblog_buf_adds(&q, "CREATE SCHEMA IF NOT EXISTS ");
		dblog_sql_ident(&q, schema.p);
		dblog_buf_free(&schema);
		int e = psink_exec(s, q.p, err, errlen);
		dblog_buf_clear(&q);
		if (e) {
			dblog_buf_free(&q);
			return -1;
		}
	}
	dblog_buf_printf(&q, "CREATE TABLE IF NOT EXISTS %s (", t->qname);
	struct dblog_span v;
	const char *it = NULL, *p;
	size_t n, ncol = 0;
	while (dblog_json_next_elem(f->columns, &it, &v)) {
		/* SQLite's hidden rowid key becomes a real column here: the
		 * events carry it and key by it */
		struct dblog_span cn = dblog_json_member(v, "name", 4);
		if (dblog_json_type(cn) != DBLOG_J_STRING)
			continue;
		if (ncol++)
			dblog_buf_adds(&q, ", ");
		psink_ident_span(s, &q, cn);
		char *ty = dblog_xstrdup("text");
		if (dblog_json_str(dblog_json_member(v, "type", 4), &s->s1, &p, &n)) {
			free(ty);
			ty = dblog_xstrndup(p, n);
		}
		/* the type name is checked by the server: a quoted-identifier-free
		 * type name with only these characters, else text */
		struct dblog_span drv = dblog_json_member(f->source, "driver", 6);
		const char *tt = dblog_json_streq(drv, "sqlite", 6) ? pg_type(ty) : ty;
		int ok = type_name_ok(tt) && server_type_ok(s, tt);
		dblog_buf_printf(&q, " %s", ok ? tt : "text");
		/* an identity column of the source is one here (contract 6:
		 * "identity" is "always" or "by default"); apply inserts the
		 * source's values and keeps the sequence ahead of them */
		struct dblog_span id = dblog_json_member(v, "identity", 8);
		if (ok && dblog_json_streq(drv, "postgres", 8) && integer_type(tt)) {
			if (dblog_json_streq(id, "always", 6))
				dblog_buf_adds(&q, " GENERATED ALWAYS AS IDENTITY");
			else if (dblog_json_streq(id, "by default", 10))
				dblog_buf_adds(&q, " GENERATED BY DEFAULT AS IDENTITY");
		}
		free(ty);
		/* a generated column is computed here as at the source */
		struct dblog_span g = dblog_json_member(v, "generated", 9);
		if (dblog_json_type(g) == DBLOG_J_STRING) {
			dblog_json_str(g, &s->s1, &p, &n);
			char *e = dblog_xstrndup(p, n);
			if (!gen_expr_ok(e)) {
				snprintf(err, errlen, "the generation expression of column %.*s is not one "
					 "expression dblog can pass on safely: %s; create the table yourself",
					 (int)cn.n, cn.p, e);
				free(e);
				dblog_buf_free(&q);
				dblog_buf_free(&pk);
				return -1;
			}
			dblog_buf_printf(&q, " GENERATED ALWAYS AS (%s) STORED", e);
			free(e);
		}
		if (dblog_json_type(dblog_json_member(v, "nullable", 8)) == DBLOG_J_FALSE)
			dblog_buf_adds(&q, " NOT NULL");
		if (dblog_json_type(dblog_json_member(v, "key", 3)) == DBLOG_J_TRUE) {
			if (pk.len)
				dblog_buf_adds(&pk, ", ");
			psink_ident_span(s, &pk, cn);
		}
	}
	/* a key that is the whole row (no primary key at the source) is
	 * no constraint: equal rows may repeat */
	if (pk.len && dblog_json_type(f->keyless) != DBLOG_J_TRUE)
		dblog_buf_printf(&q, ", PRIMARY KEY (%s)", pk.p);
	dblog_buf_addc(&q, ')');
	int rc = ncol ? psink_exec(s, q.p, err, errlen) : (snprintf(err, errlen, "schema event without columns"), -1);
	psink_forget(s, name);
	dblog_buf_free(&q);
	dblog_buf_free(&pk);
	return rc;
}

int
psink_load_pos(struct dblog_sink *base, const char *stream, json_t **pos, char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	const char *p[1] = { stream };
	*pos = NULL;
	PGresult *r = PQexecParams(s->c, "SELECT position::text FROM dblog.applied WHERE stream = $1",
				   1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (base->dry_run) {
			PQclear(r);
			return 0;
		}
		return psink_fail(s, r, err, errlen);
	}
	if (PQntuples(r) == 1) {
		json_error_t je;
		*pos = json_loads(PQgetvalue(r, 0, 0), 0, &je);
		if (!*pos) {
			snprintf(err, errlen, "the applied position of stream \"%s\" is damaged", stream);
			PQclear(r);
			return -1;
		}
	}
	PQclear(r);
	return 0;
}

int
psink_save_pos(struct dblog_sink *base, const char *stream, const json_t *pos, char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	if (base->dry_run)
		return 0;
	char *j = json_dumps(pos, JSON_COMPACT | JSON_PRESERVE_ORDER);
	const char *p[2] = { stream, j };
	static const char sql[] = "INSERT INTO dblog.applied(stream, position, updated) VALUES "
				  "($1, $2::jsonb, now()) ON CONFLICT (stream) DO UPDATE SET position = "
				  "EXCLUDED.position, updated = EXCLUDED.updated";
	if (psink_piped(s)) {
		if (s->stage.rows && psink_stage_flush(s, err, errlen)) {
			free(j);
			return -1;
		}
		s->cur = NULL;
		int rc = psink_pipe_queued(s, PQsendQueryParams(s->c, sql, 2, NULL, p, NULL, NULL, 0),
				     "recording the applied position", err, errlen);
		free(j);
		return rc;
	}
	PGresult *r = PQexecParams(s->c, sql, 2, NULL, p, NULL, NULL, 0);
	free(j);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return psink_fail(s, r, err, errlen);
	PQclear(r);
	return 0;
}

int
psink_park(struct dblog_sink *base, const char *stream, const char *event, size_t n,
       const struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	char *ev = dblog_xstrndup(event, n);
	const char *p[4] = { stream, ci->why, ev, ci->dest_row };
	PGresult *r = PQexecParams(s->c, "INSERT INTO dblog.conflicts(time, stream, reason, event, dest_row) "
				   "VALUES (now(), $1, $2, $3::jsonb, $4::jsonb)", 4, NULL, p, NULL, NULL, 0);
	free(ev);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return psink_fail(s, r, err, errlen);
	PQclear(r);
	return 0;
}
