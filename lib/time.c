/* time.c - RFC 3339 times as microseconds since the epoch (UTC). */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "dblog.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

static int
digits(const char *s, const char *end, int n, int *out)
{
	int v = 0;
	if (end - s < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
dblog_time_parse(const char *s, size_t len, int64_t *us)
{
	const char *p = s, *end = s + len;
	int Y, M, D, h = 0, mi = 0, sec = 0;
	int64_t frac = 0;
	if (len < 10)   /* p[4] and p[7] are read before digits() looks */
		return -1;
	if (digits(p, end, 4, &Y) || p[4] != '-' || digits(p + 5, end, 2, &M) ||
	    p + 7 >= end || p[7] != '-' || digits(p + 8, end, 2, &D))
		return -1;
	p += 10;
	if (M < 1 || M > 12 || D < 1 || D > 31)
		return -1;
	int64_t off = 0;
	if (p < end) {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (digits(p, end, 2, &h) || p + 2 >= end || p[2] != ':' ||
		    digits(p + 3, end, 2, &mi))
			return -1;
		p += 5;
		if (p < end && *p == ':') {
			if (digits(p + 1, end, 2, &sec))
				return -1;
			p += 3;
		}
		if (p < end && (*p == '.' || *p == ',')) {
			p++;
			int nd = 0;
			while (p < end && isdigit((unsigned char)*p)) {
				if (nd < 6)
					frac = frac * 10 + (*p - '0');
				nd++;
				p++;
			}
			if (!nd)
				return -1;
			for (; nd < 6; nd++)
				frac *= 10;
		}
		if (h > 23 || mi > 59 || sec > 60)
			return -1;
		if (p < end && (*p == 'Z' || *p == 'z')) {
			p++;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int oh, om = 0;
			int sign = *p == '-' ? -1 : 1;
			if (digits(p + 1, end, 2, &oh))
				return -1;
			p += 3;
			if (p < end && *p == ':')
				p++;
			if (p < end) {
				if (digits(p, end, 2, &om))
					return -1;
				p += 2;
			}
			off = sign * ((int64_t)oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return -1;
	int64_t t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 +
		    h * 3600 + mi * 60 + sec - off;
	/* in UTC too the year has 4 digits, so that what parses prints back
	 * as a time that parses (9999-12-31T23:00:00-02:00 would not) */
	if (t < -62167219200LL || t >= 253402300800LL)
		return -1;
	*us = t * 1000000 + frac;
	return 0;
}

int64_t
dblog_time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
dblog_time_parse_arg(const char *s, int64_t *us)
{
	if (!dblog_time_parse(s, strlen(s), us))
		return 0;
	if (!strcmp(s, "now")) {
		*us = dblog_time_now();
		return 0;
	}
	/* relative: "2h", "-2h", "2h ago", "2h-ago" */
	char tmp[64];
	const char *p = s;
	if (*p == '-')
		p++;
	size_t n = strlen(p);
	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, p, n + 1);
	const char *suffixes[] = { " ago", "-ago", "ago" };
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffixes[i]);
		if (n > sl && !strcmp(tmp + n - sl, suffixes[i])) {
			tmp[n - sl] = 0;
			break;
		}
	}
	int64_t ms, now = dblog_time_now();
	if (dblog_parse_duration(tmp, &ms))
		return -1;
	/* no time before the year 1 (which is also where ms * 1000 and the
	 * subtraction would overflow) */
	if (ms > (now - DBLOG_TIME_MIN) / 1000)
		return -2;
	*us = now - ms * 1000;
	return 0;
}

void
dblog_time_format(int64_t us, char *out, size_t n)
{
	/* floor division, without negating us (INT64_MIN has no negation) */
	int64_t frac = us % 1000000, secs = us / 1000000 - (frac < 0);
	frac += frac < 0 ? 1000000 : 0;
	int64_t rem = secs % 86400, days = secs / 86400 - (rem < 0);
	rem += rem < 0 ? 86400 : 0;
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, n, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d,
		 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}
