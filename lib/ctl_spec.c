/* ctl_spec.c - a stream's declaration (spec.json): what upsert accepts. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

static int
one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

static int
check_uri(const char *what, const char *uri, char *err, size_t errlen)
{
	if (!uri)
		snprintf(err, errlen, "upsert: missing --%s URI", what);
	else if (!dblog_ctl_is_pg(uri) && !dblog_ctl_sqlite_path(uri))
		snprintf(err, errlen, "--%s: expected sqlite:PATH or a PostgreSQL URI or conninfo, got "
			 "'%s'", what, uri);
	else if (dblog_ctl_has_password(uri))
		snprintf(err, errlen, "--%s: the URI holds a password; keep it out of the spec, logs "
			 "and ps: give it with --auth-ref env:VAR or --auth-ref file:PATH", what);
	else
		return 0;
	return -1;
}

/* A duration member, when there, is a positive duration. */
static int
check_duration(const json_t *spec, const char *key, const char *opt, const char *like,
	       char *err, size_t errlen)
{
	const char *v = dblog_ctl_str(spec, key);
	int64_t ms;
	if (!v || (!dblog_parse_duration(v, &ms) && ms > 0))
		return 0;
	snprintf(err, errlen, "--%s: expected a duration like %s, got '%s'", opt, like, v);
	return -1;
}

int
dblog_ctl_spec_check(const json_t *spec, char *err, size_t errlen)
{
	static const char *const modes[] = { "cdc", "snapshot", "snapshot_then_cdc", NULL };
	static const char *const policies[] = { "source_wins", "dest_wins", "last_writer_wins",
						"manual_review", NULL };
	const char *mode = dblog_ctl_str(spec, "mode"), *pol = dblog_ctl_str(spec, "conflict");
	const char *auth = dblog_ctl_str(spec, "auth_ref"), *filter = dblog_ctl_str(spec, "filter");
	if (check_uri("source", dblog_ctl_str(spec, "source"), err, errlen) ||
	    check_uri("dest", dblog_ctl_str(spec, "dest"), err, errlen))
		return -1;
	if (!mode || !one_of(mode, modes)) {
		snprintf(err, errlen, "--mode: expected cdc, snapshot or snapshot_then_cdc, got '%s'",
			 mode ? mode : "");
		return -1;
	}
	if (!pol || !one_of(pol, policies)) {
		snprintf(err, errlen, "--conflict: expected source_wins, dest_wins, last_writer_wins "
			 "or manual_review, got '%s'", pol ? pol : "");
		return -1;
	}
	if (check_duration(spec, "checkpoint_interval", "checkpoint-interval", "1s", err, errlen) ||
	    check_duration(spec, "archive", "archive", "7d", err, errlen))
		return -1;
	if (auth && dblog_ctl_auth_check(auth, err, errlen))
		return -1;
	if (filter) {
		char e[400];
		size_t col;
		struct dblog_expr *x = dblog_expr_compile(filter, e, sizeof e, &col);
		if (!x) {
			snprintf(err, errlen, "--filter: column %zu: %s", col, e);
			return -1;
		}
		dblog_expr_free(x);
	}
	/* a setup option: the mode snapshot sets nothing up, SQLite has no
	 * replica identity */
	if (json_is_true(json_object_get(spec, "replica_identity_full"))) {
		if (!dblog_ctl_is_pg(dblog_ctl_str(spec, "source"))) {
			snprintf(err, errlen, "--replica-identity-full goes with a PostgreSQL source");
			return -1;
		}
		if (!strcmp(mode, "snapshot")) {
			snprintf(err, errlen, "--replica-identity-full goes with the modes that follow "
				 "changes (snapshot_then_cdc, cdc): the mode snapshot sets nothing up");
			return -1;
		}
	}
	return 0;
}

char *
dblog_ctl_absolute(const char *uri)
{
	const char *path = dblog_ctl_sqlite_path(uri);
	char cwd[PATH_MAX];
	if (!path || *path == '/' || !getcwd(cwd, sizeof cwd))
		return dblog_xstrdup(uri);
	struct dblog_buf b = { 0 };
	dblog_buf_printf(&b, "sqlite:%s/%s", cwd, path);
	return b.p;
}
