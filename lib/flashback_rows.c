/* flashback_rows.c - the rows a window touched, by table and key, for
 * --check-later: an open-addressing hash table from "table NUL key" to a
 * row number, and one mark per row number. A row whose key a change of
 * the window changed is found under both keys, with one number. */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_flashback.h"

struct entry {
	char *k;         /* table NUL key */
	size_t n;
	uint64_t row;
	unsigned h;
};

struct dblog_fbrows {
	struct entry *v;
	size_t cap, used;
	uint64_t rows;
	unsigned char *marks;   /* one byte per row number */
	size_t nmarks;
	struct dblog_buf tmp;
};

struct dblog_fbrows *
dblog_fbrows_new(void)
{
	struct dblog_fbrows *r = dblog_xmalloc(sizeof *r);
	memset(r, 0, sizeof *r);
	r->cap = 1024;
	r->v = dblog_xmalloc(r->cap * sizeof *r->v);
	memset(r->v, 0, r->cap * sizeof *r->v);
	return r;
}

/* FNV-1a. */
static unsigned
hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static const char *
join(struct dblog_fbrows *r, const char *table, const char *key, size_t n, size_t *len)
{
	dblog_buf_clear(&r->tmp);
	dblog_buf_adds(&r->tmp, table);
	dblog_buf_addc(&r->tmp, 0);
	dblog_buf_add(&r->tmp, key, n);
	*len = r->tmp.len;
	return r->tmp.p;
}

/* The slot of k: its entry, or the empty slot where it would go. */
static struct entry *
slot(struct dblog_fbrows *r, const char *k, size_t n, unsigned h)
{
	size_t i = h & (r->cap - 1);
	while (r->v[i].k && (r->v[i].h != h || r->v[i].n != n || memcmp(r->v[i].k, k, n)))
		i = (i + 1) & (r->cap - 1);
	return &r->v[i];
}

static void
grow(struct dblog_fbrows *r)
{
	struct entry *old = r->v;
	size_t ocap = r->cap;
	r->cap *= 2;
	r->v = dblog_xmalloc(r->cap * sizeof *r->v);
	memset(r->v, 0, r->cap * sizeof *r->v);
	for (size_t i = 0; i < ocap; i++)
		if (old[i].k)
			*slot(r, old[i].k, old[i].n, old[i].h) = old[i];
	free(old);
}

uint64_t
dblog_fbrows_find(struct dblog_fbrows *r, const char *table, const char *key, size_t n)
{
	size_t len;
	const char *k = join(r, table, key, n, &len);
	struct entry *e = slot(r, k, len, hash(k, len));
	return e->k ? e->row : 0;
}

uint64_t
dblog_fbrows_add(struct dblog_fbrows *r, const char *table, const char *key, size_t n,
		 uint64_t row)
{
	if (2 * (r->used + 1) > r->cap)
		grow(r);
	size_t len;
	const char *k = join(r, table, key, n, &len);
	unsigned h = hash(k, len);
	struct entry *e = slot(r, k, len, h);
	if (e->k)
		return e->row;
	if (!row)
		row = ++r->rows;
	*e = (struct entry){ dblog_xmalloc(len), len, row, h };
	memcpy(e->k, k, len);   /* the table's NUL too */
	r->used++;
	return row;
}

void
dblog_fbrows_mark(struct dblog_fbrows *r, uint64_t row)
{
	if (!row)
		return;
	if (row >= r->nmarks) {
		size_t n = r->nmarks ? r->nmarks : 1024;
		while (n <= row)
			n *= 2;
		r->marks = dblog_xrealloc(r->marks, n);
		memset(r->marks + r->nmarks, 0, n - r->nmarks);
		r->nmarks = n;
	}
	r->marks[row] = 1;
}

int
dblog_fbrows_marked(const struct dblog_fbrows *r, uint64_t row)
{
	return row && row < r->nmarks && r->marks[row];
}

void
dblog_fbrows_mark_table(struct dblog_fbrows *r, const char *table)
{
	size_t tl = strlen(table);
	for (size_t i = 0; i < r->cap; i++)
		if (r->v[i].k && r->v[i].n > tl && !memcmp(r->v[i].k, table, tl + 1))
			dblog_fbrows_mark(r, r->v[i].row);
}

void
dblog_fbrows_free(struct dblog_fbrows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->cap; i++)
		free(r->v[i].k);
	free(r->v);
	free(r->marks);
	dblog_buf_free(&r->tmp);
	free(r);
}
