/* flashback.c - the engine of dblog-flashback(1), reading: each change of
 * the window is turned into its compensating change as it is read and
 * kept in the store (flashback_store.c) with the transaction around it;
 * what cannot be undone is reported; with --check-later the rows the
 * window touched are followed to find the later changes of the same rows.
 * flashback_out.c writes the store back newest first. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flashback.h"

struct dblog_fb *
dblog_fb_new(const struct dblog_fb_opts *o, FILE *out)
{
	struct dblog_fb *fb = dblog_xmalloc(sizeof *fb);
	memset(fb, 0, sizeof *fb);
	fb->o = *o;
	if (fb->o.cascade || fb->o.nonconflict_only)
		fb->o.check_later = 1;
	fb->out = out;
	fb->st = dblog_fbstore_new(o->max_memory, o->spill_dir);
	if (fb->o.check_later)
		fb->rows = dblog_fbrows_new();
	return fb;
}

void
dblog_fb_free(struct dblog_fb *fb)
{
	if (!fb)
		return;
	dblog_fbstore_free(fb->st);
	dblog_fbtables_free(&fb->tables);
	dblog_fbrows_free(fb->rows);
	struct dblog_buf *bufs[] = { &fb->scratch, &fb->name, &fb->kba, &fb->key_old, &fb->key_new,
				     &fb->rec, &fb->expand, &fb->hold, &fb->tx_pos, &fb->tx_tx,
				     &fb->tx_time, &fb->tx_undo, &fb->report, &fb->left, &fb->ref.fix };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	free(fb->src_name);
	free(fb->driver);
	free(fb);
}

/* ------------------------------------------------------------ helpers */

static void
set_span(struct dblog_buf *b, struct dblog_span v)
{
	dblog_buf_clear(b);
	if (v.p)
		dblog_buf_add(b, v.p, v.n);
}

static struct dblog_span
span_of(const struct dblog_buf *b)
{
	return (struct dblog_span){ b->len ? b->p : NULL, b->len };
}

/* The decoded table name of f, in fb->name. */
static const char *
table_of(struct dblog_fb *fb, const struct dblog_fields *f)
{
	dblog_json_unescape(f->table, &fb->name);
	return fb->name.p ? fb->name.p : "";
}

static int
fatal(struct dblog_fb *fb, uint64_t lineno, const char *msg, const char *arg)
{
	dblog_err("line %llu: %s%s", (unsigned long long)lineno, msg, arg ? arg : "");
	fb->fatal = 1;
	return -1;
}

/* Follow the source's name and driver, the newest position and time. */
static int
note_source(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno)
{
	struct dblog_span nm = dblog_json_member(f->source, "name", 4);
	const char *p;
	size_t n;
	if (nm.p && dblog_json_str(nm, &fb->scratch, &p, &n)) {
		if (!fb->src_name) {
			fb->src_name = dblog_xstrndup(p, n);
			struct dblog_span dr = dblog_json_member(f->source, "driver", 6);
			if (dr.p && dblog_json_str(dr, &fb->scratch, &p, &n))
				fb->driver = dblog_xstrndup(p, n);
		} else if (strlen(fb->src_name) != n || memcmp(fb->src_name, p, n)) {
			dblog_buf_clear(&fb->name);
			dblog_buf_printf(&fb->name, "%s and %.*s); flash back one source at a time, "
					 "e.g. dblog-filter -w \"source.name = '%s'\"", fb->src_name,
					 (int)n, p, fb->src_name);
			return fatal(fb, lineno, "the input mixes events of two sources (", fb->name.p);
		}
	}
	struct dblog_pos pos;
	int bad = 0;
	if (f->pos.p && !dblog_pos_from_span(f->pos, &pos)) {
		if (!fb->newest_set || dblog_pos_cmp(&pos, &fb->newest, &bad) > 0) {
			if (!bad) {
				fb->newest = pos;
				fb->newest_set = 1;
			}
		}
	}
	return 0;
}

static void
note_time(struct dblog_fb *fb, struct dblog_span t)
{
	const char *p;
	size_t n;
	int64_t us;
	if (dblog_json_type(t) == DBLOG_J_STRING && dblog_json_str(t, &fb->scratch, &p, &n) &&
	    !dblog_time_parse(p, n, &us) && (!fb->newest_time_set || us > fb->newest_time)) {
		fb->newest_time = us;
		fb->newest_time_set = 1;
	}
}

/* ------------------------------------------------------------ report */

static void
report_line(struct dblog_fb *fb, struct dblog_buf *to, uint64_t *count, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
report_line(struct dblog_fb *fb, struct dblog_buf *to, uint64_t *count, const char *fmt, ...)
{
	if ((*count)++ >= REPORT_MAX)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	dblog_buf_adds(to, "  ");
	dblog_buf_adds(to, line);
	dblog_buf_addc(to, '\n');
}

/* "pos P seq S" of f (seq left out when absent), in out. */
static const char *
where_of(const struct dblog_fields *f, const struct dblog_buf *txpos, char *out, size_t n)
{
	struct dblog_span pos = f->pos.p ? f->pos : span_of(txpos);
	int sn = f->seq.p ? (int)f->seq.n : 0;
	snprintf(out, n, "pos %.*s%s%.*s", pos.p ? (int)pos.n : 1, pos.p ? pos.p : "?",
		 sn ? " seq " : "", sn, sn ? f->seq.p : "");
	return out;
}

static void
refused(struct dblog_fb *fb, const struct dblog_fields *f, const char *table)
{
	char at[96];
	fb->nrefused++;
	report_line(fb, &fb->report, &fb->report_n, "refused: %s %s: %s: %s%s%s", table,
		    where_of(f, &fb->tx_pos, at, sizeof at), dblog_op_name(f->op), fb->ref.why,
		    fb->ref.fix.len ? "; fix: " : "", fb->ref.fix.len ? fb->ref.fix.p : "");
}

/* ------------------------------------------------------------ rows */

/* The row number of the row f changes, when the window touched it. */
static uint64_t
touched(struct dblog_fb *fb, const struct dblog_fields *f, struct dblog_fbtable *t)
{
	if (!fb->rows || !t->has_rows)
		return 0;
	if (f->op == DBLOG_OP_TRUNCATE)
		return UINT64_MAX;
	dblog_fb_key_text(f->key.p ? f->key : f->after, &fb->key_old);
	return dblog_fbrows_find(fb->rows, t->name, fb->key_old.p ? fb->key_old.p : "",
				 fb->key_old.len);
}

/* An unselected change f of a row the window touched (row). */
static void
later(struct dblog_fb *fb, const struct dblog_fields *f, struct dblog_fbtable *t, uint64_t row)
{
	char at[96];
	fb->nconflicts++;
	if (row == UINT64_MAX) {
		dblog_fbrows_mark_table(fb->rows, t->name);
		report_line(fb, &fb->report, &fb->report_n, "changed later: %s: every row (truncate "
			    "at %s)", t->name, where_of(f, &fb->tx_pos, at, sizeof at));
		return;
	}
	dblog_fbrows_mark(fb->rows, row);
	report_line(fb, &fb->report, &fb->report_n, "changed later: %s key %.*s: %s at %s",
		    t->name, (int)fb->key_old.len, fb->key_old.p, dblog_op_name(f->op),
		    where_of(f, &fb->tx_pos, at, sizeof at));
	/* the row may move to a new key: follow it there too */
	if (f->op == DBLOG_OP_UPDATE && dblog_json_type(f->after) == DBLOG_J_OBJECT &&
	    dblog_json_type(f->key) == DBLOG_J_OBJECT) {
		struct dblog_span k, v;
		const char *it = NULL, *p;
		size_t n;
		dblog_buf_clear(&fb->key_new);
		dblog_buf_addc(&fb->key_new, '{');
		while (dblog_json_next(f->key, &it, &k, &v)) {
			dblog_json_str(k, &fb->scratch, &p, &n);
			struct dblog_span av = dblog_json_member(f->after, p, n);
			dblog_buf_adds(&fb->key_new, fb->key_new.len > 1 ? "," : "");
			dblog_buf_add(&fb->key_new, k.p, k.n);
			dblog_buf_addc(&fb->key_new, ':');
			dblog_buf_add(&fb->key_new, av.p ? av.p : v.p, av.p ? av.n : v.n);
		}
		dblog_buf_addc(&fb->key_new, '}');
		dblog_fbrows_add(fb->rows, t->name, fb->key_new.p, fb->key_new.len, row);
	}
}

/* ------------------------------------------------------------ records */

/* The origin fields of the transaction being read. */
static void
tx_undo(struct dblog_fb *fb, struct dblog_buf *out)
{
	dblog_buf_clear(out);
	dblog_buf_adds(out, "\"source\":");
	if (fb->src_name)
		dblog_json_escape(out, fb->src_name, strlen(fb->src_name));
	else
		dblog_buf_adds(out, "null");
	const struct { const char *k; struct dblog_buf *v; } m[] = {
		{ ",\"pos\":", &fb->tx_pos }, { ",\"tx\":", &fb->tx_tx },
		{ ",\"commit_time\":", &fb->tx_time },
	};
	for (size_t i = 0; i < 3; i++)
		if (m[i].v->len) {
			dblog_buf_adds(out, m[i].k);
			dblog_buf_add(out, m[i].v->p, m[i].v->len);
		}
}

static int
put(struct dblog_fb *fb, char type, const void *p, size_t n)
{
	if (!dblog_fbstore_put(fb->st, type, p, n))
		return 0;
	dblog_err("%s", dblog_fbstore_error(fb->st));
	fb->fatal = 1;
	return -1;
}

/* Keep the compensating change of f (op, fb->kba) for row. */
static int
keep(struct dblog_fb *fb, const struct dblog_fields *f, enum dblog_op op, uint64_t row)
{
	if (!fb->tx_open) {
		tx_undo(fb, &fb->tx_undo);
		if (put(fb, REC_BEGIN, fb->tx_undo.p, fb->tx_undo.len))
			return -1;
		fb->tx_open = 1;
		fb->ntx++;
	}
	struct dblog_buf *r = &fb->rec;
	dblog_buf_clear(r);
	dblog_buf_add(r, &row, sizeof row);
	dblog_buf_addc(r, (char)op);
	dblog_buf_add(r, f->table.p, f->table.n);
	dblog_buf_addc(r, 0);
	dblog_buf_add(r, fb->kba.p, fb->kba.len);
	dblog_buf_addc(r, 0);
	/* what it undoes */
	dblog_buf_adds(r, "\"source\":");
	if (fb->src_name)
		dblog_json_escape(r, fb->src_name, strlen(fb->src_name));
	else
		dblog_buf_adds(r, "null");
	struct dblog_span pos = f->pos.p ? f->pos : span_of(&fb->tx_pos);
	struct dblog_span tx = f->tx.p ? f->tx : span_of(&fb->tx_tx);
	const struct { const char *k; struct dblog_span v; } m[] = {
		{ ",\"pos\":", pos }, { ",\"seq\":", f->seq }, { ",\"tx\":", tx }, { ",\"id\":", f->id },
		{ ",\"op\":", f->op_raw },
	};
	for (size_t i = 0; i < sizeof m / sizeof *m; i++)
		if (m[i].v.p) {
			dblog_buf_adds(r, m[i].k);
			dblog_buf_add(r, m[i].v.p, m[i].v.n);
		}
	fb->tx_n++;
	fb->nchanges++;
	return put(fb, REC_CHANGE, r->p, r->len);
}

/* A change inside the transaction being read; force: cascaded. */
static int
on_change(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno, int force)
{
	struct dblog_fbtable *t = dblog_fbtables_get(&fb->tables, table_of(fb, f));
	int sel = force || dblog_fb_selected(fb, f, lineno);
	if (fb->fatal)
		return -1;
	if (dblog_json_type(f->after) == DBLOG_J_OBJECT && !t->cols.n) {
		const char *it = NULL;
		struct dblog_span k, v;
		size_t n = 0;
		while (dblog_json_next(f->after, &it, &k, &v))
			n++;
		if (n > t->max_after)
			t->max_after = n;
	}
	if (!sel) {
		uint64_t row = touched(fb, f, t);
		if (row && fb->o.cascade)
			sel = 1;   /* outside a transaction, or after a change of the row in its own */
		else if (row)
			later(fb, f, t, row);
		if (!sel)
			return 0;
	}
	enum dblog_op op;
	struct dblog_span kind = dblog_json_type(f->origin) == DBLOG_J_OBJECT ?
		dblog_json_member(f->origin, "kind", 4) : (struct dblog_span){ 0 };
	const char *driver = dblog_json_streq(kind, "flashback", 9) ? "flashback" : fb->driver;
	int rc = dblog_fb_invert(f, t, driver, &op, &fb->kba, &fb->key_old, &fb->key_new, &fb->ref);
	if (rc < 0)
		refused(fb, f, t->name);
	if (rc <= 0)
		return 0;
	uint64_t row = 0;
	if (fb->rows) {
		row = dblog_fbrows_add(fb->rows, t->name, fb->key_old.p ? fb->key_old.p : "",
				       fb->key_old.len, 0);
		dblog_fbrows_add(fb->rows, t->name, fb->key_new.p ? fb->key_new.p : "",
				 fb->key_new.len, row);
		t->has_rows = 1;
	}
	return keep(fb, f, op, row);
}

static int
on_schema(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno)
{
	struct dblog_fbtable *t = dblog_fbtables_get(&fb->tables, table_of(fb, f));
	if (!dblog_fbtable_schema(t, f->columns) || !dblog_fb_in_window(fb, f, lineno))
		return fb->fatal ? -1 : 0;
	fb->ref.why = "the table's columns changed inside the window";
	dblog_buf_clear(&fb->ref.fix);
	dblog_buf_adds(&fb->ref.fix, "undo the changes on each side of the schema change "
		       "separately (--until, --since), or give --allow-partial to undo the "
		       "changes as they are");
	refused(fb, f, t->name);
	return 0;
}

/* ------------------------------------------------------------ transactions */

static int
tx_start(struct dblog_fb *fb, const struct dblog_fields *f)
{
	set_span(&fb->tx_pos, f->pos);
	set_span(&fb->tx_tx, f->tx);
	set_span(&fb->tx_time, f->commit_time);
	note_time(fb, f->commit_time);
	fb->tx_open = 0;
	fb->tx_n = 0;
	dblog_buf_clear(&fb->hold);
	return 0;
}

/* A raw JSON value as text (strings decoded) into out. */
static void
plain(struct dblog_fb *fb, const struct dblog_buf *v, char *out, size_t n)
{
	const char *p = v->p ? v->p : "";
	size_t len = v->len;
	if (len && dblog_json_type(span_of(v)) == DBLOG_J_STRING)
		dblog_json_str(span_of(v), &fb->scratch, &p, &len);
	snprintf(out, n, "%.*s", (int)len, p);
}

static int
tx_end(struct dblog_fb *fb)
{
	if (!fb->tx_open)
		return 0;
	fb->tx_open = 0;
	struct fb_txinfo *ti = &fb->recent[(fb->ntx - 1) % PLAN_TX];
	plain(fb, &fb->tx_pos, ti->pos, sizeof ti->pos);
	plain(fb, &fb->tx_tx, ti->tx, sizeof ti->tx);
	plain(fb, &fb->tx_time, ti->time, sizeof ti->time);
	ti->n = fb->tx_n;
	if (fb->nrecent < PLAN_TX)
		fb->nrecent++;
	tx_undo(fb, &fb->tx_undo);
	return put(fb, REC_COMMIT, fb->tx_undo.p, fb->tx_undo.len);
}

static int
lone_end(struct dblog_fb *fb)
{
	if (!fb->lone)
		return 0;
	fb->lone = 0;
	return tx_end(fb);
}

/* --cascade: the held transaction, selected whole when one of its changes
 * that the window leaves out touches a row the window touched. */
static int
hold_flush(struct dblog_fb *fb)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	int force = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t at = 0;
		while (at < fb->hold.len) {
			uint64_t lineno;
			uint32_t n;
			memcpy(&lineno, fb->hold.p + at, 8);
			memcpy(&n, fb->hold.p + at + 8, 4);
			const char *line = fb->hold.p + at + 12;
			at += 12 + n;
			if (dblog_event_scan(line, n, &f, &e, &fb->scratch))
				continue;
			if (pass == 0) {
				if (DBLOG_OP_IS_CHANGE(f.op) && f.op != DBLOG_OP_SNAPSHOT &&
				    !dblog_fb_selected(fb, &f, lineno) &&
				    touched(fb, &f, dblog_fbtables_get(&fb->tables, table_of(fb, &f))))
					force = 1;
			} else if (f.op == DBLOG_OP_SCHEMA ? on_schema(fb, &f, lineno)
				   : on_change(fb, &f, lineno, force)) {
				return -1;
			}
		}
	}
	dblog_buf_clear(&fb->hold);
	return 0;
}

static void
hold(struct dblog_fb *fb, const char *line, size_t n, uint64_t lineno)
{
	uint32_t len = (uint32_t)n;
	dblog_buf_add(&fb->hold, &lineno, 8);
	dblog_buf_add(&fb->hold, &len, 4);
	dblog_buf_add(&fb->hold, line, n);
}

/* Was the transaction that f begins read already (its position at or
 * before that of the last one read whole)? */
static int
read_again(struct dblog_fb *fb, const struct dblog_fields *f)
{
	struct dblog_pos p;
	int bad = 0;
	return fb->done_set && f->pos.p && !dblog_pos_from_span(f->pos, &p) &&
	       dblog_pos_cmp(&p, &fb->done, &bad) <= 0 && !bad;
}

static void
done(struct dblog_fb *fb, struct dblog_span pos)
{
	struct dblog_pos p;
	if (pos.p && !dblog_pos_from_span(pos, &p)) {
		fb->done = p;
		fb->done_set = 1;
	}
}

/* One scanned event. */
static int
event(struct dblog_fb *fb, const char *line, size_t n, const struct dblog_fields *f, uint64_t lineno)
{
	if (note_source(fb, f, lineno))
		return -1;
	if (f->table.p) {
		/* tables are told apart by name: the whole name */
		dblog_json_unescape(f->table, &fb->name);
		dblog_buf_add(&fb->name, "", 0);
		if (memchr(fb->name.p, 0, fb->name.len))
			return dblog_bad_line(NULL, lineno, line, n, "the table name holds a NUL "
					      "character");
	}
	int holding = fb->o.cascade && fb->in_tx;
	if (fb->skipping && f->op != DBLOG_OP_BEGIN) {
		if (f->op == DBLOG_OP_COMMIT)
			fb->skipping = fb->in_tx = 0;
		return 0;
	}
	switch (f->op) {
	case DBLOG_OP_BEGIN:
		if (read_again(fb, f)) {
			if (lone_end(fb) || (fb->in_tx && (holding ? hold_flush(fb) : 0)) || tx_end(fb))
				return -1;
			fb->skipping = 1;
			fb->skipped++;
			return 0;
		}
		if (lone_end(fb) || (fb->in_tx && (holding ? hold_flush(fb) : 0)) || tx_end(fb))
			return -1;
		fb->in_tx = 1;
		return tx_start(fb, f);
	case DBLOG_OP_COMMIT:
		if (!fb->in_tx)
			return lone_end(fb);
		fb->in_tx = 0;
		done(fb, f->pos);
		note_time(fb, f->commit_time);
		return (holding && hold_flush(fb)) || tx_end(fb) ? -1 : 0;
	case DBLOG_OP_SCHEMA:
		if (holding) {
			hold(fb, line, n, lineno);
			return 0;
		}
		return on_schema(fb, f, lineno);
	case DBLOG_OP_HEARTBEAT:
	case DBLOG_OP_SNAPSHOT:
		note_time(fb, f->commit_time);
		return fb->in_tx ? 0 : lone_end(fb);
	default:
		break;
	}
	if (holding) {
		hold(fb, line, n, lineno);
		return 0;
	}
	if (!fb->in_tx) {
		/* changes outside transactions: one group per position */
		if (fb->lone && (!f->pos.p || fb->tx_pos.len != f->pos.n ||
				 memcmp(fb->tx_pos.p, f->pos.p, f->pos.n)) && lone_end(fb))
			return -1;
		if (!fb->lone) {
			fb->lone = 1;
			tx_start(fb, f);
		}
	}
	return on_change(fb, f, lineno, 0);
}

int
dblog_fb_line(struct dblog_fb *fb, const char *line, size_t n, uint64_t lineno)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	const char *why = NULL;
	int rc = dblog_event_scan(line, n, &f, &e, &fb->scratch);
	if (rc == 0)
		return event(fb, line, n, &f, lineno);
	if (rc == 1)
		return 0;
	int k = f.op_raw.p && dblog_json_streq(f.op_raw, "tx", 2) ?
		dblog_txline_expand(line, n, &fb->expand, &why) : 0;
	if (k < 0)
		return dblog_bad_line(fb->o.dlq, lineno, line, n, why);
	if (k == 0) {
		char why_col[256];
		if (e.col)
			snprintf(why_col, sizeof why_col, "malformed JSON at column %zu: %s", e.col, e.why);
		else
			snprintf(why_col, sizeof why_col, "%s", e.why);
		return dblog_bad_line(fb->o.dlq, lineno, line, n, why_col);
	}
	/* a transaction line: the events it stands for, NUL-separated; a bad
	 * one is parked with the whole line, so none of them is taken */
	size_t at = 0;
	for (int i = 0; i < k; i++) {
		const char *ev = fb->expand.p + at;
		size_t len = strlen(ev);
		at += len + 1;
		if (dblog_event_scan(ev, len, &f, &e, &fb->scratch) < 0)
			return dblog_bad_line(fb->o.dlq, lineno, line, n, e.why);
	}
	at = 0;
	for (int i = 0; i < k; i++) {
		const char *ev = fb->expand.p + at;
		size_t len = strlen(ev);
		at += len + 1;
		dblog_event_scan(ev, len, &f, &e, &fb->scratch);
		if (event(fb, ev, len, &f, lineno))
			return -1;
	}
	return 0;
}

int
dblog_fb_finish(struct dblog_fb *fb)
{
	if (fb->in_tx) {
		dblog_warn("the input ends inside a transaction (pos %.*s): its changes are undone "
			   "as far as they were read", (int)fb->tx_pos.len,
			   fb->tx_pos.p ? fb->tx_pos.p : "?");
		if ((fb->o.cascade && hold_flush(fb)) || tx_end(fb))
			return DBLOG_EXIT_FAIL;
		fb->in_tx = 0;
	}
	if (lone_end(fb) || fb->fatal)
		return DBLOG_EXIT_FAIL;
	if (fb->skipped)
		dblog_warn("%llu transactions were on the input twice (at or before a position "
			   "read already) and were read once", (unsigned long long)fb->skipped);
	return dblog_fb_output(fb);
}
