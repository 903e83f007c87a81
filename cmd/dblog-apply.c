/* dblog-apply - apply dblog events to a database, exactly once. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dblog.h"
#include "sink.h"

enum end { END_EOF, END_STOP, END_ERROR };

static const char usage_text[] =
	"Usage: dblog-apply [options] DEST\n"
	"Apply dblog events from stdin to DEST, exactly once per stream.\n"
	"DEST: postgres://... or a conninfo string, or sqlite:PATH.\n"
	"\n"
	"Progress:\n"
	"  -s, --stream NAME        name of the applied position kept in DEST (default: default)\n"
	"  -c, --checkpoint FILE    write the checkpoint after every commit\n"
	"\n"
	"Conflicts:\n"
	"      --conflict POLICY    source_wins (default), dest_wins, last_writer_wins,\n"
	"                           manual_review\n"
	"\n"
	"Batching (never splits a source transaction):\n"
	"      --batch-rows N       commit after N changes (default 50000)\n"
	"      --batch-bytes SIZE   commit after SIZE of events (default 16M)\n"
	"      --batch-ms DUR       commit after DUR, or when input is idle that long\n"
	"                           (default 200ms)\n"
	"\n"
	"Mapping:\n"
	"      --map-table FROM=TO  apply events of table FROM (a glob) to table TO\n"
	"      --map-schema FROM=TO apply events of schema FROM to schema TO\n"
	"      --create-tables      create missing tables from schema events\n"
	"\n"
	"Common:\n"
	"      --dry-run            print the SQL instead of running it\n"
	"      --dlq FILE           park bad events and conflicts in FILE and go on\n"
	"  -u, --unbuffered         flush --dry-run output after every statement\n"
	"  -h, --help               show this help and exit\n"
	"  -V, --version            show the version and exit\n"
	"\n"
	"Exit status: 0 all of the input applied, 1 error, 2 usage, 3 retry, 4 incomplete\n"
	"(stopped by SIGINT/SIGTERM, or the input ended inside a transaction).\n"
	"See dblog-apply(1) and dblog-event(5).\n";

enum { OPT_CONFLICT = 256, OPT_BROWS, OPT_BBYTES, OPT_BMS, OPT_MAPT, OPT_MAPS, OPT_CREATE,
       OPT_DRY, OPT_DLQ };

static const struct option longopts[] = {
	/* progress */
	{ "stream", required_argument, NULL, 's' },
	{ "checkpoint", required_argument, NULL, 'c' },
	/* conflicts */
	{ "conflict", required_argument, NULL, OPT_CONFLICT },
	/* batching */
	{ "batch-rows", required_argument, NULL, OPT_BROWS },
	{ "batch-bytes", required_argument, NULL, OPT_BBYTES },
	{ "batch-ms", required_argument, NULL, OPT_BMS },
	/* mapping */
	{ "map-table", required_argument, NULL, OPT_MAPT },
	{ "map-schema", required_argument, NULL, OPT_MAPS },
	{ "create-tables", no_argument, NULL, OPT_CREATE },
	/* common */
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "dlq", required_argument, NULL, OPT_DLQ },
	{ "unbuffered", no_argument, NULL, 'u' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct map {
	char *from, *to;
};

struct apply {
	/* options */
	const char *stream, *checkpoint, *dest, *dlq_path;
	enum dblog_conflict policy;
	int64_t batch_rows, batch_ms;
	uint64_t batch_bytes;
	struct map *maps, *schemas;
	size_t nmaps, nschemas;
	int create, dry_run, unbuffered, pg;
	/* state */
	struct dblog_sink *sink;
	struct dblog_dlq dlq;
	struct dblog_progress pos;   /* applied, and complete in the open batch */
	int open, in_tx, skip_tx;
	int64_t rows, started;
	unsigned ticks;
	uint64_t bytes;
	json_int_t n_events, n_changes, n_noop, n_conflicts, n_parked, n_tx, n_bytes;
	/* the lines of the open batch, to apply again when a pipelined batch
	 * fails: [lineno][length][bytes]... */
	struct dblog_buf batch;
	int batch_over, replaying, failed;
	json_int_t saved[7];     /* the counters before the batch's first kept line */
	int cut;                 /* the line is the last, without its '\n' */
	/* the open transaction's begin, for messages and "unfinished" */
	struct dblog_buf tx_begin;
	uint64_t tx_line;
	int tx_loose;            /* its begin has no "tx": a group whose changes
	                            have positions of their own (SQLite
	                            without markers), each whole on its own */
	int stopping;            /* the signal that asked to stop, 0 if none */
	int halted;              /* stopped at a transaction boundary */
	int incomplete;          /* the input ended inside a transaction or a line */
	enum end end_why;        /* how the input ended, for a replay at the end */
	uint64_t end_line;
	struct dblog_buf name, scratch;
	struct dblog_buf txline;     /* the events of a transaction line */
};

/* ------------------------------------------------------------ options */

static void
add_map(struct map **v, size_t *n, const char *opt, const char *s)
{
	*v = dblog_xrealloc(*v, (*n + 1) * sizeof **v);
	if (dblog_split_pair(s, &(*v)[*n].from, &(*v)[*n].to))
		dblog_usage_error("%s: expected FROM=TO, got '%s'", opt, s);
	(*n)++;
}

static enum dblog_conflict
parse_policy(const char *s)
{
	static const char *const names[] = { "source_wins", "dest_wins", "last_writer_wins",
					     "manual_review" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return (enum dblog_conflict)i;
	dblog_usage_error("--conflict: expected source_wins, dest_wins, last_writer_wins or "
			  "manual_review, got '%s'", s);
}

static void
parse_options(struct apply *a, int argc, char **argv)
{
	int c;
	a->stream = "default";
	a->batch_rows = 50000;
	a->batch_ms = 200;
	a->batch_bytes = 16u << 20;
	while ((c = getopt_long(argc, argv, "s:c:uhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': a->stream = optarg; break;
		case 'c': a->checkpoint = optarg; break;
		case OPT_CONFLICT: a->policy = parse_policy(optarg); break;
		case OPT_BROWS:
			if (dblog_parse_count(optarg, &a->batch_rows) || a->batch_rows <= 0)
				dblog_usage_error("--batch-rows: expected a positive integer, got '%s'", optarg);
			break;
		case OPT_BBYTES:
			if (dblog_parse_size(optarg, &a->batch_bytes) || !a->batch_bytes)
				dblog_usage_error("--batch-bytes: expected a size like 16M, got '%s'", optarg);
			break;
		case OPT_BMS:
			if (dblog_parse_duration(optarg, &a->batch_ms))
				dblog_usage_error("--batch-ms: expected a duration like 200ms, got '%s'", optarg);
			break;
		case OPT_MAPT: add_map(&a->maps, &a->nmaps, "--map-table", optarg); break;
		case OPT_MAPS: add_map(&a->schemas, &a->nschemas, "--map-schema", optarg); break;
		case OPT_CREATE: a->create = 1; break;
		case OPT_DRY: a->dry_run = 1; break;
		case OPT_DLQ: a->dlq_path = optarg; break;
		case 'u': a->unbuffered = 1; break;
		case 'h': fputs(usage_text, stdout); exit(dblog_stdout_close());
		case 'V': dblog_version();
		default:
			fprintf(stderr, "Try 'dblog-apply --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
	if (optind == argc)
		dblog_usage_error("missing DEST (postgres://... or sqlite:PATH)");
	a->dest = argv[optind++];
	if (optind < argc)
		dblog_usage_error("unexpected argument '%s'", argv[optind]);
	a->pg = strncmp(a->dest, "sqlite:", 7) && (!strncmp(a->dest, "postgres://", 11) ||
		!strncmp(a->dest, "postgresql://", 13) || strchr(a->dest, '='));
	if (!a->pg && (strncmp(a->dest, "sqlite:", 7) || !a->dest[7]))
		dblog_usage_error("DEST must be postgres://..., a conninfo string or sqlite:PATH, "
				  "got '%s'", a->dest);
}

/* ------------------------------------------------------------ mapping */

/* The destination table for an event's table, as events write it
 * (dblog_table_join): --map-table (globs over the event's form, TO taken
 * as written), else --map-schema (the parsed schema against FROM, a
 * schema name as it is); the sink splits it (a SQLite destination keeps
 * the table part). NULL when the name holds a NUL character. */
static const char *
dest_table(struct apply *a, const struct dblog_fields *f)
{
	static struct dblog_buf schema, name;
	int has;
	dblog_json_unescape(f->table, &a->name);
	dblog_buf_add(&a->name, "", 0);
	if (memchr(a->name.p, 0, a->name.len))
		return NULL;
	for (size_t i = 0; i < a->nmaps; i++)
		if (dblog_glob(a->maps[i].from, a->name.p, a->name.len)) {
			/* written as events write names: a malformed TO is left
			 * as it is, for the sink to refuse */
			if (dblog_table_canon(&a->name, a->maps[i].to, strlen(a->maps[i].to)))
				dblog_buf_adds(&a->name, a->maps[i].to);
			return a->name.p;
		}
	if (!a->nschemas || dblog_table_split(a->name.p, a->name.len, &schema, &name, &has) || !has)
		return a->name.p;
	for (size_t i = 0; i < a->nschemas; i++)
		if (strlen(a->schemas[i].from) == schema.len && !memcmp(a->schemas[i].from, schema.p, schema.len)) {
			dblog_buf_clear(&a->name);
			dblog_table_join(&a->name, a->schemas[i].to, strlen(a->schemas[i].to), name.p, name.len);
			return a->name.p;
		}
	return a->name.p;
}

/* ---------------------------------------------------------- positions */

static void
write_checkpoint(struct apply *a)
{
	char err[512];
	if (!a->checkpoint || !a->pos.applied || !json_object_get(a->pos.applied, "pos"))
		return;
	json_t *cp = json_deep_copy(a->pos.applied);
	json_object_set_new(cp, "stream", json_string(a->stream));
	json_t *c = json_object();
	json_object_set_new(c, "events", json_integer(a->n_events));
	json_object_set_new(c, "changes", json_integer(a->n_changes));
	json_object_set_new(c, "transactions", json_integer(a->n_tx));
	json_object_set_new(c, "noop", json_integer(a->n_noop));
	json_object_set_new(c, "conflicts", json_integer(a->n_conflicts));
	json_object_set_new(c, "bytes", json_integer(a->n_bytes));
	json_object_set_new(cp, "counters", c);
	if (dblog_checkpoint_save(a->checkpoint, cp, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	json_decref(cp);
}

static void end_of_input(struct apply *a, enum end why, uint64_t lineno);
/* How long a stopping run waits for the rest of its open transaction, or
 * for the end of its input. */
#define STOP_GRACE_MS 1000
static int replay(struct apply *a, int at_end);

/* Counters go on from the checkpoint file of an earlier run. */
static void
load_counters(struct apply *a)
{
	json_t *cp;
	char err[512];
	if (!a->checkpoint || dblog_checkpoint_load(a->checkpoint, &cp, err, sizeof err))
		return;
	json_t *c = json_object_get(cp, "counters");
	a->n_events = json_integer_value(json_object_get(c, "events"));
	a->n_changes = json_integer_value(json_object_get(c, "changes"));
	a->n_tx = json_integer_value(json_object_get(c, "transactions"));
	a->n_noop = json_integer_value(json_object_get(c, "noop"));
	a->n_conflicts = json_integer_value(json_object_get(c, "conflicts"));
	a->n_bytes = json_integer_value(json_object_get(c, "bytes"));
	json_decref(cp);
}

/* ----------------------------------------------------------- batches */

static struct apply *the_apply;

static void
sink_fail(const char *what, const char *err)
{
	if (the_apply && the_apply->sink->lost)
		dblog_die(DBLOG_EXIT_RETRY, "%s: %s (the connection was lost; run again to resume)",
			  what, err);
	if (the_apply && the_apply->sink->batch_failed && !the_apply->sink->lost) {
		/* the batch is applied again, carefully (see replay) */
		the_apply->failed = 1;
		return;
	}
	if (strstr(err, "database is locked") || strstr(err, "database is busy"))
		dblog_die(DBLOG_EXIT_RETRY, "%s: %s (another writer holds the destination; run again "
			  "to resume)", what, err);
	dblog_die(DBLOG_EXIT_FAIL, "%s: %s", what, err);
}

static void
open_batch(struct apply *a)
{
	char err[512];
	if (a->open || a->failed)
		return;
	if (a->sink->ops->begin(a->sink, err, sizeof err))
		sink_fail("cannot begin a transaction", err);
	a->open = 1;
	a->rows = 0;
	a->bytes = 0;
	a->started = dblog_now_ms();
}

static void
commit_batch(struct apply *a)
{
	char err[512];
	if (!a->open || a->failed)
		return;
	json_t *pending = dblog_progress_pending(&a->pos);
	if (pending && a->sink->ops->save_pos(a->sink, a->stream, pending, err, sizeof err))
		sink_fail("cannot record the applied position", err);
	if (!a->failed && a->sink->ops->commit(a->sink, err, sizeof err))
		sink_fail("cannot commit", err);
	if (a->failed)
		return;
	/* no-ops a pipelined batch found, known only now */
	a->n_noop += a->sink->noops;
	a->sink->noops = 0;
	a->open = 0;
	dblog_buf_clear(&a->batch);
	a->batch_over = 0;
	a->sink->no_replay = 0;
	if (dblog_progress_commit(&a->pos))
		write_checkpoint(a);
	if (a->unbuffered || a->dry_run)
		fflush(stdout);
}

static void
maybe_commit(struct apply *a)
{
	if (!a->open || a->in_tx)
		return;
	/* the clock is read every 16th time: it is the slow one */
	if (a->rows >= a->batch_rows || a->bytes >= a->batch_bytes ||
	    (!(++a->ticks & 15) && dblog_now_ms() - a->started >= a->batch_ms))
		commit_batch(a);
}

/* ------------------------------------------------------------ events */

static void
describe(char *out, size_t n, const struct dblog_fields *f)
{
	char pos[64] = "-", seq[32] = "-";
	if (f->pos.p)
		snprintf(pos, sizeof pos, "%.*s", (int)(f->pos.n < 60 ? f->pos.n : 60), f->pos.p);
	if (f->seq.p)
		snprintf(seq, sizeof seq, "%.*s", (int)(f->seq.n < 30 ? f->seq.n : 30), f->seq.p);
	snprintf(out, n, "%s %s pos %s seq %s table %.*s", dblog_op_name(f->op),
		 f->op == DBLOG_OP_SCHEMA ? "event" : "change", pos, seq,
		 (int)(f->table.n < 200 ? f->table.n : 200), f->table.p ? f->table.p : "-");
}

static void unfinished(struct apply *a);

/* The open transaction ends without its commit: rolled back (and noted as
 * unfinished when mark is set); a group without "tx", whose changes are
 * each whole, keeps the changes applied so far. */
static void
abandon_open(struct apply *a, int mark)
{
	char err[512];
	if (!a->in_tx)
		return;
	if (a->tx_loose) {
		if (a->sink->ops->release(a->sink, err, sizeof err))
			sink_fail("cannot release a savepoint", err);
	} else {
		if (a->sink->ops->rollback_to(a->sink, err, sizeof err))
			sink_fail("cannot roll back", err);
		if (mark)
			unfinished(a);
	}
	a->in_tx = 0;
}

/* A bad event: park it, or undo its transaction, commit what is whole,
 * and stop. */
static int
bad_event(struct apply *a, uint64_t lineno, const char *line, size_t n,
	  const struct dblog_fields *f, const char *err)
{
	char what[400], msg[1200];
	if (a->sink->lost)
		dblog_die(DBLOG_EXIT_RETRY, "line %llu: the connection to the destination was lost: %s "
			  "(run again to resume)", (unsigned long long)lineno, err);
	if (a->sink->batch_failed) {
		a->failed = 1;   /* found later in a pipelined batch: replay */
		return 0;
	}
	if (a->sink->in_pipeline && !a->replaying) {
		/* found before the batch went out: take it back and apply it
		 * again carefully, which reports this event exactly */
		char e3[512];
		a->sink->ops->rollback_to(a->sink, e3, sizeof e3);
		if (a->sink->batch_failed) {
			a->failed = 1;
			return 0;
		}
	}
	describe(what, sizeof what, f);
	snprintf(msg, sizeof msg, "%s: %s", what, err);
	if (a->dlq.f)
		return dblog_dlq_put(&a->dlq, lineno, line, n, msg);
	int loose = a->in_tx && a->tx_loose;
	abandon_open(a, 1);
	commit_batch(a);
	dblog_err("line %llu: %s (%s; fix the event or the destination, or use --dlq FILE)",
		  (unsigned long long)lineno, msg, loose ? "the changes of its group before it were "
		  "applied, each has a position of its own" : "nothing of its transaction was applied");
	return -1;
}

static int
on_conflict(struct apply *a, uint64_t lineno, const char *line, size_t n,
	    const struct dblog_conflict_info *ci, enum dblog_outcome out)
{
	char err[512];
	a->n_conflicts++;
	if (out != DBLOG_CONFLICT_PARKED)
		return 0;
	a->n_parked++;
	if (a->dlq.f) {
		struct dblog_buf why = { 0 };
		dblog_buf_printf(&why, "conflict: %s", ci->why);
		int rc = dblog_dlq_put_extra(&a->dlq, lineno, line, n, why.p, "dest_row", ci->dest_row);
		dblog_buf_free(&why);
		return rc;
	}
	if (a->sink->ops->park(a->sink, a->stream, line, n, ci, err, sizeof err))
		sink_fail("cannot park a conflict", err);
	return 0;
}

static int
on_change(struct apply *a, uint64_t lineno, const char *line, size_t n, const struct dblog_fields *f)
{
	char err[1024];
	enum dblog_outcome out;
	struct dblog_conflict_info ci;
	open_batch(a);
	const char *table = dest_table(a, f);
	if (!table)
		return bad_event(a, lineno, line, n, f, "the table name holds a NUL character");
	if (a->sink->ops->apply(a->sink, f, table, &out, &ci, err, sizeof err))
		return bad_event(a, lineno, line, n, f, err);
	a->n_changes++;
	a->rows++;
	if (out == DBLOG_NOOP)
		a->n_noop++;
	else if (out == DBLOG_CONFLICT_KEPT || out == DBLOG_CONFLICT_PARKED)
		return on_conflict(a, lineno, line, n, &ci, out);
	return 0;
}

/* The open transaction is abandoned: it was read in part and is not
 * applied, so no later position may be applied before it is. */
static void
unfinished(struct apply *a)
{
	struct dblog_fields bf;
	struct dblog_jerr e;
	if (a->tx_begin.len &&
	    dblog_event_scan(a->tx_begin.p, a->tx_begin.len, &bf, &e, &a->scratch) == 0)
		dblog_progress_unfinished(&a->pos, &bf);
}

/* "transaction 731 (pos 0/16B3748)" of an event, for messages. */
static void
tx_name(char *out, size_t n, const struct dblog_fields *f)
{
	dblog_tx_describe(f, out, n);
}

/* A change or commit of a transaction whose begin was not read: the input
 * starts inside it (a piece of an archive cut with split, say). None of it
 * may be applied, and no later position before it: the whole transactions
 * before it are committed, it is noted as unfinished, the run ends. */
static int
orphan(struct apply *a, uint64_t lineno, const struct dblog_fields *f)
{
	char tx[128], at[128];
	dblog_progress_unfinished(&a->pos, f);
	commit_batch(a);
	if (a->failed)
		return -1;   /* the batch is applied again, and this line with it */
	tx_name(tx, sizeof tx, f);
	dblog_progress_describe(&a->pos, at, sizeof at);
	dblog_err("line %llu: %s of %s, whose begin was not read: the input starts inside that "
		  "transaction, so none of it was applied (applied up to %s); apply input that "
		  "holds the transaction whole, from its begin (the whole archive, or "
		  "dblog-checkpoint since)", (unsigned long long)lineno, dblog_op_name(f->op), tx, at);
	return -1;
}

/* An event after a transaction an earlier run read only in part. */
static int
after_unfinished(struct apply *a, uint64_t lineno)
{
	char at[128], up[64] = "?";
	json_t *u = json_object_get(a->pos.applied, "unfinished");
	struct dblog_pos hp;
	if (!dblog_pos_from_json(json_object_get(u, "pos"), &hp))
		dblog_pos_format(&hp, up, sizeof up);
	json_t *tx = json_object_get(u, "tx");
	dblog_progress_describe(&a->pos, at, sizeof at);
	commit_batch(a);
	dblog_err("line %llu: stream \"%s\" has not applied transaction %lld (pos %s), which an "
		  "earlier run read only in part (applied up to %s): nothing after it is applied "
		  "before it; apply input that holds it whole, from its begin (the whole archive, or "
		  "dblog-checkpoint since)", (unsigned long long)lineno, a->stream,
		  (long long)json_integer_value(tx), up, at);
	return -1;
}

static int
on_event(struct apply *a, uint64_t lineno, const char *line, size_t n, const struct dblog_fields *f)
{
	char err[512];
	int fresh = dblog_progress_is_new(&a->pos, f);
	if (fresh == -2) {
		dblog_err("line %llu: stream \"%s\" applies another source (%s); give each source its "
			  "own --stream", (unsigned long long)lineno, a->stream,
			  a->pos.ref_src.p ? a->pos.ref_src.p : "?");
		end_of_input(a, END_ERROR, lineno);
		return -1;
	}
	if (fresh == -4) {
		dblog_progress_identity_clash(&a->pos, f, err, sizeof err);
		dblog_err("line %llu: stream \"%s\": %s: two servers under one source name would "
			  "share positions; give the other source its own name (dblog-capture -n NAME) "
			  "and its own --stream", (unsigned long long)lineno, a->stream, err);
		end_of_input(a, END_ERROR, lineno);
		return -1;
	}
	if (fresh == -3)
		return after_unfinished(a, lineno);
	/* stopping: the open transaction is finished, no new one begins */
	if (a->stopping && !a->replaying && !a->in_tx &&
	    (f->op == DBLOG_OP_BEGIN || DBLOG_OP_IS_CHANGE(f->op))) {
		a->halted = 1;
		return -1;
	}
	if (fresh < 0)
		return bad_event(a, lineno, line, n, f, "its position is not comparable with the "
				 "applied position (another source kind?)");
	a->n_events++;
	a->n_bytes += (json_int_t)n + 1;
	a->bytes += n + 1;
	switch (f->op) {
	case DBLOG_OP_BEGIN:
		if (!fresh) {
			a->skip_tx = 1;
			return 0;
		}
		open_batch(a);
		if (a->in_tx) {
			/* a transaction cut off (a source that reconnected sends it
			 * again from its begin): what came of it is dropped */
			dblog_warn("line %llu: a transaction began before the previous one "
				   "committed; the unfinished one was not applied",
				   (unsigned long long)lineno);
			abandon_open(a, 1);
			open_batch(a);
		}
		if (a->sink->ops->savepoint(a->sink, err, sizeof err))
			sink_fail("cannot start a savepoint", err);
		a->in_tx = 1;
		a->tx_loose = !f->tx.p;
		dblog_buf_clear(&a->tx_begin);
		dblog_buf_add(&a->tx_begin, line, n);
		a->tx_line = lineno;
		return 0;
	case DBLOG_OP_COMMIT:
		if (!a->skip_tx && !a->in_tx && fresh && f->tx.p)
			return orphan(a, lineno, f);
		if (a->skip_tx || !a->in_tx) {
			a->skip_tx = 0;
			return 0;
		}
		if (a->sink->ops->release(a->sink, err, sizeof err))
			sink_fail("cannot release a savepoint", err);
		a->in_tx = 0;
		a->n_tx++;
		dblog_progress_complete(&a->pos, f, line, n, 0);
		maybe_commit(a);
		return 0;
	case DBLOG_OP_HEARTBEAT:
		if (a->in_tx || !fresh || !f->pos.p)
			return 0;
		open_batch(a);
		dblog_progress_complete(&a->pos, f, line, n, 0);
		maybe_commit(a);
		return 0;
	case DBLOG_OP_SCHEMA:
		open_batch(a);
		if (!dest_table(a, f))
			return bad_event(a, lineno, line, n, f, "the table name holds a NUL character");
		if (a->sink->ops->schema(a->sink, f, dest_table(a, f), a->create, err, sizeof err))
			return bad_event(a, lineno, line, n, f, err);
		return 0;
	default:
		if (a->skip_tx || !fresh)
			return 0;
		/* a change outside begin/commit is whole on its own only without
		 * "tx" (snapshots, incremental reads, hand-made events) */
		if (!a->in_tx && f->tx.p && f->op != DBLOG_OP_SNAPSHOT)
			return orphan(a, lineno, f);
		if (on_change(a, lineno, line, n, f))
			return -1;
		if (!a->in_tx || a->tx_loose)
			dblog_progress_complete(&a->pos, f, line, n, 1);
		if (!a->in_tx)
			maybe_commit(a);
		return 0;
	}
}

/* The input ends (why: its end, a stop, an error at line lineno): an open
 * transaction is rolled back and noted as unfinished, the whole ones are
 * committed. Sets a->incomplete when the input ended inside a
 * transaction. */
static void
end_of_input(struct apply *a, enum end why, uint64_t lineno)
{
	char err[512], at[128], tx[128];
	a->end_why = why;
	a->end_line = lineno;
	if (!a->in_tx) {
		commit_batch(a);
		return;
	}
	struct dblog_fields bf;
	struct dblog_jerr e;
	int loose = a->tx_loose;
	tx[0] = 0;
	if (!loose && dblog_event_scan(a->tx_begin.p, a->tx_begin.len, &bf, &e, &a->scratch) == 0)
		tx_name(tx, sizeof tx, &bf);
	abandon_open(a, why != END_ERROR);
	commit_batch(a);
	if (why != END_EOF || a->failed)
		return;
	dblog_progress_describe(&a->pos, at, sizeof at);
	if (loose)
		dblog_err("line %llu: the input ended inside a group of changes without transaction "
			  "markers, begun at line %llu: its changes so far were applied (applied up to "
			  "%s); run again with input that holds the rest of it",
			  (unsigned long long)lineno, (unsigned long long)a->tx_line, at);
	else
		dblog_err("line %llu: the input ended inside %s, begun at line %llu: none of it was "
			  "applied (applied up to %s); run again with input that holds the rest of it",
			  (unsigned long long)lineno, tx[0] ? tx : "a transaction",
			  (unsigned long long)a->tx_line, at);
	a->incomplete = 1;
	(void)err;
}

/* A malformed line inside a transaction (no --dlq): that transaction is
 * not applied, the whole ones before it are committed. 0, or -1. */
static int
abandon_tx(struct apply *a)
{
	char err[512];
	if (a->sink->in_pipeline && !a->replaying) {
		/* take the pipelined batch back and apply it again carefully */
		a->sink->ops->rollback_to(a->sink, err, sizeof err);
		if (a->sink->batch_failed)
			a->failed = 1;
		if (a->failed && replay(a, 0))
			return -1;
	}
	abandon_open(a, 1);
	commit_batch(a);
	return a->failed ? -1 : 0;
}

/* Copy the counters into saved (save) or back from it. */
static void
counters(struct apply *a, json_int_t saved[7], int save)
{
	json_int_t *c[7] = { &a->n_events, &a->n_changes, &a->n_noop, &a->n_conflicts, &a->n_parked,
			     &a->n_tx, &a->n_bytes };
	for (int i = 0; i < 7; i++) {
		if (save)
			saved[i] = *c[i];
		else
			*c[i] = saved[i];
	}
}

/* Keep a line of the open batch (pipelined sinks only). */
static void
keep_line(struct apply *a, uint64_t lineno, const char *line, size_t n)
{
	if (!a->sink->pipelined || a->replaying || a->batch_over)
		return;
	if (a->batch.len + n > 4 * a->batch_bytes + (64u << 20)) {
		/* too big to apply again: what was sent must have gone in (else
		 * the batch is applied again now, this line with it), and from
		 * now on a failure stops the run, so no plain INSERTs */
		char e[512];
		if (!(a->sink->ops->sync && a->sink->ops->sync(a->sink, e, sizeof e) &&
		      a->sink->batch_failed)) {
			a->batch_over = 1;
			a->sink->no_replay = 1;
			return;
		}
		a->failed = 1;
	}
	if (!a->batch.len)   /* a replay of the batch counts its lines again from here */
		counters(a, a->saved, 1);
	uint64_t hdr[2] = { lineno, n };
	dblog_buf_add(&a->batch, hdr, sizeof hdr);
	dblog_buf_add(&a->batch, line, n);
}

/* A pipelined batch failed and was rolled back: apply its lines again,
 * one statement at a time with a savepoint around each change, so that
 * the bad event is found, reported (or parked with --dlq) and the
 * transactions before it are committed. */
static int
replay(struct apply *a, int at_end)
{
	char err[1024];
	if (a->batch_over) {
		a->sink->ops->reset(a->sink);
		dblog_err("a batch failed and was rolled back, nothing of it was applied; it is too "
			  "large to be applied again change by change (lower --batch-bytes, or use "
			  "--dlq FILE)");
		return -1;
	}
	struct dblog_buf lines = a->batch;
	memset(&a->batch, 0, sizeof a->batch);
	counters(a, a->saved, 0);
	a->sink->ops->reset(a->sink);
	a->failed = a->open = a->in_tx = a->skip_tx = 0;
	dblog_progress_drop(&a->pos);
	a->sink->careful = 1;
	a->replaying = 1;
	int rc = 0;
	for (size_t off = 0; off + 16 <= lines.len && !rc;) {
		uint64_t hdr[2];
		memcpy(hdr, lines.p + off, sizeof hdr);
		const char *line = lines.p + off + 16;
		off += 16 + hdr[1];
		struct dblog_fields f;
		struct dblog_jerr e;
		if (dblog_event_scan(line, hdr[1], &f, &e, &a->scratch) == 0)
			rc = on_event(a, hdr[0], line, hdr[1], &f);
	}
	/* the rest of an open transaction follows on the input, unless it ended */
	if (!rc && at_end)
		end_of_input(a, a->end_why, a->end_line);
	else if (!rc && !a->in_tx)
		commit_batch(a);
	(void)err;
	dblog_buf_free(&lines);
	a->replaying = 0;
	a->sink->careful = a->dlq_path != NULL;
	return rc || a->failed ? -1 : 0;
}

/* One event line: scanned, kept for a replay, applied. 0 go on, 1 stop
 * with status 1. */
static int
one_line(struct apply *a, uint64_t lineno, const char *line, size_t n)
{
	struct dblog_fields f;
	struct dblog_jerr e;
	char why[300];
	int s = dblog_event_scan(line, n, &f, &e, &a->scratch);
	if (s == 1)
		return 0;
	if (s < 0) {
		/* a whole transaction on one line (dblog-txbuf --as-tx) */
		const char *txwhy = NULL;
		int k = dblog_txline_expand(line, n, &a->txline, &txwhy);
		if (k > 0) {
			struct dblog_buf lines = a->txline;   /* on_event may expand no other */
			memset(&a->txline, 0, sizeof a->txline);
			int rc = 0;
			for (const char *p = lines.p; k-- > 0 && !rc; p += strlen(p) + 1)
				rc = one_line(a, lineno, p, strlen(p));
			dblog_buf_free(&a->txline);
			a->txline = lines;
			return rc;
		}
		if (a->cut && e.col) {
			dblog_warn_cut(lineno);
			a->incomplete = 1;
			return 0;   /* the last line: the input ends as if before it */
		}
		if (e.col)
			snprintf(why, sizeof why, "malformed JSON at column %zu: %s", e.col, e.why);
		else
			snprintf(why, sizeof why, "%s", txwhy ? txwhy : e.why);
		if (!a->dlq.f && a->in_tx && abandon_tx(a))
			return 1;
		return dblog_bad_line(&a->dlq, lineno, line, n, why) ? 1 : 0;
	}
	keep_line(a, lineno, line, n);
	if (a->failed)   /* found by keep_line: the batch, this line with it */
		return replay(a, 0) ? 1 : 0;
	return on_event(a, lineno, line, n, &f) || (a->failed && replay(a, 0)) ? 1 : 0;
}

static int
run(struct apply *a)
{
	struct dblog_reader r;
	const char *line;
	size_t n;
	int rc, status = DBLOG_EXIT_OK;
	dblog_reader_init(&r, 0);
	r.idle_ms = a->batch_ms > 0 ? a->batch_ms : 1;
	r.stop = &dblog_stop;
	while ((rc = dblog_read_line(&r, &line, &n)) >= 1) {
		if (rc == 3) {
			if (a->stopping)
				break;   /* a second signal: now */
			/* finish the open transaction if its rest comes soon, and
			 * see whether the input ends; begin no new one */
			a->stopping = dblog_stop;
			dblog_stop = 0;
			r.idle_ms = STOP_GRACE_MS;
			continue;
		}
		if (rc == 2 && a->stopping)
			break;
		if (rc == 2) {
			if (!a->in_tx)
				commit_batch(a);
			if (a->failed && replay(a, 0)) {
				status = DBLOG_EXIT_FAIL;
				break;
			}
			continue;
		}
		a->cut = r.unterminated;
		if (one_line(a, r.lineno, line, n)) {
			if (!a->halted)
				status = DBLOG_EXIT_FAIL;
			break;
		}
	}
	if (rc < 0) {
		dblog_err("cannot read standard input: %m");
		status = DBLOG_EXIT_FAIL;
	}
	enum end why = status ? END_ERROR : a->stopping && rc != 0 ? END_STOP : END_EOF;
	end_of_input(a, why, r.lineno);
	if (a->failed && replay(a, 1))
		status = DBLOG_EXIT_FAIL;
	if (!status && why == END_STOP) {
		char at[128];
		dblog_progress_describe(&a->pos, at, sizeof at);
		dblog_err("stopped by %s before the end of the input (at line %llu): applied up to %s; "
			  "the rest was not applied; run again to resume", strsignal(a->stopping),
			  (unsigned long long)r.lineno, at);
		status = DBLOG_EXIT_INCOMPLETE;
	}
	if (!status && a->incomplete)
		status = DBLOG_EXIT_INCOMPLETE;
	dblog_reader_free(&r);
	return status;
}

int
main(int argc, char **argv)
{
	struct apply a = { 0 };
	char err[512];
	the_apply = &a;
	dblog_init(argv);
	parse_options(&a, argc, argv);
	if (a.dlq_path && dblog_dlq_open(&a.dlq, a.dlq_path))
		return DBLOG_EXIT_FAIL;
	dblog_stdout_init(a.unbuffered);
	const char *path = a.dest + 7;
	if (!strncmp(path, "//", 2))
		path += 2;
	int retry = 0;
	a.sink = a.pg ? dblog_sink_pg_open(a.dest, a.policy, a.dry_run ? stdout : NULL, &retry, err, sizeof err)
		      : dblog_sink_sqlite_open(path, a.policy, a.dry_run ? stdout : NULL, err, sizeof err);
	if (a.sink) {
		a.sink->create_tables = a.create;
		a.sink->careful = a.dlq_path != NULL;
		if (a.sink->careful)
			a.sink->pipelined = 0;
	}
	if (!a.sink)
		dblog_die(retry || strstr(err, "locked") || strstr(err, "busy") ? DBLOG_EXIT_RETRY
										 : DBLOG_EXIT_FAIL, "%s", err);
	/* one run per stream and destination at a time: the position is read
	 * under the lock */
	int locked = a.dry_run ? 0 : a.sink->ops->lock(a.sink, a.stream, err, sizeof err);
	if (locked < 0)
		dblog_die(a.sink->lost ? DBLOG_EXIT_RETRY : DBLOG_EXIT_FAIL, "%s", err);
	if (locked)
		dblog_die(DBLOG_EXIT_RETRY, "stream \"%s\" is being applied to this destination by another "
			  "dblog-apply; run again when it is done", a.stream);
	json_t *applied = NULL;
	if (a.sink->ops->load_pos(a.sink, a.stream, &applied, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	dblog_progress_init(&a.pos, applied);
	load_counters(&a);
	dblog_catch_stop();
	int status = run(&a);
	a.sink->ops->close(a.sink);
	if (a.n_conflicts)
		dblog_warn("%lld conflict%s (%lld parked for review)", (long long)a.n_conflicts,
			   a.n_conflicts == 1 ? "" : "s", (long long)a.n_parked);
	if (dblog_dlq_close(&a.dlq) && !status)
		status = DBLOG_EXIT_FAIL;
	dblog_progress_free(&a.pos);
	for (size_t i = 0; i < a.nmaps; i++) {
		free(a.maps[i].from);
		free(a.maps[i].to);
	}
	for (size_t i = 0; i < a.nschemas; i++) {
		free(a.schemas[i].from);
		free(a.schemas[i].to);
	}
	free(a.maps);
	free(a.schemas);
	dblog_buf_free(&a.name);
	dblog_buf_free(&a.scratch);
	dblog_buf_free(&a.batch);
	dblog_buf_free(&a.txline);
	dblog_buf_free(&a.tx_begin);
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	return status;
}
