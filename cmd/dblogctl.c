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

static const char usage_text[] =
	"Usage: dblogctl upsert NAME --source URI --dest URI [--mode MODE] [--tables LIST]\n"
	"                [--filter EXPR] [--conflict POLICY] [--checkpoint-interval DUR]\n"
	"                [--region NAME] [--auth-ref REF] [--archive DUR] [--force]\n"
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
	"      --source URI      sqlite:PATH or a PostgreSQL URI or conninfo (no password)\n"
	"      --dest URI        sqlite:PATH or a PostgreSQL URI or conninfo (no password)\n"
	"      --mode MODE       cdc (default), snapshot or snapshot_then_cdc\n"
	"      --tables LIST     the tables to capture (default: all)\n"
	"      --filter EXPR     pass only the events EXPR selects (dblog-filter)\n"
	"      --conflict POLICY source_wins (default), dest_wins, last_writer_wins or\n"
	"                        manual_review\n"
	"      --checkpoint-interval DUR  commit and checkpoint at least this often\n"
	"      --region NAME     a label shown by list and status\n"
	"      --auth-ref REF    where the password lives: env:VAR or file:PATH (pgpass)\n"
	"      --archive DUR     keep the events as NDJSON segments for DUR (for replay)\n"
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
	OPT_INTERVAL, OPT_REGION, OPT_AUTH, OPT_ARCHIVE, OPT_FORCE, OPT_TEARDOWN, OPT_JSON,
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

/* Which command takes which option (by code - OPT_SOURCE). */
static const char *const opt_cmds[] = {
	"upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert", "upsert",
	"upsert", "upsert", "delete", "list,status,conflicts", "run", "replay", "checkpoint",
	"conflicts", "conflicts",
};

struct opts {
	const char *cmd, *name, *home_arg;
	const char *v[OPT_DISCARD + 1 - OPT_SOURCE];   /* option values by code */
	int seen[OPT_DISCARD + 1 - OPT_SOURCE];
	struct dblog_ctl c;
	char *home;
};
#define OPTV(o, code) ((o)->v[(code) - OPT_SOURCE])
#define OPTSEEN(o, code) ((o)->seen[(code) - OPT_SOURCE])

static const char *const commands[] = {
	"upsert", "delete", "list", "status", "run", "start", "stop", "pause", "resume", "replay",
	"checkpoint", "conflicts", NULL,
};

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

static int
one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

static void
check_options(struct opts *o)
{
	if (!o->cmd)
		dblog_usage_error("missing command (upsert, delete, list, status, run, start, stop, "
				  "pause, resume, replay, checkpoint or conflicts)");
	if (!one_of(o->cmd, commands))
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

/* Run dblog-capture --setup or --teardown for the stream. */
static int
capture_admin(struct opts *o, const json_t *spec, const char *what)
{
	const char *src = dblog_ctl_str(spec, "source"), *tables = dblog_ctl_str(spec, "tables");
	const char *argv[12];
	int n = 0;
	char *slot = dblog_ctl_slot(o->name);
	argv[n++] = "dblog-capture";
	argv[n++] = what;
	if (dblog_ctl_is_pg(src)) {
		argv[n++] = "--slot";
		argv[n++] = slot;
		argv[n++] = "--publication";
		argv[n++] = slot;
	}
	if (tables) {
		argv[n++] = "--tables";
		argv[n++] = tables;
	}
	argv[n++] = src;
	argv[n] = NULL;
	int rc = dblog_ctl_spawn_wait(argv, -1, 2);
	free(slot);
	return rc < 0 ? DBLOG_EXIT_FAIL : rc;
}


/* ------------------------------------------------------------- upsert */

static void
check_uri(const char *what, const char *uri)
{
	if (!uri)
		dblog_usage_error("upsert: missing --%s URI", what);
	if (!dblog_ctl_is_pg(uri) && !dblog_ctl_sqlite_path(uri))
		dblog_usage_error("--%s: expected sqlite:PATH or a PostgreSQL URI or conninfo, got '%s'",
				  what, uri);
	if (dblog_ctl_has_password(uri))
		dblog_usage_error("--%s: the URI holds a password; keep it out of the spec, logs and "
				  "ps: give it with --auth-ref env:VAR or --auth-ref file:PATH", what);
}

/* The spec that the options declare (new reference); exits 2 when wrong. */
static json_t *
spec_of(struct opts *o)
{
	static const char *const modes[] = { "cdc", "snapshot", "snapshot_then_cdc", NULL };
	static const char *const policies[] = { "source_wins", "dest_wins", "last_writer_wins",
						"manual_review", NULL };
	const char *mode = OPTV(o, OPT_MODE) ?: "cdc", *pol = OPTV(o, OPT_CONFLICT) ?: "source_wins";
	char err[512];
	size_t col;
	int64_t ms;
	check_uri("source", OPTV(o, OPT_SOURCE));
	check_uri("dest", OPTV(o, OPT_DEST));
	if (!one_of(mode, modes))
		dblog_usage_error("--mode: expected cdc, snapshot or snapshot_then_cdc, got '%s'", mode);
	if (!one_of(pol, policies))
		dblog_usage_error("--conflict: expected source_wins, dest_wins, last_writer_wins or "
				  "manual_review, got '%s'", pol);
	if (OPTV(o, OPT_INTERVAL) && (dblog_parse_duration(OPTV(o, OPT_INTERVAL), &ms) || ms <= 0))
		dblog_usage_error("--checkpoint-interval: expected a duration like 1s, got '%s'",
				  OPTV(o, OPT_INTERVAL));
	if (OPTV(o, OPT_ARCHIVE) && (dblog_parse_duration(OPTV(o, OPT_ARCHIVE), &ms) || ms <= 0))
		dblog_usage_error("--archive: expected a retention like 7d, got '%s'", OPTV(o, OPT_ARCHIVE));
	if (OPTV(o, OPT_AUTH) && dblog_ctl_auth_check(OPTV(o, OPT_AUTH), err, sizeof err))
		dblog_usage_error("%s", err);
	if (OPTV(o, OPT_FILTER)) {
		struct dblog_expr *x = dblog_expr_compile(OPTV(o, OPT_FILTER), err, sizeof err, &col);
		if (!x)
			dblog_usage_error("--filter: column %zu: %s", col, err);
		dblog_expr_free(x);
	}
	json_t *spec = json_pack("{ss ss ss ss ss}", "name", o->name, "source", OPTV(o, OPT_SOURCE),
				 "dest", OPTV(o, OPT_DEST), "mode", mode, "conflict", pol);
	static const struct { int code; const char *key; } opt[] = {
		{ OPT_TABLES, "tables" }, { OPT_FILTER, "filter" },
		{ OPT_INTERVAL, "checkpoint_interval" }, { OPT_REGION, "region" },
		{ OPT_AUTH, "auth_ref" }, { OPT_ARCHIVE, "archive" },
	};
	for (size_t i = 0; i < sizeof opt / sizeof *opt; i++)
		if (OPTV(o, opt[i].code))
			json_object_set_new(spec, opt[i].key, json_string(OPTV(o, opt[i].code)));
	return spec;
}

static int
cmd_upsert(struct opts *o)
{
	char err[512], t[40];
	json_t *spec = spec_of(o), *old = NULL;
	if (dblog_ctl_load(o->c.spec, &old, err, sizeof err) < 0)
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	int new_source = old && strcmp(dblog_ctl_str(old, "source"), dblog_ctl_str(spec, "source"));
	if (new_source && !access(o->c.checkpoint, F_OK)) {
		if (!OPTSEEN(o, OPT_FORCE))
			dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" has a checkpoint from its current source; "
				  "a new source needs --force (the checkpoint is then removed)", o->name);
		int fd = lock_or_die(o, "a new source");
		if (unlink(o->c.checkpoint) ||
		    dblog_ctl_dest_set_applied(dblog_ctl_str(old, "dest"), o->name, NULL, err, sizeof err))
			dblog_warn("%s", *err ? err : strerror(errno));
		close(fd);
	}
	auth_or_die(spec);
	/* prepare the source now: every change from here on is captured */
	if (strcmp(dblog_ctl_str(spec, "mode"), "snapshot")) {
		int rc = capture_admin(o, spec, "--setup");
		if (rc)
			dblog_die(rc == DBLOG_EXIT_RETRY ? rc : DBLOG_EXIT_FAIL,
				  "upsert: the setup of the source failed; stream \"%s\" unchanged", o->name);
	}
	dblog_time_format(dblog_time_now(), t, sizeof t);
	json_object_set(spec, "paused", old ? json_object_get(old, "paused") ?: json_false() : json_false());
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
		int rc = capture_admin(o, spec, "--teardown");
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
	json_t *arr = json_array();
	struct dblog_list names = { 0 };
	char err[512];
	if (o->name)
		dblog_list_split(&names, o->name);
	else if (dblog_ctl_names(o->home, &names, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "%s", err);
	for (size_t i = 0; i < names.n; i++) {
		struct dblog_ctl c;
		json_t *spec;
		dblog_ctl_paths(&c, o->home, names.v[i]);
		int rc = dblog_ctl_load(c.spec, &spec, err, sizeof err);
		if (rc == 1 && o->name)
			dblog_die(DBLOG_EXIT_FAIL, "no stream \"%s\" in %s", o->name, o->home);
		if (rc == 0) {
			/* each stream's figures with its own credentials */
			unsetenv("PGPASSWORD");
			unsetenv("PGPASSFILE");
			if (dblog_ctl_auth_apply(dblog_ctl_str(spec, "auth_ref"), err, sizeof err))
				dblog_warn("%s", err);
			json_array_append_new(arr, dblog_ctl_status(&c, spec));
			json_decref(spec);
		} else if (rc < 0) {
			dblog_warn("%s", err);
		}
		dblog_ctl_paths_free(&c);
	}
	dblog_list_free(&names);
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
	json_t *arr = statuses(o), *s;
	size_t i;
	if (OPTSEEN(o, OPT_JSON)) {
		print_json(arr);
	} else {
		printf("%-16s %-11s %-18s %-10s %-34s %s\n", "NAME", "STATE", "MODE", "REGION",
		       "SOURCE", "DEST");
		json_array_foreach(arr, i, s) {
			struct dblog_ctl c;
			json_t *spec = NULL;
			char err[512];
			const char *name = json_string_value(json_object_get(s, "name"));
			dblog_ctl_paths(&c, o->home, name);
			dblog_ctl_load(c.spec, &spec, err, sizeof err);
			printf("%-16s %-11s %-18s %-10s %-34s %s\n", name,
			       json_string_value(json_object_get(s, "state")),
			       dblog_ctl_str(spec, "mode") ?: "-", dblog_ctl_str(spec, "region") ?: "-",
			       json_string_value(json_object_get(s, "source")),
			       json_string_value(json_object_get(s, "dest")));
			json_decref(spec);
			dblog_ctl_paths_free(&c);
		}
	}
	json_decref(arr);
	return DBLOG_EXIT_OK;
}

/* ----------------------------------------------------------- running */

static int
write_pid(struct opts *o)
{
	char err[512], buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (dblog_atomic_write(o->c.pid, buf, (size_t)n, err, sizeof err)) {
		dblog_err("%s", err);
		return -1;
	}
	return 0;
}

/* Run the stream in this process, holding lockfd. */
static int
run_locked(struct opts *o, json_t *spec, int lockfd, int echo)
{
	if (write_pid(o))
		return DBLOG_EXIT_FAIL;
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
	if (is_paused(o, spec)) {
		json_decref(spec);
		return DBLOG_EXIT_OK;
	}
	int fd = lock_or_die(o, "a second run");
	int rc = run_locked(o, spec, fd, 1);
	close(fd);
	json_decref(spec);
	return rc;
}

/* In the background: a session of its own, no terminal, its messages in
 * the log; the parent learns through a pipe whether it took the lock. */
static int
cmd_start(struct opts *o)
{
	json_t *spec = load_spec(o);
	if (is_paused(o, spec)) {
		json_decref(spec);
		return DBLOG_EXIT_OK;
	}
	int fd = lock_or_die(o, "start");
	close(fd);
	int p[2];
	if (pipe(p))
		dblog_die(DBLOG_EXIT_FAIL, "cannot make a pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		dblog_die(DBLOG_EXIT_FAIL, "cannot fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		char err[512];
		int lock = dblog_ctl_lock(o->c.lock, err, sizeof err);
		int log = open(o->c.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDWR);
		if (lock < 0 || log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(log, 2) < 0) {
			if (write(p[1], "busy\n", 5) < 0)
				_exit(DBLOG_EXIT_FAIL);
			_exit(DBLOG_EXIT_RETRY);
		}
		close(null);
		close(log);
		if (write_pid(o) || write(p[1], "ok\n", 3) < 0)
			_exit(DBLOG_EXIT_FAIL);
		close(p[1]);
		_exit(run_locked(o, spec, lock, 0));
	}
	close(p[1]);
	char buf[8] = { 0 };
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	waitpid(pid, NULL, 0);
	json_decref(spec);
	if (n <= 0 || strncmp(buf, "ok", 2))
		dblog_die(DBLOG_EXIT_RETRY, "stream \"%s\" did not start (see %s)", o->name, o->c.log);
	return DBLOG_EXIT_OK;
}

/* SIGTERM to the supervisor, which ends its pipeline at a transaction
 * boundary; wait until the lock is free. 1 when it ran. */
static int
stop_running(struct opts *o)
{
	if (!dblog_ctl_locked(o->c.lock))
		return 0;
	long pid = dblog_ctl_pid_read(o->c.pid);
	if (!pid || kill((pid_t)pid, SIGTERM))
		dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" is locked but its pid file names no process",
			  o->name);
	if (dblog_ctl_wait_unlocked(o->c.lock, 60000))
		dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" (pid %ld) did not stop within 60 s", o->name, pid);
	return 1;
}

static int
cmd_stop(struct opts *o)
{
	json_decref(load_spec(o));
	stop_running(o);
	return DBLOG_EXIT_OK;
}

static int
cmd_pause(struct opts *o, int pause)
{
	json_t *spec = load_spec(o);
	json_object_set_new(spec, "paused", json_boolean(pause));
	if (pause && dblog_ctl_locked(o->c.lock))
		json_object_set_new(spec, "resume_starts", json_true());
	save_spec(o, spec);
	int rc = DBLOG_EXIT_OK;
	if (pause) {
		stop_running(o);
	} else if (json_is_true(json_object_get(spec, "resume_starts"))) {
		json_object_del(spec, "resume_starts");
		save_spec(o, spec);
		rc = cmd_start(o);
	}
	json_decref(spec);
	return rc;
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

static int
cmd_checkpoint(struct opts *o)
{
	char err[512];
	json_t *spec = load_spec(o);
	const char *pos_arg = OPTV(o, OPT_SET);
	if (!pos_arg) {
		if (access(o->c.checkpoint, F_OK))
			dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" has no checkpoint yet", o->name);
		const char *argv[] = { "dblog-checkpoint", "show", o->c.checkpoint, NULL };
		fflush(stdout);
		json_decref(spec);
		return dblog_ctl_spawn_wait(argv, -1, -1) ? DBLOG_EXIT_FAIL : DBLOG_EXIT_OK;
	}
	struct dblog_pos pos;
	if (dblog_pos_parse(pos_arg, strlen(pos_arg), &pos))
		dblog_usage_error("--set: expected an LSN like 0/16B3748 or a sequence number, got '%s'",
				  pos_arg);
	int fd = lock_or_die(o, "checkpoint --set");
	const char *argv[] = { "dblog-checkpoint", "set", o->c.checkpoint, "--pos", pos_arg, NULL };
	if (dblog_ctl_spawn_wait(argv, -1, -1))
		dblog_die(DBLOG_EXIT_FAIL, "cannot set the checkpoint of stream \"%s\"", o->name);
	/* the destination skips what its applied position covers: move it too */
	auth_or_die(spec);
	json_t *p = json_pack("{so}", "pos", dblog_pos_to_json(&pos));
	if (dblog_ctl_dest_set_applied(dblog_ctl_str(spec, "dest"), o->name, p, err, sizeof err))
		dblog_die(DBLOG_EXIT_FAIL, "the checkpoint is set, the destination's position is not: %s",
			  err);
	json_decref(p);
	close(fd);
	json_decref(spec);
	return DBLOG_EXIT_OK;
}

/* ---------------------------------------------------------- conflicts */

static void
conflicts_table(const json_t *arr)
{
	size_t i;
	json_t *c;
	printf("%-6s %-27s %-40s %-20s %s\n", "ID", "TIME", "REASON", "TABLE", "KEY");
	json_array_foreach(arr, i, c) {
		json_t *ev = json_object_get(c, "event");
		char *key = json_dumps(json_object_get(ev, "key"), JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%-6lld %-27s %-40s %-20s %s\n", (long long)json_integer_value(json_object_get(c, "id")),
		       json_string_value(json_object_get(c, "time")),
		       json_string_value(json_object_get(c, "reason")),
		       json_string_value(json_object_get(ev, "table")) ?: "-", key ? key : "-");
		free(key);
	}
}

static int
cmd_conflicts(struct opts *o)
{
	char err[512];
	json_t *spec = load_spec(o);
	const char *dest = dblog_ctl_str(spec, "dest"), *ids = OPTV(o, OPT_RETRY) ?: OPTV(o, OPT_DISCARD);
	int64_t id = 0;
	auth_or_die(spec);
	if (ids && dblog_parse_count(ids, &id))
		dblog_usage_error("--%s: expected a conflict id, got '%s'",
				  OPTV(o, OPT_RETRY) ? "retry" : "discard", ids);
	json_t *arr = dblog_ctl_dest_conflicts(dest, o->name, err, sizeof err), *c = NULL, *x;
	if (!arr)
		dblog_die(DBLOG_EXIT_FAIL, "cannot read the conflicts: %s", err);
	size_t i;
	json_array_foreach(arr, i, x)
		if (json_integer_value(json_object_get(x, "id")) == id)
			c = x;
	int rc = DBLOG_EXIT_OK;
	if (!ids)
		OPTSEEN(o, OPT_JSON) ? print_json(arr) : conflicts_table(arr);
	else if (!c)
		dblog_die(DBLOG_EXIT_FAIL, "stream \"%s\" has no conflict %lld", o->name, (long long)id);
	else if (OPTV(o, OPT_RETRY) &&
		 (rc = dblog_ctl_retry_conflict(dest, o->name, id, json_object_get(c, "event"), err,
						sizeof err)))
		dblog_err("%s", err);
	if (ids && !rc && dblog_ctl_dest_conflict_delete(dest, o->name, id, err, sizeof err) < 0)
		dblog_die(DBLOG_EXIT_FAIL, "cannot remove conflict %lld: %s", (long long)id, err);
	json_decref(arr);
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
	int status;
	const char *c = o.cmd;
	if (!strcmp(c, "upsert"))
		status = cmd_upsert(&o);
	else if (!strcmp(c, "delete"))
		status = cmd_delete(&o);
	else if (!strcmp(c, "list"))
		status = cmd_list(&o);
	else if (!strcmp(c, "status"))
		status = cmd_status(&o);
	else if (!strcmp(c, "run"))
		status = cmd_run(&o);
	else if (!strcmp(c, "start"))
		status = cmd_start(&o);
	else if (!strcmp(c, "stop"))
		status = cmd_stop(&o);
	else if (!strcmp(c, "pause") || !strcmp(c, "resume"))
		status = cmd_pause(&o, !strcmp(c, "pause"));
	else if (!strcmp(c, "replay"))
		status = cmd_replay(&o);
	else if (!strcmp(c, "checkpoint"))
		status = cmd_checkpoint(&o);
	else
		status = cmd_conflicts(&o);
	if (dblog_stdout_close() && !status)
		status = DBLOG_EXIT_FAIL;
	if (o.name)
		dblog_ctl_paths_free(&o.c);
	free(o.home);
	return status;
}
