# Fuzzing (included by the Makefile): libFuzzer harnesses, one per parser,
# and one that feeds a byte stream through a whole server connection.
#
#   make fuzz          build every harness into build/fuzz/, then run each for
#                      FUZZ_SECONDS (30) on a scratch copy of its corpus
#   make fuzz-check    the same; the name the test runner calls
#   make fuzz-build    build them only
#
# A run fails on any crash, leak, timeout or broken property, and keeps the
# input that did it in build/fuzz/artifacts/. Replay one with, say,
#   build/fuzz/fuzz_ws build/fuzz/artifacts/ws-crash-...
# Seeds are made by fuzz/gen_corpus.py; the harness files say what they check.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(WARN) $(CPPFLAGS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link

# Each harness as name:max_len:dictionary. The lengths fit what is parsed (a
# head is at most 8 KiB, a token 4 KiB, 4 KiB of journal holds records of
# every kind, and a run of RESP replies 4 KiB); a dictionary D is
# fuzz/D.dict, or build/fuzz/D.dict where it is put together below.
FUZZERS    = http:12288:http ws:512:ws utf8:512: json:4096:json jwt:6144:json conn:8192:conn \
             record:4096:record resp:4096:resp
FUZZ_NAMES = $(foreach f,$(FUZZERS),$(firstword $(subst :, ,$(f))))
FUZZ_BINS  = $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

.PHONY: fuzz fuzz-check fuzz-build
fuzz-build: $(FUZZ_BINS) build/fuzz/conn.dict

fuzz fuzz-check: fuzz-build
	@bash fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

# What each harness links besides its own file: the code under test, which
# is instrumented like the harness.
build/fuzz/fuzz_http: build/fuzz/http.o build/fuzz/handshake.o build/fuzz/ws.o build/fuzz/jwt.o \
                      build/fuzz/json.o build/fuzz/message.o
build/fuzz/fuzz_ws: build/fuzz/ws.o
build/fuzz/fuzz_utf8: build/fuzz/ws.o
build/fuzz/fuzz_json: build/fuzz/json.o build/fuzz/message.o build/fuzz/ws.o
build/fuzz/fuzz_jwt: build/fuzz/jwt.o build/fuzz/json.o
build/fuzz/fuzz_record: build/fuzz/record.o build/fuzz/buf.o build/fuzz/message.o \
                        build/fuzz/json.o build/fuzz/ws.o
build/fuzz/fuzz_resp: build/fuzz/resp.o build/fuzz/buf.o
build/fuzz/fuzz_conn: $(patsubst %.c,build/fuzz/%.o,$(filter-out pusher.c,$(SRCS))) \
                      build/fuzz/static_files.o
build/fuzz/fuzz_%: build/fuzz/fuzz_%.o
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LIBS)
.SECONDARY: $(FUZZ_BINS:%=%.o)

build/fuzz/%.o: fuzz/%.c | build/fuzz/runtime.ok
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/%.o: %.c | build/fuzz/runtime.ok
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/static_files.o: build/static_files.c static.h | build/fuzz/runtime.ok
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# The whole-connection harness meets every kind of token.
build/fuzz/conn.dict: fuzz/http.dict fuzz/ws.dict fuzz/json.dict
	cat $^ > $@

# libFuzzer's runtime comes apart from clang on Debian: fuzz/runtime installs
# it when run as root, and fails saying what to install otherwise.
build/fuzz/runtime.ok: fuzz/runtime
	@mkdir -p $(@D)
	@bash fuzz/runtime $(FUZZ_CC)
	@touch $@

# Unit tests that replay what the fuzzers found (tests/unit/test_fuzzcases_*.c)
# through the harness itself, built like every other unit test.
build/test_fuzzcases_conn: fuzz/fuzz_conn.c fuzz/fuzz.h $(filter-out pusher.c,$(SRCS)) \
                           build/static_files.c

-include $(wildcard build/fuzz/*.d)
