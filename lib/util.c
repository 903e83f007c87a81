/* util.c - allocation, buffers, lists, durations and sizes. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dblog.h"

static _Noreturn void
oom(void)
{
	dblog_die(DBLOG_EXIT_FAIL, "out of memory");
}

void *
dblog_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
dblog_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *
dblog_xstrdup(const char *s)
{
	return dblog_xstrndup(s, strlen(s));
}

char *
dblog_xstrndup(const char *s, size_t n)
{
	char *p = dblog_xmalloc(n + 1);
	if (n)   /* s may be NULL when n is 0 (an empty buffer's p) */
		memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void
dblog_buf_reserve(struct dblog_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = dblog_xrealloc(b->p, cap);
	b->cap = cap;
	b->p[b->len] = 0;   /* a C string from its first allocation on */
}

void
dblog_buf_add(struct dblog_buf *b, const void *p, size_t n)
{
	dblog_buf_reserve(b, n);
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void
dblog_buf_adds(struct dblog_buf *b, const char *s)
{
	dblog_buf_add(b, s, strlen(s));
}

void
dblog_buf_addc(struct dblog_buf *b, char c)
{
	dblog_buf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = 0;
}

void
dblog_buf_printf(struct dblog_buf *b, const char *fmt, ...)
{
	va_list ap;
	dblog_buf_reserve(b, 64);
	/* one pass when it fits in what is left, a second one otherwise */
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = 0;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		dblog_buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
dblog_buf_addu(struct dblog_buf *b, uint64_t v)
{
	char t[24];
	int i = 24;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	dblog_buf_add(b, t + i, (size_t)(24 - i));
}

void
dblog_buf_free(struct dblog_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
dblog_parse_count(const char *s, int64_t *v)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *e;
	long long x = strtoll(s, &e, 10);
	if (errno || *e)
		return -1;
	*v = x;
	return 0;
}

int
dblog_parse_duration(const char *s, int64_t *ms)
{
	if (!s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -1;
	errno = 0;
	char *e;
	double x = strtod(s, &e);
	if (errno || e == s || x < 0)
		return -1;
	double mult;
	if (!*e || !strcmp(e, "s"))
		mult = 1000;
	else if (!strcmp(e, "ms"))
		mult = 1;
	else if (!strcmp(e, "us"))
		mult = 0.001;
	else if (!strcmp(e, "m") || !strcmp(e, "min"))
		mult = 60000;
	else if (!strcmp(e, "h"))
		mult = 3600000;
	else if (!strcmp(e, "d"))
		mult = 86400000;
	else
		return -1;
	double r = x * mult;
	if (r > 9.2e18)
		return -1;
	*ms = (int64_t)(r + 0.5);
	return 0;
}

int
dblog_parse_size(const char *s, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	char *e;
	double x = strtod(s, &e);
	if (errno || e == s || x < 0)
		return -1;
	double mult = 1;
	switch (toupper((unsigned char)*e)) {
	case 0: break;
	case 'B': mult = 1; e++; goto tail;
	case 'K': mult = 1024.0; e++; break;
	case 'M': mult = 1024.0 * 1024; e++; break;
	case 'G': mult = 1024.0 * 1024 * 1024; e++; break;
	case 'T': mult = 1024.0 * 1024 * 1024 * 1024; e++; break;
	default: return -1;
	}
	if (*e == 'i')
		e++;
	if (*e == 'B' || *e == 'b')
		e++;
tail:
	if (*e)
		return -1;
	double r = x * mult;
	if (r > 1.8e19)
		return -1;
	*bytes = (uint64_t)r;
	return 0;
}

void
dblog_list_split(struct dblog_list *l, const char *s)
{
	while (*s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		/* trim blanks around items */
		const char *a = s, *b = s + n;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a) {
			l->v = dblog_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
			l->v[l->n++] = dblog_xstrndup(a, (size_t)(b - a));
		}
		if (!c)
			break;
		s = c + 1;
	}
}

int
dblog_list_has(const struct dblog_list *l, const char *s, size_t n)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && !memcmp(l->v[i], s, n))
			return 1;
	return 0;
}

void
dblog_list_free(struct dblog_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int64_t
dblog_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
dblog_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int
dblog_split_pair(const char *s, char **from, char **to)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s || !eq[1])
		return -1;
	*from = dblog_xstrndup(s, (size_t)(eq - s));
	*to = dblog_xstrdup(eq + 1);
	return 0;
}
