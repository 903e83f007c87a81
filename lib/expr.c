/* expr.c - the filter expression language: parse to a tree, evaluate
 * over the spans of one scanned event. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

enum field {
	F_OP, F_TABLE, F_TX, F_POS, F_SEQ, F_COMMIT_TIME, F_ID, F_SOURCE_NAME,
	F_SOURCE_DRIVER, F_KEY, F_BEFORE, F_AFTER, F_COL,
};

struct operand {
	int is_field;
	enum field field;
	enum dblog_jtype lt;   /* literal type */
	char *s;               /* literal text (decoded) or column name */
	size_t n;
};

enum nkind { N_AND, N_OR, N_NOT, N_CMP, N_ISNULL, N_IN, N_LIKE, N_TRUTH };
enum cmpop { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

struct node {
	enum nkind k;
	enum cmpop op;
	int neg, icase;
	struct node *a;        /* N_NOT's operand */
	struct node **kids;    /* N_AND, N_OR: the operands of a chain, in
	                          order (a list, not a tree as deep as the
	                          chain is long, so that no recursion goes
	                          deeper than the parentheses and NOTs) */
	size_t nkids;
	struct operand l, r;
	struct operand *list;
	size_t nlist;
};

struct dblog_expr {
	struct node *root;
	struct dblog_buf sa, sb;
};

/* ------------------------------------------------------------ lexer */

enum tok {
	T_END, T_IDENT, T_QIDENT, T_STRING, T_NUMBER, T_LP, T_RP, T_COMMA, T_DOT,
	T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_ERR,
};

struct parser {
	const char *src, *p;
	enum tok t;
	const char *ts;        /* token start */
	struct dblog_buf text; /* decoded token text */
	char *err;
	size_t errlen, errcol;
	int failed;
	int depth;             /* parentheses and NOTs open around the token */
};

static void
perr(struct parser *ps, const char *at, const char *msg)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	ps->errcol = (size_t)(at - ps->src) + 1;
	snprintf(ps->err, ps->errlen, "%s", msg);
}

static void
next(struct parser *ps)
{
	const char *p = ps->p;
	while (isspace((unsigned char)*p))
		p++;
	ps->ts = p;
	dblog_buf_clear(&ps->text);
	if (!*p) {
		ps->t = T_END;
	} else if (isalpha((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) {
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80)
			p++;
		dblog_buf_add(&ps->text, ps->ts, (size_t)(p - ps->ts));
		ps->t = T_IDENT;
	} else if (*p == '"' || *p == '\'') {
		char q = *p++;
		for (;;) {
			if (!*p) {
				perr(ps, ps->ts, q == '"' ? "unterminated quoted name" : "unterminated string");
				ps->t = T_ERR;
				ps->p = p;
				return;
			}
			if (*p == q) {
				if (p[1] == q) {
					dblog_buf_addc(&ps->text, q);
					p += 2;
					continue;
				}
				p++;
				break;
			}
			dblog_buf_addc(&ps->text, *p++);
		}
		ps->t = q == '"' ? T_QIDENT : T_STRING;
	} else if (isdigit((unsigned char)*p) || (*p == '-' && (isdigit((unsigned char)p[1]) || p[1] == '.')) ||
		   (*p == '.' && isdigit((unsigned char)p[1]))) {
		const char *s = p;
		if (*p == '-')
			p++;
		while (isdigit((unsigned char)*p) || *p == '.')
			p++;
		if (*p == 'e' || *p == 'E') {
			const char *q = p + 1;
			if (*q == '+' || *q == '-')
				q++;
			if (isdigit((unsigned char)*q)) {
				p = q;
				while (isdigit((unsigned char)*p))
					p++;
			}
		}
		if (!dblog_dec_valid(s, (size_t)(p - s))) {
			perr(ps, s, "malformed number");
			ps->t = T_ERR;
			ps->p = p;
			return;
		}
		dblog_buf_add(&ps->text, s, (size_t)(p - s));
		ps->t = T_NUMBER;
	} else {
		p++;
		switch (p[-1]) {
		case '(': ps->t = T_LP; break;
		case ')': ps->t = T_RP; break;
		case ',': ps->t = T_COMMA; break;
		case '.': ps->t = T_DOT; break;
		case '=': ps->t = T_EQ; if (*p == '=') p++; break;
		case '!':
			if (*p == '=') {
				p++;
				ps->t = T_NE;
			} else {
				perr(ps, ps->ts, "unexpected '!' (use != or NOT)");
				ps->t = T_ERR;
			}
			break;
		case '<':
			if (*p == '=') p++, ps->t = T_LE;
			else if (*p == '>') p++, ps->t = T_NE;
			else ps->t = T_LT;
			break;
		case '>':
			if (*p == '=') p++, ps->t = T_GE;
			else ps->t = T_GT;
			break;
		default:
			perr(ps, ps->ts, "unexpected character");
			ps->t = T_ERR;
		}
	}
	ps->p = p;
}

static int
kw(struct parser *ps, const char *w)
{
	return ps->t == T_IDENT && !strcasecmp(ps->text.p, w);
}

/* ----------------------------------------------------------- parser */

static struct node *
mknode(enum nkind k)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	n->k = k;
	return n;
}

static const struct { const char *name; enum field f; } top_fields[] = {
	{ "op", F_OP }, { "table", F_TABLE }, { "tx", F_TX }, { "pos", F_POS },
	{ "seq", F_SEQ }, { "commit_time", F_COMMIT_TIME }, { "id", F_ID },
};

/* operand := literal | field */
static int
parse_operand(struct parser *ps, struct operand *o)
{
	memset(o, 0, sizeof *o);
	const char *at = ps->ts;
	switch (ps->t) {
	case T_STRING:
		o->lt = DBLOG_J_STRING;
		goto lit;
	case T_NUMBER:
		o->lt = DBLOG_J_NUMBER;
		goto lit;
	case T_QIDENT:
		o->is_field = 1;
		o->field = F_COL;
		o->s = dblog_xstrndup(ps->text.p, ps->text.len);
		o->n = ps->text.len;
		next(ps);
		return 0;
	case T_IDENT:
		break;
	default:
		perr(ps, at, "expected a field or a value");
		return -1;
	}
	if (kw(ps, "true") || kw(ps, "false") || kw(ps, "null")) {
		o->lt = kw(ps, "true") ? DBLOG_J_TRUE : kw(ps, "false") ? DBLOG_J_FALSE : DBLOG_J_NULL;
		goto lit;
	}
	static const char *const reserved[] = { "and", "or", "not", "in", "is", "like", "ilike" };
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
		if (kw(ps, reserved[i])) {
			perr(ps, at, "expected a field or a value");
			return -1;
		}
	char *word = dblog_xstrndup(ps->text.p, ps->text.len);
	next(ps);
	o->is_field = 1;
	if (ps->t == T_DOT) {
		next(ps);
		if (ps->t != T_IDENT && ps->t != T_QIDENT) {
			free(word);
			perr(ps, ps->ts, "expected a column name after '.'");
			return -1;
		}
		if (!strcmp(word, "key") || !strcmp(word, "before") || !strcmp(word, "after")) {
			o->field = word[0] == 'k' ? F_KEY : word[0] == 'b' ? F_BEFORE : F_AFTER;
		} else if (!strcmp(word, "source") && ps->t == T_IDENT &&
			   (!strcmp(ps->text.p, "name") || !strcmp(ps->text.p, "driver"))) {
			o->field = ps->text.p[0] == 'n' ? F_SOURCE_NAME : F_SOURCE_DRIVER;
		} else {
			perr(ps, at, "unknown field (use key.COL, before.COL, after.COL, "
			     "source.name or source.driver)");
			free(word);
			return -1;
		}
		free(word);
		o->s = dblog_xstrndup(ps->text.p, ps->text.len);
		o->n = ps->text.len;
		next(ps);
		return 0;
	}
	for (size_t i = 0; i < sizeof top_fields / sizeof *top_fields; i++)
		if (!strcmp(word, top_fields[i].name)) {
			o->field = top_fields[i].f;
			free(word);
			return 0;
		}
	o->field = F_COL;
	o->s = word;
	o->n = strlen(word);
	return 0;
lit:
	o->s = dblog_xstrndup(ps->text.p, ps->text.len);
	o->n = ps->text.len;
	next(ps);
	return 0;
}

static struct node *parse_or(struct parser *ps);

static void node_free(struct node *n);

/* One more level of parentheses or NOT at token at: 0, or -1 past
 * DBLOG_EXPR_MAX_DEPTH (the parser recurses per level: a limit, not a
 * stack overflow). */
static int
deeper(struct parser *ps, const char *at)
{
	if (++ps->depth <= DBLOG_EXPR_MAX_DEPTH)
		return 0;
	char msg[96];
	snprintf(msg, sizeof msg, "nested too deeply (more than %d parentheses and NOTs "
		 "inside each other)", DBLOG_EXPR_MAX_DEPTH);
	perr(ps, at, msg);
	return -1;
}

static struct node *
parse_pred(struct parser *ps)
{
	if (ps->t == T_LP) {
		if (deeper(ps, ps->ts))
			return NULL;
		next(ps);
		struct node *n = parse_or(ps);
		if (!n)
			return NULL;
		if (ps->t != T_RP) {
			perr(ps, ps->ts, "expected ')'");
			node_free(n);
			return NULL;
		}
		ps->depth--;
		next(ps);
		return n;
	}
	struct node *n = mknode(N_CMP);
	if (parse_operand(ps, &n->l))
		goto fail;
	int neg = 0;
	if (kw(ps, "is")) {
		next(ps);
		if (kw(ps, "not")) {
			neg = 1;
			next(ps);
		}
		if (!kw(ps, "null")) {
			perr(ps, ps->ts, "expected NULL after IS");
			goto fail;
		}
		next(ps);
		n->k = N_ISNULL;
		n->neg = neg;
		return n;
	}
	if (kw(ps, "not")) {
		neg = 1;
		next(ps);
		if (!kw(ps, "in") && !kw(ps, "like") && !kw(ps, "ilike")) {
			perr(ps, ps->ts, "expected IN, LIKE or ILIKE after NOT");
			goto fail;
		}
	}
	n->neg = neg;
	if (kw(ps, "in")) {
		n->k = N_IN;
		next(ps);
		if (ps->t != T_LP) {
			perr(ps, ps->ts, "expected '(' after IN");
			goto fail;
		}
		do {
			next(ps);
			n->list = dblog_xrealloc(n->list, (n->nlist + 1) * sizeof *n->list);
			if (parse_operand(ps, &n->list[n->nlist])) {
				goto fail;
			}
			n->nlist++;
		} while (ps->t == T_COMMA);
		if (ps->t != T_RP) {
			perr(ps, ps->ts, "expected ',' or ')' in the IN list");
			goto fail;
		}
		next(ps);
		return n;
	}
	if (kw(ps, "like") || kw(ps, "ilike")) {
		n->k = N_LIKE;
		n->icase = kw(ps, "ilike");
		next(ps);
		if (parse_operand(ps, &n->r))
			goto fail;
		return n;
	}
	if (ps->t >= T_EQ && ps->t <= T_GE) {
		n->op = (enum cmpop)(ps->t - T_EQ);
		next(ps);
		if (parse_operand(ps, &n->r))
			goto fail;
		return n;
	}
	n->k = N_TRUTH;
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct node *
parse_not(struct parser *ps)
{
	if (kw(ps, "not")) {
		if (deeper(ps, ps->ts))
			return NULL;
		next(ps);
		struct node *a = parse_not(ps);
		if (!a)
			return NULL;
		ps->depth--;
		struct node *n = mknode(N_NOT);
		n->a = a;
		return n;
	}
	return parse_pred(ps);
}

static struct node *
parse_bin(struct parser *ps, const char *word, enum nkind k,
	  struct node *(*sub)(struct parser *))
{
	struct node *l = sub(ps);
	if (!l || !kw(ps, word))
		return l;
	struct node *n = mknode(k);
	size_t cap = 4;
	n->kids = dblog_xmalloc(cap * sizeof *n->kids);
	n->kids[n->nkids++] = l;
	while (kw(ps, word)) {
		next(ps);
		struct node *r = sub(ps);
		if (!r) {
			node_free(n);
			return NULL;
		}
		if (n->nkids == cap)
			n->kids = dblog_xrealloc(n->kids, (cap *= 2) * sizeof *n->kids);
		n->kids[n->nkids++] = r;
	}
	return n;
}

static struct node *
parse_and(struct parser *ps)
{
	return parse_bin(ps, "and", N_AND, parse_not);
}

static struct node *
parse_or(struct parser *ps)
{
	return parse_bin(ps, "or", N_OR, parse_and);
}

struct dblog_expr *
dblog_expr_compile(const char *src, char *err, size_t errlen, size_t *errcol)
{
	struct parser ps = { .src = src, .p = src, .err = err, .errlen = errlen };
	next(&ps);
	struct node *root = NULL;
	if (ps.t == T_END)
		perr(&ps, ps.ts, "empty expression");
	else if (!ps.failed)
		root = parse_or(&ps);
	if (root && ps.t != T_END)
		perr(&ps, ps.ts, ps.t == T_RP ? "unbalanced ')'" :
		     "expected AND, OR or the end of the expression");
	dblog_buf_free(&ps.text);
	if (ps.failed) {
		node_free(root);
		*errcol = ps.errcol;
		return NULL;
	}
	struct dblog_expr *x = calloc(1, sizeof *x);
	if (!x)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	x->root = root;
	return x;
}

static void
operand_free(struct operand *o)
{
	free(o->s);
}

static void
node_free(struct node *n)
{
	if (!n)
		return;
	node_free(n->a);
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	operand_free(&n->l);
	operand_free(&n->r);
	for (size_t i = 0; i < n->nlist; i++)
		operand_free(&n->list[i]);
	free(n->list);
	free(n);
}

void
dblog_expr_free(struct dblog_expr *x)
{
	if (!x)
		return;
	node_free(x->root);
	dblog_buf_free(&x->sa);
	dblog_buf_free(&x->sb);
	free(x);
}

/* -------------------------------------------------------- evaluation */

struct val {
	enum dblog_jtype t;
	const char *p;
	size_t n;
	int raw;       /* JSON bytes (strings quoted), else literal text */
	int is_pos;
};

static void
resolve(const struct operand *o, const struct dblog_fields *f, struct val *v)
{
	memset(v, 0, sizeof *v);
	if (!o->is_field) {
		v->t = o->lt;
		v->p = o->s;
		v->n = o->n;
		return;
	}
	struct dblog_span s = { NULL, 0 };
	switch (o->field) {
	case F_OP: s = f->op_raw; break;
	case F_TABLE: s = f->table; break;
	case F_TX: s = f->tx; break;
	case F_POS: s = f->pos; v->is_pos = 1; break;
	case F_SEQ: s = f->seq; break;
	case F_COMMIT_TIME: s = f->commit_time; break;
	case F_ID: s = f->id; break;
	case F_SOURCE_NAME: s = dblog_json_member(f->source, "name", 4); break;
	case F_SOURCE_DRIVER: s = dblog_json_member(f->source, "driver", 6); break;
	case F_KEY: s = dblog_json_member(f->key, o->s, o->n); break;
	case F_BEFORE: s = dblog_json_member(f->before, o->s, o->n); break;
	case F_AFTER: s = dblog_json_member(f->after, o->s, o->n); break;
	case F_COL:
		s = dblog_json_member(f->after, o->s, o->n);
		if (!s.p)
			s = dblog_json_member(f->before, o->s, o->n);
		break;
	}
	v->t = dblog_json_type(s);
	v->p = s.p;
	v->n = s.n;
	v->raw = 1;
}

/* String contents of v (decoded). */
static void
str_of(const struct val *v, struct dblog_buf *scratch, const char **p, size_t *n)
{
	if (v->raw) {
		struct dblog_span s = { v->p, v->n };
		dblog_json_str(s, scratch, p, n);
	} else {
		*p = v->p;
		*n = v->n;
	}
}

static int
looks_time(const char *p, size_t n)
{
	return n >= 10 && p[4] == '-' && p[7] == '-' && isdigit((unsigned char)p[0]);
}

/* Compare a and b: 0 and *res set when comparable; 1 when only equality is
 * known (*res 0 or 1 for differ); -1 when incomparable. */
static int
compare(struct dblog_expr *x, const struct val *a, const struct val *b, int *res)
{
	const char *ap, *bp;
	size_t an, bn;
	if (a->t == DBLOG_J_NONE || a->t == DBLOG_J_NULL ||
	    b->t == DBLOG_J_NONE || b->t == DBLOG_J_NULL)
		return -1;
	if (a->t == DBLOG_J_NUMBER || b->t == DBLOG_J_NUMBER) {
		const struct val *o = a->t == DBLOG_J_NUMBER ? b : a;
		if (o->t != DBLOG_J_NUMBER && o->t != DBLOG_J_STRING)
			return -1;
		if (a->t == DBLOG_J_STRING) str_of(a, &x->sa, &ap, &an); else ap = a->p, an = a->n;
		if (b->t == DBLOG_J_STRING) str_of(b, &x->sb, &bp, &bn); else bp = b->p, bn = b->n;
		return dblog_dec_cmp(ap, an, bp, bn, res) ? -1 : 0;
	}
	if (a->t == DBLOG_J_STRING && b->t == DBLOG_J_STRING) {
		str_of(a, &x->sa, &ap, &an);
		str_of(b, &x->sb, &bp, &bn);
		int64_t ta, tb;
		if (looks_time(ap, an) && looks_time(bp, bn) &&
		    !dblog_time_parse(ap, an, &ta) && !dblog_time_parse(bp, bn, &tb)) {
			*res = ta < tb ? -1 : ta > tb;
			return 0;
		}
		struct dblog_pos pa, pb;
		if ((a->is_pos || b->is_pos) && !dblog_pos_parse(ap, an, &pa) &&
		    !dblog_pos_parse(bp, bn, &pb) && pa.kind == pb.kind) {
			*res = dblog_pos_cmp(&pa, &pb, NULL);
			return 0;
		}
		int c = memcmp(ap, bp, an < bn ? an : bn);
		*res = c ? (c < 0 ? -1 : 1) : an < bn ? -1 : an > bn;
		return 0;
	}
	int ab = a->t == DBLOG_J_TRUE || a->t == DBLOG_J_FALSE;
	int bb = b->t == DBLOG_J_TRUE || b->t == DBLOG_J_FALSE;
	if (ab && bb) {
		*res = (a->t == DBLOG_J_TRUE) - (b->t == DBLOG_J_TRUE);
		return 0;
	}
	if (a->t == b->t && a->raw && b->raw) {
		*res = !(a->n == b->n && !memcmp(a->p, b->p, a->n));
		return 1;
	}
	return -1;
}

static int
eval_cmp(struct dblog_expr *x, const struct node *n, const struct dblog_fields *f)
{
	struct val a, b;
	resolve(&n->l, f, &a);
	resolve(&n->r, f, &b);
	int res = 0, c = compare(x, &a, &b, &res);
	if (c < 0)
		return n->op == C_NE;
	if (c == 1) {
		if (n->op == C_EQ)
			return res == 0;
		return n->op == C_NE ? res != 0 : 0;
	}
	switch (n->op) {
	case C_EQ: return res == 0;
	case C_NE: return res != 0;
	case C_LT: return res < 0;
	case C_LE: return res <= 0;
	case C_GT: return res > 0;
	case C_GE: return res >= 0;
	}
	return 0;
}

static int
eval(struct dblog_expr *x, const struct node *n, const struct dblog_fields *f)
{
	struct val a, b;
	switch (n->k) {
	case N_AND:
		for (size_t i = 0; i < n->nkids; i++)
			if (!eval(x, n->kids[i], f))
				return 0;
		return 1;
	case N_OR:
		for (size_t i = 0; i < n->nkids; i++)
			if (eval(x, n->kids[i], f))
				return 1;
		return 0;
	case N_NOT: return !eval(x, n->a, f);
	case N_CMP: return eval_cmp(x, n, f);
	case N_ISNULL:
		resolve(&n->l, f, &a);
		return (a.t == DBLOG_J_NONE || a.t == DBLOG_J_NULL) != n->neg;
	case N_TRUTH:
		resolve(&n->l, f, &a);
		return a.t == DBLOG_J_TRUE;
	case N_IN: {
		resolve(&n->l, f, &a);
		int found = 0;
		for (size_t i = 0; i < n->nlist && !found; i++) {
			resolve(&n->list[i], f, &b);
			int res, c = compare(x, &a, &b, &res);
			found = c >= 0 && res == 0;
		}
		return found != n->neg;
	}
	case N_LIKE: {
		resolve(&n->l, f, &a);
		resolve(&n->r, f, &b);
		if (a.t != DBLOG_J_STRING || b.t != DBLOG_J_STRING)
			return n->neg;
		const char *ap, *bp;
		size_t an, bn;
		str_of(&a, &x->sa, &ap, &an);
		str_of(&b, &x->sb, &bp, &bn);
		return dblog_like(ap, an, bp, bn, n->icase) != n->neg;
	}
	}
	return 0;
}

int
dblog_expr_eval(struct dblog_expr *x, const struct dblog_fields *f)
{
	return eval(x, x->root, f);
}
