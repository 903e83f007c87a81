/* fuzz.h - what the libFuzzer harnesses share: each tests/fuzz/NAME.c is
 * one parser of outside input fed the fuzzer's bytes, built by make fuzz
 * with clang under ASan and UBSan (see README). A harness checks the
 * parser's own promises (a value it accepts reads back the same) and
 * aborts when one is broken, so that the fuzzer reports it as a crash. */
#ifndef DBLOG_FUZZ_H
#define DBLOG_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: say which, then abort (the fuzzer keeps the input). */
#define FUZZ_CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

/* The input as a NUL-terminated string (owned by the caller), cut at its
 * first NUL as a C string argument would be. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = dblog_xmalloc(size + 1);
	if (size)
		memcpy(s, data, size);
	s[size] = 0;
	return s;
}

/* The input as an exact-size heap copy (so that ASan sees a read past its
 * end), owned by the caller. */
static inline char *
fuzz_copy(const void *p, size_t n)
{
	char *s = dblog_xmalloc(n);
	if (n)
		memcpy(s, p, n);
	return s;
}

#endif
