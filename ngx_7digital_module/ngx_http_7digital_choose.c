
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The Choose Digital side of the gateway: the cdaccesskeyid, x-cd-date and
 * authorization headers every request carries, and the "authentication"
 * hash of purchases, order changes and history.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_int_t ngx_http_7digital_cd_check_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_auth_e *auth);
static ngx_int_t ngx_http_7digital_cd_verify_headers(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_cd_verify_hash(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_cd_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t **value, ngx_http_7digital_error_t *err);
static void ngx_http_7digital_cd_error(ngx_http_7digital_error_t *err,
    ngx_uint_t status, ngx_str_t *param, char *message);
static ngx_int_t ngx_http_7digital_cd_forward_hash(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);


static ngx_str_t  ngx_http_7digital_cd_key_header =
    ngx_string("cdaccesskeyid");
static ngx_str_t  ngx_http_7digital_cd_date_header = ngx_string("x-cd-date");
static ngx_str_t  ngx_http_7digital_cd_auth_header =
    ngx_string("authorization");
static ngx_str_t  ngx_http_7digital_cd_auth_param =
    ngx_string("authentication");

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
    ngx_int_t                 rc;
    ngx_http_7digital_auth_e  auth;

    rc = ngx_http_7digital_read_input(r, lcf, &ctx->in, ctx->body_read, err);

    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
        return rc;
    }

    if (ngx_http_7digital_cd_check_key(r, ctx, &auth) != NGX_OK) {
        ctx->auth = auth;
        ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_CD, auth,
                                     &ngx_http_7digital_cd_key_header, err);
        return NGX_DECLINED;
    }

    rc = ngx_http_7digital_cd_verify_headers(r, lcf, ctx, err);

    if (rc == NGX_OK) {
        rc = ngx_http_7digital_cd_verify_hash(r, ctx, err);
    }

    ctx->auth = (rc == NGX_OK) ? NGX_HTTP_7DIGITAL_AUTH_OK : ctx->auth;

    return rc;
}


static ngx_int_t
ngx_http_7digital_cd_check_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_auth_e *auth)
{
    ngx_uint_t                      i, n;
    ngx_list_part_t                *part;
    ngx_table_elt_t                *h, *first;
    ngx_http_7digital_main_conf_t  *mcf;

    first = ngx_http_7digital_find_header(r, &ngx_http_7digital_cd_key_header,
                                          &n);

    if (first == NULL) {
        *auth = NGX_HTTP_7DIGITAL_AUTH_MISSING;
        return NGX_DECLINED;
    }

    for (part = &r->headers_in.headers.part; n > 1 && part; part = part->next)
    {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == ngx_http_7digital_cd_key_header.len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_http_7digital_cd_key_header.data,
                                   h[i].key.len)
                   == 0
                && !ngx_http_7digital_equal(&h[i].value, &first->value))
            {
                *auth = NGX_HTTP_7DIGITAL_AUTH_CONFLICT;
                return NGX_DECLINED;
            }
        }
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    *auth = ngx_http_7digital_registry_check(mcf->registry, &first->value,
                                             NGX_HTTP_7DIGITAL_API_CD,
                                             ngx_time(), &ctx->partner);

    return (*auth == NGX_HTTP_7DIGITAL_AUTH_OK) ? NGX_OK : NGX_DECLINED;
}


/*
 * From a partner with a secret: authorization must be the HMAC-SHA1 of
 * the exact x-cd-date string the partner sent, and that date must be
 * within the window of the gateway's clock.
 */

static ngx_int_t
ngx_http_7digital_cd_verify_headers(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    time_t                        t, now;
    ngx_int_t                     rc;
    ngx_str_t                    *date, *sig, want;
    ngx_http_7digital_partner_t  *p;
    u_char                        buf[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    p = ctx->partner;

    if (p->secret.len == 0) {
        if (!lcf->require_signature) {
            return NGX_OK;
        }

        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_UNSIGNED;
        ngx_http_7digital_cd_error(err, NGX_HTTP_UNAUTHORIZED,
                                   &ngx_http_7digital_cd_auth_header,
                                   "Signature required");
        return NGX_DECLINED;
    }

    rc = ngx_http_7digital_cd_header(r, &ngx_http_7digital_cd_date_header,
                                     &date, err);
    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_UNSIGNED;
        return rc;
    }

    rc = ngx_http_7digital_cd_header(r, &ngx_http_7digital_cd_auth_header,
                                     &sig, err);
    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_UNSIGNED;
        return rc;
    }

    if (ngx_http_7digital_cd_parse_date(date, &t) != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
        ngx_http_7digital_cd_error(err, NGX_HTTP_BAD_REQUEST,
                                   &ngx_http_7digital_cd_date_header,
                                   "Invalid date");
        return NGX_DECLINED;
    }

    now = ngx_time();

    if (t < now - lcf->signature_window || t > now + lcf->signature_window) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_STALE;
        ngx_http_7digital_cd_error(err, NGX_HTTP_UNAUTHORIZED,
                                   &ngx_http_7digital_cd_date_header,
                                   "validation.invalid.outofrange");
        return NGX_DECLINED;
    }

    if (ngx_http_7digital_hmac_base64(p->hmac, date, buf) != NGX_OK) {
        return NGX_ERROR;
    }

    want.data = buf;
    want.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (!ngx_http_7digital_equal(&want, sig)) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE;
        ngx_http_7digital_cd_error(err, NGX_HTTP_UNAUTHORIZED,
                                   &ngx_http_7digital_cd_auth_header,
                                   "Invalid");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Methods with an "authentication" parameter: every field it signs must
 * be present, once; a partner with a secret must send the value its
 * secret gives.  The data string is kept for the upstream's own value.
 */

static ngx_int_t
ngx_http_7digital_cd_verify_hash(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    ngx_int_t                     rc;
    ngx_str_t                    *fields, *bad, sent, want;
    ngx_http_7digital_partner_t  *p;
    u_char                        buf[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    fields = ctx->route.endpoint->hash;

    if (fields == NULL) {
        return NGX_OK;
    }

    rc = ngx_http_7digital_cd_auth_data(r->pool, fields, &ctx->in.query,
                                        &ctx->in.body, &ctx->cd_auth_data,
                                        &bad);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
        ngx_http_7digital_cd_error(err, NGX_HTTP_BAD_REQUEST, bad,
                                   rc == NGX_DECLINED ? "Required"
                                                      : "Conflicting values");
        return NGX_DECLINED;
    }

    ctx->cd_hashed = 1;
    p = ctx->partner;

    if (p->secret.len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_7digital_cd_authentication(&ctx->in.query, &ctx->in.body,
                                             &sent);
    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_UNSIGNED;
        ngx_http_7digital_cd_error(err,
                                   rc == NGX_DECLINED ? NGX_HTTP_UNAUTHORIZED
                                                      : NGX_HTTP_BAD_REQUEST,
                                   &ngx_http_7digital_cd_auth_param,
                                   rc == NGX_DECLINED ? "Required"
                                                      : "Conflicting values");
        return NGX_DECLINED;
    }

    if (ngx_http_7digital_hmac_base64(p->hmac, &ctx->cd_auth_data, buf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    want.data = buf;
    want.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (!ngx_http_7digital_equal(&want, &sent)) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE;
        ngx_http_7digital_cd_error(err, NGX_HTTP_UNAUTHORIZED,
                                   &ngx_http_7digital_cd_auth_param,
                                   "Invalid");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_cd_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t **value, ngx_http_7digital_error_t *err)
{
    ngx_uint_t        n;
    ngx_table_elt_t  *h;

    h = ngx_http_7digital_find_header(r, name, &n);

    if (h == NULL || n > 1) {
        ngx_http_7digital_cd_error(err,
                                   h ? NGX_HTTP_BAD_REQUEST
                                     : NGX_HTTP_UNAUTHORIZED,
                                   name, h ? "Conflicting values" : "Required");
        return NGX_DECLINED;
    }

    *value = &h->value;

    return NGX_OK;
}


static void
ngx_http_7digital_cd_error(ngx_http_7digital_error_t *err, ngx_uint_t status,
    ngx_str_t *param, char *message)
{
    err->status = status;
    err->parameter = *param;
    err->message.data = (u_char *) message;
    err->message.len = ngx_strlen(message);
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
    time_t     now;
    ngx_str_t  date, sig;

    /*
     * x-cd-date counts seconds: a process signs each second's date once
     * for a key, and requests copy it (a retry may send it again later)
     */
    static time_t                     last_time = -1;
    static ngx_http_7digital_hmac_t  *last_key;
    static u_char                     last_date[NGX_HTTP_7DIGITAL_CD_DATE_LEN];
    static u_char                     last_sig[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    static ngx_str_t                  last = { 0, last_date };

    now = ngx_time();

    if (now != last_time || lcf->upstream_hmac != last_key) {
        last.len = ngx_http_7digital_cd_date(last_date, now) - last_date;

        if (ngx_http_7digital_hmac_base64(lcf->upstream_hmac, &last,
                                          last_sig)
            != NGX_OK)
        {
            last_time = -1;
            return NGX_ERROR;
        }

        last_time = now;
        last_key = lcf->upstream_hmac;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: x-cd-date \"%V\" signed", &last);
    }

    date.len = last.len;
    date.data = ngx_pstrdup(r->pool, &last);
    sig.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;
    sig.data = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);

    if (date.data == NULL || sig.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(sig.data, last_sig, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);

    if (ngx_http_7digital_cd_forward_hash(r, lcf, ctx) != NGX_OK) {
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


/*
 * The partner's "authentication" value never leaves the gateway; for a
 * hashed method the upstream receives the value of the real secret, in
 * the body when the request has a form body, in the query otherwise.
 */

static ngx_int_t
ngx_http_7digital_cd_forward_hash(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t    b64, extra, text, *add_q, *add_b;
    ngx_uint_t   in_q, in_b;
    u_char       buf[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    (void) ngx_http_7digital_find_param(&ctx->in.query,
                                        &ngx_http_7digital_cd_auth_param,
                                        &in_q);
    (void) ngx_http_7digital_find_param(&ctx->in.body,
                                        &ngx_http_7digital_cd_auth_param,
                                        &in_b);

    add_q = NULL;
    add_b = NULL;

    if (ctx->cd_hashed) {
        if (ngx_http_7digital_hmac_base64(lcf->upstream_hmac,
                                          &ctx->cd_auth_data, buf)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        b64.data = buf;
        b64.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

        if (ngx_http_7digital_param_text(r->pool,
                                         &ngx_http_7digital_cd_auth_param,
                                         &b64, &extra)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ctx->in.form) {
            add_b = &extra;

        } else {
            add_q = &extra;
        }
    }

    if (in_q || add_q) {
        if (ngx_http_7digital_join_params(r->pool, &ctx->in.query,
                                    ngx_http_7digital_is_cd_authentication,
                                    add_q, &text)
            != NGX_OK
            || ngx_http_7digital_set_args(r, &text) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (in_b || add_b) {
        if (ngx_http_7digital_join_params(r->pool, &ctx->in.body,
                                    ngx_http_7digital_is_cd_authentication,
                                    add_b, &text)
            != NGX_OK
            || ngx_http_7digital_set_body(r, &text) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
