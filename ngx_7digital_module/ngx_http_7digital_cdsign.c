
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Choose Digital's signing rules as pure functions: the x-cd-date formats
 * and the "authentication" hash (which methods carry one, and over which
 * fields, is in the endpoint table).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


static u_char *ngx_http_7digital_put_digits(u_char *buf, ngx_uint_t value,
    ngx_uint_t n);
static ngx_int_t ngx_http_7digital_digits(u_char **p, u_char *end,
    ngx_uint_t n, ngx_int_t *value);
static time_t ngx_http_7digital_days_from_civil(ngx_int_t y, ngx_int_t m,
    ngx_int_t d);
static ngx_int_t ngx_http_7digital_cd_value(ngx_array_t *a, ngx_array_t *b,
    ngx_str_t *name, ngx_str_t *value);


static ngx_str_t  ngx_http_7digital_cd_auth_name =
    ngx_string("authentication");


/* "yyyy-MM-dd'T'HH:mm:ss'Z'", the first format of the specification */

u_char *
ngx_http_7digital_cd_date(u_char *buf, time_t now)
{
    ngx_tm_t  tm;

    ngx_gmtime(now, &tm);

    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_year, 4);
    *buf++ = '-';
    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_mon, 2);
    *buf++ = '-';
    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_mday, 2);
    *buf++ = 'T';
    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_hour, 2);
    *buf++ = ':';
    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_min, 2);
    *buf++ = ':';
    buf = ngx_http_7digital_put_digits(buf, tm.ngx_tm_sec, 2);
    *buf++ = 'Z';

    return buf;
}


static u_char *
ngx_http_7digital_put_digits(u_char *buf, ngx_uint_t value, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = n; i; i--) {
        buf[i - 1] = (u_char) ('0' + value % 10);
        value /= 10;
    }

    return buf + n;
}


/*
 * Clients send "yyyy-MM-ddTHH:mm:ss", with "Z", with a fraction, or with
 * an offset (the PHP example's date("Y-m-d\TH:i:s.BP")); without a zone
 * the time is UTC.  The HMAC is over the raw string, so this is only for
 * the freshness window.
 */

ngx_int_t
ngx_http_7digital_cd_parse_date(ngx_str_t *value, time_t *t)
{
    u_char     *p, *end;
    ngx_int_t   y, mo, d, h, mi, s, oh, om, sign;

    p = value->data;
    end = p + value->len;
    oh = 0;
    om = 0;
    sign = 0;

    if (ngx_http_7digital_digits(&p, end, 4, &y) != NGX_OK
        || p == end || *p++ != '-'
        || ngx_http_7digital_digits(&p, end, 2, &mo) != NGX_OK
        || p == end || *p++ != '-'
        || ngx_http_7digital_digits(&p, end, 2, &d) != NGX_OK
        || p == end || (*p != 'T' && *p != 't' && *p != ' ')
        || (p++, ngx_http_7digital_digits(&p, end, 2, &h)) != NGX_OK
        || p == end || *p++ != ':'
        || ngx_http_7digital_digits(&p, end, 2, &mi) != NGX_OK
        || p == end || *p++ != ':'
        || ngx_http_7digital_digits(&p, end, 2, &s) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (p < end && *p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return NGX_DECLINED;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;

    } else if (p < end && (*p == '+' || *p == '-')) {
        sign = (*p++ == '+') ? 1 : -1;

        if (ngx_http_7digital_digits(&p, end, 2, &oh) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (p < end && *p == ':') {
            p++;
        }

        if (p < end && ngx_http_7digital_digits(&p, end, 2, &om) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    if (p != end || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
        || mi > 59 || s > 60 || oh > 23 || om > 59)
    {
        return NGX_DECLINED;
    }

    *t = ngx_http_7digital_days_from_civil(y, mo, d) * 86400
         + h * 3600 + mi * 60 + s - sign * (oh * 3600 + om * 60);

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_digits(u_char **p, u_char *end, ngx_uint_t n,
    ngx_int_t *value)
{
    ngx_int_t  v;

    if ((ngx_uint_t) (end - *p) < n) {
        return NGX_DECLINED;
    }

    for (v = 0; n; n--, (*p)++) {
        if (**p < '0' || **p > '9') {
            return NGX_DECLINED;
        }

        v = v * 10 + (**p - '0');
    }

    *value = v;

    return NGX_OK;
}


/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */

static time_t
ngx_http_7digital_days_from_civil(ngx_int_t y, ngx_int_t m, ngx_int_t d)
{
    ngx_int_t  era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return (time_t) era * 146097 + doe - 719468;
}


/*
 * Each field's decoded value, from the body or the query; a field sent
 * twice with different values makes the request ambiguous.  On failure
 * *bad names the field.
 */

ngx_int_t
ngx_http_7digital_cd_auth_data(ngx_pool_t *pool, ngx_str_t *fields,
    ngx_array_t *query, ngx_array_t *body, ngx_str_t *data, ngx_str_t **bad)
{
    u_char      *p;
    size_t       len;
    ngx_int_t    rc;
    ngx_str_t   *f, *values;
    ngx_uint_t   n, i;

    for (n = 0; fields[n].len; n++) { /* void */ }

    values = ngx_palloc(pool, n * sizeof(ngx_str_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    len = 0;

    for (i = 0, f = fields; f->len; f++, i++) {
        rc = ngx_http_7digital_cd_value(query, body, f, &values[i]);

        if (rc != NGX_OK) {
            *bad = f;
            return rc;
        }

        len += values[i].len;
    }

    p = ngx_pnalloc(pool, len ? len : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    data->data = p;
    data->len = len;

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, values[i].data, values[i].len);
    }

    return NGX_OK;
}


/* NGX_DECLINED: absent; NGX_ABORT: present with different values */

static ngx_int_t
ngx_http_7digital_cd_value(ngx_array_t *a, ngx_array_t *b, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t                  i, j, found;
    ngx_array_t                *src[2];
    ngx_http_7digital_param_t  *prm;

    src[0] = b;
    src[1] = a;
    found = 0;

    for (j = 0; j < 2; j++) {
        prm = src[j]->elts;

        for (i = 0; i < src[j]->nelts; i++) {
            if (prm[i].name.len != name->len
                || ngx_memcmp(prm[i].name.data, name->data, name->len) != 0)
            {
                continue;
            }

            /* bytes, not C strings: "%00" must not end the comparison */
            if (found && (value->len != prm[i].value.len
                          || ngx_memcmp(value->data, prm[i].value.data,
                                        value->len)
                             != 0))
            {
                return NGX_ABORT;
            }

            *value = prm[i].value;
            found = 1;
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_7digital_cd_authentication(ngx_array_t *query, ngx_array_t *body,
    ngx_str_t *value)
{
    return ngx_http_7digital_cd_value(query, body,
                                      &ngx_http_7digital_cd_auth_name,
                                      value);
}


ngx_uint_t
ngx_http_7digital_is_cd_authentication(ngx_str_t *name)
{
    return name->len == ngx_http_7digital_cd_auth_name.len
           && ngx_strncmp(name->data, ngx_http_7digital_cd_auth_name.data,
                          name->len)
              == 0;
}
