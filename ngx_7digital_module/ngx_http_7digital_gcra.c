
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The generic cell rate algorithm (GCRA), as pure functions: a rate and a
 * burst as nginx writes them ("50r/s", "600r/m", "burst=100"), one step of
 * the algorithm over a theoretical arrival time, and the same step as the
 * Lua script Redis runs, so that every gateway node shares one budget.
 *
 * A limit of r requests per period with burst b: requests are spaced by
 * the emission interval T = period / r; a request is allowed when the
 * theoretical arrival time (TAT) is no more than b * T ahead of now, and
 * moves the TAT on by T.  Unlike a fixed window, no boundary ever lets
 * twice the limit through: over any window w at most b + 1 + w / T pass.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


/*
 * KEYS[1] the partner's and class's TAT; ARGV[1] T in microseconds,
 * ARGV[2] the burst, ARGV[3] how many requests to let through at most (a
 * node may take a few at once and spend them itself), ARGV[4] how many a
 * node took before and did not use (given back first).  Redis's own
 * clock, so that nodes whose clocks differ still share one budget (a
 * Redis before 5 needs replicate_commands() to write after TIME).
 * Returns {taken, remaining or (none taken) wait, reset}, microseconds.
 */

ngx_str_t  ngx_http_7digital_gcra_script = ngx_string(
    "redis.replicate_commands() "
    "local t = redis.call('TIME') "
    "local now = t[1] * 1000000 + t[2] "
    "local T = tonumber(ARGV[1]) "
    "local tau = T * tonumber(ARGV[2]) "
    "local back = tonumber(ARGV[4]) "
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now "
    "tat = tat - back * T "
    "if tat < now then tat = now end "
    "if tat - now > tau then "
    "if back > 0 then "
    "redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000)) "
    "end "
    "return {0, tat - tau - now, tat - now} "
    "end "
    "local k = math.floor((tau - (tat - now)) / T) + 1 "
    "local n = tonumber(ARGV[3]) "
    "if k > n then k = n end "
    "local new = tat + k * T "
    "redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000)) "
    "return {k, math.floor((tau - (new - now - T)) / T), new - now}");


/*
 * "50r/s" or "600r/m" or "3600r/h": the emission interval in microseconds.
 * NGX_ERROR for anything else, or a rate of 0 or above 10^6 per second.
 */

ngx_int_t
ngx_http_7digital_gcra_rate(ngx_str_t *value, uint64_t *interval)
{
    u_char    *p, *end;
    uint64_t   n, period;

    p = value->data;
    end = p + value->len;
    n = 0;

    if (p == end || *p < '0' || *p > '9') {
        return NGX_ERROR;
    }

    while (p < end && *p >= '0' && *p <= '9') {
        n = n * 10 + (*p++ - '0');

        if (n > 1000000000) {
            return NGX_ERROR;
        }
    }

    if (end - p != 3 || p[0] != 'r' || p[1] != '/') {
        return NGX_ERROR;
    }

    switch (p[2]) {
    case 's':
        period = 1000000;
        break;
    case 'm':
        period = 60 * (uint64_t) 1000000;
        break;
    case 'h':
        period = 3600 * (uint64_t) 1000000;
        break;
    default:
        return NGX_ERROR;
    }

    if (n == 0 || period / n == 0) {
        return NGX_ERROR;
    }

    *interval = period / n;

    return NGX_OK;
}


/*
 * Up to n requests at "now" (microseconds) against *tat, after "back"
 * taken before were given back, as the script does: NGX_OK when at least
 * one is let through (*tat moves on by as many intervals), NGX_DECLINED
 * when none is (g->wait says until when).
 */

ngx_int_t
ngx_http_7digital_gcra_step(uint64_t *tat, uint64_t now,
    ngx_http_7digital_limit_t *limit, uint64_t n, uint64_t back,
    ngx_http_7digital_gcra_t *g)
{
    uint64_t  t, tau, k, next, T;

    T = limit->interval;
    tau = T * limit->burst;
    t = (*tat > back * T) ? *tat - back * T : 0;
    t = (t > now) ? t : now;
    *tat = t;

    if (t - now > tau) {
        g->taken = 0;
        g->remaining = 0;
        g->wait = t - tau - now;
        g->reset = t - now;
        return NGX_DECLINED;
    }

    k = (tau - (t - now)) / T + 1;

    if (k > n) {
        k = n;
    }

    next = t + k * T;
    *tat = next;

    g->taken = k;
    g->remaining = (tau - (next - now - T)) / T;
    g->wait = 0;
    g->reset = next - now;

    return NGX_OK;
}
