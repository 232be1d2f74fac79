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

wrk_run() { # $1 url $2 outfile [$3 wrk script] -> "rps p99"
    wrk -t"$THREADS" -c"$CONNS" -d"$DUR"s --latency ${3:+-s "$3"} "$1" \
        > "$2" 2>&1
    awk '/Requests\/sec/{r=$2} /^ +99%/{p99=$2}
         /Non-2xx|Socket errors/{e=e" "$0}
         END{printf "%s %s%s\n", r, p99, (e ? " ERR:" e : "")}' "$2"
}

median() { # numbers, or durations with a unit (all in one unit per call)
    printf '%s\n' $* | sort -g | awk '{v[NR] = $0} END {print v[int((NR + 1) / 2)]}'
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
