/* sink_sqlite.c - the SQLite apply backend: prepared statements cached per
 * table, op and column set; values bound from the event's JSON spans;
 * conflict detection by comparing the destination row with the event. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_sqlite.h"
#include "sink.h"
#include "sink_sqlite.h"

#define NBUCKETS 1024
#define MAXCOLS 2000

struct cached {
	char *key;
	sqlite3_stmt *st;
	unsigned char *blob;    /* per parameter: decode '\\x' text into a blob */
	struct cached *next;
};

/* A destination table, found by the table name the apply gives (the
 * event's, after mapping): SQLite has no schemas, its table is the name's
 * last part. */
struct dtable {
	char *source;                  /* the name given, as events write it */
	char *name;                    /* the SQLite table */
	struct dblog_sqlite_table t;   /* ncols 0: missing */
	int warned;                    /* affinity_warn told about it */
	int claimed;                   /* _dblog_tables says the SQLite table
	                                  takes source's rows (in this
	                                  destination transaction) */
};

struct ssink {
	struct dblog_sink base;
	sqlite3 *db;
	struct cached *buckets[NBUCKETS];
	struct dtable *tables;
	size_t ntables;
	struct dblog_buf key, sql, s1, s2;
	/* the columns of the event being applied */
	struct dblog_span names[MAXCOLS], vals[MAXCOLS];
	size_t ncols;
	struct dblog_span knames[MAXCOLS], kvals[MAXCOLS];
	size_t nkeys;
	struct dblog_span bnames[MAXCOLS], bvals[MAXCOLS];
	size_t nbefore;
	char *dest_row;
	char *path;     /* the database file, for the lock file beside it */
	int lockfd;
};

/* ------------------------------------------------------------ helpers */

/* The cached statement for the key in s->key, or NULL. */
static struct cached *
find(struct ssink *s)
{
	unsigned h = dblog_sink_hash(s->key.p, s->key.len) % NBUCKETS;
	for (struct cached *c = s->buckets[h]; c; c = c->next)
		if (!strcmp(c->key, s->key.p)) {
			sqlite3_reset(c->st);
			return c;
		}
	return NULL;
}

/* Prepare sql and cache it under s->key; params are the column names
 * bound, in order (NULL entries: not a column). NULL with err on failure. */
static struct cached *
add(struct ssink *s, const char *sql, const struct dtable *t, const struct dblog_span *params,
    size_t nparams, char *err, size_t errlen);

/* The table for source (a table name as events write it), or NULL with
 * err when the name is malformed. */
static struct dtable *
dtable(struct ssink *s, const char *source, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i].source, source))
			return &s->tables[i];
	int has;
	if (dblog_table_split(source, strlen(source), &s->s1, &s->s2, &has)) {
		dblog_sink_bad_table(source, err, errlen);
		return NULL;
	}
	s->tables = dblog_xrealloc(s->tables, (s->ntables + 1) * sizeof *s->tables);
	struct dtable *t = &s->tables[s->ntables++];
	t->source = dblog_xstrdup(source);
	t->name = dblog_xstrndup(s->s2.p, s->s2.len);
	t->claimed = 0;
	t->warned = 0;
	dblog_sqlite_table_info(s->db, t->name, &t->t);
	return t;
}

/* Forget what is known of SQLite table name (every name given for it;
 * name may be one of theirs). */
static void
forget_table(struct ssink *s, const char *name)
{
	char *gone = dblog_xstrdup(name);
	for (size_t i = s->ntables; i-- > 0;)
		if (!strcmp(s->tables[i].name, gone)) {
			free(s->tables[i].source);
			free(s->tables[i].name);
			dblog_sqlite_table_free(&s->tables[i].t);
			s->tables[i] = s->tables[--s->ntables];
		}
	free(gone);
}

static const struct dblog_sqlite_col *
col_of(const struct dtable *t, const char *name, size_t n)
{
	for (size_t i = 0; i < t->t.ncols; i++)
		if (strlen(t->t.cols[i].name) == n && !memcmp(t->t.cols[i].name, name, n))
			return &t->t.cols[i];
	return NULL;
}

static struct cached *
add(struct ssink *s, const char *sql, const struct dtable *t, const struct dblog_span *params,
    size_t nparams, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return NULL;
	}
	struct cached *c = dblog_xmalloc(sizeof *c);
	c->key = dblog_xstrndup(s->key.p, s->key.len);
	c->st = st;
	c->blob = dblog_xmalloc(nparams + 1);
	for (size_t i = 0; i < nparams; i++) {
		const char *p;
		size_t n;
		c->blob[i] = 0;
		if (t && params[i].p && dblog_json_str(params[i], &s->s2, &p, &n)) {
			const struct dblog_sqlite_col *col = col_of(t, p, n);
			c->blob[i] = sqsink_col_bits(col);
		}
	}
	unsigned h = dblog_sink_hash(s->key.p, s->key.len) % NBUCKETS;
	c->next = s->buckets[h];
	s->buckets[h] = c;
	return c;
}

static int
hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Bind one JSON value. */
static void
bind(struct ssink *s, sqlite3_stmt *st, int i, struct dblog_span v, int blob)
{
	const char *p;
	size_t n;
	switch (dblog_json_type(v)) {
	case DBLOG_J_NONE:
	case DBLOG_J_NULL:
		sqlite3_bind_null(st, i);
		break;
	case DBLOG_J_TRUE:
	case DBLOG_J_FALSE:
		sqlite3_bind_int(st, i, v.p[0] == 't');
		break;
	case DBLOG_J_NUMBER: {
		char tmp[64], *e;
		if ((blob & 2) && v.n < sizeof tmp) {
			/* a float column: -0 keeps its sign, 5 is the real 5 */
			memcpy(tmp, v.p, v.n);
			tmp[v.n] = 0;
			sqlite3_bind_double(st, i, strtod(tmp, NULL));
			break;
		}
		if (v.n <= 18 && !memchr(v.p, '.', v.n) && !memchr(v.p, 'e', v.n) &&
		    !memchr(v.p, 'E', v.n)) {
			/* up to 18 digits always fits in 64 bits */
			long long x = 0;
			size_t j = v.p[0] == '-';
			for (; j < v.n; j++)
				x = x * 10 + (v.p[j] - '0');
			sqlite3_bind_int64(st, i, v.p[0] == '-' ? -x : x);
			break;
		}
		if (v.n < sizeof tmp) {
			memcpy(tmp, v.p, v.n);
			tmp[v.n] = 0;
			errno = 0;
			long long x = strtoll(tmp, &e, 10);
			if (!*e && !errno) {
				sqlite3_bind_int64(st, i, x);
				break;
			}
			if (strpbrk(tmp, ".eE")) {
				sqlite3_bind_double(st, i, strtod(tmp, NULL));
				break;
			}
		}
		/* an integer too big for 64 bits stays exact as text */
		sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_TRANSIENT);
		break;
	}
	case DBLOG_J_STRING:
		if ((blob & 2) && (v.n == 10 || v.n == 11) && (!memcmp(v.p, "\"Infinity\"", 10) ||
							     !memcmp(v.p, "\"-Infinity\"", 11))) {
			sqlite3_bind_double(st, i, v.p[1] == '-' ? -HUGE_VAL : HUGE_VAL);
			break;
		}
		blob &= 1;
		if (!memchr(v.p + 1, '\\', v.n - 2)) {
			/* the line outlives the step: no copy */
			p = v.p + 1;
			n = v.n - 2;
			if (!(blob && n >= 2 && p[0] == '\\' && p[1] == 'x')) {
				sqlite3_bind_text(st, i, p, (int)n, SQLITE_STATIC);
				break;
			}
		} else {
			dblog_json_str(v, &s->s1, &p, &n);
		}
		if (blob && n >= 2 && p[0] == '\\' && p[1] == 'x' && n % 2 == 0) {
			unsigned char *b = dblog_xmalloc(n / 2);
			size_t k = 0;
			for (size_t j = 2; j + 1 < n; j += 2) {
				int hi = hexval(p[j]), lo = hexval(p[j + 1]);
				if (hi < 0 || lo < 0)
					break;
				b[k++] = (unsigned char)(hi << 4 | lo);
			}
			if (k == (n - 2) / 2) {
				sqlite3_bind_blob(st, i, b, (int)k, free);
				break;
			}
			free(b);
		}
		sqlite3_bind_text(st, i, p, (int)n, SQLITE_TRANSIENT);
		break;
	case DBLOG_J_ARRAY:
		if (blob & 4) {
			/* an array column: PostgreSQL's text, which it reads back */
			dblog_buf_clear(&s->s1);
			dblog_sql_pg_array(&s->s1, v, (blob & 8) != 0, &s->s2);
			sqlite3_bind_text(st, i, s->s1.p, (int)s->s1.len, SQLITE_TRANSIENT);
			break;
		}
		sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_TRANSIENT);
		break;
	default:
		if (dblog_text_hex(v, &s->s1)) {
			/* text that is not UTF-8: its bytes, as TEXT */
			sqlite3_bind_text(st, i, s->s1.p, (int)s->s1.len, SQLITE_TRANSIENT);
			break;
		}
		sqlite3_bind_text(st, i, v.p, (int)v.n, SQLITE_TRANSIENT);
	}
}

/* Append a column name (a JSON string span) as a quoted identifier. */
static void
ident_span(struct ssink *s, struct dblog_buf *b, struct dblog_span name)
{
	dblog_sink_ident(b, name, &s->s2);
}

static int
span_is_pk(struct ssink *s, const struct dtable *t, struct dblog_span name)
{
	const char *p;
	size_t n;
	dblog_json_str(name, &s->s2, &p, &n);
	const struct dblog_sqlite_col *c = col_of(t, p, n);
	return c && c->pk;
}

static int
is_rowid_key(const struct ssink *s)
{
	return s->nkeys == 1 && dblog_json_streq(s->knames[0], "rowid", 5);
}

/* Bind values from parameter *i on, with the statement's blob flags. */
static void
bind_vals(struct ssink *s, const struct cached *c, int *i, const struct dblog_span *vals, size_t n)
{
	for (size_t j = 0; j < n; j++, (*i)++)
		bind(s, c->st, *i, vals[j], c->blob[*i - 1]);
}

/* A fixed statement, prepared once. */
static struct cached *
fixed(struct ssink *s, const char *key, const char *sql, char *err, size_t errlen)
{
	dblog_buf_clear(&s->key);
	dblog_buf_adds(&s->key, key);
	struct cached *c = find(s);
	return c ? c : add(s, sql, NULL, NULL, 0, err, errlen);
}

/* The parameter names of a statement: lists a, b, c in bind order. */
static struct dblog_span *
params(struct ssink *s, size_t *n, int rowid, const struct dblog_span *a, size_t na,
       const struct dblog_span *b, size_t nb, const struct dblog_span *c, size_t nc)
{
	static struct dblog_span v[3 * MAXCOLS + 1];
	size_t k = 0;
	(void)s;
	if (rowid)
		v[k++] = (struct dblog_span){ NULL, 0 };
	for (size_t i = 0; i < na; i++)
		v[k++] = a[i];
	for (size_t i = 0; i < nb; i++)
		v[k++] = b[i];
	for (size_t i = 0; i < nc; i++)
		v[k++] = c[i];
	*n = k;
	return v;
}

/* The cache key: kind, table and the column names. */
static void
mkkey(struct ssink *s, char kind, const char *table, const struct dblog_span *a, size_t na,
      const struct dblog_span *b, size_t nb)
{
	dblog_buf_clear(&s->key);
	dblog_buf_addc(&s->key, kind);
	dblog_buf_addu(&s->key, strlen(table));   /* a name may hold any byte */
	dblog_buf_addc(&s->key, ':');
	dblog_buf_adds(&s->key, table);
	for (size_t i = 0; i < na; i++) {
		dblog_buf_addc(&s->key, 1);
		dblog_buf_add(&s->key, a[i].p, a[i].n);
	}
	dblog_buf_addc(&s->key, 2);
	for (size_t i = 0; i < nb; i++) {
		dblog_buf_addc(&s->key, 1);
		dblog_buf_add(&s->key, b[i].p, b[i].n);
	}
}

/* " WHERE k1 = ? AND k2 = ?" over the key columns (rowid for rowid keys),
 * then " AND c IS ?" over extra columns. */
static void
where(struct ssink *s, struct dblog_buf *b, const struct dblog_span *extra, size_t nextra)
{
	dblog_buf_adds(b, " WHERE ");
	for (size_t i = 0; i < s->nkeys; i++) {
		if (i)
			dblog_buf_adds(b, " AND ");
		if (is_rowid_key(s)) {
			dblog_buf_adds(b, "rowid = ?");
			continue;
		}
		/* IS: a key of REPLICA IDENTITY FULL may hold NULLs */
		ident_span(s, b, s->knames[i]);
		dblog_buf_adds(b, " IS ?");
	}
	for (size_t i = 0; i < nextra; i++) {
		dblog_buf_adds(b, " AND ");
		ident_span(s, b, extra[i]);
		dblog_buf_adds(b, " IS ?");
	}
}

/* ------------------------------------------------------- statements */

/* A table without a primary key may hold equal rows, and a key that is the
 * whole old row (REPLICA IDENTITY FULL at the source) matches them all: an
 * update or delete changes one of them, as at the source, picked by rowid
 * (such a table has one). one_row_end closes the subquery. */
static int
one_row_begin(struct ssink *s, const struct dtable *t)
{
	if (t->t.npk || is_rowid_key(s))
		return 0;
	dblog_buf_adds(&s->sql, " WHERE rowid = (SELECT rowid FROM ");
	dblog_sql_ident(&s->sql, t->name);
	return 1;
}

static void
one_row_end(struct ssink *s, int one)
{
	if (one)
		dblog_buf_adds(&s->sql, " LIMIT 1)");
}


static int
run(struct ssink *s, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
	sqlite3_reset(st);
	return -1;
}

/* The SQL literal for a JSON value, for --dry-run. */
static void
literal(struct ssink *s, struct dblog_buf *b, struct dblog_span v)
{
	const char *p;
	size_t n;
	switch (dblog_json_type(v)) {
	case DBLOG_J_NONE:
	case DBLOG_J_NULL: dblog_buf_adds(b, "NULL"); break;
	case DBLOG_J_TRUE: dblog_buf_adds(b, "1"); break;
	case DBLOG_J_FALSE: dblog_buf_adds(b, "0"); break;
	case DBLOG_J_NUMBER: dblog_buf_add(b, v.p, v.n); break;
	case DBLOG_J_STRING:
		dblog_json_str(v, &s->s1, &p, &n);
		dblog_sql_string(b, p, n);
		break;
	default:
		if (dblog_text_hex(v, &s->s1)) {
			dblog_buf_adds(b, "CAST(X'");
			for (size_t j = 0; j < s->s1.len; j++)
				dblog_buf_printf(b, "%02x", (unsigned char)s->s1.p[j]);
			dblog_buf_adds(b, "' AS TEXT)");
			break;
		}
		dblog_sql_string(b, v.p, v.n);
	}
}

/* Print the statement in s->sql for --dry-run, its '?' placeholders (those
 * outside quotes) replaced by the values of the lists, in order. */
static int
dry(struct ssink *s, const struct dblog_span *a, size_t na, const struct dblog_span *b,
    size_t nb, const struct dblog_span *c, size_t nc)
{
	struct dblog_buf out = { 0 };
	size_t k = 0;
	char q = 0;
	for (const char *p = s->sql.p; *p; p++) {
		if (q) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '?') {
			struct dblog_span v = k < na ? a[k] : k < na + nb ? b[k - na] :
					      k < na + nb + nc ? c[k - na - nb] : (struct dblog_span){ 0 };
			literal(s, &out, v);
			k++;
			continue;
		}
		dblog_buf_addc(&out, *p);
	}
	fprintf(s->base.dry_run, "%s;\n", out.p);
	dblog_buf_free(&out);
	return 0;
}

/* INSERT of the after-image; upsert when `upsert`, else DO NOTHING. */
static int
do_insert(struct ssink *s, const struct dtable *t, int upsert, char *err, size_t errlen)
{
	int rowid = is_rowid_key(s);
	mkkey(s, upsert ? 'U' : 'I', t->name, s->names, s->ncols, NULL, 0);
	if (rowid)
		dblog_buf_addc(&s->key, 'r');
	struct cached *c = s->base.dry_run ? NULL : find(s);
	if (!c) {
		dblog_buf_clear(&s->sql);
		dblog_buf_adds(&s->sql, rowid ? (upsert ? "INSERT OR REPLACE INTO " : "INSERT OR IGNORE INTO ")
					      : "INSERT INTO ");
		dblog_sql_ident(&s->sql, t->name);
		dblog_buf_adds(&s->sql, "(");
		if (rowid)
			dblog_buf_adds(&s->sql, s->ncols ? "rowid, " : "rowid");
		for (size_t i = 0; i < s->ncols; i++) {
			if (i)
				dblog_buf_adds(&s->sql, ", ");
			ident_span(s, &s->sql, s->names[i]);
		}
		dblog_buf_adds(&s->sql, ") VALUES(");
		for (size_t i = 0; i < s->ncols + (size_t)rowid; i++)
			dblog_buf_adds(&s->sql, i ? ", ?" : "?");
		dblog_buf_adds(&s->sql, ")");
		if (!rowid) {
			int any = 0;
			for (size_t i = 0; i < s->ncols && upsert; i++) {
				if (span_is_pk(s, t, s->names[i]))
					continue;
				dblog_buf_adds(&s->sql, any ? ", " : " ON CONFLICT DO UPDATE SET ");
				ident_span(s, &s->sql, s->names[i]);
				dblog_buf_adds(&s->sql, " = excluded.");
				ident_span(s, &s->sql, s->names[i]);
				any = 1;
			}
			/* a row already as the event leaves it is not touched (a no-op) */
			for (size_t i = 0, w = 0; i < s->ncols && any; i++) {
				if (span_is_pk(s, t, s->names[i]))
					continue;
				dblog_buf_adds(&s->sql, w++ ? " AND " : " WHERE NOT (");
				ident_span(s, &s->sql, s->names[i]);
				dblog_buf_adds(&s->sql, " IS excluded.");
				ident_span(s, &s->sql, s->names[i]);
			}
			if (any)
				dblog_buf_addc(&s->sql, ')');
			else
				dblog_buf_adds(&s->sql, " ON CONFLICT DO NOTHING");
		}
		if (s->base.dry_run)
			return rowid ? dry(s, s->kvals, 1, s->vals, s->ncols, NULL, 0)
				     : dry(s, s->vals, s->ncols, NULL, 0, NULL, 0);
		size_t np;
		const struct dblog_span *pv = params(s, &np, rowid, s->names, s->ncols, NULL, 0, NULL, 0);
		if (!(c = add(s, s->sql.p, t, pv, np, err, errlen)))
			return -1;
	}
	int i = 1;
	if (rowid)
		bind(s, c->st, i++, s->kvals[0], 0);
	bind_vals(s, c, &i, s->vals, s->ncols);
	return run(s, c->st, err, errlen);
}

/* UPDATE SET after-columns WHERE key [AND before-columns IS ...]. */
static int
do_update(struct ssink *s, const struct dtable *t, int guarded, char *err, size_t errlen)
{
	size_t nb = guarded ? s->nbefore : 0;
	mkkey(s, guarded ? 'G' : 'P', t->name, s->names, s->ncols, s->bnames, nb);
	dblog_buf_addc(&s->key, 3);
	for (size_t i = 0; i < s->nkeys; i++)
		dblog_buf_add(&s->key, s->knames[i].p, s->knames[i].n);
	struct cached *c = s->base.dry_run ? NULL : find(s);
	if (!c) {
		dblog_buf_clear(&s->sql);
		dblog_buf_adds(&s->sql, "UPDATE ");
		dblog_sql_ident(&s->sql, t->name);
		dblog_buf_adds(&s->sql, " SET ");
		for (size_t i = 0; i < s->ncols; i++) {
			if (i)
				dblog_buf_adds(&s->sql, ", ");
			ident_span(s, &s->sql, s->names[i]);
			dblog_buf_adds(&s->sql, " = ?");
		}
		int one = one_row_begin(s, t);
		where(s, &s->sql, s->bnames, nb);
		if (!guarded) {
			/* a row already as the event leaves it is not touched (a no-op) */
			for (size_t i = 0; i < s->ncols; i++) {
				dblog_buf_adds(&s->sql, i ? " AND " : " AND NOT (");
				ident_span(s, &s->sql, s->names[i]);
				dblog_buf_adds(&s->sql, " IS ?");
			}
			dblog_buf_adds(&s->sql, s->ncols ? ")" : "");
		}
		one_row_end(s, one);
		if (s->base.dry_run)
			return dry(s, s->vals, s->ncols, s->kvals, s->nkeys, guarded ? s->bvals : s->vals,
				   guarded ? nb : s->ncols);
		size_t np;
		const struct dblog_span *pv = params(s, &np, 0, s->names, s->ncols, s->knames, s->nkeys,
						     guarded ? s->bnames : s->names,
						     guarded ? nb : s->ncols);
		if (!(c = add(s, s->sql.p, t, pv, np, err, errlen)))
			return -1;
	}
	int i = 1;
	bind_vals(s, c, &i, s->vals, s->ncols);
	bind_vals(s, c, &i, s->kvals, s->nkeys);
	if (guarded)
		bind_vals(s, c, &i, s->bvals, nb);
	else
		bind_vals(s, c, &i, s->vals, s->ncols);
	return run(s, c->st, err, errlen);
}

static int
do_delete(struct ssink *s, const struct dtable *t, int guarded, char *err, size_t errlen)
{
	size_t nb = guarded ? s->nbefore : 0;
	mkkey(s, guarded ? 'E' : 'D', t->name, s->knames, s->nkeys, s->bnames, nb);
	struct cached *c = s->base.dry_run ? NULL : find(s);
	if (!c) {
		dblog_buf_clear(&s->sql);
		dblog_buf_adds(&s->sql, "DELETE FROM ");
		dblog_sql_ident(&s->sql, t->name);
		int one = one_row_begin(s, t);
		where(s, &s->sql, s->bnames, nb);
		one_row_end(s, one);
		if (s->base.dry_run)
			return dry(s, s->kvals, s->nkeys, s->bvals, nb, NULL, 0);
		size_t np;
		const struct dblog_span *pv = params(s, &np, 0, s->knames, s->nkeys, s->bnames, nb, NULL, 0);
		if (!(c = add(s, s->sql.p, t, pv, np, err, errlen)))
			return -1;
	}
	int i = 1;
	bind_vals(s, c, &i, s->kvals, s->nkeys);
	bind_vals(s, c, &i, s->bvals, nb);
	return run(s, c->st, err, errlen);
}

/* Does a row with the key exist (exists) and does it equal the given
 * columns (all of names/vals)? 0 or -1. */
static int
probe(struct ssink *s, const struct dtable *t, const struct dblog_span *names,
      const struct dblog_span *vals, size_t n, int *exists, int *equal, char *err, size_t errlen)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t m = pass ? n : 0;
		mkkey(s, 'S', t->name, s->knames, s->nkeys, names, m);
		struct cached *c = find(s);
		if (!c) {
			dblog_buf_clear(&s->sql);
			dblog_buf_adds(&s->sql, "SELECT 1 FROM ");
			dblog_sql_ident(&s->sql, t->name);
			where(s, &s->sql, names, m);
			size_t np;
			const struct dblog_span *pv = params(s, &np, 0, s->knames, s->nkeys, names, m,
							     NULL, 0);
			if (!(c = add(s, s->sql.p, t, pv, np, err, errlen)))
				return -1;
		}
		int i = 1;
		bind_vals(s, c, &i, s->kvals, s->nkeys);
		bind_vals(s, c, &i, vals, m);
		int rc = sqlite3_step(c->st);
		sqlite3_reset(c->st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
			return -1;
		}
		*(pass ? equal : exists) = rc == SQLITE_ROW;
		if (!pass && !*exists) {
			*equal = 0;
			return 0;
		}
	}
	return 0;
}

/* The destination row as JSON, for conflict reports. */
static void
fetch_row(struct ssink *s, const struct dtable *t)
{
	free(s->dest_row);
	s->dest_row = NULL;
	struct dblog_buf q = { 0 };
	dblog_buf_adds(&q, "SELECT json_object(");
	for (size_t i = 0; i < t->t.ncols; i++) {
		if (i)
			dblog_buf_adds(&q, ", ");
		dblog_sql_string(&q, t->t.cols[i].name, strlen(t->t.cols[i].name));
		dblog_buf_adds(&q, ", ");
		dblog_sql_ident(&q, t->t.cols[i].name);
	}
	dblog_buf_adds(&q, ") FROM ");
	dblog_sql_ident(&q, t->name);
	struct dblog_buf w = { 0 };
	where(s, &w, NULL, 0);
	dblog_buf_add(&q, w.p, w.len);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, q.p, -1, &st, NULL) == SQLITE_OK) {
		for (size_t i = 0; i < s->nkeys; i++)
			bind(s, st, (int)i + 1, s->kvals[i], 0);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
			/* text that is not UTF-8 as {"text_hex":..}, so the row is JSON */
			struct dblog_buf row = { 0 };
			dblog_text_hex_object(&row, (const char *)sqlite3_column_text(st, 0),
					      (size_t)sqlite3_column_bytes(st, 0));
			dblog_buf_addc(&row, 0);
			s->dest_row = row.p;
		}
		sqlite3_finalize(st);
	}
	dblog_buf_free(&q);
	dblog_buf_free(&w);
}

/* ------------------------------------------------------- conflicts */

/* Resolve a conflict the guarded statement found. */
static int
conflict(struct ssink *s, const struct dtable *t, const char *why, enum dblog_outcome *out,
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

/* last_writer_wins: is the destination's last writer of this row newer? */
static int
lww_newer(struct ssink *s, const struct dblog_fields *f, const char *table, int *newer,
	  char *err, size_t errlen)
{
	struct cached *c = fixed(s, "Lsel", "SELECT commit_time, source, pos, seq FROM _dblog_lww "
				 "WHERE tbl = ?1 AND key = ?2", err, errlen);
	if (!c)
		return -1;
	sqlite3_stmt *st = c->st;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, f->key.p, (int)f->key.n, SQLITE_TRANSIENT);
	*newer = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *ct = (const char *)sqlite3_column_text(st, 0);
		const char *src = (const char *)sqlite3_column_text(st, 1);
		const char *ect = NULL, *esrc = NULL;
		size_t ectn = 0, esrcn = 0;
		dblog_json_str(f->commit_time, &s->s1, &ect, &ectn);
		struct dblog_span sn = dblog_json_member(f->source, "name", 4);
		struct dblog_buf tmp = { 0 };
		dblog_json_str(sn, &tmp, &esrc, &esrcn);
		int d = ect ? strncmp(ct ? ct : "", ect, ectn) : 1;
		if (!d && ct && strlen(ct) != ectn)
			d = strlen(ct) > ectn ? 1 : -1;
		if (!d) {
			size_t sl = src ? strlen(src) : 0;
			d = strncmp(src ? src : "", esrc ? esrc : "", sl < esrcn ? sl : esrcn);
			if (!d && sl != esrcn)
				d = sl > esrcn ? 1 : -1;
		}
		if (!d) {
			struct dblog_pos a, b;
			const char *ps = (const char *)sqlite3_column_text(st, 2);
			if (ps && !dblog_pos_parse(ps, strlen(ps), &a) && !dblog_pos_from_span(f->pos, &b))
				d = dblog_pos_cmp(&a, &b, NULL);
			if (!d)
				d = sqlite3_column_int64(st, 3) > (f->seq.p ? strtoll(f->seq.p, NULL, 10) : 0) ? 1 : -1;
		}
		*newer = d > 0;
		dblog_buf_free(&tmp);
	}
	sqlite3_reset(st);
	return 0;
}

static int
lww_record(struct ssink *s, const struct dblog_fields *f, const char *table, char *err, size_t errlen)
{
	struct cached *c = fixed(s, "Lput", "INSERT OR REPLACE INTO _dblog_lww(tbl, key, commit_time, "
				 "source, pos, seq) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", err, errlen);
	if (!c)
		return -1;
	sqlite3_stmt *st = c->st;
	const char *p;
	size_t n;
	char ps[32];
	struct dblog_pos pos = { 0, 0 };
	dblog_pos_from_span(f->pos, &pos);
	dblog_pos_format(&pos, ps, sizeof ps);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, f->key.p, (int)f->key.n, SQLITE_TRANSIENT);
	if (dblog_json_str(f->commit_time, &s->s1, &p, &n))
		sqlite3_bind_text(st, 3, p, (int)n, SQLITE_TRANSIENT);
	else
		sqlite3_bind_text(st, 3, "", 0, SQLITE_STATIC);
	if (dblog_json_str(dblog_json_member(f->source, "name", 4), &s->s1, &p, &n))
		sqlite3_bind_text(st, 4, p, (int)n, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, ps, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, f->seq.p ? strtoll(f->seq.p, NULL, 10) : 0);
	return run(s, st, err, errlen);
}

/* ---------------------------------------------------------- the ops */

static int
apply_upsert(struct ssink *s, const struct dtable *t, enum dblog_outcome *out,
	     struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	int guarded = dblog_sink_guarded(s->base.policy);
	if (do_insert(s, t, !guarded, err, errlen))
		return -1;
	if (s->base.dry_run || sqlite3_changes(s->db)) {
		*out = DBLOG_APPLIED;
		return 0;
	}
	int exists, equal;
	if (probe(s, t, s->names, s->vals, s->ncols, &exists, &equal, err, errlen))
		return -1;
	if (equal || !guarded) {
		*out = DBLOG_NOOP;
		return 0;
	}
	return conflict(s, t, "insert found an existing, different row", out, ci);
}

static int
apply_update(struct ssink *s, const struct dtable *t, enum dblog_outcome *out,
	     struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	int guarded = dblog_sink_guarded(s->base.policy);
	if (do_update(s, t, guarded, err, errlen))
		return -1;
	if (s->base.dry_run || sqlite3_changes(s->db)) {
		*out = DBLOG_APPLIED;
		return 0;
	}
	int exists, equal;
	if (probe(s, t, s->names, s->vals, s->ncols, &exists, &equal, err, errlen))
		return -1;
	if (equal) {
		*out = DBLOG_NOOP;
		return 0;
	}
	if (!guarded) {
		/* source wins: the row is missing, bring in the after-image */
		if (do_insert(s, t, 1, err, errlen))
			return -1;
		*out = DBLOG_APPLIED;
		return 0;
	}
	return conflict(s, t, exists ? "update found a different row" : "update found no row",
			out, ci);
}

static int
apply_delete(struct ssink *s, const struct dtable *t, enum dblog_outcome *out,
	     struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	int guarded = dblog_sink_guarded(s->base.policy);
	if (do_delete(s, t, guarded, err, errlen))
		return -1;
	if (s->base.dry_run || sqlite3_changes(s->db)) {
		*out = DBLOG_APPLIED;
		return 0;
	}
	int exists, equal;
	if (probe(s, t, NULL, NULL, 0, &exists, &equal, err, errlen))
		return -1;
	if (!exists) {
		*out = DBLOG_NOOP;
		return 0;
	}
	return conflict(s, t, "delete found a different row", out, ci);
}

/* Append s as one shell word in single quotes. */
static void
shell_word(struct dblog_buf *b, const char *s, size_t n)
{
	dblog_buf_addc(b, '\'');
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\'')
			dblog_buf_adds(b, "'\\''");
		else
			dblog_buf_addc(b, s[i]);
	dblog_buf_addc(b, '\'');
}

/* The refusal of a second source table for SQLite table t, which holds
 * the rows of had: both named, and the --map-table that keeps them apart
 * (FROM: the event's own table, which --map-table matches). */
static void
refuse_merge(struct ssink *s, const struct dtable *t, const char *had, const struct dblog_fields *f,
	     char *err, size_t errlen)
{
	struct dblog_buf ev = { 0 }, sch = { 0 }, nm = { 0 }, to = { 0 }, fix = { 0 };
	int has = 0;
	dblog_json_unescape(f->table, &ev);
	dblog_buf_add(&ev, "", 0);
	if (!dblog_table_split(ev.p, ev.len, &sch, &nm, &has) && has) {
		dblog_buf_add(&sch, "_", 1);
		dblog_buf_add(&sch, nm.p, nm.len);
		dblog_table_join(&to, NULL, 0, sch.p, sch.len);
	} else {
		dblog_buf_add(&nm, "_2", 2);
		dblog_table_join(&to, NULL, 0, nm.p, nm.len);
	}
	dblog_buf_add(&ev, "=", 1);
	dblog_buf_add(&ev, to.p, to.len);
	shell_word(&fix, ev.p, ev.len);
	snprintf(err, errlen, "the rows of %s would go into SQLite table \"%s\", which holds the "
		 "rows of %s (a SQLite destination has no schemas; two tables are never merged): "
		 "give this one a table of its own, e.g. --map-table %s", t->source, t->name, had,
		 fix.p);
	struct dblog_buf *bufs[] = { &ev, &sch, &nm, &to, &fix };
	for (size_t i = 0; i < 5; i++)
		dblog_buf_free(bufs[i]);
	(void)s;
}

/* SQLite table t takes the rows of one source table: the first name
 * given for it, recorded in _dblog_tables with the data (so it holds
 * across runs and streams). Another name for it would merge two tables
 * in one: refused. 0, or -1 with err. */
static int
claim(struct ssink *s, struct dtable *t, const struct dblog_fields *f, char *err, size_t errlen)
{
	if (t->claimed)
		return 0;
	struct cached *c = fixed(s, "Tsel", "SELECT source FROM _dblog_tables WHERE tbl = ?1", err, errlen);
	if (!c)
		return s->base.dry_run ? 0 : -1;   /* --dry-run: maybe no state tables */
	sqlite3_stmt *st = c->st;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *had = (const char *)sqlite3_column_text(st, 0);
		int same = had && !strcmp(had, t->source);
		if (!same)
			refuse_merge(s, t, had ? had : "?", f, err, errlen);
		sqlite3_reset(st);
		t->claimed = same;
		return same ? 0 : -1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	if (s->base.dry_run)
		return 0;
	c = fixed(s, "Tput", "INSERT INTO _dblog_tables(tbl, source, since) VALUES(?1, ?2, "
		  "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", err, errlen);
	if (!c)
		return -1;
	sqlite3_bind_text(c->st, 1, t->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->st, 2, t->source, -1, SQLITE_TRANSIENT);
	if (run(s, c->st, err, errlen))
		return -1;
	t->claimed = 1;
	return 0;
}

/* A rolled back transaction took its claims with it. */
static void
unclaim_all(struct ssink *s)
{
	for (size_t i = 0; i < s->ntables; i++)
		s->tables[i].claimed = 0;
}

/* --create-tables without a schema event: a table of the change's columns
 * (no declared types), keyed by its key columns. */
static int
create_from_change(struct ssink *s, const struct dblog_fields *f, const char *table, char *err,
		   size_t errlen)
{
	/* table: the SQLite table's name */
	struct dblog_span names[256], vals[256], kn[64], kv[64];
	size_t n = dblog_sink_split(f->after, names, vals, MAXCOLS), nk = dblog_sink_split(f->key, kn, kv, MAXCOLS);
	if (!n || n > 256 || nk > 64)
		return -1;
	struct dblog_buf q = { 0 };
	dblog_buf_adds(&q, "CREATE TABLE IF NOT EXISTS ");
	dblog_sql_ident(&q, table);
	dblog_buf_addc(&q, '(');
	size_t cols = 0;
	for (size_t i = 0; i < n; i++) {
		if (nk == 1 && dblog_json_streq(kn[0], "rowid", 5) && dblog_json_streq(names[i], "rowid", 5))
			continue;
		if (cols++)
			dblog_buf_adds(&q, ", ");
		ident_span(s, &q, names[i]);
	}
	if (nk && !(nk == 1 && dblog_json_streq(kn[0], "rowid", 5))) {
		dblog_buf_adds(&q, ", PRIMARY KEY(");
		for (size_t i = 0; i < nk; i++) {
			if (i)
				dblog_buf_adds(&q, ", ");
			ident_span(s, &q, kn[i]);
		}
		dblog_buf_addc(&q, ')');
	}
	dblog_buf_addc(&q, ')');
	forget_table(s, table);
	int rc = cols ? dblog_sqlite_exec(s->db, q.p, err, errlen) : -1;
	dblog_buf_free(&q);
	return rc;
}

static int
s_apply(struct dblog_sink *base, const struct dblog_fields *f, const char *table,
	enum dblog_outcome *out, struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	struct dtable *t = dtable(s, table, err, errlen);
	ci->why = NULL;
	ci->dest_row = NULL;
	if (!t)
		return -1;
	if (!t->t.ncols && !base->dry_run && base->create_tables && f->after.p) {
		/* forgets t: found again, made or not */
		create_from_change(s, f, t->name, err, errlen);
		if (!(t = dtable(s, table, err, errlen)))
			return -1;
	}
	if (!t->t.ncols && !base->dry_run) {
		snprintf(err, errlen, "no table \"%s\" in the destination (create it, map it with "
			 "--map-table, or use --create-tables)", t->name);
		forget_table(s, t->name);
		return -1;
	}
	if (claim(s, t, f, err, errlen))
		return -1;
	if (f->op == DBLOG_OP_TRUNCATE) {
		dblog_buf_clear(&s->sql);
		dblog_buf_adds(&s->sql, "DELETE FROM ");
		dblog_sql_ident(&s->sql, t->name);
		*out = DBLOG_APPLIED;
		if (base->dry_run) {
			fprintf(base->dry_run, "%s;\n", s->sql.p);
			return 0;
		}
		return dblog_sqlite_exec(s->db, s->sql.p, err, errlen);
	}
	s->ncols = dblog_sink_split(f->after, s->names, s->vals, MAXCOLS);
	s->nbefore = dblog_sink_split(f->before, s->bnames, s->bvals, MAXCOLS);
	struct dblog_span keyobj = f->key.p ? f->key : f->before.p ? f->before : f->after;
	s->nkeys = dblog_sink_split(keyobj, s->knames, s->kvals, MAXCOLS);
	if (!f->key.p && !is_rowid_key(s)) {
		/* no key object: the key columns of the destination table */
		size_t k = 0;
		for (size_t i = 0; i < s->nkeys; i++)
			if (span_is_pk(s, t, s->knames[i])) {
				s->knames[k] = s->knames[i];
				s->kvals[k++] = s->kvals[i];
			}
		s->nkeys = k;
	}
	if (!s->nkeys && f->op != DBLOG_OP_INSERT && f->op != DBLOG_OP_SNAPSHOT) {
		snprintf(err, errlen, "the event has no key (add \"key\" or a before-image)");
		return -1;
	}
	if (is_rowid_key(s) && f->op != DBLOG_OP_UPDATE) {
		/* rowid tables: the rowid comes from the key */
		size_t k = 0;
		for (size_t i = 0; i < s->ncols; i++)
			if (!dblog_json_streq(s->names[i], "rowid", 5)) {
				s->names[k] = s->names[i];
				s->vals[k++] = s->vals[i];
			}
		s->ncols = k;
	}
	if (!dblog_sink_names_ok(s->names, s->ncols, &s->s2) ||
	    !dblog_sink_names_ok(s->knames, s->nkeys, &s->s2) ||
	    !dblog_sink_names_ok(s->bnames, s->nbefore, &s->s2)) {
		snprintf(err, errlen, "a column name is empty or holds a NUL character");
		return -1;
	}
	if ((f->op == DBLOG_OP_INSERT || f->op == DBLOG_OP_SNAPSHOT || f->op == DBLOG_OP_UPDATE) &&
	    !s->ncols && !is_rowid_key(s)) {
		snprintf(err, errlen, "the event has no \"after\" columns");
		return -1;
	}
	if (base->policy == DBLOG_LAST_WRITER_WINS && !base->dry_run) {
		int newer;
		if (lww_newer(s, f, t->name, &newer, err, errlen))
			return -1;
		if (newer) {
			ci->why = "the destination row was written later";
			*out = DBLOG_CONFLICT_KEPT;
			return 0;
		}
	}
	int rc;
	switch (f->op) {
	case DBLOG_OP_INSERT:
	case DBLOG_OP_SNAPSHOT: rc = apply_upsert(s, t, out, ci, err, errlen); break;
	case DBLOG_OP_UPDATE: rc = apply_update(s, t, out, ci, err, errlen); break;
	default: rc = apply_delete(s, t, out, ci, err, errlen); break;
	}
	if (!rc && base->policy == DBLOG_LAST_WRITER_WINS && !base->dry_run && f->key.p)
		rc = lww_record(s, f, t->name, err, errlen);
	return rc;
}

/* ------------------------------------------------ schema and positions */

/* An existing table receiving a PostgreSQL source's columns: warn (once)
 * about each column whose affinity changes values that the declared type
 * of --create-tables would keep (a numeric's 13.50 stored as 13.5, -0 as
 * 0), with the fix. */
static void
affinity_warn(struct ssink *s, struct dtable *t, const struct dblog_fields *f)
{
	struct dblog_span v;
	const char *it = NULL, *p;
	size_t n;
	if (t->warned || !dblog_json_streq(dblog_json_member(f->source, "driver", 6), "postgres", 8))
		return;
	t->warned = 1;
	while (dblog_json_next_elem(f->columns, &it, &v)) {
		struct dblog_span name = dblog_json_member(v, "name", 4);
		if (!dblog_json_str(name, &s->s2, &p, &n))
			continue;
		const struct dblog_sqlite_col *c = col_of(t, p, n);
		if (!c || !dblog_json_str(dblog_json_member(v, "type", 4), &s->s1, &p, &n) || !n)
			continue;
		struct dblog_buf want = { 0 };
		sqsink_decl_type(&want, p, n, 1);
		char have = sqsink_affinity(c->type), need = sqsink_affinity(want.p);
		int numbers = (need == 'I' || need == 'N') && (have == 'I' || have == 'N');
		/* a type of the user's own: its values' kind is not known here */
		int own = need == 'B' && !strcasestr(want.p, "real") && !strcasestr(want.p, "floa") &&
			  !strcasestr(want.p, "doub");
		if (have != need && !numbers && !own && have != 'T' && have != 'B')
			dblog_warn("table \"%s\", column \"%s\" (%.*s at the source): its declared type "
				   "\"%s\" has %s affinity, through which SQLite changes values (13.50 "
				   "becomes 13.5, 001 becomes 1, -0 becomes 0); declare it \"%s\" to keep "
				   "them (dblog-apply(1), SQLite types)", t->name, c->name, (int)n, p,
				   c->type, have == 'I' ? "INTEGER" : have == 'R' ? "REAL" : "NUMERIC",
				   want.p);
		dblog_buf_free(&want);
	}
}

/* A column generated at the source (its expression is PostgreSQL's, and
 * the change stream does not carry its values) must not go into a plain
 * column, which would hold NULL in every row written later: 0, or -1 with
 * err naming the table, the column and the fix. (pragma table_info does
 * not list SQLite's own generated columns.) */
static int
generated_ok(struct ssink *s, const struct dtable *t, const struct dblog_fields *f, char *err,
	     size_t errlen)
{
	struct dblog_span v;
	const char *it = NULL, *p;
	size_t n;
	while (dblog_json_next_elem(f->columns, &it, &v)) {
		if (dblog_json_type(dblog_json_member(v, "generated", 9)) != DBLOG_J_STRING ||
		    !dblog_json_str(dblog_json_member(v, "name", 4), &s->s2, &p, &n) || !col_of(t, p, n))
			continue;
		snprintf(err, errlen, "column \"%.*s\" of %s is generated at the source but a plain "
			 "column here, which the change stream would leave NULL: drop it, or make it a "
			 "generated column (GENERATED ALWAYS AS (...) STORED) computing the same", (int)n, p,
			 t->name);
		return -1;
	}
	return 0;
}

static int
s_schema(struct dblog_sink *base, const struct dblog_fields *f, const char *table, int create,
	 char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	struct dtable *t = dtable(s, table, err, errlen);
	if (!t)
		return -1;
	if (t->t.ncols && generated_ok(s, t, f, err, errlen))
		return -1;
	if (t->t.ncols) {
		affinity_warn(s, t, f);
		return claim(s, t, f, err, errlen);
	}
	if (!create)
		return 0;
	struct dblog_buf *q = &s->sql, pk = { 0 };
	dblog_buf_clear(q);
	dblog_buf_adds(q, "CREATE TABLE IF NOT EXISTS ");
	dblog_sql_ident(q, t->name);
	dblog_buf_adds(q, "(");
	struct dblog_span v;
	const char *it = NULL, *p;
	size_t n, ncol = 0;
	/* only a PostgreSQL source's types are mapped */
	int from_pg = dblog_json_streq(dblog_json_member(f->source, "driver", 6), "postgres", 8);
	while (dblog_json_next_elem(f->columns, &it, &v)) {
		/* a column generated at the source is left out: its expression
		 * is PostgreSQL's, and the events do not carry its values */
		if (dblog_json_type(dblog_json_member(v, "hidden", 6)) == DBLOG_J_TRUE ||
		    dblog_json_type(dblog_json_member(v, "generated", 9)) == DBLOG_J_STRING)
			continue;
		struct dblog_span name = dblog_json_member(v, "name", 4);
		if (dblog_json_type(name) != DBLOG_J_STRING)
			continue;
		if (ncol++)
			dblog_buf_adds(q, ", ");
		ident_span(s, q, name);
		if (dblog_json_str(dblog_json_member(v, "type", 4), &s->s1, &p, &n) && n) {
			struct dblog_buf ty = { 0 };
			sqsink_decl_type(&ty, p, n, from_pg);
			/* the declared type as a quoted name keeps odd types harmless */
			dblog_buf_addc(q, ' ');
			dblog_sql_ident(q, ty.p);
			dblog_buf_free(&ty);
		}
		if (dblog_json_type(dblog_json_member(v, "nullable", 8)) == DBLOG_J_FALSE)
			dblog_buf_adds(q, " NOT NULL");
		if (dblog_json_type(dblog_json_member(v, "key", 3)) == DBLOG_J_TRUE) {
			if (pk.len)
				dblog_buf_adds(&pk, ", ");
			ident_span(s, &pk, name);
		}
	}
	/* a key that is the whole row (no primary key at the source) is
	 * no constraint: equal rows may repeat */
	if (pk.len && dblog_json_type(f->keyless) != DBLOG_J_TRUE)
		dblog_buf_printf(q, ", PRIMARY KEY(%s)", pk.p);
	dblog_buf_adds(q, ")");
	dblog_buf_free(&pk);
	if (!ncol) {
		snprintf(err, errlen, "schema event without columns");
		return -1;
	}
	forget_table(s, t->name);
	if (base->dry_run) {
		fprintf(base->dry_run, "%s;\n", q->p);
		return 0;
	}
	if (dblog_sqlite_exec(s->db, q->p, err, errlen) || !(t = dtable(s, table, err, errlen)))
		return -1;
	return claim(s, t, f, err, errlen);
}

static int
s_load_pos(struct dblog_sink *base, const char *stream, json_t **pos, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	sqlite3_stmt *st;
	*pos = NULL;
	err[0] = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT position FROM _dblog_applied WHERE stream = ?1", -1,
			       &st, NULL) != SQLITE_OK) {
		if (base->dry_run)
			return 0;
		snprintf(err, errlen, "%s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_error_t je;
		*pos = json_loads((const char *)sqlite3_column_text(st, 0), 0, &je);
		if (!*pos)
			snprintf(err, errlen, "the applied position of stream \"%s\" is damaged: %s",
				 stream, je.text);
	}
	sqlite3_finalize(st);
	return *pos || !err[0] ? 0 : -1;
}

static int
s_save_pos(struct dblog_sink *base, const char *stream, const json_t *pos, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	if (base->dry_run)
		return 0;
	struct cached *c = fixed(s, "Apos", "INSERT OR REPLACE INTO _dblog_applied(stream, position, "
				 "updated) VALUES(?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", err, errlen);
	if (!c)
		return -1;
	sqlite3_stmt *st = c->st;
	char *j = json_dumps(pos, JSON_COMPACT | JSON_PRESERVE_ORDER);
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, j, -1, free);
	return run(s, st, err, errlen);
}

static int
s_park(struct dblog_sink *base, const char *stream, const char *event, size_t n,
       const struct dblog_conflict_info *ci, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	struct cached *c = fixed(s, "Cput", "INSERT INTO _dblog_conflicts(time, stream, reason, event, "
				 "dest_row) VALUES(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?1, ?2, ?3, ?4)",
				 err, errlen);
	if (!c)
		return -1;
	sqlite3_stmt *st = c->st;
	sqlite3_bind_text(st, 1, stream, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, ci->why, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, event, (int)n, SQLITE_TRANSIENT);
	if (ci->dest_row)
		sqlite3_bind_text(st, 4, ci->dest_row, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 4);   /* cached statements keep old bindings */
	return run(s, st, err, errlen);
}

static int
simple(struct dblog_sink *base, const char *sql, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	if (base->dry_run) {
		fprintf(base->dry_run, "%s;\n", sql);
		return 0;
	}
	return dblog_sqlite_exec(s->db, sql, err, errlen);
}

static int s_begin(struct dblog_sink *b, char *e, size_t l) { return simple(b, "BEGIN IMMEDIATE", e, l); }
static int s_commit(struct dblog_sink *b, char *e, size_t l) { return simple(b, "COMMIT", e, l); }
static int s_savepoint(struct dblog_sink *b, char *e, size_t l) { return simple(b, "SAVEPOINT dblog_tx", e, l); }
static int s_release(struct dblog_sink *b, char *e, size_t l) { return simple(b, "RELEASE dblog_tx", e, l); }

static int
s_rollback_to(struct dblog_sink *b, char *e, size_t l)
{
	unclaim_all((struct ssink *)b);
	return simple(b, "ROLLBACK TO dblog_tx", e, l) || simple(b, "RELEASE dblog_tx", e, l);
}

static int
s_rollback(struct dblog_sink *b)
{
	char e[256];
	unclaim_all((struct ssink *)b);
	return simple(b, "ROLLBACK", e, sizeof e);
}

static void
s_close(struct dblog_sink *base)
{
	struct ssink *s = (struct ssink *)base;
	for (int i = 0; i < NBUCKETS; i++)
		for (struct cached *c = s->buckets[i], *n; c; c = n) {
			n = c->next;
			sqlite3_finalize(c->st);
			free(c->key);
			free(c->blob);
			free(c);
		}
	for (size_t i = 0; i < s->ntables; i++) {
		free(s->tables[i].source);
		free(s->tables[i].name);
		dblog_sqlite_table_free(&s->tables[i].t);
	}
	free(s->tables);
	free(s->dest_row);
	struct dblog_buf *bufs[] = { &s->key, &s->sql, &s->s1, &s->s2 };
	for (size_t i = 0; i < 4; i++)
		dblog_buf_free(bufs[i]);
	sqlite3_close(s->db);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->path);
	free(s);
}

static void
s_reset(struct dblog_sink *b)
{
	b->batch_failed = 0;
}

/* The stream's lock: a one-byte open-file-description lock in PATH-dblog.lock
 * at an offset hashed from the stream name (SQLite's own locks are on the
 * database file; these never meet them). It goes with the process. */
static int
s_lock(struct dblog_sink *base, const char *stream, char *err, size_t errlen)
{
	struct ssink *s = (struct ssink *)base;
	if (s->lockfd < 0) {
		struct dblog_buf p = { 0 };
		dblog_buf_printf(&p, "%s-dblog.lock", s->path);
		s->lockfd = open(p.p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (s->lockfd < 0) {
			snprintf(err, errlen, "cannot open the lock file %s: %s", p.p, strerror(errno));
			dblog_buf_free(&p);
			return -1;
		}
		dblog_buf_free(&p);
	}
	struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			   .l_start = dblog_sink_hash(stream, strlen(stream)) & 0x3fffffff, .l_len = 1 };
	if (fcntl(s->lockfd, F_OFD_SETLK, &l) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return 1;
	snprintf(err, errlen, "cannot lock %s-dblog.lock: %s", s->path, strerror(errno));
	return -1;
}

static const struct dblog_sink_ops sqlite_ops = {
	.begin = s_begin, .commit = s_commit, .rollback = s_rollback,
	.savepoint = s_savepoint, .release = s_release, .rollback_to = s_rollback_to,
	.apply = s_apply, .schema = s_schema, .load_pos = s_load_pos, .save_pos = s_save_pos,
	.park = s_park, .reset = s_reset, .close = s_close, .lock = s_lock,
};

static const char state_ddl[] =
	"CREATE TABLE IF NOT EXISTS _dblog_applied(stream TEXT PRIMARY KEY, position TEXT NOT NULL,"
	" updated TEXT NOT NULL);\n"
	"CREATE TABLE IF NOT EXISTS _dblog_lww(tbl TEXT NOT NULL, key TEXT NOT NULL,"
	" commit_time TEXT, source TEXT, pos TEXT, seq INTEGER, PRIMARY KEY(tbl, key)) WITHOUT ROWID;\n"
	"CREATE TABLE IF NOT EXISTS _dblog_conflicts(id INTEGER PRIMARY KEY, time TEXT NOT NULL,"
	" stream TEXT NOT NULL, reason TEXT NOT NULL, event TEXT NOT NULL, dest_row TEXT);\n"
	/* per SQLite table, the one source table whose rows it takes */
	"CREATE TABLE IF NOT EXISTS _dblog_tables(tbl TEXT PRIMARY KEY, source TEXT NOT NULL,"
	" since TEXT NOT NULL);\n";

struct dblog_sink *
dblog_sink_sqlite_open(const char *path, enum dblog_conflict policy, FILE *dry_run,
		       char *err, size_t errlen)
{
	struct ssink *s = calloc(1, sizeof *s);
	if (!s)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	s->base.ops = &sqlite_ops;
	s->base.policy = policy;
	s->base.dry_run = dry_run;
	s->lockfd = -1;
	s->path = dblog_xstrdup(path);
	/* --dry-run writes nothing: the database read-only, or an empty one */
	if (dblog_sqlite_open(dry_run && access(path, F_OK) ? ":memory:" : path, dry_run != NULL,
			      &s->db, err, errlen)) {
		free(s->path);
		free(s);
		return NULL;
	}
	/* a larger page cache keeps big batches from spilling to the journal */
	sqlite3_exec(s->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
	if (!dry_run && dblog_sqlite_exec(s->db, state_ddl, err, errlen)) {
		sqlite3_close(s->db);
		free(s->path);
		free(s);
		return NULL;
	}
	return &s->base;
}
