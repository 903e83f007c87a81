/* dblog-checkpoint - show, set and track checkpoint files; select the
 * events after a checkpoint or a time (replay). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dblog.h"

static const char usage_text[] =
	"Usage: dblog-checkpoint show FILE [--json]\n"
	"       dblog-checkpoint set FILE --pos POS [--seq N] [--time T]\n"
	"       dblog-checkpoint track FILE [--interval DUR] [--every N]\n"
	"       dblog-checkpoint since (FILE | --pos POS [--seq N] | --time T)\n"
	"Show, set and track checkpoint files; pass the events after a point.\n"
	"\n"
	"Commands:\n"
	"  show FILE      print the checkpoint (a table, or the JSON with --json)\n"
	"  set FILE       write a checkpoint at POS (atomically)\n"
	"  track FILE     pass events through and record the position of the last\n"
	"                 complete transaction or heartbeat in FILE\n"
	"  since          pass only the events after FILE's position, POS or T\n"
	"\n"
	"Options:\n"
	"      --json            show: print the checkpoint as JSON\n"
	"      --pos POS         an LSN (0/16B3748) or a sequence number (42)\n"
	"      --seq N           with --pos: changes at POS up to seq N are covered\n"
	"      --time T          RFC 3339 time or relative (2h, 30m ago); set: the\n"
	"                        commit time to record; since: pass events after T\n"
	"      --interval DUR    track: write at most this often (default 1s)\n"
	"      --every N         track: also write after every N recorded positions\n"
	"      --dlq FILE        append bad input lines to FILE and go on\n"
	"  -u, --unbuffered      flush after every event\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n"
	"\n"
	"Exit status: 0 ok, 1 bad input, bad checkpoint or write error, 2 usage,\n"
	"4 track: stopped by SIGINT/SIGTERM or the input ended inside a transaction.\n"
	"See dblog-checkpoint(1) and dblog-event(5).\n";

enum { OPT_JSON = 256, OPT_POS, OPT_SEQ, OPT_TIME, OPT_INTERVAL, OPT_EVERY, OPT_DLQ };

static const struct option longopts[] = {
	/* show */
	{ "json", no_argument, NULL, OPT_JSON },
	/* set, since */
	{ "pos", required_argument, NULL, OPT_POS },
	{ "seq", required_argument, NULL, OPT_SEQ },
	{ "time", required_argument, NULL, OPT_TIME },
	/* track */
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "every", required_argument, NULL, OPT_EVERY },
	/* common */
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *cmd, *file, *pos_arg, *time_arg, *dlq_path;
	int json, unbuffered, has_seq;
	int64_t seq, interval_ms, every;
	struct dblog_dlq dlq;
};

/* ------------------------------------------------------------ options */

static void
parse_options(struct opts *o, int argc, char **argv)
{
	int c;
	o->interval_ms = 1000;
	while ((c = getopt_long(argc, argv, "+uhV", longopts, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			/* a positional: the command, then its file */
			if (!o->cmd)
				o->cmd = argv[optind++];
			else if (!o->file)
				o->file = argv[optind++];
			else
				dblog_usage_error("unexpected argument '%s'", argv[optind]);
			continue;
		}
		switch (c) {
		case OPT_JSON: o->json = 1; break;
		case OPT_POS: o->pos_arg = optarg; break;
		case OPT_SEQ:
			if (dblog_parse_count(optarg, &o->seq))
				dblog_usage_error("--seq: expected a non-negative integer, got '%s'", optarg);
			o->has_seq = 1;
			break;
		case OPT_TIME: o->time_arg = optarg; break;
		case OPT_INTERVAL:
			if (dblog_parse_duration(optarg, &o->interval_ms) || o->interval_ms <= 0)
				dblog_usage_error("--interval: expected a duration like 500ms, 10s or 5m, "
						  "got '%s'", optarg);
			break;
		case OPT_EVERY:
			if (dblog_parse_count(optarg, &o->every) || o->every <= 0)
				dblog_usage_error("--every: expected a positive integer, got '%s'", optarg);
			break;
		case OPT_DLQ: o->dlq_path = optarg; break;
		case 'u': o->unbuffered = 1; break;
		case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
		case 'V': dblog_version();
		default:
			fprintf(stderr, "Try 'dblog-checkpoint --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
}

static void
check_options(struct opts *o)
{
	if (!o->cmd)
		dblog_usage_error("missing command (show, set, track or since)");
	const char *cmd = o->cmd;
	int show = !strcmp(cmd, "show"), set = !strcmp(cmd, "set");
	int track = !strcmp(cmd, "track"), since = !strcmp(cmd, "since");
	if (!show && !set && !track && !since)
		dblog_usage_error("unknown command '%s' (show, set, track or since)", cmd);
	if (!since && !o->file)
		dblog_usage_error("%s: missing checkpoint FILE", cmd);
	if (o->json && !show)
		dblog_usage_error("--json goes with show");
	if ((o->pos_arg || o->has_seq) && !set && !since)
		dblog_usage_error("--pos and --seq go with set and since");
	if (o->time_arg && !set && !since)
		dblog_usage_error("--time goes with set and since");
	if (o->has_seq && !o->pos_arg)
		dblog_usage_error("--seq goes with --pos");
	if (set && !o->pos_arg)
		dblog_usage_error("set: missing --pos POS");
	if (since && (!!o->file + !!o->pos_arg + (o->time_arg != NULL)) != 1)
		dblog_usage_error("since: give exactly one of FILE, --pos POS or --time T");
	if (!track && (o->every || o->interval_ms != 1000))
		dblog_usage_error("--interval and --every go with track");
	if ((show || set) && (o->dlq_path || o->unbuffered))
		dblog_usage_error("--dlq and --unbuffered go with track and since");
}

static struct dblog_pos
pos_arg(const char *s)
{
	struct dblog_pos p;
	if (dblog_pos_parse(s, strlen(s), &p))
		dblog_usage_error("--pos: expected an LSN like 0/16B3748 or a sequence number, "
				  "got '%s'", s);
	return p;
}

static int64_t
time_arg(const char *s)
{
	int64_t t;
	int rc = dblog_time_parse_arg(s, &t);
	if (rc == -2)
		dblog_usage_error("--time: '%s' goes back before the year 1", s);
	if (rc)
		dblog_usage_error("--time: expected an RFC 3339 time (2026-11-22T10:00:00Z) or a "
				  "relative one (2h, 30m ago), got '%s'", s);
	return t;
}

/* Load FILE; exits 1 on a missing or bad file. */
static json_t *
load_or_die(const char *path)
{
	json_t *cp;
	char err[512];
	int rc = dblog_checkpoint_load(path, &cp, err, sizeof err);
	if (rc == 1)
		dblog_die(DBLOG_EXIT_FAIL, "checkpoint \"%s\" does not exist", path);
	if (rc < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	return cp;
}

/* --------------------------------------------------------- show, set */

static void
show_field(const char *name, const json_t *v)
{
	if (!v || json_is_null(v)) {
		printf("%-13s -\n", name);
	} else if (json_is_string(v)) {
		printf("%-13s %s\n", name, json_string_value(v));
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		printf("%-13s %s\n", name, s ? s : "?");
		free(s);
	}
}

static int
cmd_show(struct opts *o)
{
	json_t *cp = load_or_die(o->file);
	if (o->json) {
		if (json_dumpf(cp, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) || putchar('\n') == EOF)
			dblog_die_write();
		json_decref(cp);
		return DBLOG_EXIT_OK;
	}
	json_t *src = json_object_get(cp, "source");
	printf("%-13s %s\n", "file", o->file);
	printf("%-13s %s %s\n", "source",
	       json_string_value(json_object_get(src, "driver")) ?: "-",
	       json_string_value(json_object_get(src, "name")) ?: "-");
	static const char *const fields[] = { "pos", "seq", "tx", "commit_time", "written", "stream" };
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
		if (i < 5 || json_object_get(cp, fields[i]))
			show_field(fields[i], json_object_get(cp, fields[i]));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(cp, "counters"), k, v)
		show_field(k, v);
	json_decref(cp);
	return DBLOG_EXIT_OK;
}

static int
cmd_set(struct opts *o)
{
	struct dblog_pos pos = pos_arg(o->pos_arg);
	json_t *cp = NULL;
	char err[512];
	int rc = dblog_checkpoint_load(o->file, &cp, err, sizeof err);
	if (rc < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	if (!cp)
		cp = json_object();
	json_object_set_new(cp, "pos", dblog_pos_to_json(&pos));
	if (o->has_seq)
		json_object_set_new(cp, "seq", json_integer(o->seq));
	else
		json_object_del(cp, "seq");
	json_object_del(cp, "tx");
	json_object_del(cp, "snapshot");   /* a position set by hand is not inside a snapshot */
	if (o->time_arg) {
		char t[40];
		dblog_time_format(time_arg(o->time_arg), t, sizeof t);
		json_object_set_new(cp, "commit_time", json_string(t));
	} else {
		json_object_del(cp, "commit_time");
	}
	rc = dblog_checkpoint_save(o->file, cp, err, sizeof err);
	json_decref(cp);
	if (rc)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	return DBLOG_EXIT_OK;
}

/* ------------------------------------------------------------- track */

struct tracker {
	struct opts *o;
	json_t *cp;                /* what goes into the file */
	int dirty, in_tx, loose;   /* loose: the open group's begin has no "tx" */
	int64_t last_write, since_write;
	json_int_t events, changes, transactions, bytes;
	struct dblog_progress prog;   /* what is new, and an unfinished transaction */
	struct dblog_buf begin, scratch;   /* the open transaction's begin */
	uint64_t begin_line;
	int stopping, halted;
};

/* How long a stopping track waits for the rest of its open transaction,
 * or for the end of its input. */
#define STOP_GRACE_MS 1000

static void
set_span(json_t *cp, const char *name, struct dblog_span v)
{
	json_t *j = v.p ? json_loadb(v.p, v.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
	if (j)
		json_object_set_new(cp, name, j);
	else
		json_object_del(cp, name);
}

/* Record the event's position as complete. */
static void
record(struct tracker *t, const struct dblog_fields *f, const char *line, size_t n, int with_seq)
{
	if (!f->pos.p)
		return;
	dblog_progress_complete(&t->prog, f, line, n, with_seq);
	if (!t->prog.hole_set)
		json_object_del(t->cp, "unfinished");
	if (f->source.p)
		set_span(t->cp, "source", f->source);
	set_span(t->cp, "pos", f->pos);
	if (with_seq && f->seq.p)
		set_span(t->cp, "seq", f->seq);
	else
		json_object_del(t->cp, "seq");
	set_span(t->cp, "tx", f->tx);
	set_span(t->cp, "commit_time", f->commit_time);
	dblog_cursor_merge(t->cp, f->cursor);
	if (f->op == DBLOG_OP_SNAPSHOT && !f->cursor.p)
		json_object_set_new(t->cp, "snapshot", json_true());
	else
		json_object_del(t->cp, "snapshot");
	t->dirty = 1;
	t->since_write++;
}

static void
track_write(struct tracker *t)
{
	char err[512];
	/* what the checkpoint records must be downstream first */
	if (fflush(stdout))
		dblog_die_write();
	struct stat st;
	if (!fstat(1, &st) && S_ISREG(st.st_mode) && fdatasync(1))
		dblog_die(DBLOG_EXIT_FAIL, "cannot fsync standard output: %s", strerror(errno));
	json_t *c = json_object();
	json_object_set_new(c, "events", json_integer(t->events));
	json_object_set_new(c, "changes", json_integer(t->changes));
	json_object_set_new(c, "transactions", json_integer(t->transactions));
	json_object_set_new(c, "bytes", json_integer(t->bytes));
	json_object_set_new(t->cp, "counters", c);
	/* a checkpoint needs a position: an unfinished first transaction is
	 * not kept */
	if (!json_object_get(t->cp, "pos"))
		return;
	if (dblog_checkpoint_save(t->o->file, t->cp, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	t->dirty = 0;
	t->since_write = 0;
	t->last_write = dblog_now_ms();
}

/* The position text of the unfinished transaction, for messages. */
static void
unfinished_text(const json_t *cp, char *out, size_t n)
{
	json_t *u = json_object_get(cp, "unfinished");
	struct dblog_pos p;
	char pos[32] = "?";
	if (!dblog_pos_from_json(json_object_get(u, "pos"), &p))
		dblog_pos_format(&p, pos, sizeof pos);
	snprintf(out, n, "transaction %lld (pos %s)",
		 (long long)json_integer_value(json_object_get(u, "tx")), pos);
}

/* Can the event pass, before it is written? 0 yes; -1 with a message: it
 * belongs to a transaction whose begin was not read, or comes after one
 * that an earlier run read only in part (the checkpoint's "unfinished"),
 * and the recorded position must not pass either. */
static int
track_check(struct tracker *t, uint64_t lineno, const struct dblog_fields *f)
{
	int fresh = dblog_progress_is_new(&t->prog, f);
	char at[160], u[128];
	if (fresh == -4) {
		char why[512];
		dblog_progress_identity_clash(&t->prog, f, why, sizeof why);
		dblog_err("line %llu: %s: two servers under one source name would share positions; "
			  "give the other source its own name (dblog-capture -n NAME) and its own "
			  "checkpoint", (unsigned long long)lineno, why);
		return -1;
	}
	if (fresh == -3) {
		unfinished_text(t->cp, u, sizeof u);
		dblog_position_describe(t->cp, at, sizeof at);
		dblog_err("line %llu: %s was read only in part by an earlier run (recorded up to "
			  "%s): nothing after it is recorded before it; pass input that holds it "
			  "whole, from its begin", (unsigned long long)lineno, u, at);
		return -1;
	}
	int orphan = !t->in_tx && f->tx.p && fresh == 1 &&
		     (f->op == DBLOG_OP_COMMIT || (DBLOG_OP_IS_CHANGE(f->op) && f->op != DBLOG_OP_SNAPSHOT));
	if (!orphan)
		return 0;
	dblog_position_describe(t->cp, at, sizeof at);
	dblog_tx_describe(f, u, sizeof u);
	dblog_err("line %llu: %s of %s, whose begin was not read: the input starts inside that "
		  "transaction (recorded up to %s); pass input that holds it whole, from its begin",
		  (unsigned long long)lineno, dblog_op_name(f->op), u, at);
	return -1;
}

static void
track_event(struct tracker *t, uint64_t lineno, const struct dblog_fields *f, const char *line,
	    size_t n)
{
	switch (f->op) {
	case DBLOG_OP_BEGIN:
		t->in_tx = 1;
		t->loose = !f->tx.p;
		dblog_buf_clear(&t->begin);
		dblog_buf_add(&t->begin, line, n);
		t->begin_line = lineno;
		break;
	case DBLOG_OP_COMMIT:
		t->in_tx = 0;
		t->transactions++;
		record(t, f, line, n, 0);
		break;
	case DBLOG_OP_HEARTBEAT:
		if (!t->in_tx)
			record(t, f, line, n, 0);
		break;
	case DBLOG_OP_SCHEMA:
		break;
	default:
		t->changes++;
		if (!t->in_tx || t->loose)
			record(t, f, line, n, 1);
	}
}

/* The input ended inside a transaction: it is noted in the checkpoint as
 * unfinished, so that no later run records a position past it. */
static void
track_unfinished(struct tracker *t, uint64_t lineno, int say)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	char at[160];
	dblog_position_describe(t->cp, at, sizeof at);
	if (t->loose) {
		if (say)
			dblog_err("line %llu: the input ended inside a group of changes without "
				  "transaction markers, begun at line %llu (recorded up to %s)",
				  (unsigned long long)lineno, (unsigned long long)t->begin_line, at);
		return;
	}
	if (dblog_event_scan(t->begin.p, t->begin.len, &f, &e, &t->scratch) || !f.tx.p || !f.pos.p)
		return;
	json_t *u = json_object();
	json_object_set_new(u, "pos", json_loadb(f.pos.p, f.pos.n, JSON_DECODE_ANY, NULL));
	json_object_set_new(u, "tx", json_loadb(f.tx.p, f.tx.n, JSON_DECODE_ANY, NULL));
	json_object_set_new(t->cp, "unfinished", u);
	if (!json_object_get(t->cp, "source") && f.source.p)
		json_object_set_new(t->cp, "source", json_loadb(f.source.p, f.source.n, 0, NULL));
	t->dirty = 1;
	char tx[128];
	dblog_tx_describe(&f, tx, sizeof tx);
	if (say)
		dblog_err("line %llu: the input ended inside %s, begun at line %llu (recorded up to "
			  "%s); pass input that holds the rest of it", (unsigned long long)lineno, tx,
			  (unsigned long long)t->begin_line, at);
}

static void
track_load(struct tracker *t)
{
	char err[512];
	int rc = dblog_checkpoint_load(t->o->file, &t->cp, err, sizeof err);
	if (rc < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	if (!t->cp) {
		t->cp = json_object();
		dblog_progress_init(&t->prog, NULL);
		return;
	}
	dblog_progress_init(&t->prog, json_deep_copy(t->cp));
	json_t *c = json_object_get(t->cp, "counters");
	t->events = json_integer_value(json_object_get(c, "events"));
	t->changes = json_integer_value(json_object_get(c, "changes"));
	t->transactions = json_integer_value(json_object_get(c, "transactions"));
	t->bytes = json_integer_value(json_object_get(c, "bytes"));
}

/* ------------------------------------------------------------- since */

struct since {
	int by_time;
	struct dblog_pos pos;
	int64_t seq, time;
	int has_seq;
	int last, tx_pass, in_tx;
};

/* 1 pass, 0 drop, -1 with why set: a bad position. */
static int
since_decide(struct since *s, const struct dblog_fields *f, const char **why)
{
	int d = -2;
	if (s->by_time && f->commit_time.p && dblog_json_type(f->commit_time) == DBLOG_J_STRING) {
		int64_t t;
		if (dblog_time_parse(f->commit_time.p + 1, f->commit_time.n - 2, &t)) {
			*why = "field \"commit_time\" is not an RFC 3339 time";
			return -1;
		}
		d = t > s->time;
	} else if (!s->by_time && f->pos.p) {
		struct dblog_pos p;
		if (dblog_pos_from_span(f->pos, &p)) {
			*why = "field \"pos\" is not an LSN string or a non-negative integer";
			return -1;
		}
		int64_t seq = -1;
		if (f->seq.p && DBLOG_OP_IS_CHANGE(f->op))
			seq = strtoll(f->seq.p, NULL, 10);
		int bad = 0, c = dblog_pos_cmp(&p, &s->pos, &bad);
		if (bad) {
			*why = p.kind == DBLOG_POS_LSN ? "position kinds differ: the event has a "
			       "PostgreSQL LSN, the checkpoint a sequence number"
						       : "position kinds differ: the event has a "
			       "sequence number, the checkpoint an LSN";
			return -1;
		}
		if (c == 0 && s->has_seq && !DBLOG_OP_IS_CHANGE(f->op))
			d = 1;  /* the frame of a partly covered transaction */
		else
			d = dblog_pos_after(&p, seq, &s->pos, s->seq, s->has_seq) == 1;
	}
	if (d == -2)
		d = s->in_tx ? s->tx_pass : s->last;
	if (f->op == DBLOG_OP_BEGIN) {
		s->in_tx = 1;
		s->tx_pass = d;
	} else if (f->op == DBLOG_OP_COMMIT) {
		s->in_tx = 0;
	}
	if (!s->in_tx)
		s->last = d;
	return d;
}

static void
since_init(struct opts *o, struct since *s)
{
	memset(s, 0, sizeof *s);
	if (o->time_arg) {
		s->by_time = 1;
		s->time = time_arg(o->time_arg);
	} else if (o->pos_arg) {
		s->pos = pos_arg(o->pos_arg);
		s->seq = o->has_seq ? o->seq : -1;
		s->has_seq = o->has_seq;
	} else {
		json_t *cp = load_or_die(o->file);
		dblog_checkpoint_pos(cp, &s->pos, &s->seq, &s->has_seq);
		json_decref(cp);
	}
}

/* ------------------------------------------------ the shared event loop */

static int
stream(struct opts *o, struct tracker *t, struct since *s)
{
	struct dblog_reader r;
	struct dblog_fields f;
	struct dblog_jerr e;
	struct dblog_buf scratch = { 0 };
	const char *line, *why;
	size_t n;
	int rc, status = DBLOG_EXIT_OK;
	char msg[300];
	dblog_reader_init(&r, 0);
	r.flush_before_read = stdout;
	r.stop = &dblog_stop;
	dblog_catch_stop();
	if (t)
		r.idle_ms = o->interval_ms;
	while ((rc = dblog_read_line(&r, &line, &n)) >= 1) {
		if (t && rc == 3 && !t->stopping) {
			/* finish the open transaction if its rest comes soon, and
			 * see whether the input ends; pass no new one */
			t->stopping = dblog_stop;
			dblog_stop = 0;
			r.idle_ms = STOP_GRACE_MS;
			continue;
		}
		if (rc == 2 || rc == 3) {
			if (t && t->dirty)
				track_write(t);
			if (rc == 3 || (t && t->stopping))
				break;
			continue;
		}
		int sc = dblog_event_scan(line, n, &f, &e, &scratch);
		if (sc == 1)
			continue;
		int pass = 1;
		why = e.why;
		if (sc == 0 && s)
			pass = since_decide(s, &f, &why);
		if (sc < 0 || pass < 0) {
			if (sc < 0 && e.col)
				snprintf(msg, sizeof msg, "malformed JSON at column %zu: %s", e.col, why);
			else
				snprintf(msg, sizeof msg, "%s", why);
			if (dblog_bad_line(&o->dlq, r.lineno, line, n, msg)) {
				status = DBLOG_EXIT_FAIL;
				break;
			}
			continue;
		}
		if (!pass)
			continue;
		if (t && t->stopping && !t->in_tx &&
		    (f.op == DBLOG_OP_BEGIN || DBLOG_OP_IS_CHANGE(f.op))) {
			t->halted = 1;
			break;
		}
		if (t && track_check(t, r.lineno, &f)) {
			status = DBLOG_EXIT_FAIL;
			break;
		}
		if (dblog_write_line(stdout, line, n) || (o->unbuffered && fflush(stdout)))
			dblog_die_write();
		if (t) {
			t->events++;
			t->bytes += (json_int_t)n + 1;
			track_event(t, r.lineno, &f, line, n);
			if ((o->every && t->since_write >= o->every) ||
			    (t->dirty && dblog_now_ms() - t->last_write >= o->interval_ms))
				track_write(t);
		}
	}
	if (rc < 0) {
		dblog_err("cannot read standard input: %s", strerror(errno));
		status = DBLOG_EXIT_FAIL;
	}
	int stopped = t && t->stopping && rc != 0 && !status;
	if (t && !status && t->in_tx) {
		track_unfinished(t, r.lineno, !stopped);
		status = DBLOG_EXIT_INCOMPLETE;
	}
	if (t && t->dirty)
		track_write(t);
	if (stopped) {
		char at[160];
		dblog_position_describe(t->cp, at, sizeof at);
		dblog_err("stopped by %s before the end of the input (at line %llu): recorded up to %s; "
			  "the rest was not passed on", strsignal(t->stopping), (unsigned long long)r.lineno,
			  at);
		status = DBLOG_EXIT_INCOMPLETE;
	}
	dblog_buf_free(&scratch);
	dblog_reader_free(&r);
	return status;
}

static int
cmd_stream(struct opts *o)
{
	struct tracker t = { .o = o };
	struct since s;
	int track = !strcmp(o->cmd, "track");
	if (track) {
		track_load(&t);
		t.last_write = dblog_now_ms();
	} else {
		since_init(o, &s);
	}
	if (o->dlq_path && dblog_dlq_open(&o->dlq, o->dlq_path))
		return DBLOG_EXIT_FAIL;
	dblog_stdout_init(o->unbuffered);
	int status = stream(o, track ? &t : NULL, track ? NULL : &s);
	json_decref(t.cp);
	dblog_progress_free(&t.prog);
	dblog_buf_free(&t.begin);
	dblog_buf_free(&t.scratch);
	if (dblog_dlq_close(&o->dlq) && !status)
		status = DBLOG_EXIT_FAIL;
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	dblog_init(argv);
	parse_options(&o, argc, argv);
	check_options(&o);
	int status;
	if (!strcmp(o.cmd, "show"))
		status = cmd_show(&o);
	else if (!strcmp(o.cmd, "set"))
		status = cmd_set(&o);
	else
		status = cmd_stream(&o);
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	return status;
}
