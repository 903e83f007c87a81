/* sink_pg.c - the PostgreSQL apply backend: prepared statements per table,
 * op and column set; values sent as text and cast by the server to each
 * column's type; conflicts found by comparing the destination row with
 * the event, as in sink_sqlite.c. Each change runs under a savepoint so a
 * bad event has no effect and the transaction goes on. */
#include <stdlib.h>
#include <string.h>

#include "sink_pg.h"

int
psink_fail(struct psink *s, PGresult *r, char *err, size_t errlen)
{
	if (PQstatus(s->c) == CONNECTION_BAD)
		s->base.lost = 1;
	const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(s->c);
	snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
	PQclear(r);
	return -1;
}

/* Describe the change being applied, for errors found later. */
void
psink_describe(struct psink *s, char *out, size_t n, const char *what)
{
	const struct dblog_fields *f = s->cur;
	if (!f) {
		snprintf(out, n, "%s", what);
		return;
	}
	snprintf(out, n, "%s change pos %.*s seq %.*s table %.*s", dblog_op_name(f->op),
		 (int)(f->pos.n < 24 ? f->pos.n : 24), f->pos.p ? f->pos.p : "-",
		 (int)(f->seq.n < 12 ? f->seq.n : 12), f->seq.p ? f->seq.p : "-",
		 (int)(f->table.n < 40 ? f->table.n : 40), f->table.p ? f->table.p : "-");
}


int
psink_exec(struct psink *s, const char *sql, char *err, size_t errlen)
{
	if (s->stage.rows && psink_stage_flush(s, err, errlen))
		return -1;
	if (s->dead) {
		snprintf(err, errlen, "%s", s->failure);
		return -1;
	}
	if (PQstatus(s->c) == CONNECTION_BAD) {
		/* say so, not what libpq says of the state it was left in */
		const char *m = PQerrorMessage(s->c);
		s->base.lost = 1;
		snprintf(err, errlen, "the connection to the destination was lost%s%.*s", *m ? ": " : "",
			 (int)strcspn(m, "\n"), m);
		return -1;
	}
	if (s->in_pipe) {
		s->next_bytes = strlen(sql);
		return psink_pipe_queued(s, PQsendQueryParams(s->c, sql, 0, NULL, NULL, NULL, NULL, 0), sql,
					 err, errlen);
	}
	if (s->base.dry_run) {
		fprintf(s->base.dry_run, "%s;\n", sql);
		return 0;
	}
	PGresult *r = PQexec(s->c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		return psink_fail(s, r, err, errlen);
	PQclear(r);
	return 0;
}

/* ---------------------------------------------------------- tables */

/* The SQL of a table name as events write it: "schema"."table", or
 * "table" (found by the search path) when it has no schema part. 0, or -1
 * when the name is malformed. */
int
psink_qualified(struct dblog_buf *b, const char *name)
{
	struct dblog_buf schema = { 0 }, table = { 0 };
	int has, rc = dblog_table_split(name, strlen(name), &schema, &table, &has);
	if (!rc && has) {
		dblog_sql_ident(b, schema.p);
		dblog_buf_addc(b, '.');
	}
	if (!rc)
		dblog_sql_ident(b, table.p);
	dblog_buf_free(&schema);
	dblog_buf_free(&table);
	return rc;
}

static void
table_free(struct ptable *t)
{
	for (int i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].type);
		free(t->cols[i].btype);
		free(t->cols[i].seq);
	}
	free(t->cols);
	free(t->name);
	free(t->qname);
}


struct ptable *
psink_table_cached(struct psink *s, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].name, name))
			return &s->tables[i];
	return NULL;
}

struct ptable *
psink_table(struct psink *s, const char *name)
{
	struct ptable *t = psink_table_cached(s, name);
	if (t)
		return t;
	int was = psink_piped(s);
	if (psink_pipe_pause(s))
		return NULL;
	s->tables = dblog_xrealloc(s->tables, (s->ntables + 1) * sizeof *s->tables);
	t = &s->tables[s->ntables++];
	memset(t, 0, sizeof *t);
	t->name = dblog_xstrdup(name);
	struct dblog_buf q = { 0 };
	psink_qualified(&q, name);   /* checked by the caller */
	t->qname = q.p;
	const char *p[1] = { q.p };
	PGresult *r = PQexecParams(s->c, "SELECT a.attname, t.typcategory = 'A', "
		"coalesce(a.attnum = ANY(i.indkey), false), "
		"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_opclass o JOIN pg_catalog.pg_am m ON m.oid = o.opcmethod "
		"WHERE o.opcdefault AND m.amname IN ('btree', 'hash') AND o.opcintype IN (a.atttypid, "
		"t.typbasetype, CASE WHEN t.typcategory = 'A' THEN 'anyarray'::regtype END)), "
		"format_type(a.atttypid, a.atttypmod), "
		/* the type without a modifier, by its quoted catalog name: "bpchar"
		 * and "bit" keep a value whole where character and bit mean (1) */
		"format('%I.%I', n.nspname, t.typname), a.attidentity, "
		"CASE WHEN a.attidentity <> '' THEN pg_catalog.pg_get_serial_sequence($1, a.attname) END, "
		"a.attgenerated <> '' "
		"FROM pg_catalog.pg_attribute a "
		"JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace LEFT JOIN pg_catalog.pg_index i ON "
		"i.indrelid = a.attrelid AND i.indisprimary WHERE a.attrelid = to_regclass($1) AND "
		"a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", 1, NULL, p, NULL, NULL, 0);
	/* a table (not a view or foreign table): its rows have a ctid */
	PGresult *k = PQexecParams(s->c, "SELECT relkind IN ('r', 'p') FROM pg_catalog.pg_class "
				   "WHERE oid = to_regclass($1)", 1, NULL, p, NULL, NULL, 0);
	t->ctid = PQresultStatus(k) == PGRES_TUPLES_OK && PQntuples(k) == 1 && PQgetvalue(k, 0, 0)[0] == 't';
	PQclear(k);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		t->ncols = PQntuples(r);
		t->cols = calloc((size_t)t->ncols + 1, sizeof *t->cols);
		for (int i = 0; i < t->ncols; i++) {
			t->cols[i].name = dblog_xstrdup(PQgetvalue(r, i, 0));
			t->cols[i].array = PQgetvalue(r, i, 1)[0] == 't';
			t->cols[i].pk = PQgetvalue(r, i, 2)[0] == 't';
			t->cols[i].noeq = PQgetvalue(r, i, 3)[0] == 't';
			t->cols[i].type = dblog_xstrdup(PQgetvalue(r, i, 4));
			t->cols[i].btype = dblog_xstrdup(PQgetvalue(r, i, 5));
			t->cols[i].generated = PQgetvalue(r, i, 8)[0] == 't';
			t->cols[i].json = !strcmp(t->cols[i].type, "json") || !strcmp(t->cols[i].type, "jsonb");
			if (!strcmp(t->cols[i].type, "json[]") || !strcmp(t->cols[i].type, "jsonb[]"))
				t->cols[i].array = 3;
			t->cols[i].ident = PQgetvalue(r, i, 6)[0];
			t->always |= t->cols[i].ident == 'a';
			if (!PQgetisnull(r, i, 7)) {
				t->cols[i].seq = dblog_xstrdup(PQgetvalue(r, i, 7));
				t->seqs = 1;
			}
		}
	}
	PQclear(r);
	psink_pipe_resume(s, was);
	return t;
}

void
psink_forget(struct psink *s, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].name, name)) {
			table_free(&s->tables[i]);
			s->tables[i] = s->tables[--s->ntables];
			return;
		}
}

const struct pcol *
psink_col(const struct ptable *t, struct dblog_span name, struct dblog_buf *scratch)
{
	const char *p;
	size_t n;
	if (!dblog_json_str(name, scratch, &p, &n))
		return NULL;
	for (int i = 0; i < t->ncols; i++)
		if (strlen(t->cols[i].name) == n && !memcmp(t->cols[i].name, p, n))
			return &t->cols[i];
	return NULL;
}

/* ---------------------------------------------------------- values */

/* Add one parameter: the text form of a JSON value (NULL for null). */
static void
param(struct psink *s, struct dblog_span v, int array)
{
	int i = s->np++;
	s->isnull[i] = 0;
	s->offs[i] = s->vals.len;
	if (array == 2 && dblog_json_type(v) != DBLOG_J_NULL && v.p &&
	    dblog_json_type(v) != DBLOG_J_STRING) {
		/* json and jsonb columns: a string is the JSON text (below);
		 * JSON embedded (events written before) is taken as its text */
		dblog_buf_add(&s->vals, v.p, v.n);
		dblog_buf_addc(&s->vals, 0);
		return;
	}
	switch (dblog_json_type(v)) {
	case DBLOG_J_NONE:
	case DBLOG_J_NULL:
		s->isnull[i] = 1;
		return;
	case DBLOG_J_TRUE: dblog_buf_adds(&s->vals, "t"); break;
	case DBLOG_J_FALSE: dblog_buf_adds(&s->vals, "f"); break;
	case DBLOG_J_STRING: {
		const char *p;
		size_t n;
		dblog_json_str(v, &s->s1, &p, &n);
		dblog_buf_add(&s->vals, p, n);
		break;
	}
	case DBLOG_J_ARRAY:
		if (array) {
			dblog_sql_pg_array(&s->vals, v, array == 3, &s->s1);
			break;
		}
		dblog_buf_add(&s->vals, v.p, v.n);   /* JSON text for json columns */
		break;
	default:
		dblog_buf_add(&s->vals, v.p, v.n);
	}
	dblog_buf_addc(&s->vals, 0);
}

/* The key's parameters: NULL keys have none (they become IS NULL). */
static void
key_params(struct psink *s, const struct ptable *t)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		if (dblog_json_type(s->kv[i]) == DBLOG_J_NULL)
			continue;
		const struct pcol *c = psink_col(t, s->knames[i], &s->s1);
		param(s, s->kv[i], c ? (c->json ? 2 : c->array) : 0);
	}
}

void
psink_params_of(struct psink *s, const struct ptable *t, const struct dblog_span *names,
	  const struct dblog_span *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pcol *c = psink_col(t, names[i], &s->s1);
		param(s, vals[i], c ? (c->json ? 2 : c->array) : 0);
	}
}

/* ---------------------------------------------------------- statements */

void
psink_ident_span(struct psink *s, struct dblog_buf *b, struct dblog_span name)
{
	dblog_sink_ident(b, name, &s->s1);
}

void
psink_mkkey(struct psink *s, char kind, const struct ptable *t, const struct dblog_span *a, size_t na,
      const struct dblog_span *b, size_t nb)
{
	dblog_buf_clear(&s->key);
	dblog_buf_addc(&s->key, kind);
	dblog_buf_addu(&s->key, strlen(t->name));   /* a name may hold any byte */
	dblog_buf_addc(&s->key, ':');
	dblog_buf_adds(&s->key, t->name);
	for (size_t i = 0; i < na; i++) {
		dblog_buf_addc(&s->key, 1);
		dblog_buf_add(&s->key, a[i].p, a[i].n);
	}
	dblog_buf_addc(&s->key, 2);
	for (size_t i = 0; i < nb; i++) {
		dblog_buf_addc(&s->key, 1);
		dblog_buf_add(&s->key, b[i].p, b[i].n);
	}
	/* which key values are NULL changes the statement */
	dblog_buf_addc(&s->key, 4);
	for (size_t i = 0; i < s->nkeys; i++)
		dblog_buf_addc(&s->key, dblog_json_type(s->kv[i]) == DBLOG_J_NULL ? 'n' : 'v');
}

struct pstmt *
psink_find(struct psink *s)
{
	unsigned h = dblog_sink_hash(s->key.p, s->key.len) % NBUCKETS;
	for (struct pstmt *p = s->buckets[h]; p; p = p->next)
		if (!strcmp(p->key, s->key.p))
			return p;
	return NULL;
}

struct pstmt *
psink_prepare(struct psink *s, const char *sql, int nparams, char *err, size_t errlen)
{
	struct pstmt *p = calloc(1, sizeof *p);
	if (!p)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	snprintf(p->name, sizeof p->name, "dblog%d", ++s->nstmts);
	if (s->in_pipe) {
		if (psink_pipe_queued(s, PQsendPrepare(s->c, p->name, sql, nparams, NULL), "prepare", err, errlen)) {
			free(p);
			return NULL;
		}
	} else {
		PGresult *r = PQprepare(s->c, p->name, sql, nparams, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			free(p);
			return psink_fail(s, r, err, errlen), NULL;
		}
		PQclear(r);
	}
	p->key = dblog_xstrndup(s->key.p, s->key.len);
	p->nparams = nparams;
	unsigned h = dblog_sink_hash(s->key.p, s->key.len) % NBUCKETS;
	p->next = s->buckets[h];
	s->buckets[h] = p;
	return p;
}

/* Run the statement with the collected parameters; *rows gets the count. */
static int
run(struct psink *s, struct pstmt *p, long *rows, char *err, size_t errlen)
{
	if (s->stage.rows && !s->stage.flushing) {
		/* keep the statement's parameters while the staged rows go out */
		struct dblog_buf keep = s->vals;
		memset(&s->vals, 0, sizeof s->vals);
		int np = s->np, rc = psink_stage_flush(s, err, errlen);
		dblog_buf_free(&s->vals);
		s->vals = keep;
		s->np = np;
		if (rc)
			return -1;
	}
	for (int i = 0; i < s->np; i++)
		s->params[i] = s->isnull[i] ? NULL : s->vals.p + s->offs[i];
	if (s->in_pipe) {
		if (rows)
			*rows = 1;   /* not known before the sync point */
		s->next_expect = 1;
		s->next_bytes = psink_text_bytes(s->params, s->np);
		return psink_pipe_queued(s, PQsendQueryPrepared(s->c, p->name, s->np, s->params, NULL, NULL, 0),
				   "", err, errlen);
	}
	PGresult *r = PQexecPrepared(s->c, p->name, s->np, s->params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return psink_fail(s, r, err, errlen);
	if (rows)
		*rows = st == PGRES_TUPLES_OK ? PQntuples(r) : atol(PQcmdTuples(r));
	PQclear(r);
	return 0;
}

/* --dry-run: the SQL with its $n replaced by quoted literals. */
static int
dry(struct psink *s)
{
	struct dblog_buf out = { 0 };
	char q = 0;
	for (const char *p = s->sql.p; *p; p++) {
		if (q) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
			int k = (int)strtol(p + 1, (char **)&p, 10) - 1;
			p--;
			if (k < s->np && !s->isnull[k])
				dblog_sql_literal_e(&out, s->vals.p + s->offs[k]);
			else
				dblog_buf_adds(&out, "NULL");
			continue;
		}
		dblog_buf_addc(&out, *p);
	}
	fprintf(s->base.dry_run, "%s;\n", out.p);
	dblog_buf_free(&out);
	return 0;
}

/* "c" OP "other" for column name; types without equality (json, point,
 * ...) compare as text. */
static void
compare(struct psink *s, const struct ptable *t, const char *prefix, struct dblog_span name,
	const char *op, const char *rhs)
{
	const struct pcol *c = psink_col(t, name, &s->s1);
	int text = c && c->noeq;
	dblog_buf_adds(&s->sql, text ? "(" : "");
	dblog_buf_adds(&s->sql, prefix);
	psink_ident_span(s, &s->sql, name);
	if (text && rhs[0] == '$')   /* a parameter keeps the column's type */
		dblog_buf_printf(&s->sql, ")::text %s (CAST(%s AS %s))::text", op, rhs, c->type);
	else
		dblog_buf_printf(&s->sql, text ? ")::text %s (%s)::text" : " %s %s", op, rhs);
}

/* " WHERE k = $n AND ..." then " AND c IS NOT DISTINCT FROM $n" for extras. */
static void
where(struct psink *s, const struct ptable *t, int *n, const struct dblog_span *extra, size_t nextra)
{
	char rhs[48];
	for (size_t i = 0; i < s->nkeys; i++) {
		dblog_buf_adds(&s->sql, i ? " AND " : " WHERE ");
		if (dblog_json_type(s->kv[i]) == DBLOG_J_NULL) {
			/* a key of REPLICA IDENTITY FULL may hold NULLs */
			psink_ident_span(s, &s->sql, s->knames[i]);
			dblog_buf_adds(&s->sql, " IS NULL");
			continue;
		}
		snprintf(rhs, sizeof rhs, "$%d", ++*n);
		compare(s, t, "", s->knames[i], "=", rhs);
	}
	for (size_t i = 0; i < nextra; i++) {
		dblog_buf_adds(&s->sql, " AND ");
		snprintf(rhs, sizeof rhs, "$%d", ++*n);
		compare(s, t, "", extra[i], "IS NOT DISTINCT FROM", rhs);
	}
}

static int
is_pk(struct psink *s, const struct ptable *t, struct dblog_span name)
{
	const struct pcol *c = psink_col(t, name, &s->s1);
	return c && c->pk;
}

/* Is the column GENERATED ALWAYS AS IDENTITY? PostgreSQL lets an UPDATE
 * set it only to DEFAULT: it is left out of SET (p_apply refused an event
 * that changes it). */
static int
is_always(struct psink *s, const struct ptable *t, struct dblog_span name)
{
	const struct pcol *c = t->always ? psink_col(t, name, &s->s1) : NULL;
	return c && c->ident == 'a';
}

/* Can the change's key match more than one row? Yes unless it names every
 * column of the table's primary key: a table without one (REPLICA IDENTITY
 * FULL at the source: the key is the whole old row) may hold equal rows,
 * and an update or delete changes one of them, as at the source. (Not for
 * a view, whose rows have no address: every match is changed there.) */
static int
key_may_repeat(struct psink *s, const struct ptable *t)
{
	int npk = 0, found = 0;
	for (int i = 0; i < t->ncols; i++)
		npk += t->cols[i].pk;
	for (size_t i = 0; i < s->nkeys; i++)
		found += is_pk(s, t, s->knames[i]);
	return t->ctid && (!npk || found < npk);
}

/* Before the WHERE of an UPDATE or DELETE of one row whose key may
 * repeat: the row is picked by its physical address (tableoid for the
 * partitions of a partitioned table); one_row_end closes it. */
static void
one_row_begin(struct psink *s, const struct ptable *t)
{
	dblog_buf_printf(&s->sql, " WHERE (tableoid, ctid) = (SELECT tableoid, ctid FROM %s", t->qname);
}

static void
one_row_end(struct psink *s)
{
	dblog_buf_adds(&s->sql, " LIMIT 1)");
}

/* The ON CONFLICT clause of the upsert of s->names: on the primary key
 * DO UPDATE, leaving a row already equal alone; DO NOTHING when every
 * column is in the key. Appended to s->sql. */
static void
conflict_clause(struct psink *s, const struct ptable *t)
{
	int any = 0;
	dblog_buf_adds(&s->sql, " ON CONFLICT (");
	for (int i = 0, k = 0; i < t->ncols; i++)
		if (t->cols[i].pk) {
			if (k++)
				dblog_buf_adds(&s->sql, ", ");
			dblog_sql_ident(&s->sql, t->cols[i].name);
		}
	dblog_buf_adds(&s->sql, ")");
	for (size_t i = 0; i < s->ncols; i++) {
		if (is_pk(s, t, s->names[i]) || is_always(s, t, s->names[i]))
			continue;
		dblog_buf_adds(&s->sql, any++ ? ", " : " DO UPDATE SET ");
		psink_ident_span(s, &s->sql, s->names[i]);
		dblog_buf_adds(&s->sql, " = EXCLUDED.");
		psink_ident_span(s, &s->sql, s->names[i]);
	}
	for (size_t i = 0, w = 0; i < s->ncols && any; i++) {
		if (is_pk(s, t, s->names[i]) || is_always(s, t, s->names[i]))
			continue;
		struct dblog_buf pre = { 0 }, ex = { 0 };
		dblog_buf_printf(&pre, "%s.", t->qname);
		dblog_buf_adds(&ex, "EXCLUDED.");
		psink_ident_span(s, &ex, s->names[i]);
		dblog_buf_adds(&s->sql, w++ ? " OR " : " WHERE (");
		compare(s, t, pre.p, s->names[i], "IS DISTINCT FROM", ex.p);
		dblog_buf_free(&pre);
		dblog_buf_free(&ex);
	}
	dblog_buf_adds(&s->sql, any ? ")" : " DO NOTHING");
}

void
psink_conflict_clause(struct psink *s, const struct ptable *t)
{
	dblog_buf_clear(&s->sql);
	conflict_clause(s, t);
}

/* The one-row INSERT of the after-image into s->sql: upsert (see
 * conflict_clause) or DO NOTHING. */
void
psink_insert_sql(struct psink *s, const struct ptable *t, int upsert)
{
	dblog_buf_clear(&s->sql);
	dblog_buf_printf(&s->sql, "INSERT INTO %s (", t->qname);
	for (size_t i = 0; i < s->ncols; i++) {
		if (i)
			dblog_buf_adds(&s->sql, ", ");
		psink_ident_span(s, &s->sql, s->names[i]);
	}
	/* the source's values, also of GENERATED ALWAYS identity columns */
	dblog_buf_adds(&s->sql, t->always ? ") OVERRIDING SYSTEM VALUE VALUES (" : ") VALUES (");
	for (size_t i = 0; i < s->ncols; i++)
		dblog_buf_printf(&s->sql, i ? ", $%zu" : "$%zu", i + 1);
	dblog_buf_adds(&s->sql, ")");
	int npk = 0;
	for (int i = 0; i < t->ncols; i++)
		npk += t->cols[i].pk;
	if (upsert && npk)
		conflict_clause(s, t);
	else
		dblog_buf_adds(&s->sql, " ON CONFLICT DO NOTHING");
}

/* The prepared statement for s->key, if any (none in a dry run), with
 * the parameters emptied for the caller to fill. */
static struct pstmt *
cached_stmt(struct psink *s)
{
	s->np = 0;
	dblog_buf_clear(&s->vals);
	return s->base.dry_run ? NULL : psink_find(s);
}

/* Run p, or the statement just built in s->sql when none was cached:
 * prepared first, or printed in a dry run. */
static int
send_stmt(struct psink *s, struct pstmt *p, long *rows, char *err, size_t errlen)
{
	if (!p) {
		if (s->base.dry_run)
			return dry(s);
		if (!(p = psink_prepare(s, s->sql.p, s->np, err, errlen)))
			return -1;
	}
	return run(s, p, rows, err, errlen);
}

static int
do_insert(struct psink *s, const struct ptable *t, int upsert, long *rows, char *err, size_t errlen)
{
	psink_mkkey(s, upsert ? 'U' : 'I', t, s->names, s->ncols, NULL, 0);
	struct pstmt *p = cached_stmt(s);
	psink_params_of(s, t, s->names, s->v, s->ncols);
	if (!p)
		psink_insert_sql(s, t, upsert);
	return send_stmt(s, p, rows, err, errlen);
}

/* UPDATE SET after WHERE key [AND before IS NOT DISTINCT ...]; without a
 * guard, a row already equal is left alone. */
static int
do_update(struct psink *s, const struct ptable *t, int guarded, long *rows, char *err, size_t errlen)
{
	size_t nb = guarded ? s->nbefore : 0;
	psink_mkkey(s, guarded ? 'G' : 'P', t, s->names, s->ncols, s->bnames, nb);
	dblog_buf_addc(&s->key, 3);
	for (size_t i = 0; i < s->nkeys; i++)
		dblog_buf_add(&s->key, s->knames[i].p, s->knames[i].n);
	struct pstmt *p = cached_stmt(s);
	psink_params_of(s, t, s->names, s->v, s->ncols);
	key_params(s, t);
	psink_params_of(s, t, s->bnames, s->bv, nb);
	if (!p) {
		int n = 0;
		dblog_buf_clear(&s->sql);
		dblog_buf_printf(&s->sql, "UPDATE %s SET ", t->qname);
		for (size_t i = 0, k = 0; i < s->ncols; i++) {
			++n;
			if (is_always(s, t, s->names[i]))
				continue;
			if (k++)
				dblog_buf_adds(&s->sql, ", ");
			psink_ident_span(s, &s->sql, s->names[i]);
			dblog_buf_printf(&s->sql, " = $%d", n);
		}
		int one = key_may_repeat(s, t);
		if (one)
			one_row_begin(s, t);
		where(s, t, &n, s->bnames, nb);
		char rhs[48];
		/* an ALWAYS identity column is not set: the row must hold the value */
		for (size_t i = 0; i < s->ncols; i++)
			if (is_always(s, t, s->names[i])) {
				dblog_buf_adds(&s->sql, " AND ");
				snprintf(rhs, sizeof rhs, "$%zu", i + 1);
				compare(s, t, "", s->names[i], "=", rhs);
			}
		if (!guarded && s->ncols) {
			dblog_buf_adds(&s->sql, " AND (");
			for (size_t i = 0, k = 0; i < s->ncols; i++) {
				if (is_always(s, t, s->names[i]))
					continue;
				if (k++)
					dblog_buf_adds(&s->sql, " OR ");
				snprintf(rhs, sizeof rhs, "$%zu", i + 1);
				compare(s, t, "", s->names[i], "IS DISTINCT FROM", rhs);
			}
			dblog_buf_addc(&s->sql, ')');
		}
		if (one)
			one_row_end(s);
	}
	return send_stmt(s, p, rows, err, errlen);
}

static int
do_delete(struct psink *s, const struct ptable *t, int guarded, long *rows, char *err, size_t errlen)
{
	size_t nb = guarded ? s->nbefore : 0;
	psink_mkkey(s, guarded ? 'E' : 'D', t, s->knames, s->nkeys, s->bnames, nb);
	struct pstmt *p = cached_stmt(s);
	key_params(s, t);
	psink_params_of(s, t, s->bnames, s->bv, nb);
	if (!p) {
		int n = 0;
		dblog_buf_clear(&s->sql);
		dblog_buf_printf(&s->sql, "DELETE FROM %s", t->qname);
		int one = key_may_repeat(s, t);
		if (one)
			one_row_begin(s, t);
		where(s, t, &n, s->bnames, nb);
		if (one)
			one_row_end(s);
	}
	return send_stmt(s, p, rows, err, errlen);
}

/* Does the row with the key exist, and does it equal the given columns? */
static int
probe(struct psink *s, const struct ptable *t, const struct dblog_span *names,
      const struct dblog_span *vals, size_t n, int *exists, int *equal, char *err, size_t errlen)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t m = pass ? n : 0;
		psink_mkkey(s, 'S', t, s->knames, s->nkeys, names, m);
		struct pstmt *p = psink_find(s);
		s->np = 0;
		dblog_buf_clear(&s->vals);
		key_params(s, t);
		psink_params_of(s, t, names, vals, m);
		if (!p) {
			int k = 0;
			dblog_buf_clear(&s->sql);
			dblog_buf_printf(&s->sql, "SELECT 1 FROM %s", t->qname);
			where(s, t, &k, names, m);
			if (!(p = psink_prepare(s, s->sql.p, s->np, err, errlen)))
				return -1;
		}
		long rows = 0;
		if (run(s, p, &rows, err, errlen))
			return -1;
		*(pass ? equal : exists) = rows > 0;
		if (!pass && !rows) {
			*equal = 0;
			return 0;
		}
	}
	return 0;
}

static void
fetch_row(struct psink *s, const struct ptable *t)
{
	free(s->dest_row);
	s->dest_row = NULL;
	int n = 0;
	dblog_buf_clear(&s->sql);
	dblog_buf_printf(&s->sql, "SELECT row_to_json(x)::text FROM %s AS x", t->qname);
	s->np = 0;
	dblog_buf_clear(&s->vals);
	key_params(s, t);
	where(s, t, &n, NULL, 0);
	for (int i = 0; i < s->np; i++)
		s->params[i] = s->isnull[i] ? NULL : s->vals.p + s->offs[i];
	PGresult *r = PQexecParams(s->c, s->sql.p, s->np, NULL, s->params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		s->dest_row = dblog_xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* ---------------------------------------------------------- the ops */

static int
conflict(struct psink *s, const struct ptable *t, const char *why, enum dblog_outcome *out,
	 struct dblog_conflict_info *ci)
{
	ci->why = why;
	if (s->base.policy == DBLOG_MANUAL_REVIEW) {
		fetch_row(s, t);
		ci->dest_row = s->dest_row;
		*out = DBLOG_CONFLICT_PARKED;
	} else {
		*out = DBLOG_CONFLICT_KEPT;
	}
	return 0;
}

/* Does the after-image hold every primary key column? */
static int
after_has_key(struct psink *s, const struct ptable *t)
{
	int npk = 0;
	for (int i = 0; i < t->ncols; i++)
		npk += t->cols[i].pk;
	if (!npk)
		return 0;
	for (int i = 0; i < t->ncols; i++) {
		if (!t->cols[i].pk)
			continue;
		int found = 0;
		for (size_t j = 0; j < s->ncols && !found; j++)
			found = dblog_json_streq(s->names[j], t->cols[i].name, strlen(t->cols[i].name));
		if (!found)
			return 0;
	}
	return 1;
}

/* Did an update change its key (the key's values differ in after)? */
static int
key_changed(struct psink *s)
{
	for (size_t i = 0; i < s->nkeys; i++)
		for (size_t j = 0; j < s->ncols; j++)
			if (s->knames[i].n == s->names[j].n &&
			    !memcmp(s->knames[i].p, s->names[j].p, s->names[j].n) &&
			    !(s->kv[i].n == s->v[j].n && !memcmp(s->kv[i].p, s->v[j].p, s->v[j].n)))
				return 1;
	return 0;
}

static int
span_eq(struct dblog_span a, struct dblog_span b)
{
	return a.n == b.n && !memcmp(a.p, b.p, a.n);
}

/* An update that changes a GENERATED ALWAYS identity column (its old
 * value from the key or the before-image) cannot be applied: PostgreSQL
 * lets UPDATE set such a column only to DEFAULT. -1 with err, else 0;
 * *settable: are there columns to SET? */
static int
always_changed(struct psink *s, const struct ptable *t, int *settable, char *err, size_t errlen)
{
	*settable = 0;
	for (size_t i = 0; i < s->ncols; i++) {
		if (!is_always(s, t, s->names[i])) {
			*settable = 1;
			continue;
		}
		const struct dblog_span *old = NULL;
		for (size_t k = 0; k < s->nkeys && !old; k++)
			if (span_eq(s->knames[k], s->names[i]))
				old = &s->kv[k];
		for (size_t k = 0; k < s->nbefore && !old; k++)
			if (span_eq(s->bnames[k], s->names[i]))
				old = &s->bv[k];
		if (!old || span_eq(*old, s->v[i]))
			continue;
		const char *cn;
		size_t cl;
		dblog_json_str(s->names[i], &s->s1, &cn, &cl);
		struct dblog_buf col = { 0 };
		dblog_buf_add(&col, cn, cl);
		struct dblog_buf qc = { 0 };
		dblog_sql_ident(&qc, col.p);
		snprintf(err, errlen, "the update changes column \"%s\" from %.*s to %.*s, but it is "
			 "GENERATED ALWAYS AS IDENTITY in the destination, which an UPDATE may only set "
			 "to DEFAULT (fix: ALTER TABLE %s ALTER COLUMN %s SET GENERATED BY DEFAULT)",
			 col.p, (int)(old->n < 40 ? old->n : 40), old->p, (int)(s->v[i].n < 40 ? s->v[i].n : 40),
			 s->v[i].p, t->qname, qc.p);
		dblog_buf_free(&col);
		dblog_buf_free(&qc);
		return -1;
	}
	return 0;
}

/* The batch wrote rows of t: its identity sequences are moved past them
 * before it commits (see p_commit). */
static void
note_identity(struct psink *s, const struct ptable *t)
{
	if (t->seqs && !s->base.dry_run && !psink_name_in(&s->ident_batch, t->name))
		psink_name_add(&s->ident_batch, t->name);
}

static int
apply_change(struct psink *s, const struct dblog_fields *f, const struct ptable *t,
	     enum dblog_outcome *out, struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	int guarded = dblog_sink_guarded(s->base.policy), exists, equal, settable = 1;
	long rows = 0;
	*out = DBLOG_APPLIED;
	if (f->op == DBLOG_OP_UPDATE && t->always && always_changed(s, t, &settable, err, errlen))
		return -1;
	if (f->op != DBLOG_OP_DELETE)
		note_identity(s, t);
	if (!settable)   /* nothing but ALWAYS identity columns, unchanged: the row is there */
		return do_insert(s, t, 1, &rows, err, errlen);
	/* the bulk path first (pipeline mode); what it does not take goes
	 * after the rows it holds */
	int staged = 1, piped = psink_piped(s), ins = f->op == DBLOG_OP_INSERT || f->op == DBLOG_OP_SNAPSHOT;
	if (ins && !guarded && piped)
		staged = psink_stage_add(s, t, 'i', err, errlen);
	else if (f->op == DBLOG_OP_UPDATE && piped && after_has_key(s, t) && !f->unchanged.p &&
		 !key_changed(s))
		staged = psink_stage_add(s, t, 'u', err, errlen);
	else if (f->op == DBLOG_OP_DELETE && !guarded && piped)
		staged = psink_stage_add(s, t, 'd', err, errlen);
	if (staged <= 0)
		return staged;
	if (s->stage.rows && psink_stage_flush(s, err, errlen))
		return -1;
	if (f->op == DBLOG_OP_INSERT || f->op == DBLOG_OP_SNAPSHOT) {
		if (do_insert(s, t, !guarded, &rows, err, errlen))
			return -1;
		if (rows || s->base.dry_run)
			return 0;
		if (probe(s, t, s->names, s->v, s->ncols, &exists, &equal, err, errlen))
			return -1;
		if (equal || !guarded) {
			*out = DBLOG_NOOP;
			return 0;
		}
		return conflict(s, t, "insert found an existing, different row", out, ci);
	}
	if (f->op == DBLOG_OP_UPDATE && s->in_pipe && after_has_key(s, t) && !f->unchanged.p) {
		/* one statement per case, no waiting: the after-image upserted
		 * (a missing row comes back), the old row removed on a key change */
		if (key_changed(s))   /* an UPDATE keeps the columns the event does not send */
			return do_update(s, t, 0, &rows, err, errlen);
		return do_insert(s, t, 1, &rows, err, errlen);
	}
	if (f->op == DBLOG_OP_UPDATE) {
		if (do_update(s, t, guarded, &rows, err, errlen))
			return -1;
		if (rows || s->base.dry_run)
			return 0;
		if (probe(s, t, s->names, s->v, s->ncols, &exists, &equal, err, errlen))
			return -1;
		if (equal) {
			*out = DBLOG_NOOP;
			return 0;
		}
		if (!guarded)   /* source wins: the row is missing, bring in the after-image */
			return do_insert(s, t, 1, &rows, err, errlen);
		return conflict(s, t, exists ? "update found a different row" : "update found no row",
				out, ci);
	}
	if (do_delete(s, t, guarded, &rows, err, errlen))
		return -1;
	if (rows || s->base.dry_run)
		return 0;
	if (probe(s, t, NULL, NULL, 0, &exists, &equal, err, errlen))
		return -1;
	if (!exists) {
		*out = DBLOG_NOOP;
		return 0;
	}
	return conflict(s, t, "delete found a different row", out, ci);
}

static int
lww_newer(struct psink *s, const struct dblog_fields *f, const char *table, int *newer,
	  char *err, size_t errlen)
{
	const char *ct, *src;
	size_t ctn = 0, srcn = 0;
	struct dblog_buf a = { 0 }, b = { 0 }, k = { 0 };
	dblog_json_str(f->commit_time, &a, &ct, &ctn);
	dblog_json_str(dblog_json_member(f->source, "name", 4), &b, &src, &srcn);
	dblog_buf_add(&k, f->key.p, f->key.n);
	char *ctz = ctn ? dblog_xstrndup(ct, ctn) : NULL, *srcz = dblog_xstrndup(srcn ? src : "", srcn);
	const char *p[4] = { table, k.p, ctz, srcz };
	PGresult *r = PQexecParams(s->c, "SELECT commit_time > $3 OR (commit_time = $3 AND source > $4) "
				   "FROM dblog.lww WHERE tbl = $1 AND key = $2", 4, NULL, p, NULL, NULL, 0);
	int rc = 0;
	*newer = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		rc = psink_fail(s, r, err, errlen), r = NULL;
	else if (PQntuples(r) == 1)
		*newer = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!rc) {
		r = PQexecParams(s->c, "INSERT INTO dblog.lww(tbl, key, commit_time, source) VALUES ($1, $2, "
				 "$3, $4) ON CONFLICT (tbl, key) DO UPDATE SET commit_time = EXCLUDED.commit_time, "
				 "source = EXCLUDED.source WHERE NOT $5::bool", 5, NULL,
				 (const char *[]){ table, k.p, ctz, srcz, *newer ? "t" : "f" }, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = psink_fail(s, r, err, errlen), r = NULL;
		PQclear(r);
	}
	free(ctz);
	free(srcz);
	dblog_buf_free(&a);
	dblog_buf_free(&b);
	dblog_buf_free(&k);
	return rc;
}

/* Does a string value (of a column that is not json or jsonb) hold a NUL
 * character? */
static int
has_nul(struct psink *s, const struct ptable *t, const struct dblog_span *names,
	const struct dblog_span *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (dblog_json_type(vals[i]) != DBLOG_J_STRING || !memmem(vals[i].p, vals[i].n, "\\u0000", 6))
			continue;
		const struct pcol *c = psink_col(t, names[i], &s->s1);
		if (c && c->json)   /* json keeps the escape; jsonb refuses it itself */
			continue;
		dblog_json_unescape(vals[i], &s->s1);
		if (memchr(s->s1.p, 0, s->s1.len))
			return 1;
	}
	return 0;
}

/* The first value of vals that is text not valid UTF-8 ({"text_hex":..},
 * from a SQLite source), or -1: PostgreSQL has no text for it. */
static long
not_utf8(struct psink *s, const struct dblog_span *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (dblog_json_type(vals[i]) == DBLOG_J_OBJECT && dblog_text_hex(vals[i], &s->s1))
			return (long)i;
	return -1;
}

static int
refuse_not_utf8(struct psink *s, const struct dblog_fields *f, char *err, size_t errlen)
{
	static const char *const what[] = { "after", "key", "before" };
	const struct dblog_span *names[] = { s->names, s->knames, s->bnames };
	const struct dblog_span *vals[] = { s->v, s->kv, s->bv };
	size_t ns[] = { s->ncols, s->nkeys, s->nbefore };
	for (int w = 0; w < 3; w++) {
		long i = not_utf8(s, vals[w], ns[w]);
		if (i < 0)
			continue;
		struct dblog_span k = f->key.p ? f->key : f->before;
		snprintf(err, errlen, "column %.*s in \"%s\" of the row %.*s is text that is not "
			 "UTF-8 ({\"text_hex\":...}, from a SQLite source), which PostgreSQL cannot "
			 "store as text: correct it at the source (or convert it with a transform "
			 "before apply), or park such events with --dlq",
			 (int)(names[w][i].n < 200 ? names[w][i].n : 200), names[w][i].p, what[w],
			 (int)(k.n < 300 ? k.n : 300), k.p ? k.p : "{}");
		return -1;
	}
	return 0;
}

static int
p_apply(struct dblog_sink *base, const struct dblog_fields *f, const char *name,
	enum dblog_outcome *out, struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	ci->why = NULL;
	ci->dest_row = NULL;
	s->cur = f;
	struct ptable *t = psink_table_cached(s, name);
	dblog_buf_clear(&s->s1);
	if (!t && psink_qualified(&s->s1, name)) {
		dblog_sink_bad_table(name, err, errlen);
		return -1;
	}
	t = t ? t : psink_table(s, name);
	if (!t) {
		snprintf(err, errlen, "%s", s->failure);
		return psink_pipe_failed(s, err, errlen);
	}
	if (!t->ncols && !base->dry_run) {
		psink_forget(s, name);
		snprintf(err, errlen, "no table %s in the destination (create it, map it with "
			 "--map-table or --map-schema, or use --create-tables)", name);
		return -1;
	}
	if (f->op == DBLOG_OP_TRUNCATE) {
		/* TRUNCATE refuses a table with open portals: let them finish
		 * (before s->sql is built: sending gathered rows reuses it) */
		if (s->stage.rows && psink_stage_flush(s, err, errlen))
			return -1;
		if (s->in_pipe && psink_pipe_sync(s))
			return psink_pipe_failed(s, err, errlen);
		dblog_buf_clear(&s->sql);
		dblog_buf_printf(&s->sql, "TRUNCATE %s", t->qname);
		*out = DBLOG_APPLIED;
		return psink_exec(s, s->sql.p, err, errlen);
	}
	s->ncols = dblog_sink_split(f->after, s->names, s->v, MAXCOLS);
	s->nbefore = dblog_sink_split(f->before, s->bnames, s->bv, MAXCOLS);
	s->nkeys = dblog_sink_split(f->key.p ? f->key : f->before, s->knames, s->kv, MAXCOLS);
	/* a SQLite rowid table: the rowid of the key is a column here */
	if (s->nkeys == 1 && dblog_json_streq(s->knames[0], "rowid", 5) && s->ncols &&
	    s->ncols < MAXCOLS && psink_col(t, s->knames[0], &s->s1)) {
		int has = 0;
		for (size_t i = 0; i < s->ncols && !has; i++)
			has = dblog_json_streq(s->names[i], "rowid", 5);
		if (!has) {
			s->names[s->ncols] = s->knames[0];
			s->v[s->ncols++] = s->kv[0];
		}
	}
	if (!dblog_sink_names_ok(s->names, s->ncols, &s->s1) ||
	    !dblog_sink_names_ok(s->knames, s->nkeys, &s->s1) ||
	    !dblog_sink_names_ok(s->bnames, s->nbefore, &s->s1)) {
		snprintf(err, errlen, "a column name is empty or holds a NUL character");
		return -1;
	}
	const char *nul = has_nul(s, t, s->names, s->v, s->ncols) ? "after" :
			  has_nul(s, t, s->knames, s->kv, s->nkeys) ? "key" :
			  has_nul(s, t, s->bnames, s->bv, s->nbefore) ? "before" : NULL;
	if (nul) {
		/* sent as a C string it would be cut there: refuse it instead */
		snprintf(err, errlen, "a value in \"%s\" holds a NUL character (\\u0000), which "
			 "PostgreSQL cannot store in a text value", nul);
		return -1;
	}
	if (refuse_not_utf8(s, f, err, errlen))
		return -1;
	if (!s->nkeys && f->op != DBLOG_OP_INSERT && f->op != DBLOG_OP_SNAPSHOT) {
		snprintf(err, errlen, "the event has no key (add \"key\" or a before-image)");
		return -1;
	}
	if (base->policy == DBLOG_LAST_WRITER_WINS && !base->dry_run && f->key.p) {
		int newer;
		if (lww_newer(s, f, name, &newer, err, errlen))
			return -1;
		if (newer) {
			ci->why = "the destination row was written later";
			*out = DBLOG_CONFLICT_KEPT;
			return 0;
		}
	}
	/* pipelined changes need none: a failure replays the batch carefully */
	if (base->dry_run || psink_piped(s))
		return apply_change(s, f, t, out, ci, err, errlen);
	/* a savepoint per change: a bad event has no effect, the rest goes on */
	if (psink_exec(s, "SAVEPOINT dblog_change", err, errlen))
		return -1;
	int rc = apply_change(s, f, t, out, ci, err, errlen);
	char e2[256];
	if (rc) {
		psink_exec(s, "ROLLBACK TO SAVEPOINT dblog_change", e2, sizeof e2);
		psink_exec(s, "RELEASE SAVEPOINT dblog_change", e2, sizeof e2);
		return -1;
	}
	return psink_exec(s, "RELEASE SAVEPOINT dblog_change", err, errlen);
}

/* Before a batch commits: every identity sequence of the tables it wrote
 * moves past the largest value of its column, so that the destination's
 * own inserts do not collide with the source's values (ascending
 * sequences only). */
static int
sequences_ahead(struct psink *s, char *err, size_t errlen)
{
	struct dblog_buf q = { 0 }, lit = { 0 };
	int rc = 0;
	for (const char *n = s->ident_batch.p; n && n < s->ident_batch.p + s->ident_batch.len && !rc;
	     n += strlen(n) + 1) {
		const struct ptable *t = psink_table_cached(s, n);
		for (int i = 0; t && i < t->ncols && !rc; i++) {
			const struct pcol *c = &t->cols[i];
			if (!c->seq)
				continue;
			dblog_buf_clear(&q);
			dblog_buf_clear(&lit);
			dblog_sql_literal_e(&lit, c->seq);
			/* planned only when the role may read and set the sequence */
			dblog_buf_printf(&q, "DO $dblog$ BEGIN IF pg_catalog.has_sequence_privilege(%s, "
					 "'SELECT') AND pg_catalog.has_sequence_privilege(%s, 'UPDATE') THEN "
					 "PERFORM pg_catalog.setval(%s, x.m) FROM (SELECT max(", lit.p, lit.p,
					 lit.p);
			dblog_sql_ident(&q, c->name);
			dblog_buf_printf(&q, ")::bigint AS m FROM %s) x, %s q, pg_catalog.pg_sequence p "
					 "WHERE p.seqrelid = %s::regclass AND p.seqincrement > 0 AND x.m > "
					 "CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END; "
					 "END IF; END $dblog$", t->qname, c->seq, lit.p);
			if (strstr(q.p + 10, "$dblog$") != q.p + q.len - 7)
				continue;   /* a name holding the quote's tag */
			rc = psink_exec(s, q.p, err, errlen);
		}
	}
	dblog_buf_clear(&s->ident_batch);
	dblog_buf_free(&q);
	dblog_buf_free(&lit);
	return rc;
}

static int
p_begin(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	s->cur = NULL;
	if (s->pipe && !b->careful && !s->in_pipe && !s->dead && psink_pipe_enter(s))
		s->in_pipe = 1;
	b->in_pipeline = s->in_pipe;
	s->stage.limit = 0;
	dblog_buf_clear(&s->ident_batch);
	return psink_exec(s, "BEGIN", e, l);
}

static int
p_commit(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	s->cur = NULL;
	if (sequences_ahead(s, e, l) || psink_exec(s, "COMMIT", e, l))
		return -1;
	if (s->in_pipe && psink_pipe_sync(s))
		return psink_pipe_failed(s, e, l);
	dblog_buf_clear(&s->plain_batch);
	return 0;
}
static int
p_sync(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	if (s->in_pipe && psink_pipe_sync(s))
		return psink_pipe_failed(s, e, l);
	return 0;
}

/* In pipeline mode there are no savepoints around source transactions:
 * taking one back rolls the batch back, and the caller applies it again
 * carefully (with savepoints) from its lines. */
static int
p_savepoint(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	return psink_piped(s) ? 0 : psink_exec(s, "SAVEPOINT dblog_tx", e, l);
}

static int
p_release(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	return psink_piped(s) ? 0 : psink_exec(s, "RELEASE SAVEPOINT dblog_tx", e, l);
}

static int
p_rollback_to(struct dblog_sink *b, char *e, size_t l)
{
	struct psink *s = (struct psink *)b;
	if (psink_piped(s)) {
		snprintf(s->failure, sizeof s->failure, "a transaction was taken back");
		return psink_pipe_failed(s, e, l);
	}
	return psink_exec(s, "ROLLBACK TO SAVEPOINT dblog_tx", e, l) ||
	       psink_exec(s, "RELEASE SAVEPOINT dblog_tx", e, l);
}

static int
p_rollback(struct dblog_sink *b)
{
	char e[256];
	return psink_exec((struct psink *)b, "ROLLBACK", e, sizeof e);
}

static void
p_reset(struct dblog_sink *base)
{
	struct psink *s = (struct psink *)base;
	psink_stage_drop(s);
	if (s->in_pipe) {
		psink_pipe_sync(s);
		psink_pipe_exit(s);
		s->in_pipe = 0;
	}
	base->in_pipeline = 0;
	base->noops = 0;
	s->dead = 0;
	s->queued = 0;
	base->batch_failed = 0;
	/* prepared statements made in the failed pipeline may be gone */
	for (int i = 0; i < NBUCKETS; i++)
		for (struct pstmt *p = s->buckets[i], *n; p; p = n) {
			n = p->next;
			free(p->key);
			free(p);
		}
	memset(s->buckets, 0, sizeof s->buckets);
	PGresult *r = PQexec(s->c, "DEALLOCATE ALL");
	PQclear(r);
	/* tables made in the rolled-back transaction are gone again */
	for (size_t i = 0; i < s->ntables; i++)
		table_free(&s->tables[i]);
	s->ntables = 0;
}

static void
p_close(struct dblog_sink *base)
{
	struct psink *s = (struct psink *)base;
	for (int i = 0; i < NBUCKETS; i++)
		for (struct pstmt *p = s->buckets[i], *n; p; p = n) {
			n = p->next;
			free(p->key);
			free(p);
		}
	for (size_t i = 0; i < s->ntables; i++)
		table_free(&s->tables[i]);
	free(s->tables);
	free(s->dest_row);
	struct dblog_buf *bufs[] = { &s->key, &s->sql, &s->s1, &s->vals, &s->plain_yes, &s->plain_no,
				     &s->plain_batch, &s->ident_batch };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	psink_stage_free(&s->stage);
	if (s->in_pipe) {
		psink_pipe_sync(s);
		psink_pipe_exit(s);
	}
	PQfinish(s->c);
	free(s);
}

/* The stream's lock: a session advisory lock keyed by the stream name; it
 * goes with the connection, also when the process is killed. */
static int
p_lock(struct dblog_sink *base, const char *stream, char *err, size_t errlen)
{
	struct psink *s = (struct psink *)base;
	const char *p[1] = { stream };
	PGresult *r = PQexecParams(s->c, "SELECT pg_try_advisory_lock(hashtextextended("
				   "'dblog-apply stream ' || $1, 0))", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		return psink_fail(s, r, err, errlen);
	int got = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return got ? 0 : 1;
}

static const struct dblog_sink_ops pg_ops = {
	.begin = p_begin, .commit = p_commit, .rollback = p_rollback,
	.savepoint = p_savepoint, .release = p_release, .rollback_to = p_rollback_to,
	.apply = p_apply, .schema = psink_schema, .load_pos = psink_load_pos, .save_pos = psink_save_pos,
	.park = psink_park, .reset = p_reset, .close = p_close, .lock = p_lock, .sync = p_sync,
};

static const char state_ddl[] =
	"CREATE SCHEMA IF NOT EXISTS dblog;"
	"CREATE TABLE IF NOT EXISTS dblog.applied(stream text PRIMARY KEY, position jsonb NOT NULL,"
	" updated timestamptz NOT NULL);"
	"CREATE TABLE IF NOT EXISTS dblog.lww(tbl text NOT NULL, key text NOT NULL,"
	" commit_time timestamptz, source text, PRIMARY KEY (tbl, key));"
	"CREATE TABLE IF NOT EXISTS dblog.conflicts(id bigserial PRIMARY KEY, time timestamptz NOT NULL,"
	" stream text NOT NULL, reason text NOT NULL, event jsonb NOT NULL, dest_row jsonb)";

struct dblog_sink *
dblog_sink_pg_open(const char *conninfo, enum dblog_conflict policy, FILE *dry_run, int *retry,
		   char *err, size_t errlen)
{
	struct psink *s = calloc(1, sizeof *s);
	if (!s)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	s->base.ops = &pg_ops;
	s->base.policy = policy;
	s->base.dry_run = dry_run;
	s->c = dblog_pg_connect(conninfo, 0, err, errlen, retry);
	if (!s->c) {
		free(s);
		return NULL;
	}
	/* source_wins needs no answer before the next change: pipeline mode
	 * (the caller turns it off with careful, for --dlq) */
	s->pipe = !dry_run && policy == DBLOG_SOURCE_WINS;
	s->base.pipelined = s->pipe;
	if (!dry_run) {
		PGresult *r = PQexec(s->c, state_ddl);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			psink_fail(s, r, err, errlen);
			PQfinish(s->c);
			free(s);
			return NULL;
		}
		PQclear(r);
	}
	return &s->base;
}
