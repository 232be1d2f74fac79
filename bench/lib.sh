# bench/lib.sh - what bench/run.sh and bench/audit.sh share; sourced.
# The caller sets ROOT and fills PIDS with the processes to stop on exit.

PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

workers_rss() { # $1 peer: the sum of its workers' RSS, in KB
    local master
    master=$(cat "$ROOT/$1/nginx.pid" 2>/dev/null) || { echo 0; return; }
    ps -o rss= --ppid "$master" | awk '{s += $1} END {print s + 0}'
}

# $1 url $2 outfile, then wrk's own arguments (-s script, -H header, or
# -t/-c/-d to override the run's): prints "rps p50 p99 non2xx errors",
# the latencies in microseconds, errors the sum of wrk's socket errors
wrk_run() {
    local url=$1 out=$2
    shift 2
    wrk -t"$THREADS" -c"$CONNS" -d"$DUR"s --latency "$@" "$url" > "$out" 2>&1
    awk 'function us(v) {
             if (v ~ /us$/) return v + 0;
             if (v ~ /ms$/) return v * 1000;
             if (v ~ /m$/) return v * 60e6;
             return v * 1e6 }
         /Requests\/sec/ { r = $2 }
         /^ +50%/ { p50 = us($2) }
         /^ +99%/ { p99 = us($2) }
         /Non-2xx or 3xx responses/ { bad = $NF }
         /Socket errors/ { gsub(/,/, ""); e = $4 + $6 + $8 + $10 }
         END { printf "%s %.0f %.0f %d %d\n", (r == "" ? 0 : r), p50, p99,
                      bad, e }' "$out"
}

# microseconds as wrk would show them: 812us, 1.94ms; none: a dash
fmt_us() {
    awk -v v="$1" 'BEGIN { if (v == "") printf "–";
                           else if (v < 1000) printf "%dus", v;
                           else printf "%.2fms", v / 1000 }'
}

median() { # numbers; of an even count, the mean of the middle two
    printf '%s\n' $* | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2];
              else if (NR) print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# A re-signed pass-through's location: $1 the API (7digital, choosedigital),
# $2 its prefix, $3 the origin's port.  The caller sets PROXY (proxy_pass
# and its settings) and keeps upstream.secret in $ROOT.
resign_location() {
    echo "        location $2 {"
    echo "            sevendigital_gateway $1;"
    echo "            sevendigital_upstream_key bench-upstream-key;"
    echo "            sevendigital_upstream_secret_file $ROOT/upstream.secret;"
    if [ "$1" = 7digital ]; then
        echo "            sevendigital_oauth_sign 2-legged;"
        echo "            sevendigital_upstream_origin http://127.0.0.1:$3;"
    fi
    echo "            $PROXY"
    echo "        }"
}
