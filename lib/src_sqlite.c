/* src_sqlite.c - the SQLite source: reading the changelog of
 * src_sqlite_log.c (cdc), or the tables (snapshot, incremental), as dblog
 * events. */
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

/* ------------------------------------------------------------ reading */

struct shape {
	char *table;       /* SQLite table name */
	char *columns;     /* the schema event's "columns" JSON */
	int sent;
};

struct dblog_sqlite_src {
	sqlite3 *db;
	char *name;
	FILE *out;
	int unbuffered;
	struct dblog_buf line, src, tmp;
	struct shape *shapes;
	size_t nshapes;
	int schema_version;
	int checked_version;         /* schema version sqsrc_check_tables saw */
	int warned_unchecked;
	sqlite3_stmt *rows, *next_marker, *max_before, *time_at;
	struct crow *chunk;          /* rows of the current chunk */
	size_t nrows, caprows;
	struct dblog_buf arena;      /* their text */
	int64_t skip_pos, skip_seq;   /* resume inside a transaction */
	volatile sig_atomic_t *stop;  /* end the read after this transaction */
	uint64_t changes;
};

struct dblog_sqlite_src *
dblog_sqlite_src_new(sqlite3 *db, const char *name, FILE *out, int unbuffered)
{
	struct dblog_sqlite_src *s = calloc(1, sizeof *s);
	if (!s)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	s->db = db;
	s->name = dblog_xstrdup(name);
	s->out = out;
	s->unbuffered = unbuffered;
	s->skip_pos = -1;
	s->checked_version = -1;
	dblog_buf_adds(&s->src, "{\"driver\":\"sqlite\",\"name\":");
	dblog_json_escape(&s->src, name, strlen(name));
	dblog_buf_addc(&s->src, '}');
	return s;
}

void
dblog_sqlite_src_free(struct dblog_sqlite_src *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->rows);
	sqlite3_finalize(s->next_marker);
	sqlite3_finalize(s->max_before);
	sqlite3_finalize(s->time_at);
	for (size_t i = 0; i < s->nshapes; i++) {
		free(s->shapes[i].table);
		free(s->shapes[i].columns);
	}
	free(s->shapes);
	free(s->chunk);
	dblog_buf_free(&s->arena);
	dblog_buf_free(&s->line);
	dblog_buf_free(&s->src);
	dblog_buf_free(&s->tmp);
	free(s->name);
	free(s);
}

static int64_t
step_int(sqlite3_stmt *st, int64_t dflt)
{
	int64_t v = dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

void
dblog_sqlite_src_stop_flag(struct dblog_sqlite_src *s, volatile sig_atomic_t *stop)
{
	s->stop = stop;
}

int64_t
dblog_sqlite_src_tx_start(struct dblog_sqlite_src *s, int64_t pos)
{
	sqlite3_stmt *st;
	int64_t m = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT max(seq) FROM _dblog_changes WHERE op = 'begin' "
			       "AND seq <= ?1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, pos);
	m = step_int(st, -1);
	sqlite3_finalize(st);
	return m;
}

void
dblog_sqlite_src_resume_inside(struct dblog_sqlite_src *s, int64_t pos, int64_t seq)
{
	s->skip_pos = pos;
	s->skip_seq = seq;
}

static int
put(struct dblog_sqlite_src *s)
{
	if (dblog_write_line(s->out, s->line.p, s->line.len))
		return -1;
	if (s->unbuffered && fflush(s->out))
		return -1;
	return 0;
}

/* The columns JSON of a table's schema event. */
static char *
columns_json(sqlite3 *db, const char *table)
{
	struct dblog_sqlite_table t;
	struct dblog_buf b = { 0 };
	dblog_sqlite_table_info(db, table, &t);
	dblog_buf_addc(&b, '[');
	for (size_t i = 0; i < t.ncols; i++) {
		const struct dblog_sqlite_col *c = &t.cols[i];
		dblog_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
		struct dblog_buf nm = { 0 };
		dblog_name_utf8(&nm, c->name, strlen(c->name));
		dblog_json_escape(&b, nm.p, nm.len);
		dblog_buf_free(&nm);
		dblog_buf_adds(&b, ",\"type\":");
		dblog_json_escape(&b, c->type, strlen(c->type));
		int rowid_alias = c->pk && t.npk == 1 && !strcasecmp(c->type, "INTEGER");
		dblog_buf_printf(&b, ",\"key\":%s,\"nullable\":%s}", c->pk ? "true" : "false",
				 c->notnull || rowid_alias ? "false" : "true");
	}
	if (!t.npk && t.ncols)
		dblog_buf_adds(&b, ",{\"name\":\"rowid\",\"type\":\"INTEGER\",\"key\":true,"
			       "\"nullable\":false,\"hidden\":true}");
	dblog_buf_addc(&b, ']');
	dblog_sqlite_table_free(&t);
	return b.p;
}

static struct shape *
shape_of(struct dblog_sqlite_src *s, const char *table)
{
	for (size_t i = 0; i < s->nshapes; i++)
		if (!strcmp(s->shapes[i].table, table))
			return &s->shapes[i];
	s->shapes = dblog_xrealloc(s->shapes, (s->nshapes + 1) * sizeof *s->shapes);
	struct shape *sh = &s->shapes[s->nshapes++];
	sh->table = dblog_xstrdup(table);
	sh->columns = columns_json(s->db, table);
	sh->sent = 0;
	return sh;
}

static int
schema_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

/* Re-read table shapes when the schema changed; changed ones are sent again. */
static void
check_schema(struct dblog_sqlite_src *s)
{
	int v = schema_version(s->db);
	if (v == s->schema_version)
		return;
	s->schema_version = v;
	for (size_t i = 0; i < s->nshapes; i++) {
		char *c = columns_json(s->db, s->shapes[i].table);
		if (strcmp(c, s->shapes[i].columns)) {
			free(s->shapes[i].columns);
			s->shapes[i].columns = c;
			s->shapes[i].sent = 0;
		} else {
			free(c);
		}
	}
}

/* Before reading the changelog, whenever the schema changed: stop when a
 * table's triggers no longer match it (see sqsrc_check_tables). */
static int
check_tables(struct dblog_sqlite_src *s, char *err, size_t errlen)
{
	int v = schema_version(s->db);
	if (v == s->checked_version)
		return 0;
	int r = sqsrc_check_tables(s->db, err, errlen);
	if (r < 0)
		return -1;
	if (r > 0 && !s->warned_unchecked) {
		dblog_warn("the triggers were made by an older dblog-capture --setup: run it again, so "
			   "that capture notices when a table's columns change");
		s->warned_unchecked = 1;
	}
	s->checked_version = v;
	return 0;
}

static void
add_table(struct dblog_buf *b, const char *table)
{
	dblog_buf_adds(b, ",\"table\":");
	dblog_buf_reserve(b, strlen(table) + 8);
	struct dblog_buf t = { 0 }, esc = { 0 };
	dblog_name_utf8(&esc, table, strlen(table));   /* not UTF-8: \xNN */
	table = esc.p;
	dblog_table_join(&t, "main", 4, table, strlen(table));
	dblog_json_escape(b, t.p, t.len);
	dblog_buf_free(&t);
	dblog_buf_free(&esc);
}

static int
send_schema(struct dblog_sqlite_src *s, const char *table, int64_t pos)
{
	struct shape *sh = shape_of(s, table);
	if (sh->sent)
		return 0;
	sh->sent = 1;
	if (!strcmp(sh->columns, "[]"))
		return 0;   /* the table is gone (renamed or dropped): no shape to tell */
	dblog_buf_clear(&s->line);
	dblog_buf_adds(&s->line, "{\"op\":\"schema\"");
	add_table(&s->line, table);
	dblog_buf_adds(&s->line, ",\"source\":");
	dblog_buf_add(&s->line, s->src.p, s->src.len);
	dblog_buf_printf(&s->line, ",\"pos\":%lld,\"columns\":%s}", (long long)pos, sh->columns);
	return put(s);
}

/* "2026-11-22T10:00:00.123Z" (SQLite's strftime) -> microsecond form. */
static void
norm_time(const char *t, char out[40])
{
	int64_t us;
	if (!t || dblog_time_parse(t, strlen(t), &us))
		us = dblog_time_now();
	dblog_time_format(us, out, 40);
}

struct group {
	int open, exact;
	int64_t end, tx, count;
	char time[40];
};

static int
control(struct dblog_sqlite_src *s, const char *op, const struct group *g)
{
	dblog_buf_clear(&s->line);
	dblog_buf_printf(&s->line, "{\"op\":\"%s\",\"source\":", op);
	dblog_buf_add(&s->line, s->src.p, s->src.len);
	if (g->exact)
		dblog_buf_printf(&s->line, ",\"tx\":%lld", (long long)g->tx);
	dblog_buf_printf(&s->line, ",\"pos\":%lld,\"commit_time\":\"%s\"", (long long)g->end, g->time);
	if (op[0] == 'c')
		dblog_buf_printf(&s->line, ",\"count\":%lld", (long long)g->count);
	if (!g->exact)
		dblog_buf_adds(&s->line, ",\"grouping\":\"inexact\"");
	dblog_buf_addc(&s->line, '}');
	if (put(s))
		return -1;
	if (op[0] == 'c' && fflush(s->out))
		return -1;
	return 0;
}

static int
prep(struct dblog_sqlite_src *s, sqlite3_stmt **st, const char *sql)
{
	if (*st) {
		sqlite3_reset(*st);
		return 0;
	}
	return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

/* Open a group at changelog row r: its end is the row before the next
 * begin marker (or hi). */
static int
open_group(struct dblog_sqlite_src *s, struct group *g, int64_t r, int64_t hi, int exact, int64_t tx)
{
	if (prep(s, &s->next_marker, "SELECT min(seq) FROM _dblog_changes WHERE op = 'begin' "
		 "AND seq > ?1 AND seq <= ?2") ||
	    prep(s, &s->max_before, "SELECT max(seq) FROM _dblog_changes WHERE seq < ?1") ||
	    prep(s, &s->time_at, "SELECT time FROM _dblog_changes WHERE seq = ?1"))
		return -1;
	sqlite3_bind_int64(s->next_marker, 1, r);
	sqlite3_bind_int64(s->next_marker, 2, hi);
	int64_t next = step_int(s->next_marker, -1), end = hi;
	if (next >= 0) {
		sqlite3_bind_int64(s->max_before, 1, next);
		end = step_int(s->max_before, hi);
	}
	sqlite3_bind_int64(s->time_at, 1, end);
	const char *t = NULL;
	if (sqlite3_step(s->time_at) == SQLITE_ROW)
		t = (const char *)sqlite3_column_text(s->time_at, 0);
	norm_time(t, g->time);
	sqlite3_reset(s->time_at);
	g->open = 1;
	g->exact = exact;
	g->end = end;
	g->tx = tx;
	g->count = 0;
	return 0;
}

/* One changelog row, copied out of its read transaction. */
struct crow {
	int64_t seq;
	size_t off[6];   /* tbl, op, key, before, after, time in the arena */
	size_t len[6];   /* (size_t)-1: NULL */
};

#define CHUNK_ROWS 4096
#define CHUNK_BYTES (8u << 20)

static const char *
field(const struct dblog_sqlite_src *s, const struct crow *r, int i, size_t *n)
{
	if (r->len[i] == (size_t)-1)
		return NULL;
	if (n)
		*n = r->len[i];
	return s->arena.p + r->off[i];
}

static int
change(struct dblog_sqlite_src *s, struct group *g, const struct crow *row)
{
	const char *tbl = field(s, row, 0, NULL);
	const char *op = field(s, row, 1, NULL);
	int64_t r = row->seq;
	int64_t pos = g->exact ? g->end : r, seq = g->exact ? g->count : 0;
	char t[40], id[37], ps[24];
	g->count++;
	if (s->skip_pos >= 0 && (pos < s->skip_pos || (pos == s->skip_pos && seq <= s->skip_seq)))
		return 0;
	if (send_schema(s, tbl, pos))
		return -1;
	if (g->exact)
		memcpy(t, g->time, sizeof t);
	else
		norm_time(field(s, row, 5, NULL), t);
	snprintf(ps, sizeof ps, "%lld", (long long)pos);
	dblog_event_id(s->name, ps, seq, id);
	dblog_buf_clear(&s->line);
	dblog_buf_printf(&s->line, "{\"op\":\"%s\"", op);
	add_table(&s->line, tbl);
	dblog_buf_adds(&s->line, ",\"source\":");
	dblog_buf_add(&s->line, s->src.p, s->src.len);
	if (g->exact)
		dblog_buf_printf(&s->line, ",\"tx\":%lld", (long long)g->tx);
	dblog_buf_printf(&s->line, ",\"pos\":%s,\"seq\":%lld,\"commit_time\":\"%s\",\"id\":\"%s\"",
			 ps, (long long)seq, t, id);
	static const char *const names[] = { "key", "before", "after" };
	for (int i = 0; i < 3; i++) {
		size_t n;
		const char *v = field(s, row, 2 + i, &n);
		if (!v)
			continue;
		dblog_buf_printf(&s->line, ",\"%s\":", names[i]);
		sqsrc_put_values(&s->line, v, n);
	}
	dblog_buf_addc(&s->line, '}');
	s->changes++;
	return put(s);
}

/* Copy the next rows after cur (up to hi) out of one short read
 * transaction, so that writers are never held up by a slow reader. */
static int
fetch_chunk(struct dblog_sqlite_src *s, int64_t cur, int64_t hi, char *err, size_t errlen)
{
	s->nrows = 0;
	dblog_buf_clear(&s->arena);
	if (dblog_sqlite_exec(s->db, "BEGIN", err, errlen))
		return -1;
	int rc = prep(s, &s->rows, "SELECT seq, tbl, op, key, before, after, time FROM _dblog_changes "
		      "WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3");
	sqlite3_bind_int64(s->rows, 1, cur);
	sqlite3_bind_int64(s->rows, 2, hi);
	sqlite3_bind_int(s->rows, 3, CHUNK_ROWS);
	int st = SQLITE_DONE;
	while (!rc && s->arena.len < CHUNK_BYTES && (st = sqlite3_step(s->rows)) == SQLITE_ROW) {
		if (s->nrows == s->caprows) {
			s->caprows = s->caprows ? 2 * s->caprows : 256;
			s->chunk = dblog_xrealloc(s->chunk, s->caprows * sizeof *s->chunk);
		}
		struct crow *r = &s->chunk[s->nrows++];
		r->seq = sqlite3_column_int64(s->rows, 0);
		for (int i = 0; i < 6; i++) {
			if (sqlite3_column_type(s->rows, 1 + i) == SQLITE_NULL) {
				r->len[i] = (size_t)-1;
				continue;
			}
			const unsigned char *v = sqlite3_column_text(s->rows, 1 + i);
			r->len[i] = (size_t)sqlite3_column_bytes(s->rows, 1 + i);
			r->off[i] = s->arena.len;
			dblog_buf_add(&s->arena, v, r->len[i]);
			dblog_buf_addc(&s->arena, 0);
		}
	}
	if (!rc && st != SQLITE_DONE && st != SQLITE_ROW) {
		snprintf(err, errlen, "cannot read the changelog: %s", sqlite3_errmsg(s->db));
		rc = -1;
	}
	sqlite3_reset(s->rows);
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int64_t
dblog_sqlite_src_head(struct dblog_sqlite_src *s)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	/* sqlite_sequence remembers the last number handed out, also after
	 * --prune emptied the changelog */
	if (sqlite3_prepare_v2(s->db, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE "
			       "name = '_dblog_changes'), 0), coalesce((SELECT max(seq) FROM "
			       "_dblog_changes), 0))", -1, &st, NULL) != SQLITE_OK)
		return -1;
	v = step_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Emit the changelog rows after `after` (up to `until` if >= 0): the rows
 * committed when the read starts, as whole transactions, fetched in short
 * read transactions. Sets *last to the last row emitted. 0, or -1 (SQLite
 * error in err, or a write error with err empty). */
int
dblog_sqlite_src_read(struct dblog_sqlite_src *s, int64_t after, int64_t until, int64_t *last,
		      char *err, size_t errlen)
{
	*last = after;
	err[0] = 0;
	if (check_tables(s, err, errlen))
		return -1;
	check_schema(s);
	int64_t hi = dblog_sqlite_src_head(s);
	if (hi < 0) {
		snprintf(err, errlen, "cannot read the changelog: %s (run dblog-capture --setup)",
			 sqlite3_errmsg(s->db));
		return -1;
	}
	if (until >= 0 && until < hi)
		hi = until;
	struct group g = { 0 };
	int64_t cur = after;
	int rc = 0, stopped = 0;
	while (!rc && !stopped && cur < hi) {
		if (fetch_chunk(s, cur, hi, err, errlen))
			return -1;
		if (!s->nrows)
			break;
		for (size_t i = 0; i < s->nrows && !rc; i++) {
			const struct crow *row = &s->chunk[i];
			int64_t r = row->seq;
			cur = r;
			if (!strcmp(field(s, row, 1, NULL), "begin")) {
				if (g.open && control(s, "commit", &g))
					rc = -1;
				g.open = 0;
				const char *k = field(s, row, 2, NULL);
				if (!rc && (open_group(s, &g, r, hi, 1, k ? strtoll(k, NULL, 10) : 0) ||
					    (g.end > r && control(s, "begin", &g))))
					rc = -1;
				if (g.end <= r)
					g.open = 0;
				*last = r;
				continue;
			}
			if (!g.open && (open_group(s, &g, r, hi, 0, 0) || control(s, "begin", &g)))
				rc = -1;
			if (!rc && change(s, &g, row))
				rc = -1;
			*last = r;
			if (!rc && r >= g.end) {
				rc = control(s, "commit", &g);
				g.open = 0;
				if (s->stop && *s->stop) {
					stopped = 1;
					break;
				}
			}
		}
	}
	if (!rc && g.open)
		rc = control(s, "commit", &g);
	if (!rc && !stopped)
		*last = hi;
	s->skip_pos = -1;
	return rc;
}

/* The start of a snapshot-time event of op for table in s->line, up to its
 * id: the rest follows. */
static void
snap_head(struct dblog_sqlite_src *s, const char *op, const char *table, const char *pos,
	  const char *time, const char *tag, int64_t seq)
{
	char id[37];
	dblog_event_id(s->name, tag, seq, id);
	dblog_buf_clear(&s->line);
	dblog_buf_printf(&s->line, "{\"op\":\"%s\"", op);
	add_table(&s->line, table);
	dblog_buf_adds(&s->line, ",\"source\":");
	dblog_buf_add(&s->line, s->src.p, s->src.len);
	dblog_buf_printf(&s->line, ",\"pos\":%s,\"seq\":%lld,\"commit_time\":\"%s\",\"id\":\"%s\"", pos,
			 (long long)seq, time, id);
}

/* Every row of the tables, in key order, in one read transaction, as
 * snapshot events at the changelog position *pos (0 without a changelog),
 * then a heartbeat at *pos. 0 or -1 (err set, or empty for a write error). */
/* Put the tables of l in foreign key order: a table after the tables its
 * foreign keys refer to, else in the order given (by name); a cycle keeps
 * that order for the tables in it. A destination that checks foreign keys
 * at once then takes every row of a snapshot. */
static void
fk_order(sqlite3 *db, struct dblog_list *l)
{
	size_t n = l->n, ne = 0;
	if (n < 2)
		return;
	size_t *from = NULL, *to = NULL, *indeg = calloc(n, sizeof *indeg);
	char *placed = calloc(n, 1);
	char **out = calloc(n, sizeof *out);
	sqlite3_stmt *st = NULL;
	if (!indeg || !placed || !out)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	if (sqlite3_prepare_v2(db, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)", -1, &st,
			       NULL) == SQLITE_OK) {
		for (size_t a = 0; a < n; a++) {
			sqlite3_bind_text(st, 1, l->v[a], -1, SQLITE_STATIC);
			while (sqlite3_step(st) == SQLITE_ROW) {
				const char *p = (const char *)sqlite3_column_text(st, 0);
				for (size_t b = 0; p && b < n; b++)
					if (b != a && !sqlite3_stricmp(p, l->v[b])) {
						from = dblog_xrealloc(from, (ne + 1) * sizeof *from);
						to = dblog_xrealloc(to, (ne + 1) * sizeof *to);
						from[ne] = a, to[ne++] = b;
						indeg[a]++;
					}
			}
			sqlite3_reset(st);
		}
	}
	sqlite3_finalize(st);
	for (size_t k = 0; k < n; k++) {
		size_t pick = n;
		for (size_t a = 0; a < n && pick == n; a++)
			if (!placed[a] && !indeg[a])
				pick = a;
		for (size_t a = 0; a < n && pick == n; a++)   /* a cycle */
			if (!placed[a])
				pick = a;
		placed[pick] = 1;
		out[k] = l->v[pick];
		for (size_t e = 0; e < ne; e++)
			if (to[e] == pick && indeg[from[e]])
				indeg[from[e]]--;
	}
	memcpy(l->v, out, n * sizeof *out);
	free(from);
	free(to);
	free(indeg);
	free(placed);
	free(out);
}

int
dblog_sqlite_src_snapshot(struct dblog_sqlite_src *s, const struct dblog_list *want, int64_t *pos,
			  int truncate_first, char *err, size_t errlen)
{
	struct dblog_list tables = { 0 };
	struct dblog_buf sql = { 0 }, q = { 0 };
	char t[40], ps[24], tag[40];
	int rc = -1;
	err[0] = 0;
	if (sqsrc_real_table(s->db, 1, err, errlen) || dblog_sqlite_exec(s->db, "BEGIN", err, errlen))
		return -1;
	check_schema(s);
	*pos = dblog_sqlite_src_head(s);
	if (*pos < 0)
		*pos = 0;
	dblog_time_format(dblog_time_now(), t, sizeof t);
	snprintf(ps, sizeof ps, "%lld", (long long)*pos);
	snprintf(tag, sizeof tag, "snapshot:%lld", (long long)*pos);
	if (sqsrc_chosen_tables(s->db, want, &tables))
		goto out;
	fk_order(s->db, &tables);
	int64_t seq = 0;
	for (size_t i = 0; i < tables.n; i++) {
		struct dblog_sqlite_table ti;
		if (dblog_sqlite_table_info(s->db, tables.v[i], &ti)) {
			snprintf(err, errlen, "no table \"%s\" in the database", tables.v[i]);
			dblog_sqlite_table_free(&ti);
			goto out;
		}
		dblog_buf_clear(&sql);
		dblog_buf_clear(&q);
		dblog_sql_ident(&q, ti.name);
		dblog_buf_adds(&sql, "SELECT ");
		sqsrc_object_expr(&sql, &ti, q.p, 1);
		dblog_buf_adds(&sql, ", ");
		sqsrc_object_expr(&sql, &ti, q.p, 0);
		dblog_buf_printf(&sql, " FROM %s ORDER BY ", q.p);
		int first = 1;
		for (size_t k = 1; k <= ti.npk; k++)
			for (size_t c = 0; c < ti.ncols; c++)
				if ((size_t)ti.cols[c].pk == k) {
					if (!first)
						dblog_buf_adds(&sql, ", ");
					first = 0;
					dblog_sql_ident(&sql, ti.cols[c].name);
				}
		if (first)
			dblog_buf_adds(&sql, "rowid");
		dblog_sqlite_table_free(&ti);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(s->db, sql.p, -1, &st, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot read table \"%s\": %s", tables.v[i],
				 sqlite3_errmsg(s->db));
			goto out;
		}
		if (send_schema(s, tables.v[i], *pos)) {
			sqlite3_finalize(st);
			goto out;
		}
		if (truncate_first) {
			/* read again after an interruption: rows of the first attempt
			 * that are gone since must not stay behind */
			snap_head(s, "truncate", tables.v[i], ps, t, tag, seq++);
			dblog_buf_addc(&s->line, '}');
			if (put(s)) {
				sqlite3_finalize(st);
				goto out;
			}
		}
		int r;
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			snap_head(s, "snapshot", tables.v[i], ps, t, tag, seq++);
			dblog_buf_adds(&s->line, ",\"key\":");
			sqsrc_put_values(&s->line, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
			dblog_buf_adds(&s->line, ",\"after\":");
			sqsrc_put_values(&s->line, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
			dblog_buf_addc(&s->line, '}');
			if (put(s)) {
				sqlite3_finalize(st);
				goto out;
			}
			if (s->stop && *s->stop) {
				/* stopped inside the snapshot: a later run reads it again */
				sqlite3_finalize(st);
				rc = fflush(s->out) ? -1 : 0;
				goto out;
			}
		}
		sqlite3_finalize(st);
		if (r != SQLITE_DONE) {
			snprintf(err, errlen, "cannot read table \"%s\": %s", tables.v[i],
				 sqlite3_errmsg(s->db));
			goto out;
		}
	}
	dblog_buf_clear(&s->line);
	dblog_buf_adds(&s->line, "{\"op\":\"heartbeat\",\"source\":");
	dblog_buf_add(&s->line, s->src.p, s->src.len);
	dblog_buf_printf(&s->line, ",\"pos\":%s,\"commit_time\":\"%s\"}", ps, t);
	rc = put(s) || fflush(s->out) ? -1 : 0;
out:
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	dblog_list_free(&tables);
	dblog_buf_free(&sql);
	dblog_buf_free(&q);
	return rc;
}

/* Bind a JSON cursor value. */
static void
bind_json(sqlite3_stmt *st, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(st, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(st, i, json_real_value(v));
	else if (json_is_string(v))
		sqlite3_bind_text(st, i, json_string_value(v), (int)json_string_length(v), SQLITE_TRANSIENT);
	else if (json_is_object(v) && json_is_string(json_object_get(v, "text_hex"))) {
		/* text that is not UTF-8: its bytes */
		const char *h = json_string_value(json_object_get(v, "text_hex"));
		struct dblog_buf hb = { 0 }, bytes = { 0 };
		dblog_buf_adds(&hb, "{\"text_hex\":");
		dblog_json_escape(&hb, h, strlen(h));
		dblog_buf_addc(&hb, '}');
		if (dblog_text_hex((struct dblog_span){ hb.p, hb.len }, &bytes))
			sqlite3_bind_text(st, i, bytes.p, (int)bytes.len, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, i);
		dblog_buf_free(&hb);
		dblog_buf_free(&bytes);
	} else
		sqlite3_bind_null(st, i);
}

/* One table of an incremental read: rows whose cursor column is past the
 * last value seen, in cursor order, in short chunks. */
static int
incremental_table(struct dblog_sqlite_src *s, const char *table, const char *column,
		  json_t *cursors, char *err, size_t errlen)
{
	struct dblog_sqlite_table ti;
	struct dblog_buf sql = { 0 }, q = { 0 }, full = { 0 };
	int rc = -1;
	if (dblog_sqlite_table_info(s->db, table, &ti)) {
		snprintf(err, errlen, "no table \"%s\" in the database", table);
		goto out;
	}
	int found = 0;
	for (size_t c = 0; c < ti.ncols; c++)
		found |= !strcmp(ti.cols[c].name, column);
	if (!found) {
		snprintf(err, errlen, "table \"%s\" has no cursor column \"%s\"", table, column);
		goto out;
	}
	dblog_table_join(&full, "main", 4, table, strlen(table));
	const json_t *last = json_object_get(cursors, full.p);
	dblog_sql_ident(&q, table);
	dblog_buf_adds(&sql, "SELECT ");
	sqsrc_object_expr(&sql, &ti, q.p, 1);
	dblog_buf_adds(&sql, ", ");
	sqsrc_object_expr(&sql, &ti, q.p, 0);
	dblog_buf_printf(&sql, ", json_quote(%s.", q.p);
	dblog_sql_ident(&sql, column);
	dblog_buf_printf(&sql, ") FROM %s WHERE ?1 IS NULL OR %s.", q.p, q.p);
	dblog_sql_ident(&sql, column);
	dblog_buf_adds(&sql, " > ?1 ORDER BY ");
	dblog_sql_ident(&sql, column);
	dblog_buf_adds(&sql, " LIMIT 4096");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql.p, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read table \"%s\": %s", table, sqlite3_errmsg(s->db));
		goto out;
	}
	json_t *value = last ? json_incref((json_t *)last) : NULL;
	char t[40], id[37];
	int64_t seq = 0;
	for (;;) {
		/* one short read transaction a chunk; rows are copied out first */
		sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
		bind_json(st, 1, value);
		s->nrows = 0;
		dblog_buf_clear(&s->arena);
		struct dblog_buf lines = { 0 };
		int r, n = 0;
		dblog_time_format(dblog_time_now(), t, sizeof t);
		struct dblog_buf cvfix = { 0 };
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			const char *cv = (const char *)sqlite3_column_text(st, 2);
			size_t cvn = (size_t)sqlite3_column_bytes(st, 2);
			if (!dblog_utf8_valid(cv, cvn)) {
				/* a text cursor that is not UTF-8: {"text_hex":..} */
				struct dblog_buf raw = { 0 };
				dblog_json_unescape((struct dblog_span){ cv, cvn }, &raw);
				dblog_buf_clear(&cvfix);
				dblog_text_hex_put(&cvfix, raw.p, raw.len);
				dblog_buf_free(&raw);
				cv = cvfix.p;
			}
			/* the same row version always gets the same id */
			struct dblog_buf idn = { 0 };
			dblog_buf_printf(&idn, "incremental:%s:%s:%s", table,
					 (const char *)sqlite3_column_text(st, 0), cv);
			dblog_event_id(s->name, idn.p, 0, id);
			dblog_buf_free(&idn);
			dblog_buf_adds(&lines, "{\"op\":\"snapshot\"");
			add_table(&lines, table);
			dblog_buf_adds(&lines, ",\"source\":");
			dblog_buf_add(&lines, s->src.p, s->src.len);
			dblog_buf_printf(&lines, ",\"pos\":0,\"seq\":%lld,\"commit_time\":\"%s\",\"id\":\"%s\","
					 "\"cursor\":{", (long long)seq++, t, id);
			dblog_json_escape(&lines, full.p, full.len);
			dblog_buf_printf(&lines, ":%s},\"key\":", cv);
			sqsrc_put_values(&lines, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
			dblog_buf_adds(&lines, ",\"after\":");
			sqsrc_put_values(&lines, (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
			dblog_buf_adds(&lines, "}\n");
			json_decref(value);
			value = json_loads(cv, JSON_DECODE_ANY, NULL);
			n++;
		}
		dblog_buf_free(&cvfix);
		sqlite3_reset(st);
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
		if (r != SQLITE_DONE) {
			snprintf(err, errlen, "cannot read table \"%s\": %s", table, sqlite3_errmsg(s->db));
			dblog_buf_free(&lines);
			break;
		}
		if (n && (fwrite(lines.p, 1, lines.len, s->out) != lines.len || fflush(s->out))) {
			dblog_buf_free(&lines);
			break;
		}
		dblog_buf_free(&lines);
		if (n < 4096 || (s->stop && *s->stop)) {
			rc = 0;
			break;
		}
	}
	if (value)
		json_object_set(cursors, full.p, value);
	json_decref(value);
	sqlite3_finalize(st);
out:
	dblog_sqlite_table_free(&ti);
	dblog_buf_free(&sql);
	dblog_buf_free(&q);
	dblog_buf_free(&full);
	return rc;
}

int
dblog_sqlite_src_incremental(struct dblog_sqlite_src *s, const struct dblog_list *want,
			     const char *column, json_t *cursors, char *err, size_t errlen)
{
	struct dblog_list tables = { 0 };
	int rc = 0;
	err[0] = 0;
	if (sqsrc_real_table(s->db, 1, err, errlen) || sqsrc_chosen_tables(s->db, want, &tables))
		return -1;
	for (size_t i = 0; i < tables.n && !rc && !(s->stop && *s->stop); i++) {
		rc = send_schema(s, tables.v[i], 0);
		if (!rc)
			rc = incremental_table(s, tables.v[i], column, cursors, err, errlen);
	}
	dblog_list_free(&tables);
	return rc;
}

int
dblog_sqlite_src_prune(struct dblog_sqlite_src *s, int64_t upto, char *err, size_t errlen)
{
	struct dblog_buf sql = { 0 };
	dblog_buf_printf(&sql, "DELETE FROM _dblog_changes WHERE seq <= %lld", (long long)upto);
	int rc = dblog_sqlite_exec(s->db, sql.p, err, errlen);
	dblog_buf_free(&sql);
	return rc;
}

int
dblog_sqlite_src_data_version(struct dblog_sqlite_src *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}
