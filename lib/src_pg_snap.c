/* src_pg_snap.c - the PostgreSQL source's table reads: snapshots in an
 * exported snapshot (in key order, optionally by several jobs sharing it)
 * and the incremental mode's reads by a cursor column. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_pg.h"
#include "pgoutput.h"
#include "src_pg.h"
#include "src_pg_impl.h"

/* ----------------------------------------------------------- snapshots */

struct snapcol {
	char *name;
	int key;
};

/* The tables to snapshot: the publication's, or --tables, or all; never
 * those of schema dblog, where dblog-apply keeps its state when the
 * database is also a destination (a publication FOR ALL TABLES has them). */
static PGresult *
snapshot_tables(PGconn *c, const struct dblog_pgsrc_opts *o, int use_pub)
{
	if (use_pub) {
		const char *p[1] = { o->publication };
		return PQexecParams(c, "SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables "
				    "WHERE pubname = $1 AND schemaname <> 'dblog' ORDER BY 1, 2", 1, NULL, p, NULL, NULL, 0);
	}
	if (o->tables->n) {
		/* two arrays: the schemas (public when none is given) and names */
		struct dblog_buf arr[2] = { { 0 } }, part[2] = { { 0 } };
		for (size_t i = 0; i < o->tables->n; i++) {
			int has;
			dblog_table_split(o->tables->v[i], strlen(o->tables->v[i]), &part[0], &part[1], &has);
			if (!has)
				dblog_buf_adds(&part[0], "public");
			for (int k = 0; k < 2; k++) {
				dblog_buf_adds(&arr[k], i ? ",\"" : "{\"");
				for (const char *t = part[k].p; *t; t++) {
					if (*t == '"' || *t == '\\')
						dblog_buf_addc(&arr[k], '\\');
					dblog_buf_addc(&arr[k], *t);
				}
				dblog_buf_addc(&arr[k], '"');
			}
		}
		dblog_buf_addc(&arr[0], '}');
		dblog_buf_addc(&arr[1], '}');
		const char *p[2] = { arr[0].p, arr[1].p };
		PGresult *r = PQexecParams(c, "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
			"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
			"AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])) "
			"ORDER BY 1, 2", 2, NULL, p, NULL, NULL, 0);
		for (int k = 0; k < 2; k++) {
			dblog_buf_free(&arr[k]);
			dblog_buf_free(&part[k]);
		}
		return r;
	}
	return PQexec(c, "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN "
		      "pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
		      "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dblog') AND n.nspname NOT LIKE "
		      "'pg\\_toast%' ORDER BY 1, 2");
}

/* The order the tables are read in: parents before the tables whose
 * foreign keys refer to them, else by name; dep[dstart[p]..dstart[p+1])
 * are the earlier positions that position p must wait for. */
struct snapplan {
	int n;
	int *order;            /* position -> row of the tables' result */
	int *dstart, *dep;
	char *done;            /* per position: read to its end */
};

static void
plan_free(struct snapplan *pl)
{
	free(pl->order);
	free(pl->dstart);
	free(pl->dep);
	free(pl->done);
}

static int
row_of(PGresult *t, const char *schema, const char *name)
{
	for (int i = 0; i < PQntuples(t); i++)
		if (!strcmp(PQgetvalue(t, i, 0), schema) && !strcmp(PQgetvalue(t, i, 1), name))
			return i;
	return -1;
}

/* Order the tables of t (sorted by name) so that a table comes after the
 * tables its foreign keys refer to (the partitions of a partitioned one
 * too): a destination that checks foreign keys at once then takes every
 * row. Tables in a cycle keep their name order; a warning names them. */
static int
plan_order(PGconn *c, PGresult *t, struct snapplan *pl, char *msg, size_t len)
{
	int n = PQntuples(t);
	pl->n = n;
	pl->order = calloc((size_t)n + 1, sizeof *pl->order);
	pl->dstart = calloc((size_t)n + 2, sizeof *pl->dstart);
	pl->done = calloc((size_t)n + 1, 1);
	int *indeg = calloc((size_t)n + 1, sizeof *indeg), *pos = calloc((size_t)n + 1, sizeof *pos);
	char *placed = calloc((size_t)n + 1, 1), *listed = calloc((size_t)n + 1, 1);
	if (!pl->order || !pl->dstart || !pl->done || !indeg || !pos || !placed || !listed)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	PGresult *e = PQexec(c, "SELECT DISTINCT cn.nspname, cc.relname, pn.nspname, pc.relname "
		"FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class cc ON cc.oid = k.conrelid "
		"JOIN pg_catalog.pg_namespace cn ON cn.oid = cc.relnamespace "
		"CROSS JOIN LATERAL (SELECT k.confrelid AS relid UNION SELECT relid FROM "
		"pg_catalog.pg_partition_tree(k.confrelid) WHERE isleaf) p "
		"JOIN pg_catalog.pg_class pc ON pc.oid = p.relid "
		"JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
		"WHERE k.contype = 'f' AND k.conrelid <> p.relid");
	if (PQresultStatus(e) != PGRES_TUPLES_OK) {
		snprintf(msg, len, "cannot read the foreign keys: %s", PQresultErrorMessage(e));
		PQclear(e);
		free(indeg), free(pos), free(placed), free(listed);
		return -1;
	}
	/* edges child -> parent, between tables of t */
	int ne = PQntuples(e), *ec = calloc((size_t)ne + 1, sizeof *ec), *ep = calloc((size_t)ne + 1, sizeof *ep);
	if (!ec || !ep)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	int m = 0;
	for (int i = 0; i < ne; i++) {
		int a = row_of(t, PQgetvalue(e, i, 0), PQgetvalue(e, i, 1));
		int b = a < 0 ? -1 : row_of(t, PQgetvalue(e, i, 2), PQgetvalue(e, i, 3));
		if (a >= 0 && b >= 0 && a != b) {
			ec[m] = a, ep[m] = b, m++;
			indeg[a]++;
		}
	}
	PQclear(e);
	/* Kahn's algorithm, the first ready table by name each time */
	struct dblog_buf cyc = { 0 };
	for (int k = 0; k < n; k++) {
		int pick = -1;
		for (int i = 0; i < n && pick < 0; i++)
			if (!placed[i] && !indeg[i])
				pick = i;
		if (pick < 0) {   /* a cycle: the first by name goes */
			for (int i = 0; i < n; i++) {
				if (placed[i] || listed[i])
					continue;
				if (pick < 0)
					pick = i;
				listed[i] = 1;   /* in a cycle, or after one */
				if (cyc.len < 400) {
					dblog_buf_adds(&cyc, cyc.len ? ", " : "");
					dblog_table_join(&cyc, PQgetvalue(t, i, 0), strlen(PQgetvalue(t, i, 0)),
							 PQgetvalue(t, i, 1), strlen(PQgetvalue(t, i, 1)));
				}
			}
			for (int i = 0; i < n && pick < 0; i++)
				if (!placed[i])
					pick = i;
		}
		placed[pick] = 1;
		pos[pick] = k;
		pl->order[k] = pick;
		for (int j = 0; j < m; j++)
			if (ep[j] == pick)
				indeg[ec[j]]--;
	}
	if (cyc.len)
		dblog_warn("snapshot: the foreign keys of %s form a cycle (or depend on one): those "
			   "tables are read in name order, and a destination that checks foreign keys "
			   "at once may refuse rows (make them DEFERRABLE INITIALLY DEFERRED there)",
			   cyc.p);
	dblog_buf_free(&cyc);
	/* per position, the earlier positions it waits for */
	pl->dep = calloc((size_t)m + 1, sizeof *pl->dep);
	if (!pl->dep)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	int d = 0;
	for (int k = 0; k < n; k++) {
		pl->dstart[k] = d;
		for (int j = 0; j < m; j++)
			if (ec[j] == pl->order[k] && pos[ep[j]] < k)
				pl->dep[d++] = pos[ep[j]];
	}
	pl->dstart[n] = d;
	free(ec), free(ep), free(indeg), free(pos), free(placed), free(listed);
	return 0;
}

/* May position k be read now: are the tables it refers to read? */
static int
plan_ready(const struct snapplan *pl, int k)
{
	for (int j = pl->dstart[k]; j < pl->dstart[k + 1]; j++)
		if (!pl->done[pl->dep[j]])
			return 0;
	return 1;
}

/* One snapshot job: a connection in the shared snapshot reading one table
 * at a time through a cursor, a fetch in flight while the others work. */
struct snapjob {
	PGconn *c;
	int busy;              /* a FETCH is in flight */
	int at;                /* the position (struct snapplan) being read */
	int *keypos;           /* per column read: position in the key, 0 if none */
	struct dblog_buf tn;   /* "schema.name" */
	struct dblog_buf cols; /* the columns read: all but generated ones */
};

/* Prepare the next table on job j: its schema event, then a cursor in key
 * order. 0, or -1 with err. */
static int
job_table(struct stream *s, struct snapjob *j, const char *schema, const char *name,
	  const char *pos, char *err, size_t errlen)
{
	struct dblog_buf qn = { 0 }, sql = { 0 }, cols = { 0 }, line = { 0 };
	int rc = -1;
	dblog_sql_ident(&qn, schema);
	dblog_buf_addc(&qn, '.');
	dblog_sql_ident(&qn, name);
	dblog_buf_clear(&j->tn);
	dblog_table_join(&j->tn, schema, strlen(schema), name, strlen(name));
	const char *p[1] = { qn.p };
	/* key columns as the stream has them: the replica identity (the
	 * primary key, a chosen index; under FULL the primary key, or every
	 * column when there is none) */
	PGresult *a = PQexecParams(j->c, "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
		"CASE WHEN c.relreplident = 'f' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index p "
		"WHERE p.indrelid = c.oid AND p.indisprimary) THEN a.attnum ELSE "
		"coalesce((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(att, n) "
		"WHERE k.att = a.attnum), 0) END, c.relreplident = 'f' AND NOT EXISTS (SELECT 1 FROM "
		"pg_catalog.pg_index p WHERE p.indrelid = c.oid AND p.indisprimary), a.attgenerated = 's', "
		"pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) FROM pg_catalog.pg_attribute a "
		"JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
		"LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
		"LEFT JOIN pg_catalog.pg_index i ON i.indrelid = a.attrelid AND "
		"((c.relreplident IN ('d', 'f') AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident)) "
		"WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
		1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(a) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "cannot read the columns of %s: %s", j->tn.p, PQresultErrorMessage(a));
		goto out;
	}
	int nc = PQntuples(a), nkeys = 0, nread = 0;
	free(j->keypos);
	j->keypos = calloc((size_t)nc + 1, sizeof *j->keypos);
	dblog_buf_clear(&j->cols);
	dblog_buf_addc(&cols, '[');
	/* generated columns are not read, as the change stream does not
	 * carry them: the schema event marks them with their expression */
	for (int i = 0; i < nc; i++) {
		int gen = PQgetvalue(a, i, 5)[0] == 't', kp = gen ? 0 : atoi(PQgetvalue(a, i, 3));
		if (!gen) {
			j->keypos[nread++] = kp;
			if (j->cols.len)
				dblog_buf_adds(&j->cols, ", ");
			dblog_sql_ident(&j->cols, PQgetvalue(a, i, 0));
		}
		nkeys += kp > 0;
		dblog_buf_adds(&cols, i ? ",{\"name\":" : "{\"name\":");
		dblog_json_escape(&cols, PQgetvalue(a, i, 0), strlen(PQgetvalue(a, i, 0)));
		dblog_buf_adds(&cols, ",\"type\":");
		dblog_json_escape(&cols, PQgetvalue(a, i, 1), strlen(PQgetvalue(a, i, 1)));
		dblog_buf_printf(&cols, ",\"key\":%s,\"nullable\":%s", kp ? "true" : "false",
				 PQgetvalue(a, i, 2)[0] == 't' ? "false" : "true");
		if (gen) {
			dblog_buf_adds(&cols, ",\"generated\":");
			dblog_json_escape(&cols, PQgetvalue(a, i, 6), strlen(PQgetvalue(a, i, 6)));
		}
		dblog_buf_addc(&cols, '}');
	}
	dblog_buf_addc(&cols, ']');
	dblog_buf_adds(&line, "{\"op\":\"schema\",\"table\":");
	dblog_json_escape(&line, j->tn.p, j->tn.len);
	dblog_buf_adds(&line, ",\"source\":");
	dblog_buf_add(&line, s->dec.src.p, s->dec.src.len);
	dblog_buf_printf(&line, ",\"pos\":\"%s\",\"columns\":%s%s}", pos, cols.p,
			 nc && PQgetvalue(a, 0, 4)[0] == 't' ? ",\"keyless\":true" : "");
	if (pgsrc_emit_line(s, line.p, line.len))
		goto out;
	dblog_buf_printf(&sql, "DECLARE dblog_snapshot NO SCROLL CURSOR FOR SELECT %s FROM %s",
			 j->cols.p ? j->cols.p : "", qn.p);
	/* in key order; a table keyed by its whole row is read as it lies
	 * (its columns may have no order at all: json, point, xml) */
	int keyless = nc && PQgetvalue(a, 0, 4)[0] == 't';
	for (int k = 1, first = 1; !keyless && k <= nkeys; k++)
		for (int i = 0, r = 0; i < nc; i++) {
			if (PQgetvalue(a, i, 5)[0] == 't')
				continue;
			if (j->keypos[r++] == k) {
				dblog_buf_adds(&sql, first ? " ORDER BY " : ", ");
				dblog_sql_ident(&sql, PQgetvalue(a, i, 0));
				first = 0;
			}
		}
	char msg[512];
	if (dblog_pg_exec(j->c, sql.p, msg, sizeof msg)) {
		snprintf(err, errlen, "cannot read %s: %s", j->tn.p, msg);
		goto out;
	}
	rc = 0;
out:
	PQclear(a);
	struct dblog_buf *bufs[] = { &qn, &sql, &cols, &line };
	for (size_t i = 0; i < 4; i++)
		dblog_buf_free(bufs[i]);
	return rc;
}

/* Emit the rows of a FETCH result; *seq counts across tables. */
/* The start of a snapshot-time event of op for j's table in s->dec.line,
 * up to its id (seq is taken and counted): the rest follows. */
static struct dblog_buf *
snap_head(struct stream *s, struct snapjob *j, const char *op, const char *pos, const char *now,
	  int64_t *seq)
{
	struct dblog_buf *line = &s->dec.line;
	char id[37], tag[48];
	snprintf(tag, sizeof tag, "snapshot:%s", pos);
	dblog_event_id(s->dec.name, tag, *seq, id);
	dblog_buf_clear(line);
	dblog_buf_printf(line, "{\"op\":\"%s\",\"table\":", op);
	dblog_json_escape(line, j->tn.p, j->tn.len);
	dblog_buf_adds(line, ",\"source\":");
	dblog_buf_add(line, s->dec.src.p, s->dec.src.len);
	dblog_buf_printf(line, ",\"pos\":\"%s\",\"seq\":%lld,\"commit_time\":\"%s\",\"id\":\"%s\"",
			 pos, (long long)(*seq)++, now, id);
	return line;
}

static int
job_rows(struct stream *s, struct snapjob *j, PGresult *r, const char *pos, const char *now,
	 int64_t *seq)
{
	for (int row = 0; row < PQntuples(r); row++) {
		struct dblog_buf *line = snap_head(s, j, "snapshot", pos, now, seq);
		for (int pass = 0; pass < 2; pass++) {
			dblog_buf_adds(line, pass ? ",\"after\":{" : ",\"key\":{");
			int first = 1;
			for (int i = 0; i < PQnfields(r); i++) {
				if (!pass && !j->keypos[i])
					continue;
				if (!first)
					dblog_buf_addc(line, ',');
				first = 0;
				const char *fn = PQfname(r, i);
				dblog_json_escape(line, fn, strlen(fn));
				dblog_buf_addc(line, ':');
				if (PQgetisnull(r, row, i))
					dblog_buf_adds(line, "null");
				else
					dblog_pg_value(s->dec.types, PQftype(r, i), PQgetvalue(r, row, i),
						       (size_t)PQgetlength(r, row, i), line);
			}
			dblog_buf_addc(line, '}');
		}
		dblog_buf_addc(line, '}');
		if (pgsrc_emit_line(s, line->p, line->len))
			return -1;
	}
	return 0;
}

/* A snapshot read again after an interruption: the rows of the first
 * attempt applied already may be gone at the source (and, in a table
 * without a key, would be there twice): a truncate event clears the table
 * before its rows. */
static int
resnap_truncate(struct stream *s, struct snapjob *j, const char *pos, const char *now, int64_t *seq)
{
	struct dblog_buf *line = snap_head(s, j, "truncate", pos, now, seq);
	dblog_buf_addc(line, '}');
	return pgsrc_emit_line(s, line->p, line->len);
}

/* Open the snapshot on every job's connection: the exported snap, or
 * one exported by the first job. 0, or -1 with msg. */
static int
jobs_open(struct stream *s, struct snapjob *jobs, int n, const char *snap, char *msg, size_t len)
{
	int retry;
	char *own = NULL;
	for (int k = 0; k < n; k++) {
		jobs[k].c = dblog_pg_connect(s->o->conninfo, 0, msg, len, &retry);
		if (!jobs[k].c ||
		    dblog_pg_exec(jobs[k].c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", msg, len))
			goto fail;
		if (!snap && k == 0 && n > 1) {
			own = pgsrc_query1(jobs[0].c, "SELECT pg_catalog.pg_export_snapshot()", 0, NULL, msg, len);
			if (!own)
				goto fail;
			continue;
		}
		const char *use = snap ? snap : own;
		if (use) {
			struct dblog_buf q = { 0 };
			dblog_buf_adds(&q, "SET TRANSACTION SNAPSHOT ");
			dblog_sql_literal_e(&q, use);
			int e = dblog_pg_exec(jobs[k].c, q.p, msg, len);
			dblog_buf_free(&q);
			if (e)
				goto fail;
		}
	}
	free(own);
	return 0;
fail:
	free(own);
	return -1;
}

static void
jobs_close(struct snapjob *jobs, int n)
{
	for (int k = 0; k < n; k++) {
		if (jobs[k].c)
			PQfinish(jobs[k].c);
		free(jobs[k].keypos);
		dblog_buf_free(&jobs[k].cols);
		dblog_buf_free(&jobs[k].tn);
	}
	free(jobs);
}

/* Read the tables with the jobs: each takes the next table when it is
 * free; fetches run in parallel on the server, rows are written here. */
static int
jobs_run(struct stream *s, struct snapjob *jobs, int n, PGresult *t, struct snapplan *pl,
	 const char *pos, const char *now, char *err, size_t errlen)
{
	int next = 0, ntables = PQntuples(t), active = 0;
	int64_t seq = 0;
	for (;;) {
		for (int k = 0; k < n; k++) {
			/* a table waits for the tables it refers to */
			if (jobs[k].busy || next >= ntables || !plan_ready(pl, next))
				continue;
			int row = pl->order[next];
			jobs[k].at = next;
			if (job_table(s, &jobs[k], PQgetvalue(t, row, 0), PQgetvalue(t, row, 1), pos,
				      err, errlen))
				return -1;
			if (s->resnap && resnap_truncate(s, &jobs[k], pos, now, &seq)) {
				err[0] = 0;
				return -1;
			}
			next++;
			if (!PQsendQuery(jobs[k].c, "FETCH 10000 FROM dblog_snapshot")) {
				snprintf(err, errlen, "snapshot: %s", PQerrorMessage(jobs[k].c));
				return -1;
			}
			jobs[k].busy = 1;
			active++;
		}
		if (!active)
			return 0;
		fd_set rs;
		int maxfd = -1;
		FD_ZERO(&rs);
		for (int k = 0; k < n; k++)
			if (jobs[k].busy) {
				FD_SET(PQsocket(jobs[k].c), &rs);
				if (PQsocket(jobs[k].c) > maxfd)
					maxfd = PQsocket(jobs[k].c);
			}
		struct timeval tv = { 1, 0 };
		if (select(maxfd + 1, &rs, NULL, NULL, &tv) < 0 && errno != EINTR)
			return -1;
		for (int k = 0; k < n; k++) {
			struct snapjob *j = &jobs[k];
			if (!j->busy || !FD_ISSET(PQsocket(j->c), &rs))
				continue;
			if (!PQconsumeInput(j->c)) {
				snprintf(err, errlen, "snapshot: %s", PQerrorMessage(j->c));
				return -1;
			}
			if (PQisBusy(j->c))
				continue;
			PGresult *r;
			int rows = -1, bad = 0;
			while ((r = PQgetResult(j->c))) {
				if (PQresultStatus(r) != PGRES_TUPLES_OK) {
					snprintf(err, errlen, "cannot read %s: %s", j->tn.p, PQresultErrorMessage(r));
					bad = 1;
				} else {
					rows = PQntuples(r);
					if (job_rows(s, j, r, pos, now, &seq))
						bad = 1, err[0] = 0;
				}
				PQclear(r);
			}
			if (bad)
				return -1;
			if (s->o->stop && *s->o->stop) {
				/* stopped: the snapshot is incomplete, a later run redoes it */
				snprintf(err, errlen, "stopped inside the snapshot of %s", j->tn.p);
				s->stopped = 1;
				return -1;
			}
			if (rows == 0) {
				j->busy = 0;
				pl->done[j->at] = 1;
				active--;
				if (dblog_pg_exec(j->c, "CLOSE dblog_snapshot", err, errlen))
					return -1;
			} else if (!PQsendQuery(j->c, "FETCH 10000 FROM dblog_snapshot")) {
				snprintf(err, errlen, "snapshot: %s", PQerrorMessage(j->c));
				return -1;
			}
		}
	}
}

/* Read every table inside snapshot `snap` (NULL: a fresh REPEATABLE READ
 * one) as snapshot events at pos, then a heartbeat at pos. */
int
pgsrc_snapshot(struct stream *s, const char *snap, uint64_t lsn, int use_pub, char *err, size_t errlen)
{
	char pos[24], now[40], msg[512];
	int n = s->o->snapshot_jobs > 0 ? s->o->snapshot_jobs : 1;
	dblog_lsn_format(lsn, pos, sizeof pos);
	dblog_time_format(dblog_time_now(), now, sizeof now);
	struct snapjob *jobs = calloc((size_t)n, sizeof *jobs);
	if (!jobs)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	int rc = -1;
	if (jobs_open(s, jobs, n, snap, msg, sizeof msg))
		goto fail;
	PGresult *t = snapshot_tables(jobs[0].c, s->o, use_pub);
	if (PQresultStatus(t) != PGRES_TUPLES_OK) {
		snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(t));
		PQclear(t);
		goto fail;
	}
	if (!use_pub && s->o->tables->n && (size_t)PQntuples(t) < s->o->tables->n) {
		snprintf(msg, sizeof msg, "%zu of the --tables named do not exist (or are not "
			 "ordinary tables)", s->o->tables->n - (size_t)PQntuples(t));
		PQclear(t);
		goto fail;
	}
	struct snapplan pl = { 0 };
	if (plan_order(jobs[0].c, t, &pl, msg, sizeof msg)) {
		plan_free(&pl);
		PQclear(t);
		goto fail;
	}
	rc = jobs_run(s, jobs, n, t, &pl, pos, now, err, errlen);
	plan_free(&pl);
	PQclear(t);
	jobs_close(jobs, n);
	if (rc)
		return -1;
	struct dblog_buf hb = { 0 };
	dblog_buf_adds(&hb, "{\"op\":\"heartbeat\",\"source\":");
	dblog_buf_add(&hb, s->dec.src.p, s->dec.src.len);
	dblog_buf_printf(&hb, ",\"pos\":\"%s\",\"commit_time\":\"%s\"}", pos, now);
	rc = pgsrc_emit_line(s, hb.p, hb.len) || fflush(s->out) ? -1 : 0;
	dblog_buf_free(&hb);
	if (rc)
		err[0] = 0;
	return rc;
fail:
	snprintf(err, errlen, "snapshot: %.*s", (int)strcspn(msg, "\n"), msg);
	jobs_close(jobs, n);
	return -1;
}

/* CREATE_REPLICATION_SLOT with an exported snapshot (the slot is made
 * anew); the snapshot is read while the replication connection waits. */
int
pgsrc_snapshot_with_slot(struct stream *s, uint64_t *start, char *err, size_t errlen)
{
	int active = 0;
	int e = pgsrc_slot_exists(s->sql, s->o->slot, &active, err, errlen);
	/* held by the walsender of a capture killed a moment ago: wait for it */
	for (int i = 0; i < 25 && e > 0 && active; i++) {
		dblog_sleep_ms(200);
		e = pgsrc_slot_exists(s->sql, s->o->slot, &active, err, errlen);
	}
	if (e < 0)
		return -1;
	if (e && active) {
		snprintf(err, errlen, "slot \"%s\" is in use by another process; stop it first", s->o->slot);
		return -1;
	}
	char msg[512];
	struct dblog_buf q = { 0 };
	if (e) {
		dblog_buf_adds(&q, "SELECT pg_catalog.pg_drop_replication_slot(");
		dblog_sql_literal_e(&q, s->o->slot);
		dblog_buf_addc(&q, ')');
		if (dblog_pg_exec(s->sql, q.p, msg, sizeof msg)) {
			snprintf(err, errlen, "cannot drop slot \"%s\": %s", s->o->slot, msg);
			dblog_buf_free(&q);
			return -1;
		}
	}
	dblog_buf_clear(&q);
	dblog_buf_adds(&q, "CREATE_REPLICATION_SLOT ");
	dblog_sql_ident(&q, s->o->slot);
	dblog_buf_adds(&q, PQserverVersion(s->repl) >= 150000 ? " LOGICAL pgoutput (SNAPSHOT 'export')"
							      : " LOGICAL pgoutput EXPORT_SNAPSHOT");
	PGresult *r = PQexec(s->repl, q.p);
	dblog_buf_free(&q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 3) {
		pgsrc_advise(s->o, "cannot create the replication slot", PQresultErrorMessage(r), err, errlen);
		PQclear(r);
		return -1;
	}
	uint64_t cp;
	if (dblog_lsn_parse(PQgetvalue(r, 0, 1), &cp)) {
		snprintf(err, errlen, "odd consistent point '%s'", PQgetvalue(r, 0, 1));
		PQclear(r);
		return -1;
	}
	/* everything committed before the consistent point is in the snapshot */
	int rc = pgsrc_snapshot(s, PQgetvalue(r, 0, 2), cp - 1, 1, err, errlen);
	PQclear(r);
	*start = cp;
	s->dec.skip_lsn = cp - 1;
	return rc;
}


/* ----------------------------------------------------------- incremental */

/* One table of an incremental read: rows whose cursor column is past the
 * last value seen (cursors["schema.table"]), in cursor order, 10,000 at a
 * time, as snapshot events carrying "cursor". */
static int
incremental_table(struct stream *s, PGconn *c, const char *schema, const char *name,
		  json_t *cursors, int64_t *seq, char *err, size_t errlen)
{
	struct snapjob j = { .c = c };
	struct dblog_buf sql = { 0 }, qn = { 0 }, cname = { 0 };
	int rc = -1;
	char now[40];
	/* the table's schema event and key columns, as for a snapshot */
	dblog_pg_exec(c, "BEGIN", err, errlen);
	if (job_table(s, &j, schema, name, "0/0", err, errlen)) {
		dblog_pg_exec(c, "ROLLBACK", err + strlen(err), 1);
		goto out;
	}
	dblog_pg_exec(c, "COMMIT", err, errlen);
	dblog_sql_ident(&qn, schema);
	dblog_buf_addc(&qn, '.');
	dblog_sql_ident(&qn, name);
	dblog_sql_ident(&cname, s->o->cursor);
	/* the cursor value travels as text, compared in the column's own type */
	char *type = NULL;
	{
		const char *p[2] = { qn.p, s->o->cursor };
		type = pgsrc_query1(c, "SELECT format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
			      "WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped",
			      2, p, err, errlen);
		if (!type) {
			if (!err[0])
				snprintf(err, errlen, "table %s has no cursor column \"%s\"", j.tn.p,
					 s->o->cursor);
			goto out;
		}
		dblog_buf_clear(&sql);
		dblog_buf_printf(&sql, "SELECT %s%s%s::text AS \"dblog cursor\" FROM %s WHERE $1::text IS "
				 "NULL OR %s > CAST($1::text AS %s) ORDER BY %s LIMIT 10000",
				 j.cols.p ? j.cols.p : "", j.cols.len ? ", " : "", cname.p, qn.p, cname.p,
				 type, cname.p);
		free(type);
	}
	for (;;) {
		json_t *last = json_object_get(cursors, j.tn.p);
		char *lt = NULL;
		if (json_is_string(last))
			lt = dblog_xstrdup(json_string_value(last));
		else if (last && !json_is_null(last))
			lt = json_dumps(last, JSON_ENCODE_ANY);
		const char *p[1] = { lt };
		PGresult *r = PQexecParams(c, sql.p, 1, NULL, p, NULL, NULL, 0);
		free(lt);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			snprintf(err, errlen, "cannot read %s: %.*s", j.tn.p,
				 (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
			PQclear(r);
			goto out;
		}
		int nr = PQntuples(r), nf = PQnfields(r) - 1;
		dblog_time_format(dblog_time_now(), now, sizeof now);
		for (int row = 0; row < nr; row++) {
			struct dblog_buf *line = &s->dec.line, cv = { 0 }, key = { 0 }, after = { 0 },
					 idn = { 0 };
			int ci = PQfnumber(r, s->o->cursor);
			if (PQgetisnull(r, row, ci))
				dblog_buf_adds(&cv, "null");
			else
				dblog_pg_value(s->dec.types, PQftype(r, ci), PQgetvalue(r, row, ci),
					       (size_t)PQgetlength(r, row, ci), &cv);
			for (int half = 0; half < 2; half++) {
				struct dblog_buf *o = half ? &after : &key;
				int first = 1;
				dblog_buf_addc(o, '{');
				for (int i = 0; i < nf; i++) {
					if (!half && !j.keypos[i])
						continue;
					if (!first)
						dblog_buf_addc(o, ',');
					first = 0;
					const char *fn = PQfname(r, i);
					dblog_json_escape(o, fn, strlen(fn));
					dblog_buf_addc(o, ':');
					if (PQgetisnull(r, row, i))
						dblog_buf_adds(o, "null");
					else
						dblog_pg_value(s->dec.types, PQftype(r, i), PQgetvalue(r, row, i),
							       (size_t)PQgetlength(r, row, i), o);
				}
				dblog_buf_addc(o, '}');
			}
			/* the same row version always gets the same id */
			char id[37];
			dblog_buf_printf(&idn, "incremental:%s:%s:%s", j.tn.p, key.p, cv.p);
			dblog_event_id(s->dec.name, idn.p, 0, id);
			dblog_buf_clear(line);
			dblog_buf_adds(line, "{\"op\":\"snapshot\",\"table\":");
			dblog_json_escape(line, j.tn.p, j.tn.len);
			dblog_buf_adds(line, ",\"source\":");
			dblog_buf_add(line, s->dec.src.p, s->dec.src.len);
			dblog_buf_printf(line, ",\"pos\":\"0/0\",\"seq\":%lld,\"commit_time\":\"%s\","
					 "\"id\":\"%s\",\"cursor\":{", (long long)(*seq)++, now, id);
			dblog_json_escape(line, j.tn.p, j.tn.len);
			dblog_buf_printf(line, ":%s},\"key\":%s,\"after\":%s}", cv.p, key.p, after.p);
			json_t *v = json_loadb(cv.p, cv.len, JSON_DECODE_ANY, NULL);
			if (v)
				json_object_set_new(cursors, j.tn.p, v);
			struct dblog_buf *bufs[] = { &cv, &key, &after, &idn };
			for (size_t k = 0; k < 4; k++)
				dblog_buf_free(bufs[k]);
			if (pgsrc_emit_line(s, line->p, line->len)) {
				PQclear(r);
				goto out;
			}
		}
		PQclear(r);
		if (fflush(s->out)) {
			s->write_failed = 1;
			goto out;
		}
		if (nr < 10000 || (s->o->stop && *s->o->stop))
			break;
	}
	rc = 0;
out:
	free(j.keypos);
	dblog_buf_free(&j.tn);
	dblog_buf_free(&j.cols);
	dblog_buf_free(&sql);
	dblog_buf_free(&qn);
	dblog_buf_free(&cname);
	return rc;
}

/* --mode incremental: poll every table by its cursor column. */
int
pgsrc_incremental(struct stream *s, char *err, size_t errlen)
{
	json_t *cursors = NULL, *cp = NULL;
	if (s->o->checkpoint && dblog_checkpoint_load(s->o->checkpoint, &cp, err, errlen) < 0)
		return DBLOG_EXIT_FAIL;
	cursors = json_object_get(cp, "cursor");
	cursors = json_is_object(cursors) ? json_deep_copy(cursors) : json_object();
	json_decref(cp);
	PGresult *t = snapshot_tables(s->sql, s->o, 0);
	int status = DBLOG_EXIT_FAIL;
	int64_t seq = 0;
	if (PQresultStatus(t) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQresultErrorMessage(t));
		goto out;
	}
	for (;;) {
		for (int i = 0; i < PQntuples(t); i++)
			if (incremental_table(s, s->sql, PQgetvalue(t, i, 0), PQgetvalue(t, i, 1), cursors,
					      &seq, err, errlen))
				goto out;
		if (s->o->until || (s->o->stop && *s->o->stop))
			break;
		for (int64_t w = 0; w < s->o->poll_ms && !(s->o->stop && *s->o->stop); w += 50)
			usleep(50000);
		if (s->o->stop && *s->o->stop)
			break;
	}
	status = DBLOG_EXIT_OK;
out:
	PQclear(t);
	json_decref(cursors);
	return status;
}

