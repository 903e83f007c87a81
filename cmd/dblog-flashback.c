/* dblog-flashback - the compensating events that undo a window of
 * changes, newest first, for dblog-apply; or SQL; or a plan. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_flashback.h"

static const char usage_text[] =
	"Usage: dblog-flashback [options]\n"
	"Read dblog events on stdin, write the compensating events that undo a window\n"
	"of them to stdout, newest first, for dblog-apply --conflict manual_review.\n"
	"\n"
	"Window (changes after --since, up to and including --until):\n"
	"      --since POS|TIME       undo what was committed after POS (an LSN like\n"
	"                             0/16B3748, or a sequence number) or TIME (RFC 3339,\n"
	"                             or relative: 2h, 30m ago)\n"
	"      --until POS|TIME       ... and at or before POS or TIME\n"
	"      --tx ID                undo transaction ID (repeatable)\n"
	"  -t, --table GLOB           only tables matching GLOB (repeatable)\n"
	"  -o, --op LIST              only these ops (insert,update,delete,truncate)\n"
	"  -w, --where EXPR           only changes for which EXPR is true (dblog-filter's\n"
	"                             language)\n"
	"\n"
	"Safety:\n"
	"      --allow-partial        write what can be undone and report the rest\n"
	"                             (default: refuse, write nothing, exit 1)\n"
	"      --check-later          find the rows that changes after the window (on the\n"
	"                             input) touched again, and refuse\n"
	"      --cascade              ... undo those later transactions too\n"
	"      --nonconflict-only     ... leave those rows alone and undo the rest\n"
	"\n"
	"Output:\n"
	"      --sql DIALECT          SQL for postgres or sqlite instead of events: one\n"
	"                             guarded transaction per compensating transaction\n"
	"      --plan                 a summary for review instead of events\n"
	"      --max-memory SIZE      keep at most SIZE in memory, the rest in temporary\n"
	"                             files (default 64M)\n"
	"      --spill-dir DIR        where temporary files go (default: $TMPDIR or /tmp)\n"
	"      --dlq FILE             append bad input lines to FILE and go on\n"
	"  -u, --unbuffered           flush after every event\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n"
	"\n"
	"The compensating events come as source NAME:flashback with positions of their\n"
	"own after the newest one of the input; apply them with dblog-apply --stream.\n"
	"\n"
	"Exit status: 0 ok, 1 refused (something cannot be undone, or later changes\n"
	"touch the window's rows), bad input or write error, 2 usage.\n"
	"See dblog-flashback(1) and dblog-event(5).\n";

enum {
	OPT_SINCE = 256, OPT_UNTIL, OPT_TX, OPT_ALLOW_PARTIAL, OPT_CHECK_LATER, OPT_CASCADE,
	OPT_NONCONFLICT, OPT_SQL, OPT_PLAN, OPT_MAX_MEMORY, OPT_SPILL_DIR, OPT_DLQ,
};

static const struct option longopts[] = {
	/* window */
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "tx", required_argument, NULL, OPT_TX },
	{ "table", required_argument, NULL, 't' },
	{ "op", required_argument, NULL, 'o' },
	{ "where", required_argument, NULL, 'w' },
	/* safety */
	{ "allow-partial", no_argument, NULL, OPT_ALLOW_PARTIAL },
	{ "check-later", no_argument, NULL, OPT_CHECK_LATER },
	{ "cascade", no_argument, NULL, OPT_CASCADE },
	{ "nonconflict-only", no_argument, NULL, OPT_NONCONFLICT },
	/* output */
	{ "sql", required_argument, NULL, OPT_SQL },
	{ "plan", no_argument, NULL, OPT_PLAN },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "spill-dir", required_argument, NULL, OPT_SPILL_DIR },
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *dlq_path;   /* --dlq */

/* --since/--until: a position if it reads as one, else a time. */
static void
point_arg(const char *opt, const char *s, int *is_pos, struct dblog_pos *pos, int64_t *t)
{
	if (!dblog_pos_parse(s, strlen(s), pos)) {
		*is_pos = 1;
		return;
	}
	int rc = dblog_time_parse_arg(s, t);
	if (rc == -2)
		dblog_usage_error("%s: '%s' goes back before the year 1", opt, s);
	if (rc)
		dblog_usage_error("%s: expected a position (0/16B3748, 42) or a time "
				  "(2026-11-22T14:02:00Z, 2h, 30m ago), got '%s'", opt, s);
	*is_pos = 0;
}

static void
ops_arg(struct dblog_fb_opts *o, const char *s)
{
	struct dblog_list l = { 0 };
	dblog_list_split(&l, s);
	for (size_t i = 0; i < l.n; i++) {
		enum dblog_op op = dblog_op_parse(l.v[i], strlen(l.v[i]));
		if (op < DBLOG_OP_INSERT || op > DBLOG_OP_TRUNCATE)
			dblog_usage_error("--op: '%s' is not an op that can be undone (insert, update, "
					  "delete, truncate)", l.v[i]);
		o->ops |= 1u << op;
	}
	dblog_list_free(&l);
}

static void
where_arg(struct dblog_fb_opts *o, const char *src)
{
	char err[256];
	size_t col = 0;
	if (o->where)
		dblog_usage_error("give --where once (combine with AND)");
	o->where = dblog_expr_compile(src, err, sizeof err, &col);
	if (!o->where)
		dblog_usage_error("--where: column %zu: %s: %s", col, err, src);
}

static void
option(struct dblog_fb_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_SINCE:
		point_arg("--since", arg, &o->since_is_pos, &o->since_pos, &o->since_time);
		o->has_since = 1;
		break;
	case OPT_UNTIL:
		point_arg("--until", arg, &o->until_is_pos, &o->until_pos, &o->until_time);
		o->has_until = 1;
		break;
	case OPT_TX: dblog_list_split(&o->txs, arg); break;
	case 't': dblog_table_list_split(&o->tables, arg); break;
	case 'o': ops_arg(o, arg); break;
	case 'w': where_arg(o, arg); break;
	case OPT_ALLOW_PARTIAL: o->allow_partial = 1; break;
	case OPT_CHECK_LATER: o->check_later = 1; break;
	case OPT_CASCADE: o->cascade = 1; break;
	case OPT_NONCONFLICT: o->nonconflict_only = 1; break;
	case OPT_SQL:
		if (!strcmp(arg, "postgres") || !strcmp(arg, "postgresql"))
			o->sql = 1 + DBLOG_FB_POSTGRES;
		else if (!strcmp(arg, "sqlite"))
			o->sql = 1 + DBLOG_FB_SQLITE;
		else
			dblog_usage_error("--sql: expected postgres or sqlite, got '%s'", arg);
		break;
	case OPT_PLAN: o->plan = 1; break;
	case OPT_MAX_MEMORY:
		if (dblog_parse_size(arg, &o->max_memory) || o->max_memory < (1u << 20))
			dblog_usage_error("--max-memory: expected a size of at least 1M (64M, 1G), "
					  "got '%s'", arg);
		break;
	case OPT_SPILL_DIR: o->spill_dir = arg; break;
	case OPT_DLQ: dlq_path = arg; break;
	case 'u': o->unbuffered = 1; break;
	case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
	case 'V': dblog_version();
	default:
		fprintf(stderr, "Try 'dblog-flashback --help'.\n");
		exit(DBLOG_EXIT_USAGE);
	}
}

static void
parse_options(struct dblog_fb_opts *o, int argc, char **argv)
{
	int c;
	o->max_memory = 64u << 20;
	while ((c = getopt_long(argc, argv, "t:o:w:uhV", longopts, NULL)) != -1)
		option(o, c, optarg);
	if (optind < argc)
		dblog_usage_error("unexpected argument '%s' (the events come on stdin)", argv[optind]);
	if (o->cascade && o->nonconflict_only)
		dblog_usage_error("--cascade and --nonconflict-only exclude each other");
	if (o->plan && o->sql)
		dblog_usage_error("--plan and --sql exclude each other");
	if (o->has_since && o->has_until && o->since_is_pos && o->until_is_pos &&
	    dblog_pos_cmp(&o->since_pos, &o->until_pos, NULL) >= 0)
		dblog_usage_error("--since must come before --until");
	if (o->spill_dir && access(o->spill_dir, W_OK))
		dblog_usage_error("--spill-dir: cannot write to \"%s\": %m", o->spill_dir);
}

/* Read stdin into the engine; 0, or 1 after an error (message printed). */
static int
read_input(struct dblog_fb *fb)
{
	struct dblog_reader r;
	const char *line;
	size_t n;
	int rc, status = 0;
	dblog_reader_init(&r, 0);
	r.stop = &dblog_stop;
	while ((rc = dblog_read_line(&r, &line, &n)) == 1)
		if (dblog_fb_line(fb, line, n, r.lineno)) {
			status = 1;
			break;
		}
	if (rc < 0) {
		dblog_err("cannot read the input: %m");
		status = 1;
	} else if (rc == 3) {
		dblog_err("interrupted: nothing was written");
		status = 1;
	}
	dblog_reader_free(&r);
	return status;
}

int
main(int argc, char **argv)
{
	struct dblog_fb_opts o = { 0 };
	struct dblog_dlq dlq = { 0 };
	dblog_init(argv);
	parse_options(&o, argc, argv);
	if (dlq_path) {
		if (dblog_dlq_open(&dlq, dlq_path))
			return DBLOG_EXIT_FAIL;
		o.dlq = &dlq;
	}
	dblog_stdout_init(o.unbuffered);
	dblog_catch_stop();
	struct dblog_fb *fb = dblog_fb_new(&o, stdout);
	int status = read_input(fb);
	if (!status)
		status = dblog_fb_finish(fb);
	dblog_fb_free(fb);
	dblog_expr_free(o.where);
	dblog_list_free(&o.txs);
	dblog_list_free(&o.tables);
	if (dblog_dlq_close(&dlq) && !status)
		status = DBLOG_EXIT_FAIL;
	int close_status = dblog_stdout_close();
	return status ? status : close_status;
}
