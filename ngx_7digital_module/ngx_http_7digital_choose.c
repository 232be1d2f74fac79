
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The Choose Digital side of the gateway: the cdaccesskeyid, x-cd-date and
 * authorization headers every request carries.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_str_t  ngx_http_7digital_cd_key_header =
    ngx_string("cdaccesskeyid");
static ngx_str_t  ngx_http_7digital_cd_date_header = ngx_string("x-cd-date");
static ngx_str_t  ngx_http_7digital_cd_auth_header =
    ngx_string("authorization");

static ngx_str_t  ngx_http_7digital_cd_headers[] = {
    ngx_string("cdaccesskeyid"),
    ngx_string("x-cd-date"),
    ngx_string("authorization"),
    ngx_null_string
};


ngx_int_t
ngx_http_7digital_cd_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i, n;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h, *first;
    ngx_http_7digital_auth_e        auth;
    ngx_http_7digital_main_conf_t  *mcf;

    rc = ngx_http_7digital_read_input(r, lcf, &ctx->in, ctx->body_read, err);

    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
        return rc;
    }

    first = ngx_http_7digital_find_header(r, &ngx_http_7digital_cd_key_header,
                                          &n);

    if (first == NULL) {
        auth = NGX_HTTP_7DIGITAL_AUTH_MISSING;
        goto refused;
    }

    if (n > 1) {
        for (part = &r->headers_in.headers.part; part; part = part->next) {
            h = part->elts;

            for (i = 0; i < part->nelts; i++) {
                if (h[i].key.len == ngx_http_7digital_cd_key_header.len
                    && ngx_strncasecmp(h[i].key.data,
                                       ngx_http_7digital_cd_key_header.data,
                                       h[i].key.len)
                       == 0
                    && !ngx_http_7digital_equal(&h[i].value, &first->value))
                {
                    auth = NGX_HTTP_7DIGITAL_AUTH_CONFLICT;
                    goto refused;
                }
            }
        }
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    ctx->partner = ngx_http_7digital_registry_find(mcf->registry,
                                                   &first->value);

    if (ctx->partner == NULL) {
        auth = NGX_HTTP_7DIGITAL_AUTH_UNKNOWN;

    } else if (!ctx->partner->enabled) {
        auth = NGX_HTTP_7DIGITAL_AUTH_DISABLED;

    } else if (!(ctx->partner->apis & NGX_HTTP_7DIGITAL_API_CD)) {
        auth = NGX_HTTP_7DIGITAL_AUTH_FORBIDDEN;

    } else {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_OK;
        return NGX_OK;
    }

refused:

    ctx->auth = auth;
    ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_CD, auth,
                                 &ngx_http_7digital_cd_key_header, err);

    return NGX_DECLINED;
}


/*
 * Upstream, the three authentication headers are the gateway's own: the
 * real access key id, the current time, and the HMAC of exactly that
 * time string under the real secret.
 */

ngx_int_t
ngx_http_7digital_cd_forward(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t  date, sig;

    date.data = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_CD_DATE_LEN);
    sig.data = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);

    if (date.data == NULL || sig.data == NULL) {
        return NGX_ERROR;
    }

    date.len = ngx_http_7digital_cd_date(date.data, ngx_time()) - date.data;
    sig.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (ngx_http_7digital_hmac_sha1_base64(&lcf->upstream_secret, &date,
                                           sig.data)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_remove_headers(r, ngx_http_7digital_cd_headers)
        != NGX_OK
        || ngx_http_7digital_add_header(r, &ngx_http_7digital_cd_key_header,
                                        &lcf->upstream_key)
           != NGX_OK
        || ngx_http_7digital_add_header(r, &ngx_http_7digital_cd_date_header,
                                        &date)
           != NGX_OK
        || ngx_http_7digital_add_header(r, &ngx_http_7digital_cd_auth_header,
                                        &sig)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "yyyy-MM-dd'T'HH:mm:ss'Z'", the first format of the specification */

u_char *
ngx_http_7digital_cd_date(u_char *buf, time_t now)
{
    ngx_tm_t  tm;

    ngx_gmtime(now, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
