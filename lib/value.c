/* value.c - comparing values: exact decimals, SQL LIKE; text that is not
 * UTF-8 ({"text_hex":...}). */
#include <ctype.h>
#include <string.h>

#include "dblog.h"

struct dec {
	int neg, zero;
	const char *ip, *fp;   /* integer and fraction digits, leading zeros off */
	size_t in, fn;
	long long exp;         /* value = 0.D x 10^exp, D = ip fp */
};

int
dblog_dec_valid(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	size_t digits = 0;
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	while (p < end && isdigit((unsigned char)*p))
		p++, digits++;
	if (p < end && *p == '.') {
		p++;
		while (p < end && isdigit((unsigned char)*p))
			p++, digits++;
	}
	if (!digits)
		return 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '-' || *p == '+'))
			p++;
		if (p >= end || !isdigit((unsigned char)*p))
			return 0;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	}
	return p == end;
}

static void
dec_parse(const char *s, size_t n, struct dec *d)
{
	const char *p = s, *end = s + n;
	memset(d, 0, sizeof *d);
	if (p < end && (*p == '-' || *p == '+'))
		d->neg = *p++ == '-';
	while (p < end && *p == '0')
		p++;
	d->ip = p;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	d->in = (size_t)(p - d->ip);
	long long lead = 0;
	if (p < end && *p == '.') {
		p++;
		d->fp = p;
		while (p < end && isdigit((unsigned char)*p))
			p++;
		d->fn = (size_t)(p - d->fp);
	}
	if (d->in == 0) {
		while (d->fn && *d->fp == '0')
			d->fp++, d->fn--, lead++;
	}
	long long e = 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		int eneg = 0;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		while (p < end && isdigit((unsigned char)*p)) {
			if (e < 1000000000000LL)
				e = e * 10 + (*p - '0');
			p++;
		}
		if (eneg)
			e = -e;
	}
	/* value = 0.D x 10^exp with D = ip fp (leading zeros removed) */
	d->exp = d->in ? (long long)d->in + e : e - lead;
	/* trailing zeros of D do not change the value */
	while (d->fn && d->fp[d->fn - 1] == '0')
		d->fn--;
	if (!d->fn)
		while (d->in && d->ip[d->in - 1] == '0')
			d->in--;
	if (!d->in && !d->fn)
		d->zero = 1;
}

static char
dec_digit(const struct dec *d, size_t i)
{
	if (i < d->in)
		return d->ip[i];
	i -= d->in;
	return i < d->fn ? d->fp[i] : '0';
}

int
dblog_dec_cmp(const char *a, size_t an, const char *b, size_t bn, int *res)
{
	if (!dblog_dec_valid(a, an) || !dblog_dec_valid(b, bn))
		return -1;
	struct dec x, y;
	dec_parse(a, an, &x);
	dec_parse(b, bn, &y);
	int sx = x.zero ? 0 : x.neg ? -1 : 1;
	int sy = y.zero ? 0 : y.neg ? -1 : 1;
	if (sx != sy) {
		*res = sx < sy ? -1 : 1;
		return 0;
	}
	if (sx == 0) {
		*res = 0;
		return 0;
	}
	int c = 0;
	if (x.exp != y.exp) {
		c = x.exp < y.exp ? -1 : 1;
	} else {
		size_t nx = x.in + x.fn, ny = y.in + y.fn, n = nx > ny ? nx : ny;
		for (size_t i = 0; i < n && !c; i++) {
			char dx = dec_digit(&x, i), dy = dec_digit(&y, i);
			c = dx < dy ? -1 : dx > dy;
		}
	}
	*res = sx < 0 ? -c : c;
	return 0;
}

static size_t
u8len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

static int
ceq(char a, char b, int icase)
{
	if (icase)
		return tolower((unsigned char)a) == tolower((unsigned char)b);
	return a == b;
}

int
dblog_like(const char *s, size_t sn, const char *pat, size_t pn, int icase)
{
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && pat[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn && pat[pi] == '_') {
			pi++;
			si += u8len((unsigned char)s[si]);
			continue;
		}
		if (pi < pn) {
			size_t q = pi;
			if (pat[q] == '\\' && q + 1 < pn)
				q++;
			if (ceq(pat[q], s[si], icase)) {
				pi = q + 1;
				si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return 0;
		pi = star_p;
		star_s += u8len((unsigned char)s[star_s]);
		si = star_s;
	}
	while (pi < pn && pat[pi] == '%')
		pi++;
	return pi == pn && si == sn;
}

void
dblog_text_hex_put(struct dblog_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	dblog_buf_reserve(b, 2 * n + 16);
	dblog_buf_adds(b, "{\"text_hex\":\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char h[2] = { hex[c >> 4], hex[c & 15] };
		dblog_buf_add(b, h, 2);
	}
	dblog_buf_adds(b, "\"}");
}

static int
hexdigit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int
dblog_text_hex(struct dblog_span v, struct dblog_buf *out)
{
	if (dblog_json_type(v) != DBLOG_J_OBJECT)
		return 0;
	struct dblog_span k, h;
	const char *it = NULL;
	if (!dblog_json_next(v, &it, &k, &h) || !dblog_json_streq(k, "text_hex", 8) ||
	    dblog_json_type(h) != DBLOG_J_STRING || (h.n - 2) % 2)
		return 0;
	struct dblog_span more;
	if (dblog_json_next(v, &it, &k, &more))
		return 0;
	dblog_buf_clear(out);
	dblog_buf_reserve(out, (h.n - 2) / 2 + 1);
	for (size_t i = 1; i + 1 < h.n - 1; i += 2) {
		int hi = hexdigit(h.p[i]), lo = hexdigit(h.p[i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		dblog_buf_addc(out, (char)(hi << 4 | lo));
	}
	return 1;
}

void
dblog_text_hex_object(struct dblog_buf *b, const char *v, size_t n)
{
	struct dblog_span obj = { v, n }, key, val;
	struct dblog_buf text = { 0 };
	const char *it = NULL;
	int first = 1;
	if (dblog_utf8_valid(v, n) || dblog_json_type(obj) != DBLOG_J_OBJECT) {
		dblog_buf_add(b, v, n);
		return;
	}
	dblog_buf_addc(b, '{');
	while (dblog_json_next(obj, &it, &key, &val)) {
		if (!first)
			dblog_buf_addc(b, ',');
		first = 0;
		if (!dblog_utf8_valid(key.p, key.n)) {
			struct dblog_buf name = { 0 };
			dblog_json_unescape(key, &text);
			dblog_name_utf8(&name, text.p, text.len);
			dblog_json_escape(b, name.p, name.len);
			dblog_buf_free(&name);
		} else {
			dblog_buf_add(b, key.p, key.n);
		}
		dblog_buf_addc(b, ':');
		if (dblog_json_type(val) == DBLOG_J_STRING && !dblog_utf8_valid(val.p, val.n)) {
			dblog_json_unescape(val, &text);
			dblog_text_hex_put(b, text.p, text.len);
		} else {
			dblog_buf_add(b, val.p, val.n);
		}
	}
	dblog_buf_addc(b, '}');
	dblog_buf_free(&text);
}

void
dblog_name_utf8(struct dblog_buf *b, const char *s, size_t n)
{
	dblog_buf_reserve(b, n + 1);
	if (dblog_utf8_valid(s, n)) {
		dblog_buf_add(b, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80)
			dblog_buf_addc(b, (char)c);
		else
			dblog_buf_printf(b, "\\x%02x", c);
	}
}
