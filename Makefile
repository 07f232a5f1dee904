# pusher - a WebSocket push and chat server in C.
#
#   make          build ./pusher (statically linked)
#   make run      build and start it with its defaults (port 8080)
#   make check    build and run every test suite (installs what they need)
#   make test     the quick loop: unit and e2e tests only (after one make check)
#   make install  install the binary and its man page under $(DESTDIR)$(PREFIX)
#   make bench    measure pusher against Node ws and Bun (uWebSockets) peers (bench/)
#   make fuzz     run every libFuzzer harness for a while (fuzz/)

CC      ?= cc
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PREFIX  ?= /usr/local
STATIC  ?= -static
WARN     = -std=c11 -Wall -Wextra -Werror
CPPFLAGS += -D_GNU_SOURCE -I.
LIBS     = -lssl -lcrypto
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

SRCS = ws.c http.c json.c message.c jwt.c handshake.c buf.c frame.c hash.c history.c \
       config.c log.c loop.c loop_poll.c loop_epoll.c deadline.c outq.c uring.c transport_tcp.c conn_output.c \
       tls.c transport_tls.c conn.c resp.c redis_link.c redis.c session.c users.c rooms.c \
       offline.c record.c journal.c store.c cluster_script.c cluster_bus.c cluster.c connmgr.c connmgr_answer.c connmgr_bus.c api.c metrics.c static.c endpoints.c server.c pusher.c
PAGE = $(wildcard static/*)
UNITS = ws json http jwt config connmgr handshake fuzzcases_conn session rooms offline record resp redis

OBJS      = $(SRCS:%.c=build/%.o) build/static_files.o
ASAN_OBJS = $(SRCS:%.c=build/asan/%.o) build/asan/static_files.o

.PHONY: all run check test unit install clean
all: pusher

pusher: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC) -o $@ $(OBJS) $(LIBS)

# The same server with AddressSanitizer and UndefinedBehaviorSanitizer, for
# the tests (sanitizers need the dynamic loader, so this one is not static).
pusher-asan: $(ASAN_OBJS)
	$(CC) -O1 -g $(SAN) $(LDFLAGS) -o $@ $(ASAN_OBJS) $(LIBS)

build/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# It also has the test-only hooks (PUSHER_TEST_HOOKS: a crash injected at
# a named point), which the release build leaves out.
build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) -DPUSHER_TEST_HOOKS -O1 -g $(SAN) -MMD -MP -c -o $@ $<

# The chat page is compiled in, so the binary alone serves it.
build/embed: tools/embed.c
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -o $@ $<

build/static_files.c: build/embed $(PAGE)
	build/embed static $(sort $(PAGE)) > $@

build/static_files.o: build/static_files.c static.h
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/static_files.o: build/static_files.c static.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) -O1 $(SAN) -c -o $@ $<

# Unit tests link the module under test (plus what it builds on) with the
# sanitizers, and feed it every prefix of their inputs.
build/test_ws: ws.c
build/test_json: json.c message.c ws.c
build/test_http: http.c
build/test_jwt: jwt.c json.c
build/test_config: config.c redis.c redis_link.c resp.c buf.c loop.c loop_poll.c loop_epoll.c
build/test_connmgr: connmgr.c connmgr_answer.c connmgr_bus.c store.c hash.c history.c users.c rooms.c offline.c json.c message.c ws.c jwt.c \
                   cluster_script.c cluster_bus.c cluster.c redis.c redis_link.c resp.c buf.c loop.c loop_poll.c loop_epoll.c
build/test_handshake: handshake.c http.c ws.c jwt.c json.c message.c
build/test_session: session.c ws.c message.c json.c buf.c frame.c log.c
build/test_rooms: rooms.c hash.c history.c
build/test_offline: offline.c hash.c frame.c ws.c
build/test_record: record.c buf.c message.c json.c ws.c
build/test_resp: resp.c buf.c
build/test_redis: redis.c redis_link.c resp.c buf.c loop.c loop_poll.c loop_epoll.c
build/test_%: tests/unit/test_%.c tests/unit/check.h
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) -O1 -g $(SAN) -o $@ $< $(filter %.c,$(filter-out $<,$^)) $(LIBS)

unit: $(UNITS:%=build/test_%)

# The e2e suite's wrapper that forbids io_uring, as a container might.
build/no_uring: tests/no_uring.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CPPFLAGS) -O1 -o $@ $<

run: pusher
	./pusher

check: pusher pusher-asan unit
	bash tests/run

# The unit tests and the e2e suite against ./pusher: no fuzzing, no apt-get,
# no network. tests/run builds them, once it has seen that tests/setup has
# run. One suite alone: bash tests/run e2e (or browser, proxy, ...).
test:
	bash tests/run quick

install: pusher
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 pusher $(DESTDIR)$(PREFIX)/bin/pusher
	install -m 644 pusher.1 $(DESTDIR)$(PREFIX)/share/man/man1/pusher.1

clean:
	rm -rf build pusher pusher-asan

include fuzz/fuzz.mk
include bench/bench.mk
-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d)
