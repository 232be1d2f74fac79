
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Pieces of the Prometheus text exposition format (version 0.0.4): label
 * values escaped, durations in seconds, the latency histogram's buckets.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


/*
 * The upper bounds of the Redis latency buckets, in microseconds, from a
 * loopback Redis to one that is about to time out; the last is +Inf.
 */
uint64_t  ngx_http_7digital_buckets[NGX_HTTP_7DIGITAL_BUCKETS] = {
    250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
    500000, 1000000, 0
};


ngx_uint_t
ngx_http_7digital_bucket(uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_7DIGITAL_BUCKETS - 1; i++) {
        if (usec <= ngx_http_7digital_buckets[i]) {
            break;
        }
    }

    return i;
}


/* a label value's length once escaped */

size_t
ngx_http_7digital_label_len(ngx_str_t *value)
{
    size_t   len;
    u_char  *p, *end;

    len = value->len;
    end = value->data + value->len;

    for (p = value->data; p < end; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            len++;
        }
    }

    return len;
}


/* backslash, double quote and line feed are the three escaped */

u_char *
ngx_http_7digital_label_escape(u_char *dst, ngx_str_t *value)
{
    u_char  *p, *end;

    end = value->data + value->len;

    for (p = value->data; p < end; p++) {

        switch (*p) {

        case '\\':
        case '"':
            *dst++ = '\\';
            *dst++ = *p;
            break;

        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;

        default:
            *dst++ = *p;
        }
    }

    return dst;
}


/*
 * Microseconds as seconds, without trailing zeros, as Prometheus's own
 * clients write bucket bounds: 500 is "0.0005", 1000000 is "1".  At most
 * NGX_HTTP_7DIGITAL_SECONDS_LEN bytes.
 */

u_char *
ngx_http_7digital_seconds(u_char *dst, uint64_t usec)
{
    u_char      digits[NGX_INT64_LEN];
    uint64_t    n, frac;
    ngx_uint_t  i, len;

    n = usec / 1000000;
    len = 0;

    do {
        digits[len++] = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (len) {
        *dst++ = digits[--len];
    }

    frac = usec % 1000000;

    if (frac == 0) {
        return dst;
    }

    *dst++ = '.';

    for (i = 0; i < 6 && frac; i++) {
        *dst++ = (u_char) ('0' + frac / 100000);
        frac = (frac % 100000) * 10;
    }

    return dst;
}
