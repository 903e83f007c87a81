/* apply.c - events as dblog-apply applies them into SQLite (lib/sink.c,
 * lib/sink_sqlite.c): every line of the input is scanned, schema events
 * create their tables (--create-tables), changes are applied into a fresh
 * in-memory database, each in a savepoint as with --dlq, so that a bad
 * event is refused and the rest goes on. What the sink does with the
 * values, names and keys of hostile events is what this looks at. */
#include "fuzz.h"
#include "sink.h"

static void
apply_line(struct dblog_sink *s, const char *line, size_t n, struct dblog_buf *scratch,
	   struct dblog_buf *name)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	char err[512];
	if (dblog_event_scan(line, n, &f, &e, scratch))
		return;
	if (f.op != DBLOG_OP_SCHEMA && !DBLOG_OP_IS_CHANGE(f.op))
		return;
	dblog_json_unescape(f.table, name);
	if (memchr(name->p, 0, name->len))   /* dblog-apply refuses these */
		return;
	if (s->ops->savepoint(s, err, sizeof err))
		return;
	int rc;
	if (f.op == DBLOG_OP_SCHEMA) {
		rc = s->ops->schema(s, &f, name->p, 1, err, sizeof err);
	} else {
		enum dblog_outcome out;
		struct dblog_conflict_info ci = { NULL, NULL };
		rc = s->ops->apply(s, &f, name->p, &out, &ci, err, sizeof err);
		free(ci.dest_row);
	}
	if (rc)
		s->ops->rollback_to(s, err, sizeof err);
	else
		s->ops->release(s, err, sizeof err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct dblog_sink *s = dblog_sink_sqlite_open(":memory:", DBLOG_SOURCE_WINS, NULL, err,
						      sizeof err);
	FUZZ_CHECK(s != NULL);
	s->create_tables = 1;
	s->careful = 1;
	struct dblog_buf scratch = { 0 }, name = { 0 };
	if (!s->ops->begin(s, err, sizeof err)) {
		const char *p = (const char *)data, *end = p + size;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char *line = fuzz_copy(p, n);
			apply_line(s, line, n, &scratch, &name);
			free(line);
			p += n + 1;
		}
		s->ops->commit(s, err, sizeof err);
	}
	s->ops->close(s);
	dblog_buf_free(&scratch);
	dblog_buf_free(&name);
	return 0;
}
