/* flashback_invert.c - the compensating change of one change, and what is
 * known of each table to tell whether an old row is whole. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_flashback.h"

/* ------------------------------------------------------------ tables */

struct dblog_fbtable *
dblog_fbtables_get(struct dblog_fbtables *t, const char *name)
{
	for (size_t i = t->n; i-- > 0;)
		if (!strcmp(t->v[i]->name, name))
			return t->v[i];
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->v = dblog_xrealloc(t->v, t->cap * sizeof *t->v);
	}
	struct dblog_fbtable *e = dblog_xmalloc(sizeof *e);
	memset(e, 0, sizeof *e);
	e->name = dblog_xstrdup(name);
	t->v[t->n++] = e;
	return e;
}

void
dblog_fbtables_free(struct dblog_fbtables *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i]->name);
		free(t->v[i]->columns);
		dblog_list_free(&t->v[i]->cols);
		dblog_list_free(&t->v[i]->types);
		free(t->v[i]);
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* Append the decoded string s to list l. */
static void
list_add(struct dblog_list *l, struct dblog_span s, struct dblog_buf *tmp)
{
	const char *p = "";
	size_t n = 0;
	if (s.p)
		dblog_json_str(s, tmp, &p, &n);
	l->v = dblog_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = dblog_xstrndup(p, n);
}

int
dblog_fbtable_schema(struct dblog_fbtable *t, struct dblog_span columns)
{
	if (dblog_json_type(columns) != DBLOG_J_ARRAY)
		return 0;
	int changed = t->columns && (strlen(t->columns) != columns.n ||
				     memcmp(t->columns, columns.p, columns.n));
	if (t->columns && !changed)
		return 0;
	free(t->columns);
	t->columns = dblog_xstrndup(columns.p, columns.n);
	dblog_list_free(&t->cols);
	dblog_list_free(&t->types);
	struct dblog_buf tmp = { 0 };
	struct dblog_span c;
	const char *it = NULL;
	while (dblog_json_next_elem(columns, &it, &c)) {
		if (dblog_json_type(c) != DBLOG_J_OBJECT)
			continue;
		if (dblog_json_type(dblog_json_member(c, "hidden", 6)) == DBLOG_J_TRUE)
			continue;
		struct dblog_span nm = dblog_json_member(c, "name", 4);
		struct dblog_span ty = dblog_json_member(c, "type", 4);
		if (dblog_json_type(nm) != DBLOG_J_STRING)
			continue;
		list_add(&t->cols, nm, &tmp);
		list_add(&t->types, dblog_json_type(ty) == DBLOG_J_STRING ? ty : (struct dblog_span){ 0 },
			 &tmp);
	}
	dblog_buf_free(&tmp);
	return changed;
}

const char *
dblog_fbtable_type(const struct dblog_fbtable *t, const char *name, size_t n)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->cols.n; i++)
		if (strlen(t->cols.v[i]) == n && !memcmp(t->cols.v[i], name, n))
			return t->types.v[i][0] ? t->types.v[i] : NULL;
	return NULL;
}

/* ------------------------------------------------------------ keys */

void
dblog_fb_key_text(struct dblog_span key, struct dblog_buf *out)
{
	dblog_buf_clear(out);
	if (dblog_json_type(key) != DBLOG_J_OBJECT)
		return;
	struct dblog_span k, v;
	const char *it = NULL;
	dblog_buf_addc(out, '{');
	while (dblog_json_next(key, &it, &k, &v)) {
		if (out->len > 1)
			dblog_buf_addc(out, ',');
		dblog_buf_add(out, k.p, k.n);
		dblog_buf_addc(out, ':');
		dblog_buf_add(out, v.p, v.n);
	}
	dblog_buf_addc(out, '}');
}

/* The member of obj named like the JSON string span name. */
static struct dblog_span
member(struct dblog_span obj, struct dblog_span name, struct dblog_buf *tmp)
{
	const char *p;
	size_t n;
	if (dblog_json_type(obj) != DBLOG_J_OBJECT || !dblog_json_str(name, tmp, &p, &n))
		return (struct dblog_span){ 0 };
	return dblog_json_member(obj, p, n);
}

static size_t
count_members(struct dblog_span obj)
{
	struct dblog_span k, v;
	const char *it = NULL;
	size_t n = 0;
	if (dblog_json_type(obj) != DBLOG_J_OBJECT)
		return 0;
	while (dblog_json_next(obj, &it, &k, &v))
		n++;
	return n;
}

/* ------------------------------------------------------------ refusals */

static int
refuse(struct dblog_fbrefusal *r, const char *why)
{
	r->why = why;
	dblog_buf_clear(&r->fix);
	return -1;
}

/* The fix of a PostgreSQL table whose old rows are not whole. */
static int
refuse_identity(struct dblog_fbrefusal *r, const char *why, const char *table)
{
	refuse(r, why);
	struct dblog_buf schema = { 0 }, name = { 0 };
	int has;
	dblog_table_split_or_whole(table, &schema, &name, &has);
	dblog_buf_adds(&r->fix, "run ALTER TABLE ");
	if (has) {
		dblog_sql_ident(&r->fix, schema.p);
		dblog_buf_addc(&r->fix, '.');
	}
	dblog_sql_ident(&r->fix, name.p);
	dblog_buf_free(&schema);
	dblog_buf_free(&name);
	dblog_buf_adds(&r->fix, " REPLICA IDENTITY FULL; so that later changes can be undone; "
		       "restore this row from a backup, or give --allow-partial to undo the rest");
	return -1;
}

/* Is f's "before" the whole old row? 0, or -1 with r filled. */
static int
before_whole(const struct dblog_fields *f, struct dblog_fbtable *t, const char *driver,
	     struct dblog_fbrefusal *r, struct dblog_buf *tmp)
{
	int pg = !driver || (strcmp(driver, "sqlite") && strcmp(driver, "flashback"));
	if (dblog_json_type(f->before) != DBLOG_J_OBJECT)
		return pg ? refuse_identity(r, "the event has no old row (PostgreSQL sends it "
					    "only for tables with REPLICA IDENTITY FULL)", t->name)
			  : refuse(r, "the event has no old row (\"before\")");
	if (!pg)
		return 0;   /* SQLite captures always send the whole old row; the
			       compensating events hold what their inverse needs */
	if (t->cols.n) {
		for (size_t i = 0; i < t->cols.n; i++)
			if (!dblog_json_member(f->before, t->cols.v[i], strlen(t->cols.v[i])).p)
				return refuse_identity(r, "the old row holds only some columns (the "
						       "table's REPLICA IDENTITY is not FULL)", t->name);
		return 0;
	}
	/* no schema event: whole if it holds more than the key, or as many
	 * columns as the table's new rows have */
	struct dblog_span k, v;
	const char *it = NULL;
	while (dblog_json_next(f->before, &it, &k, &v))
		if (!member(f->key, k, tmp).p)
			return 0;
	size_t nb = count_members(f->before);
	if (t->max_after && nb >= t->max_after)
		return 0;
	return refuse_identity(r, "the old row holds only the key columns, and no schema event "
			       "of the table on the input tells that it has no others (REPLICA "
			       "IDENTITY is not FULL?)", t->name);
}

/* ------------------------------------------------------------ inversion */

static void
member_out(struct dblog_buf *out, struct dblog_span k, struct dblog_span v)
{
	if (out->p[out->len - 1] != '{')
		dblog_buf_addc(out, ',');
	dblog_buf_add(out, k.p, k.n);
	dblog_buf_addc(out, ':');
	dblog_buf_add(out, v.p, v.n);
}

/* The update that undoes update f (whose old row is whole). */
static int
invert_update(const struct dblog_fields *f, struct dblog_buf *out, struct dblog_buf *key_new,
	      struct dblog_buf *tmp)
{
	struct dblog_buf b = { 0 }, a = { 0 };
	struct dblog_span k, bv;
	const char *it = NULL;
	int changed = 0;
	dblog_buf_addc(&b, '{');
	dblog_buf_addc(&a, '{');
	const char *ait = NULL;
	while (dblog_json_next(f->before, &it, &k, &bv)) {
		/* after usually lists the columns in the same order */
		struct dblog_span ak, av;
		const char *save = ait;
		if (!dblog_json_next(f->after, &ait, &ak, &av) || ak.n != k.n || memcmp(ak.p, k.p, k.n)) {
			ait = save;
			av = member(f->after, k, tmp);
		}
		int in_key = member(f->key, k, tmp).p != NULL;
		int ch = av.p && (av.n != bv.n || memcmp(av.p, bv.p, av.n));
		changed |= ch;
		if (!in_key && !ch)
			continue;
		member_out(&b, k, av.p ? av : bv);
		member_out(&a, k, bv);
	}
	dblog_buf_addc(&b, '}');
	dblog_buf_addc(&a, '}');
	/* the row's key after f, in the order of f's key */
	dblog_buf_clear(key_new);
	dblog_buf_addc(key_new, '{');
	it = NULL;
	while (dblog_json_type(f->key) == DBLOG_J_OBJECT && dblog_json_next(f->key, &it, &k, &bv)) {
		struct dblog_span av = member(f->after, k, tmp);
		member_out(key_new, k, av.p ? av : bv);
	}
	dblog_buf_addc(key_new, '}');
	if (changed) {
		dblog_buf_adds(out, ",\"key\":");
		dblog_buf_add(out, key_new->p, key_new->len);
		dblog_buf_adds(out, ",\"before\":");
		dblog_buf_add(out, b.p, b.len);
		dblog_buf_adds(out, ",\"after\":");
		dblog_buf_add(out, a.p, a.len);
	}
	dblog_buf_free(&b);
	dblog_buf_free(&a);
	return changed;
}

int
dblog_fb_invert(const struct dblog_fields *f, struct dblog_fbtable *t, const char *driver,
		enum dblog_op *op, struct dblog_buf *out, struct dblog_buf *key_old,
		struct dblog_buf *key_new, struct dblog_fbrefusal *r)
{
	static struct dblog_buf tmp;   /* scratch, kept between calls */
	dblog_buf_clear(out);
	dblog_fb_key_text(f->key, key_old);
	switch (f->op) {
	case DBLOG_OP_INSERT:
		if (dblog_json_type(f->after) != DBLOG_J_OBJECT)
			return refuse(r, "the insert has no new row (\"after\")");
		*op = DBLOG_OP_DELETE;
		if (f->key.p) {
			dblog_buf_adds(out, ",\"key\":");
			dblog_buf_add(out, f->key.p, f->key.n);
		}
		dblog_buf_adds(out, ",\"before\":");
		dblog_buf_add(out, f->after.p, f->after.n);
		dblog_buf_clear(key_new);
		dblog_buf_add(key_new, key_old->p, key_old->len);
		return 1;
	case DBLOG_OP_DELETE:
		if (before_whole(f, t, driver, r, &tmp))
			return -1;
		*op = DBLOG_OP_INSERT;
		if (f->key.p) {
			dblog_buf_adds(out, ",\"key\":");
			dblog_buf_add(out, f->key.p, f->key.n);
		}
		dblog_buf_adds(out, ",\"after\":");
		dblog_buf_add(out, f->before.p, f->before.n);
		dblog_buf_clear(key_new);
		dblog_buf_add(key_new, key_old->p, key_old->len);
		return 1;
	case DBLOG_OP_UPDATE:
		if (dblog_json_type(f->after) != DBLOG_J_OBJECT)
			return refuse(r, "the update has no new row (\"after\")");
		if (before_whole(f, t, driver, r, &tmp))
			return -1;
		*op = DBLOG_OP_UPDATE;
		return invert_update(f, out, key_new, &tmp);
	case DBLOG_OP_TRUNCATE:
		refuse(r, "a truncate cannot be undone: the rows it removed are not in the events");
		dblog_buf_adds(&r->fix, "restore the table from a backup or a snapshot, leave it "
			       "out of the window (-t, --since, --until), or give --allow-partial "
			       "to undo the rest");
		return -1;
	default:
		return refuse(r, "not a change that can be undone");
	}
}
