
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
 * ARGV[2] the burst.  Redis's own clock, so that nodes whose clocks differ
 * still share one budget.  Returns {allowed, remaining or wait in
 * microseconds, reset in microseconds}.
 */

ngx_str_t  ngx_http_7digital_gcra_script = ngx_string(
    "local t = redis.call('TIME') "
    "local now = t[1] * 1000000 + t[2] "
    "local T = tonumber(ARGV[1]) "
    "local tau = T * tonumber(ARGV[2]) "
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now "
    "if tat < now then tat = now end "
    "if tat - now > tau then "
    "return {0, tat - tau - now, tat - now} "
    "end "
    "local new = tat + T "
    "redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000)) "
    "return {1, math.floor((tau - (new - now - T)) / T), new - now}");


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
 * One request at "now" (microseconds) against *tat: NGX_OK when allowed
 * (*tat moves on, *remaining is what is left of the burst), NGX_DECLINED
 * when not (*wait is how long until it would be).  *reset is when the
 * limit is whole again.
 */

ngx_int_t
ngx_http_7digital_gcra_step(uint64_t *tat, uint64_t now, uint64_t interval,
    uint64_t burst, uint64_t *remaining, uint64_t *wait, uint64_t *reset)
{
    uint64_t  t, tau, next;

    tau = interval * burst;
    t = (*tat > now) ? *tat : now;

    if (t - now > tau) {
        *wait = t - tau - now;
        *remaining = 0;
        *reset = t - now;
        return NGX_DECLINED;
    }

    next = t + interval;
    *tat = next;
    *wait = 0;
    *remaining = (tau - (next - now - interval)) / interval;
    *reset = next - now;

    return NGX_OK;
}
