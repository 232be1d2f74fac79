#!/bin/bash
# bench/run.sh - the module against nginx and against the peers users would
# pick instead, in one run, as ratios.
#
# Every server is its own nginx (worker_processes 2, access log off) on
# loopback, in front of the same origin nginx; wrk drives each in turn with
# the same settings, pass after pass (A B C ... then again), so that every
# ratio compares two runs made a few seconds apart.  The servers are in
# SERVERS_TABLE below; docs/benchmarks.md says what each measures.
#
# Each cell is the median of RUNS passes; each ratio is the median of its
# per-pass ratios, with their min-max.  Before timing, every server must
# answer 200 with the exact body, or the script stops.  A wrk run with
# non-2xx answers or socket errors, or a cache's run during which requests
# reached the origin, is flagged in the summary and makes the script exit
# 3 once it is done: an error or a miss is not what a cell claims.
#
# Then: p50/p99 at 1 connection (one shorter run per server), the RSS of
# our workers (H, F) before and after RSS_REQUESTS requests, the C
# micro-benchmark (make micro), and a chart with gnuplot.
#
# Env: RUNS (5), DUR (seconds per run, 5), CONNS (50), THREADS (2),
#      SIZES ("2k 20k"), DUR1 (seconds per 1-connection run, 3),
#      RSS_REQUESTS (1000000; 0: none), MICRO (1; 0: none),
#      BASE (first port, 18300; uses BASE..BASE+99),
#      ROOT (/tmp/7digital-bench), OUTDIR (ROOT/results: wrk's outputs,
#      summary.md), CHART (OUTDIR/benchmarks.svg),
#      MODULE (build/ngx_http_7digital_module.so), MODULE_BASE (an earlier
#      build, run as G in the same passes; none by default).
# Every process it starts is stopped on exit.

set -u

RUNS=${RUNS:-5}; DUR=${DUR:-5}; CONNS=${CONNS:-50}; THREADS=${THREADS:-2}
SIZES=${SIZES:-"2k 20k"}; DUR1=${DUR1:-3}
RSS_REQUESTS=${RSS_REQUESTS:-1000000}; MICRO=${MICRO:-1}
BASE=${BASE:-18300}; ROOT=${ROOT:-/tmp/7digital-bench}
OUTDIR=${OUTDIR:-$ROOT/results}; CHART=${CHART:-$OUTDIR/benchmarks.svg}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${MODULE:-$HERE/build/ngx_http_7digital_module.so}
MODULE_BASE=${MODULE_BASE:-}
COMMAND="RUNS=$RUNS DUR=$DUR CONNS=$CONNS THREADS=$THREADS SIZES='$SIZES'"
COMMAND="$COMMAND DUR1=$DUR1 RSS_REQUESTS=$RSS_REQUESTS"
COMMAND="$COMMAND${MODULE_BASE:+ MODULE_BASE=$MODULE_BASE} bench/run.sh"
. "$HERE/bench/lib.sh"

NGINX=/usr/sbin/nginx
MODDIR=/usr/lib/nginx/modules

# The servers, in the order of a pass: name, the server its ratio is
# against, whether it answers from a cache (then no request of its runs
# may reach the origin), what it is.  G runs only with MODULE_BASE, F only
# when this build knows the front tier's directives.
SERVERS_TABLE="
A - -   return 200 (ceiling)
B A -   proxy_pass, no cache
C A hit proxy_cache HIT (file)
S A hit srcache + memcached HIT
R A hit OpenResty: lua-resty-redis HIT, pooled
G A hit ours before: Redis HIT
H A hit ours: Redis HIT
L A hit ours: Redis HIT, rate limit on
F A hit ours: shared-memory front tier HIT
P B -   ours: 7digital 2-legged re-sign, no cache
Q B -   ours: Choose Digital re-sign, no cache
"

# Further ratios, pass by pass: the two servers, the issue's target, and
# what the ratio says.  A line whose servers did not run is left out.
COMPARE_TABLE="
H C ≥1.00_at_2k ours (Redis) against nginx's file cache
F C >1.00 the front tier against nginx's file cache
F H - the front tier against ours from Redis
H R ≥2.00 ours against OpenResty + lua-resty-redis
H S - ours against srcache + memcached
L H ≥0.95 what the rate limit costs a hit
H G - this build against MODULE_BASE
"

# the issue's targets for the servers' own ratios
declare -A TARGET=([H]="≥0.60_at_20k" [F]="≥0.85" [P]="≥0.90" [Q]="≥0.90")

declare -A PORT REF HIT DESC
SERVERS=""
i=1
while read -r p ref hit desc; do
    [ -n "$p" ] || continue
    PORT[$p]=$((BASE + i)); REF[$p]=$ref; HIT[$p]=$hit; DESC[$p]=$desc
    i=$((i + 1))
    SERVERS="$SERVERS $p"
done <<< "$SERVERS_TABLE"
PORT[O]=$BASE
MEMC_PORT=$((BASE + 78)); REDIS_PORT=$((BASE + 79))
[ -n "$MODULE_BASE" ] || SERVERS=${SERVERS/ G/}

KEY=bench-partner-key; CD_KEY=bench-cd-key

command -v wrk >/dev/null || die "wrk is missing (bench/install-deps)"
command -v memcached >/dev/null || die "memcached is missing (bench/install-deps)"
for m in ndk_http_module ngx_http_lua_module ngx_http_srcache_filter_module \
         ngx_http_memc_module; do
    [ -f "$MODDIR/$m.so" ] || die "$MODDIR/$m.so is missing (bench/install-deps)"
done
[ -f /usr/share/lua/5.1/nginx/redis.lua ] \
    || die "lua-nginx-redis is missing (bench/install-deps)"
[ -f "$MODULE" ] || die "no module at $MODULE (run make)"
[ -z "$MODULE_BASE" ] || [ -f "$MODULE_BASE" ] \
    || die "no module at $MODULE_BASE"

rm -rf "$ROOT"; mkdir -p "$ROOT/body" "$OUTDIR"


# ---- the bodies and the requests

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

# the path and query a server is asked for ($1 server $2 size)
request_path() {
    case $1 in
    A|B|C) echo "/1.2/bench/$2" ;;
    Q) echo "/music/bench/$2" ;;
    *) echo "/1.2/bench/$2?oauth_consumer_key=$KEY" ;;
    esac
}

# the header it sends, as curl's and wrk's arguments, in HDR ($1 server)
request_header() {
    HDR=()
    [ "$1" = Q ] && HDR=(-H "cdaccesskeyid: $CD_KEY")
}

url_of() { echo "http://127.0.0.1:${PORT[$1]}$(request_path "$1" "$2")"; }


# ---- the configurations

# `return` with a body from a file (a literal stays below 4 KB)
return_body() {
    local f=$1 i=0 vars="" chunk
    while IFS= read -r chunk; do
        i=$((i + 1)); printf "set \$c%d '%s'; " "$i" "$chunk"; vars="$vars\$c$i"
    done < <(fold -b -w 3500 "$f"; echo)
    printf 'default_type application/json; return 200 "%s";' "$vars"
}

cat > "$ROOT/partners.json" <<EOF
{"partners": [{"id": "bench", "key": "$KEY", "apis": ["7digital"]},
              {"id": "bench-cd", "key": "$CD_KEY", "apis": ["choosedigital"]}]}
EOF
echo "bench-upstream-secret" > "$ROOT/upstream.secret"

PROXY='proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";'

modules_of() { # $1 server: its load_module lines
    case $1 in
    H|L|F|P|Q) echo "load_module $MODULE;" ;;
    G) echo "load_module $MODULE_BASE;" ;;
    R) echo "load_module $MODDIR/ndk_http_module.so;"
       echo "load_module $MODDIR/ngx_http_lua_module.so;" ;;
    S) echo "load_module $MODDIR/ngx_http_srcache_filter_module.so;"
       echo "load_module $MODDIR/ngx_http_memc_module.so;" ;;
    esac
}

head_conf() { # $1 dir $2 server
    modules_of "$2"
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

listen() { echo "    server { listen 127.0.0.1:${PORT[$1]} backlog=4096;"; }

conf_return() { # O, A: every body from memory, under both APIs' paths
    local s
    listen "$1"
    # the origin counts what reaches it
    [ "$1" = O ] && echo "        location = /bench-status { stub_status; }"
    for s in $SIZES; do
        echo "        location = /1.2/bench/$s { $(return_body "$ROOT/body/$s") }"
        echo "        location = /music/bench/$s { $(return_body "$ROOT/body/$s") }"
    done
    echo "    }"
}

conf_proxy() {
    listen "$1"
    echo "        location / { $PROXY } }"
}

conf_proxy_cache() {
    echo "    proxy_cache_path $2/cache levels=1:2 keys_zone=bench:10m;"
    listen "$1"
    echo "        location / { proxy_cache bench; proxy_cache_key \$uri;"
    echo "            proxy_cache_valid 200 1h; $PROXY } }"
}

# srcache's documented memcached set-up; the key checked as nginx can
conf_srcache() {
    cat <<EOF
    upstream memc { server 127.0.0.1:$MEMC_PORT; keepalive 64; }
    map \$arg_oauth_consumer_key \$bench_partner { $KEY 1; default 0; }
$(listen "$1")
        location /1.2/ {
            if (\$bench_partner = 0) { return 401; }
            set \$key \$uri;
            srcache_fetch GET /memc \$key;
            srcache_store PUT /memc \$key;
            srcache_store_statuses 200;
            $PROXY
        }
        location = /memc {
            internal;
            set \$memc_key \$query_string;
            set \$memc_exptime 3600;
            memc_pass memc;
        }
    }
EOF
}

# OpenResty's usual Redis cache: the key checked against a Lua table, the
# entry from Redis over pooled connections (set_keepalive), a miss from
# the origin by subrequest and stored
conf_lua() {
    cat <<EOF
    lua_package_path "/usr/share/lua/5.1/?.lua;;";
    init_by_lua_block {
        partners = { ["$KEY"] = true }
        redis = require "nginx.redis"
    }
$(listen "$1")
        location /1.2/ {
            access_by_lua_block {
                local key = ngx.var.arg_oauth_consumer_key
                if not key or not partners[key] then
                    return ngx.exit(ngx.HTTP_UNAUTHORIZED)
                end
                local red = redis:new()
                red:set_timeouts(1000, 1000, 1000)
                local ok, err = red:connect("127.0.0.1", $REDIS_PORT)
                if not ok then
                    ngx.log(ngx.ERR, "redis: ", err)
                    return ngx.exit(ngx.HTTP_BAD_GATEWAY)
                end
                local k = "lua:" .. ngx.var.uri
                local body = red:get(k)
                if not body or body == ngx.null then
                    local res = ngx.location.capture("/origin" .. ngx.var.uri)
                    if res.status ~= 200 then
                        return ngx.exit(res.status)
                    end
                    body = res.body
                    red:set(k, body, "EX", 3600)
                end
                red:set_keepalive(60000, 128)
                ngx.header["Content-Type"] = "application/json"
                ngx.header["Content-Length"] = #body
                ngx.print(body)
                return ngx.exit(ngx.HTTP_OK)
            }
        }
        location /origin/ { internal; proxy_pass http://origin/;
            proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
EOF
}

# ours, from Redis: H, L (a limit the bench never reaches, so that every
# hit is counted), F (the shared-memory tier ahead of Redis), G (a build
# before the endpoint table, which cached every path of a cached location)
conf_ours() {
    local p=$1
    [ "$p" != G ] && echo "    sevendigital_endpoint bench/* catalogue;"
    [ "$p" = L ] && echo "    sevendigital_rate_limit catalogue" \
                         "rate=1000000r/s burst=1000000;"
    [ "$p" = F ] && echo "    sevendigital_cache_front_zone front:64m;"
    cat <<EOF
    sevendigital_partners $ROOT/partners.json;
    sevendigital_redis 127.0.0.1:$REDIS_PORT;
$(listen "$p")
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key bench-upstream-key;
            sevendigital_cache on;
            sevendigital_cache_valid 200 1h;
            $([ "$p" = F ] && echo "sevendigital_cache_front front;")
            $PROXY
        }
    }
EOF
}

# ours, no cache: the partner's key checked and removed, the request
# signed with OAuth 1.0 (2-legged) for the origin
conf_resign() {
    cat <<EOF
    sevendigital_endpoint bench/* catalogue 2-legged;
    sevendigital_partners $ROOT/partners.json;
$(listen "$1")
$(resign_location 7digital /1.2/ "${PORT[O]}")
    }
EOF
}

# ours, Choose Digital: a key-only partner's cdaccesskeyid checked, the
# three headers replaced by the gateway's key, date and HMAC
conf_cd() {
    cat <<EOF
    sevendigital_partners $ROOT/partners.json;
    proxy_next_upstream off;
$(listen "$1")
        location /music/ {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key bench-upstream-key;
            sevendigital_upstream_secret_file $ROOT/upstream.secret;
            $PROXY
        }
    }
EOF
}

write_conf() { # $1 server
    local p=$1 d=$ROOT/$1
    mkdir -p "$d"
    {
        head_conf "$d" "$p"
        case $p in
        O|A) conf_return "$p" ;;
        B) conf_proxy "$p" ;;
        C) conf_proxy_cache "$p" "$d" ;;
        S) conf_srcache "$p" ;;
        R) conf_lua "$p" ;;
        H|G|L|F) conf_ours "$p" ;;
        P) conf_resign "$p" ;;
        Q) conf_cd "$p" ;;
        esac
        echo "}"
    } > "$d/nginx.conf"
}

conf_ok() { # $1 server
    $NGINX -p "$ROOT/$1" -c "$ROOT/$1/nginx.conf" -t -q 2>"$ROOT/$1/t.err"
}

start_nginx() { # $1 server
    local d=$ROOT/$1
    conf_ok "$1" || { cat "$d/t.err"; die "nginx -t failed for $1"; }
    $NGINX -p "$d" -c "$d/nginx.conf" 2>>"$d/stderr.log" & PIDS+=($!)
    wait_port "${PORT[$1]}" || die "$1 did not listen"
}


# ---- before timing: every server answers 200 with the exact body

# $1 server $2 size: dies unless the answer is 200 and the body's bytes
check_answer() {
    local p=$1 s=$2 got code len want
    got=$ROOT/$p/answer-$s
    want=$(wc -c < "$ROOT/body/$s")
    request_header "$p"
    code=$(curl -s -o "$got" -w '%{http_code}' "${HDR[@]}" "$(url_of "$p" "$s")")
    len=$(wc -c < "$got" 2>/dev/null || echo 0)
    [ "$code" = 200 ] && [ "$len" = "$want" ] && cmp -s "$got" "$ROOT/body/$s" \
        || die "$p (${DESC[$p]}) answers $code with $len bytes for $s," \
               "not 200 with the $want bytes of the body: see $ROOT/$p"
}

warm_up() { # every cache filled, the front tier's entries admitted
    local p s
    for p in $SERVERS; do
        for s in $SIZES; do
            request_header "$p"
            for _ in 1 2 3 4 5; do
                curl -s -o /dev/null "${HDR[@]}" "$(url_of "$p" "$s")"
            done
            check_answer "$p" "$s"
        done
    done
}


# ---- the runs

declare -A RPS=() P50=() P99=() P50_1=() P99_1=() BAD=()
FLAGS=()

# the requests the origin has had, this one included
origin_requests() {
    curl -s "http://127.0.0.1:${PORT[O]}/bench-status" | awk 'NR == 3 {print $3}'
}

# $1 server $2 size $3 outfile, then wrk's own arguments: one wrk run,
# its figures in M_RPS, M_P50, M_P99.  A run with errors, or a cache's run
# that reached the origin (a miss is slower or faster than a hit, and
# either way not what is measured), is flagged, and M_BAD set.
measure() {
    local p=$1 s=$2 out=$3 bad err o0 miss=0
    M_BAD=
    shift 3
    request_header "$p"
    o0=$(origin_requests)
    read -r M_RPS M_P50 M_P99 bad err < <(wrk_run "$(url_of "$p" "$s")" \
                                                  "$out" "${HDR[@]}" "$@")
    [ "${HIT[$p]}" = hit ] && miss=$(( $(origin_requests) - o0 - 1 ))
    if [ "$bad" != 0 ] || [ "$err" != 0 ] || [ "$M_RPS" = 0 ] \
       || [ "$miss" != 0 ]
    then
        FLAGS+=("$p $s ($(basename "$out")): $bad non-2xx answers, $err socket errors, $miss requests reached the origin, $M_RPS req/s")
        M_BAD=1
        echo "bench: FLAGGED $p $s: $bad non-2xx, $err socket errors," \
             "$miss at the origin" >&2
    fi
}

passes() {
    local run s p
    for run in $(seq "$RUNS"); do
        for s in $SIZES; do
            for p in $SERVERS; do
                measure "$p" "$s" "$OUTDIR/$p-$s-$run.txt"
                RPS[$p,$s,$run]=$M_RPS
                [ -z "$M_BAD" ] || BAD[$p,$s]=1
                P50[$p,$s]="${P50[$p,$s]:-} $M_P50"
                P99[$p,$s]="${P99[$p,$s]:-} $M_P99"
            done
        done
    done
}

# one connection, one thread: what a single client waits
one_connection() {
    local s p
    [ "$DUR1" -gt 0 ] || return 0
    for s in $SIZES; do
        for p in $SERVERS; do
            measure "$p" "$s" "$OUTDIR/$p-$s-c1.txt" -t1 -c1 -d"$DUR1"s
            P50_1[$p,$s]=$M_P50; P99_1[$p,$s]=$M_P99
        done
    done
}

declare -A RSS0=() RSS1=() RSS_DONE=()

# $1 server: its workers' RSS before and after RSS_REQUESTS requests over
# every size, in one wrk run.  Each wrk thread stops itself after its
# share; the last one interrupts wrk (SIGINT: wrk reports and exits), from
# a shell in the background since system() ignores SIGINT while it waits.
rss_run() {
    local p=$1 paths="" s per out
    for s in $SIZES; do paths="$paths\"$(request_path "$p" "$s")\","; done
    per=$(( (RSS_REQUESTS + THREADS - 1) / THREADS + CONNS ))
    rm -f "$ROOT/count.done"
    cat > "$ROOT/count.lua" <<EOF
local paths, n, i = { $paths }, 0, 0
request = function()
    n = n + 1
    if n == $per then
        wrk.thread:stop()
        os.execute("echo >> $ROOT/count.done;"
                   .. " [ \$(wc -l < $ROOT/count.done) -ge $THREADS ]"
                   .. " && (sleep 0.1; kill -INT \$PPID) &")
    end
    i = i % #paths + 1
    return wrk.format(nil, paths[i])
end
EOF
    out=$OUTDIR/$p-rss.txt
    RSS0[$p]=$(workers_rss "$p")
    # a bound, should the threads not stop: 1000 req/s at least
    measure "$p" "${SIZES%% *}" "$out" -d$((RSS_REQUESTS / 1000 + 60))s \
            -s "$ROOT/count.lua"
    RSS1[$p]=$(workers_rss "$p")
    RSS_DONE[$p]=$(awk '/requests in/ {print $1}' "$out")
    [ "${RSS_DONE[$p]:-0}" -ge "$RSS_REQUESTS" ] \
        || FLAGS+=("$p: the memory run completed ${RSS_DONE[$p]:-0} requests of $RSS_REQUESTS")
}


# ---- what the runs say

# $1 numerator $2 denominator $3 size: "median min max" of the per-pass
# ratios, or nothing when a pass is missing
ratio() {
    local run
    for run in $(seq "$RUNS"); do
        awk -v a="${RPS[$1,$3,$run]:-0}" -v b="${RPS[$2,$3,$run]:-0}" \
            'BEGIN { if (a > 0 && b > 0) printf "%.4f\n", a / b }'
    done | sort -g | awk '{ v[NR] = $1 }
        END { if (NR) printf "%.2f %.2f %.2f\n",
                             (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2,
                             v[1], v[NR] }'
}

ratio_cell() { # $1 $2 $3 as ratio(): "0.52/A (0.48–0.55)"
    local m lo hi
    read -r m lo hi < <(ratio "$@")
    [ -n "${m:-}" ] && echo "$m/$2 ($lo–$hi)" || echo "–"
}

rps_cell() { # $1 server $2 size: the median of its passes
    local run
    printf '%.0f' "$(median $(for run in $(seq "$RUNS"); do
                                echo "${RPS[$1,$2,$run]:-0}"; done))"
    [ -z "${BAD[$1,$2]:-}" ] || printf ' FLAGGED'
}

ran() { [[ " $SERVERS " == *" $1 "* ]]; }

# every ratio shown: "num den target meaning", the servers' own first
ratio_lines() {
    local p num den target desc
    for p in $SERVERS; do
        [ "${REF[$p]}" = - ] && continue
        echo "$p ${REF[$p]} ${TARGET[$p]:--} ${DESC[$p]}"
    done
    while read -r num den target desc; do
        [ -n "$num" ] && ran "$num" && ran "$den" \
            && echo "$num $den $target $desc"
    done <<< "$COMPARE_TABLE"
}

# $1 the first columns' titles, $2 their separators, then the titles of
# the columns each size has (right-aligned)
table_head() {
    local first=$1 sep=$2 s c
    shift 2
    printf '%s' "$first"
    for s in $SIZES; do for c in "$@"; do printf ' %s |' "$s${c:+ $c}"; done; done
    printf '\n%s' "$sep"
    for s in $SIZES; do for c in "$@"; do printf -- '---:|'; done; done
    echo
}

table_throughput() {
    local p s
    table_head '| server |' '|---|' 'req/s' 'ratio (min–max)'
    for p in $SERVERS; do
        printf '| %s %s |' "$p" "${DESC[$p]}"
        for s in $SIZES; do
            if [ "${REF[$p]}" = - ]; then
                printf ' %s | 1.00 |' "$(rps_cell "$p" "$s")"
            else
                printf ' %s | %s |' "$(rps_cell "$p" "$s")" \
                    "$(ratio_cell "$p" "${REF[$p]}" "$s")"
            fi
        done
        echo
    done
}

table_ratios() {
    local num den target desc s
    table_head '| ratio | what it says | target |' '|---|---|---|' ''
    while read -r num den target desc; do
        printf '| %s/%s | %s | %s |' "$num" "$den" "$desc" "${target//_/ }"
        for s in $SIZES; do
            printf ' %s |' "$(ratio_cell "$num" "$den" "$s" | sed 's|/[A-Z]||')"
        done
        echo
    done < <(ratio_lines)
}

table_latency() {
    local p s
    table_head '| server |' '|---|' "p50 @$CONNS" "p99 @$CONNS" 'p50 @1' 'p99 @1'
    for p in $SERVERS; do
        printf '| %s %s |' "$p" "${DESC[$p]}"
        for s in $SIZES; do
            printf ' %s | %s | %s | %s |' \
                "$(fmt_us "$(median ${P50[$p,$s]})")" \
                "$(fmt_us "$(median ${P99[$p,$s]})")" \
                "$(fmt_us "${P50_1[$p,$s]:-}")" "$(fmt_us "${P99_1[$p,$s]:-}")"
        done
        echo
    done
}

table_rss() {
    local p
    echo "| server | requests | workers' RSS before | after | growth |"
    echo "|---|---:|---:|---:|---:|"
    for p in H F; do
        [ -n "${RSS0[$p]:-}" ] || continue
        awk -v p="$p ${DESC[$p]}" -v n="${RSS_DONE[$p]:-0}" \
            -v a="${RSS0[$p]}" -v b="${RSS1[$p]}" 'BEGIN {
            printf "| %s | %d | %.1f MB | %.1f MB | %+.1f MB |\n",
                   p, n, a / 1024, b / 1024, (b - a) / 1024 }'
    done
}

# each ratio's median, with its min-max as error bars, one group per size
chart() {
    local data=$OUTDIR/ratios.dat num den target desc s col=2 plot="" term
    command -v gnuplot >/dev/null || { echo "no gnuplot: no chart" >&2; return; }
    while read -r num den target desc; do
        printf '%s/%s' "$num" "$den"
        for s in $SIZES; do printf ' %s' "$(ratio "$num" "$den" "$s")"; done
        echo
    done < <(ratio_lines) > "$data"
    for s in $SIZES; do
        plot="$plot${plot:+, } '$data' using $col:$((col + 1)):$((col + 2))"
        [ "$col" = 2 ] && plot="$plot:xtic(1)"
        plot="$plot title '$s'"; col=$((col + 3))
    done
    case $CHART in
    *.png) term="pngcairo size 960,480 font 'sans,10'" ;;
    *) term="svg size 960,480 dynamic font 'sans,11'" ;;
    esac
    # kept with the results, to draw it again (gnuplot chart.gp)
    cat > "$OUTDIR/chart.gp" <<EOF
set terminal $term
set output '$CHART'
set title "bench/run.sh $(git -C "$HERE" describe --always --dirty), $(date -u +%F): median of $RUNS passes, bars min-max${FLAGS:+ (FLAGGED runs: see the summary)}"
set ylabel 'ratio (same passes)'
set yrange [0:*]
set grid ytics
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -35
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
plot $plot
EOF
    gnuplot "$OUTDIR/chart.gp" || echo "gnuplot failed: no chart" >&2
}

summary() {
    local f
    echo "# bench/run.sh, $(date -u '+%F %H:%M UTC')"
    echo
    echo "- machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
    echo "- $($NGINX -v 2>&1 | sed 's/^nginx version: //'), $(redis-server --version | awk '{print $1, $2, $3}'), memcached $(memcached -V | awk '{print $2}'), wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
    echo "- module: $(git -C "$HERE" describe --always --dirty)"
    echo "- command: \`$COMMAND\`"
    echo "- wrk -t$THREADS -c$CONNS -d${DUR}s per cell, $RUNS passes over every server in turn; req/s the median of the passes, a ratio the median of its per-pass ratios (min–max over the passes)"
    [ -n "${NOTE_F:-}" ] && echo "- $NOTE_F"
    echo
    echo "## Throughput"
    echo
    table_throughput
    echo
    echo "## Ratios"
    echo
    table_ratios
    echo
    echo "![each ratio with its min–max](benchmarks.svg)"
    echo
    echo "## Latency"
    echo
    echo "At $CONNS connections, the median of the passes; at 1 connection (wrk -t1 -c1), one run of ${DUR1}s."
    echo
    table_latency
    if [ ${#RSS0[@]} -gt 0 ]; then
        echo
        echo "## Memory"
        echo
        echo "Both workers together, before and after one wrk run of at least $RSS_REQUESTS requests over every size, after the passes."
        echo
        table_rss
    fi
    if [ -s "$OUTDIR/micro.txt" ]; then
        echo
        echo "## One signature (\`make micro && build/micro\`)"
        echo
        cat "$OUTDIR/micro.txt"
    fi
    if [ ${#FLAGS[@]} -gt 0 ]; then
        echo
        echo "## FLAGGED: runs with errors or misses (their figures mean nothing)"
        echo
        for f in "${FLAGS[@]}"; do echo "- $f"; done
    fi
}


# ---- the run

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no --loglevel warning >/dev/null & PIDS+=($!)
wait_port "$REDIS_PORT" || die "redis did not listen"
MEMC_USER=(); [ "$EUID" = 0 ] && MEMC_USER=(-u root)
memcached -l 127.0.0.1 -p "$MEMC_PORT" -U 0 -m 64 -t 2 "${MEMC_USER[@]}" \
    >/dev/null 2>&1 & PIDS+=($!)
wait_port "$MEMC_PORT" || die "memcached did not listen"

NOTE_F=""
for p in O $SERVERS; do
    write_conf "$p"
    if [ "$p" = F ] && ! conf_ok F; then
        NOTE_F="F left out: nginx -t refuses the front tier's directives ($(head -1 "$ROOT/F/t.err"))"
        echo "bench: $NOTE_F" >&2
        SERVERS=${SERVERS/ F/}
        continue
    fi
    start_nginx "$p"
done

warm_up
passes
one_connection
if [ "$RSS_REQUESTS" -gt 0 ]; then
    for p in H F; do ran "$p" && rss_run "$p"; done
fi
if [ "$MICRO" = 1 ]; then
    make -s -C "$HERE" micro >/dev/null && "$HERE/build/micro" > "$OUTDIR/micro.txt"
fi
summary | tee "$OUTDIR/summary.md"
chart
echo
echo "summary: $OUTDIR/summary.md, chart: $CHART, wrk's outputs: $OUTDIR"
[ ${#FLAGS[@]} -eq 0 ] || exit 3
