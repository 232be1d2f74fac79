#!/bin/bash
# bench/profile.sh - where a re-signed pass-through spends its time.
#
# The servers of bench/run.sh that a miss goes through, in front of one
# origin (static files of each size):
#
#   B  proxy_pass to the origin, no cache   the reference
#   P  ours: 7digital, 2-legged re-sign     as bench/run.sh's P
#   D  ours: Choose Digital re-sign         a catalogue read: the key
#                                           checked, the three headers
#                                           signed again
#
# TOOL=callgrind (default) runs each server as one nginx process
# (master_process off) under valgrind --tool=callgrind, sends it N
# requests of each size over one keep-alive connection after a warm-up,
# with the counters zeroed before them and dumped after, and prints the
# instructions (Ir) per request: a figure that does not depend on what
# else runs on the machine, and bench/steps.py's split of P's and D's by
# step.  The dumps stay in $ROOT/<server>-<size>.out for
# callgrind_annotate.
#
# TOOL=perf runs the servers as bench/run.sh does (two workers), drives
# each with wrk for DUR seconds and records its workers with perf record
# -g; the reports are in $ROOT/<server>-<size>.perf.txt.
#
# Env: TOOL (callgrind), SERVERS ("B P D"), SIZES ("2k 20k"), N (20000),
#      DUR (10), CONNS (50), THREADS (2), BASE (port, 18500), ROOT
#      (/tmp/7digital-profile), MODULE.

set -u

TOOL=${TOOL:-callgrind}; SERVERS=${SERVERS:-"B P D"}
SIZES=${SIZES:-"2k 20k"}; N=${N:-20000}; DUR=${DUR:-10}
CONNS=${CONNS:-50}; THREADS=${THREADS:-2}; BASE=${BASE:-18500}
ROOT=${ROOT:-/tmp/7digital-profile}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${MODULE:-$HERE/build/ngx_http_7digital_module.so}
NGINX=/usr/sbin/nginx
. "$HERE/bench/lib.sh"

declare -A PORT=([O]=$BASE [B]=$((BASE + 1)) [P]=$((BASE + 2))
                 [D]=$((BASE + 3)))
declare -A PATHS=([B]=/1.2/bench [P]=/1.2/bench [D]=/music/artist)
declare -A QUERY=([B]="" [P]="?oauth_consumer_key=bench-partner-key"
                  [D]="?country=us")
declare -A HEADER=([B]="" [P]="" [D]="cdaccesskeyid: bench-partner-key")

[ -f "$MODULE" ] || die "no module at $MODULE (run make)"
case $TOOL in
    callgrind) command -v valgrind >/dev/null || die "valgrind is missing" ;;
    perf) command -v perf >/dev/null && command -v wrk >/dev/null \
              || die "perf (linux-perf) and wrk are needed" ;;
    *) die "TOOL is callgrind or perf" ;;
esac

rm -rf "$ROOT"; mkdir -p "$ROOT/www/1.2/bench" "$ROOT/www/music/artist"
for s in $SIZES; do
    head -c $((${s%k} * 1024)) /dev/zero | tr '\0' x \
        | tee "$ROOT/www/1.2/bench/$s" > "$ROOT/www/music/artist/$s"
done

cat > "$ROOT/partners.json" <<EOF
{"partners": [{"id": "bench", "key": "bench-partner-key",
               "apis": ["7digital", "choosedigital"]}]}
EOF
echo "bench-upstream-secret" > "$ROOT/upstream.secret"

PROXY='proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";'

write_conf() { # $1 server
    local p=$1 d=$ROOT/$1
    mkdir -p "$d"
    {
        case $p in P|D) echo "load_module $MODULE;" ;; esac
        if [ "$p" != O ] && [ "$TOOL" = callgrind ]; then
            echo "master_process off;"
        else
            echo "worker_processes 2;"
        fi
        cat <<EOF
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    upstream origin { server 127.0.0.1:${PORT[O]}; keepalive 64; }
    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;
EOF
        case $p in
        O) echo "        location / { root $ROOT/www;" \
                "default_type application/json; }" ;;
        B) echo "        location / { $PROXY }" ;;
        P) resign_location 7digital /1.2/ "${PORT[O]}" ;;
        D) resign_location choosedigital / "${PORT[O]}" ;;
        esac
        echo "    }"
        case $p in P|D) echo "    sevendigital_partners $ROOT/partners.json;"
        esac
        [ "$p" = P ] && echo "    sevendigital_endpoint bench/* catalogue 2-legged;"
        echo "}"
    } > "$d/nginx.conf"
    $NGINX -p "$d" -c "$d/nginx.conf" -t -q 2>"$d/t.err" \
        || { cat "$d/t.err"; die "nginx -t failed for $p"; }
}

# $1 server $2 size $3 count: requests over one keep-alive connection
drive() {
    python3 - "${PORT[$1]}" "${PATHS[$1]}/$2${QUERY[$1]}" "${HEADER[$1]}" \
        "$3" <<'PY'
import http.client, sys
port, url, header, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
headers = dict([header.split(": ", 1)]) if header else {}
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", url, headers=headers)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit("status %d for %s" % (r.status, url))
PY
}

write_conf O
$NGINX -p "$ROOT/O" -c "$ROOT/O/nginx.conf" 2>>"$ROOT/O/stderr.log" & PIDS+=($!)
wait_port "${PORT[O]}" || die "the origin did not listen"

for p in $SERVERS; do write_conf "$p"; done

if [ "$TOOL" = callgrind ]; then
    printf '| server | size | Ir/request |\n|---|---|---:|\n'
    for p in $SERVERS; do
        for s in $SIZES; do
            out=$ROOT/$p-$s.out
            valgrind --tool=callgrind --callgrind-out-file="$out.all" \
                --dump-instr=no --collect-jumps=no \
                $NGINX -p "$ROOT/$p" -c "$ROOT/$p/nginx.conf" \
                2>"$ROOT/$p-$s.valgrind.log" & vpid=$!
            PIDS+=($vpid)
            for _ in $(seq 10); do
                wait_port "${PORT[$p]}" && break
            done
            drive "$p" "$s" 200 || die "$p $s: warm-up failed"
            callgrind_control -z "$vpid" >/dev/null 2>&1
            drive "$p" "$s" "$N" || die "$p $s: run failed"
            callgrind_control -d "$p-$s" "$vpid" >/dev/null 2>&1
            kill -TERM "$vpid"; wait "$vpid" 2>/dev/null
            dump=$(ls "$out.all".*"$p-$s"* 2>/dev/null | head -1)
            [ -n "$dump" ] || dump=$(ls -t "$out.all".* | head -1)
            mv "$dump" "$out"
            ir=$(callgrind_annotate "$out" 2>/dev/null \
                 | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1; exit}')
            printf '| %s | %s | %d |\n' "$p" "$s" $((ir / N))
        done
    done
    for p in $SERVERS; do
        [ "$p" = B ] && continue
        for s in $SIZES; do
            printf '\n%s %s, Ir/request by step:\n' "$p" "$s"
            "$HERE/bench/steps.py" "$ROOT/$p-$s.out" "$N"
        done
    done
    exit 0
fi

for p in $SERVERS; do
    $NGINX -p "$ROOT/$p" -c "$ROOT/$p/nginx.conf" \
        2>>"$ROOT/$p/stderr.log" & PIDS+=($!)
    wait_port "${PORT[$p]}" || die "$p did not listen"
    for s in $SIZES; do
        drive "$p" "$s" 10 || die "$p $s: warm-up failed"
        master=$(cat "$ROOT/$p/nginx.pid")
        workers=$(ps -o pid= --ppid "$master" | paste -sd,)
        printf '%s\n' "${HEADER[$p]:+wrk.headers[\"cdaccesskeyid\"] = \"bench-partner-key\"}" \
            > "$ROOT/$p.lua"
        perf record -g -o "$ROOT/$p-$s.perf" -p "$workers" \
            2>"$ROOT/$p-$s.perf.log" & rec=$!
        wrk_run "http://127.0.0.1:${PORT[$p]}${PATHS[$p]}/$s${QUERY[$p]}" \
            "$ROOT/$p-$s.wrk.txt" "$ROOT/$p.lua" >/dev/null
        kill -INT "$rec"; wait "$rec"
        perf report -i "$ROOT/$p-$s.perf" --no-children --sort dso \
            --stdio -g none 2>/dev/null > "$ROOT/$p-$s.perf.txt"
        perf report -i "$ROOT/$p-$s.perf" --no-children --sort dso,symbol \
            --stdio -g none 2>/dev/null >> "$ROOT/$p-$s.perf.txt"
        echo "$p $s: $(awk '/Requests\/sec/{print $2}' "$ROOT/$p-$s.wrk.txt")" \
             "req/s, $ROOT/$p-$s.perf.txt; by object:"
        awk '/^ +[0-9.]+%/{print "    " $1, $2} /^# Samples/{n++} n == 2{exit}' \
            "$ROOT/$p-$s.perf.txt"
    done
done
