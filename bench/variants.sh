# bench/variants.sh - sourced by bench/run: the room, TLS and cluster workloads.
# shellcheck shell=bash disable=SC2034  # its variables are bench/run's
#
#   rooms (pusher only: neither peer has rooms)
#     W2 to a room        W2's fan-out with every receiver in room r and the
#                         Group to it, beside W2 to everyone in each round
#     W1 in 10 rooms      W1 with every connection in 10 of 1 000 shared rooms
#     R3 rooms of 2       pairs, each alone in a room with one Group a second:
#                         latency, CPU per delivery, history memory per room
#     R4 join             a Join into a room of 10 000 against one into a room of 2
#   tls
#     W1 over TLS         pusher --tls-cert against Node ws on node:https
#     W2, W4 over TLS     pusher --tls-cert, and plain pusher behind nginx
#                         (contrib/nginx.conf) ending TLS, beside plain pusher
#   cluster (pusher only: the peers have no Redis bus)
#     W2 over nodes       W2's fan-out against pusher with --redis on one node,
#                         and on 2 and 3 nodes sharing one Redis, the receivers
#                         spread over them round robin, the sender on the
#                         first; beside plain pusher (no Redis) in each round.
#                         The nodes and Redis share core 0, as the machine has
#                         2 cores: this measures what a delivery and a message
#                         cost, not how nodes scale. Redis is a fresh one of
#                         the run's own per run, on a Unix socket in $WORK,
#                         stopped by its PID.
#
# It uses run, start_server's SERVER_PID and PORT, and $WORK from bench/run;
# the certificate is made at run time in $WORK/tls.

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ROOMS_DISTINCT=50 PAIRS=250 PAIRS_FILL=20 JOIN_MEMBERS=500 JOINS=100
else
    # 9 500 pairs, not 10 000: 19 000 connections is what one process's
    # 20 000 open files leave room for (loadgen's MAX_CONNS).
    ROOMS_DISTINCT=1000 PAIRS=9500 PAIRS_FILL=100 JOIN_MEMBERS=10000 JOINS=2000
fi
ROOMS_EACH=10

NGINX=$(command -v nginx || true)
[ -x "$NGINX" ] || NGINX=$(ls /usr/sbin/nginx 2>/dev/null || true)

# A self-signed P-256 certificate for 127.0.0.1, made once per run.
tls_files() {
    local dir=$WORK/tls
    [ -f "$dir/cert.pem" ] && return 0
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 2>"$dir/openssl.log" ||
        die "openssl could not make a certificate; see $dir/openssl.log"
}

# The command lines of the variants (server_cmd's other names).
variant_cmd() {
    case $1 in
    # The same pusher as plain: the rooms are the load generator's doing.
    pusher-rooms) echo ./pusher --port 0 --max-rate 0 --max-pending 16m ;;
    pusher-tls)   echo ./pusher --port 0 --max-rate 0 --max-pending 16m \
                       --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" ;;
    ws-peer-tls)  echo node bench/peers/ws-peer.js 0 \
                       --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" ;;
    # Plain pusher on the loopback, behind nginx_start's proxy.
    pusher-nginx) echo ./pusher --bind 127.0.0.1 --port 0 --max-rate 0 --max-pending 16m ;;
    # Every node of a cluster variant alike, on redis_start's Redis.
    pusher-redis|pusher-[0-9]nodes)
                  echo ./pusher --port 0 --max-rate 0 --max-pending 16m --redis "unix:$REDIS_SOCK" ;;
    *) die "unknown server $1" ;;
    esac
}

# Does server $1 speak TLS to the load generator?
speaks_tls() { case $1 in *-tls|pusher-nginx) return 0 ;; esac; return 1; }

# A TCP port on 127.0.0.1 that was free a moment ago (nginx needs a number).
free_port() {
    node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => {
        console.log(s.address().port); s.close(); });'
}

# nginx on core 0 beside pusher (listening on $PORT), with contrib/nginx.conf
# as the operator would use it, its ports and certificate swapped in the way
# tests/proxy does; sets PORT to nginx's and EXTRA_PIDS to nginx's processes,
# so the load generator counts their CPU and memory with pusher's.
NGINX_PID=
nginx_start() {
    local dir=$WORK/nginx recipe=contrib/nginx.conf
    mkdir -p "$dir/logs" "$dir/tmp"
    local https_port http_port
    https_port=$(free_port)
    http_port=$(free_port)
    sed -e "s|listen 443 ssl;|listen 127.0.0.1:$https_port ssl;|" \
        -e "s|listen 80;|listen 127.0.0.1:$http_port;|" \
        -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$PORT;|" \
        -e "s|/etc/ssl/certs/chat.example.com.pem;|$WORK/tls/cert.pem;|" \
        -e "s|/etc/ssl/private/chat.example.com.key;|$WORK/tls/key.pem;|" "$recipe" >"$dir/pusher.conf"
    grep -q "127.0.0.1:$https_port ssl" "$dir/pusher.conf" || die "$recipe lacks 'listen 443 ssl;'"
    # One worker, as pusher is one thread; 2 descriptors per client through it.
    cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 9000; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
    include $dir/pusher.conf;
}
CONF
    # As root, nginx's worker runs as nobody: let it through the work dir.
    chmod 755 "$WORK" "$dir"
    taskset -c 0 "$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" \
        2>>"$dir/logs/stderr.log" &
    NGINX_PID=$!
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$https_port") 2>/dev/null; then
            EXTRA_PIDS="$NGINX_PID,$(pgrep -P "$NGINX_PID" | paste -sd, -)"
            PORT=$https_port
            return 0
        fi
        alive "$NGINX_PID" || die "nginx exited at start; see $dir/logs"
        sleep 0.1
    done
    die "nginx did not listen on $https_port in 10 s; see $dir/logs"
}

# Fast shutdown (SIGTERM); SIGKILL to what is left after 5 s.
nginx_stop() {
    [ -n "$NGINX_PID" ] || return 0
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        alive "$NGINX_PID" || break
        sleep 0.1
    done
    alive "$NGINX_PID" && kill -KILL "$NGINX_PID"
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=
    EXTRA_PIDS=
}

# Within each round of W2 and W4 (bench/run's loop).
rooms_round() {
    run "$W2" pusher-rooms fanout "$FAN_WIN" --window=8 --seconds="$SECS" --room=r
}

tls_round() {
    run "$W2" pusher-tls fanout "$FAN_WIN" --window=8 --seconds="$SECS"
    [ -n "$NGINX" ] && run "$W2" pusher-nginx fanout "$FAN_WIN" --window=8 --seconds="$SECS"
    run "W4 echo $ECHO" pusher-tls echo "$ECHO" --seconds="$SECS"
    [ -n "$NGINX" ] && run "W4 echo $ECHO" pusher-nginx echo "$ECHO" --seconds="$SECS"
    return 0
}

# After the rounds: the workloads of rooms and TLS that stand alone.
rooms_after() {
    run "W1 idle $IDLE_A" pusher-rooms idle "$IDLE_A" --rooms-each="$ROOMS_EACH" \
        --rooms-distinct="$ROOMS_DISTINCT"
    run "R3 $PAIRS rooms of 2, a Group a second each" pusher pairs "$PAIRS" \
        --fill="$PAIRS_FILL" --seconds="$SECS"
    run "R4 Join into a room of $JOIN_MEMBERS" pusher join "$JOIN_MEMBERS" --joins="$JOINS"
}

tls_after() {
    for s in pusher-tls ws-peer-tls; do run "W1 idle $IDLE_A" $s idle "$IDLE_A"; done
}

tls_check() {
    tls_files
    if [ -z "$NGINX" ]; then
        echo "bench: !! nginx is not installed (tests/setup installs it when root):" \
            "skipping pusher behind nginx; the other TLS workloads run" >&2
    fi
}

# ------------------------------------------------------------------ cluster

REDIS_SERVER=$(command -v redis-server || true)
REDIS_PID='' REDIS_SOCK='' NODE_PIDS='' NODES_ENDED=''

# The nodes server $1 runs on: 1 for pusher-redis, N for pusher-Nnodes, 0
# for a server without Redis.
nodes_of() {
    case $1 in
    pusher-redis) echo 1 ;;
    pusher-[0-9]nodes) echo "${1//[!0-9]/}" ;;
    *) echo 0 ;;
    esac
}

# A redis-server of this run's own for a cluster variant, on core 0 beside
# the nodes, on a Unix socket in a fresh directory, nothing saved; sets
# REDIS_PID and REDIS_SOCK. It is stopped by that PID and no other Redis is
# touched.
redis_start() {
    [ "$(nodes_of "$1")" -gt 0 ] || return 0
    local dir
    dir=$(mktemp -d "$WORK/redis.XXXXXX")
    REDIS_SOCK=$dir/redis.sock
    taskset -c 0 "$REDIS_SERVER" --port 0 --unixsocket "$REDIS_SOCK" --dir "$dir" --save '' \
        --appendonly no --daemonize no >"$dir/redis.log" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 100); do
        [ -S "$REDIS_SOCK" ] && return 0
        alive "$REDIS_PID" || die "redis-server exited at start; see $dir/redis.log"
        sleep 0.1
    done
    die "redis-server made no socket in 10 s; see $dir/redis.log"
}

redis_stop() {
    [ -n "$REDIS_PID" ] || return 0
    stop_pid "$REDIS_PID"
    [ "$STOPPED" = ok ] || echo "  !! redis-server ended: $STOPPED" >&2
    REDIS_PID='' REDIS_SOCK=''
}

# After the first node of server $1 (named $2 in the logs) listens: the
# others, on the same Redis; PORT becomes the nodes' ports and EXTRA_PIDS the
# other nodes' PIDs, in the same order, so the load generator spreads its
# receivers over them and measures each node by its own PID.
nodes_start() {
    local n k
    n=$(nodes_of "$1")
    NODE_PIDS=
    for ((k = 2; k <= n; k++)); do
        launch "$1" "$2.node$k"
        NODE_PIDS="$NODE_PIDS $LAUNCHED"
        PORT="$PORT,$LISTEN"
    done
    NODE_PIDS=${NODE_PIDS# }
    [ -z "$NODE_PIDS" ] || EXTRA_PIDS=${NODE_PIDS// /,}
    return 0
}

# The nodes after the first, before it; NODES_ENDED says the first of them
# that did not end well, or is empty.
nodes_stop() {
    local k=2 p
    NODES_ENDED=
    for p in $NODE_PIDS; do
        stop_pid "$p"
        [ "$STOPPED" = ok ] || [ -n "$NODES_ENDED" ] || NODES_ENDED="node $k: $STOPPED"
        k=$((k + 1))
    done
    [ -z "$NODE_PIDS" ] || EXTRA_PIDS=
    NODE_PIDS=
}

cluster_check() {
    if [ -z "$REDIS_SERVER" ]; then
        echo "bench: !! redis-server is not installed (tests/setup installs it when root):" \
            "skipping the cluster group" >&2
    fi
}

# Within each round, after plain pusher's W2 (bench/run's loop).
cluster_round() {
    [ -n "$REDIS_SERVER" ] || return 0
    local s
    for s in pusher-redis pusher-2nodes pusher-3nodes; do
        run "$W2" "$s" fanout "$FAN_WIN" --window=8 --seconds="$SECS"
    done
}
