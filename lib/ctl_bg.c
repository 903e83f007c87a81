/* ctl_bg.c - a stream in the background: the pid file, the daemon that
 * start(1) leaves running with its messages in the log, and the stop that
 * ends it at a transaction boundary. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

int
dblog_ctl_pid_write(const struct dblog_ctl *c, char *err, size_t errlen)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	return dblog_atomic_write(c->pid, buf, (size_t)n, err, errlen) ? -1 : 0;
}

/* In the grandchild: take the lock, detach from the terminal, stderr to the
 * log, tell the parent through fd report, run fn (never returns). */
static _Noreturn void
daemon_child(const struct dblog_ctl *c, int (*fn)(void *, int), void *arg, int report)
{
	char err[512];
	int lock = dblog_ctl_lock(c->lock, err, sizeof err);
	int log = open(c->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (lock < 0 || log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(log, 2) < 0) {
		if (write(report, "busy\n", 5) < 0)
			_exit(DBLOG_EXIT_FAIL);
		_exit(DBLOG_EXIT_RETRY);
	}
	close(null);
	close(log);
	if (dblog_ctl_pid_write(c, err, sizeof err) || write(report, "ok\n", 3) < 0)
		_exit(DBLOG_EXIT_FAIL);
	close(report);
	_exit(fn(arg, lock));
}

int
dblog_ctl_daemon(const struct dblog_ctl *c, int (*fn)(void *, int), void *arg, char *err,
		 size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
		return DBLOG_EXIT_FAIL;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		return DBLOG_EXIT_FAIL;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		daemon_child(c, fn, arg, p[1]);
	}
	close(p[1]);
	char buf[8] = { 0 };
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (n <= 0 || strncmp(buf, "ok", 2)) {
		snprintf(err, errlen, "stream \"%s\" did not start (see %s)", c->name, c->log);
		return DBLOG_EXIT_RETRY;
	}
	return DBLOG_EXIT_OK;
}

/* The pid of the process that holds the stream's lock: from the kernel's
 * lock table when it tells, else the pid file (which a supervisor killed
 * with -9 leaves behind); 0 when neither does. A run that has just taken
 * the lock may not have written its pid yet: wait for it a little. */
static long
holder(const struct dblog_ctl *c)
{
	for (int i = 0; i < 40; i++) {
		long pid = dblog_ctl_lock_holder(c->lock);
		if (!pid)
			pid = dblog_ctl_pid_read(c->pid);
		if (pid && !kill((pid_t)pid, 0))
			return pid;
		dblog_sleep_ms(25);
	}
	return 0;
}

int
dblog_ctl_stop(const struct dblog_ctl *c, int64_t ms, char *err, size_t errlen)
{
	if (!dblog_ctl_locked(c->lock))
		return 0;
	long pid = holder(c);
	if (!pid || kill((pid_t)pid, SIGTERM)) {
		if (!dblog_ctl_locked(c->lock))
			return 0;     /* it ended meanwhile */
		snprintf(err, errlen, "stream \"%s\" is locked but no process can be found to stop",
			 c->name);
		return -1;
	}
	if (dblog_ctl_wait_unlocked(c->lock, ms)) {
		snprintf(err, errlen, "stream \"%s\" (pid %ld) did not stop within %lld s", c->name,
			 pid, (long long)(ms / 1000));
		return -1;
	}
	return 0;
}
