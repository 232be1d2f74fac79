#!/bin/bash
# bench/audit.sh - what writing a sale down costs, in one run, as ratios.
#
# Three gateways in front of the same origin, identical but for the audit
# trail, each driven in turn by wrk with the same Choose Digital purchase
# (POST /music/purchase, a key-only partner: the gateway checks the key,
# computes the "authentication" hash and signs the headers):
#
#   N  sevendigital_audit_log off           no trail
#   W  sevendigital_audit_log, sync off     two write()s per sale
#   S  sevendigital_audit_log, sync on      the same, and the sale waits
#                                           for fdatasync() of its intent
#                                           (in nginx's thread pool)
#
# Ratios W/N and S/N; the p50 and p99 latencies show what a sale waits.
# RUNS passes (default 3) go over the servers in turn; each cell is the
# median of its passes.  The trail is written under $ROOT, on the disk
# that holds /tmp: run it where your trail will live for figures that
# mean something for you (ROOT=/var/tmp/7digital-audit-bench ...).
#
# Env: RUNS (3), DUR (8), CONNS (50), THREADS (2), BASE (port, 18400),
#      ROOT (/tmp/7digital-audit-bench), MODULE.

set -u

RUNS=${RUNS:-3}; DUR=${DUR:-8}; CONNS=${CONNS:-50}; THREADS=${THREADS:-2}
BASE=${BASE:-18400}; ROOT=${ROOT:-/tmp/7digital-audit-bench}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULE=${MODULE:-$HERE/build/ngx_http_7digital_module.so}
NGINX=/usr/sbin/nginx
. "$HERE/bench/lib.sh"

declare -A PORT=([O]=$BASE [N]=$((BASE + 1)) [W]=$((BASE + 2))
                 [S]=$((BASE + 3)))
declare -A DESC=([N]="no audit trail" [W]="trail, write() only"
                 [S]="trail, fdatasync() per sale")
declare -A AUDIT=([N]="sevendigital_audit_log off;"
                  [W]="sevendigital_audit_log $ROOT/W/audit.log;"
                  [S]="sevendigital_audit_log $ROOT/S/audit.log; sevendigital_audit_sync on;")
SERVERS="N W S"

command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
[ -f "$MODULE" ] || die "no module at $MODULE (run make)"

rm -rf "$ROOT"; mkdir -p "$ROOT/results"

cat > "$ROOT/partners.json" <<JSON
{"partners": [{"id": "bench", "key": "bench-partner-key",
               "apis": ["choosedigital"]}]}
JSON
echo "bench-upstream-secret" > "$ROOT/upstream.secret"

cat > "$ROOT/purchase.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "cdin=CD0001&customerId=cust-1&customerCountryCode=us&priceSold=100&currencyType=points"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["cdaccesskeyid"] = "bench-partner-key"
LUA

for p in O $SERVERS; do
    d=$ROOT/$p; mkdir -p "$d"
    {
        [ "$p" = O ] || echo "load_module $MODULE;"
        cat <<CONF
worker_processes 2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    upstream origin { server 127.0.0.1:${PORT[O]}; keepalive 64; }
CONF
        if [ "$p" = O ]; then
            cat <<CONF
    server { listen 127.0.0.1:${PORT[O]} backlog=4096;
        location / { default_type application/json;
                     return 200 '{"orderId":"ORD-1","priceSold":100}'; } }
}
CONF
        else
            cat <<CONF
    sevendigital_partners $ROOT/partners.json;
    ${AUDIT[$p]}
    proxy_next_upstream off;
    server { listen 127.0.0.1:${PORT[$p]} backlog=4096;
        location / {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key bench-upstream-key;
            sevendigital_upstream_secret_file $ROOT/upstream.secret;
            proxy_pass http://origin; proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
        fi
    } > "$d/nginx.conf"
    $NGINX -p "$d" -c "$d/nginx.conf" -t -q 2>"$d/t.err" \
        || { cat "$d/t.err"; die "nginx -t failed for $p"; }
    $NGINX -p "$d" -c "$d/nginx.conf" 2>>"$d/stderr.log" & PIDS+=($!)
    wait_port "${PORT[$p]}" || die "$p did not listen"
done

declare -A RPS P50 P99
for run in $(seq "$RUNS"); do
    for p in $SERVERS; do
        out=$ROOT/results/$p-$run.txt
        read -r rps p50 p99 bad err < <(wrk_run \
            "http://127.0.0.1:${PORT[$p]}/music/purchase" "$out" \
            -s "$ROOT/purchase.lua")
        [ "$bad$err" = 00 ] \
            || echo "bench: $p: $bad non-2xx answers, $err socket errors" >&2
        RPS[$p]="${RPS[$p]:-} $rps"; P50[$p]="${P50[$p]:-} $p50"
        P99[$p]="${P99[$p]:-} $p99"
    done
done

echo "wrk -t$THREADS -c$CONNS -d${DUR}s POST /music/purchase, median of" \
     "$RUNS passes, $(nproc) CPUs, $(date -u +%F), trail on" \
     "$(df --output=source "$ROOT" | tail -1)"
echo
echo "| server | req/s | ratio | p50 | p99 |"
echo "|---|---:|---:|---:|---:|"
n=$(median ${RPS[N]})
for p in $SERVERS; do
    r=$(median ${RPS[$p]})
    printf '| %s %s | %s | %s | %s | %s |\n' "$p" "${DESC[$p]}" "$r" \
        "$(awk -v a="$r" -v b="$n" 'BEGIN{printf "%.2f", a / b}')" \
        "$(fmt_us "$(median ${P50[$p]})")" "$(fmt_us "$(median ${P99[$p]})")"
done
echo
for p in W S; do
    [ -s "$ROOT/$p/audit.log" ] || die "$p wrote no trail"
done
echo "records written: W $(wc -l < "$ROOT/W/audit.log"), S $(wc -l < "$ROOT/S/audit.log")"
