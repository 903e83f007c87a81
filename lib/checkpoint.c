/* checkpoint.c - checkpoint files: validated loads, atomic saves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"

int
dblog_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Remove the temporary files PATH.tmp.PID in dir left by writers that were
 * killed between creating and renaming them: their process is gone and
 * the file is over a minute old. Once per process and path. */
static void
sweep_tmp(const char *path, const char *dir)
{
	static char *swept;
	if (swept && !strcmp(swept, path))
		return;
	free(swept);
	swept = dblog_xstrdup(path);
	char *bcopy = dblog_xstrdup(path);
	const char *base = basename(bcopy);
	size_t bl = strlen(base);
	DIR *d = opendir(dir);
	while (d) {
		struct dirent *e = readdir(d);
		if (!e)
			break;
		if (strncmp(e->d_name, base, bl) || strncmp(e->d_name + bl, ".tmp.", 5))
			continue;
		char *end;
		long pid = strtol(e->d_name + bl + 5, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		int alive = kill((pid_t)pid, 0) == 0 || errno != ESRCH;
		struct stat st;
		if (alive || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode) || st.st_mtime > time(NULL) - 60)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
	free(bcopy);
}

int
dblog_atomic_write(const char *path, const char *data, size_t n, char *err, size_t errlen)
{
	char *tmp = NULL, *dircopy = dblog_xstrdup(path);
	const char *dir = dirname(dircopy);
	struct dblog_buf t = { 0 };
	dblog_buf_printf(&t, "%s.tmp.%ld", path, (long)getpid());
	tmp = t.p;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *what = "create";
	if (fd < 0)
		goto fail;
	what = "write";
	if (dblog_write_all(fd, data, n))
		goto fail_close;
	what = "fsync";
	if (fsync(fd))
		goto fail_close;
	what = "close";
	if (close(fd)) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	what = "rename";
	if (rename(tmp, path))
		goto fail_unlink;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		/* fsync of the directory makes the rename durable */
		if (fsync(dfd) && errno != EINVAL) {
			int e = errno;
			close(dfd);
			snprintf(err, errlen, "cannot fsync directory \"%s\": %s", dir, strerror(e));
			free(dircopy);
			dblog_buf_free(&t);
			return -1;
		}
		close(dfd);
	}
	sweep_tmp(path, dir);
	free(dircopy);
	dblog_buf_free(&t);
	return 0;
fail_close:;
	int e = errno;
	close(fd);
	errno = e;
fail_unlink:
	e = errno;
	unlink(tmp);
	errno = e;
fail:
	snprintf(err, errlen, "cannot %s \"%s\": %s", what, tmp, strerror(errno));
	free(dircopy);
	dblog_buf_free(&t);
	return -1;
}

static int
shape_error(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "checkpoint \"%s\" is not valid: %s (restore it from a "
		 "copy, or remove it and set a position with 'dblog-checkpoint set')", path, why);
	return -1;
}

int
dblog_checkpoint_load(const char *path, json_t **out, char *err, size_t errlen)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "cannot open checkpoint \"%s\": %s", path, strerror(errno));
		return -1;
	}
	struct dblog_buf b = { 0 };
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read checkpoint \"%s\": %s", path, strerror(errno));
			close(fd);
			dblog_buf_free(&b);
			return -1;
		}
		if (n == 0)
			break;
		dblog_buf_add(&b, chunk, (size_t)n);
		if (b.len > 16 * 1024 * 1024)
			break;
	}
	close(fd);
	int rc = dblog_checkpoint_parse(b.p, b.len, path, out, err, errlen);
	dblog_buf_free(&b);
	return rc;
}

int
dblog_checkpoint_parse(const char *data, size_t n, const char *path, json_t **out,
		       char *err, size_t errlen)
{
	*out = NULL;
	if (n == 0)
		return shape_error(err, errlen, path, "the file is empty");
	json_error_t je;
	json_t *cp = json_loadb(data, n, 0, &je);
	if (!cp) {
		char why[300];
		snprintf(why, sizeof why, "%s at line %d column %d", je.text, je.line, je.column);
		return shape_error(err, errlen, path, why);
	}
	const char *why = NULL;
	struct dblog_pos pos;
	json_t *seq = json_object_get(cp, "seq");
	if (!json_is_object(cp))
		why = "not a JSON object";
	else if (!json_object_get(cp, "pos"))
		why = "no \"pos\" field";
	else if (dblog_pos_from_json(json_object_get(cp, "pos"), &pos))
		why = "\"pos\" is neither an LSN string nor a non-negative integer";
	else if (seq && !json_is_null(seq) && !(json_is_integer(seq) && json_integer_value(seq) >= 0))
		why = "\"seq\" is not a non-negative integer";
	if (why) {
		json_decref(cp);
		return shape_error(err, errlen, path, why);
	}
	*out = cp;
	return 0;
}

int
dblog_checkpoint_save(const char *path, json_t *cp, char *err, size_t errlen)
{
	char t[40];
	dblog_time_format(dblog_time_now(), t, sizeof t);
	json_object_set_new(cp, "version", json_integer(1));
	json_object_set_new(cp, "written", json_string(t));
	char *s = json_dumps(cp, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!s)
		dblog_die(DBLOG_EXIT_FAIL, "out of memory");
	size_t n = strlen(s);
	s = dblog_xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = 0;
	int rc = dblog_atomic_write(path, s, n, err, errlen);
	free(s);
	return rc;
}

void
dblog_checkpoint_pos(const json_t *cp, struct dblog_pos *pos, int64_t *seq, int *has_seq)
{
	pos->kind = DBLOG_POS_NONE;
	pos->v = 0;
	dblog_pos_from_json(json_object_get(cp, "pos"), pos);
	json_t *s = json_object_get(cp, "seq");
	*has_seq = json_is_integer(s);
	*seq = *has_seq ? json_integer_value(s) : -1;
}
