/* src_pg.c - the PostgreSQL source: publication and slot setup, the
 * logical replication stream (pgoutput) with feedback that confirms only
 * what the checkpoint file records, and the run that puts them together
 * with the snapshots and incremental reads of src_pg_snap.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_pg.h"
#include "pgoutput.h"
#include "src_pg.h"
#include "src_pg_impl.h"

#define PG_EPOCH_US 946684800000000LL

/* ------------------------------------------------------------- helpers */

/* A one-value query: the value (owned) or NULL with err set. */
char *
pgsrc_query1(PGconn *c, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	char *v = NULL;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(r));
		size_t n = strlen(err);
		while (n && err[n - 1] == '\n')
			err[--n] = 0;
	} else if (PQntuples(r) >= 1 && PQnfields(r) >= 1 && !PQgetisnull(r, 0, 0)) {
		v = dblog_xstrdup(PQgetvalue(r, 0, 0));
	} else {
		err[0] = 0;
	}
	PQclear(r);
	return v;
}

/* ----------------------------------------------------- setup, teardown */

/* Turn a server error into advice: what is wrong and what fixes it. */
void
pgsrc_advise(const struct dblog_pgsrc_opts *o, const char *what, const char *msg, char *err, size_t errlen)
{
	const char *fix = "";
	if (strstr(msg, "must be superuser") && strstr(what, "publication"))
		fix = " (FOR ALL TABLES needs a superuser: name the tables with --tables, "
		      "or run as a superuser)";
	else if (strstr(msg, "permission denied for database"))
		fix = " (fix: GRANT CREATE ON DATABASE <db> TO <user>;)";
	else if (strstr(msg, "must be owner of table") || strstr(msg, "must be owner of"))
		fix = " (the publication's tables must be owned by this user)";
	else if (strstr(msg, "must be superuser or replication role") ||
		 strstr(msg, "permission denied to use replication slots") ||
		 strstr(msg, "must be superuser or have REPLICATION"))
		fix = " (fix: ALTER ROLE <user> REPLICATION;)";
	else if (strstr(msg, "wal_level"))
		fix = " (fix: ALTER SYSTEM SET wal_level = logical; then restart the server)";
	else if (strstr(msg, "all replication slots are in use"))
		fix = " (fix: raise max_replication_slots, or drop unused slots)";
	snprintf(err, errlen, "%s: %s%s", what, msg, fix);
	(void)o;
}

static int
check_wal_level(PGconn *c, char *err, size_t errlen)
{
	char *lvl = pgsrc_query1(c, "SHOW wal_level", 0, NULL, err, errlen);
	if (!lvl)
		return -1;
	int ok = !strcmp(lvl, "logical");
	if (!ok)
		snprintf(err, errlen, "wal_level is '%s', logical decoding needs 'logical' (fix: "
			 "ALTER SYSTEM SET wal_level = logical; then restart the server)", lvl);
	free(lvl);
	return ok ? 0 : -1;
}

/* The SQL of the tables the publication will publish (their oids): the
 * --tables (and the partitions of a partitioned one), else those of the
 * publication that is there, else every table FOR ALL TABLES takes. */
static void
published_oids(const struct dblog_pgsrc_opts *o, int have, struct dblog_buf *sql)
{
	if (o->tables->n) {
		struct dblog_buf sch = { 0 }, tn = { 0 }, qn = { 0 };
		dblog_buf_adds(sql, "SELECT x FROM unnest(ARRAY[");
		for (size_t i = 0; i < o->tables->n; i++) {
			int has;
			dblog_buf_clear(&qn);
			dblog_table_split(o->tables->v[i], strlen(o->tables->v[i]), &sch, &tn, &has);
			if (has) {
				dblog_sql_ident(&qn, sch.p);
				dblog_buf_addc(&qn, '.');
			}
			dblog_sql_ident(&qn, tn.p);
			dblog_buf_adds(sql, i ? ", to_regclass(" : "to_regclass(");
			dblog_sql_literal_e(sql, qn.p);
			dblog_buf_addc(sql, ')');
		}
		dblog_buf_adds(sql, "]::regclass[]) AS t(x) WHERE x IS NOT NULL");
		dblog_buf_free(&sch);
		dblog_buf_free(&tn);
		dblog_buf_free(&qn);
	} else if (have) {
		dblog_buf_adds(sql, "SELECT format('%I.%I', schemaname, tablename)::regclass FROM "
			       "pg_catalog.pg_publication_tables WHERE pubname = ");
		dblog_sql_literal_e(sql, o->publication);
	} else {
		dblog_buf_adds(sql, "SELECT c.oid::regclass FROM pg_catalog.pg_class c JOIN "
			       "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
			       "AND c.relpersistence = 'p' AND c.oid >= 16384 AND n.nspname NOT IN "
			       "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'");
	}
}

/* PostgreSQL refuses UPDATE and DELETE on a table in a publication that
 * publishes them when the table has no replica identity: no primary key
 * under the default identity, NOTHING, or an identity index that is gone.
 * Find such tables among those published; with o->replica_identity_full
 * set REPLICA IDENTITY FULL on them, else refuse naming each one and the
 * fix. 0, or -1 with err. */
static int
check_identity(PGconn *c, const struct dblog_pgsrc_opts *o, int have, char *err, size_t errlen)
{
	const char *p[1] = { o->publication };
	char *upd = pgsrc_query1(c, "SELECT pubupdate OR pubdelete FROM pg_catalog.pg_publication "
				 "WHERE pubname = $1", 1, p, err, errlen);
	if (!upd && err[0])
		return -1;
	int publishes = !upd || upd[0] == 't';
	free(upd);
	if (!publishes)
		return 0;   /* a publication of inserts only: UPDATE and DELETE stay allowed */
	struct dblog_buf sql = { 0 }, list = { 0 }, fix = { 0 }, fixes = { 0 };
	dblog_buf_adds(&sql, "WITH named(x) AS (");
	published_oids(o, have, &sql);
	dblog_buf_adds(&sql, "), leaf(x) AS (SELECT x FROM named UNION SELECT t.relid FROM named, "
		"pg_catalog.pg_partition_tree(named.x) t WHERE t.isleaf) "
		"SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) "
		"FROM leaf JOIN pg_catalog.pg_class c ON c.oid = leaf.x "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND "
		"(c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM "
		"pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)) OR "
		"(c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
		"WHERE i.indrelid = c.oid AND i.indisreplident))) ORDER BY 1, 2");
	PGresult *r = PQexec(c, sql.p);
	int rc = -1, n = PQntuples(r);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot read the replica identities of the tables: %.*s",
			 (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
		goto out;
	}
	char msg[512];
	for (int i = 0; i < n; i++) {
		const char *sch = PQgetvalue(r, i, 0), *name = PQgetvalue(r, i, 1);
		dblog_buf_clear(&fix);
		dblog_buf_printf(&fix, "ALTER TABLE %s REPLICA IDENTITY FULL", PQgetvalue(r, i, 2));
		if (o->replica_identity_full) {
			if (dblog_pg_exec(c, fix.p, msg, sizeof msg)) {
				pgsrc_advise(o, "cannot set the replica identity", msg, err, errlen);
				goto out;
			}
			continue;
		}
		if (i)
			dblog_buf_adds(&list, ", ");
		dblog_table_join(&list, sch, strlen(sch), name, strlen(name));
		dblog_buf_add(&fixes, fix.p, fix.len);
		dblog_buf_adds(&fixes, "; ");
	}
	rc = 0;
	if (n && !o->replica_identity_full) {
		rc = -1;
		/* the names whole; the fix as far as it fits */
		int room = (int)(errlen > list.len + 300 ? errlen - list.len - 300 : 0);
		snprintf(err, errlen, "%d table%s no primary key or replica identity, so the "
			 "application's UPDATE and DELETE would fail once published: %s (fix: %.*s%s"
			 "or --setup --replica-identity-full does it)", n, n == 1 ? " has" : "s have",
			 list.p, fixes.len > (size_t)room ? room : (int)fixes.len, fixes.p,
			 fixes.len > (size_t)room ? "...; " : "");
	}
out:
	PQclear(r);
	dblog_buf_free(&sql);
	dblog_buf_free(&list);
	dblog_buf_free(&fix);
	dblog_buf_free(&fixes);
	return rc;
}

static int
setup_publication(PGconn *c, const struct dblog_pgsrc_opts *o, char *err, size_t errlen)
{
	const char *p[1] = { o->publication };
	char *have = pgsrc_query1(c, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", 1, p,
			    err, errlen);
	if (!have && err[0])
		return -1;
	struct dblog_buf sql = { 0 };
	if (check_identity(c, o, have != NULL, err, errlen)) {
		free(have);
		return -1;
	}
	if (have && !o->tables->n) {
		free(have);
		return 0;
	}
	dblog_buf_adds(&sql, have ? "ALTER PUBLICATION " : "CREATE PUBLICATION ");
	dblog_sql_ident(&sql, o->publication);
	if (!o->tables->n) {
		dblog_buf_adds(&sql, " FOR ALL TABLES");
	} else {
		dblog_buf_adds(&sql, have ? " SET TABLE " : " FOR TABLE ");
		struct dblog_buf sch = { 0 }, tn = { 0 };
		for (size_t i = 0; i < o->tables->n; i++) {
			int has;
			if (i)
				dblog_buf_adds(&sql, ", ");
			/* checked by the caller: a name as events write it */
			dblog_table_split(o->tables->v[i], strlen(o->tables->v[i]), &sch, &tn, &has);
			if (has) {
				dblog_sql_ident(&sql, sch.p);
				dblog_buf_addc(&sql, '.');
			}
			dblog_sql_ident(&sql, tn.p);
		}
		dblog_buf_free(&sch);
		dblog_buf_free(&tn);
	}
	free(have);
	char msg[512];
	int rc = dblog_pg_exec(c, sql.p, msg, sizeof msg);
	if (rc)
		pgsrc_advise(o, "cannot create the publication", msg, err, errlen);
	dblog_buf_free(&sql);
	return rc;
}

int
pgsrc_slot_exists(PGconn *c, const char *slot, int *active, char *err, size_t errlen)
{
	const char *p[1] = { slot };
	char *v = pgsrc_query1(c, "SELECT CASE WHEN active THEN 'active' ELSE 'idle' END FROM "
			 "pg_catalog.pg_replication_slots WHERE slot_name = $1", 1, p, err, errlen);
	if (!v)
		return err[0] ? -1 : 0;
	*active = !strcmp(v, "active");
	free(v);
	return 1;
}

int
dblog_pgsrc_setup(PGconn *c, const struct dblog_pgsrc_opts *o, char *err, size_t errlen)
{
	int active = 0;
	if (check_wal_level(c, err, errlen) || setup_publication(c, o, err, errlen))
		return -1;
	int e = pgsrc_slot_exists(c, o->slot, &active, err, errlen);
	if (e < 0)
		return -1;
	if (e)
		return 0;
	const char *p[1] = { o->slot };
	char msg[512];
	char *v = pgsrc_query1(c, "SELECT lsn FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
			 1, p, msg, sizeof msg);
	if (!v) {
		pgsrc_advise(o, "cannot create the replication slot", msg, err, errlen);
		return -1;
	}
	free(v);
	return 0;
}

int
dblog_pgsrc_teardown(PGconn *c, const struct dblog_pgsrc_opts *o, char *err, size_t errlen)
{
	int active = 0;
	int e = pgsrc_slot_exists(c, o->slot, &active, err, errlen);
	if (e < 0)
		return -1;
	if (e && active) {
		snprintf(err, errlen, "slot \"%s\" is in use by a running capture; stop it first", o->slot);
		return -1;
	}
	struct dblog_buf sql = { 0 };
	char msg[512];
	if (e) {
		dblog_buf_adds(&sql, "SELECT pg_catalog.pg_drop_replication_slot(");
		dblog_sql_literal_e(&sql, o->slot);
		dblog_buf_addc(&sql, ')');
		if (dblog_pg_exec(c, sql.p, msg, sizeof msg)) {
			pgsrc_advise(o, "cannot drop the replication slot", msg, err, errlen);
			dblog_buf_free(&sql);
			return -1;
		}
	}
	dblog_buf_clear(&sql);
	dblog_buf_adds(&sql, "DROP PUBLICATION IF EXISTS ");
	dblog_sql_ident(&sql, o->publication);
	int rc = dblog_pg_exec(c, sql.p, msg, sizeof msg);
	if (rc)
		pgsrc_advise(o, "cannot drop the publication", msg, err, errlen);
	dblog_buf_free(&sql);
	return rc;
}

/* ----------------------------------------------------------- streaming */


int
pgsrc_emit_line(void *ctx, const char *line, size_t n)
{
	struct stream *s = ctx;
	s->last_event = dblog_now_ms();
	if (dblog_write_line(s->out, line, n) || (s->o->unbuffered && fflush(s->out))) {
		s->write_failed = 1;
		return -1;
	}
	return 0;
}

/* A transaction is out: flush; without a checkpoint file, what is written
 * to stdout is what gets acknowledged. */
static int
on_commit_cb(void *ctx, uint64_t lsn)
{
	struct stream *s = ctx;
	/* the end of its commit record: the server does not send it again;
	 * confirmed (without a checkpoint) once flushed, before the next wait */
	s->written = s->dec.tx_end > lsn ? s->dec.tx_end : lsn;
	return 0;
}

/* Flush stdout; without a checkpoint what is flushed is what is confirmed. */
static int
flush_out(struct stream *s)
{
	if (fflush(s->out)) {
		s->write_failed = 1;
		return -1;
	}
	if (!s->o->checkpoint && s->written > s->confirm)
		s->confirm = s->written;
	return 0;
}

/* Re-read the checkpoint when it changed: its pos is what may be confirmed. */
static void
read_checkpoint(struct stream *s)
{
	struct stat st;
	s->last_cp_check = dblog_now_ms();
	if (!s->o->checkpoint || stat(s->o->checkpoint, &st))
		return;
	if (st.st_mtim.tv_sec == s->cp_mtime.tv_sec && st.st_mtim.tv_nsec == s->cp_mtime.tv_nsec)
		return;
	s->cp_mtime = st.st_mtim;
	json_t *cp;
	char err[512];
	if (dblog_checkpoint_load(s->o->checkpoint, &cp, err, sizeof err))
		return;   /* being replaced right now, or damaged: keep the old value */
	struct dblog_pos p;
	int64_t seq;
	int has_seq;
	dblog_checkpoint_pos(cp, &p, &seq, &has_seq);
	json_decref(cp);
	if (p.kind == DBLOG_POS_LSN && p.v > s->confirm)
		s->confirm = has_seq && p.v ? p.v - 1 : p.v;
}

static void
put64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char)(v & 0xFF);
}

static uint64_t
get64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

static int
send_status(struct stream *s, int reply)
{
	char m[34];
	m[0] = 'r';
	put64(m + 1, s->received);
	put64(m + 9, s->confirm);
	put64(m + 17, s->confirm);
	put64(m + 25, (uint64_t)(dblog_time_now() - PG_EPOCH_US));
	m[33] = (char)reply;
	s->last_status = dblog_now_ms();
	if (reply)
		s->last_ask = s->last_status;
	return PQputCopyData(s->repl, m, sizeof m) == 1 && PQflush(s->repl) == 0 ? 0 : -1;
}

static int
heartbeat(struct stream *s)
{
	if (!s->sent_ptr || s->sent_ptr - 1 <= s->last_hb || s->sent_ptr - 1 < s->dec.last_commit)
		return 0;
	char lsn[24], t[40];
	s->last_hb = s->sent_ptr - 1;
	dblog_lsn_format(s->last_hb, lsn, sizeof lsn);
	dblog_time_format(dblog_time_now(), t, sizeof t);
	struct dblog_buf b = { 0 };
	dblog_buf_adds(&b, "{\"op\":\"heartbeat\",\"source\":");
	dblog_buf_add(&b, s->dec.src.p, s->dec.src.len);
	dblog_buf_printf(&b, ",\"pos\":\"%s\",\"commit_time\":\"%s\"}", lsn, t);
	int rc = pgsrc_emit_line(s, b.p, b.len) || fflush(s->out) ? -1 : 0;
	dblog_buf_free(&b);
	if (!s->o->checkpoint && !rc)
		s->confirm = s->last_hb;
	return rc;
}

static int
on_copy(struct stream *s, const char *buf, int n)
{
	if (buf[0] == 'w' && n >= 25) {
		uint64_t start = get64(buf + 1);
		if (start > s->received)
			s->received = start;
		return dblog_pgdec_message(&s->dec, buf + 25, (size_t)n - 25);
	}
	if (buf[0] == 'k' && n >= 18) {
		uint64_t end = get64(buf + 1);
		if (!s->dec.in_tx) {
			if (end > s->sent_ptr)
				s->sent_ptr = end;
			if (end > s->received)
				s->received = end;
		}
		if (buf[17])
			return send_status(s, 0);
		return 0;
	}
	return 0;
}

static int
finished(struct stream *s)
{
	if (s->dec.in_tx)
		return 0;
	if (s->dec.reached_end)
		return 1;
	return s->target && s->sent_ptr >= s->target;
}

/* Wait for the socket up to ms; 0, or -1 on a lost connection. */
static int
wait_socket(struct stream *s, int64_t ms)
{
	int fd = PQsocket(s->repl);
	if (fd < 0)
		return -1;
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	if (select(fd + 1, &rs, NULL, NULL, &tv) < 0 && errno != EINTR)
		return -1;
	return PQconsumeInput(s->repl) ? 0 : -1;
}

/* Did r fail because the slot is held by another process (object in use)? */
static int
slot_busy(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	return state && !strcmp(state, "55006");
}

static int
start_replication(struct stream *s, uint64_t from, char *err, size_t errlen)
{
	struct dblog_buf sql = { 0 };
	char lsn[24];
	dblog_lsn_format(from, lsn, sizeof lsn);
	dblog_buf_adds(&sql, "START_REPLICATION SLOT ");
	dblog_sql_ident(&sql, s->o->slot);
	dblog_buf_printf(&sql, " LOGICAL %s (proto_version '1', publication_names ", lsn);
	struct dblog_buf pub = { 0 };
	dblog_sql_ident(&pub, s->o->publication);
	dblog_sql_literal_e(&sql, pub.p);
	if (PQserverVersion(s->repl) >= 140000)
		dblog_buf_adds(&sql, ", messages 'true'");
	dblog_buf_addc(&sql, ')');
	PGresult *r = PQexec(s->repl, sql.p);
	/* a slot still held by the walsender of a capture that was killed
	 * is let go as soon as the server notices: wait up to 5 s for that */
	for (int i = 0; i < 25 && PQresultStatus(r) == PGRES_FATAL_ERROR &&
			slot_busy(r); i++) {
		PQclear(r);
		dblog_sleep_ms(200);
		r = PQexec(s->repl, sql.p);
	}
	int rc = 0;
	if (PQresultStatus(r) != PGRES_COPY_BOTH) {
		const char *m = PQresultErrorMessage(r);
		const char *fix = "";
		if (strstr(m, "is active for PID"))
			fix = " (another process uses this slot: stop it, or give this capture its own --slot)";
		else if (strstr(m, "does not exist") && strstr(m, "slot"))
			fix = " (run dblog-capture --setup first)";
		snprintf(err, errlen, "cannot start replication from slot \"%s\": %.*s%s", s->o->slot,
			 (int)strcspn(m, "\n"), m, fix);
		rc = -1;
	}
	PQclear(r);
	dblog_buf_free(&sql);
	dblog_buf_free(&pub);
	return rc;
}

/* Stream until stopped, caught up or at endpos. Returns an exit status. */
static int
stream_loop(struct stream *s, char *err, size_t errlen)
{
	const struct dblog_pgsrc_opts *o = s->o;
	for (;;) {
		if (s->write_failed)
			return DBLOG_EXIT_FAIL;
		if ((o->stop && *o->stop && !s->dec.in_tx) || finished(s))
			break;
		char *buf = NULL;
		int n = PQgetCopyData(s->repl, &buf, 1);
		if (n > 0) {
			int rc = on_copy(s, buf, n);
			PQfreemem(buf);
			/* a stream that never idles still reads the checkpoint and reports */
			if (!rc && (++s->msgs & 4095) == 0) {
				int64_t t = dblog_now_ms();
				if (flush_out(s))
					return DBLOG_EXIT_FAIL;
				if (t - s->last_cp_check >= 500)
					read_checkpoint(s);
				if (t - s->last_status >= o->status_ms && send_status(s, 0)) {
					snprintf(err, errlen, "replication connection lost: %s",
						 PQerrorMessage(s->repl));
					return DBLOG_EXIT_RETRY;
				}
			}
			if (rc) {
				if (s->write_failed)
					return DBLOG_EXIT_FAIL;
				snprintf(err, errlen, "cannot decode a replication message near %s",
					 s->dec.lsn);
				return DBLOG_EXIT_FAIL;
			}
			continue;
		}
		if (n == -1) {
			PGresult *r = PQgetResult(s->repl);
			const char *m = PQresultStatus(r) == PGRES_COMMAND_OK ? "the server closed the stream" : PQresultErrorMessage(r);
			const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			const char *fix = "";
			/* connection and operator-intervention classes are temporary */
			int temp = !state || !strncmp(state, "08", 2) || !strncmp(state, "57", 2);
			if (strstr(m, "publication") && strstr(m, "does not exist"))
				fix = " (the publication is missing, or was created after the slot: run "
				      "dblog-capture --teardown, then --setup; changes since the slot was "
				      "made are not recoverable from it)";
			snprintf(err, errlen, "replication ended: %.*s%s", (int)strcspn(m, "\n"),
				 m, fix);
			PQclear(r);
			return temp ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
		}
		if (n == -2) {
			snprintf(err, errlen, "replication connection lost: %s", PQerrorMessage(s->repl));
			return DBLOG_EXIT_RETRY;
		}
		/* nothing to read: flush, talk to the server, wait */
		if (flush_out(s))
			return DBLOG_EXIT_FAIL;
		int64_t now = dblog_now_ms();
		if (now - s->last_cp_check >= 500)
			read_checkpoint(s);
		int idle_hb = o->heartbeat_ms && !s->dec.in_tx && now - s->last_event >= o->heartbeat_ms;
		if (idle_hb && heartbeat(s))
			return DBLOG_EXIT_FAIL;
		int ask = (s->target || idle_hb) && !s->dec.in_tx && now - s->last_ask >= 100;
		if ((ask || now - s->last_status >= o->status_ms) && send_status(s, ask)) {
			snprintf(err, errlen, "replication connection lost: %s", PQerrorMessage(s->repl));
			return DBLOG_EXIT_RETRY;
		}
		if (wait_socket(s, 100)) {
			snprintf(err, errlen, "replication connection lost: %s", PQerrorMessage(s->repl));
			return DBLOG_EXIT_RETRY;
		}
	}
	if (flush_out(s))
		return DBLOG_EXIT_FAIL;
	read_checkpoint(s);
	send_status(s, 0);
	PQputCopyEnd(s->repl, NULL);
	return DBLOG_EXIT_OK;
}

/* -------------------------------------------------------------- running */

static int
load_start(struct stream *s, uint64_t *start, int *have, char *err, size_t errlen)
{
	json_t *cp;
	*have = 0;
	if (!s->o->checkpoint)
		return 0;
	int rc = dblog_checkpoint_load(s->o->checkpoint, &cp, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	struct dblog_pos p;
	int64_t seq;
	int has_seq;
	dblog_checkpoint_pos(cp, &p, &seq, &has_seq);
	int in_snapshot = json_is_true(json_object_get(cp, "snapshot"));
	json_decref(cp);
	if (in_snapshot && s->o->mode == DBLOG_PG_SNAPSHOT_THEN_CDC) {
		dblog_warn("checkpoint \"%s\" is inside an interrupted snapshot: the snapshot is "
			   "read again, each table after a truncate event", s->o->checkpoint);
		s->resnap = 1;
		return 0;
	}
	if (p.kind != DBLOG_POS_LSN) {
		snprintf(err, errlen, "checkpoint \"%s\" holds a SQLite position, not a PostgreSQL LSN",
			 s->o->checkpoint);
		return -1;
	}
	*have = 1;
	*start = p.v;
	s->dec.skip_lsn = p.v;
	s->dec.skip_seq = seq;
	s->dec.skip_has_seq = has_seq;
	s->confirm = has_seq && p.v ? p.v - 1 : p.v;
	return 0;
}

/* --retry: wait (1s, 2s, 4s, ... up to 30s), connect again and go on from
 * what was confirmed; transactions already written are not written again,
 * one that was cut off is sent again from its begin. 0, or -1 (err set). */
static int
reconnect(struct stream *s, int attempt, uint64_t *start, char *err, size_t errlen)
{
	int64_t wait = 1000LL << (attempt < 5 ? attempt : 5);
	if (wait > 30000)
		wait = 30000;
	dblog_warn("%s; connecting again in %llds (%d of %d)", err, (long long)(wait / 1000),
		   attempt + 1, s->o->retries);
	for (int64_t t = 0; t < wait && !(s->o->stop && *s->o->stop); t += 100)
		usleep(100000);
	if (fflush(s->out)) {
		s->write_failed = 1;
		return -1;
	}
	PQfinish(s->repl);
	PQfinish(s->sql);
	s->repl = s->sql = NULL;
	int retry;
	s->sql = dblog_pg_connect(s->o->conninfo, 0, err, errlen, &retry);
	if (s->sql)
		s->repl = dblog_pg_connect(s->o->conninfo, 1, err, errlen, &retry);
	if (!s->repl) {
		if (!s->sql)
			s->sql = NULL;
		s->dec.conn = s->sql;
		dblog_pgtypes_set_conn(s->dec.types, s->sql);
		return -1;
	}
	s->dec.conn = s->sql;
	dblog_pgtypes_set_conn(s->dec.types, s->sql);
	if (s->dec.last_commit > s->dec.skip_lsn) {
		s->dec.skip_lsn = s->dec.last_commit;
		s->dec.skip_has_seq = 0;
	}
	s->dec.in_tx = s->dec.skip_tx = s->dec.begin_pending = 0;
	*start = s->confirm;
	return 0;
}

/* The server's identity "<system identifier>/<database>" (owned) and its
 * default source name "<database>@<system identifier>" (owned): from
 * pg_control_system(), or where that is not allowed from IDENTIFY_SYSTEM
 * on the replication connection (opened here, kept in s->repl). 0, or -1
 * with err; *retry for a connection that failed for now. */
static int
server_identity(struct stream *s, char **ident, char **defname, int *retry, char *err, size_t errlen)
{
	PGresult *r = PQexec(s->sql, "SELECT system_identifier::text, current_database() FROM "
			     "pg_catalog.pg_control_system()");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		if (!s->repl && !(s->repl = dblog_pg_connect(s->o->conninfo, 1, err, errlen, retry)))
			return -1;
		r = PQexec(s->repl, "IDENTIFY_SYSTEM");
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 4 ||
		    PQgetisnull(r, 0, 3)) {
			snprintf(err, errlen, "cannot read the server's system identifier: %.*s",
				 (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
			PQclear(r);
			return -1;
		}
	}
	int db = PQnfields(r) >= 4 ? 3 : 1;
	struct dblog_buf b = { 0 };
	dblog_buf_printf(&b, "%s/%s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, db));
	*ident = b.p;
	b = (struct dblog_buf){ 0 };
	dblog_buf_printf(&b, "%s@%s", PQgetvalue(r, 0, db), PQgetvalue(r, 0, 0));
	*defname = b.p;
	PQclear(r);
	return 0;
}

/* The source name: --name, else the checkpoint's (a capture resumed from a
 * checkpoint keeps its name, "postgres" of earlier versions too), else
 * the default. A checkpoint of another server is refused. Owned name, or
 * NULL with err. */
static char *
source_name(const struct dblog_pgsrc_opts *o, const char *ident, const char *defname, char *err,
	    size_t errlen)
{
	json_t *cp = NULL;
	if (o->checkpoint && dblog_checkpoint_load(o->checkpoint, &cp, err, errlen) < 0)
		return NULL;
	json_t *src = json_object_get(cp, "source");
	const char *cn = json_string_value(json_object_get(src, "name"));
	const char *ci = json_string_value(json_object_get(src, "identity"));
	const char *use = o->name ? o->name : cn ? cn : defname;
	char *name = NULL;
	if (ci && strcmp(ci, ident))
		snprintf(err, errlen, "checkpoint \"%s\" records source \"%s\" of the server with "
			 "identity %s, but this server is %s: its position means nothing here (give "
			 "this source its own checkpoint file)", o->checkpoint, cn ? cn : "?", ci, ident);
	else
		name = dblog_xstrdup(use);
	json_decref(cp);
	return name;
}

int
dblog_pgsrc_run(const struct dblog_pgsrc_opts *o, FILE *out, char *err, size_t errlen)
{
	struct stream s = { .o = o, .out = out };
	int retry = 0, status = DBLOG_EXIT_FAIL, have_cp = 0;
	uint64_t start = 0;
	err[0] = 0;
	s.sql = dblog_pg_connect(o->conninfo, 0, err, errlen, &retry);
	if (!s.sql)
		return retry ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
	char *ident = NULL, *defname = NULL, *name = NULL;
	if (server_identity(&s, &ident, &defname, &retry, err, errlen) ||
	    !(name = source_name(o, ident, defname, err, errlen))) {
		free(ident);
		free(defname);
		if (s.repl)
			PQfinish(s.repl);
		PQfinish(s.sql);
		return retry ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
	}
	dblog_pgdec_init(&s.dec, name, s.sql);
	dblog_pgdec_set_identity(&s.dec, ident);
	free(ident);
	free(defname);
	free(name);
	s.dec.emit = pgsrc_emit_line;
	s.dec.on_commit = on_commit_cb;
	s.dec.ctx = &s;
	if (o->mode == DBLOG_PG_INCREMENTAL) {
		status = pgsrc_incremental(&s, err, errlen);
		goto out;
	}
	if (load_start(&s, &start, &have_cp, err, errlen))
		goto out;
	if (o->mode == DBLOG_PG_SNAPSHOT) {
		char *l = pgsrc_query1(s.sql, "SELECT pg_catalog.pg_current_wal_lsn()", 0, NULL, err, errlen);
		uint64_t lsn = 0;
		if (!l || dblog_lsn_parse(l, &lsn)) {
			free(l);
			goto out;
		}
		free(l);
		status = pgsrc_snapshot(&s, NULL, lsn, 0, err, errlen) && !s.stopped ? DBLOG_EXIT_FAIL
										: DBLOG_EXIT_OK;
		goto out;
	}
	if (!s.repl)
		s.repl = dblog_pg_connect(o->conninfo, 1, err, errlen, &retry);
	if (!s.repl) {
		status = retry ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
		goto out;
	}
	if (o->mode == DBLOG_PG_SNAPSHOT_THEN_CDC && !have_cp &&
	    pgsrc_snapshot_with_slot(&s, &start, err, errlen)) {
		if (s.stopped)
			status = DBLOG_EXIT_OK;
		goto out;
	}
	if (o->until) {
		/* everything inserted into the WAL so far, flushed or not yet */
		char *l = pgsrc_query1(s.sql, "SELECT pg_catalog.pg_current_wal_insert_lsn()", 0, NULL, err, errlen);
		if (!l || dblog_lsn_parse(l, &s.target)) {
			free(l);
			goto out;
		}
		free(l);
		s.dec.stop_before = s.target ? s.target - 1 : 0;
	}
	if (o->endpos) {
		s.dec.stop_before = o->endpos;
		s.target = o->endpos + 1;
	}
	for (int attempt = 0;; attempt++) {
		s.last_event = s.last_status = s.last_cp_check = dblog_now_ms();
		status = start_replication(&s, start, err, errlen) ? DBLOG_EXIT_FAIL
								    : stream_loop(&s, err, errlen);
		if (status != DBLOG_EXIT_RETRY || attempt >= o->retries || s.write_failed ||
		    (o->stop && *o->stop))
			break;
		if (reconnect(&s, attempt, &start, err, errlen)) {
			status = DBLOG_EXIT_RETRY;
			break;
		}
	}
out:
	if (s.write_failed) {
		status = DBLOG_EXIT_FAIL;
		err[0] = 0;
	}
	if (s.stopped && !status)
		err[0] = 0;
	dblog_pgdec_free(&s.dec);
	if (s.repl)
		PQfinish(s.repl);
	if (s.sql)
		PQfinish(s.sql);
	return status;
}
