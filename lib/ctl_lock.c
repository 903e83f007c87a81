/* ctl_lock.c - one run per stream: an flock(2) on the stream's lock file,
 * which goes with the process that holds it, also when it is killed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dblog.h"
#include "dblog_ctl.h"

int
dblog_ctl_lock(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the lock file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return -2;
		snprintf(err, errlen, "cannot lock \"%s\": %s", path, strerror(e));
		return -1;
	}
	return fd;
}

int
dblog_ctl_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

long
dblog_ctl_pid_read(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	return pid;
}

int
dblog_ctl_wait_unlocked(const char *path, int64_t ms)
{
	int64_t until = dblog_now_ms() + ms;
	while (dblog_ctl_locked(path)) {
		if (dblog_now_ms() >= until)
			return -1;
		dblog_sleep_ms(50);
	}
	return 0;
}

long
dblog_ctl_lock_holder(const char *path)
{
	struct stat st;
	if (stat(path, &st))
		return 0;
	FILE *f = fopen("/proc/locks", "r");
	if (!f)
		return 0;
	char line[256], want[64];
	snprintf(want, sizeof want, "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
	long pid = 0, p;
	char type[16], dev[64];
	while (!pid && fgets(line, sizeof line, f))
		if (sscanf(line, "%*d: %15s %*s %*s %ld %63s", type, &p, dev) == 3 &&
		    !strcmp(type, "FLOCK") && !strcmp(dev, want))
			pid = p;
	fclose(f);
	return pid;
}
