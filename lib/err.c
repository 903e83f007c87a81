/* err.c - program name, messages, exit statuses. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

const char *dblog_prog = "dblog";

volatile sig_atomic_t dblog_stop;

static void
on_stop(int sig)
{
	dblog_stop = sig;
}

void
dblog_init(char **argv)
{
	const char *argv0 = argv[0];
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;
	if (argv0) {
		dblog_prog = s ? s + 1 : argv0;
		argv[0] = (char *)dblog_prog;   /* getopt's messages name the program */
	}
}

void
dblog_catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a blocked read returns so the loop sees the flag */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
vmsg(const char *prefix, const char *fmt, va_list ap)
{
	/* One write for the whole message keeps lines whole in shared logs. */
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "%s: %s", dblog_prog, prefix);
	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof buf - 2)
		len = sizeof buf - 2;
	/* one line: a message of several (libpq's, a server's DETAIL) has its
	 * line breaks and the indentation after them made one space */
	size_t o = (size_t)n;
	for (size_t i = (size_t)n; i < len; i++) {
		if (buf[i] != '\n' && buf[i] != '\r') {
			buf[o++] = buf[i];
			continue;
		}
		while (o > (size_t)n && (buf[o - 1] == ' ' || buf[o - 1] == '\t'))
			o--;
		while (i + 1 < len && strchr("\r\n\t ", buf[i + 1]))
			i++;
		if (i + 1 < len && o > (size_t)n)
			buf[o++] = ' ';
	}
	len = o;
	buf[len++] = '\n';
	fflush(stdout);
	fwrite(buf, 1, len, stderr);
	fflush(stderr);
}

void
dblog_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void
dblog_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void
dblog_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(status);
}

void
dblog_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help'.\n", dblog_prog);
	exit(DBLOG_EXIT_USAGE);
}

void
dblog_version(void)
{
	printf("%s (dblog) %s\n", dblog_prog, DBLOG_VERSION);
	exit(dblog_stdout_close());
}
