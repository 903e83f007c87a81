/* time.c - times and durations (lib/time.c, lib/util.c): RFC 3339 times in
 * events and arguments, relative times (--since 2h, 90m ago), durations
 * and sizes of options, and the formatting of any timestamp a source
 * sends. A time that parses prints as text that parses to the same time. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	int64_t us, back, ms, count;
	uint64_t bytes;
	char text[64];
	if (!dblog_time_parse(s, size, &us)) {
		dblog_time_format(us, text, sizeof text);
		FUZZ_CHECK(!dblog_time_parse(text, strlen(text), &back));
		FUZZ_CHECK(back == us);
	}
	char *c = fuzz_cstr(data, size);
	if (!dblog_time_parse_arg(c, &us))
		dblog_time_format(us, text, sizeof text);
	dblog_parse_duration(c, &ms);
	dblog_parse_size(c, &bytes);
	dblog_parse_count(c, &count);
	free(c);
	/* any 8 bytes as a timestamp, as a pgoutput Begin carries one */
	if (size >= 8) {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | data[i];
		dblog_time_format((int64_t)v, text, sizeof text);
	}
	return 0;
}
