/* dblog-capture - read changes from a database as dblog events. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_sqlite.h"
#include "src_pg.h"

static const char usage_text[] =
	"Usage: dblog-capture [options] SOURCE\n"
	"       dblog-capture --setup [--tables LIST] [--replica-identity-full]\n"
	"                     [--migrate SQL] SOURCE\n"
	"       dblog-capture --teardown [--tables LIST] SOURCE\n"
	"Read changes from SOURCE and write them to stdout as dblog events.\n"
	"SOURCE: postgres://... or a conninfo string (logical replication,\n"
	"pgoutput), or sqlite:PATH (trigger changelog).\n"
	"\n"
	"Setup:\n"
	"      --setup              create the changelog and triggers (idempotent;\n"
	"                           run again after schema changes or new tables)\n"
	"      --teardown           remove them\n"
	"      --tables LIST        only these tables (default: all)\n"
	"      --replica-identity-full  PostgreSQL --setup: set REPLICA IDENTITY FULL on\n"
	"                           the tables without a primary key or replica\n"
	"                           identity (without it, --setup refuses them)\n"
	"      --migrate SQL        SQLite, with --setup: run SQL (ALTER TABLE ...) and\n"
	"                           make the tables' triggers anew in one transaction\n"
	"\n"
	"Reading:\n"
	"  -m, --mode MODE          cdc (default), snapshot, snapshot_then_cdc or\n"
	"                           incremental (with --cursor)\n"
	"      --cursor COLUMN      incremental: the column that grows with every change\n"
	"  -n, --name NAME          source name in events (default: SQLite: the file\n"
	"                           name; PostgreSQL: the checkpoint's, else\n"
	"                           DATABASE@SYSTEM_IDENTIFIER)\n"
	"  -c, --checkpoint FILE    resume after the position FILE records\n"
	"  -f, --follow             keep reading new changes (default for cdc)\n"
	"      --until-caught-up    stop once everything committed at start is out\n"
	"      --poll-interval DUR  how often to look for changes (default 500ms)\n"
	"      --prune              SQLite: delete changelog rows the checkpoint covers\n"
	"\n"
	"PostgreSQL:\n"
	"      --slot NAME          logical replication slot (default: dblog)\n"
	"      --publication NAME   publication (default: dblog)\n"
	"      --heartbeat DUR      emit a heartbeat after DUR without events\n"
	"      --endpos LSN         stop after the transactions committed up to LSN\n"
	"      --status-interval DUR  standby status updates (default 10s)\n"
	"      --snapshot-jobs N    read the snapshot's tables on N connections at once\n"
	"      --retry N            on a lost connection, connect again up to N times\n"
	"                           with backoff (default 0: exit 3)\n"
	"\n"
	"Common:\n"
	"  -u, --unbuffered         flush after every event\n"
	"  -h, --help               show this help and exit\n"
	"  -V, --version            show the version and exit\n"
	"\n"
	"Exit status: 0 ok (also after SIGINT/SIGTERM), 1 error, 2 usage, 3 retry.\n"
	"See dblog-capture(1) and dblog-event(5).\n";

enum { OPT_SETUP = 256, OPT_TEARDOWN, OPT_TABLES, OPT_UNTIL, OPT_POLL, OPT_PRUNE, OPT_CURSOR,
       OPT_SLOT, OPT_PUB, OPT_HEARTBEAT, OPT_ENDPOS, OPT_STATUS, OPT_RETRY, OPT_JOBS,
       OPT_RIFULL, OPT_MIGRATE };

static const struct option longopts[] = {
	/* setup */
	{ "setup", no_argument, NULL, OPT_SETUP },
	{ "teardown", no_argument, NULL, OPT_TEARDOWN },
	{ "tables", required_argument, NULL, OPT_TABLES },
	{ "replica-identity-full", no_argument, NULL, OPT_RIFULL },
	{ "migrate", required_argument, NULL, OPT_MIGRATE },
	/* reading */
	{ "mode", required_argument, NULL, 'm' },
	{ "cursor", required_argument, NULL, OPT_CURSOR },
	{ "name", required_argument, NULL, 'n' },
	{ "checkpoint", required_argument, NULL, 'c' },
	{ "follow", no_argument, NULL, 'f' },
	{ "until-caught-up", no_argument, NULL, OPT_UNTIL },
	{ "poll-interval", required_argument, NULL, OPT_POLL },
	{ "prune", no_argument, NULL, OPT_PRUNE },
	/* PostgreSQL */
	{ "slot", required_argument, NULL, OPT_SLOT },
	{ "publication", required_argument, NULL, OPT_PUB },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "endpos", required_argument, NULL, OPT_ENDPOS },
	{ "status-interval", required_argument, NULL, OPT_STATUS },
	{ "retry", required_argument, NULL, OPT_RETRY },
	{ "snapshot-jobs", required_argument, NULL, OPT_JOBS },
	/* common */
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

enum mode { M_CDC, M_SNAPSHOT, M_SNAPSHOT_THEN_CDC, M_INCREMENTAL };

struct opts {
	int setup, teardown, follow, until, prune, unbuffered, pg, poll_set, ri_full;
	int resnap;   /* an interrupted snapshot is read again */
	const char *slot, *publication;
	int64_t heartbeat_ms, status_ms, retries, jobs;
	uint64_t endpos;
	enum mode mode;
	struct dblog_list tables;
	const char *name, *checkpoint, *source, *path, *cursor, *migrate;
	int64_t poll_ms;
	char *default_name;
};

static void
parse_options(struct opts *o, int argc, char **argv)
{
	int c;
	o->poll_ms = 500;
	while ((c = getopt_long(argc, argv, "m:n:c:fuhV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SETUP: o->setup = 1; break;
		case OPT_TEARDOWN: o->teardown = 1; break;
		case OPT_TABLES: dblog_table_list_split(&o->tables, optarg); break;
		case OPT_RIFULL: o->ri_full = 1; break;
		case OPT_MIGRATE: o->migrate = optarg; break;
		case 'm':
			if (!strcmp(optarg, "cdc")) o->mode = M_CDC;
			else if (!strcmp(optarg, "snapshot")) o->mode = M_SNAPSHOT;
			else if (!strcmp(optarg, "snapshot_then_cdc")) o->mode = M_SNAPSHOT_THEN_CDC;
			else if (!strcmp(optarg, "incremental")) o->mode = M_INCREMENTAL;
			else
				dblog_usage_error("--mode: expected cdc, snapshot, snapshot_then_cdc or "
						  "incremental, got '%s'", optarg);
			break;
		case 'n': o->name = optarg; break;
		case 'c': o->checkpoint = optarg; break;
		case 'f': o->follow = 1; break;
		case OPT_UNTIL: o->until = 1; break;
		case OPT_SLOT: o->slot = optarg; break;
		case OPT_JOBS:
			if (dblog_parse_count(optarg, &o->jobs) || o->jobs < 1 || o->jobs > 64)
				dblog_usage_error("--snapshot-jobs: expected 1 to 64, got '%s'", optarg);
			break;
		case OPT_RETRY:
			if (dblog_parse_count(optarg, &o->retries) || o->retries > 1000000)
				dblog_usage_error("--retry: expected a count, got '%s'", optarg);
			break;
		case OPT_PUB: o->publication = optarg; break;
		case OPT_HEARTBEAT:
			if (dblog_parse_duration(optarg, &o->heartbeat_ms) || o->heartbeat_ms <= 0)
				dblog_usage_error("--heartbeat: expected a duration like 10s, got '%s'", optarg);
			break;
		case OPT_STATUS:
			if (dblog_parse_duration(optarg, &o->status_ms) || o->status_ms <= 0)
				dblog_usage_error("--status-interval: expected a duration like 10s, got '%s'",
						  optarg);
			break;
		case OPT_ENDPOS: {
			struct dblog_pos p;
			if (dblog_pos_parse(optarg, strlen(optarg), &p) || p.kind != DBLOG_POS_LSN)
				dblog_usage_error("--endpos: expected an LSN like 0/16B3748, got '%s'", optarg);
			o->endpos = p.v;
			break;
		}
		case OPT_POLL:
			o->poll_set = 1;
			if (dblog_parse_duration(optarg, &o->poll_ms) || o->poll_ms <= 0)
				dblog_usage_error("--poll-interval: expected a duration like 500ms or 2s, "
						  "got '%s'", optarg);
			break;
		case OPT_PRUNE: o->prune = 1; break;
		case OPT_CURSOR: o->cursor = optarg; break;
		case 'u': o->unbuffered = 1; break;
		case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
		case 'V': dblog_version();
		default:
			fprintf(stderr, "Try 'dblog-capture --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
	struct dblog_buf sch = { 0 }, tn = { 0 };
	for (size_t i = 0; i < o->tables.n; i++) {
		int has;
		if (dblog_table_split(o->tables.v[i], strlen(o->tables.v[i]), &sch, &tn, &has))
			dblog_usage_error("--tables: '%s' is not a table name (a name holding a dot or "
					  "a double quote goes in double quotes, as in events: "
					  "'\"a.b\".c')", o->tables.v[i]);
	}
	dblog_buf_free(&sch);
	dblog_buf_free(&tn);
	if (optind == argc)
		dblog_usage_error("missing SOURCE (postgres://... or sqlite:PATH)");
	o->source = argv[optind++];
	if (optind < argc)
		dblog_usage_error("unexpected argument '%s'", argv[optind]);
}

/* Options of a PostgreSQL source. */
static void
check_pg(struct opts *o)
{
	if (o->prune || o->migrate)
		dblog_usage_error("--prune and --migrate go with sqlite: sources");
	if ((o->mode == M_INCREMENTAL) != (o->cursor != NULL))
		dblog_usage_error("--mode incremental and --cursor COLUMN go together");
	if (o->poll_set && o->mode != M_INCREMENTAL)
		dblog_usage_error("--poll-interval goes with sqlite: sources and --mode incremental");
	if (o->setup && o->teardown)
		dblog_usage_error("--setup and --teardown exclude each other");
	if (o->ri_full && !o->setup)
		dblog_usage_error("--replica-identity-full goes with --setup");
	struct dblog_buf sch = { 0 }, tn = { 0 };
	for (size_t i = 0; i < o->tables.n; i++) {
		int has;
		dblog_table_split(o->tables.v[i], strlen(o->tables.v[i]), &sch, &tn, &has);
		if (has && !strcmp(sch.p, "dblog"))
			dblog_usage_error("--tables: '%s' is in schema dblog, where dblog-apply keeps its "
					  "state: never captured", o->tables.v[i]);
	}
	dblog_buf_free(&sch);
	dblog_buf_free(&tn);
	if ((o->follow && o->until) || (o->follow && o->endpos))
		dblog_usage_error("--follow excludes --until-caught-up and --endpos");
	if (o->mode == M_SNAPSHOT && (o->follow || o->until || o->endpos))
		dblog_usage_error("--mode snapshot reads once");
	if (!o->slot)
		o->slot = "dblog";
	if (!o->publication)
		o->publication = "dblog";
	if (!o->status_ms)
		o->status_ms = 10000;
}

static void
check_options(struct opts *o)
{
	if (strncmp(o->source, "sqlite:", 7) && (!strncmp(o->source, "postgres://", 11) ||
	    !strncmp(o->source, "postgresql://", 13) || strchr(o->source, '='))) {
		o->pg = 1;
		check_pg(o);
		return;
	}
	if (o->slot || o->publication || o->heartbeat_ms || o->endpos || o->status_ms || o->retries ||
	    o->jobs || o->ri_full)
		dblog_usage_error("--slot, --publication, --heartbeat, --endpos, --status-interval, "
				  "--retry, --snapshot-jobs and --replica-identity-full go with "
				  "PostgreSQL sources");
	if (strncmp(o->source, "sqlite:", 7))
		dblog_usage_error("SOURCE must be sqlite:PATH, got '%s'", o->source);
	o->path = o->source + 7;
	if (!strncmp(o->path, "//", 2))
		o->path += 2;
	if (!*o->path)
		dblog_usage_error("sqlite: needs a PATH");
	if (o->setup && o->teardown)
		dblog_usage_error("--setup and --teardown exclude each other");
	if (o->migrate && !o->setup)
		dblog_usage_error("--migrate goes with --setup");
	if (o->follow && o->until)
		dblog_usage_error("--follow and --until-caught-up exclude each other");
	if (o->prune && !o->checkpoint)
		dblog_usage_error("--prune needs --checkpoint FILE (only what it records is pruned)");
	if ((o->mode == M_INCREMENTAL) != (o->cursor != NULL))
		dblog_usage_error("--mode incremental and --cursor COLUMN go together");
	if (o->mode == M_INCREMENTAL && o->prune)
		dblog_usage_error("--prune goes with the changelog modes, not incremental");
	if (o->mode == M_SNAPSHOT && (o->follow || o->until))
		dblog_usage_error("--mode snapshot reads once; --follow and --until-caught-up go "
				  "with cdc and snapshot_then_cdc");
	if (!o->name) {
		const char *b = strrchr(o->path, '/');
		b = b ? b + 1 : o->path;
		const char *dot = strrchr(b, '.');
		o->default_name = dblog_xstrndup(b, dot && dot != b ? (size_t)(dot - b) : strlen(b));
		o->name = o->default_name;
	}
}

/* The checkpoint position: 0 with pos, seq set; 1 if there is none. */
static int
checkpoint_pos(struct opts *o, int64_t *pos, int64_t *seq, int *has_seq)
{
	json_t *cp;
	char err[512];
	if (!o->checkpoint)
		return 1;
	int rc = dblog_checkpoint_load(o->checkpoint, &cp, err, sizeof err);
	if (rc < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	if (rc == 1)
		return 1;
	struct dblog_pos p;
	dblog_checkpoint_pos(cp, &p, seq, has_seq);
	int in_snapshot = json_is_true(json_object_get(cp, "snapshot"));
	json_decref(cp);
	if (in_snapshot && o->mode == M_SNAPSHOT_THEN_CDC) {
		dblog_warn("checkpoint \"%s\" is inside an interrupted snapshot: the snapshot is "
			   "read again, each table after a truncate event", o->checkpoint);
		o->resnap = 1;
		return 1;
	}
	if (p.kind != DBLOG_POS_SEQ)
		dblog_die(DBLOG_EXIT_FAIL, "checkpoint \"%s\" holds a PostgreSQL LSN, not a SQLite "
			  "changelog position", o->checkpoint);
	*pos = (int64_t)p.v;
	return 0;
}

static void
prune(struct opts *o, struct dblog_sqlite_src *s)
{
	int64_t pos, seq;
	int has_seq;
	char err[512];
	if (checkpoint_pos(o, &pos, &seq, &has_seq))
		return;
	if (has_seq) {
		/* a partly applied transaction: keep it whole */
		int64_t m = dblog_sqlite_src_tx_start(s, pos);
		pos = m >= 0 ? m - 1 : pos - 1;
	}
	if (pos > 0 && dblog_sqlite_src_prune(s, pos, err, sizeof err))
		dblog_warn("cannot prune the changelog: %s", err);
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (!dblog_stop && nanosleep(&ts, &ts) && !dblog_stop)
		;
}

static _Noreturn void
read_failed(const char *err)
{
	if (!*err)
		dblog_die_write();
	dblog_die(DBLOG_EXIT_FAIL, "%s", err);
}

static int
run_cdc(struct opts *o, struct dblog_sqlite_src *s, int64_t after)
{
	char err[2048];
	int64_t until = -1, last = after;
	if (dblog_sqlite_src_head(s) < 0)
		dblog_die(DBLOG_EXIT_FAIL, "no changelog in \"%s\": run 'dblog-capture --setup %s' first",
			  o->path, o->source);
	if (o->until)
		until = dblog_sqlite_src_head(s);
	int dv = -1;
	while (!dblog_stop) {
		int v = dblog_sqlite_src_data_version(s);
		if (v != dv || dv < 0) {
			dv = v;
			if (dblog_sqlite_src_read(s, last, until, &last, err, sizeof err))
				read_failed(err);
			if (fflush(stdout))
				dblog_die_write();
			if (o->prune)
				prune(o, s);
		}
		if (o->until && (last >= until || dblog_stop))
			break;
		sleep_ms(o->poll_ms);
	}
	return DBLOG_EXIT_OK;
}

/* --mode incremental: poll the tables by their cursor column. */
static int
run_incremental(struct opts *o, struct dblog_sqlite_src *s)
{
	char err[512];
	json_t *cp = NULL, *cursors;
	if (o->checkpoint) {
		int rc = dblog_checkpoint_load(o->checkpoint, &cp, err, sizeof err);
		if (rc < 0)
			dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	}
	cursors = json_object_get(cp, "cursor");
	cursors = json_is_object(cursors) ? json_deep_copy(cursors) : json_object();
	json_decref(cp);
	int dv = -1;
	while (!dblog_stop) {
		int v = dblog_sqlite_src_data_version(s);
		if (v != dv || dv < 0) {
			dv = v;
			if (dblog_sqlite_src_incremental(s, &o->tables, o->cursor, cursors, err, sizeof err))
				read_failed(err);
		}
		if (o->until)
			break;
		sleep_ms(o->poll_ms);
	}
	json_decref(cursors);
	return DBLOG_EXIT_OK;
}

static int
run(struct opts *o, sqlite3 *db)
{
	char err[512];
	struct dblog_sqlite_src *s = dblog_sqlite_src_new(db, o->name, stdout, o->unbuffered);
	dblog_sqlite_src_stop_flag(s, &dblog_stop);
	int64_t pos = 0, seq = 0;
	int status = DBLOG_EXIT_OK;
	if (o->mode == M_INCREMENTAL) {
		status = run_incremental(o, s);
		dblog_sqlite_src_free(s);
		return status;
	}
	int has_seq = 0, have_cp = !checkpoint_pos(o, &pos, &seq, &has_seq);
	if (o->mode != M_CDC && !(o->mode == M_SNAPSHOT_THEN_CDC && have_cp)) {
		if (o->mode == M_SNAPSHOT_THEN_CDC && dblog_sqlite_src_head(s) < 0)
			dblog_die(DBLOG_EXIT_FAIL, "no changelog in \"%s\": run 'dblog-capture --setup "
				  "%s' before snapshot_then_cdc", o->path, o->source);
		if (dblog_sqlite_src_snapshot(s, &o->tables, &pos, o->resnap, err, sizeof err))
			read_failed(err);
		has_seq = 0;
	} else if (has_seq) {
		dblog_sqlite_src_resume_inside(s, pos, seq);
		int64_t m = dblog_sqlite_src_tx_start(s, pos);
		pos = m >= 0 ? m - 1 : pos;
	}
	if (o->mode != M_SNAPSHOT)
		status = run_cdc(o, s, pos);
	dblog_sqlite_src_free(s);
	return status;
}

/* A PostgreSQL source: setup, teardown or capture. */
static int
run_pg(struct opts *o)
{
	char err[1024];
	struct dblog_pgsrc_opts po = {
		.conninfo = o->source, .slot = o->slot, .publication = o->publication,
		.name = o->name, .checkpoint = o->checkpoint, .tables = &o->tables,
		.mode = o->mode == M_SNAPSHOT ? DBLOG_PG_SNAPSHOT :
			o->mode == M_SNAPSHOT_THEN_CDC ? DBLOG_PG_SNAPSHOT_THEN_CDC :
			o->mode == M_INCREMENTAL ? DBLOG_PG_INCREMENTAL : DBLOG_PG_CDC,
		.cursor = o->cursor, .poll_ms = o->poll_ms,
		.until = o->until, .unbuffered = o->unbuffered, .endpos = o->endpos,
		.heartbeat_ms = o->heartbeat_ms, .status_ms = o->status_ms, .stop = &dblog_stop,
		.retries = (int)o->retries, .snapshot_jobs = (int)o->jobs,
		.replica_identity_full = o->ri_full,
	};
	if (o->setup || o->teardown) {
		char serr[16384];   /* setup names every table it refuses */
		int retry;
		PGconn *c = dblog_pg_connect(o->source, 0, err, sizeof err, &retry);
		if (!c) {
			dblog_err("%s", err);
			return retry ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL;
		}
		int rc = o->setup ? dblog_pgsrc_setup(c, &po, serr, sizeof serr)
				  : dblog_pgsrc_teardown(c, &po, serr, sizeof serr);
		PQfinish(c);
		if (rc) {
			dblog_err("%s: %s", o->setup ? "setup" : "teardown", serr);
			return DBLOG_EXIT_FAIL;
		}
		return DBLOG_EXIT_OK;
	}
	dblog_catch_stop();
	dblog_stdout_init(o->unbuffered);
	int status = dblog_pgsrc_run(&po, stdout, err, sizeof err);
	if (status && err[0])
		dblog_err("%s%s", err, status == DBLOG_EXIT_RETRY ?
			  " (temporary: run again to resume from the checkpoint)" : "");
	else if (status)
		dblog_err("cannot write standard output: %m");
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	char err[1024];
	sqlite3 *db;
	dblog_init(argv);
	parse_options(&o, argc, argv);
	check_options(&o);
	if (o.pg) {
		int st = run_pg(&o);
		dblog_list_free(&o.tables);
		if (dblog_stdout_close() && !st)
			st = DBLOG_EXIT_FAIL;
		return st;
	}
	if (access(o.path, F_OK) && !o.setup)
		dblog_die(DBLOG_EXIT_FAIL, "no SQLite database at \"%s\"", o.path);
	if (dblog_sqlite_open(o.path, 0, &db, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	int status = DBLOG_EXIT_OK;
	if (o.setup || o.teardown) {
		int rc = o.setup ? dblog_sqlite_setup(db, &o.tables, o.migrate, err, sizeof err)
				 : dblog_sqlite_teardown(db, &o.tables, err, sizeof err);
		if (rc) {
			dblog_err("%s: %s", o.setup ? "setup" : "teardown", err);
			status = DBLOG_EXIT_FAIL;
		}
	} else {
		dblog_catch_stop();
		dblog_stdout_init(o.unbuffered);
		status = run(&o, db);
	}
	sqlite3_close(db);
	dblog_list_free(&o.tables);
	free(o.default_name);
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	return status;
}
