/* flashback_window.c - which changes dblog-flashback(1) undoes: by
 * position, time, transaction, table, op and --where expression. */
#include <string.h>

#include "flashback.h"

static struct dblog_span
span_of(const struct dblog_buf *b)
{
	return (struct dblog_span){ b->len ? b->p : NULL, b->len };
}

static int
pos_in(struct dblog_fb *fb, struct dblog_span v, uint64_t lineno)
{
	const struct dblog_fb_opts *o = &fb->o;
	struct dblog_pos pos;
	int bad = 0;
	if ((o->has_since && o->since_is_pos) || (o->has_until && o->until_is_pos)) {
		if (!v.p || dblog_pos_from_span(v, &pos))
			return 0;
		if (o->has_since && o->since_is_pos && dblog_pos_cmp(&pos, &o->since_pos, &bad) <= 0)
			return 0;
		if (o->has_until && o->until_is_pos && dblog_pos_cmp(&pos, &o->until_pos, &bad) > 0)
			return 0;
		if (bad) {
			dblog_err("line %llu: the positions of the events and of --since/--until are "
				  "of different kinds (an LSN like 0/16B3748 and a sequence number)",
				  (unsigned long long)lineno);
			fb->fatal = 1;
			return 0;
		}
	}
	return 1;
}

static int
time_in(struct dblog_fb *fb, struct dblog_span v)
{
	const struct dblog_fb_opts *o = &fb->o;
	if ((!o->has_since || o->since_is_pos) && (!o->has_until || o->until_is_pos))
		return 1;
	const char *p;
	size_t n;
	int64_t us;
	if (dblog_json_type(v) != DBLOG_J_STRING || !dblog_json_str(v, &fb->scratch, &p, &n) ||
	    dblog_time_parse(p, n, &us))
		return 0;
	if (o->has_since && !o->since_is_pos && us <= o->since_time)
		return 0;
	return !(o->has_until && !o->until_is_pos && us > o->until_time);
}

static int
tx_in(struct dblog_fb *fb, struct dblog_span v)
{
	if (!fb->o.txs.n)
		return 1;
	const char *p;
	size_t n;
	if (!v.p)
		return 0;
	if (dblog_json_type(v) == DBLOG_J_STRING)
		dblog_json_str(v, &fb->scratch, &p, &n);
	else
		p = v.p, n = v.n;
	return dblog_list_has(&fb->o.txs, p, n);
}

int
dblog_fb_in_window(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno)
{
	struct dblog_span pos = f->pos.p ? f->pos : span_of(&fb->tx_pos);
	struct dblog_span t = f->commit_time.p ? f->commit_time : span_of(&fb->tx_time);
	struct dblog_span tx = f->tx.p ? f->tx : span_of(&fb->tx_tx);
	if (!pos_in(fb, pos, lineno) || !time_in(fb, t) || !tx_in(fb, tx))
		return 0;
	if (fb->o.tables.n) {
		dblog_json_unescape(f->table, &fb->name);
		dblog_buf_add(&fb->name, "", 0);
		size_t i;
		for (i = 0; i < fb->o.tables.n; i++)
			if (dblog_glob(fb->o.tables.v[i], fb->name.p, fb->name.len))
				break;
		if (i == fb->o.tables.n)
			return 0;
	}
	return 1;
}

int
dblog_fb_selected(struct dblog_fb *fb, const struct dblog_fields *f, uint64_t lineno)
{
	if (!DBLOG_OP_IS_CHANGE(f->op) || f->op == DBLOG_OP_SNAPSHOT)
		return 0;
	if (fb->o.ops && !(fb->o.ops & (1u << f->op)))
		return 0;
	return dblog_fb_in_window(fb, f, lineno) && (!fb->o.where || dblog_expr_eval(fb->o.where, f));
}
