/* progress.c - the position a stream has applied, as dblog-apply keeps
 * it: the last one committed in the destination and the last one complete
 * in the open batch. The batch's position is kept as the bytes of the
 * event that completed it and built as JSON only when it is written, so
 * following it costs no allocation per event. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

/* The reference is_new compares with, from a position object. */
static void
ref_from_json(struct dblog_progress *p, const json_t *j)
{
	json_t *u = json_object_get(j, "unfinished");
	p->hole_set = u && !dblog_pos_from_json(json_object_get(u, "pos"), &p->hole_pos);
	/* a position object may hold only "unfinished" (nothing applied yet) */
	p->ref_set = j != NULL && json_object_get(j, "pos");
	if (!p->ref_set)
		return;
	dblog_checkpoint_pos(j, &p->ref_pos, &p->ref_seq, &p->ref_has_seq);
	json_t *so = json_object_get(j, "source");
	const char *src = json_string_value(json_object_get(so, "name"));
	p->ref_src_set = src != NULL;
	dblog_buf_clear(&p->ref_src);
	if (src)
		dblog_buf_adds(&p->ref_src, src);
	const char *id = json_string_value(json_object_get(so, "identity"));
	p->ref_ident_set = id != NULL;
	dblog_buf_clear(&p->ref_ident);
	if (id)
		dblog_buf_adds(&p->ref_ident, id);
}

/* Is the event's source name the default one of its identity
 * ("<database>@<system identifier>" of "<system identifier>/<database>")? */
static int
default_name_of(struct dblog_span name, struct dblog_span ident, struct dblog_buf *scratch)
{
	const char *s;
	size_t n;
	if (!dblog_json_str(ident, scratch, &s, &n))
		return 0;
	const char *slash = memchr(s, '/', n);
	if (!slash)
		return 0;
	struct dblog_buf want = { 0 };
	dblog_buf_add(&want, slash + 1, n - (size_t)(slash - s) - 1);
	dblog_buf_addc(&want, '@');
	dblog_buf_add(&want, s, (size_t)(slash - s));
	int same = dblog_json_streq(name, want.p, want.len);
	dblog_buf_free(&want);
	return same;
}

void
dblog_progress_init(struct dblog_progress *p, json_t *applied)
{
	memset(p, 0, sizeof *p);
	p->applied = applied;
	ref_from_json(p, applied);
}

void
dblog_progress_free(struct dblog_progress *p)
{
	json_decref(p->applied);
	json_decref(p->pending);
	dblog_buf_free(&p->lazy);
	dblog_buf_free(&p->ref_src);
	dblog_buf_free(&p->ref_ident);
	dblog_buf_free(&p->scratch);
	memset(p, 0, sizeof *p);
}

int
dblog_progress_is_new(struct dblog_progress *p, const struct dblog_fields *f)
{
	if ((!p->ref_set && !p->hole_set) || !f->pos.p || f->cursor.p)
		return 1;   /* incremental rows are idempotent upserts */
	struct dblog_pos ep;
	if (dblog_pos_from_span(f->pos, &ep))
		return -1;
	int bad = 0;
	if (p->hole_set && dblog_pos_cmp(&ep, &p->hole_pos, &bad) > 0)
		return -3;
	if (bad)
		return -1;
	if (!p->ref_set)
		return 1;
	struct dblog_span sn = dblog_json_member(f->source, "name", 4);
	struct dblog_span si = dblog_json_member(f->source, "identity", 8);
	if (p->ref_src_set && sn.p && !dblog_json_streq(sn, p->ref_src.p, p->ref_src.len)) {
		/* the old default name, written before identities: taken over by
		 * the new default name of the same source */
		if (p->ref_src.len != 8 || memcmp(p->ref_src.p, "postgres", 8) || p->ref_ident_set || !si.p ||
		    !default_name_of(sn, si, &p->scratch))
			return -2;
	} else if (p->ref_ident_set && sn.p && si.p &&
		   !dblog_json_streq(si, p->ref_ident.p, p->ref_ident.len)) {
		return -4;
	}
	int64_t eseq = f->seq.p && DBLOG_OP_IS_CHANGE(f->op) ? strtoll(f->seq.p, NULL, 10) : -1;
	if (!DBLOG_OP_IS_CHANGE(f->op) && p->ref_has_seq && !dblog_pos_cmp(&ep, &p->ref_pos, NULL))
		return 1;
	return dblog_pos_after(&ep, eseq, &p->ref_pos, p->ref_seq, p->ref_has_seq);
}

/* The position object of an event: source, pos, [seq], tx, commit_time. */
static json_t *
position_of(const struct dblog_fields *f, int with_seq)
{
	json_t *j = json_object();
	const struct { const char *name; struct dblog_span v; } fs[] = {
		{ "source", f->source }, { "pos", f->pos },
		{ "seq", with_seq ? f->seq : (struct dblog_span){ 0 } },
		{ "tx", f->tx }, { "commit_time", f->commit_time },
	};
	for (size_t i = 0; i < sizeof fs / sizeof *fs; i++) {
		if (!fs[i].v.p)
			continue;
		json_t *v = json_loadb(fs[i].v.p, fs[i].v.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (v)
			json_object_set_new(j, fs[i].name, v);
	}
	return j;
}

/* Build the pending position from the event that completed it. */
static void
build(struct dblog_progress *p, const struct dblog_fields *f, int with_seq)
{
	json_t *prev = p->pending ? p->pending : p->applied;
	json_t *cursor = json_object_get(prev, "cursor");
	json_t *j = position_of(f, with_seq);
	/* an event without identity (written before identities) under the
	 * name recorded keeps the identity recorded */
	json_t *ps = json_object_get(prev, "source"), *ns = json_object_get(j, "source");
	json_t *pid = json_object_get(ps, "identity");
	if (json_is_object(ns) && pid && !json_object_get(ns, "identity") &&
	    json_equal(json_object_get(ps, "name"), json_object_get(ns, "name")))
		json_object_set(ns, "identity", pid);
	if (cursor)
		json_object_set_new(j, "cursor", json_deep_copy(cursor));
	dblog_cursor_merge(j, f->cursor);
	/* an unfinished transaction stays until a position reaches it */
	json_t *u = json_object_get(prev, "unfinished");
	struct dblog_pos up, np;
	int bad = 0;
	if (u && !dblog_pos_from_json(json_object_get(u, "pos"), &up) &&
	    (dblog_pos_from_span(f->pos, &np) || dblog_pos_cmp(&np, &up, &bad) < 0 || bad))
		json_object_set(j, "unfinished", u);
	/* a position inside a snapshot: an interrupted snapshot is redone (so
	 * too at the truncate that starts a table of a snapshot read again:
	 * outside any transaction) */
	if ((f->op == DBLOG_OP_SNAPSHOT || (f->op == DBLOG_OP_TRUNCATE && !f->tx.p)) && !f->cursor.p)
		json_object_set_new(j, "snapshot", json_true());
	json_decref(p->pending);
	p->pending = j;
}

json_t *
dblog_progress_pending(struct dblog_progress *p)
{
	if (p->lazy_set) {
		struct dblog_fields f;
		struct dblog_jerr e;
		if (dblog_event_scan(p->lazy.p, p->lazy.len, &f, &e, &p->scratch) == 0)
			build(p, &f, p->lazy_seq);
		p->lazy_set = 0;
	}
	return p->pending;
}

void
dblog_progress_complete(struct dblog_progress *p, const struct dblog_fields *f, const char *line,
			size_t n, int with_seq)
{
	if (f->cursor.p) {
		/* cursors merge into the previous position: build it now */
		dblog_progress_pending(p);
		build(p, f, with_seq);
	} else {
		dblog_buf_clear(&p->lazy);
		dblog_buf_add(&p->lazy, line, n);
		p->lazy_seq = with_seq;
		p->lazy_set = 1;
	}
	/* what the next events compare with */
	p->ref_set = 1;
	if (!f->pos.p || dblog_pos_from_span(f->pos, &p->ref_pos))
		p->ref_pos = (struct dblog_pos){ 0 };
	int bad = 0;
	if (p->hole_set && dblog_pos_cmp(&p->ref_pos, &p->hole_pos, &bad) >= 0 && !bad)
		p->hole_set = 0;
	p->ref_has_seq = with_seq && f->seq.p;
	p->ref_seq = p->ref_has_seq ? strtoll(f->seq.p, NULL, 10) : -1;
	struct dblog_span sn = dblog_json_member(f->source, "name", 4);
	const char *s;
	size_t sl;
	int same = p->ref_src_set && sn.p && dblog_json_streq(sn, p->ref_src.p, p->ref_src.len);
	p->ref_src_set = sn.p && dblog_json_str(sn, &p->scratch, &s, &sl);
	dblog_buf_clear(&p->ref_src);
	if (p->ref_src_set)
		dblog_buf_add(&p->ref_src, s, sl);
	/* the identity: the event's; without one, the one recorded stays */
	struct dblog_span si = dblog_json_member(f->source, "identity", 8);
	if (si.p && dblog_json_str(si, &p->scratch, &s, &sl)) {
		p->ref_ident_set = 1;
		dblog_buf_clear(&p->ref_ident);
		dblog_buf_add(&p->ref_ident, s, sl);
	} else if (!same) {
		p->ref_ident_set = 0;
		dblog_buf_clear(&p->ref_ident);
	}
}

void
dblog_progress_identity_clash(struct dblog_progress *p, const struct dblog_fields *f, char *out,
			      size_t n)
{
	struct dblog_span si = dblog_json_member(f->source, "identity", 8);
	const char *s = "?";
	size_t sl = 1;
	if (!si.p || !dblog_json_str(si, &p->scratch, &s, &sl))
		s = "?", sl = 1;
	snprintf(out, n, "source \"%s\" is recorded from the server with identity %s; this event "
		 "comes from %.*s", p->ref_src.p ? p->ref_src.p : "?",
		 p->ref_ident.p ? p->ref_ident.p : "?", (int)sl, s);
}

int
dblog_progress_commit(struct dblog_progress *p)
{
	if (!dblog_progress_pending(p))
		return 0;
	json_decref(p->applied);
	p->applied = p->pending;
	p->pending = NULL;
	return 1;
}

void
dblog_progress_drop(struct dblog_progress *p)
{
	json_decref(p->pending);
	p->pending = NULL;
	p->lazy_set = 0;
	ref_from_json(p, p->applied);
}

void
dblog_progress_unfinished(struct dblog_progress *p, const struct dblog_fields *f)
{
	struct dblog_pos hp;
	if (!f->pos.p || !f->tx.p || dblog_pos_from_span(f->pos, &hp))
		return;
	json_t *prev = dblog_progress_pending(p);
	if (!prev)
		prev = p->applied;
	json_t *j = prev ? json_deep_copy(prev) : json_object();
	if (!json_object_get(j, "source") && f->source.p)
		json_object_set_new(j, "source", json_loadb(f->source.p, f->source.n, 0, NULL));
	json_t *u = json_object();
	json_object_set_new(u, "pos", json_loadb(f->pos.p, f->pos.n, JSON_DECODE_ANY, NULL));
	json_object_set_new(u, "tx", json_loadb(f->tx.p, f->tx.n, JSON_DECODE_ANY, NULL));
	json_object_set_new(j, "unfinished", u);
	json_decref(p->pending);
	p->pending = j;
	p->hole_set = 1;
	p->hole_pos = hp;
}

void
dblog_progress_describe(struct dblog_progress *p, char *out, size_t n)
{
	dblog_position_describe(p->applied, out, n);
}

void
dblog_position_describe(const json_t *j, char *out, size_t n)
{
	json_t *pos = json_object_get(j, "pos");
	if (!pos) {
		snprintf(out, n, "nothing yet");
		return;
	}
	struct dblog_pos ps;
	char text[32] = "?", extra[64] = "";
	if (!dblog_pos_from_json(pos, &ps))
		dblog_pos_format(&ps, text, sizeof text);
	json_t *seq = json_object_get(j, "seq"), *tx = json_object_get(j, "tx");
	if (json_is_integer(seq))
		snprintf(extra, sizeof extra, " seq %lld", (long long)json_integer_value(seq));
	else if (json_is_integer(tx))
		snprintf(extra, sizeof extra, " (tx %lld)", (long long)json_integer_value(tx));
	snprintf(out, n, "pos %s%s", text, extra);
}

void
dblog_tx_describe(const struct dblog_fields *f, char *out, size_t n)
{
	struct dblog_pos p;
	char pos[32] = "-";
	if (f->pos.p && !dblog_pos_from_span(f->pos, &p))
		dblog_pos_format(&p, pos, sizeof pos);
	snprintf(out, n, "transaction %.*s (pos %s)", (int)(f->tx.n < 40 ? f->tx.n : 40),
		 f->tx.p ? f->tx.p : "-", pos);
}
