/* table.c - table names as events write them (dblog-event(5)): one string
 * "schema.table" whose parts are written as they are, or in double quotes
 * with '"' doubled when a part is empty or holds a '.' or a '"'; lists of
 * such names on the command line, and globs over them that see every byte
 * (a name may hold any byte but NUL; a decoded event string may hold NUL,
 * which no glob character but '*' and '?' matches). */
#include <ctype.h>
#include <string.h>

#include "dblog.h"

/* ------------------------------------------------------ join and split */

static void
put_part(struct dblog_buf *out, const char *s, size_t n)
{
	if (n && !memchr(s, '.', n) && !memchr(s, '"', n)) {
		dblog_buf_add(out, s, n);
		return;
	}
	dblog_buf_addc(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			dblog_buf_addc(out, '"');
		dblog_buf_addc(out, s[i]);
	}
	dblog_buf_addc(out, '"');
}

void
dblog_table_join(struct dblog_buf *out, const char *schema, size_t sn, const char *name, size_t nn)
{
	dblog_buf_reserve(out, sn + nn + 8);
	if (schema) {
		put_part(out, schema, sn);
		dblog_buf_addc(out, '.');
	}
	put_part(out, name, nn);
}

/* The quoted part at s[*i] == '"' into out, *i past its closing quote. 0,
 * or -1 when the quote is not closed. */
static int
quoted_part(const char *s, size_t n, size_t *i, struct dblog_buf *out)
{
	size_t j = *i + 1, from = j;
	for (;;) {
		if (j >= n)
			return -1;
		if (s[j] != '"') {
			j++;
			continue;
		}
		dblog_buf_add(out, s + from, j - from);
		if (j + 1 < n && s[j + 1] == '"') {
			dblog_buf_addc(out, '"');
			j += 2;
			from = j;
			continue;
		}
		*i = j + 1;
		return 0;
	}
}

int
dblog_table_split(const char *s, size_t n, struct dblog_buf *schema, struct dblog_buf *name,
		  int *has_schema)
{
	size_t i = 0;
	*has_schema = 0;
	dblog_buf_clear(schema);
	dblog_buf_add(schema, "", 0);
	dblog_buf_clear(name);
	dblog_buf_add(name, "", 0);
	/* the first part, into schema until it turns out to be the name */
	if (n && s[0] == '"') {
		if (quoted_part(s, n, &i, schema) || (i < n && s[i] != '.'))
			return -1;
	} else {
		const char *dot = memchr(s, '.', n);
		i = dot ? (size_t)(dot - s) : n;
		dblog_buf_add(schema, s, i);
	}
	if (i == n) {
		dblog_buf_add(name, schema->p, schema->len);
		dblog_buf_clear(schema);
		return 0;
	}
	*has_schema = 1;
	i++;   /* the dot */
	if (i < n && s[i] == '"')
		return quoted_part(s, n, &i, name) || i != n ? -1 : 0;
	/* an unquoted last part is the rest, dots and all: events written
	 * before the quoting rule split at their first dot, as they did */
	dblog_buf_add(name, s + i, n - i);
	return 0;
}

int
dblog_table_canon(struct dblog_buf *out, const char *s, size_t n)
{
	struct dblog_buf schema = { 0 }, name = { 0 };
	int has, rc = dblog_table_split(s, n, &schema, &name, &has);
	dblog_buf_clear(out);
	if (!rc)
		dblog_table_join(out, has ? schema.p : NULL, schema.len, name.p, name.len);
	dblog_buf_add(out, "", 0);
	dblog_buf_free(&schema);
	dblog_buf_free(&name);
	return rc;
}

/* -------------------------------------------------------------- lists */

void
dblog_table_list_split(struct dblog_list *l, const char *s)
{
	while (*s) {
		const char *c = s;
		int in_quotes = 0;
		for (; *c && (in_quotes || *c != ','); c++)
			if (*c == '"')
				in_quotes = !in_quotes;
		const char *a = s, *b = c;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a) {
			l->v = dblog_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
			l->v[l->n++] = dblog_xstrndup(a, (size_t)(b - a));
		}
		if (!*c)
			break;
		s = c + 1;
	}
}

/* -------------------------------------------------------------- globs */

/* A bracket expression at p (just past its '['), against byte c: 1 or 0
 * with *end past its ']', or -1 when it has no ']' (the '[' is then an
 * ordinary character). */
static int
bracket(const char *p, unsigned char c, const char **end)
{
	static const struct { const char *name; int (*is)(int); } classes[] = {
		{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank },
		{ "cntrl", iscntrl }, { "digit", isdigit }, { "graph", isgraph },
		{ "lower", islower }, { "print", isprint }, { "punct", ispunct },
		{ "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
	};
	int neg = 0, match = 0;
	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	const char *first = p;
	while (*p && (*p != ']' || p == first)) {
		if (p[0] == '[' && p[1] == ':') {
			const char *q = strstr(p + 2, ":]");
			size_t k;
			for (k = 0; q && k < sizeof classes / sizeof *classes; k++)
				if (strlen(classes[k].name) == (size_t)(q - p - 2) &&
				    !memcmp(classes[k].name, p + 2, (size_t)(q - p - 2)))
					break;
			if (q && k < sizeof classes / sizeof *classes) {
				match |= c < 128 && classes[k].is(c);
				p = q + 2;
				continue;
			}
		}
		if (*p == '\\' && p[1])
			p++;
		unsigned char lo = (unsigned char)*p++, hi = lo;
		if (p[0] == '-' && p[1] && p[1] != ']') {
			p++;
			if (*p == '\\' && p[1])
				p++;
			hi = (unsigned char)*p++;
		}
		match |= lo <= c && c <= hi;
	}
	if (*p != ']')
		return -1;
	*end = p + 1;
	return match != neg;
}

int
dblog_glob(const char *pat, const char *s, size_t n)
{
	const char *p = pat, *star = NULL;
	size_t i = 0, star_i = 0;
	while (i < n || *p) {
		if (*p == '*') {
			star = ++p;
			star_i = i;
			continue;
		}
		if (i < n && *p) {
			unsigned char c = (unsigned char)s[i];
			const char *np = p + 1;
			int ok;
			if (*p == '?') {
				ok = 1;
			} else if (*p == '[' && (ok = bracket(p + 1, c, &np)) >= 0) {
				/* ok set */
			} else if (*p == '\\' && p[1]) {
				ok = c == (unsigned char)p[1];
				np = p + 2;
			} else {
				ok = c == (unsigned char)*p;
				np = p + 1;
			}
			if (ok) {
				p = np;
				i++;
				continue;
			}
		}
		if (!star || star_i >= n)
			return 0;
		p = star;
		i = ++star_i;
	}
	return 1;
}

void
dblog_table_split_or_whole(const char *s, struct dblog_buf *schema, struct dblog_buf *name,
			   int *has_schema)
{
	if (dblog_table_split(s, strlen(s), schema, name, has_schema)) {
		*has_schema = 0;
		dblog_buf_clear(name);
		dblog_buf_adds(name, s);
	}
}
