/* gen-events - a deterministic generator of realistic dblog events for
 * benchmarks and tests: transactions of 1-8 changes over ten tables, a mix
 * of insert/update/delete, 250-350 bytes per change event.
 * Whole transactions only: the last one may take it a few events past
 * EVENTS.
 * Usage: gen-events [-n EVENTS] [-s SEED] [--driver postgres|sqlite]
 *                   [--tx-max N]  (transactions of 1 to N changes, default 8) */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

static uint64_t rng;

static uint64_t
rnd(void)
{
	/* xorshift64*: small, fast, the same everywhere */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static const char *const tables[] = {
	"public.orders", "public.customers", "public.products", "public.order_items",
	"public.payments", "public.shipments", "public.inventory", "public.reviews",
	"public.sessions", "public.audit_log",
};
static const char *const words[] = {
	"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa",
};
static const char *const statuses[] = { "new", "paid", "shipped", "done", "cancelled" };

static void
text(char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	while (n + 10 < len) {
		const char *w = words[rnd() % 16];
		n += (size_t)snprintf(out + n, len - n, n ? " %s" : "%s", w);
	}
}

static void
row(char *out, size_t len, uint64_t id, int variant)
{
	char note[96], name[48];
	text(note, 16 + rnd() % 36);
	text(name, 10 + rnd() % 16);
	snprintf(out, len,
		 "{\"id\":%" PRIu64 ",\"customer_id\":%" PRIu64 ",\"status\":\"%s\","
		 "\"amount\":\"%" PRIu64 ".%02u\",\"name\":\"%s\",\"note\":\"%s\","
		 "\"updated_at\":\"2026-11-%02uT%02u:%02u:%02u.%06uZ\"}",
		 id, rnd() % 100000, statuses[(rnd() + (unsigned)variant) % 5],
		 rnd() % 5000, (unsigned)(rnd() % 100), name, note,
		 (unsigned)(1 + rnd() % 28), (unsigned)(rnd() % 24), (unsigned)(rnd() % 60),
		 (unsigned)(rnd() % 60), (unsigned)(rnd() % 1000000));
}

int
main(int argc, char **argv)
{
	uint64_t n = 1000000, seed = 42;
	int sqlite = 0, c;
	unsigned txmax = 8;
	static const struct option lo[] = {
		{ "driver", required_argument, NULL, 'd' },
		{ "tx-max", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 } };
	while ((c = getopt_long(argc, argv, "n:s:", lo, NULL)) != -1) {
		if (c == 'n') n = strtoull(optarg, NULL, 10);
		else if (c == 's') seed = strtoull(optarg, NULL, 10);
		else if (c == 'd') sqlite = !strcmp(optarg, "sqlite");
		else if (c == 't' && atoi(optarg) > 0) txmax = (unsigned)atoi(optarg);
		else return 2;
	}
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	static char buf[1 << 20];
	setvbuf(stdout, buf, _IOFBF, sizeof buf);
	const char *src = sqlite ? "{\"driver\":\"sqlite\",\"name\":\"shop\"}"
				 : "{\"driver\":\"postgres\",\"name\":\"app\"}";
	uint64_t emitted = 0, tx = 1000, lsn = 0x16B3748, seqno = 0;
	int64_t t = 1795000000LL * 1000000;
	char before[512], after[512], pos[32], ct[40];
	while (emitted < n) {
		unsigned k = 1 + (unsigned)(rnd() % txmax);
		lsn += 0x100 + rnd() % 0x4000;
		t += (int64_t)(rnd() % 5000000);
		dblog_time_format(t, ct, sizeof ct);
		if (sqlite)
			snprintf(pos, sizeof pos, "%" PRIu64, seqno + k);
		else
			snprintf(pos, sizeof pos, "\"%X/%X\"", (unsigned)(lsn >> 32), (unsigned)lsn);
		printf("{\"op\":\"begin\",\"source\":%s,\"tx\":%" PRIu64 ",\"pos\":%s,"
		       "\"commit_time\":\"%s\"}\n", src, tx, pos, ct);
		emitted++;
		for (unsigned i = 0; i < k; i++, emitted++) {
			const char *tb = tables[rnd() % 10];
			uint64_t id = 1 + rnd() % 1000000, r = rnd() % 10;
			const char *op = r < 5 ? "insert" : r < 9 ? "update" : "delete";
			printf("{\"op\":\"%s\",\"table\":\"%s\",\"source\":%s,\"tx\":%" PRIu64
			       ",\"pos\":%s,\"seq\":%u,\"commit_time\":\"%s\",\"key\":{\"id\":%" PRIu64 "}",
			       op, tb, src, tx, pos, i, ct, id);
			if (op[0] == 'd') {
				/* REPLICA IDENTITY FULL on one table in ten, key only elsewhere */
				if (tb == tables[9])
					row(before, sizeof before, id, 0);
				else
					snprintf(before, sizeof before, "{\"id\":%" PRIu64 "}", id);
				printf(",\"before\":%s", before);
			}
			if (op[0] != 'd') {
				row(after, sizeof after, id, 1);
				printf(",\"after\":%s", after);
			}
			fputs("}\n", stdout);
		}
		printf("{\"op\":\"commit\",\"source\":%s,\"tx\":%" PRIu64 ",\"pos\":%s,"
		       "\"commit_time\":\"%s\",\"count\":%u}\n", src, tx, pos, ct, k);
		emitted++;
		tx++;
		seqno += k;
	}
	return fflush(stdout) ? 1 : 0;
}
