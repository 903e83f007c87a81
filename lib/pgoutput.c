/* pgoutput.c - decoding the pgoutput logical replication protocol (version
 * 1) into dblog events: Begin, Commit, Origin, Relation, Type, Insert,
 * Update, Delete, Truncate and Message. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_pg.h"
#include "pgoutput.h"

/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_US 946684800000000LL

/* --------------------------------------------------------- reading */

struct rd {
	const unsigned char *p, *end;
	int bad;
};

static uint64_t
rd_n(struct rd *r, int n)
{
	uint64_t v = 0;
	if (r->end - r->p < n) {
		r->bad = 1;
		r->p = r->end;
		return 0;
	}
	for (int i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	return v;
}

/* A NUL-terminated string (borrowed from the message). */
static const char *
rd_str(struct rd *r)
{
	const unsigned char *z = memchr(r->p, 0, (size_t)(r->end - r->p));
	if (!z) {
		r->bad = 1;
		r->p = r->end;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p = z + 1;
	return s;
}

/* --------------------------------------------------------- relations */

static struct dblog_pgrel *
rel_find(struct dblog_pgdec *d, uint32_t oid)
{
	for (size_t i = 0; i < d->nrels; i++)
		if (d->rels[i].oid == oid)
			return &d->rels[i];
	return NULL;
}

static void
rel_clear(struct dblog_pgrel *r)
{
	for (int i = 0; i < r->ncols; i++)
		free(r->cols[i].name);
	free(r->cols);
	free(r->table);
	free(r->columns);
	memset(r, 0, sizeof *r);
}

/* One column of a schema event's columns JSON: its type with modifiers
 * (format_type(type, typmod)), gen the generation expression of a
 * generated column or NULL. */
static void
column_json(struct dblog_buf *b, const char *name, const char *type, int key, int notnull,
	    const char *gen)
{
	dblog_buf_adds(b, b->len > 1 ? ",{\"name\":" : "{\"name\":");
	dblog_json_escape(b, name, strlen(name));
	dblog_buf_adds(b, ",\"type\":");
	dblog_json_escape(b, type, strlen(type));
	dblog_buf_printf(b, ",\"key\":%s,\"nullable\":%s", key ? "true" : "false", notnull ? "false" : "true");
	if (gen) {
		dblog_buf_adds(b, ",\"generated\":");
		dblog_json_escape(b, gen, strlen(gen));
	}
	dblog_buf_addc(b, '}');
}

/* The catalog row of column name in res, or -1. */
static int
catalog_row(PGresult *res, const char *name)
{
	for (int k = 0; res && k < PQntuples(res); k++)
		if (!strcmp(PQgetvalue(res, k, 0), name))
			return k;
	return -1;
}

/* The columns JSON of a schema event: the relation's columns, in the
 * table's order with its generated columns (which pgoutput does not send)
 * marked by their expression, nullability and types with modifiers from
 * the catalog (when it still has the type the relation message gave). */
static void
rel_columns(struct dblog_pgdec *d, struct dblog_pgrel *r)
{
	struct dblog_buf b = { 0 };
	PGresult *res = NULL;
	if (d->conn) {
		char o[16];
		snprintf(o, sizeof o, "%u", r->oid);
		const char *params[1] = { o };
		res = PQexecParams(d->conn, "SELECT a.attname, a.attnotnull, EXISTS (SELECT 1 FROM "
				   "pg_catalog.pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary "
				   "AND a.attnum = ANY (i.indkey)), a.atttypid, a.atttypmod, "
				   "pg_catalog.format_type(a.atttypid, a.atttypmod), a.attgenerated = 's', "
				   "pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) FROM pg_catalog.pg_attribute a "
				   "LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND "
				   "ad.adnum = a.attnum WHERE a.attrelid = $1::oid AND a.attnum > 0 AND "
				   "NOT a.attisdropped ORDER BY a.attnum",
				   1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 8) {
			PQclear(res);
			res = NULL;
		}
	}
	/* REPLICA IDENTITY FULL flags every column as the key: the key of its
	 * events is the primary key when the table has one (the old row is
	 * whole in "before"), else the whole row */
	int npk = 0;
	for (int k = 0; r->ident == 'f' && res && k < PQntuples(res); k++)
		npk += PQgetvalue(res, k, 2)[0] == 't';
	r->keyless = r->ident == 'f' && res && !npk;
	for (int i = 0; npk && i < r->ncols; i++) {
		int k = catalog_row(res, r->cols[i].name);
		r->cols[i].key = k >= 0 && PQgetvalue(res, k, 2)[0] == 't';
	}
	char *done = calloc((size_t)r->ncols + 1, 1);
	if (!done)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	dblog_buf_addc(&b, '[');
	for (int k = 0; res && k < PQntuples(res); k++) {
		const char *name = PQgetvalue(res, k, 0);
		int notnull = PQgetvalue(res, k, 1)[0] == 't';
		if (PQgetvalue(res, k, 6)[0] == 't') {
			column_json(&b, name, PQgetvalue(res, k, 5), 0, notnull, PQgetvalue(res, k, 7));
			continue;
		}
		int i = 0;
		while (i < r->ncols && (done[i] || strcmp(r->cols[i].name, name)))
			i++;
		if (i == r->ncols)
			continue;   /* added since the relation message */
		const struct dblog_pgcol *c = &r->cols[i];
		done[i] = 1;
		int same = strtoul(PQgetvalue(res, k, 3), NULL, 10) == c->type &&
			   strtol(PQgetvalue(res, k, 4), NULL, 10) == c->typmod;
		column_json(&b, c->name, same ? PQgetvalue(res, k, 5) : dblog_pgtype(d->types, c->type)->name,
			    c->key, notnull, NULL);
	}
	/* no catalog, or columns it no longer has */
	for (int i = 0; i < r->ncols; i++)
		if (!done[i])
			column_json(&b, r->cols[i].name, dblog_pgtype(d->types, r->cols[i].type)->name,
				    r->cols[i].key, 0, NULL);
	dblog_buf_addc(&b, ']');
	free(done);
	PQclear(res);
	free(r->columns);
	r->columns = b.p;
}

static int
on_relation(struct dblog_pgdec *d, struct rd *r)
{
	uint32_t oid = (uint32_t)rd_n(r, 4);
	const char *nsp = rd_str(r), *name = rd_str(r);
	char ident = (char)rd_n(r, 1);
	int n = (int)rd_n(r, 2);
	/* the columns are read through once before the relation they replace
	 * is cleared: a malformed message leaves it as it was */
	struct rd chk = *r;
	for (int i = 0; i < n && !chk.bad; i++) {
		rd_n(&chk, 1);
		rd_str(&chk);
		rd_n(&chk, 8);
	}
	if (r->bad || chk.bad)
		return -1;
	struct dblog_pgrel *rel = rel_find(d, oid);
	char *was = NULL;   /* the columns last sent, to skip unchanged shapes */
	if (!rel) {
		d->rels = dblog_xrealloc(d->rels, (d->nrels + 1) * sizeof *d->rels);
		rel = &d->rels[d->nrels++];
		memset(rel, 0, sizeof *rel);
	} else {
		if (rel->schema_sent && rel->columns)
			was = dblog_xstrdup(rel->columns);
		rel_clear(rel);
	}
	rel->oid = oid;
	rel->ident = ident;
	/* dblog-apply's own state, when this database is also a destination:
	 * a publication FOR ALL TABLES cannot leave it out */
	rel->ignored = !strcmp(nsp, "dblog");
	struct dblog_buf t = { 0 };
	dblog_table_join(&t, nsp, strlen(nsp), name, strlen(name));
	rel->table = t.p;
	rel->cols = calloc((size_t)n + 1, sizeof *rel->cols);
	rel->ncols = n;
	for (int i = 0; i < n; i++) {
		rel->cols[i].key = (int)rd_n(r, 1) & 1;
		rel->cols[i].name = dblog_xstrdup(rd_str(r));
		rel->cols[i].type = (uint32_t)rd_n(r, 4);
		rel->cols[i].typmod = (int32_t)rd_n(r, 4);
	}
	if (r->bad)
		return -1;
	if (rel->ignored)
		return 0;
	rel_columns(d, rel);
	rel->schema_sent = was && !strcmp(was, rel->columns);
	free(was);
	return 0;
}

/* ------------------------------------------------------------ events */

static void
head(struct dblog_pgdec *d, const char *op, struct dblog_buf *b)
{
	dblog_buf_clear(b);
	dblog_buf_adds(b, "{\"op\":\"");
	dblog_buf_adds(b, op);
	dblog_buf_addc(b, '"');
}

static void
common(struct dblog_pgdec *d, struct dblog_buf *b, int with_seq)
{
	dblog_buf_adds(b, ",\"source\":");
	dblog_buf_add(b, d->src.p, d->src.len);
	dblog_buf_adds(b, ",\"tx\":");
	dblog_buf_addu(b, d->xid);
	dblog_buf_adds(b, ",\"pos\":\"");
	dblog_buf_adds(b, d->lsn);
	if (with_seq) {
		char id[37];
		dblog_event_id(d->name, d->lsn, d->seq, id);
		dblog_buf_adds(b, "\",\"seq\":");
		dblog_buf_addu(b, (uint64_t)d->seq);
		dblog_buf_adds(b, ",\"commit_time\":\"");
		dblog_buf_adds(b, d->time);
		dblog_buf_adds(b, "\",\"id\":\"");
		dblog_buf_add(b, id, 36);
		dblog_buf_addc(b, '"');
	} else {
		dblog_buf_adds(b, "\",\"commit_time\":\"");
		dblog_buf_adds(b, d->time);
		dblog_buf_addc(b, '"');
	}
	if (d->origin) {
		dblog_buf_adds(b, ",\"origin\":");
		dblog_json_escape(b, d->origin, strlen(d->origin));
	}
}

static int flush_begin(struct dblog_pgdec *d);

/* Is this change one the checkpoint already covers? */
static int
covered(struct dblog_pgdec *d)
{
	return d->skip_lsn && d->tx_lsn == d->skip_lsn && d->skip_has_seq && d->seq <= d->skip_seq;
}

static int
emit(struct dblog_pgdec *d, struct dblog_buf *b)
{
	return d->emit(d->ctx, b->p, b->len);
}

static int
send_schema(struct dblog_pgdec *d, struct dblog_pgrel *rel)
{
	if (rel->schema_sent)
		return 0;
	rel->schema_sent = 1;
	struct dblog_buf *b = &d->line;
	head(d, "schema", b);
	dblog_buf_adds(b, ",\"table\":");
	dblog_json_escape(b, rel->table, strlen(rel->table));
	common(d, b, 0);
	dblog_buf_printf(b, ",\"columns\":%s%s}", rel->columns, rel->keyless ? ",\"keyless\":true" : "");
	return emit(d, b);
}

/* Decode a TupleData into an object of the columns (keys_only: only the
 * key columns, as in a 'K' tuple); key columns also go to *key when given,
 * unchanged TOAST columns to *unchanged. */
static int
tuple(struct dblog_pgdec *d, struct rd *r, const struct dblog_pgrel *rel, int keys_only,
      struct dblog_buf *out, struct dblog_buf *key, struct dblog_buf *unchanged)
{
	int n = (int)rd_n(r, 2);
	if (r->bad || n > rel->ncols)
		return -1;
	int first = 1, kfirst = 1;
	dblog_buf_addc(out, '{');
	if (key)
		dblog_buf_addc(key, '{');
	for (int i = 0; i < n; i++) {
		const struct dblog_pgcol *c = &rel->cols[i];
		char kind = (char)rd_n(r, 1);
		const char *val = NULL;
		size_t len = 0;
		if (kind == 't') {
			len = (size_t)rd_n(r, 4);
			if (r->bad || (size_t)(r->end - r->p) < len)
				return -1;
			val = (const char *)r->p;
			r->p += len;
		} else if (kind == 'u') {
			if (unchanged) {
				dblog_buf_addc(unchanged, unchanged->len ? ',' : '[');
				dblog_json_escape(unchanged, c->name, strlen(c->name));
			}
			continue;
		} else if (kind != 'n') {
			return -1;
		}
		if (keys_only && !c->key)
			continue;
		size_t start = out->len + (first ? 0 : 1);
		if (!first)
			dblog_buf_addc(out, ',');
		first = 0;
		dblog_json_escape(out, c->name, strlen(c->name));
		dblog_buf_addc(out, ':');
		if (val)
			dblog_pg_value(d->types, c->type, val, len, out);
		else
			dblog_buf_adds(out, "null");
		if (key && c->key) {
			if (!kfirst)
				dblog_buf_addc(key, ',');
			kfirst = 0;
			dblog_buf_add(key, out->p + start, out->len - start);
		}
	}
	dblog_buf_addc(out, '}');
	if (key)
		dblog_buf_addc(key, '}');
	return r->bad ? -1 : 0;
}

static int
on_change(struct dblog_pgdec *d, struct rd *r, char kind)
{
	uint32_t oid = (uint32_t)rd_n(r, 4);
	struct dblog_pgrel *rel = rel_find(d, oid);
	if (!rel || r->bad || !d->in_tx)   /* changes come between Begin and Commit */
		return -1;
	struct dblog_buf *k = &d->k, *bef = &d->bef, *aft = &d->aft, *unch = &d->unch;
	dblog_buf_clear(k);
	dblog_buf_clear(bef);
	dblog_buf_clear(aft);
	dblog_buf_clear(unch);
	char tag = (char)rd_n(r, 1);
	int has_old = 0;
	if (kind != 'I' && (tag == 'K' || tag == 'O')) {
		has_old = 1;
		if (tuple(d, r, rel, tag == 'K', bef, k, NULL))
			return -1;
		if (kind == 'U')
			tag = (char)rd_n(r, 1);
	}
	if (kind != 'D' && (tag != 'N' || tuple(d, r, rel, 0, aft, has_old ? NULL : k, unch)))
		return -1;
	if (kind == 'D' && !has_old)
		return -1;
	if (covered(d)) {
		d->seq++;
		return 0;
	}
	if (send_schema(d, rel))
		return -1;
	struct dblog_buf *b = &d->line;
	head(d, kind == 'I' ? "insert" : kind == 'U' ? "update" : "delete", b);
	dblog_buf_adds(b, ",\"table\":");
	dblog_json_escape(b, rel->table, strlen(rel->table));
	common(d, b, 1);
	dblog_buf_adds(b, ",\"key\":");
	dblog_buf_add(b, k->p, k->len);
	if (has_old) {
		dblog_buf_adds(b, ",\"before\":");
		dblog_buf_add(b, bef->p, bef->len);
	}
	if (kind != 'D') {
		dblog_buf_adds(b, ",\"after\":");
		dblog_buf_add(b, aft->p, aft->len);
	}
	if (unch->len) {
		dblog_buf_adds(b, ",\"unchanged\":");
		dblog_buf_add(b, unch->p, unch->len);
		dblog_buf_addc(b, ']');
	}
	dblog_buf_addc(b, '}');
	d->seq++;
	return emit(d, b);
}

static int
on_truncate(struct dblog_pgdec *d, struct rd *r)
{
	int n = (int)rd_n(r, 4);
	rd_n(r, 1);  /* options: cascade, restart identity */
	if (!d->in_tx)
		return -1;
	for (int i = 0; i < n && !r->bad; i++) {
		struct dblog_pgrel *rel = rel_find(d, (uint32_t)rd_n(r, 4));
		if (!rel)
			return -1;
		if (rel->ignored)
			continue;
		if (flush_begin(d))
			return -1;
		if (covered(d)) {
			d->seq++;
			continue;
		}
		if (send_schema(d, rel))
			return -1;
		struct dblog_buf *b = &d->line;
		head(d, "truncate", b);
		dblog_buf_adds(b, ",\"table\":");
		dblog_json_escape(b, rel->table, strlen(rel->table));
		common(d, b, 1);
		dblog_buf_addc(b, '}');
		d->seq++;
		if (emit(d, b))
			return -1;
	}
	return r->bad ? -1 : 0;
}

/* PostgreSQL's range of timestamps (4714-11-24 BC to 294276 AD), from its
 * epoch: a commit time outside it is a malformed message (and would
 * overflow the move to the Unix epoch). */
#define PG_TS_MIN (-211813488000000000LL)
#define PG_TS_END 9223371331200000000LL

static int
set_time(struct dblog_pgdec *d, int64_t pg_us)
{
	if (pg_us < PG_TS_MIN || pg_us >= PG_TS_END - PG_EPOCH_US)
		return -1;
	dblog_time_format(pg_us + PG_EPOCH_US, d->time, sizeof d->time);
	return 0;
}

static int
on_begin(struct dblog_pgdec *d, struct rd *r)
{
	d->tx_lsn = rd_n(r, 8);
	int64_t ts = (int64_t)rd_n(r, 8);
	d->xid = (uint32_t)rd_n(r, 4);
	if (r->bad || set_time(d, ts))
		return -1;
	dblog_lsn_format(d->tx_lsn, d->lsn, sizeof d->lsn);
	d->in_tx = 1;
	d->seq = 0;
	free(d->origin);
	d->origin = NULL;
	/* transactions the checkpoint covers whole are not sent again */
	d->skip_tx = d->skip_lsn && (d->tx_lsn < d->skip_lsn ||
				     (d->tx_lsn == d->skip_lsn && !d->skip_has_seq));
	if (d->skip_tx)
		return 0;
	if (d->stop_before && d->tx_lsn > d->stop_before) {
		d->reached_end = 1;
		return 0;
	}
	/* written with the first message that is not Origin, so that begin
	 * carries the origin too */
	d->begin_pending = 1;
	return 0;
}

static int
flush_begin(struct dblog_pgdec *d)
{
	if (!d->begin_pending)
		return 0;
	d->begin_pending = 0;
	struct dblog_buf *b = &d->line;
	head(d, "begin", b);
	common(d, b, 0);
	dblog_buf_addc(b, '}');
	return emit(d, b);
}

static int
on_commit(struct dblog_pgdec *d, struct rd *r)
{
	rd_n(r, 1);                 /* flags */
	uint64_t lsn = rd_n(r, 8);  /* commit LSN */
	d->tx_end = rd_n(r, 8);     /* end of the commit record */
	rd_n(r, 8);                 /* commit time */
	if (r->bad || lsn != d->tx_lsn)
		return -1;
	d->in_tx = 0;
	d->last_commit = lsn;
	if (d->skip_tx) {
		d->skip_tx = 0;
		return 0;
	}
	if (d->begin_pending) {
		/* no change of a published table but dblog's own: no events,
		 * but the position moves on */
		d->begin_pending = 0;
		return d->on_commit ? d->on_commit(d->ctx, lsn) : 0;
	}
	struct dblog_buf *b = &d->line;
	head(d, "commit", b);
	common(d, b, 0);
	dblog_buf_printf(b, ",\"count\":%lld}", (long long)d->seq);
	d->commits++;
	if (emit(d, b))
		return -1;
	return d->on_commit ? d->on_commit(d->ctx, lsn) : 0;
}

int
dblog_pgdec_message(struct dblog_pgdec *d, const char *msg, size_t n)
{
	struct rd r = { (const unsigned char *)msg + 1, (const unsigned char *)msg + n, 0 };
	if (!n)
		return -1;
	if (d->reached_end && msg[0] != 'C')
		return 0;
	int in_skipped = d->in_tx && (d->skip_tx || d->reached_end);
	switch (msg[0]) {
	case 'B': return on_begin(d, &r);
	case 'C':
		if (d->reached_end) {
			d->in_tx = 0;
			return 0;
		}
		return on_commit(d, &r);
	case 'R': return on_relation(d, &r);
	case 'Y': return 0;   /* types are resolved through the catalog */
	case 'O':
		rd_n(&r, 8);
		free(d->origin);
		d->origin = dblog_xstrdup(rd_str(&r));
		return r.bad ? -1 : 0;
	case 'M': return 0;   /* logical decoding messages are not changes */
	case 'I':
	case 'U':
	case 'D': {
		if (in_skipped)
			return 0;
		/* begin goes out with the first change that is sent */
		struct rd peek = r;
		struct dblog_pgrel *rel = rel_find(d, (uint32_t)rd_n(&peek, 4));
		if (rel && rel->ignored)
			return 0;
		if (flush_begin(d))
			return -1;
		return on_change(d, &r, msg[0]);
	}
	case 'T':
		if (in_skipped)
			return 0;
		return on_truncate(d, &r);
	default:
		return -1;
	}
}

void
dblog_pgdec_init(struct dblog_pgdec *d, const char *name, PGconn *conn)
{
	memset(d, 0, sizeof *d);
	d->name = dblog_xstrdup(name);
	d->conn = conn;
	d->types = dblog_pgtypes_new(conn);
	dblog_pgdec_set_identity(d, NULL);
}

void
dblog_pgdec_set_identity(struct dblog_pgdec *d, const char *identity)
{
	dblog_buf_clear(&d->src);
	dblog_buf_adds(&d->src, "{\"driver\":\"postgres\",\"name\":");
	dblog_json_escape(&d->src, d->name, strlen(d->name));
	if (identity) {
		dblog_buf_adds(&d->src, ",\"identity\":");
		dblog_json_escape(&d->src, identity, strlen(identity));
	}
	dblog_buf_addc(&d->src, '}');
}

void
dblog_pgdec_free(struct dblog_pgdec *d)
{
	for (size_t i = 0; i < d->nrels; i++)
		rel_clear(&d->rels[i]);
	free(d->rels);
	dblog_pgtypes_free(d->types);
	struct dblog_buf *bufs[] = { &d->line, &d->src, &d->k, &d->bef, &d->aft, &d->unch };
	for (size_t i = 0; i < 6; i++)
		dblog_buf_free(bufs[i]);
	free(d->origin);
	free(d->name);
}
