# dblog - Makefile (GNU make)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

PKGS := libpq sqlite3 jansson uuid
CC ?= cc
OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS ?= $(OPT)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) $(CFLAGS) $(SAN) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) -Ilib
LDLIBS_ALL = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread

# Build directory: build/ normally, build-asan/ for the sanitizer run.
B ?= build
CMDS := $(basename $(notdir $(wildcard cmd/*.c)))
LIBSRC := $(wildcard lib/*.c)
LIBOBJ := $(patsubst lib/%.c,$(B)/lib/%.o,$(LIBSRC))
BINS := $(addprefix $(B)/bin/,$(CMDS))
BENCHSRC := $(wildcard tests/bench/*.c)
BENCHBINS := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCHSRC))

.PHONY: all deps check check-asan torture fuzz fuzz-build fuzz-merge bench demo install uninstall clean lint

all: deps
	@$(MAKE) --no-print-directory build

build: $(BINS) $(BENCHBINS)

deps:
	@sh scripts/deps.sh

$(B)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libdblog.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/bin/%: cmd/%.c $(B)/libdblog.a $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libdblog.a $(LDLIBS_ALL) $(SAN)

$(B)/bench/%: tests/bench/%.c $(B)/libdblog.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libdblog.a $(LDLIBS_ALL) $(SAN)

# The test command of the README: builds, then runs every bats file
# (T=NAME: only tests/*NAME*.bats).
TESTS = $(if $(T),$(wildcard tests/*$(T)*.bats),tests/)
check: deps
	@$(MAKE) --no-print-directory build
	DBLOG_BIN=$(CURDIR)/$(B)/bin DBLOG_BENCH_BIN=$(CURDIR)/$(B)/bench \
		bats --timing $(TESTS)

# The torture suite (tests/torture/README.md): random schemas, workloads and
# faults, source and destination compared. SEED=N (first case), COUNT=N or
# SECONDS=N (default 20 cases), SKIP_PENDING=1 (leave out tests/torture/pending.txt).
torture: deps
	@$(MAKE) --no-print-directory build
	DBLOG_BIN=$(CURDIR)/$(B)/bin python3 tests/torture/torture.py \
		$(if $(SEED),--seed $(SEED)) $(if $(COUNT),--count $(COUNT)) \
		$(if $(SECONDS),--seconds $(SECONDS)) $(if $(SKIP_PENDING),--skip-pending) \
		$(TORTURE_FLAGS)

check-asan: deps
	@$(MAKE) --no-print-directory B=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" build
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	DBLOG_ASAN=1 DBLOG_BIN=$(CURDIR)/build-asan/bin DBLOG_BENCH_BIN=$(CURDIR)/build-asan/bench \
		bats $(TESTS)

# libFuzzer harnesses (tests/fuzz/, see its README), built with clang under
# ASan and UBSan into build-fuzz/; each runs FUZZ_SECONDS from its corpus
# tests/fuzz/corpus/NAME (read only: what it finds goes to build-fuzz/corpus/
# NAME; make fuzz-merge adds the inputs that reach new code to the repo's).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS ?=
FUZZERS := $(basename $(notdir $(wildcard tests/fuzz/*.c)))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_MAKE = $(MAKE) --no-print-directory B=build-fuzz CC=$(FUZZ_CC) \
	OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)"

fuzz: deps
	@$(FUZZ_MAKE) fuzz-build
	@set -e; for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus/$$f build-fuzz/crash; \
		rm -f build-fuzz/crash/$$f-*; \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		build-fuzz/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=0 -artifact_prefix=build-fuzz/crash/$$f- \
			$(FUZZ_FLAGS) build-fuzz/corpus/$$f tests/fuzz/corpus/$$f 2> build-fuzz/$$f.log || { \
			tail -n 60 build-fuzz/$$f.log; \
			echo "fuzz: $$f failed (log build-fuzz/$$f.log; reproduce: build-fuzz/fuzz/$$f build-fuzz/crash/$$f-*)"; \
			exit 1; }; \
		grep -E '^#[0-9]+.*DONE' build-fuzz/$$f.log | tail -n 1; \
	done

# (through FUZZ_MAKE, which sets the compiler and the flags)
fuzz-build: $(patsubst %,build-fuzz/fuzz/%,$(FUZZERS))

build-fuzz/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h build-fuzz/libdblog.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libdblog.a $(LDLIBS_ALL) $(SAN)

# Keep what the last make fuzz found that reaches new code (minimized).
fuzz-merge:
	@$(FUZZ_MAKE) fuzz-build
	@set -e; for f in $(FUZZERS); do mkdir -p build-fuzz/corpus/$$f tests/fuzz/corpus/$$f; \
		build-fuzz/fuzz/$$f -merge=1 tests/fuzz/corpus/$$f build-fuzz/corpus/$$f \
			2> build-fuzz/$$f.merge.log; done

bench: deps
	@$(MAKE) --no-print-directory build
	DBLOG_BIN=$(CURDIR)/$(B)/bin DBLOG_BENCH_BIN=$(CURDIR)/$(B)/bench sh tests/bench/run.sh

demo: deps
	@$(MAKE) --no-print-directory build
	DBLOG_BIN=$(CURDIR)/$(B)/bin sh scripts/demo.sh

lint:
	mandoc -Tlint -Wwarning man/*.[157]

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7
	# bash and fish load completions by command name: one copy per command
	for c in $(CMDS); do \
		install -m 644 completions/dblog.bash $(DESTDIR)$(BASHCOMPDIR)/$$c; \
		install -m 644 completions/dblog.fish $(DESTDIR)$(FISHCOMPDIR)/$$c.fish; done
	install -m 644 completions/_dblog $(DESTDIR)$(ZSHCOMPDIR)/_dblog

uninstall:
	for c in $(CMDS); do rm -f $(DESTDIR)$(BINDIR)/$$c $(DESTDIR)$(BASHCOMPDIR)/$$c \
		$(DESTDIR)$(FISHCOMPDIR)/$$c.fish; done
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(wildcard man/*.7)))
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_dblog

clean:
	rm -rf build build-asan build-fuzz
