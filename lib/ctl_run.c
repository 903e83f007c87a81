/* ctl_run.c - run a stream: the dblog commands as child processes joined by
 * pipes, their messages collected into the stream's log, supervised with
 * restarts and backoff after retryable failures. dblogctl never touches the
 * events unless the archive tee is in the pipeline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

#define MAX_STAGES 4
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define STOP_GRACE_MS 30000

struct argv {
	char **v;
	size_t n;
};

static void
push(struct argv *a, const char *s)
{
	a->v = dblog_xrealloc(a->v, (a->n + 2) * sizeof *a->v);
	a->v[a->n++] = s ? dblog_xstrdup(s) : NULL;
	a->v[a->n] = NULL;
}

static void
argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

struct stage {
	const char *prog;
	struct argv argv;       /* empty for the archive tee */
	pid_t pid;
	int status, done;
	char last[512];         /* its last message */
};

struct pipeline {
	struct dblog_ctl_run *r;
	struct stage st[MAX_STAGES];
	int n, errfd, logfd;
	pid_t pgid;
	struct dblog_buf partial;
};

char *
dblog_ctl_bin(const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		struct dblog_buf b = { 0 };
		dblog_buf_printf(&b, "%.*s/%s", (int)(slash - self), self, name);
		if (!access(b.p, X_OK))
			return b.p;
		dblog_buf_free(&b);
	}
	return dblog_xstrdup(name);
}

/* ------------------------------------------------------------ messages */

static void
log_line(struct pipeline *p, const char *line, size_t n)
{
	char t[40];
	dblog_time_format(dblog_time_now(), t, sizeof t);
	struct dblog_buf b = { 0 };
	dblog_buf_printf(&b, "%s %.*s\n", t, (int)n, line);
	if (p->logfd >= 0 && write(p->logfd, b.p, b.len) < 0)
		p->logfd = -1;
	if (p->r->echo && write(2, line, n) >= 0 && write(2, "\n", 1) < 0)
		p->r->echo = 0;
	dblog_buf_free(&b);
}

/* dblogctl's own message, to the log and (echo) stderr. */
static void __attribute__((format(printf, 2, 3)))
say(struct pipeline *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(msg, sizeof msg, "%s: ", dblog_prog);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	log_line(p, msg, strlen(msg));
}

/* A message line of a stage: logged, and kept as its stage's last. */
static void
stage_line(struct pipeline *p, const char *line, size_t n)
{
	log_line(p, line, n);
	for (int i = 0; i < p->n; i++) {
		size_t pl = strlen(p->st[i].prog);
		if (n > pl && !strncmp(line, p->st[i].prog, pl) && line[pl] == ':')
			snprintf(p->st[i].last, sizeof p->st[i].last, "%.*s", (int)n, line);
	}
}

/* Read what the stages wrote to stderr; 0 at end of file. */
static int
read_messages(struct pipeline *p)
{
	char buf[8192];
	ssize_t n = read(p->errfd, buf, sizeof buf);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0) {
		if (p->partial.len)
			stage_line(p, p->partial.p, p->partial.len);
		dblog_buf_clear(&p->partial);
		return 0;
	}
	dblog_buf_add(&p->partial, buf, (size_t)n);
	char *s = p->partial.p, *nl;
	while ((nl = memchr(s, '\n', p->partial.len - (size_t)(s - p->partial.p)))) {
		stage_line(p, s, (size_t)(nl - s));
		s = nl + 1;
	}
	size_t rest = p->partial.len - (size_t)(s - p->partial.p);
	memmove(p->partial.p, s, rest);
	p->partial.len = rest;
	p->partial.p[rest] = 0;
	return 1;
}

/* ------------------------------------------------------------ the stages */

static void
capture_args(struct pipeline *p, struct argv *a)
{
	const json_t *spec = p->r->spec;
	const char *src = dblog_ctl_str(spec, "source"), *mode = dblog_ctl_str(spec, "mode");
	const char *tables = dblog_ctl_str(spec, "tables");
	const char *ival = dblog_ctl_str(spec, "checkpoint_interval");
	const char *args[] = { "dblog-capture", "--checkpoint", p->r->c->checkpoint, "--name",
			       p->r->c->name, "--mode", mode };
	for (size_t i = 0; i < sizeof args / sizeof *args; i++)
		push(a, args[i]);
	if (tables && !strcmp(mode, "snapshot")) {
		push(a, "--tables");
		push(a, tables);
	}
	if (p->r->once && strcmp(mode, "snapshot"))
		push(a, "--until-caught-up");
	if (dblog_ctl_is_pg(src)) {
		char *slot = dblog_ctl_slot(p->r->c->name);
		push(a, "--slot");
		push(a, slot);
		push(a, "--publication");
		push(a, slot);
		free(slot);
		push(a, "--heartbeat");
		push(a, ival ? ival : "10s");
	}
	push(a, src);
}

static void
apply_args(struct pipeline *p, struct argv *a)
{
	const json_t *spec = p->r->spec;
	const char *ival = dblog_ctl_str(spec, "checkpoint_interval");
	const char *dest = dblog_ctl_str(spec, "dest");
	const char *args[] = { "dblog-apply", "--stream", p->r->c->name, "--checkpoint",
			       p->r->c->checkpoint, "--conflict", dblog_ctl_str(spec, "conflict"),
			       "--create-tables" };
	for (size_t i = 0; i < sizeof args / sizeof *args; i++)
		push(a, args[i]);
	if (ival) {
		push(a, "--batch-ms");
		push(a, ival);
	}
	if (!dblog_ctl_is_pg(dblog_ctl_str(spec, "source")) && dblog_ctl_is_pg(dest)) {
		push(a, "--map-schema");
		push(a, "main=public");
	}
	push(a, dest);
}

/* The stages: capture, [filter,] [archive tee,] apply. */
static void
build(struct pipeline *p)
{
	const char *filter = dblog_ctl_str(p->r->spec, "filter");
	struct stage *s = &p->st[p->n++];
	s->prog = "dblog-capture";
	capture_args(p, &s->argv);
	if (filter) {
		s = &p->st[p->n++];
		s->prog = "dblog-filter";
		push(&s->argv, s->prog);
		push(&s->argv, "--");
		push(&s->argv, filter);
	}
	if (dblog_ctl_str(p->r->spec, "archive"))
		p->st[p->n++].prog = "dblogctl";      /* the archive tee, in a fork */
	s = &p->st[p->n++];
	s->prog = "dblog-apply";
	apply_args(p, &s->argv);
}

/* In a child: become a stage (never returns). */
static _Noreturn void
child(struct pipeline *p, struct stage *s, int in, int out, int errw, pid_t parent)
{
	/* a supervisor killed with -9 takes its pipeline with it */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(DBLOG_EXIT_RETRY);
	setpgid(0, p->pgid);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (in < 0)
		in = open("/dev/null", O_RDONLY);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errw, 2) < 0)
		_exit(DBLOG_EXIT_FAIL);
	close_range(3, ~0U, 0);
	if (!s->argv.n) {
		const char *keep = dblog_ctl_str(p->r->spec, "archive");
		int64_t ms = 0;
		dblog_parse_duration(keep, &ms);
		dblog_prog = "dblogctl";
		signal(SIGTERM, SIG_IGN);    /* drain: it ends at end of input */
		_exit(dblog_ctl_archive_tee(0, 1, p->r->c->archive, ms));
	}
	char *bin = dblog_ctl_bin(s->prog);
	execvp(bin, s->argv.v);
	fprintf(stderr, "%s: cannot run %s: %s\n", s->prog, bin, strerror(errno));
	_exit(127);
}

/* Start the stages; -1 when a pipe or fork failed (message logged). */
static int
start(struct pipeline *p)
{
	int errp[2], in = -1;
	if (pipe2(errp, O_CLOEXEC)) {
		say(p, "cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	p->errfd = errp[0];
	p->pgid = 0;
	pid_t self = getpid();
	for (int i = 0; i < p->n; i++) {
		struct stage *s = &p->st[i];
		int io[2] = { -1, -1 };
		if (i < p->n - 1 && pipe2(io, O_CLOEXEC)) {
			say(p, "cannot make a pipe: %s", strerror(errno));
			break;
		}
		int out = i < p->n - 1 ? io[1] : open("/dev/null", O_WRONLY | O_CLOEXEC);
		s->pid = fork();
		if (s->pid == 0)
			child(p, s, in, out, errp[1], self);
		if (s->pid < 0)
			say(p, "cannot fork: %s", strerror(errno));
		else if (!p->pgid)
			p->pgid = s->pid;
		if (s->pid > 0)
			setpgid(s->pid, p->pgid);
		if (in >= 0)
			close(in);
		close(out);
		in = io[0];
		if (s->pid < 0) {
			s->done = 1;
			s->status = -1;
			if (in >= 0)
				close(in);
			break;
		}
	}
	close(errp[1]);
	return 0;
}

static void
reap(struct pipeline *p)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (int i = 0; i < p->n; i++)
			if (p->st[i].pid == pid) {
				p->st[i].done = 1;
				p->st[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			}
}

static int
alive(const struct pipeline *p)
{
	int n = 0;
	for (int i = 0; i < p->n; i++)
		n += p->st[i].pid > 0 && !p->st[i].done;
	return n;
}

/* Has a stage failed, or ended while a stage before it still runs (the
 * pipeline cannot go on)? A stage that ends cleanly after those before it
 * only saw the end of its input: the stages after it finish their work. */
static int
broken(const struct pipeline *p)
{
	int upstream_alive = 0;
	for (int i = 0; i < p->n; i++) {
		const struct stage *s = &p->st[i];
		if (s->done && (s->status || upstream_alive))
			return 1;
		upstream_alive |= s->pid > 0 && !s->done;
	}
	return 0;
}

/* Wait for every stage, forwarding a stop to the capture (which ends at a
 * transaction boundary; the others follow at end of input). */
static void
wait_all(struct pipeline *p)
{
	int64_t deadline = 0;
	int eof = 0;
	while (alive(p) || !eof) {
		struct pollfd pf = { .fd = p->errfd, .events = POLLIN };
		int rc = eof ? 0 : poll(&pf, 1, 200);
		if (rc > 0 && !read_messages(p))
			eof = 1;
		reap(p);
		if (eof && alive(p)) {
			/* every stage closed its stderr: they are ending */
			dblog_sleep_ms(2);
			reap(p);
		}
		if (!deadline && broken(p) && alive(p)) {
			/* a stage failed, or the consumer ended: end the others */
			deadline = dblog_now_ms() + STOP_GRACE_MS;
			kill(-p->pgid, SIGTERM);
		}
		if (*p->r->stop && !deadline) {
			deadline = dblog_now_ms() + STOP_GRACE_MS;
			if (p->st[0].pid > 0 && !p->st[0].done)
				kill(p->st[0].pid, SIGTERM);
		}
		if (deadline && dblog_now_ms() > deadline && alive(p)) {
			say(p, "the pipeline did not stop within %d s: killed", STOP_GRACE_MS / 1000);
			kill(-p->pgid, SIGKILL);
			deadline = INT64_MAX;
		}
	}
	close(p->errfd);
}

enum outcome { OUT_OK, OUT_RETRY, OUT_FAIL };

/* What the stages' statuses mean; why gets the message of the stage to
 * blame. A stage killed by SIGPIPE only followed another one. */
static enum outcome
judge_pass(struct pipeline *p, char *why, size_t n, int with_term)
{
	enum outcome o = OUT_OK;
	for (int i = 0; i < p->n; i++) {
		struct stage *s = &p->st[i];
		int st = s->status;
		if (st == 0 || st == 128 + SIGPIPE || (!with_term && st == 128 + SIGTERM))
			continue;
		/* incomplete: a stage before it stopped mid-transaction; again resumes */
		enum outcome so = st == DBLOG_EXIT_RETRY || st == DBLOG_EXIT_INCOMPLETE || st > 128
					   ? OUT_RETRY : OUT_FAIL;
		if (so > o) {
			if (st > 128)
				snprintf(why, n, "%s was killed by signal %d", s->prog, st - 128);
			else if (*s->last)
				snprintf(why, n, "%s", s->last);
			else
				snprintf(why, n, "%s exited with status %d", s->prog, st);
			o = so;
		}
	}
	return o;
}

/* What the stages' statuses mean; why gets the message of the stage to
 * blame. Stages killed by SIGPIPE, or by the SIGTERM that ends the others
 * after a failure, only followed another one. */
static enum outcome
judge(struct pipeline *p, char *why, size_t n)
{
	enum outcome o = judge_pass(p, why, n, 0);
	return o != OUT_OK ? o : judge_pass(p, why, n, 1);
}

static void
pipeline_free(struct pipeline *p)
{
	for (int i = 0; i < p->n; i++)
		argv_free(&p->st[i].argv);
	dblog_buf_free(&p->partial);
}

/* ------------------------------------------------------------ supervision */

int
dblog_ctl_record(const struct dblog_ctl *c, const char *state, const char *error, long pid)
{
	char err[512], t[40];
	json_t *st = NULL;
	if (dblog_ctl_load(c->status, &st, err, sizeof err) || !st)
		st = json_object();
	int64_t now = dblog_time_now();
	dblog_time_format(now, t, sizeof t);
	json_object_set_new(st, "state", json_string(state));
	json_object_set_new(st, "pid", pid ? json_integer(pid) : json_null());
	json_object_set_new(st, "updated", json_string(t));
	json_t *errs = json_object_get(st, "errors"), *kept = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(errs, i, e) {
		int64_t et;
		const char *s = json_string_value(e);
		if (s && !dblog_time_parse(s, strlen(s), &et) && et > now - 3600LL * 1000000)
			json_array_append(kept, e);
	}
	if (error) {
		json_object_set_new(st, "last_error", json_string(error));
		json_object_set_new(st, "last_error_time", json_string(t));
		json_array_append_new(kept, json_string(t));
	}
	json_object_set_new(st, "errors", kept);
	int rc = dblog_ctl_save(c->status, st, err, sizeof err);
	if (rc)
		dblog_warn("%s", err);
	json_decref(st);
	return rc;
}

/* The state while a run goes on: snapshot when one is being taken. */
static const char *
run_state(struct dblog_ctl_run *r)
{
	const char *mode = dblog_ctl_str(r->spec, "mode");
	if (!strcmp(mode, "snapshot"))
		return "snapshot";
	if (!strcmp(mode, "snapshot_then_cdc")) {
		json_t *cp = NULL;
		char err[512];
		int rc = dblog_checkpoint_load(r->c->checkpoint, &cp, err, sizeof err);
		int snap = rc == 1 || json_is_true(json_object_get(cp, "snapshot"));
		json_decref(cp);
		if (snap)
			return "snapshot";
	}
	return r->once ? "catching_up" : "running";
}

/* One run of the pipeline. */
static enum outcome
run_once(struct dblog_ctl_run *r, int logfd, char *why, size_t n)
{
	struct pipeline p = { .r = r, .logfd = logfd, .errfd = -1 };
	build(&p);
	*why = 0;
	enum outcome o = OUT_FAIL;
	dblog_ctl_record(r->c, run_state(r), NULL, (long)getpid());
	if (!start(&p)) {
		wait_all(&p);
		o = judge(&p, why, n);
	}
	pipeline_free(&p);
	return o;
}

static int
paused(struct dblog_ctl_run *r)
{
	json_t *spec = NULL;
	char err[512];
	dblog_ctl_load(r->c->spec, &spec, err, sizeof err);
	int yes = !spec || json_is_true(json_object_get(spec, "paused"));
	json_decref(spec);
	return yes;
}

/* Sleep ms, waking early on a stop. */
static void
nap(struct dblog_ctl_run *r, int64_t ms)
{
	int64_t until = dblog_now_ms() + ms;
	while (!*r->stop && dblog_now_ms() < until) {
		dblog_sleep_ms(100);
	}
}

int
dblog_ctl_run(struct dblog_ctl_run *r)
{
	char why[600];
	int64_t backoff = BACKOFF_MIN_MS;
	int logfd = open(r->c->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct pipeline say_to = { .r = r, .logfd = logfd };
	signal(SIGPIPE, SIG_IGN);
	int status = DBLOG_EXIT_OK;
	for (;;) {
		int64_t t0 = dblog_now_ms();
		enum outcome o = run_once(r, logfd, why, sizeof why);
		if (o == OUT_FAIL) {
			say(&say_to, "stream %s failed: %s", r->c->name, why);
			dblog_ctl_record(r->c, "failed", why, 0);
			status = DBLOG_EXIT_FAIL;
			break;
		}
		if (*r->stop || (o == OUT_OK && (r->once || !strcmp(dblog_ctl_str(r->spec, "mode"),
								     "snapshot")))) {
			dblog_ctl_record(r->c, "stopped", NULL, 0);
			break;
		}
		if (o == OUT_OK)
			snprintf(why, sizeof why, "the pipeline ended by itself");
		if (r->once) {
			say(&say_to, "stream %s: %s (retryable: run again)", r->c->name, why);
			dblog_ctl_record(r->c, "stopped", why, 0);
			status = DBLOG_EXIT_RETRY;
			break;
		}
		if (dblog_now_ms() - t0 > BACKOFF_MAX_MS)
			backoff = BACKOFF_MIN_MS;
		say(&say_to, "stream %s: %s; restarting in %lld s", r->c->name, why,
		    (long long)(backoff / 1000));
		dblog_ctl_record(r->c, "running", why, (long)getpid());
		nap(r, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		if (*r->stop || paused(r)) {
			dblog_ctl_record(r->c, "stopped", NULL, 0);
			break;
		}
	}
	if (logfd >= 0)
		close(logfd);
	return status;
}

long
dblog_ctl_spawn(const char *const *argv, int in_fd, int out_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (in_fd < 0)
		in_fd = open("/dev/null", O_RDONLY);
	if (dup2(in_fd, 0) < 0 || (out_fd >= 0 && dup2(out_fd, 1) < 0))
		_exit(DBLOG_EXIT_FAIL);
	close_range(3, ~0U, 0);
	char *bin = dblog_ctl_bin(argv[0]);
	execvp(bin, (char *const *)argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", dblog_prog, bin, strerror(errno));
	_exit(127);
}

int
dblog_ctl_wait(long pid)
{
	int st;
	if (pid < 0)
		return -1;
	while (waitpid((pid_t)pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
dblog_ctl_spawn_wait(const char *const *argv, int in_fd, int out_fd)
{
	return dblog_ctl_wait(dblog_ctl_spawn(argv, in_fd, out_fd));
}
