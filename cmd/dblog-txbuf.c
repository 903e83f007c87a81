/* dblog-txbuf - deliver dblog events as whole transactions in commit order. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_txbuf.h"

static const char usage_text[] =
	"Usage: dblog-txbuf [options]\n"
	"Read dblog events on stdin, write each transaction whole, in commit order,\n"
	"once it is complete; its commit tells why (\"delivery\") and in which batch.\n"
	"\n"
	"Completeness of sources without begin/commit markers:\n"
	"      --poll-interval DUR    the capture's poll interval: a transaction\n"
	"                             older than twice DUR is complete (default 500ms;\n"
	"                             0: off)\n"
	"      --max-wait DUR         deliver a transaction that waited DUR since its\n"
	"                             first change, with a warning (default 1m; 0: never)\n"
	"\n"
	"Batching and limits:\n"
	"      --batch-rows N         deliver complete transactions together until\n"
	"                             they hold N changes\n"
	"      --batch-ms DUR         ... or until the batch is DUR old\n"
	"      --max-tx N             at most N pending transactions (default 10000)\n"
	"      --max-bytes SIZE       at most SIZE of pending events (default 1G)\n"
	"      --max-memory SIZE      keep at most SIZE in memory, spill the rest to\n"
	"                             files (default 64M)\n"
	"      --spill-dir DIR        where spill files go (default: $TMPDIR or /tmp)\n"
	"\n"
	"Output:\n"
	"      --as-tx                one line per transaction: {\"op\":\"tx\",...,\"changes\":[...]}\n"
	"      --flush-incomplete     at end of input deliver transactions that never\n"
	"                             committed too (default: report them on stderr)\n"
	"      --stats                print counts on stderr at exit and on SIGUSR1\n"
	"\n"
	"Common:\n"
	"      --dlq FILE             append bad input lines to FILE and go on\n"
	"  -u, --unbuffered           flush after every event\n"
	"  -h, --help                 show this help and exit\n"
	"  -V, --version              show the version and exit\n"
	"\n"
	"Exit status: 0 ok (also after SIGINT or SIGTERM, and with incomplete\n"
	"transactions at end of input, which are reported), 1 bad input, write or\n"
	"spill-file error, 2 usage.\n"
	"See dblog-txbuf(1) and dblog-event(5).\n";

enum {
	OPT_POLL = 256, OPT_MAX_WAIT, OPT_BATCH_ROWS, OPT_BATCH_MS, OPT_MAX_TX, OPT_MAX_BYTES,
	OPT_MAX_MEMORY, OPT_SPILL_DIR, OPT_AS_TX, OPT_FLUSH_INCOMPLETE, OPT_STATS, OPT_DLQ,
};

static const struct option longopts[] = {
	/* completeness */
	{ "poll-interval", required_argument, NULL, OPT_POLL },
	{ "max-wait", required_argument, NULL, OPT_MAX_WAIT },
	/* batching and limits */
	{ "batch-rows", required_argument, NULL, OPT_BATCH_ROWS },
	{ "batch-ms", required_argument, NULL, OPT_BATCH_MS },
	{ "max-tx", required_argument, NULL, OPT_MAX_TX },
	{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "spill-dir", required_argument, NULL, OPT_SPILL_DIR },
	/* output */
	{ "as-tx", no_argument, NULL, OPT_AS_TX },
	{ "flush-incomplete", no_argument, NULL, OPT_FLUSH_INCOMPLETE },
	{ "stats", no_argument, NULL, OPT_STATS },
	/* common */
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct cmd {
	struct dblog_txbuf_opts o;
	int stats;
	const char *dlq_path;
	struct dblog_dlq dlq;
	struct dblog_buf scratch;
};

static volatile sig_atomic_t want_stats;

/* ------------------------------------------------------------ options */

static int64_t
duration_arg(const char *opt, const char *s)
{
	int64_t ms;
	if (dblog_parse_duration(s, &ms) || ms < 0)
		dblog_usage_error("%s: bad duration '%s' (for example 500ms, 10s, 5m)", opt, s);
	return ms;
}

static int64_t
count_arg(const char *opt, const char *s)
{
	int64_t v;
	if (dblog_parse_count(s, &v))
		dblog_usage_error("%s: expected a number, got '%s'", opt, s);
	return v;
}

static uint64_t
size_arg(const char *opt, const char *s)
{
	uint64_t v;
	if (dblog_parse_size(s, &v))
		dblog_usage_error("%s: bad size '%s' (for example 512K, 16M, 1G)", opt, s);
	return v;
}

static void
parse_options(struct cmd *c, int argc, char **argv)
{
	int ch;
	const char *tmp = getenv("TMPDIR");
	c->o = (struct dblog_txbuf_opts){
		.poll_interval_ms = 500, .max_wait_ms = 60000, .max_tx = 10000,
		.max_bytes = 1ull << 30, .max_memory = 64ull << 20,
		.spill_dir = tmp && *tmp ? tmp : "/tmp",
	};
	while ((ch = getopt_long(argc, argv, "uhV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_POLL: c->o.poll_interval_ms = duration_arg("--poll-interval", optarg); break;
		case OPT_MAX_WAIT: c->o.max_wait_ms = duration_arg("--max-wait", optarg); break;
		case OPT_BATCH_ROWS: c->o.batch_rows = count_arg("--batch-rows", optarg); break;
		case OPT_BATCH_MS: c->o.batch_ms = duration_arg("--batch-ms", optarg); break;
		case OPT_MAX_TX: c->o.max_tx = count_arg("--max-tx", optarg); break;
		case OPT_MAX_BYTES: c->o.max_bytes = size_arg("--max-bytes", optarg); break;
		case OPT_MAX_MEMORY: c->o.max_memory = size_arg("--max-memory", optarg); break;
		case OPT_SPILL_DIR: c->o.spill_dir = optarg; break;
		case OPT_AS_TX: c->o.as_tx = 1; break;
		case OPT_FLUSH_INCOMPLETE: c->o.flush_incomplete = 1; break;
		case OPT_STATS: c->stats = 1; break;
		case OPT_DLQ: c->dlq_path = optarg; break;
		case 'u': c->o.unbuffered = 1; break;
		case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
		case 'V': dblog_version();
		default:
			fprintf(stderr, "Try 'dblog-txbuf --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
	if (optind < argc)
		dblog_usage_error("unexpected argument '%s' (events come on standard input)",
				  argv[optind]);
	if (c->o.max_memory < (1u << 20))
		dblog_usage_error("--max-memory: at least 1M");
	if (access(c->o.spill_dir, W_OK | X_OK))
		dblog_usage_error("--spill-dir: cannot write to \"%s\": %m", c->o.spill_dir);
}

/* ------------------------------------------------------------ signals */

static void
on_stop(int sig)
{
	(void)sig;
	dblog_stop = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	want_stats = 1;
}

/* SA_RESTART: a write in progress finishes; the reader polls with a
 * timeout, so it still sees the stop flag at once. */
static void
catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
}

static void
print_stats(struct dblog_txbuf *b)
{
	struct dblog_txbuf_stats st;
	struct dblog_buf m = { 0 };
	dblog_txbuf_get_stats(b, &st);
	dblog_buf_adds(&m, "stats: delivered");
	for (int r = 0; r < DBLOG_TXB_NREASONS; r++)
		dblog_buf_printf(&m, " %s=%llu", dblog_txbuf_reason_name((enum dblog_txbuf_reason)r),
				 (unsigned long long)st.delivered[r]);
	dblog_buf_printf(&m, "; batches=%llu; pending tx=%llu bytes=%llu; spills=%llu "
			 "spilled_bytes=%llu; incomplete=%llu; memory=%llu peak=%llu",
			 (unsigned long long)st.batches, (unsigned long long)st.pending_tx,
			 (unsigned long long)st.pending_bytes, (unsigned long long)st.spills,
			 (unsigned long long)st.spilled_bytes, (unsigned long long)st.incomplete,
			 (unsigned long long)st.memory, (unsigned long long)st.peak_memory);
	dblog_err("%s", m.p);
	dblog_buf_free(&m);
}

/* ------------------------------------------------------------ the loop */

/* How often the timers are looked at: a quarter of the shortest. */
static int64_t
tick_ms(const struct dblog_txbuf_opts *o)
{
	int64_t t = 100;
	const int64_t v[] = { o->poll_interval_ms, o->max_wait_ms, o->batch_ms };
	for (int i = 0; i < 3; i++)
		if (v[i] > 0 && v[i] / 4 < t)
			t = v[i] / 4;
	return t < 5 ? 5 : t;
}

/* One scanned line: 0 go on, 1 stop with status 1. */
static int
on_line(struct cmd *c, struct dblog_txbuf *b, const struct dblog_scanned *l)
{
	char why[300];
	if (l->status == 1)
		return 0;
	if (l->status < 0 && l->unterminated && l->col) {
		dblog_warn_cut(l->lineno);
		return 0;   /* the last line: the input ends */
	}
	if (l->status < 0) {
		if (l->col)
			snprintf(why, sizeof why, "malformed JSON at column %zu: %s", l->col, l->why);
		else
			snprintf(why, sizeof why, "%s", l->why);
		return dblog_bad_line(&c->dlq, l->lineno, l->line, l->n, why) ? 1 : 0;
	}
	int s = dblog_txbuf_event(b, l->line, l->n, &l->f);
	if (s == 1)
		return dblog_bad_line(&c->dlq, l->lineno, l->line, l->n, dblog_txbuf_error(b)) ? 1 : 0;
	if (s < 0) {
		dblog_err("%s", dblog_txbuf_error(b));
		return 1;
	}
	return 0;
}

/* The lines are read and scanned on a second thread (dblog_scanq), so
 * that validating them runs beside the work on transactions. */
static int
run(struct cmd *c, struct dblog_txbuf *b)
{
	const struct dblog_scanned *l;
	int rc, status = DBLOG_EXIT_OK;
	int64_t tick = tick_ms(&c->o), next = dblog_now_ms() + tick;
	unsigned lines = 0;
	struct dblog_scanq *q = dblog_scanq_start(0);
	while ((rc = dblog_scanq_next(q, tick, stdout, &dblog_stop, &l)) == 1 || rc == 2) {
		if (rc == 1 && on_line(c, b, l)) {
			status = DBLOG_EXIT_FAIL;
			break;
		}
		if (rc == 2 || (++lines % 64 == 0 && dblog_now_ms() >= next)) {
			next = dblog_now_ms() + tick;
			if (dblog_txbuf_tick(b)) {
				dblog_err("%s", dblog_txbuf_error(b));
				status = DBLOG_EXIT_FAIL;
				break;
			}
		}
		if (want_stats) {
			want_stats = 0;
			print_stats(b);
		}
	}
	if (rc < 0) {
		dblog_err("cannot read standard input: %m");
		status = DBLOG_EXIT_FAIL;
	}
	if (status == DBLOG_EXIT_OK && dblog_txbuf_finish(b, rc == 0)) {
		dblog_err("%s", dblog_txbuf_error(b));
		status = DBLOG_EXIT_FAIL;
	}
	dblog_scanq_free(q);
	return status;
}

int
main(int argc, char **argv)
{
	struct cmd c = { 0 };
	dblog_init(argv);
	parse_options(&c, argc, argv);
	if (c.dlq_path && dblog_dlq_open(&c.dlq, c.dlq_path))
		return DBLOG_EXIT_FAIL;
	dblog_stdout_init(c.o.unbuffered);
	catch_signals();
	/* the reading thread's blocks (under 1 MiB) come out of the limit */
	struct dblog_txbuf_opts core = c.o;
	core.max_memory -= core.max_memory / 8 < (2u << 20) ? core.max_memory / 8 : (2u << 20);
	struct dblog_txbuf *b = dblog_txbuf_new(&core, stdout);
	int status = run(&c, b);
	struct dblog_txbuf_stats st;
	dblog_txbuf_get_stats(b, &st);
	if (st.discarded)
		dblog_warn("stopped: %llu pending transactions not delivered",
			   (unsigned long long)st.discarded);
	if (c.stats)
		print_stats(b);
	dblog_txbuf_free(b);
	if (dblog_dlq_close(&c.dlq) && !status)
		status = DBLOG_EXIT_FAIL;
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	dblog_buf_free(&c.scratch);
	return status;
}
