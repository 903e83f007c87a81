/* sink_pg_bulk.c - the bulk path of the PostgreSQL sink. In pipeline mode
 * (source_wins without --dlq) a run of changes to one table with one column
 * set (inserts, snapshot rows, full-image updates that keep the key, and
 * deletes by primary key) is staged here instead of being sent row by row,
 * then goes out as one of:
 *   - COPY straight into the table, under a savepoint, when the run holds
 *     only inserts and is long: the snapshot load. A row that is already
 *     there fails the COPY; the savepoint takes it back and the run goes
 *     the next way (and so does every later run of that table);
 *   - set-based statements: the rows as arrays in binary form (of the
 *     column's own type for integer and float8 columns, so the server
 *     neither parses nor casts them; else text, cast to the column's
 *     type), unnest()ed; one deletes the run's deleted keys, one
 *     inserts its inserts by plain INSERT, one upserts its updates (ON
 *     CONFLICT on the primary key, a row already equal left alone). A
 *     plain INSERT skips the speculative insertion of ON CONFLICT, the
 *     dearest part of an insert; the first one of a table goes under a
 *     savepoint, synchronously: when it meets a row already there it is
 *     taken back and that table's inserts are upserted from then on (so
 *     too when a later batch holding one fails: it is applied again
 *     carefully, see dblog-apply's replay);
 *   - for a short run, the one-row upsert or delete per row.
 * A key's n-th change in the run goes in its n-th round; the rounds go out
 * in order, each as its own statements, so no statement holds two changes
 * of one key and every change is applied (and fires the destination's
 * triggers) after the earlier changes of its key, never merged into
 * another. Within a set the rows go in key order: neighbouring keys share
 * index and heap pages, and a long run costs the server much less than
 * the same rows in short ones. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sink_pg.h"

#define STAGE_MIN 8             /* shorter runs go row by row */
#define COPY_MIN 500            /* shorter insert runs are not worth a COPY */
#define STAGE_FIRST 1000        /* rows of a transaction's first stage */
#define STAGE_MAX_ROWS 30000    /* rows of a stage (not a COPY): < STAGE_SLOTS / 2 */
#define STAGE_MAX_BYTES (32u << 20)
#define STAGE_MAX_CELLS (1u << 20)   /* rows times columns */
#define STAGE_MAX_ROUNDS 64          /* changes of one key in a run */

static int copy_start(struct psink *s);
static void copy_rows(struct psink *s, int end);
static int exec_ok(struct psink *s, const char *sql);

void
psink_stage_free(struct pstage *st)
{
	struct dblog_buf *bufs[] = { &st->key, &st->names, &st->vals, &st->ops, &st->upsert,
				     &st->del, &st->cast, &st->out };
	for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
		dblog_buf_free(bufs[i]);
	for (size_t i = 0; i < st->ncols; i++)
		free(st->types[i]);
	free(st->types);
	free(st->isarr);
	free(st->pkpos);
	free(st->null);
	free(st->seen);
	free(st->nseen);
	free(st->used);
	free(st->round);
	free(st->order);
	free(st->table);
	free(st->qname);
	memset(st, 0, sizeof *st);
}

/* Forget the staged rows (a failed batch: they are never sent). */
void
psink_stage_drop(struct psink *s)
{
	struct pstage *st = &s->stage;
	if (st->copying) {
		/* end the COPY with an error: nothing of it stays */
		PQputCopyEnd(s->c, "dblog: the batch failed");
		PGresult *r;
		while ((r = PQgetResult(s->c)))
			PQclear(r);
		st->copying = 0;
		psink_pipe_resume(s, 1);
	}
	st->rows = st->copied = st->copy_at = 0;
	dblog_buf_clear(&st->vals);
	dblog_buf_clear(&st->ops);
	if (st->seen)
		for (size_t i = 0; i < st->nused; i++)   /* the slots in use only */
			st->seen[st->used[i]] = 0, st->nseen[st->used[i]] = 0;
	st->nused = 0;
	st->nrounds = 0;
}

/* Is name among the NUL-terminated names of b? */
int
psink_name_in(const struct dblog_buf *b, const char *name)
{
	for (size_t o = 0; o < b->len; o += strlen(b->p + o) + 1)
		if (!strcmp(b->p + o, name))
			return 1;
	return 0;
}

void
psink_name_add(struct dblog_buf *b, const char *name)
{
	if (!psink_name_in(b, name))
		dblog_buf_add(b, name, strlen(name) + 1);
}

/* Does the change's key name exactly the table's primary key, non-NULL? */
static int
key_is_pk(struct psink *s, const struct ptable *t)
{
	int npk = 0;
	for (int i = 0; i < t->ncols; i++)
		npk += t->cols[i].pk;
	if (!npk || (size_t)npk != s->nkeys)
		return 0;
	for (size_t i = 0; i < s->nkeys; i++) {
		const struct pcol *c = psink_col(t, s->knames[i], &s->s1);
		if (!c || !c->pk || dblog_json_type(s->kv[i]) == DBLOG_J_NULL)
			return 0;
	}
	return 1;
}

/* Open a stage for table t and the current change's columns: every column
 * known with a type, the primary key among them. 0, or -1: not stageable. */
static int
stage_open(struct psink *s, const struct ptable *t)
{
	struct pstage *st = &s->stage;
	int npk = 0;
	for (int i = 0; i < t->ncols; i++)
		npk += t->cols[i].pk;
	for (size_t i = 0; i < st->ncols; i++)
		free(st->types[i]);
	st->ncols = 0;
	st->npk = 0;
	st->types = dblog_xrealloc(st->types, (s->ncols + 1) * sizeof *st->types);
	st->isarr = dblog_xrealloc(st->isarr, s->ncols + 1);
	st->pkpos = dblog_xrealloc(st->pkpos, ((size_t)npk + 1) * sizeof *st->pkpos);
	for (int i = 0; i < t->ncols; i++) {
		if (!t->cols[i].pk)
			continue;
		size_t j = 0;
		while (j < s->ncols && !dblog_json_streq(s->names[j], t->cols[i].name,
							 strlen(t->cols[i].name)))
			j++;
		if (j == s->ncols)
			return -1;
		st->pkpos[st->npk++] = j;
	}
	for (size_t j = 0; j < s->ncols; j++) {
		const struct pcol *c = psink_col(t, s->names[j], &s->s1);
		if (!c)
			return -1;
		st->isarr[st->ncols] = (char)c->array;
		st->types[st->ncols++] = dblog_xstrdup(c->btype);
	}
	dblog_buf_clear(&st->key);
	dblog_buf_add(&st->key, s->key.p, s->key.len);
	free(st->table);
	free(st->qname);
	st->table = dblog_xstrdup(t->name);
	st->qname = dblog_xstrdup(t->qname);
	st->nocopy = t->nocopy;
	st->always = t->always;
	/* the column names, kept for the statements built at flush time */
	dblog_buf_clear(&st->names);
	for (size_t j = 0; j < s->ncols; j++)
		psink_ident_span(s, &st->names, s->names[j]), dblog_buf_addc(&st->names, 0);
	/* the one-row statements, for short runs */
	psink_insert_sql(s, t, 1);
	dblog_buf_clear(&st->upsert);
	dblog_buf_add(&st->upsert, s->sql.p, s->sql.len);
	psink_conflict_clause(s, t);   /* s->sql: " ON CONFLICT ..." alone */
	dblog_buf_clear(&st->cast);
	dblog_buf_add(&st->cast, s->sql.p, s->sql.len);
	dblog_buf_clear(&st->del);
	dblog_buf_printf(&st->del, "DELETE FROM %s", t->qname);
	const char *nm = st->names.p;
	for (size_t j = 0, k = 0; j < st->ncols; j++, nm += strlen(nm) + 1)
		for (size_t q = 0; q < st->npk; q++)
			if (st->pkpos[q] == j)
				dblog_buf_printf(&st->del, "%s%s = $%zu", k++ ? " AND " : " WHERE ", nm, q + 1);
	psink_describe(s, st->desc, sizeof st->desc, "");
	st->open = 1;
	return 0;
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t j = 0; j < n; j++)
		h = (h ^ ((const unsigned char *)p)[j]) * 1099511628211ULL;
	return h;
}

/* The 64-bit hash of the current change's primary key values, coarse on
 * purpose: two spellings of one key (1, "1", 1.0 and 1e0; 'ABC' and 'abc'
 * for a case-blind type) must hash alike, or their changes could share a
 * round and go out of order; keys that merely hash alike only go in a
 * later round than they need. */
static uint64_t
key_hash(struct psink *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < s->nkeys; i++) {
		const char *p = s->kv[i].p;
		size_t n = s->kv[i].n;
		if (n >= 2 && p[0] == '"')   /* a string's content */
			p++, n -= 2;
		char num[64];
		char *e;
		double x = 0;
		if (n && n < sizeof num) {
			memcpy(num, p, n);
			num[n] = 0;
			x = strtod(num, &e);
		}
		if (n && n < sizeof num && !*e && isfinite(x)) {
			x = x == 0 ? 0 : x;   /* -0 too */
			h = fnv(h, &x, sizeof x);
		} else {
			for (size_t j = 0; j < n; j++) {
				unsigned char c = (unsigned char)p[j];
				c = c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
				h = fnv(h, &c, 1);
			}
		}
		h = (h ^ 0xFF) * 1099511628211ULL;
	}
	return h | 1;
}

/* Note the current change's key in the stage: the number of changes of
 * the same key staged before it (of keys with the same hash: a collision
 * only puts a change in a later round than it needs), so its round. */
static unsigned
note_key(struct psink *s)
{
	struct pstage *st = &s->stage;
	if (!st->seen) {
		st->seen = calloc(STAGE_SLOTS, sizeof *st->seen);
		st->nseen = calloc(STAGE_SLOTS, sizeof *st->nseen);
		st->used = calloc(STAGE_SLOTS / 2, sizeof *st->used);
		if (!st->seen || !st->nseen || !st->used)
			dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	}
	uint64_t h = key_hash(s);
	/* rows < STAGE_SLOTS / 2: a free slot is always found */
	for (size_t i = h % STAGE_SLOTS;; i = (i + 1) % STAGE_SLOTS) {
		if (st->seen[i] == h)
			return st->nseen[i]++;
		if (!st->seen[i]) {
			st->seen[i] = h;
			st->nseen[i] = 1;
			st->used[st->nused++] = (uint32_t)i;
			return 0;
		}
	}
}

/* Stage the current change (op 'i' insert or snapshot, 'u' update, 'd'
 * delete) of table t. 0 staged, 1 not stageable here (the caller sends it
 * the ordinary way; the stage was flushed first), -1 failure. */
int
psink_stage_add(struct psink *s, const struct ptable *t, char op, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	if (!key_is_pk(s, t))
		return st->rows && psink_stage_flush(s, err, errlen) ? -1 : 1;
	if (op == 'd') {
		/* a delete joins a stage of its table that holds the key */
		if (!st->open || strcmp(st->table, t->name)) {
			if (st->rows && psink_stage_flush(s, err, errlen))
				return -1;
			/* a stage of the key columns alone */
			s->ncols = s->nkeys;
			memcpy(s->names, s->knames, s->nkeys * sizeof *s->names);
			memcpy(s->v, s->kv, s->nkeys * sizeof *s->v);
			op = 'D';
		}
	}
	if (op != 'd') {
		psink_mkkey(s, 'B', t, s->names, s->ncols, NULL, 0);
		int same = st->open && st->key.len == s->key.len &&
			   !memcmp(st->key.p, s->key.p, s->key.len);
		if (st->rows && !same && psink_stage_flush(s, err, errlen))
			return -1;
		if (!same && stage_open(s, t)) {
			st->open = 0;
			return 1;
		}
		if (op == 'D')
			op = 'd';
	}
	/* a stage going into a COPY ends at another op or at its size; any
	 * other at its row limit too, which grows in a transaction */
	size_t limit = st->copying ? SIZE_MAX : st->limit ? st->limit : STAGE_FIRST;
	if ((st->copying && op != 'i') || st->rows >= limit || st->vals.len >= STAGE_MAX_BYTES ||
	    (st->rows + 1) * st->ncols > STAGE_MAX_CELLS)
		if (psink_stage_flush(s, err, errlen))
			return -1;
	/* a key already staged goes in a later round (a COPY needs no check:
	 * a key twice fails it, and the rows go the careful way) */
	unsigned round = st->copying && op == 'i' ? 0 : note_key(s);
	if (round >= STAGE_MAX_ROUNDS) {
		if (psink_stage_flush(s, err, errlen))
			return -1;
		round = note_key(s);
	}
	if (!st->rows) {
		psink_describe(s, st->desc, sizeof st->desc, "");
		st->inserts = 1;
	}
	/* the row's values in stage column order (a delete: its key only) */
	s->np = 0;
	dblog_buf_clear(&s->vals);
	const char *nm = st->names.p;
	for (size_t j = 0; j < st->ncols; j++, nm += strlen(nm) + 1) {
		if (op != 'd') {
			psink_params_of(s, t, &s->names[j], &s->v[j], 1);
			continue;
		}
		size_t q = 0;
		while (q < st->npk && st->pkpos[q] != j)
			q++;
		if (q == st->npk) {
			s->isnull[s->np++] = 1;
			continue;
		}
		/* the key values come in the change's order: find this column */
		const struct pcol *pc = NULL;
		size_t k = 0;
		for (int c = 0, seen = 0; c < t->ncols; c++)
			if (t->cols[c].pk && seen++ == (int)q)
				pc = &t->cols[c];
		while (k < s->nkeys && !dblog_json_streq(s->knames[k], pc->name, strlen(pc->name)))
			k++;
		psink_params_of(s, t, &s->knames[k], &s->kv[k], 1);
	}
	if (st->cap < (st->rows + 1) * st->ncols) {
		st->cap = (st->rows + 1) * st->ncols * 2;
		st->null = dblog_xrealloc(st->null, st->cap * sizeof *st->null);
	}
	if (st->round_cap <= st->rows) {
		st->round_cap = (st->rows + 1) * 2;
		st->round = dblog_xrealloc(st->round, st->round_cap * sizeof *st->round);
	}
	st->round[st->rows] = (uint16_t)round;
	if (round >= st->nrounds)
		st->nrounds = round + 1;
	for (int i = 0; i < s->np; i++) {
		st->null[st->rows * st->ncols + (size_t)i] = (char)s->isnull[i];
		const char *v = s->isnull[i] ? "" : s->vals.p + s->offs[i];
		dblog_buf_add(&st->vals, v, strlen(v) + 1);
	}
	dblog_buf_addc(&st->ops, op);
	st->inserts &= op == 'i';
	/* the server has taken all it was sent: send this run now, so that
	 * it never waits for the next one */
	if (!(++st->rows & 255) && psink_pipe_push(s) && !st->copying && st->rows >= STAGE_FIRST)
		return psink_stage_flush(s, err, errlen);
	/* a long run of inserts (no key twice): COPY it, from now on as it
	 * comes */
	if (!st->copying && st->inserts && !st->nocopy && st->nrounds <= 1 && st->rows >= COPY_MIN &&
	    copy_start(s)) {
		snprintf(err, errlen, "%s", s->failure);
		return psink_pipe_failed(s, err, errlen);
	}
	if (st->copying)
		copy_rows(s, 0);
	return 0;
}

/* ------------------------------------------------------------ sending */

/* Row by row: the one-row upsert or delete, prepared once. */
static int
send_rows(struct psink *s, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	const char *v = st->vals.p;
	for (size_t r = 0; r < st->rows; r++) {
		int del = st->ops.p[r] == 'd';
		const char *row[MAXCOLS];
		for (size_t j = 0; j < st->ncols; j++, v += strlen(v) + 1)
			row[j] = st->null[r * st->ncols + j] ? NULL : v;
		s->np = 0;
		if (del)
			for (size_t q = 0; q < st->npk; q++)
				s->params[s->np++] = row[st->pkpos[q]];
		else
			for (size_t j = 0; j < st->ncols; j++)
				s->params[s->np++] = row[j];
		dblog_buf_clear(&s->key);
		dblog_buf_add(&s->key, st->key.p, st->key.len);
		dblog_buf_adds(&s->key, del ? "#d" : "#u");
		struct pstmt *p = psink_find(s);
		if (!p && !(p = psink_prepare(s, del ? st->del.p : st->upsert.p, s->np, err, errlen)))
			return -1;
		s->next_expect = 1;
		s->next_bytes = psink_text_bytes(s->params, s->np);
		if (psink_pipe_queued(s, PQsendQueryPrepared(s->c, p->name, s->np, s->params, NULL, NULL, 0),
				      st->desc, err, errlen))
			return -1;
	}
	return 0;
}

/* Which staged rows a set-based statement takes, and how: */
enum setmode {
	SET_DEL,      /* deletes, by primary key */
	SET_PLAIN,    /* inserts, by plain INSERT */
	SET_UPD,      /* updates, upserted */
	SET_UPSERT    /* inserts and updates, upserted */
};

static int
in_set(char op, enum setmode m)
{
	switch (m) {
	case SET_DEL: return op == 'd';
	case SET_PLAIN: return op == 'i';
	case SET_UPD: return op == 'u';
	default: return op != 'd';
	}
}

/* ------------------------------------------------ binary array params */

/* Column types whose values travel as binary arrays of their own type:
 * written by the client, not parsed and cast by the server. */
static const struct bintype {
	const char *name;
	uint32_t oid;
	int size;   /* 2, 4, 8 integers; -8 float8 */
} bintypes[] = {
	{ "pg_catalog.int2", 21, 2 },
	{ "pg_catalog.int4", 23, 4 },
	{ "pg_catalog.int8", 20, 8 },
	{ "pg_catalog.float8", 701, -8 },
};

static const struct bintype *
bintype(const char *name)
{
	for (size_t i = 0; i < sizeof bintypes / sizeof *bintypes; i++)
		if (!strcmp(bintypes[i].name, name))
			return &bintypes[i];
	return NULL;
}

static int
by_key(const void *a, const void *b)
{
	const struct pskey *x = a, *y = b;
	int c = x->t ? strcmp(x->t, y->t) : (x->k > y->k) - (x->k < y->k);
	return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* The rows of set m of the current round into st->order, in key order:
 * by value for an integer key (one column, every value plain), else by
 * the first key column's text. Their number. */
static size_t
set_rows(struct pstage *st, const char **vp, enum setmode m)
{
	if (st->order_cap < st->rows) {
		st->order_cap = st->rows;
		st->order = dblog_xrealloc(st->order, st->order_cap * sizeof *st->order);
	}
	size_t n = 0;
	const struct bintype *bt = bintype(st->types[st->pkpos[0]]);
	int ints = st->npk == 1 && bt && bt->size > 0;
	for (size_t r = 0; r < st->rows; r++) {
		if (st->round[r] != st->cur_round || !in_set(st->ops.p[r], m))
			continue;
		const char *v = vp[r * st->ncols + st->pkpos[0]];
		st->order[n].row = (uint32_t)r;
		st->order[n].t = v;
		if (ints) {
			char *e;
			errno = 0;
			long long x = strtoll(v, &e, 10);
			if (errno || *e || e == v)
				ints = 0;
			st->order[n].k = x;
		}
		n++;
	}
	for (size_t i = 0; ints && i < n; i++)
		st->order[i].t = NULL;
	qsort(st->order, n, sizeof *st->order, by_key);
	st->norder = n;
	return n;
}

static void
put_be(struct dblog_buf *b, uint64_t x, int size)
{
	unsigned char c[8];
	for (int i = 0; i < size; i++)
		c[i] = (unsigned char)(x >> (8 * (size - 1 - i)));
	dblog_buf_add(b, c, (size_t)size);
}

/* The binary form of value v of type t in out[]: 1, or 0 when v is not
 * written plainly (the column then goes as text, and the server's own
 * parsing decides, errors included). */
static int
bin_value(const struct bintype *t, const char *v, uint64_t *out)
{
	size_t n = strlen(v);
	char *e;
	errno = 0;
	if (t->size > 0) {
		const char *d = v + (*v == '-');
		if (!*d || strspn(d, "0123456789") != strlen(d) || strlen(d) > 19)
			return 0;
		long long x = strtoll(v, &e, 10);
		int64_t lim = t->size == 2 ? INT16_MAX : t->size == 4 ? INT32_MAX : INT64_MAX;
		if (errno || *e || x > lim || x < -lim - 1)
			return 0;
		*out = (uint64_t)x;
		return 1;
	}
	/* a JSON number, exactly as the server's strtod() reads it */
	if (!n || strspn(v, "0123456789-+.eE") != n || !(v[*v == '-'] >= '0' && v[*v == '-'] <= '9'))
		return 0;
	double x = strtod(v, &e);
	if (errno || *e || !isfinite(x))
		return 0;
	memcpy(out, &x, sizeof x);
	return 1;
}

/* Append column col of the rows in st->order as a binary array: of the
 * column's type when t is given and every value fits it (1), else of
 * text (0: out is as it was before when it gives up on t). */
static int
bin_array(struct pstage *st, const char **vp, size_t col,
	  const struct bintype *t, size_t *rows)
{
	struct dblog_buf *b = &st->out;
	size_t head = b->len;
	int nulls = 0;
	put_be(b, 1, 4);                /* dimensions */
	put_be(b, 0, 4);                /* has NULLs: set below */
	put_be(b, t ? t->oid : 25, 4);  /* element type */
	put_be(b, 0, 4);                /* length: set below */
	put_be(b, 1, 4);                /* lower bound */
	*rows = 0;
	for (size_t i = 0; i < st->norder; i++) {
		size_t r = st->order[i].row;
		++*rows;
		if (st->null[r * st->ncols + col]) {
			put_be(b, UINT32_MAX, 4);   /* -1: NULL */
			nulls = 1;
			continue;
		}
		const char *v = vp[r * st->ncols + col];
		if (!t) {
			size_t n = strlen(v);
			put_be(b, n, 4);
			dblog_buf_add(b, v, n);
			continue;
		}
		uint64_t x;
		if (!bin_value(t, v, &x)) {
			b->len = head;
			return 0;
		}
		int size = t->size < 0 ? -t->size : t->size;
		put_be(b, (uint64_t)size, 4);
		put_be(b, x, size);
	}
	if (!*rows) {   /* an empty array has no dimensions */
		b->len = head;
		put_be(b, 0, 4);
		put_be(b, 0, 4);
		put_be(b, t ? t->oid : 25, 4);
		return t != NULL;
	}
	unsigned char *h = (unsigned char *)b->p + head;
	h[7] = (unsigned char)nulls;
	for (int i = 0; i < 4; i++)
		h[12 + i] = (unsigned char)(*rows >> (8 * (3 - i)));
	return t != NULL;
}

/* The array type of parameter j of a set-based statement (set_params
 * said which). */
static const char *
param_type(const struct pstage *st, size_t j, int dels)
{
	return st->elem[j] == 'b' ? st->types[dels ? st->pkpos[j] : j] : "pg_catalog.text";
}

/* The set-based statements of the stage, over the arrays of set_params
 * unnest()ed and cast to the columns' types: the deletes by primary key, the inserts, or
 * the upserts (ON CONFLICT on the key, a row already equal left alone).
 * Each changes one row per array element unless the row already was so. */
static void
bulk_sql(struct psink *s, enum setmode m)
{
	struct pstage *st = &s->stage;
	struct dblog_buf *q = &s->sql;
	dblog_buf_clear(q);
	if (m != SET_DEL) {
		dblog_buf_printf(q, "INSERT INTO %s (%s", st->qname, st->names.p);
		const char *nm = st->names.p + strlen(st->names.p) + 1;
		for (size_t j = 1; j < st->ncols; j++, nm += strlen(nm) + 1)
			dblog_buf_printf(q, ", %s", nm);
		/* the source's values, also of GENERATED ALWAYS identity columns
		 * (COPY takes them as they are) */
		dblog_buf_adds(q, st->always ? ") OVERRIDING SYSTEM VALUE SELECT " : ") SELECT ");
		/* unnest()s side by side in the select list: the rows go
		 * straight into the insert, not through a tuplestore */
		for (size_t j = 0; j < st->ncols; j++)
			dblog_buf_printf(q, "%sunnest($%zu::%s[])::%s", j ? ", " : "", j + 1,
					 param_type(st, j, 0), st->types[j]);
		if (m != SET_PLAIN)
			dblog_buf_add(q, st->cast.p, st->cast.len);
		return;
	}
	dblog_buf_printf(q, "DELETE FROM %s USING unnest(", st->qname);
	for (size_t k = 0; k < st->npk; k++)
		dblog_buf_printf(q, "%s$%zu::%s[]", k ? ", " : "", k + 1, param_type(st, k, 1));
	dblog_buf_adds(q, ") AS u(");
	for (size_t k = 0; k < st->npk; k++)
		dblog_buf_printf(q, "%sc%zu", k ? ", " : "", st->pkpos[k]);
	dblog_buf_addc(q, ')');
	for (size_t k = 0; k < st->npk; k++) {
		const char *nm = st->names.p;
		for (size_t j = 0; j < st->pkpos[k]; j++)
			nm += strlen(nm) + 1;
		/* = ANY(ARRAY[]) neither hashes nor merges: the planner has to
		 * look each key up in the index (for a long set it would rather
		 * hash the whole table, or scan it with the keys hashed); an
		 * array value in ARRAY[] would make a deeper array: = */
		if (st->isarr[st->pkpos[k]])
			dblog_buf_printf(q, " %s %s.%s = u.c%zu::%s", k ? "AND" : "WHERE", st->qname, nm,
					 st->pkpos[k], st->types[st->pkpos[k]]);
		else
			dblog_buf_printf(q, " %s %s.%s = ANY(ARRAY[u.c%zu::%s])", k ? "AND" : "WHERE",
					 st->qname, nm, st->pkpos[k], st->types[st->pkpos[k]]);
	}
}

/* The parameters of a set-based statement: one binary array per column
 * (the key columns for deletes) of the rows in st->order (see
 * set_rows), in s->params, st->lens and st->fmts, and what each array
 * holds in st->elem ('b' the column's type, 't' text); vp: where each
 * staged value starts. The number of rows, and of parameters in *np. */
static size_t
set_params(struct psink *s, const char **vp, enum setmode m, size_t *np)
{
	struct pstage *st = &s->stage;
	int dels = m == SET_DEL;
	size_t rows = 0;
	size_t off[MAXCOLS];
	*np = dels ? st->npk : st->ncols;
	/* every column that can goes in its own type, or none does (a value
	 * that does not fit): two statements at most, not one per mix */
	int text = 0;
again:
	dblog_buf_clear(&st->out);
	for (size_t c = 0; c < *np; c++) {
		size_t col = dels ? st->pkpos[c] : c;
		const struct bintype *t = text ? NULL : bintype(st->types[col]);
		off[c] = st->out.len;
		int typed = t && bin_array(st, vp, col, t, &rows);
		if (t && !typed) {
			text = 1;
			goto again;
		}
		if (!typed)
			bin_array(st, vp, col, NULL, &rows);
		st->elem[c] = typed ? 'b' : 't';
		st->lens[c] = (int)(st->out.len - off[c]);
		st->fmts[c] = 1;
	}
	st->elem[*np] = 0;
	for (size_t c = 0; c < *np; c++)
		s->params[c] = st->out.p + off[c];
	return rows;
}

/* Send one set of the current round of the stage as one statement; vp:
 * where each staged value starts. */
static int
send_set(struct psink *s, const char **vp, enum setmode m, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	size_t np;
	if (!set_rows(st, vp, m))
		return 0;
	size_t rows = set_params(s, vp, m, &np);
	s->next_bytes = st->out.len;
	if (m == SET_DEL) {
		s->next_expect = (int)rows;
		/* planned each time, with the keys at hand: a plan kept from when
		 * the table was small would scan the whole of it once it is not */
		bulk_sql(s, SET_DEL);
		return psink_pipe_queued(s, PQsendQueryParams(s->c, s->sql.p, (int)np, NULL, s->params, st->lens,
							      st->fmts, 0), st->desc, err, errlen);
	}
	dblog_buf_clear(&s->key);
	dblog_buf_add(&s->key, st->key.p, st->key.len);
	dblog_buf_adds(&s->key, m == SET_PLAIN ? "#bulk-i" : "#bulk-u");
	dblog_buf_adds(&s->key, st->elem);
	struct pstmt *p = psink_find(s);
	if (!p) {
		bulk_sql(s, m);
		if (!(p = psink_prepare(s, s->sql.p, (int)np, err, errlen)))
			return -1;
	}
	s->next_expect = (int)rows;
	s->next_bytes = st->out.len;
	if (m == SET_PLAIN)
		psink_name_add(&s->plain_batch, st->table);
	return psink_pipe_queued(s, PQsendQueryPrepared(s->c, p->name, (int)np, s->params, st->lens, st->fmts, 0),
				 st->desc, err, errlen);
}

/* The first plain INSERT of a table: out of the pipeline, under a
 * savepoint. 0 the rows are in (the table's inserts go in so from now on),
 * 1 a row was there already and it was taken back (the table's inserts
 * are upserted from now on), -1 failure (s->failure set). */
static int
plain_first(struct psink *s, const char **vp)
{
	struct pstage *st = &s->stage;
	int was = psink_piped(s);
	if (psink_pipe_pause(s))   /* in a flush: the stage stays as it is */
		return -1;
	size_t np;
	set_rows(st, vp, SET_PLAIN);
	set_params(s, vp, SET_PLAIN, &np);
	bulk_sql(s, SET_PLAIN);
	int rc = -1;
	if (exec_ok(s, "SAVEPOINT dblog_plain")) {
		PGresult *r = PQexecParams(s->c, s->sql.p, (int)np, NULL, s->params, st->lens, st->fmts, 0);
		int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		if (ok) {
			rc = exec_ok(s, "RELEASE SAVEPOINT dblog_plain") ? 0 : -1;
			psink_name_add(&s->plain_yes, st->table);
		} else {
			rc = exec_ok(s, "ROLLBACK TO SAVEPOINT dblog_plain") &&
			     exec_ok(s, "RELEASE SAVEPOINT dblog_plain") ? 1 : -1;
			psink_name_add(&s->plain_no, st->table);
		}
	}
	if (rc < 0 && PQstatus(s->c) == CONNECTION_BAD)
		s->base.lost = 1;
	psink_pipe_resume(s, was);
	return rc;
}

/* A round of the run as set-based statements: its deletes, its inserts,
 * its updates (no key is in two of them, so their order does not
 * matter). */
static int
send_round(struct psink *s, const char **vp, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	size_t ins = 0;
	for (size_t r = 0; r < st->rows; r++)
		ins += st->round[r] == st->cur_round && st->ops.p[r] == 'i';
	int rc = send_set(s, vp, SET_DEL, err, errlen);
	int plain = !rc && ins && !s->base.no_replay && !psink_name_in(&s->plain_no, st->table);
	if (plain && !psink_name_in(&s->plain_yes, st->table)) {
		int first = plain_first(s, vp);
		if (first < 0) {
			snprintf(err, errlen, "%s", s->failure);
			rc = psink_pipe_failed(s, err, errlen);
		} else if (first == 0) {
			rc = send_set(s, vp, SET_UPD, err, errlen);
		} else {
			rc = send_set(s, vp, SET_UPSERT, err, errlen);
		}
	} else if (!rc && plain) {
		rc = send_set(s, vp, SET_PLAIN, err, errlen) || send_set(s, vp, SET_UPD, err, errlen) ? -1 : 0;
	} else if (!rc) {
		rc = send_set(s, vp, SET_UPSERT, err, errlen);
	}
	return rc;
}

/* The run, round after round. */
static int
send_bulk(struct psink *s, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	size_t cells = st->rows * st->ncols;
	const char **vp = dblog_xmalloc((cells + 1) * sizeof *vp);
	const char *v = st->vals.p;
	for (size_t i = 0; i < cells; i++, v += strlen(v) + 1)
		vp[i] = v;
	int rc = 0;
	for (st->cur_round = 0; !rc && st->cur_round < st->nrounds; st->cur_round++)
		rc = send_round(s, vp, err, errlen);
	free(vp);
	return rc;
}

/* Append a value in COPY's text format. */
static void
copy_value(struct dblog_buf *b, const char *v, int null)
{
	if (null) {
		dblog_buf_adds(b, "\\N");
		return;
	}
	for (const char *q = v; *q; q++) {
		size_t run = strcspn(q, "\\\t\n\r");
		dblog_buf_add(b, q, run);
		q += run;
		if (!*q)
			break;
		dblog_buf_addc(b, '\\');
		dblog_buf_addc(b, *q == '\t' ? 't' : *q == '\n' ? 'n' : *q == '\r' ? 'r' : '\\');
	}
}

static int
exec_ok(struct psink *s, const char *sql)
{
	PGresult *r = PQexec(s->c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(s->failure, sizeof s->failure, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* Start a COPY of the stage's rows into the table, under a savepoint and
 * outside the pipeline; rows staged later are sent as they come (see
 * copy_rows), so the server loads while events are read. 0, or -1 when
 * the connection failed (s->failure set). */
static int
copy_start(struct psink *s)
{
	struct pstage *st = &s->stage;
	st->flushing = 1;   /* the rows staged so far go into the COPY */
	int paused = psink_pipe_pause(s);
	st->flushing = 0;
	if (paused)
		return -1;
	if (!exec_ok(s, "SAVEPOINT dblog_copy")) {
		psink_pipe_resume(s, 1);
		return -1;
	}
	dblog_buf_clear(&st->out);
	dblog_buf_printf(&st->out, "COPY %s (", st->qname);
	const char *nm = st->names.p;
	for (size_t j = 0; j < st->ncols; j++, nm += strlen(nm) + 1)
		dblog_buf_printf(&st->out, "%s%s", j ? ", " : "", nm);
	dblog_buf_adds(&st->out, ") FROM STDIN");
	PGresult *r = PQexec(s->c, st->out.p);
	dblog_buf_clear(&st->out);
	st->copying = 1;
	s->base.in_pipeline = 1;   /* to the apply loop, still pipelined */
	st->copy_bad = PQresultStatus(r) != PGRES_COPY_IN;
	if (st->copy_bad)
		snprintf(s->failure, sizeof s->failure, "%s", PQresultErrorMessage(r));
	PQclear(r);
	st->copy_at = 0;
	st->copied = 0;
	return 0;
}

/* Send the staged rows not sent yet (all of them at the end). */
static void
copy_rows(struct psink *s, int end)
{
	struct pstage *st = &s->stage;
	if (st->copy_bad)
		return;
	const char *v = st->vals.p + st->copy_at;
	for (size_t i = st->copied * st->ncols; i < st->rows * st->ncols; i++, v += strlen(v) + 1) {
		copy_value(&st->out, v, st->null[i]);
		dblog_buf_addc(&st->out, (i + 1) % st->ncols ? '\t' : '\n');
	}
	st->copy_at = (size_t)(v - st->vals.p);
	st->copied = st->rows;
	if (st->out.len >= (32u << 10) || (end && st->out.len)) {
		if (PQputCopyData(s->c, st->out.p, (int)st->out.len) != 1) {
			snprintf(s->failure, sizeof s->failure, "%s", PQerrorMessage(s->c));
			st->copy_bad = 1;
		}
		dblog_buf_clear(&st->out);
	}
}

/* End the COPY: 0 the rows are in, 1 it failed and was taken back (the
 * rows go the next way, and so do the table's later runs), -1 the
 * connection failed. Back in the pipeline either way. */
static int
copy_end(struct psink *s)
{
	struct pstage *st = &s->stage;
	copy_rows(s, 1);
	st->copying = 0;
	int ok = !st->copy_bad;
	if (PQputCopyEnd(s->c, st->copy_bad ? "dblog: taken back" : NULL) != 1) {
		snprintf(s->failure, sizeof s->failure, "%s", PQerrorMessage(s->c));
		ok = 0;
	}
	PGresult *r;
	while ((r = PQgetResult(s->c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			if (ok)
				snprintf(s->failure, sizeof s->failure, "%s", PQresultErrorMessage(r));
			ok = 0;
		}
		PQclear(r);
	}
	int rc;
	if (ok) {
		rc = exec_ok(s, "RELEASE SAVEPOINT dblog_copy") ? 0 : -1;
	} else {
		rc = exec_ok(s, "ROLLBACK TO SAVEPOINT dblog_copy") &&
		     exec_ok(s, "RELEASE SAVEPOINT dblog_copy") ? 1 : -1;
		/* rows of this table are already there: upsert its later runs */
		struct ptable *t = psink_table_cached(s, st->table);
		if (t)
			t->nocopy = 1;
		st->nocopy = 1;
		psink_name_add(&s->plain_no, st->table);
	}
	if (rc < 0 && PQstatus(s->c) == CONNECTION_BAD)
		s->base.lost = 1;
	psink_pipe_resume(s, 1);
	return rc;
}

/* Send the staged rows. 0, or -1 (the batch failed: see psink_pipe_failed). */
int
psink_stage_flush(struct psink *s, char *err, size_t errlen)
{
	struct pstage *st = &s->stage;
	if (!st->rows || st->flushing)
		return 0;
	st->flushing = 1;
	const struct dblog_fields *cur = s->cur;
	s->cur = NULL;
	int rc;
	if (st->copying) {
		rc = copy_end(s);
		if (rc < 0) {
			snprintf(err, errlen, "%s", s->failure);
			rc = psink_pipe_failed(s, err, errlen);
		} else if (rc > 0) {
			rc = send_bulk(s, err, errlen);
		}
	} else if (st->rows < STAGE_MIN) {
		rc = send_rows(s, err, errlen);
	} else {
		rc = send_bulk(s, err, errlen);
	}
	s->cur = cur;
	psink_stage_drop(s);
	st->flushing = 0;
	/* the first stage of a transaction is short, so the server starts on
	 * it soon; the later ones grow, and cost it less a row */
	st->limit = st->limit ? 2 * st->limit : 2 * STAGE_FIRST;
	if (st->limit > STAGE_MAX_ROWS)
		st->limit = STAGE_MAX_ROWS;
	return rc;
}
