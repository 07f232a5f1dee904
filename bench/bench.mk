# bench/bench.mk - the benchmark: pusher against Node's ws on the same
# workloads (see bench/run). Included by the top Makefile; also usable alone
# from the top directory as `make -f bench/bench.mk bench`.
#
#   make bench          build everything it needs, run it (a few minutes)
#   make bench-quick    the same with small counts and 2 s phases

BENCH_CFLAGS = -std=c11 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE

.PHONY: bench bench-quick bench-deps

bench/loadgen: bench/loadgen.c
	$(CC) $(BENCH_CFLAGS) -o $@ bench/loadgen.c

# The peer's packages, exactly as its lockfile pins them; Node itself comes
# from tests/setup. npm ci runs again only when the lockfile changed.
bench/peers/node_modules/.package-lock.json: bench/peers/package-lock.json
	bash tests/setup
	cd bench/peers && npm ci --no-audit --no-fund --loglevel=error

bench-deps: bench/loadgen bench/peers/node_modules/.package-lock.json
	$(MAKE) -f Makefile pusher

bench: bench-deps
	bash bench/run

bench-quick: bench-deps
	BENCH_QUICK=1 bash bench/run
