/* ctl_conflicts.c - the changes that manual_review parked in a destination:
 * shown as a table, applied after all under a stream of their own, or
 * dropped (dblogctl conflicts). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

void
dblog_ctl_conflicts_table(FILE *f, const json_t *arr)
{
	size_t i;
	json_t *c;
	fprintf(f, "%-6s %-27s %-40s %-20s %s\n", "ID", "TIME", "REASON", "TABLE", "KEY");
	json_array_foreach(arr, i, c) {
		json_t *ev = json_object_get(c, "event");
		char *key = json_dumps(json_object_get(ev, "key"), JSON_COMPACT | JSON_ENCODE_ANY);
		fprintf(f, "%-6lld %-27s %-40s %-20s %s\n",
			(long long)json_integer_value(json_object_get(c, "id")),
			json_string_value(json_object_get(c, "time")),
			json_string_value(json_object_get(c, "reason")),
			json_string_value(json_object_get(ev, "table")) ?: "-", key ? key : "-");
		free(key);
	}
}

/* Apply a parked change (event, borrowed) to dest under the stream
 * "STREAM.retry.ID" with source_wins, then forget that stream's position.
 * Returns the exit status (message in err when not 0). */
static int
retry_conflict(const char *dest, const char *stream, int64_t id, const json_t *event, char *err,
	       size_t errlen)
{
	struct dblog_buf s = { 0 };
	dblog_buf_printf(&s, "%s.retry.%lld", stream, (long long)id);
	const char *argv[] = { "dblog-apply", "--stream", s.p, "--conflict", "source_wins", dest,
			       NULL, NULL, NULL };
	if (dblog_ctl_is_pg(dest)) {
		argv[5] = "--map-schema";
		argv[6] = "main=public";
		argv[7] = dest;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		dblog_buf_free(&s);
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		return DBLOG_EXIT_FAIL;
	}
	long pid = dblog_ctl_spawn(argv, p[0], -1);
	close(p[0]);
	/* a change taken out of its transaction: without "tx" it is whole on
	 * its own (see dblog-apply(1), Whole transactions) */
	json_t *lone = json_deep_copy(event);
	json_object_del(lone, "tx");
	char *line = json_dumps(lone, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(lone);
	signal(SIGPIPE, SIG_IGN);
	int wr = line && write(p[1], line, strlen(line)) >= 0 && write(p[1], "\n", 1) == 1;
	close(p[1]);
	free(line);
	int rc = dblog_ctl_wait(pid);
	if (!rc && wr)
		rc = dblog_ctl_dest_set_applied(dest, s.p, NULL, err, errlen) ? DBLOG_EXIT_FAIL : 0;
	else
		snprintf(err, errlen, "dblog-apply could not apply conflict %lld (status %d)",
			 (long long)id, rc);
	dblog_buf_free(&s);
	return rc ? rc : !wr;
}

int
dblog_ctl_conflict_resolve(const char *dest, const char *stream, int64_t id, int retry,
			   char *err, size_t errlen)
{
	json_t *arr = dblog_ctl_dest_conflicts(dest, stream, err, errlen), *c = NULL, *x;
	size_t i;
	if (!arr)
		return DBLOG_EXIT_FAIL;
	json_array_foreach(arr, i, x)
		if (json_integer_value(json_object_get(x, "id")) == id)
			c = x;
	int rc = DBLOG_EXIT_OK;
	if (!c) {
		snprintf(err, errlen, "stream \"%s\" has no conflict %lld", stream, (long long)id);
		rc = DBLOG_EXIT_FAIL;
	} else if (retry) {
		rc = retry_conflict(dest, stream, id, json_object_get(c, "event"), err, errlen);
	}
	if (c && !rc) {
		char e[512];
		if (dblog_ctl_dest_conflict_delete(dest, stream, id, e, sizeof e) < 0) {
			snprintf(err, errlen, "cannot remove conflict %lld: %s", (long long)id, e);
			rc = DBLOG_EXIT_FAIL;
		}
	}
	json_decref(arr);
	return rc;
}
