/* json.c - a validating JSON scanner over raw bytes: no tree, no
 * allocation. Values are located as spans so that untouched events can be
 * passed through byte for byte. */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

#include "dblog.h"

#ifdef __GNUC__
#define HOT_INLINE inline __attribute__((always_inline))
#else
#define HOT_INLINE inline
#endif

static const char *
fail(struct dblog_jerr *e, const char *base, const char *p, const char *why)
{
	if (e) {
		e->col = (size_t)(p - base) + 1;
		e->why = why;
	}
	return NULL;
}

static inline const char *
ws(const char *s, const char *end)
{
	/* one test for the common case: no whitespace at all */
	while (s < end && (unsigned char)*s <= ' ' &&
	       (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

const char *
dblog_json_ws(const char *s, const char *end)
{
	return ws(s, end);
}

static int
hex4(const char *p, const char *end, unsigned *v)
{
	if (end - p < 4)
		return -1;
	unsigned x = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)p[i];
		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= c - '0';
		else if (c >= 'a' && c <= 'f')
			x |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			x |= c - 'A' + 10;
		else
			return -1;
	}
	*v = x;
	return 0;
}

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	unsigned min;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	unsigned cp = c & (0x3F >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Plain string content: not a quote, a backslash, a control character or
 * a byte >= 0x80 (the start of a multi-byte UTF-8 sequence, or invalid). */
static inline int
plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* The high bit of each byte of the 8-byte word v that is not plain (SWAR:
 * a zero-byte test per pattern). A borrow only runs upward from a flagged
 * byte, so the lowest flag in memory order is exact; the ones above it may
 * not be, and nothing looks at them. */
static inline uint64_t
word_special(uint64_t v)
{
	uint64_t q = v ^ (ONES * '"'), b = v ^ (ONES * '\\');
	return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v) | v) & HIGH;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_FLAG(m) (__builtin_ctzll(m) >> 3)
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FIRST_FLAG(m) (__builtin_clzll(m) >> 3)
#endif

#if defined(__SSE2__) && defined(__GNUC__)
/* A bit per byte of the 16 bytes at p that is not plain: a signed compare
 * below 0x20 catches the control characters and the bytes >= 0x80. */
static HOT_INLINE unsigned
special16(const char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
					      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				 _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* The first byte of [p, end) that is not plain, or end. q <= p is the
 * string's opening quote: [q, end) is readable. With SSE2 (every x86-64)
 * 32 or 16 bytes at a time, the last ones by a 16-byte load that ends at
 * end when the string started 16 bytes before; elsewhere (arm64...) a word
 * at a time while 8 bytes remain. Then a byte at a time. Unaligned loads by
 * memcpy or loadu, never outside [q, end). */
static HOT_INLINE const char *
string_special(const char *q, const char *p, const char *end)
{
#if defined(__SSE2__) && defined(__GNUC__)
	/* 32 bytes a step: most strings end within the first */
	for (; end - p >= 32; p += 32) {
		unsigned m = special16(p) | special16(p + 16) << 16;
		if (m)
			return p + __builtin_ctz(m);
	}
	if (end - p >= 16) {
		unsigned m = special16(p);
		if (m)
			return p + __builtin_ctz(m);
		p += 16;
	}
	if (p < end && end - q >= 16) {
		const char *t = end - 16;
		unsigned m = special16(t) >> (p - t);
		return m ? p + __builtin_ctz(m) : end;
	}
#else
	(void)q;
#endif
	for (; end - p >= 8; p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		uint64_t m = word_special(v);
		if (m) {
#ifdef FIRST_FLAG
			return p + FIRST_FLAG(m);
#else
			break;
#endif
		}
	}
	while (p < end && plain((unsigned char)*p))
		p++;
	return p;
}

/* The escape at p (a backslash inside a string): its end, or NULL. */
static const char *
skip_escape(const char *p, const char *end, const char *base, struct dblog_jerr *e)
{
	if (p + 1 >= end)
		return fail(e, base, p, "unterminated string");
	char c = p[1];
	if (c == 'u') {
		unsigned u;
		if (hex4(p + 2, end, &u))
			return fail(e, base, p, "bad \\u escape");
		p += 6;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return fail(e, base, p - 6, "lone low surrogate in \\u escape");
		if (u >= 0xD800 && u <= 0xDBFF) {
			unsigned lo;
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
			    hex4(p + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF)
				return fail(e, base, p - 6, "lone high surrogate in \\u escape");
			p += 6;
		}
		return p;
	}
	if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
	    c == 'r' || c == 't')
		return p + 2;
	return fail(e, base, p, "bad escape in string");
}

/* The string at p (a quote): its end, or NULL. */
static inline const char *
skip_string(const char *p, const char *end, const char *base, struct dblog_jerr *e)
{
	const char *q = p++;
	for (;;) {
		p = string_special(q, p, end);
		if (p >= end)
			return fail(e, base, p, "unterminated string");
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c == '\\') {
			p = skip_escape(p, end, base, e);
			if (!p)
				return NULL;
		} else if (c < 0x20) {
			return fail(e, base, p, "control character in string");
		} else {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
			if (!n)
				return fail(e, base, p, "invalid UTF-8");
			p += n;
		}
	}
}

static const char *
skip_number(const char *p, const char *end, const char *base, struct dblog_jerr *e)
{
	const char *s = p;
	if (p < end && *p == '-')
		p++;
	if (p >= end)
		return fail(e, base, s, "bad number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return fail(e, base, s, "bad number");
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(e, base, s, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail(e, base, s, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	return p;
}

static const char *
skip_lit(const char *p, const char *end, const char *lit, size_t n,
	 const char *base, struct dblog_jerr *e)
{
	if ((size_t)(end - p) < n || memcmp(p, lit, n))
		return fail(e, base, p, "invalid literal");
	return p + n;
}

static const char *skip_value(const char *p, const char *end, const char *base,
			      struct dblog_jerr *e, int depth);

static const char *
skip_container(const char *p, const char *end, const char *base,
	       struct dblog_jerr *e, int depth)
{
	char close = *p == '{' ? '}' : ']';
	int obj = *p == '{';
	if (depth >= DBLOG_JSON_MAX_DEPTH)
		return fail(e, base, p, "nesting too deep");
	p = ws(p + 1, end);
	if (p < end && *p == close)
		return p + 1;
	for (;;) {
		if (obj) {
			if (p >= end || *p != '"')
				return fail(e, base, p, "expected a member name");
			p = skip_string(p, end, base, e);
			if (!p)
				return NULL;
			p = ws(p, end);
			if (p >= end || *p != ':')
				return fail(e, base, p, "expected ':'");
			p = ws(p + 1, end);
		}
		p = skip_value(p, end, base, e, depth + 1);
		if (!p)
			return NULL;
		p = ws(p, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		if (p < end && *p == close)
			return p + 1;
		return fail(e, base, p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

static const char *
skip_value(const char *p, const char *end, const char *base,
	   struct dblog_jerr *e, int depth)
{
	if (p >= end)
		return fail(e, base, p, "unexpected end of line");
	switch (*p) {
	case '"': return skip_string(p, end, base, e);
	case '{':
	case '[': return skip_container(p, end, base, e, depth);
	case 't': return skip_lit(p, end, "true", 4, base, e);
	case 'f': return skip_lit(p, end, "false", 5, base, e);
	case 'n': return skip_lit(p, end, "null", 4, base, e);
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9'))
			return skip_number(p, end, base, e);
		return fail(e, base, p, "unexpected character");
	}
}

const char *
dblog_json_skip(const char *s, const char *end, const char *base, struct dblog_jerr *e)
{
	return skip_value(s, end, base, e, 0);
}

enum dblog_jtype
dblog_json_type(struct dblog_span v)
{
	if (!v.p || !v.n)
		return DBLOG_J_NONE;
	switch (v.p[0]) {
	case '{': return DBLOG_J_OBJECT;
	case '[': return DBLOG_J_ARRAY;
	case '"': return DBLOG_J_STRING;
	case 't': return DBLOG_J_TRUE;
	case 'f': return DBLOG_J_FALSE;
	case 'n': return DBLOG_J_NULL;
	default: return DBLOG_J_NUMBER;
	}
}

/* Skip a value already validated: only quotes and brackets matter. */
static const char *
fast_skip(const char *p, const char *end)
{
	if (*p == '"') {
		p++;
		for (;;) {
			const char *q = memchr(p, '"', (size_t)(end - p));
			if (!q)
				return end;
			/* count backslashes before the quote */
			const char *b = q;
			while (b > p && b[-1] == '\\')
				b--;
			if (((q - b) & 1) == 0)
				return q + 1;
			p = q + 1;
		}
	}
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			char c = *p;
			if (c == '"') {
				p = fast_skip(p, end);
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				if (--depth == 0)
					return p + 1;
			}
			p++;
		}
		return end;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
	       *p != '\t' && *p != '\n' && *p != '\r')
		p++;
	return p;
}

int
dblog_json_next(struct dblog_span obj, const char **it, struct dblog_span *k,
		struct dblog_span *v)
{
	if (!obj.p)   /* an absent member: no members */
		return 0;
	const char *end = obj.p + obj.n;
	const char *p = *it ? *it : obj.p + 1;
	p = ws(p, end);
	if (p < end && *p == ',')
		p = ws(p + 1, end);
	if (p >= end || *p != '"')
		return 0;
	const char *q = fast_skip(p, end);
	k->p = p;
	k->n = (size_t)(q - p);
	p = ws(q, end);
	p = ws(p + 1, end);  /* ':' */
	q = fast_skip(p, end);
	v->p = p;
	v->n = (size_t)(q - p);
	*it = q;
	return 1;
}

int
dblog_json_next_elem(struct dblog_span arr, const char **it, struct dblog_span *v)
{
	if (!arr.p)   /* an absent member: no elements */
		return 0;
	const char *end = arr.p + arr.n;
	const char *p = *it ? *it : arr.p + 1;
	p = ws(p, end);
	if (p < end && *p == ',')
		p = ws(p + 1, end);
	if (p >= end || *p == ']')
		return 0;
	const char *q = fast_skip(p, end);
	v->p = p;
	v->n = (size_t)(q - p);
	*it = q;
	return 1;
}

int
dblog_json_streq(struct dblog_span str, const char *s, size_t n)
{
	if (str.n < 2 || str.p[0] != '"')
		return 0;
	const char *c = str.p + 1;
	size_t cn = str.n - 2;
	if (!memchr(c, '\\', cn))
		return cn == n && !memcmp(c, s, n);
	struct dblog_buf b = { 0 };
	dblog_json_unescape(str, &b);
	int eq = b.len == n && !memcmp(b.p, s, n);
	dblog_buf_free(&b);
	return eq;
}

struct dblog_span
dblog_json_member(struct dblog_span obj, const char *name, size_t len)
{
	struct dblog_span k, v, found = { NULL, 0 };
	const char *it = NULL;
	if (dblog_json_type(obj) != DBLOG_J_OBJECT)
		return found;
	while (dblog_json_next(obj, &it, &k, &v))
		if (dblog_json_streq(k, name, len))
			found = v;
	return found;
}

static void
put_utf8(struct dblog_buf *b, unsigned cp)
{
	char t[4];
	size_t n;
	if (cp < 0x80) {
		t[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		t[0] = (char)(0xF0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	dblog_buf_add(b, t, n);
}

const char *
dblog_json_unescape(struct dblog_span str, struct dblog_buf *out)
{
	dblog_buf_clear(out);
	dblog_buf_reserve(out, str.n);
	const char *p = str.p + 1, *end = str.p + str.n - 1;
	while (p < end) {
		const char *q = memchr(p, '\\', (size_t)(end - p));
		if (!q) {
			dblog_buf_add(out, p, (size_t)(end - p));
			break;
		}
		dblog_buf_add(out, p, (size_t)(q - p));
		char c = q[1];
		p = q + 2;
		switch (c) {
		case 'b': dblog_buf_addc(out, '\b'); break;
		case 'f': dblog_buf_addc(out, '\f'); break;
		case 'n': dblog_buf_addc(out, '\n'); break;
		case 'r': dblog_buf_addc(out, '\r'); break;
		case 't': dblog_buf_addc(out, '\t'); break;
		case 'u': {
			unsigned u = 0, lo = 0;
			hex4(p, end, &u);
			p += 4;
			if (u >= 0xD800 && u <= 0xDBFF && end - p >= 6 &&
			    !hex4(p + 2, end, &lo)) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			put_utf8(out, u);
			break;
		}
		default: dblog_buf_addc(out, c); break;
		}
	}
	/* reserve allocated out->p; an empty string appends nothing, so the
	 * terminating NUL is written here */
	out->p[out->len] = 0;
	return out->p;
}

int
dblog_json_str(struct dblog_span v, struct dblog_buf *scratch, const char **p, size_t *n)
{
	if (dblog_json_type(v) != DBLOG_J_STRING)
		return 0;
	if (!memchr(v.p + 1, '\\', v.n - 2)) {
		*p = v.p + 1;
		*n = v.n - 2;
		return 1;
	}
	dblog_json_unescape(v, scratch);
	*p = scratch->p;
	*n = scratch->len;
	return 1;
}

void
dblog_json_escape(struct dblog_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	dblog_buf_reserve(out, n + 2);
	dblog_buf_addc(out, '"');
	const char *run = s;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		dblog_buf_add(out, run, (size_t)(s + i - run));
		run = s + i + 1;
		switch (c) {
		case '"': dblog_buf_add(out, "\\\"", 2); break;
		case '\\': dblog_buf_add(out, "\\\\", 2); break;
		case '\n': dblog_buf_add(out, "\\n", 2); break;
		case '\r': dblog_buf_add(out, "\\r", 2); break;
		case '\t': dblog_buf_add(out, "\\t", 2); break;
		case '\b': dblog_buf_add(out, "\\b", 2); break;
		case '\f': dblog_buf_add(out, "\\f", 2); break;
		default: {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			dblog_buf_add(out, u, 6);
		}
		}
	}
	dblog_buf_add(out, run, (size_t)(s + n - run));
	dblog_buf_addc(out, '"');
}

int
dblog_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t k = utf8_len(p, end);
		if (!k)
			return 0;
		p += k;
	}
	return 1;
}
