/* flashback_out.c - the engine of dblog-flashback(1), writing: the store
 * read back newest first becomes compensating transactions (events or
 * SQL), or the --plan summary; and the report of what was refused. */
#include <stdlib.h>
#include <string.h>

#include "flashback.h"

/* Rows per table and compensating op, for --plan. */
struct count {
	char *table;
	enum dblog_op op;
	uint64_t n;
};

struct out {
	struct dblog_fb *fb;
	char *name;                 /* the source name of the output */
	struct dblog_buf src;       /* its "source" object */
	struct dblog_pos base;      /* positions are base + 1, base + 2, ... */
	char ct[40];                /* their commit_time ("" for none) */
	uint64_t i, k;              /* transactions so far, changes in this one */
	uint64_t pos_i;             /* the i of pos_text */
	int begun, failed;
	struct dblog_buf line, undo, body, tmp, tname, what;
	char pos_text[32];          /* this transaction's position, as text */
	struct count *counts;
	size_t ncounts;
};

/* ------------------------------------------------------------ writing */

static void
write_out(struct out *o, const char *p, size_t n, int newline)
{
	FILE *f = o->fb->out;
	if (o->failed)
		return;
	if ((newline ? dblog_write_line(f, p, n) : (fwrite(p, 1, n, f) == n ? 0 : -1)) ||
	    (o->fb->o.unbuffered && fflush(f)))
		o->failed = 1;
}

/* The position of compensating transaction i, as JSON and as text. */
static void
position(struct out *o, struct dblog_buf *b)
{
	if (o->pos_i != o->i) {
		struct dblog_pos p = o->base;
		p.v += o->i;
		dblog_pos_format(&p, o->pos_text, sizeof o->pos_text);
		o->pos_i = o->i;
	}
	if (o->base.kind == DBLOG_POS_LSN)
		dblog_buf_addc(b, '"');
	dblog_buf_adds(b, o->pos_text);
	if (o->base.kind == DBLOG_POS_LSN)
		dblog_buf_addc(b, '"');
}

/* "source":..,"pos":..[,"commit_time":..] */
static void
head(struct out *o, struct dblog_buf *b)
{
	dblog_buf_adds(b, ",\"source\":");
	dblog_buf_add(b, o->src.p, o->src.len);
	dblog_buf_adds(b, ",\"pos\":");
	position(o, b);
}

static void
tail(struct out *o, struct dblog_buf *b, const char *undo, size_t n)
{
	if (o->ct[0]) {
		dblog_buf_adds(b, ",\"commit_time\":\"");
		dblog_buf_adds(b, o->ct);
		dblog_buf_addc(b, '"');
	}
	dblog_buf_adds(b, ",\"origin\":{\"kind\":\"flashback\",\"undoes\":{");
	dblog_buf_add(b, undo, n);
	dblog_buf_adds(b, "}}}");
}

static void
emit_control(struct out *o, const char *op)
{
	struct dblog_buf *b = &o->line;
	dblog_buf_clear(b);
	dblog_buf_printf(b, "{\"op\":\"%s\"", op);
	head(o, b);
	if (op[0] == 'c')
		dblog_buf_printf(b, ",\"count\":%llu", (unsigned long long)o->k);
	tail(o, b, o->undo.p, o->undo.len);
	write_out(o, b->p, b->len, 1);
}

/* A change record: row, op, table NUL, key/before/after NUL, undoes. */
struct rec {
	uint64_t row;
	enum dblog_op op;
	const char *table, *kba, *undo;
	size_t tn, kn, un;
};

static void
parse_rec(const char *p, size_t n, struct rec *r)
{
	memcpy(&r->row, p, 8);
	r->op = (enum dblog_op)p[8];
	r->table = p + 9;
	r->tn = strlen(r->table);
	r->kba = r->table + r->tn + 1;
	r->kn = strlen(r->kba);
	r->undo = r->kba + r->kn + 1;
	r->un = (size_t)(p + n - r->undo);
}

static void
emit_change(struct out *o, const struct rec *r)
{
	struct dblog_buf *b = &o->line;
	char id[37];
	dblog_buf_clear(b);
	dblog_buf_adds(b, "{\"op\":\"");
	dblog_buf_adds(b, dblog_op_name(r->op));
	dblog_buf_adds(b, "\",\"table\":");
	dblog_buf_add(b, r->table, r->tn);
	head(o, b);
	dblog_buf_adds(b, ",\"seq\":");
	dblog_buf_addu(b, o->k);
	dblog_event_id(o->name, o->pos_text, (int64_t)o->k, id);
	dblog_buf_adds(b, ",\"id\":\"");
	dblog_buf_add(b, id, 36);
	dblog_buf_addc(b, '"');
	dblog_buf_add(b, r->kba, r->kn);
	tail(o, b, r->undo, r->un);
	write_out(o, b->p, b->len, 1);
}

/* ------------------------------------------------------------ SQL */

static void
sql_change(struct out *o, const struct rec *r)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	struct dblog_buf *b = &o->line;
	dblog_buf_clear(b);
	dblog_buf_printf(b, "{\"op\":\"%s\",\"table\":", dblog_op_name(r->op));
	dblog_buf_add(b, r->table, r->tn);
	dblog_buf_add(b, r->kba, r->kn);
	dblog_buf_addc(b, '}');
	if (dblog_event_scan(b->p, b->len, &f, &e, &o->tmp))
		return;   /* cannot happen: the engine wrote it */
	dblog_json_unescape(f.table, &o->tname);
	const struct dblog_fbtable *t = dblog_fbtables_get(&o->fb->tables, o->tname.p);
	dblog_buf_clear(&o->what);
	dblog_buf_printf(&o->what, "%s of %s key %.*s undoing {%.*s}", dblog_op_name(r->op),
			 o->tname.p, f.key.p ? (int)f.key.n : 2, f.key.p ? f.key.p : "{}", (int)r->un,
			 r->undo);
	dblog_fbsql_change(&o->body, (enum dblog_fb_dialect)(o->fb->o.sql - 1), &f, o->tname.p, t,
			   o->what.p);
}

static void
sql_tx(struct out *o)
{
	dblog_buf_clear(&o->what);
	dblog_buf_printf(&o->what, "compensating transaction %llu (%llu changes) undoing {%.*s}",
			 (unsigned long long)o->i, (unsigned long long)o->k, (int)o->undo.len,
			 o->undo.p);
	dblog_buf_clear(&o->line);
	dblog_fbsql_tx(&o->line, (enum dblog_fb_dialect)(o->fb->o.sql - 1), o->what.p, &o->body);
	write_out(o, o->line.p, o->line.len, 0);
}

/* ------------------------------------------------------------ the pass */

static void
count(struct out *o, const struct rec *r)
{
	for (size_t i = 0; i < o->ncounts; i++)
		if (o->counts[i].op == r->op && strlen(o->counts[i].table) == r->tn &&
		    !memcmp(o->counts[i].table, r->table, r->tn)) {
			o->counts[i].n++;
			return;
		}
	o->counts = dblog_xrealloc(o->counts, (o->ncounts + 1) * sizeof *o->counts);
	o->counts[o->ncounts++] = (struct count){ dblog_xstrndup(r->table, r->tn), r->op, 1 };
}

static void
left(struct out *o, const struct rec *r)
{
	struct dblog_fb *fb = o->fb;
	fb->nleft++;
	if (fb->left_n++ >= REPORT_MAX)
		return;
	dblog_buf_printf(&fb->left, "  left: %.*s: the %s that undoes {%.*s} (the row was changed "
			 "after the window)\n", (int)r->tn, r->table, dblog_op_name(r->op), (int)r->un,
			 r->undo);
}

/* One record read back. */
static void
record(struct out *o, char type, const char *p, size_t n)
{
	struct dblog_fb *fb = o->fb;
	struct rec r;
	if (type == REC_COMMIT) {
		/* an undone transaction ends: its compensation starts */
		o->i++;
		o->k = 0;
		o->begun = 0;
		dblog_buf_clear(&o->undo);
		dblog_buf_add(&o->undo, p, n);
		dblog_buf_clear(&o->body);
		return;
	}
	if (type == REC_CHANGE) {
		parse_rec(p, n, &r);
		if (fb->o.nonconflict_only && dblog_fbrows_marked(fb->rows, r.row)) {
			left(o, &r);
			return;
		}
		if (!o->begun && !fb->o.plan && !fb->o.sql)
			emit_control(o, "begin");
		o->begun = 1;
		if (fb->o.plan)
			count(o, &r);
		else if (fb->o.sql)
			sql_change(o, &r);
		else
			emit_change(o, &r);
		o->k++;
		return;
	}
	if (!o->begun || fb->o.plan)
		return;
	if (fb->o.sql)
		sql_tx(o);
	else
		emit_control(o, "commit");
}

static void
out_init(struct out *o, struct dblog_fb *fb)
{
	memset(o, 0, sizeof *o);
	o->fb = fb;
	const char *n = fb->src_name ? fb->src_name : "dblog";
	size_t l = strlen(n), sl = strlen(":flashback");
	struct dblog_buf b = { 0 };
	dblog_buf_adds(&b, n);
	/* a flashback of a flashback stays in the same stream */
	if (l < sl || strcmp(n + l - sl, ":flashback"))
		dblog_buf_adds(&b, ":flashback");
	o->name = b.p;
	dblog_buf_adds(&o->src, "{\"driver\":");
	if (fb->driver)
		dblog_json_escape(&o->src, fb->driver, strlen(fb->driver));
	else
		dblog_buf_adds(&o->src, "null");
	dblog_buf_adds(&o->src, ",\"name\":");
	dblog_json_escape(&o->src, o->name, strlen(o->name));
	dblog_buf_addc(&o->src, '}');
	o->base = fb->newest_set ? fb->newest : (struct dblog_pos){ DBLOG_POS_SEQ, 0 };
	if (fb->newest_time_set)
		dblog_time_format(fb->newest_time, o->ct, sizeof o->ct);
}

static void
out_free(struct out *o)
{
	free(o->name);
	struct dblog_buf *bufs[] = { &o->src, &o->line, &o->undo, &o->body, &o->tmp, &o->tname,
				     &o->what };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	for (size_t i = 0; i < o->ncounts; i++)
		free(o->counts[i].table);
	free(o->counts);
}

/* Read the store back; 0, or -1 on a read error (message printed). */
static int
pass(struct out *o)
{
	char type;
	const char *p;
	size_t n;
	int rc;
	if (o->fb->o.sql && !o->fb->o.plan) {
		dblog_fbsql_preamble(&o->line, (enum dblog_fb_dialect)(o->fb->o.sql - 1));
		write_out(o, o->line.p, o->line.len, 0);
	}
	while ((rc = dblog_fbstore_prev(o->fb->st, &type, &p, &n)) > 0 && !o->failed)
		record(o, type, p, n);
	if (rc < 0)
		dblog_err("%s", dblog_fbstore_error(o->fb->st));
	return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ plan */

static const char *
undone_op(enum dblog_op op)
{
	return op == DBLOG_OP_DELETE ? "insert" : op == DBLOG_OP_INSERT ? "delete" : "update";
}

static void
window_text(const struct dblog_fb_opts *w, char *out, size_t n)
{
	char a[40] = "", b[40] = "";
	if (w->has_since && w->since_is_pos)
		dblog_pos_format(&w->since_pos, a, sizeof a);
	else if (w->has_since)
		dblog_time_format(w->since_time, a, sizeof a);
	if (w->has_until && w->until_is_pos)
		dblog_pos_format(&w->until_pos, b, sizeof b);
	else if (w->has_until)
		dblog_time_format(w->until_time, b, sizeof b);
	snprintf(out, n, "%s%s, %s%s%s%s", w->has_since ? "after " : "from the start of the input",
		 a, w->has_until ? "up to " : "to the end of the input", b,
		 w->txs.n ? "; only the given --tx" : "",
		 w->tables.n || w->ops || w->where ? "; selected changes (-t, -o, --where)" : "");
}

static void
plan(struct out *o, FILE *f)
{
	struct dblog_fb *fb = o->fb;
	char w[256], first[32] = "", last[32] = "";
	struct dblog_pos p = o->base;
	p.v += 1;
	dblog_pos_format(&p, first, sizeof first);
	p.v = o->base.v + (o->i ? o->i : 1);
	dblog_pos_format(&p, last, sizeof last);
	window_text(&fb->o, w, sizeof w);
	fprintf(f, "dblog-flashback plan\n");
	fprintf(f, "source:         %s (%s); compensating events as source %s, positions %s to %s\n",
		fb->src_name ? fb->src_name : "-", fb->driver ? fb->driver : "-", o->name, first, last);
	fprintf(f, "window:         %s\n", w);
	fprintf(f, "undo:           %llu transactions, %llu changes, newest first\n",
		(unsigned long long)fb->ntx, (unsigned long long)(fb->nchanges - fb->nleft));
	if (fb->nrecent)
		fprintf(f, "newest transactions undone:\n");
	for (size_t i = 0; i < fb->nrecent; i++) {
		const struct fb_txinfo *t = &fb->recent[(fb->ntx - 1 - i) % PLAN_TX];
		fprintf(f, "  pos %-18s tx %-10s %-28s %llu changes\n", t->pos, t->tx[0] ? t->tx : "-",
			t->time, (unsigned long long)t->n);
	}
	if (fb->ntx > fb->nrecent)
		fprintf(f, "  ... and %llu older\n", (unsigned long long)(fb->ntx - fb->nrecent));
	if (o->ncounts)
		fprintf(f, "rows by table and op (undone op -> compensating op):\n");
	for (size_t i = 0; i < o->ncounts; i++) {
		dblog_buf_clear(&o->tname);
		dblog_json_unescape((struct dblog_span){ o->counts[i].table, strlen(o->counts[i].table) },
				    &o->tname);
		fprintf(f, "  %-30s %s -> %-8s %llu\n", o->tname.p, undone_op(o->counts[i].op),
			dblog_op_name(o->counts[i].op), (unsigned long long)o->counts[i].n);
	}
	fprintf(f, "refused:        %llu%s\n", (unsigned long long)fb->nrefused,
		fb->nrefused ? (fb->o.allow_partial ? " (left out: --allow-partial)" : " (the run "
				"fails: fix them or give --allow-partial)") : "");
	if (!fb->o.check_later)
		fprintf(f, "later changes:  not checked (give --check-later with the events after "
			"the window)\n");
	else
		fprintf(f, "later changes:  %llu%s\n", (unsigned long long)fb->nconflicts,
			!fb->nconflicts ? "" : fb->o.nonconflict_only ? " (their rows are left out: "
			"--nonconflict-only)" : " (the run fails: give --cascade or --nonconflict-only)");
	if (fb->o.cascade)
		fprintf(f, "cascade:        later transactions that touched the same rows are undone "
			"too\n");
	if (fb->nleft)
		fprintf(f, "left out:       %llu changes of rows changed after the window\n",
			(unsigned long long)fb->nleft);
	fputs(fb->report.p ? fb->report.p : "", f);
	if (fb->report_n > REPORT_MAX)
		fprintf(f, "  ... and %llu more\n", (unsigned long long)(fb->report_n - REPORT_MAX));
	fputs(fb->left.p ? fb->left.p : "", f);
	if (fb->left_n > REPORT_MAX)
		fprintf(f, "  ... and %llu more\n", (unsigned long long)(fb->left_n - REPORT_MAX));
}

/* ------------------------------------------------------------ report */

void
dblog_fb_report(struct dblog_fb *fb, FILE *f)
{
	fputs(fb->report.p ? fb->report.p : "", f);
	if (fb->report_n > REPORT_MAX)
		fprintf(f, "  ... and %llu more\n", (unsigned long long)(fb->report_n - REPORT_MAX));
	fputs(fb->left.p ? fb->left.p : "", f);
	if (fb->left_n > REPORT_MAX)
		fprintf(f, "  ... and %llu more\n", (unsigned long long)(fb->left_n - REPORT_MAX));
}

static int
refuse(struct dblog_fb *fb)
{
	int conflicts = fb->nconflicts && !fb->o.cascade && !fb->o.nonconflict_only;
	if (fb->nrefused && !fb->o.allow_partial)
		dblog_err("%llu changes of the window cannot be undone; nothing was written "
			  "(--allow-partial undoes the rest):", (unsigned long long)fb->nrefused);
	else if (conflicts)
		dblog_err("%llu later changes touch rows of the window; nothing was written "
			  "(--cascade undoes them too, --nonconflict-only leaves those rows out):",
			  (unsigned long long)fb->nconflicts);
	else
		return 0;
	dblog_fb_report(fb, stderr);
	return 1;
}

int
dblog_fb_output(struct dblog_fb *fb)
{
	struct out o;
	int status = DBLOG_EXIT_OK;
	int refusing = (fb->nrefused && !fb->o.allow_partial) ||
		       (fb->nconflicts && !fb->o.cascade && !fb->o.nonconflict_only);
	out_init(&o, fb);
	if (fb->o.plan) {
		if (pass(&o))
			status = DBLOG_EXIT_FAIL;
		plan(&o, fb->out);
		if (ferror(fb->out))
			o.failed = 1;
		status = refusing ? DBLOG_EXIT_FAIL : status;
	} else if (refusing) {
		refuse(fb);
		status = DBLOG_EXIT_FAIL;
	} else {
		if (pass(&o))
			status = DBLOG_EXIT_FAIL;
		if (fb->nrefused || fb->nleft) {
			dblog_warn("%llu changes refused, %llu left out because their rows changed "
				   "later; the rest is written:", (unsigned long long)fb->nrefused,
				   (unsigned long long)fb->nleft);
			dblog_fb_report(fb, stderr);
		}
	}
	if (o.failed)
		dblog_die_write();
	out_free(&o);
	return status;
}
