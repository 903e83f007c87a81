/* err.c - program name, messages, exit statuses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

const char *dblog_prog = "dblog";

void
dblog_init(const char *argv0)
{
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;
	if (argv0)
		dblog_prog = s ? s + 1 : argv0;
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
