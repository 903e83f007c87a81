/* json-corpus - a deterministic corpus of valid and malformed event lines
 * for the differential tests of the JSON scanner (tests/15-json.bats):
 * every escape, every UTF-8 length and its boundaries, overlongs, encoded
 * and escaped surrogates, control characters, numbers, literals, nesting
 * around the depth limit, special bytes at every offset of long strings
 * (crossing 8-byte words), truncations at every byte of some events, and
 * random mutations of events. One input line per output line; no line
 * holds a '\n' byte. The output depends only on the seed.
 * Usage: json-corpus [-s SEED] [-m MUTATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng;

static unsigned
rnd(unsigned n)
{
	/* xorshift64*: the same sequence everywhere */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (unsigned)((rng * 2685821657736338717ULL) >> 33) % n;
}

/* One line being built. */
static char line[1 << 16];
static size_t len;

static void
add(const char *s, size_t n)
{
	if (len + n >= sizeof line)
		n = sizeof line - len - 1;
	memcpy(line + len, s, n);
	len += n;
}
static void adds(const char *s) { add(s, strlen(s)); }
static void addc(int c) { char ch = (char)c; add(&ch, 1); }

static void
emit(void)
{
	fwrite(line, 1, len, stdout);
	putchar('\n');
	len = 0;
}

static void
emits(const char *s)
{
	adds(s);
	emit();
}

/* A line with the value text v as "after":{"v":v}, as "x":v at the top and
 * as the whole line. */
static void
value_lines(const char *v, size_t n)
{
	adds("{\"op\":\"insert\",\"table\":\"t\",\"after\":{\"v\":");
	add(v, n);
	adds("}}");
	emit();
	adds("{\"op\":\"insert\",\"table\":\"t\",\"x\":");
	add(v, n);
	adds("}");
	emit();
	add(v, n);
	emit();
}

/* The string body b[0..n) as a value, a nested member name and a top-level
 * member name. */
static void
string_lines(const char *b, size_t n)
{
	char v[4096];
	if (n + 2 > sizeof v)
		return;
	v[0] = '"';
	memcpy(v + 1, b, n);
	v[n + 1] = '"';
	value_lines(v, n + 2);
	adds("{\"op\":\"insert\",\"table\":\"t\",\"after\":{");
	add(v, n + 2);
	adds(":1}}");
	emit();
	add("{", 1);
	add(v, n + 2);
	adds(":1,\"op\":\"insert\",\"table\":\"t\"}");
	emit();
}

static void
strings(void)
{
	static const char *const bodies[] = {
		"", "a", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
		"\\u0041", "\\u00e9", "\\u00E9", "\\uFFFF", "\\u0000", "\\u001f",
		"\\ud83d\\ude00", "\\uD83D\\uDE00", "\\uDBFF\\uDFFF", "\\uD800\\uDC00",
		"\\ud800", "\\udc00", "\\udfff", "\\uD800x", "\\uD800\\u0041",
		"\\uD800\\n", "\\uD800\\uD800", "\\uD800\\", "\\uD800\\u", "\\uD800\\uDC0",
		"\\uD800\\uDC0G", "\\uDC00\\uD800", "\\u", "\\u1", "\\u12", "\\u123",
		"\\u123G", "\\uG123", "\\U0041", "\\x41", "\\a", "\\0", "\\'", "\\ ",
		"\\", "a\\", "\\\\\\", "\\\\\\\"", "x\\u00", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xc0\x80",
		"\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80",
		"\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\x9f\xbf",
		"\xee\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\x80", "\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98",
		"\xc3\x28", "\xe2\x28\xa1", "\xe2\x82\x28", "\xf0\x28\x8c\xbc",
		"\xf0\x90\x28\xbc", "\xf0\x9f\x98\x28", "\xc3\xa9\xc3", "a\xe2\x82\xac" "b",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++)
		string_lines(bodies[i], strlen(bodies[i]));
	/* every control character (but '\n', the line separator), DEL */
	for (int c = 0; c < 0x20; c++) {
		if (c == '\n')
			continue;
		char b[3] = { 'a', (char)c, 'b' };
		string_lines(b, 3);
	}
	/* a special piece at every offset of strings of 0 to 80 bytes */
	static const char *const specials[] = {
		"\"", "\\n", "\\u00e9", "\\ud83d\\ude00", "\\q", "\x01", "\x1f", "\t",
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\xaf", "\xed\xa0\x80",
		"\x80", "\xc3", "\xe2\x82", "\x7f", "\\", "\\ud800",
	};
	for (size_t s = 0; s < sizeof specials / sizeof *specials; s++) {
		for (size_t n = 0; n <= 80; n += 1 + (n > 18) + (n > 40)) {
			for (size_t k = 0; k <= n; k++) {
				char b[128];
				size_t sl = strlen(specials[s]), m = 0;
				for (size_t i = 0; i < k; i++)
					b[m++] = (char)('a' + (i % 26));
				memcpy(b + m, specials[s], sl);
				m += sl;
				for (size_t i = k; i < n; i++)
					b[m++] = (char)('A' + (i % 26));
				string_lines(b, m);
			}
		}
	}
	/* unterminated strings at the end of the line, every length */
	for (size_t n = 0; n <= 20; n++) {
		adds("{\"op\":\"insert\",\"table\":\"t\",\"x\":\"");
		for (size_t i = 0; i < n; i++)
			addc('a' + (int)i);
		emit();
		adds("{\"op\":\"insert\",\"table\":\"t\",\"");
		for (size_t i = 0; i < n; i++)
			addc('a' + (int)i);
		emit();
	}
}

static void
numbers_literals(void)
{
	static const char *const v[] = {
		"0", "-0", "1", "-1", "123", "1.5", "-1.5", "0.0", "1e5", "1E5", "1e+5",
		"1e-5", "1.5e10", "-1.5E-10", "123456789012345678901234567890", "0e0",
		"01", "-01", "00", "-", "+1", ".5", "1.", "1.e5", "1e", "1e+", "1e-",
		"--1", "0x1", "-a", "1.5.5", "1e5e5", "Infinity", "-Infinity", "NaN",
		"1 2", "1,", "- 1", "1.5e", "0.", "-.5", "1_000", "1e05", "0.1e-0",
		"true", "false", "null", "tru", "fals", "nul", "t", "f", "n", "trueX",
		"True", "NULL", "nulll", "falsey", "\"\"", "{}", "[]", "[1,2]", "[1,]",
		"[,1]", "[1 2]", "{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
		"{1:1}", "{a:1}", "[", "]", "{", "}", "[[]", "[]]", "{\"a\":1", "[1",
		"[1,", "{\"a\":1,", "{\"a\"", "{\"a\":", " ", "", ":", ",", "'a'",
		"[\"a\",{\"b\":[1,{\"c\":null}]}]", "{\"a\":{\"b\":{\"c\":[true,false]}}}",
		" [ 1 , 2 ] ", "\t{\t\"a\"\t:\t1\t}\t", "\r[\r1\r]\r", "[1]x", "{}}",
		"\xc3\xa9", "\x01", "/", "#", "[true,false,null]", "[tru]", "{\"a\":nul}",
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		value_lines(v[i], strlen(v[i]));
}

/* Arrays or objects nested d deep around the depth limit. */
static void
nesting(void)
{
	static char v[5 * 2100 + 16];
	for (int d = 2040; d <= 2052; d++) {
		for (int kind = 0; kind < 3; kind++) {
			size_t n = 0;
			for (int i = 0; i < d; i++) {
				if (kind == 0 || (kind == 2 && i % 2)) {
					v[n++] = '[';
				} else {
					memcpy(v + n, "{\"\":", 4);
					n += 4;
				}
			}
			v[n++] = '1';
			for (int i = d - 1; i >= 0; i--)
				v[n++] = kind == 0 || (kind == 2 && i % 2) ? ']' : '}';
			value_lines(v, n);
			/* and cut short */
			value_lines(v, n - (size_t)d / 2);
		}
	}
}

/* A random JSON value of depth at most d. */
static void
random_value(int d)
{
	static const char *const atoms[] = {
		"0", "-12", "3.25", "1e3", "-0.5E-2", "true", "false", "null",
		"\"\"", "\"x\"", "\"a\\\"b\"", "\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9t\xc3\xa9\"",
		"\"\xe2\x82\xac 100\"", "\"tab\\tnew\\nline\"", "\"\xf0\x9f\x98\x80\"",
		"\"long string with some words in it, longer than a word\"",
	};
	static const char *const ws[] = { "", "", "", " ", "\t", "\r", "  " };
	unsigned r = rnd(10);
	if (d <= 0 || r < 5) {
		adds(atoms[rnd(sizeof atoms / sizeof *atoms)]);
		return;
	}
	int obj = r < 8;
	unsigned n = rnd(5);
	addc(obj ? '{' : '[');
	adds(ws[rnd(7)]);
	for (unsigned i = 0; i < n; i++) {
		if (i) {
			adds(ws[rnd(7)]);
			addc(',');
			adds(ws[rnd(7)]);
		}
		if (obj) {
			static const char *const keys[] = { "\"a\"", "\"id\"", "\"\"",
				"\"k\\u0065y\"", "\"\xc3\xa9\"", "\"op\"", "\"a b\"" };
			adds(keys[rnd(7)]);
			adds(ws[rnd(7)]);
			addc(':');
			adds(ws[rnd(7)]);
		}
		random_value(d - 1);
	}
	adds(ws[rnd(7)]);
	addc(obj ? '}' : ']');
}

static const char *const events[] = {
	"{\"op\":\"begin\",\"source\":{\"driver\":\"postgres\",\"name\":\"app\"},\"tx\":1000,"
	"\"pos\":\"0/16B6C44\",\"commit_time\":\"2026-11-18T11:06:40.359151Z\"}",
	"{\"op\":\"update\",\"table\":\"public.shipments\",\"source\":{\"driver\":\"postgres\","
	"\"name\":\"app\"},\"tx\":1000,\"pos\":\"0/16B6C44\",\"seq\":0,\"commit_time\":"
	"\"2026-11-18T11:06:40.359151Z\",\"key\":{\"id\":84705},\"after\":{\"id\":84705,"
	"\"customer_id\":39570,\"status\":\"done\",\"amount\":\"3337.71\",\"name\":\"charlie lima\","
	"\"note\":\"mike foxtrot november hotel charlie\",\"updated_at\":\"2026-11-21T14:53:39.770311Z\"}}",
	"{ \"op\" : \"insert\" , \"table\" : \"public.t\u00e9\" , \"key\" : { \"id\" : -1.5e3 } , "
	"\"after\" : { \"s\" : \"caf\xc3\xa9 \\u00e9\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\" , "
	"\"a\" : [ true , false , null , [ ] , { } ] , \"e\" : \"\xf0\x9f\x98\x80\xe2\x82\xac\" } }",
	"{\"op\":\"delete\",\"table\":\"public.audit_log\",\"pos\":42,\"seq\":7,\"commit_time\":null,"
	"\"key\":{\"id\":1},\"before\":{\"id\":1,\"n\":null,\"u\":\"\\u0000\"},\"unchanged\":[\"x\"]}",
	"{\"o\\u0070\":\"ins\\u0065rt\",\"t\\u0061ble\":\"t\",\"count\":3,\"columns\":[],\"cursor\":{},"
	"\"id\":\"x\",\"origin\":\"o\"}",
	"{\"op\":\"commit\",\"source\":{\"driver\":\"postgres\",\"name\":\"app\"},\"tx\":1000,"
	"\"pos\":\"0/16B6C44\",\"commit_time\":\"2026-11-18T11:06:40.359151Z\",\"count\":1}",
};

/* Event-level checks: ops, field types, what follows the object. */
static void
event_level(void)
{
	static const char *const v[] = {
		"{\"op\":\"insert\",\"table\":\"t\"}", "{\"op\":\"update\",\"table\":\"t\"}",
		"{\"op\":\"delete\",\"table\":\"t\"}", "{\"op\":\"truncate\",\"table\":\"t\"}",
		"{\"op\":\"snapshot\",\"table\":\"t\"}", "{\"op\":\"begin\"}", "{\"op\":\"commit\"}",
		"{\"op\":\"schema\",\"table\":\"t\"}", "{\"op\":\"heartbeat\"}", "{\"op\":\"schema\"}",
		"{\"op\":\"insert\"}", "{\"op\":\"\"}", "{\"op\":\"inser\"}", "{\"op\":\"insertx\"}",
		"{\"op\":\"INSERT\",\"table\":\"t\"}", "{\"op\":\"ins\\u0065rt\",\"table\":\"t\"}",
		"{\"op\":\"b\\u0065gin\"}", "{\"op\":\"begi\\n\"}", "{\"op\":1}", "{\"op\":null}",
		"{\"op\":[\"begin\"]}", "{}", "{ }", "{\"table\":\"t\"}", "[]", "1", "\"s\"", "null",
		"{\"op\":\"begin\"} x", "{\"op\":\"begin\"}{}", "{\"op\":\"begin\"}  \t\r",
		"  {\"op\":\"begin\"}", "{\"op\":\"begin\",}", "{\"op\":\"begin\"", "{\"op\"",
		"{\"op\":", "{\"op\" \"begin\"}", "{op:\"begin\"}", "{\"op\":\"begin\" \"x\":1}",
		"{\"op\":\"begin\",\"op\":\"commit\"}", "{\"op\":\"nope\",\"op\":\"begin\"}",
		"{\"op\":\"a very long unknown op name that goes on and on and on\"}",
		"{\"op\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}",
		"{\"op\":\"insert\",\"table\":1}", "{\"op\":\"insert\",\"table\":\"t\",\"source\":1}",
		"{\"op\":\"insert\",\"table\":\"t\",\"pos\":true}", "{\"op\":\"insert\",\"table\":\"t\",\"pos\":-1}",
		"{\"op\":\"insert\",\"table\":\"t\",\"seq\":\"1\"}",
		"{\"op\":\"insert\",\"table\":\"t\",\"commit_time\":1}",
		"{\"op\":\"insert\",\"table\":\"t\",\"commit_time\":null}",
		"{\"op\":\"insert\",\"table\":\"t\",\"key\":[]}", "{\"op\":\"insert\",\"table\":\"t\",\"key\":null}",
		"{\"op\":\"insert\",\"table\":\"t\",\"before\":\"x\"}",
		"{\"op\":\"insert\",\"table\":\"t\",\"after\":1}", "{\"op\":\"insert\",\"table\":\"t\",\"after\":null}",
		"{\"op\":\"insert\",\"table\":\"t\",\"unchanged\":{}}",
		"{\"op\":\"truncate\",\"table\":\"t\",\"count\":\"1\"}",
		"{\"op\":\"insert\",\"table\":\"t\",\"cursor\":[]}",
		"{\"op\":\"insert\",\"table\":\"t\",\"\\u0074x\":1,\"s\\u0065q\":\"x\"}",
		"{\"op\":\"insert\",\"t\\u0061ble\":1}", "{\"\\u006fp\":\"begin\"}",
		"{\"op\\u0000\":\"begin\"}", "{\"\":\"begin\"}", "{\"o\":\"begin\"}",
		"{\"opp\":\"begin\"}", "{\"after\":{},\"before\":{},\"op\":\"update\",\"table\":\"t\"}",
		"\xef\xbb\xbf{\"op\":\"begin\"}", "{\"op\":\"begin\"}\x00", "\x00",
		"{\"op\":\"begin\",\"x\":\"\x00\"}", "   ", "\t", "\r",
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		add(v[i], strlen(v[i])), emit();
	/* the NUL bytes above are cut by strlen: spell a few out */
	add("{\"op\":\"begin\"}\0", 15), emit();
	add("{\"op\":\"begin\",\"x\":\"a\0b\"}", 25), emit();
	add("\0{\"op\":\"begin\"}", 15), emit();
}

static void
truncations(void)
{
	for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
		size_t n = strlen(events[i]);
		emits(events[i]);
		for (size_t k = 0; k < n; k++)
			add(events[i], k), emit();
	}
}

static void
mutations(unsigned count)
{
	static const char bytes[] = "\"\\{}[],: \t\r0123456789-+.eEtfnul\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xf5\xff";
	for (unsigned m = 0; m < count; m++) {
		char b[2048];
		const char *ev = events[rnd(sizeof events / sizeof *events)];
		size_t n = strlen(ev);
		memcpy(b, ev, n);
		unsigned edits = 1 + rnd(3);
		for (unsigned j = 0; j < edits; j++) {
			size_t at = rnd((unsigned)n);
			char c = bytes[rnd(sizeof bytes - 1)];
			switch (rnd(3)) {
			case 0:
				b[at] = c;
				break;
			case 1:
				memmove(b + at + 1, b + at, n - at);
				b[at] = c;
				n++;
				break;
			default:
				memmove(b + at, b + at + 1, n - at - 1);
				n--;
			}
		}
		add(b, n);
		emit();
	}
}

int
main(int argc, char **argv)
{
	unsigned long long seed = 1;
	unsigned muts = 20000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-s"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-m"))
			muts = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else
			return 2;
	}
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	strings();
	numbers_literals();
	nesting();
	event_level();
	truncations();
	for (int i = 0; i < 3000; i++) {
		adds("{\"op\":\"insert\",\"table\":\"t\",\"after\":{\"v\":");
		random_value(1 + (int)rnd(6));
		adds("}}");
		emit();
	}
	mutations(muts);
	return fflush(stdout) ? 1 : 0;
}
