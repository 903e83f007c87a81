/* expr.c - the expression language of dblog-filter -w (lib/expr.c). Input:
 * the expression, then after a NUL byte event lines to evaluate it on
 * (beside a few fixed ones), so that the fuzzer varies both. */
#include "fuzz.h"

static const char *const events[] = {
	("{\"op\":\"insert\",\"table\":\"public.orders\",\"source\":{\"driver\":\"postgres\",\"name\":\"db\"},"
	"\"tx\":7,\"pos\":\"0/16B3748\",\"seq\":0,\"commit_time\":\"2026-11-22T10:00:00.123456Z\","
	"\"id\":\"6a982e16-d9c7-53f8-8846-1a1ee72dab12\",\"key\":{\"id\":1},"
	"\"after\":{\"id\":1,\"total\":12.50,\"note\":\"caf\\u00e9 \\\"q\\\"\",\"ok\":true,\"n\":null,\"a\":[1,2]}}"),
	("{\"op\":\"update\",\"table\":\"main.t\",\"source\":{\"driver\":\"sqlite\",\"name\":\"s\"},\"pos\":42,"
	"\"seq\":3,\"key\":{\"k\":\"x\"},\"before\":{\"k\":\"x\",\"v\":-1e3},\"after\":{\"k\":\"x\",\"v\":\"\"}}"),
	"{\"op\":\"delete\",\"table\":\"\",\"key\":{},\"before\":null}",
	"{\"op\":\"commit\",\"tx\":\"abc\",\"pos\":\"\",\"count\":2}",
};

static void
eval_on(struct dblog_expr *x, const char *line, size_t n, struct dblog_buf *scratch)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	if (!dblog_event_scan(line, n, &f, &e, scratch))
		dblog_expr_eval(x, &f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *src = fuzz_cstr(data, size);   /* the expression ends at a NUL */
	size_t xn = strlen(src);
	char err[256];
	size_t col = 0;
	struct dblog_expr *x = dblog_expr_compile(src, err, sizeof err, &col);
	if (!x) {
		FUZZ_CHECK(col >= 1 && col <= xn + 1 && err[0]);
		free(src);
		return 0;
	}
	struct dblog_buf scratch = { 0 };
	for (size_t i = 0; i < sizeof events / sizeof *events; i++)
		eval_on(x, events[i], strlen(events[i]), &scratch);
	const char *p = (const char *)data + xn + (xn < size), *end = (const char *)data + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *line = fuzz_copy(p, n);
		eval_on(x, line, n, &scratch);
		free(line);
		p += n + 1;
	}
	dblog_expr_free(x);
	dblog_buf_free(&scratch);
	free(src);
	return 0;
}
