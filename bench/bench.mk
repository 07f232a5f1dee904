# bench/bench.mk - the benchmark: pusher against Bun (uWebSockets) and Node's
# ws on the same workloads (see bench/run). Included by the top Makefile; also
# usable alone from the top directory as `make -f bench/bench.mk bench`.
#
#   make bench          build everything it needs, run it (some 15 minutes; BENCH_ONLY=rooms,tls
#                       for only the room and TLS groups, BENCH_ONLY=cluster for only
#                       the nodes on one Redis, see bench/run)
#   make bench-quick    the same with small counts and 2 s phases

BENCH_CFLAGS = -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE

.PHONY: bench bench-quick bench-deps

# TLS through libssl (libssl-dev), for the workloads over wss://.
bench/loadgen: bench/loadgen.c bench/loadgen_tls.c bench/loadgen_tls.h
	$(CC) $(BENCH_CFLAGS) -o $@ bench/loadgen.c bench/loadgen_tls.c -lssl -lcrypto

# The peers' packages, exactly as their lockfile pins them (ws, and bun, whose
# platform package @oven/bun-linux-x64 carries the binary); Node itself comes
# from tests/setup. npm ci runs again only when the lockfile changed. That
# binary needs AVX2: on an x64 CPU without it, the same version's baseline
# build comes from the registry beside it (bench/run picks whichever runs).
BUN_VERSION = $(shell sed -n 's/.*"bun": *"\(.*\)".*/\1/p' bench/peers/package.json)

bench/peers/node_modules/.package-lock.json: bench/peers/package-lock.json
	bash tests/setup
	cd bench/peers && npm ci --no-audit --no-fund --loglevel=error
	if [ "$$(uname -m)" = x86_64 ] && ! grep -qw avx2 /proc/cpuinfo; then \
	    cd bench/peers && npm install --no-save --no-audit --no-fund --loglevel=error \
	        @oven/bun-linux-x64-baseline@$(BUN_VERSION); fi

bench-deps: bench/loadgen bench/peers/node_modules/.package-lock.json
	$(MAKE) -f Makefile pusher

bench: bench-deps
	bash bench/run

bench-quick: bench-deps
	BENCH_QUICK=1 bash bench/run
