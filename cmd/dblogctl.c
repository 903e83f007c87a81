/* dblogctl - declare named streams and run, inspect, pause, resume and
 * replay them; the pipelines are the other dblog commands (lib/ctl_*.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

static const char usage_text[] =
	"Usage: dblogctl upsert NAME --source URI --dest URI [--mode MODE] [--tables LIST]\n"
	"                [--filter EXPR] [--conflict POLICY] [--checkpoint-interval DUR]\n"
	"                [--region NAME] [--auth-ref REF] [--archive DUR]\n"
	"                [--replica-identity-full] [--force]\n"
	"       dblogctl delete NAME [--teardown]\n"
	"       dblogctl list [--json]\n"
	"       dblogctl status [NAME] [--json]\n"
	"       dblogctl run NAME [--once]\n"
	"       dblogctl start NAME\n"
	"       dblogctl stop NAME\n"
	"       dblogctl pause NAME\n"
	"       dblogctl resume NAME\n"
	"       dblogctl replay NAME --from POS|TIME|CHECKPOINT_FILE\n"
	"       dblogctl checkpoint NAME [--set POS]\n"
	"       dblogctl conflicts NAME [--json] [--retry ID | --discard ID]\n"
	"Manage named replication streams: dblog-capture | dblog-filter | dblog-apply.\n"
	"\n"
	"Options:\n"
	"      --home DIR        the state directory (default $DBLOG_HOME, else\n"
	"                        $XDG_STATE_HOME/dblog, else ~/.local/state/dblog)\n"
	"  upsert:\n"
	"      --source URI      sqlite:PATH, or a PostgreSQL URI or conninfo (a password\n"
	"                        in it goes to the stream's own password file)\n"
	"      --dest URI        the same, for the destination\n"
	"      --mode MODE       snapshot_then_cdc (default: copy the rows, then\n"
	"                        follow the changes), cdc (only the changes from the\n"
	"                        upsert on) or snapshot (copy the rows once)\n"
	"      --tables LIST     the tables to capture (default: all)\n"
	"      --filter EXPR     pass only the events EXPR selects (dblog-filter)\n"
	"      --conflict POLICY source_wins (default), dest_wins, last_writer_wins or\n"
	"                        manual_review\n"
	"      --checkpoint-interval DUR  commit and checkpoint at least this often\n"
	"      --region NAME     a label shown by list and status\n"
	"      --auth-ref REF    where the password lives: env:VAR or file:PATH (pgpass)\n"
	"      --archive DUR     keep the events as NDJSON segments for DUR (for replay)\n"
	"      --replica-identity-full  the setup of a PostgreSQL source sets REPLICA\n"
	"                        IDENTITY FULL on its tables without a primary key or\n"
	"                        replica identity (dblog-capture --setup option)\n"
	"      --force           allow a new source for a stream with a checkpoint\n"
	"  others:\n"
	"      --teardown        delete: also remove the slot and publication or triggers\n"
	"      --json            list, status, conflicts: JSON output\n"
	"      --once            run: until caught up, then exit (for cron)\n"
	"      --from POINT      replay: a position, a time or a checkpoint file\n"
	"      --set POS         checkpoint: set the position (stopped or paused streams)\n"
	"      --retry ID        conflicts: apply the parked change after all\n"
	"      --discard ID      conflicts: drop the parked change\n"
	"  -h, --help            show this help and exit\n"
	"  -V, --version         show the version and exit\n"
	"\n"
	"Exit status: 0 ok (also: a paused stream, nothing done), 1 failed (needs a\n"
	"human), 2 usage, 3 retryable (unreachable server, stream busy: run again).\n"
	"See dblogctl(1).\n";

enum {
	OPT_HOME = 256, OPT_SOURCE, OPT_DEST, OPT_MODE, OPT_TABLES, OPT_FILTER, OPT_CONFLICT,
	OPT_INTERVAL, OPT_REGION, OPT_AUTH, OPT_ARCHIVE, OPT_FORCE, OPT_RI_FULL, OPT_TEARDOWN, OPT_JSON,
	OPT_ONCE, OPT_FROM, OPT_SET, OPT_RETRY, OPT_DISCARD,
};

static const struct option longopts[] = {
	{ "home", required_argument, NULL, OPT_HOME },
	/* upsert */
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "dest", required_argument, NULL, OPT_DEST },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "tables", required_argument, NULL, OPT_TABLES },
	{ "filter", required_argument, NULL, OPT_FILTER },
	{ "conflict", required_argument, NULL, OPT_CONFLICT },
	{ "checkpoint-interval", required_argument, NULL, OPT_INTERVAL },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "auth-ref", required_argument, NULL, OPT_AUTH },
	{ "archive", required_argument, NULL, OPT_ARCHIVE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "replica-identity-full", no_argument, NULL, OPT_RI_FULL },
	/* the other commands */
	{ "teardown", no_argument, NULL, OPT_TEARDOWN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "set", required_argument, NULL, OPT_SET },
	{ "retry", required_argument, NULL, OPT_RETRY },
	{ "discard", required_argument, NULL, OPT_DISCARD },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Which command takes which option (by code - OPT_SOURCE; longopts lists
 * them in the same order). */
static const char *const opt_cmds[] = {
	"upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert",
	"upsert", "upsert", "upsert", "delete", "list,status,conflicts", "run", "replay", "checkpoint",
	"conflicts", "conflicts",
};

struct opts {
	const char *cmd, *name, *home_arg;
	const char *v[OPT_DISCARD + 1 - OPT_SOURCE];   /* option values by code */
	int seen[OPT_DISCARD + 1 - OPT_SOURCE];
	struct dblog_ctl c;
	char *home;
	struct dblog_buf pgpass;   /* upsert: passwords taken out of the URIs */
};
#define OPTV(o, code) ((o)->v[(code) - OPT_SOURCE])
#define OPTSEEN(o, code) ((o)->seen[(code) - OPT_SOURCE])

typedef int cmd_fn(struct opts *);
static cmd_fn cmd_upsert, cmd_delete, cmd_list, cmd_status, cmd_run, cmd_start, cmd_stop, cmd_pause,
	cmd_resume, cmd_replay, cmd_checkpoint, cmd_conflicts;

static const struct command {
	const char *name;
	cmd_fn *fn;
} commands[] = {
	{ "upsert", cmd_upsert }, { "delete", cmd_delete }, { "list", cmd_list },
	{ "status", cmd_status }, { "run", cmd_run }, { "start", cmd_start }, { "stop", cmd_stop },
	{ "pause", cmd_pause }, { "resume", cmd_resume }, { "replay", cmd_replay },
	{ "checkpoint", cmd_checkpoint }, { "conflicts", cmd_conflicts }, { NULL, NULL },
};

static const struct command *
find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* ------------------------------------------------------------ options */

static void
parse_options(struct opts *o, int argc, char **argv)
{
	int c;
	while ((c = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1 || optind < argc) {
		if (c == -1) {
			if (!o->cmd)
				o->cmd = argv[optind++];
			else if (!o->name)
				o->name = argv[optind++];
			else
				dblog_usage_error("unexpected argument '%s'", argv[optind]);
			continue;
		}
		if (c == 'h') {
			fputs(usage_text, stdout);
			exit(dblog_stdout_close());
		}
		if (c == 'V')
			dblog_version();
		if (c == OPT_HOME) {
			o->home_arg = optarg;
		} else if (c >= OPT_SOURCE && c <= OPT_DISCARD) {
			OPTV(o, c) = optarg;
			OPTSEEN(o, c) = 1;
		} else {
			fprintf(stderr, "Try 'dblogctl --help'.\n");
			exit(DBLOG_EXIT_USAGE);
		}
	}
}

static void
check_options(struct opts *o)
{
	if (!o->cmd)
		dblog_usage_error("missing command (upsert, delete, list, status, run, start, stop, "
				  "pause, resume, replay, checkpoint or conflicts)");
	if (!find_command(o->cmd))
		dblog_usage_error("unknown command '%s'", o->cmd);
	for (int i = 0; i <= OPT_DISCARD - OPT_SOURCE; i++) {
		if (!o->seen[i])
			continue;
		struct dblog_list l = { 0 };
		dblog_list_split(&l, opt_cmds[i]);
		int ok = dblog_list_has(&l, o->cmd, strlen(o->cmd));
		dblog_list_free(&l);
		if (!ok)
			dblog_usage_error("--%s does not go with %s", longopts[i + 1].name, o->cmd);
	}
	int named = strcmp(o->cmd, "list") && strcmp(o->cmd, "status");
	if (named && !o->name)
		dblog_usage_error("%s: missing stream NAME", o->cmd);
	if (!strcmp(o->cmd, "list") && o->name)
		dblog_usage_error("list takes no NAME");
	if (o->name && !dblog_ctl_name_valid(o->name))
		dblog_usage_error("bad stream name '%s': 1 to 40 of a-z, 0-9, _ and -, starting "
				  "with a letter", o->name);
	if (OPTSEEN(o, OPT_RETRY) && OPTSEEN(o, OPT_DISCARD))
		dblog_usage_error("--retry and --discard exclude each other");
	if (!strcmp(o->cmd, "replay") && !OPTV(o, OPT_FROM))
		dblog_usage_error("replay: missing --from POS|TIME|CHECKPOINT_FILE");
	char err[512];
	if (!(o->home = dblog_ctl_home(o->home_arg, err, sizeof err)))
		dblog_usage_error("%s", err);
	if (o->name)
		dblog_ctl_paths(&o->c, o->home, o->name);
}

/* ------------------------------------------------------------ helpers */

/* The spec of the named stream; exits 1 when there is none. */
static json_t *
load_spec(struct opts *o)
{
	json_t *spec;
	char err[512];
	int rc = dblog_ctl_load(o->c.spec, &spec, err, sizeof err);
	if (rc == 1)
		dblog_die(DBLOG_EXIT_FAIL, "no stream \"%s\" in %s (dblogctl upsert %s ...)", o->name,
			  o->home, o->name);
	if (rc < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	return spec;
}

static void
save_spec(struct opts *o, json_t *spec)
{
	char err[512];
	if (dblog_ctl_save(o->c.spec, spec, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
}

static void
auth_or_die(const json_t *spec)
{
	char err[512];
	if (dblog_ctl_auth_apply(dblog_ctl_str(spec, "auth_ref"), err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
}

/* Take the stream's lock or exit 3: it runs. */
static int
lock_or_die(struct opts *o, const char *what)
{
	char err[512];
	int fd = dblog_ctl_lock(o->c.lock, err, sizeof err);
	if (fd == -1)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	if (fd == -2) {
		long pid = dblog_ctl_pid_read(o->c.pid);
		dblog_die(DBLOG_EXIT_RETRY, "stream \"%s\" is running (pid %ld): %s refused", o->name,
			  pid, what);
	}
	return fd;
}

static void
print_json(const json_t *j)
{
	if (json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) || putchar('\n') == EOF)
		dblog_die_write();
}

/* ------------------------------------------------------------- upsert */

/* Passwords given in --source or --dest leave the URIs (which are kept
 * and shown) for a password file of the stream's own, mode 0600, that
 * becomes its --auth-ref; o->pgpass gets its lines. */
static void
take_passwords(struct opts *o, json_t *spec)
{
	for (int i = 0; i < 2; i++) {
		const char *k = i ? "dest" : "source", *uri = dblog_ctl_str(spec, k);
		if (!uri || !dblog_ctl_is_pg(uri) || !dblog_ctl_has_password(uri))
			continue;
		if (OPTV(o, OPT_AUTH))
			dblog_usage_error("--%s holds a password and --auth-ref says where it is: give "
					  "one of them", k);
		char *bare = dblog_ctl_take_password(uri, &o->pgpass);
		if (!bare)
			continue;   /* the check below says what is wrong */
		json_object_set_new(spec, k, json_string(bare));
		free(bare);
	}
	if (o->pgpass.len) {
		struct dblog_buf ref = { 0 };
		dblog_buf_printf(&ref, "file:%s/pgpass", o->c.dir);
		json_object_set_new(spec, "auth_ref", json_string(ref.p));
		dblog_buf_free(&ref);
	}
}

/* The spec that the options declare (new reference); exits 2 when wrong. */
static json_t *
spec_of(struct opts *o)
{
	static const struct { int code; const char *key; } opt[] = {
		{ OPT_SOURCE, "source" }, { OPT_DEST, "dest" }, { OPT_MODE, "mode" },
		{ OPT_CONFLICT, "conflict" }, { OPT_TABLES, "tables" }, { OPT_FILTER, "filter" },
		{ OPT_INTERVAL, "checkpoint_interval" }, { OPT_REGION, "region" },
		{ OPT_AUTH, "auth_ref" }, { OPT_ARCHIVE, "archive" },
	};
	char err[512];
	json_t *spec = json_pack("{ss ss ss}", "name", o->name, "mode", "snapshot_then_cdc", "conflict",
				 "source_wins");
	for (size_t i = 0; i < sizeof opt / sizeof *opt; i++)
		if (OPTV(o, opt[i].code))
			json_object_set_new(spec, opt[i].key, json_string(OPTV(o, opt[i].code)));
	if (OPTSEEN(o, OPT_RI_FULL))
		json_object_set_new(spec, "replica_identity_full", json_true());
	take_passwords(o, spec);
	if (dblog_ctl_spec_check(spec, err, sizeof err))
		dblog_usage_error("%s", err);
	for (int i = 0; i < 2; i++) {
		char *abs = dblog_ctl_absolute(dblog_ctl_str(spec, opt[i].key));
		json_object_set_new(spec, opt[i].key, json_string(abs));
		free(abs);
	}
	return spec;
}

/* A new source for a stream with a checkpoint: only with --force, which
 * removes the checkpoint and the stream's position in the destination. */
static void
new_source(struct opts *o, const json_t *old)
{
	char err[512] = "";
	if (!OPTSEEN(o, OPT_FORCE))
		dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" has a checkpoint from its current source; "
			  "a new source needs --force (the checkpoint is then removed)", o->name);
	int fd = lock_or_die(o, "a new source");
	if (unlink(o->c.checkpoint))
		dblog_warn("cannot remove \"%s\": %s", o->c.checkpoint, strerror(errno));
	if (dblog_ctl_auth_apply(dblog_ctl_str(old, "auth_ref"), err, sizeof err) ||
	    dblog_ctl_dest_set_applied(dblog_ctl_str(old, "dest"), o->name, NULL, err, sizeof err))
		dblog_warn("%s", err);
	close(fd);
}

static int
cmd_upsert(struct opts *o)
{
	char err[512], t[40];
	json_t *spec = spec_of(o), *old = NULL;
	if (dblog_ctl_load(o->c.spec, &old, err, sizeof err) < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	if (o->pgpass.len) {   /* the password file the spec refers to */
		struct dblog_buf path = { 0 };
		dblog_buf_printf(&path, "%s/pgpass", o->c.dir);
		mode_t old_mask = umask(077);
		int bad = dblog_ctl_mkdirs(&o->c, err, sizeof err) ||
			  dblog_atomic_write(path.p, o->pgpass.p, o->pgpass.len, err, sizeof err);
		umask(old_mask);
		dblog_buf_free(&path);
		dblog_buf_free(&o->pgpass);
		if (bad)
			dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	}
	if (old && strcmp(dblog_ctl_str(old, "source"), dblog_ctl_str(spec, "source")) &&
	    !access(o->c.checkpoint, F_OK))
		new_source(o, old);
	auth_or_die(spec);
	/* prepare the source now: every change from here on is captured */
	int rc = strcmp(dblog_ctl_str(spec, "mode"), "snapshot") ?
		 dblog_ctl_capture_admin(o->name, spec, "--setup") : 0;
	if (rc)
		dblog_die(rc == DBLOG_EXIT_RETRY ? rc : DBLOG_EXIT_FAIL,
			  "upsert: the setup of the source failed; stream \"%s\" unchanged", o->name);
	dblog_time_format(dblog_time_now(), t, sizeof t);
	json_object_set(spec, "paused", json_object_get(old, "paused") ?: json_false());
	json_object_set_new(spec, "created", json_copy(json_object_get(old, "created")) ?: json_string(t));
	json_object_set_new(spec, "updated", json_string(t));
	if (dblog_ctl_mkdirs(&o->c, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	save_spec(o, spec);
	json_decref(old);
	json_decref(spec);
	return DBLOG_EXIT_OK;
}

/* ---------------------------------------------------- delete, list, status */

static int
cmd_delete(struct opts *o)
{
	char err[512];
	json_t *spec = load_spec(o);
	int fd = lock_or_die(o, "delete");
	if (OPTSEEN(o, OPT_TEARDOWN)) {
		auth_or_die(spec);
		int rc = dblog_ctl_capture_admin(o->name, spec, "--teardown");
		if (rc)
			dblog_die(rc == DBLOG_EXIT_RETRY ? rc : DBLOG_EXIT_FAIL,
				  "delete: the teardown of the source failed; stream \"%s\" kept", o->name);
	}
	if (dblog_ctl_remove(&o->c, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	close(fd);
	json_decref(spec);
	return DBLOG_EXIT_OK;
}

/* The status objects of the named stream, or of every stream. */
static json_t *
statuses(struct opts *o)
{
	char err[512];
	json_t *arr = dblog_ctl_statuses(o->home, o->name, err, sizeof err);
	if (!arr)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	return arr;
}

static int
cmd_status(struct opts *o)
{
	json_t *arr = statuses(o);
	if (!OPTSEEN(o, OPT_JSON))
		dblog_ctl_status_table(stdout, arr);
	else if (o->name)
		print_json(json_array_get(arr, 0));
	else
		print_json(arr);
	json_decref(arr);
	return DBLOG_EXIT_OK;
}

static int
cmd_list(struct opts *o)
{
	json_t *arr = statuses(o);
	if (OPTSEEN(o, OPT_JSON))
		print_json(arr);
	else
		dblog_ctl_list_table(stdout, o->home, arr);
	json_decref(arr);
	return DBLOG_EXIT_OK;
}

/* ----------------------------------------------------------- running */

/* Run the stream in this process, holding lockfd. */
static int
run_locked(struct opts *o, json_t *spec, int lockfd, int echo)
{
	char err[512];
	if (dblog_ctl_pid_write(&o->c, err, sizeof err)) {
		dblog_err("%s", err);
		return DBLOG_EXIT_FAIL;
	}
	dblog_catch_stop();
	auth_or_die(spec);
	struct dblog_ctl_run r = { .c = &o->c, .spec = spec, .once = OPTSEEN(o, OPT_ONCE),
				   .echo = echo, .lockfd = lockfd, .stop = &dblog_stop };
	int rc = dblog_ctl_run(&r);
	unlink(o->c.pid);
	return rc;
}

/* A paused stream is not run: a message, status 0. */
static int
is_paused(struct opts *o, const json_t *spec)
{
	if (!json_is_true(json_object_get(spec, "paused")))
		return 0;
	dblog_err("stream \"%s\" is paused: nothing done (dblogctl resume %s)", o->name, o->name);
	return 1;
}

static int
cmd_run(struct opts *o)
{
	json_t *spec = load_spec(o);
	int rc = DBLOG_EXIT_OK;
	if (!is_paused(o, spec)) {
		int fd = lock_or_die(o, "a second run");
		rc = run_locked(o, spec, fd, 1);
		close(fd);
	}
	json_decref(spec);
	return rc;
}

struct daemon_arg {
	struct opts *o;
	json_t *spec;
};

static int
run_daemon(void *arg, int lockfd)
{
	struct daemon_arg *a = arg;
	return run_locked(a->o, a->spec, lockfd, 0);
}

/* In the background (dblog_ctl_daemon). */
static int
cmd_start(struct opts *o)
{
	json_t *spec = load_spec(o);
	char err[512];
	int rc = DBLOG_EXIT_OK;
	if (!is_paused(o, spec)) {
		close(lock_or_die(o, "start"));
		struct daemon_arg a = { o, spec };
		if ((rc = dblog_ctl_daemon(&o->c, run_daemon, &a, err, sizeof err)))
			dblog_err("%s", err);
	}
	json_decref(spec);
	return rc;
}

/* Stop the stream if it runs, or exit 1. */
static void
stop_or_die(struct opts *o)
{
	char err[512];
	if (dblog_ctl_stop(&o->c, 60000, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
}

static int
cmd_stop(struct opts *o)
{
	json_decref(load_spec(o));
	stop_or_die(o);
	return DBLOG_EXIT_OK;
}

/* Pause: marked in the spec (with resume_starts when it ran), then
 * stopped. Resume: the mark removed, and started again when pause
 * stopped it. */
static int
pause_resume(struct opts *o, int pause)
{
	json_t *spec = load_spec(o);
	json_object_set_new(spec, "paused", json_boolean(pause));
	if (pause && dblog_ctl_locked(o->c.lock))
		json_object_set_new(spec, "resume_starts", json_true());
	save_spec(o, spec);
	int rc = DBLOG_EXIT_OK;
	if (pause) {
		stop_or_die(o);
	} else if (json_is_true(json_object_get(spec, "resume_starts"))) {
		json_object_del(spec, "resume_starts");
		save_spec(o, spec);
		rc = cmd_start(o);
	}
	json_decref(spec);
	return rc;
}

static int
cmd_pause(struct opts *o)
{
	return pause_resume(o, 1);
}

static int
cmd_resume(struct opts *o)
{
	return pause_resume(o, 0);
}

/* ------------------------------------------------ replay, checkpoint */

static int
cmd_replay(struct opts *o)
{
	char err[512];
	json_t *spec = load_spec(o);
	int fd = lock_or_die(o, "replay");
	auth_or_die(spec);
	int rc = dblog_ctl_replay(&o->c, spec, OPTV(o, OPT_FROM), err, sizeof err);
	if (rc == DBLOG_EXIT_USAGE)
		dblog_usage_error("%s", err);
	if (rc)
		dblog_err("%s", err);
	close(fd);
	json_decref(spec);
	return rc;
}

/* checkpoint --set POS, with the stream not running. */
static void
set_checkpoint(struct opts *o, const json_t *spec, const char *pos_arg)
{
	char err[512];
	struct dblog_pos pos;
	if (dblog_pos_parse(pos_arg, strlen(pos_arg), &pos))
		dblog_usage_error("--set: expected an LSN like 0/16B3748 or a sequence number, got '%s'",
				  pos_arg);
	int fd = lock_or_die(o, "checkpoint --set");
	auth_or_die(spec);
	if (dblog_ctl_checkpoint_set(&o->c, spec, pos_arg, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	close(fd);
}

static int
cmd_checkpoint(struct opts *o)
{
	json_t *spec = load_spec(o);
	int rc = DBLOG_EXIT_OK;
	if (OPTV(o, OPT_SET)) {
		set_checkpoint(o, spec, OPTV(o, OPT_SET));
	} else {
		if (access(o->c.checkpoint, F_OK))
			dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" has no checkpoint yet", o->name);
		const char *argv[] = { "dblog-checkpoint", "show", o->c.checkpoint, NULL };
		fflush(stdout);
		rc = dblog_ctl_spawn_wait(argv, -1, -1) ? DBLOG_EXIT_FAIL : DBLOG_EXIT_OK;
	}
	json_decref(spec);
	return rc;
}

/* ---------------------------------------------------------- conflicts */

static int
cmd_conflicts(struct opts *o)
{
	char err[512];
	json_t *spec = load_spec(o);
	const char *dest = dblog_ctl_str(spec, "dest"), *ids = OPTV(o, OPT_RETRY) ?: OPTV(o, OPT_DISCARD);
	int64_t id = 0;
	int rc = DBLOG_EXIT_OK;
	if (ids && dblog_parse_count(ids, &id))
		dblog_usage_error("--%s: expected a conflict id, got '%s'",
				  OPTV(o, OPT_RETRY) ? "retry" : "discard", ids);
	auth_or_die(spec);
	if (ids) {
		rc = dblog_ctl_conflict_resolve(dest, o->name, id, OPTV(o, OPT_RETRY) != NULL, err,
						sizeof err);
		if (rc)
			dblog_err("%s", err);
	} else {
		json_t *arr = dblog_ctl_dest_conflicts(dest, o->name, err, sizeof err);
		if (!arr)
			dblog_die(DBLOG_EXIT_FAIL, "cannot read the conflicts: %s", err);
		if (OPTSEEN(o, OPT_JSON))
			print_json(arr);
		else
			dblog_ctl_conflicts_table(stdout, arr);
		json_decref(arr);
	}
	json_decref(spec);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o = { 0 };
	dblog_init(argv);
	parse_options(&o, argc, argv);
	check_options(&o);
	int status = find_command(o.cmd)->fn(&o);
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	if (o.name)
		dblog_ctl_paths_free(&o.c);
	free(o.home);
	return status;
}
