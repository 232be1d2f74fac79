
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Variables for log_format, map and limit_req_zone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_int_t ngx_http_7digital_partner_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_auth_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_cache_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_hashed_customer_id_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_args_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_request_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_7digital_request_line(ngx_http_request_t *r,
    ngx_str_t *line);
static ngx_http_7digital_ctx_t *ngx_http_7digital_early_identify(
    ngx_http_request_t *r);


static ngx_http_variable_t  ngx_http_7digital_vars[] = {

    { ngx_string("sevendigital_partner"), NULL,
      ngx_http_7digital_partner_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sevendigital_auth_status"), NULL,
      ngx_http_7digital_auth_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sevendigital_cache_status"), NULL,
      ngx_http_7digital_cache_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sevendigital_hashed_customer_id"), NULL,
      ngx_http_7digital_hashed_customer_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sevendigital_args"), NULL,
      ngx_http_7digital_args_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("sevendigital_request"), NULL,
      ngx_http_7digital_request_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_7digital_customer_id = ngx_string("customerId");


/* indexed by ngx_http_7digital_auth_e */


ngx_int_t
ngx_http_7digital_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_7digital_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * Unless "sevendigital_log_credentials on": the request line as nginx
 * keeps it for $request and for the "request:" of error log lines loses
 * its credentials before anything is logged.  (A line refused while nginx
 * reads it, before this phase, is logged as it came.)
 */

ngx_int_t
ngx_http_7digital_hide_credentials(ngx_http_request_t *r)
{
    ngx_str_t                       line;
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    if (mcf->log_credentials || r->args.len == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_7digital_request_line(r, &line) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (line.data != r->request_line.data) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: credentials hidden from the logs");

        r->request_line = line;
    }

    return NGX_DECLINED;
}


/* $sevendigital_args: the query string without credentials */

static ngx_int_t
ngx_http_7digital_args_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  args;

    if (ngx_http_7digital_log_args(r->pool, &r->args, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    v->data = args.data;
    v->len = args.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $sevendigital_request: the request line without credentials */

static ngx_int_t
ngx_http_7digital_request_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  line;

    if (ngx_http_7digital_request_line(r, &line) != NGX_OK) {
        return NGX_ERROR;
    }

    v->data = line.data;
    v->len = line.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = (line.len == 0);

    return NGX_OK;
}


/*
 * r->request_line with the query string's credentials left out, or the
 * line itself when there are none.  The query is found in the line as
 * text, not by pointer: HTTP/2 builds the line in a buffer of its own.
 */

static ngx_int_t
ngx_http_7digital_request_line(ngx_http_request_t *r, ngx_str_t *line)
{
    u_char     *p, *q, *rl_end, *args_end;
    ngx_str_t   args;

    *line = r->request_line;

    if (r->args.len == 0 || r->request_line.len == 0) {
        return NGX_OK;
    }

    rl_end = r->request_line.data + r->request_line.len;
    q = ngx_strlchr(r->request_line.data, rl_end, '?');

    if (q == NULL || (size_t) (rl_end - q - 1) < r->args.len
        || ngx_memcmp(q + 1, r->args.data, r->args.len) != 0)
    {
        return NGX_OK;
    }

    if (ngx_http_7digital_log_args(r->pool, &r->args, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    if (args.data == r->args.data) {
        return NGX_OK;
    }

    line->data = ngx_pnalloc(r->pool, r->request_line.len);
    if (line->data == NULL) {
        return NGX_ERROR;
    }

    args_end = q + 1 + r->args.len;

    /* "GET /path?" (the "?" only if something is left) */
    p = ngx_cpymem(line->data, r->request_line.data,
                   q - r->request_line.data + (args.len ? 1 : 0));
    p = ngx_cpymem(p, args.data, args.len);
    p = ngx_cpymem(p, args_end, rl_end - args_end);

    line->len = p - line->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_partner_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_7digital_early_identify(r);

    if (ctx == NULL || ctx->partner == NULL
        || ctx->auth != NGX_HTTP_7DIGITAL_AUTH_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->partner->id.len;
    v->data = ctx->partner->id.data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_auth_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                *name;
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_7digital_early_identify(r);

    if (ctx == NULL || ctx->auth == NGX_HTTP_7DIGITAL_AUTH_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = ngx_http_7digital_auth_name(ctx->auth);
    v->len = name->len;
    v->data = name->data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* indexed by ngx_http_7digital_cache_status_e */
ngx_str_t  ngx_http_7digital_cache_names[NGX_HTTP_7DIGITAL_CACHE_NSTATUS] = {
    ngx_null_string,
    ngx_string("HIT"),
    ngx_string("MISS"),
    ngx_string("EXPIRED"),
    ngx_string("BYPASS"),
    ngx_string("STALE"),
    ngx_string("UPDATING")
};


static ngx_int_t
ngx_http_7digital_cache_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx == NULL || ctx->cache_status == NGX_HTTP_7DIGITAL_CACHE_NONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_7digital_cache_names[ctx->cache_status].len;
    v->data = ngx_http_7digital_cache_names[ctx->cache_status].data;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Choose Digital's download and player-info paths take the SHA-256 of the
 * customer id; partners send the customerId parameter and the operator
 * builds the upstream path from this variable.
 */

static ngx_int_t
ngx_http_7digital_hashed_customer_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_uint_t                  n;
    ngx_array_t                 query, *src;
    ngx_http_7digital_ctx_t    *ctx;
    ngx_http_7digital_param_t  *prm;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx && ctx->stage == NGX_HTTP_7DIGITAL_STAGE_DONE
        && ctx->in.query.elts)
    {
        prm = ngx_http_7digital_find_param(&ctx->in.body,
                                           &ngx_http_7digital_customer_id,
                                           &n);
        src = &ctx->in.query;

    } else {
        if (ngx_array_init(&query, r->pool, 8,
                           sizeof(ngx_http_7digital_param_t))
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_http_7digital_parse_params(r->pool, &r->args, &query)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        prm = NULL;
        src = &query;
    }

    if (prm == NULL) {
        prm = ngx_http_7digital_find_param(src,
                                           &ngx_http_7digital_customer_id,
                                           &n);
    }

    if (prm == NULL || prm->value.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ngx_pnalloc(r->pool, 64);
    if (v->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_sha256_hex(&prm->value, v->data) != NGX_OK) {
        return NGX_ERROR;
    }

    v->len = 64;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * limit_req and limit_conn evaluate their keys in the preaccess phase,
 * before the access checks ran; the partner is then found from the query
 * and the headers alone, without reading the body or changing anything.
 */

static ngx_http_7digital_ctx_t *
ngx_http_7digital_early_identify(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_7digital_ctx_t       *ctx, *tmp;
    ngx_http_7digital_error_t      err;
    ngx_http_7digital_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    /* where the gateway is off, nothing is allocated or looked at */
    if (lcf->api == NGX_HTTP_7DIGITAL_OFF) {
        return ngx_http_get_module_ctx(r, ngx_http_7digital_module);
    }

    ctx = ngx_http_7digital_get_ctx(r);

    if (ctx == NULL || ctx->stage == NGX_HTTP_7DIGITAL_STAGE_DONE
        || ctx->auth != NGX_HTTP_7DIGITAL_AUTH_NONE)
    {
        return ctx;
    }

    /* identified once per request, however often the variable is read */
    if (ctx->early) {
        return ctx->early;
    }

    tmp = ngx_pcalloc(r->pool, sizeof(ngx_http_7digital_ctx_t));
    if (tmp == NULL) {
        return NULL;
    }

    ctx->early = tmp;

    ngx_memzero(&err, sizeof(ngx_http_7digital_error_t));

    if (ngx_http_7digital_route(r, lcf, tmp) != NGX_OK) {
        return NULL;
    }

    if (lcf->api == NGX_HTTP_7DIGITAL_API_7D) {
        rc = ngx_http_7digital_7d_identify(r, lcf, tmp, &err);

    } else {
        rc = ngx_http_7digital_cd_identify(r, lcf, tmp, &err);
    }

    /* a user token still to look up: the key has named the partner */
    if (rc == NGX_OK && tmp->token.len && !tmp->token_loaded) {
        tmp->auth = NGX_HTTP_7DIGITAL_AUTH_OK;
    }

    return rc == NGX_ERROR ? NULL : tmp;
}
