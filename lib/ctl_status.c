/* ctl_status.c - the status of a stream, from what the stages wrote (the
 * checkpoint of dblog-apply, the status file of the supervisor, the
 * archive) and what the source says (the SQLite changelog, the PostgreSQL
 * slot); see STATUS in dblogctl(1). */
#include <stdlib.h>
#include <string.h>

#include "dblog.h"
#include "dblog_ctl.h"
#include "dblog_pg.h"
#include "dblog_sqlite.h"

/* A running stream this far behind counts as catching up. */
#define CATCHING_UP_S 30

char *
dblog_ctl_slot(const char *name)
{
	struct dblog_buf b = { 0 };
	dblog_buf_printf(&b, "dblog_%s", name);
	for (char *p = b.p; *p; p++)
		if (*p == '-')
			*p = '_';
	return b.p;
}

static double
seconds_since(const char *t)
{
	int64_t us;
	if (!t || dblog_time_parse(t, strlen(t), &us))
		return -1;
	double s = (double)(dblog_time_now() - us) / 1e6;
	return s < 0 ? 0 : s;
}

/* SQLite source: the changes in the changelog after the checkpoint, and
 * the time of the oldest of them. */
static void
sqlite_figures(json_t *o, const char *path, const json_t *cp)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	char err[512];
	if (dblog_sqlite_open(path, 1, &db, err, sizeof err))
		return;
	struct dblog_pos pos = { 0 };
	int64_t seq;
	int has_seq;
	if (cp)
		dblog_checkpoint_pos(cp, &pos, &seq, &has_seq);
	if (sqlite3_prepare_v2(db, "SELECT count(*), min(time) FROM _dblog_changes "
			       "WHERE seq > ? AND op != 'begin'", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, pos.kind == DBLOG_POS_SEQ ? (sqlite3_int64)pos.v : 0);
		if (sqlite3_step(st) == SQLITE_ROW) {
			int64_t n = sqlite3_column_int64(st, 0);
			const char *t = (const char *)sqlite3_column_text(st, 1);
			json_object_set_new(o, "lag_events", json_integer(n));
			double s = n && t ? seconds_since(t) : 0;
			json_object_set_new(o, "lag_seconds", json_real(s < 0 ? 0 : s));
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* PostgreSQL source, a slot that no run uses: the changes that it holds
 * after the checkpoint (in transactions that commit after its position),
 * peeked at, not consumed; at most a million are decoded. */
static void
pg_lag_events(json_t *o, PGconn *c, const char *slot, const json_t *cp)
{
	const char *pos = json_string_value(json_object_get(cp, "pos"));
	const char *p[3] = { slot, pos ? pos : "0/0", slot };
	PGresult *r = PQexecParams(c, "WITH c AS (SELECT xid, data FROM "
		"pg_logical_slot_peek_binary_changes($1, NULL, 1000000, 'proto_version', '1', "
		"'publication_names', $3)) SELECT count(*) FROM c WHERE get_byte(data, 0) IN "
		"(73, 85, 68, 84) AND xid IN (SELECT xid FROM c WHERE get_byte(data, 0) = 67 AND "
		"('x' || encode(substring(data FROM 3 FOR 8), 'hex'))::bit(64)::bigint > "
		"$2::pg_lsn - '0/0'::pg_lsn)", 3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1)
		json_object_set_new(o, "lag_events", json_integer(strtoll(PQgetvalue(r, 0, 0), NULL, 10)));
	PQclear(r);
}

/* PostgreSQL source: the slot's wal_status and the WAL it keeps, and while
 * no run uses the slot, the changes it holds. */
static void
pg_figures(json_t *o, const struct dblog_ctl *ctl, const char *conninfo, const json_t *cp)
{
	char err[512];
	int retry;
	const char *ct = json_string_value(json_object_get(cp, "commit_time"));
	double s = seconds_since(ct);
	json_object_set_new(o, "lag_seconds", s < 0 ? json_null() : json_real(s));
	PGconn *c = dblog_pg_connect(conninfo, 0, err, sizeof err, &retry);
	if (!c)
		return;
	char *slot = dblog_ctl_slot(ctl->name);
	const char *p[1] = { slot };
	PGresult *r = PQexecParams(c, "SELECT wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), "
				   "confirmed_flush_lsn)::bigint, active FROM pg_replication_slots "
				   "WHERE slot_name = $1", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 3) {
		json_object_set_new(o, "wal_status", PQgetisnull(r, 0, 0) ? json_null()
					: json_string(PQgetvalue(r, 0, 0)));
		json_object_set_new(o, "wal_retained_bytes", PQgetisnull(r, 0, 1) ? json_null()
					: json_integer(strtoll(PQgetvalue(r, 0, 1), NULL, 10)));
		if (!strcmp(PQgetvalue(r, 0, 2), "f") && !dblog_ctl_locked(ctl->lock) &&
		    strcmp(PQgetvalue(r, 0, 0), "lost"))
			pg_lag_events(o, c, slot, cp);
	}
	PQclear(r);
	PQfinish(c);
	free(slot);
}

static int
errors_last_hour(const json_t *st)
{
	size_t i;
	json_t *e;
	int n = 0;
	json_array_foreach(json_object_get(st, "errors"), i, e) {
		double s = seconds_since(json_string_value(e));
		n += s >= 0 && s < 3600;
	}
	return n;
}

static const char *
state_of(const struct dblog_ctl *c, const json_t *spec, const json_t *st, const json_t *cp,
	 const json_t *o)
{
	const char *s = json_string_value(json_object_get(st, "state"));
	if (json_is_true(json_object_get(spec, "paused")))
		return "paused";
	if (!dblog_ctl_locked(c->lock))
		return s && !strcmp(s, "failed") ? "failed" : "stopped";
	if (!s || (strcmp(s, "snapshot") && strcmp(s, "catching_up")))
		s = "running";
	if (!strcmp(s, "snapshot") && cp && !json_is_true(json_object_get(cp, "snapshot")) &&
	    strcmp(dblog_ctl_str(spec, "mode"), "snapshot"))
		s = "running";
	if (!strcmp(s, "running") && json_real_value(json_object_get(o, "lag_seconds")) > CATCHING_UP_S)
		s = "catching_up";
	return s;
}

json_t *
dblog_ctl_status(const struct dblog_ctl *c, const json_t *spec)
{
	char err[512];
	json_t *cp = NULL, *st = NULL, *o = json_object();
	if (dblog_checkpoint_load(c->checkpoint, &cp, err, sizeof err) < 0)
		cp = NULL;
	if (dblog_ctl_load(c->status, &st, err, sizeof err))
		st = NULL;
	const char *src = dblog_ctl_str(spec, "source");
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "state", json_null());
	json_object_set_new(o, "last_event", json_copy(json_object_get(cp, "commit_time")) ?: json_null());
	json_object_set_new(o, "last_checkpoint", cp ? json_pack("{sO sO}", "pos", json_object_get(cp, "pos"),
				"wall", json_object_get(cp, "written") ?: json_null()) : json_null());
	json_object_set_new(o, "lag_seconds", json_null());
	json_object_set_new(o, "lag_events", json_null());
	if (dblog_ctl_is_pg(src))
		pg_figures(o, c, src, cp);
	else if (dblog_ctl_sqlite_path(src))
		sqlite_figures(o, dblog_ctl_sqlite_path(src), cp);
	if (json_is_null(json_object_get(o, "lag_events")) && dblog_ctl_str(spec, "archive")) {
		int64_t n = dblog_ctl_archive_after(c->archive, cp);
		if (n >= 0)
			json_object_set_new(o, "lag_events", json_integer(n));
	}
	json_t *counters = json_object_get(cp, "counters");
	json_object_set_new(o, "bytes_replicated",
			    json_integer(json_integer_value(json_object_get(counters, "bytes"))));
	json_object_set_new(o, "events_replicated",
			    json_integer(json_integer_value(json_object_get(counters, "changes"))));
	json_object_set_new(o, "errors_last_hour", json_integer(errors_last_hour(st)));
	json_t *le = json_object_get(st, "last_error");
	json_object_set_new(o, "last_error", le ? json_copy(le) : json_null());
	json_object_set_new(o, "state", json_string(state_of(c, spec, st, cp, o)));
	long pid = dblog_ctl_locked(c->lock) ? dblog_ctl_pid_read(c->pid) : 0;
	json_object_set_new(o, "pid", pid ? json_integer(pid) : json_null());
	json_object_set_new(o, "conflicts",
			    json_integer(json_integer_value(json_object_get(counters, "conflicts"))));
	char *rs = dblog_ctl_redact(src), *rd = dblog_ctl_redact(dblog_ctl_str(spec, "dest"));
	json_object_set_new(o, "source", json_string(rs));
	json_object_set_new(o, "dest", json_string(rd));
	free(rs);
	free(rd);
	json_object_set(o, "region", json_object_get(spec, "region") ?: json_null());
	json_decref(cp);
	json_decref(st);
	return o;
}

static void
num(char *out, size_t n, const json_t *v)
{
	if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(out, n, "%.0f", json_real_value(v));
	else
		snprintf(out, n, "-");
}

void
dblog_ctl_status_table(FILE *f, const json_t *arr)
{
	size_t i;
	json_t *o;
	fprintf(f, "%-16s %-11s %-27s %8s %8s %10s %12s %5s  %s\n", "NAME", "STATE", "LAST_EVENT",
		"LAG_S", "LAG_EV", "EVENTS", "BYTES", "ERR/H", "LAST_ERROR");
	json_array_foreach(arr, i, o) {
		char lag[32], lagev[32], ev[32], by[32], eh[32];
		num(lag, sizeof lag, json_object_get(o, "lag_seconds"));
		num(lagev, sizeof lagev, json_object_get(o, "lag_events"));
		num(ev, sizeof ev, json_object_get(o, "events_replicated"));
		num(by, sizeof by, json_object_get(o, "bytes_replicated"));
		num(eh, sizeof eh, json_object_get(o, "errors_last_hour"));
		const char *le = json_string_value(json_object_get(o, "last_event"));
		const char *err = json_string_value(json_object_get(o, "last_error"));
		fprintf(f, "%-16s %-11s %-27s %8s %8s %10s %12s %5s  %.60s\n",
			json_string_value(json_object_get(o, "name")),
			json_string_value(json_object_get(o, "state")), le ? le : "-", lag, lagev, ev,
			by, eh, err ? err : "-");
	}
}

void
dblog_ctl_list_table(FILE *f, const char *home, const json_t *arr)
{
	size_t i;
	json_t *s;
	fprintf(f, "%-16s %-11s %-18s %-10s %-34s %s\n", "NAME", "STATE", "MODE", "REGION", "SOURCE",
		"DEST");
	json_array_foreach(arr, i, s) {
		struct dblog_ctl c;
		json_t *spec = NULL;
		char err[512];
		const char *name = json_string_value(json_object_get(s, "name"));
		dblog_ctl_paths(&c, home, name);
		dblog_ctl_load(c.spec, &spec, err, sizeof err);
		fprintf(f, "%-16s %-11s %-18s %-10s %-34s %s\n", name,
			json_string_value(json_object_get(s, "state")), dblog_ctl_str(spec, "mode") ?: "-",
			dblog_ctl_str(spec, "region") ?: "-", json_string_value(json_object_get(s, "source")),
			json_string_value(json_object_get(s, "dest")));
		json_decref(spec);
		dblog_ctl_paths_free(&c);
	}
}

/* The environment's credentials, restored before each stream's own. */
struct env_saved {
	char *pw, *file;
};

static void
env_restore(const struct env_saved *e)
{
	if (e->pw)
		setenv("PGPASSWORD", e->pw, 1);
	else
		unsetenv("PGPASSWORD");
	if (e->file)
		setenv("PGPASSFILE", e->file, 1);
	else
		unsetenv("PGPASSFILE");
}

/* The status of the stream called name, with its own credentials,
 * appended to arr: 0, 1 when there is none, -1 (a warning printed). */
static int
append_status(json_t *arr, const char *home, const char *name, const struct env_saved *env)
{
	struct dblog_ctl c;
	json_t *spec;
	char err[512];
	dblog_ctl_paths(&c, home, name);
	int rc = dblog_ctl_load(c.spec, &spec, err, sizeof err);
	if (rc == 0) {
		env_restore(env);
		if (dblog_ctl_auth_apply(dblog_ctl_str(spec, "auth_ref"), err, sizeof err))
			dblog_warn("%s", err);
		json_array_append_new(arr, dblog_ctl_status(&c, spec));
		json_decref(spec);
	} else if (rc < 0) {
		dblog_warn("%s", err);
	}
	dblog_ctl_paths_free(&c);
	return rc;
}

json_t *
dblog_ctl_statuses(const char *home, const char *name, char *err, size_t errlen)
{
	struct dblog_list names = { 0 };
	const char *pw = getenv("PGPASSWORD"), *file = getenv("PGPASSFILE");
	struct env_saved env = { pw ? dblog_xstrdup(pw) : NULL, file ? dblog_xstrdup(file) : NULL };
	json_t *arr = json_array();
	if (name)
		dblog_list_split(&names, name);
	else if (dblog_ctl_names(home, &names, err, errlen))
		goto fail;
	for (size_t i = 0; i < names.n; i++)
		if (append_status(arr, home, names.v[i], &env) == 1 && name) {
			snprintf(err, errlen, "no stream \"%s\" in %s", name, home);
			goto fail;
		}
	env_restore(&env);
	dblog_list_free(&names);
	free(env.pw);
	free(env.file);
	return arr;
fail:
	json_decref(arr);
	dblog_list_free(&names);
	free(env.pw);
	free(env.file);
	return NULL;
}
