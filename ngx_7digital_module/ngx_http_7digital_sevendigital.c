
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The 7digital API v1.2 side of the gateway: where its clients put the
 * consumer key, and what the upstream must receive instead.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_int_t ngx_http_7digital_7d_key(ngx_array_t *params,
    ngx_str_t *key, ngx_uint_t *found);


static ngx_str_t  ngx_http_7digital_consumer_key =
    ngx_string("oauth_consumer_key");

static ngx_str_t  ngx_http_7digital_7d_headers[] = {
    ngx_string("Authorization"),
    ngx_null_string
};


/*
 * The key may arrive in the query, the form body, an OAuth Authorization
 * header or the .NET wrapper's bare header; the node client sends it in
 * both the query and the header.  Every copy must agree.
 */

ngx_int_t
ngx_http_7digital_7d_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_int_t                       rc;
    ngx_str_t                       key;
    ngx_uint_t                      found;
    ngx_http_7digital_auth_e        auth;
    ngx_http_7digital_main_conf_t  *mcf;

    rc = ngx_http_7digital_read_input(r, lcf, &ctx->in, ctx->body_read, err);

    if (rc != NGX_OK) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
        return rc;
    }

    if (r->headers_in.authorization) {
        rc = ngx_http_7digital_parse_authorization(r->pool,
                                          &r->headers_in.authorization->value,
                                          &ctx->in.header);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED || rc == NGX_ABORT) {
            auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
            goto refused;
        }
    }

    ngx_str_null(&key);
    found = 0;

    if (ngx_http_7digital_7d_key(&ctx->in.query, &key, &found) != NGX_OK
        || ngx_http_7digital_7d_key(&ctx->in.header, &key, &found) != NGX_OK
        || ngx_http_7digital_7d_key(&ctx->in.body, &key, &found) != NGX_OK)
    {
        auth = NGX_HTTP_7DIGITAL_AUTH_CONFLICT;
        goto refused;
    }

    if (!found) {
        auth = NGX_HTTP_7DIGITAL_AUTH_MISSING;
        goto refused;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    ctx->partner = ngx_http_7digital_registry_find(mcf->registry, &key);

    if (ctx->partner == NULL) {
        auth = NGX_HTTP_7DIGITAL_AUTH_UNKNOWN;

    } else if (!ctx->partner->enabled) {
        auth = NGX_HTTP_7DIGITAL_AUTH_DISABLED;

    } else if (!(ctx->partner->apis & NGX_HTTP_7DIGITAL_API_7D)) {
        auth = NGX_HTTP_7DIGITAL_AUTH_FORBIDDEN;

    } else {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_OK;
        return NGX_OK;
    }

refused:

    ctx->auth = auth;
    ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_7D, auth,
                                 &ngx_http_7digital_consumer_key, err);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_7digital_7d_key(ngx_array_t *params, ngx_str_t *key,
    ngx_uint_t *found)
{
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;

    for (i = 0; i < params->nelts; i++) {
        if (prm[i].name.len != ngx_http_7digital_consumer_key.len
            || ngx_strncmp(prm[i].name.data,
                           ngx_http_7digital_consumer_key.data,
                           ngx_http_7digital_consumer_key.len)
               != 0)
        {
            continue;
        }

        if (*found && (key->len != prm[i].value.len
                       || ngx_strncmp(key->data, prm[i].value.data,
                                      key->len) != 0))
        {
            return NGX_DECLINED;
        }

        *key = prm[i].value;
        *found = 1;
    }

    return NGX_OK;
}


/*
 * Unsigned calls need only the real consumer key in place of the
 * partner's: the partner's OAuth parameters leave the query, the body and
 * the headers, and the real key joins the query string.
 */

ngx_int_t
ngx_http_7digital_7d_forward(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    u_char     *p;
    ngx_str_t   key, extra, args, body;

    if (ngx_http_7digital_escape(r->pool, &lcf->upstream_key, &key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    extra.len = ngx_http_7digital_consumer_key.len + 1 + key.len;
    extra.data = ngx_pnalloc(r->pool, extra.len);
    if (extra.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(extra.data, ngx_http_7digital_consumer_key.data,
                   ngx_http_7digital_consumer_key.len);
    *p++ = '=';
    ngx_memcpy(p, key.data, key.len);

    if (ngx_http_7digital_join_params(r->pool, &ctx->in.query,
                                      ngx_http_7digital_is_oauth_credential,
                                      &extra, &args)
        != NGX_OK
        || ngx_http_7digital_set_args(r, &args) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->in.form) {
        if (ngx_http_7digital_join_params(r->pool, &ctx->in.body,
                                      ngx_http_7digital_is_oauth_credential,
                                      NULL, &body)
            != NGX_OK
            || ngx_http_7digital_set_body(r, &body) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_7digital_remove_headers(r, ngx_http_7digital_7d_headers);
}
