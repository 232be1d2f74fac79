#!/bin/bash
# bench/run.sh - the module against its peers, in one run, as ratios.
#
# Every server is its own nginx (worker_processes 2, access_log off) on
# loopback; wrk drives each in turn with the same settings:
#
#   A  return 200 '<body>'                 the ceiling
#   B  proxy_pass to the origin, no cache   what a miss costs at best
#   C  proxy_cache HIT (file cache)         nginx's own cache
#   H  ours: Redis cache HIT                partner key checked, entry
#                                           from Redis, one round trip
#   L  ours: Redis HIT, rate limit on       as H, and the partner's limit
#                                           counted in Redis (EVALSHA in
#                                           the same round trip)
#   P  ours: cache off, 2-legged re-sign    partner key checked, the
#                                           request signed with OAuth 1.0
#                                           for the origin (a miss's cost)
#
#   G  ours before: Redis HIT with the     only when MODULE_BASE names
#      module MODULE_BASE                  another build of the module
#
# Ratios: H/A and C/A (hits against the ceiling), P/B (the gateway's
# cost on a miss against a plain proxy_pass), L/H (what the rate limit
# costs a hit), G/A and H/G (a change to
# the hit path, measured in the same passes).  It also prints the RSS of
# our workers before and after their runs.
#
# Loopback benchmarks on a small VM are noisy: RUNS passes (default 3) go
# over every server in turn, and each cell is the median of its passes.
#
# Env: RUNS (3), DUR (seconds per run, default 8), CONNS (50), THREADS (2),
#      SIZES ("2k 20k"), BASE (port, 18300), OUTDIR (raw wrk output,
#      default /tmp/7digital-bench/results), MODULE (the .so, default
#      build/ngx_http_7digital_module.so), MODULE_BASE (an earlier build,
#      to compare with; none by default).
# Every process it starts is stopped on exit.

set -u

RUNS=${RUNS:-3}; DUR=${DUR:-8}; CONNS=${CONNS:-50}; THREADS=${THREADS:-2}
SIZES=${SIZES:-"2k 20k"}; BASE=${BASE:-18300}
ROOT=/tmp/7digital-bench; OUTDIR=${OUTDIR:-$ROOT/results}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${MODULE:-$HERE/build/ngx_http_7digital_module.so}
MODULE_BASE=${MODULE_BASE:-}
. "$HERE/bench/lib.sh"
NGINX=/usr/sbin/nginx
REDIS_PORT=$((BASE + 79))
declare -A PORT=([O]=$BASE [A]=$((BASE + 1)) [B]=$((BASE + 2))
                 [C]=$((BASE + 3)) [H]=$((BASE + 4)) [P]=$((BASE + 5))
                 [G]=$((BASE + 6)) [L]=$((BASE + 7)))
declare -A DESC=([A]="return 200 (ceiling)" [B]="proxy_pass, no cache"
                 [C]="proxy_cache HIT (file)" [H]="ours: Redis HIT"
                 [P]="ours: 2-legged re-sign, no cache"
                 [G]="ours before: Redis HIT"
                 [L]="ours: Redis HIT, rate limit on")
SERVERS="A B C H L P"
[ -n "$MODULE_BASE" ] && SERVERS="A B C G H L P"
KEY=oauth_consumer_key=bench-partner-key

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
[ -f "$MODULE" ] || die "no module at $MODULE (run make)"
[ -z "$MODULE_BASE" ] || [ -f "$MODULE_BASE" ] \
    || die "no module at $MODULE_BASE"

rm -rf "$ROOT"; mkdir -p "$ROOT/body" "$OUTDIR"

# deterministic JSON bodies of an exact size
mkbody() {
    awk -v n="$1" 'BEGIN{
      s="{\"status\":\"ok\",\"items\":["; i=0;
      while (1) { it=sprintf("%s{\"id\":%d,\"name\":\"item-%05d\"}", (i?",":""), i, i);
        if (length(s) + length(it) + 16 > n) break; s = s it; i++ }
      s = s "],\"pad\":\""; pad = n - length(s) - 2;
      for (j = 0; j < pad; j++) s = s "x"; s = s "\"}"; printf "%s", s }'
}
for s in $SIZES; do
    n=${s%k}; mkbody $((n * 1024)) > "$ROOT/body/$s"
done

# `return` with a body from a file (a literal stays below 4 KB)
return_body() {
    local f=$1 i=0 vars="" chunk
    while IFS= read -r chunk; do
        i=$((i + 1)); printf "set \$c%d '%s'; " "$i" "$chunk"; vars="$vars\$c$i"
    done < <(fold -b -w 3500 "$f"; echo)
    printf 'default_type application/json; return 200 "%s";' "$vars"
}

cat > "$ROOT/partners.json" <<EOF
{"partners": [{"id": "bench", "key": "bench-partner-key",
               "apis": ["7digital"]}]}
EOF
echo "bench-upstream-secret" > "$ROOT/upstream.secret"

head_conf() { # $1 dir $2 peer
    case $2 in H|L|P) echo "load_module $MODULE;" ;; esac
    [ "$2" = G ] && echo "load_module $MODULE_BASE;"
    cat <<EOF
worker_processes 2;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $1/body; proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fcgi; uwsgi_temp_path $1/uwsgi; scgi_temp_path $1/scgi;
    upstream origin { server 127.0.0.1:${PORT[O]}; keepalive 64; }
EOF
}

PROXY='proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";'

write_conf() { # $1 peer
    local p=$1 d=$ROOT/$1 s
    mkdir -p "$d"
    {
        head_conf "$d" "$p"
        case $p in
        O|A)
            echo "    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;"
            for s in $SIZES; do
                echo "        location = /1.2/bench/$s { $(return_body "$ROOT/body/$s") }"
            done
            echo "    }";;
        B)
            echo "    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;"
            echo "        location / { $PROXY } }";;
        C)
            echo "    proxy_cache_path $d/cache levels=1:2 keys_zone=bench:10m;"
            echo "    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;"
            echo "        location / { proxy_cache bench; proxy_cache_key \$uri;"
            echo "            proxy_cache_valid 200 1h; $PROXY } }";;
        H|G|L)
            # the bench's own path: a catalogue read (a build before the
            # endpoint table, G, cached every path of a cached location)
            [ "$p" != G ] && echo "    sevendigital_endpoint bench/* catalogue;"
            # a limit the bench never reaches: every hit is counted
            [ "$p" = L ] && echo "    sevendigital_rate_limit catalogue" \
                                 "rate=1000000r/s burst=1000000;"
            cat <<EOF
    sevendigital_partners $ROOT/partners.json;
    sevendigital_redis 127.0.0.1:$REDIS_PORT;
    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key bench-upstream-key;
            sevendigital_cache on;
            sevendigital_cache_valid 200 1h;
            $PROXY
        }
    }
EOF
            ;;
        P)
            cat <<EOF
    sevendigital_endpoint bench/* catalogue 2-legged;
    sevendigital_partners $ROOT/partners.json;
    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;
$(resign_location 7digital /1.2/ "${PORT[O]}")
    }
EOF
            ;;
        esac
        echo "}"
    } > "$d/nginx.conf"
}

start_nginx() { # $1 peer
    local d=$ROOT/$1
    $NGINX -p "$d" -c "$d/nginx.conf" -t -q 2>"$d/t.err" \
        || { cat "$d/t.err"; die "nginx -t failed for $1"; }
    $NGINX -p "$d" -c "$d/nginx.conf" 2>>"$d/stderr.log" & PIDS+=($!)
    wait_port "${PORT[$1]}" || die "$1 did not listen"
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --loglevel warning >/dev/null & PIDS+=($!)
wait_port "$REDIS_PORT" || die "redis did not listen"

for p in O $SERVERS; do write_conf $p; start_nginx $p; done

# warm the caches: a miss stores, the next requests hit
for s in $SIZES; do
    for i in 1 2; do
        curl -sf -o /dev/null "http://127.0.0.1:${PORT[C]}/1.2/bench/$s"
        curl -sf -o /dev/null "http://127.0.0.1:${PORT[H]}/1.2/bench/$s?$KEY"
        curl -sf -o /dev/null "http://127.0.0.1:${PORT[L]}/1.2/bench/$s?$KEY"
        [ -n "$MODULE_BASE" ] && curl -sf -o /dev/null \
            "http://127.0.0.1:${PORT[G]}/1.2/bench/$s?$KEY"
    done
    curl -sfI "http://127.0.0.1:${PORT[H]}/1.2/bench/$s?$KEY" >/dev/null \
        || die "ours does not answer for $s"
done

rss_h0=$(workers_rss H); rss_p0=$(workers_rss P)

declare -A RPS P99 PASS
for run in $(seq "$RUNS"); do
    for s in $SIZES; do
        for p in $SERVERS; do
            url="http://127.0.0.1:${PORT[$p]}/1.2/bench/$s"
            case $p in H|L|P|G) url="$url?$KEY" ;; esac
            read -r rps p99 err < <(wrk_run "$url" "$OUTDIR/$p-$s-$run.txt")
            [ -n "${err:-}" ] && echo "bench: $p $s: $err" >&2
            RPS[$p,$s]="${RPS[$p,$s]:-} $rps"; P99[$p,$s]="${P99[$p,$s]:-} $p99"
            PASS[$p,$s,$run]=$rps
        done
    done
done

for k in "${!RPS[@]}"; do
    RPS[$k]=$(median ${RPS[$k]})
    P99[$k]=$(printf '%s\n' ${P99[$k]} \
              | awk '/us$/{printf "%.0f %s\n", $1, $1; next}
                     /ms$/{printf "%.0f %s\n", $1 * 1000, $1; next}
                     {printf "%.0f %s\n", $1 * 1e6, $1}' \
              | sort -n | awk '{v[NR] = $2} END {print v[int((NR + 1) / 2)]}')
done

rss_h1=$(workers_rss H); rss_p1=$(workers_rss P)

echo "wrk -t$THREADS -c$CONNS -d${DUR}s, median of $RUNS passes," \
     "$(nproc) CPUs, $(date -u +%F)"
echo
printf '| %-34s |' "server"
for s in $SIZES; do printf ' %s req/s | %s ratio | %s p99 |' $s $s $s; done
echo
printf '|%s|' "$(printf -- '-%.0s' $(seq 36))"
for s in $SIZES; do printf -- '---:|---:|---:|'; done
echo
for p in $SERVERS; do
    printf '| %-34s |' "$p ${DESC[$p]}"
    for s in $SIZES; do
        case $p in
            P) base=${RPS[B,$s]}; ref="/B" ;;
            *) base=${RPS[A,$s]}; ref="/A" ;;
        esac
        ratio=$(awk -v a="${RPS[$p,$s]}" -v b="$base" \
                    'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf ' %s | %s%s | %s |' "${RPS[$p,$s]}" "$ratio" "$ref" "${P99[$p,$s]}"
    done
    echo
done
# L/H pass by pass (the two ran one after the other): median, min-max
echo
for s in $SIZES; do
    for run in $(seq "$RUNS"); do
        awk -v h="${PASS[H,$s,$run]}" -v l="${PASS[L,$s,$run]}" \
            'BEGIN{ if (h > 0) printf "%.2f\n", l / h }'
    done | sort -g | awk -v s="$s" '{v[NR] = $0}
        END {printf "L/H %s: %s (%s-%s over %d passes), the rate limit on a hit\n",
             s, v[int((NR + 1) / 2)], v[1], v[NR], NR}'
done
if [ -n "$MODULE_BASE" ]; then
    echo
    for s in $SIZES; do
        awk -v h="${RPS[H,$s]}" -v g="${RPS[G,$s]}" -v s="$s" \
            'BEGIN{ if (g > 0) printf "H/G %s: %.2f\n", s, h / g }'
    done
fi
echo
echo "ours, workers' RSS (KB): Redis HIT $rss_h0 -> $rss_h1;" \
     "re-sign $rss_p0 -> $rss_p1"
