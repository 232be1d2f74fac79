
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * 7digital user tokens carried through the gateway: the tokens 7digital
 * issues on oauth/requesttoken and oauth/accesstoken pass to the partner
 * unchanged, and their secrets are kept in Redis, bound to that partner,
 * so that its later 3-legged calls can be verified and signed again.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


/* token responses are a few hundred bytes; anything larger is not one */
#define NGX_HTTP_7DIGITAL_TOKEN_BODY_MAX  8192


static ngx_int_t ngx_http_7digital_token_key(ngx_pool_t *pool,
    ngx_str_t *token, ngx_str_t *key);
static void ngx_http_7digital_token_reply(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_token_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_token_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_7digital_token_store(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf);
static ngx_int_t ngx_http_7digital_token_parse(ngx_pool_t *pool,
    ngx_str_t *body, ngx_str_t *token, ngx_str_t *secret);
static ngx_int_t ngx_http_7digital_xml_value(ngx_pool_t *pool,
    ngx_str_t *body, char *name, ngx_str_t *value);
static void ngx_http_7digital_token_stored(void *data, void *reply);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_7digital_token_init_filters(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_7digital_token_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_7digital_token_body_filter;

    return NGX_OK;
}


/*
 * Looks up the token a partner signed with.  NGX_OK: the GET is in the
 * request's batch, and its reply sets ctx->token_loaded.  NGX_DECLINED:
 * Redis cannot answer now.  NGX_DONE: there is no token store at all, so
 * no token can be known.
 */

ngx_int_t
ngx_http_7digital_token_lookup(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t    key;
    const char  *argv[2];
    size_t       argvlen[2];

    if (!ngx_http_7digital_redis_configured(NGX_HTTP_7DIGITAL_REDIS_STATE)) {
        return NGX_DONE;
    }

    if (ngx_http_7digital_token_key(r->pool, &ctx->token, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) key.data;
    argvlen[1] = key.len;

    return ngx_http_7digital_batch_add(r, &ctx->batch,
                                       NGX_HTTP_7DIGITAL_REDIS_STATE,
                                       ngx_http_7digital_token_reply, ctx, 2,
                                       argv, argvlen);
}


/* "sevendigital:token:" and the token's SHA-256: bounded, any bytes */

static ngx_int_t
ngx_http_7digital_token_key(ngx_pool_t *pool, ngx_str_t *token,
    ngx_str_t *key)
{
    u_char  *p;

    key->len = sizeof("sevendigital:token:") - 1 + 64;
    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, "sevendigital:token:",
                   sizeof("sevendigital:token:") - 1);

    return ngx_http_7digital_sha256_hex(token, p);
}


/* the stored value is "kind\npartner id\nsecret" */

static void
ngx_http_7digital_token_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    u_char      *p, *q, *end;
    redisReply  *rep;

    rep = reply;

    ctx->token_loaded = 1;
    ctx->token_store_down = (rep == NULL || rep->type == REDIS_REPLY_ERROR);

    if (rep && rep->type == REDIS_REPLY_STRING && rep->len > 4) {
        p = (u_char *) rep->str;
        end = p + rep->len;
        q = ngx_strlchr(p + 2, end, '\n');

        if (q && (p[0] == 'r' || p[0] == 'a') && p[1] == '\n') {

            /* the reply is freed when this callback returns: copy */
            ctx->token_kind = p[0];

            ctx->token_partner.len = q - (p + 2);
            ctx->token_partner.data = p + 2;
            ctx->token_partner.data = ngx_pstrdup(r->pool,
                                                  &ctx->token_partner);

            ctx->token_secret.len = end - (q + 1);
            ctx->token_secret.data = q + 1;
            ctx->token_secret.data = ngx_pstrdup(r->pool,
                                                 &ctx->token_secret);

            ctx->token_found = (ctx->token_partner.data != NULL
                                && ctx->token_secret.data != NULL);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: user token found %ui, store down %ui",
                   (ngx_uint_t) ctx->token_found,
                   (ngx_uint_t) ctx->token_store_down);
}


static ngx_int_t
ngx_http_7digital_token_header_filter(ngx_http_request_t *r)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx == NULL
        || r != r->main
        || r->headers_out.status != NGX_HTTP_OK
        || (ctx->tokens != NGX_HTTP_7DIGITAL_TOKENS_REQUEST
            && ctx->tokens != NGX_HTTP_7DIGITAL_TOKENS_ACCESS))
    {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->auth == NGX_HTTP_7DIGITAL_AUTH_OK) {
        ctx->capture = 1;
        r->filter_need_in_memory = 1;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * Copies the response as it passes, unchanged, and stores the token when
 * the last buffer has gone by; a response too large or on disk is not a
 * token response and is let through without a look.
 */
static ngx_int_t
ngx_http_7digital_token_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                      rc;
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (in == NULL || ctx == NULL || !ctx->capture) {
        return ngx_http_next_body_filter(r, in);
    }

    rc = ngx_http_7digital_capture(r, &ctx->captured,
                                   NGX_HTTP_7DIGITAL_TOKEN_BODY_MAX, in);

    if (rc == NGX_OK) {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
        ngx_http_7digital_token_store(r, ctx, lcf);
    }

    if (rc != NGX_AGAIN) {
        ctx->capture = 0;
    }

    return ngx_http_next_body_filter(r, in);
}


static void
ngx_http_7digital_token_store(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf)
{
    u_char                        *p;
    ngx_str_t                      body, token, secret, key, value;
    const char                    *argv[5];
    size_t                         argvlen[5];
    u_char                         ttl[NGX_TIME_T_LEN];

    body.data = ctx->captured->pos;
    body.len = ctx->captured->last - ctx->captured->pos;

    if (ngx_http_7digital_token_parse(r->pool, &body, &token, &secret)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: no token in the upstream's answer");
        return;
    }

    value.len = 2 + ctx->partner->id.len + 1 + secret.len;
    value.data = ngx_pnalloc(r->pool, value.len);

    if (value.data == NULL
        || ngx_http_7digital_token_key(r->pool, &token, &key) != NGX_OK)
    {
        return;
    }

    p = value.data;
    *p++ = (ctx->tokens == NGX_HTTP_7DIGITAL_TOKENS_REQUEST) ? 'r'
                                                                    : 'a';
    *p++ = '\n';
    p = ngx_cpymem(p, ctx->partner->id.data, ctx->partner->id.len);
    *p++ = '\n';
    ngx_memcpy(p, secret.data, secret.len);

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) key.data;
    argvlen[1] = key.len;
    argv[2] = (const char *) value.data;
    argvlen[2] = value.len;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%T",
                             (ctx->tokens
                              == NGX_HTTP_7DIGITAL_TOKENS_REQUEST)
                             ? (time_t) 3600 : lcf->oauth_token_ttl)
                 - ttl;

    /* sent before the answer goes on, so a next call on this worker finds
     * it; the reply is only checked, nobody waits for it */
    if (ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_STATE, NULL,
                                        ngx_http_7digital_token_stored, NULL, 5,
                                        argv, argvlen)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sevendigital: a token for partner \"%V\" could not "
                      "be stored, redis is unavailable", &ctx->partner->id);
    }
}


/* the command was sent: no reply in time is not known to be a failure */

static void
ngx_http_7digital_token_stored(void *data, void *reply)
{
    redisReply  *rep = reply;

    if (rep == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "sevendigital: redis did not confirm in time that "
                      "a token was stored");

    } else if (rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sevendigital: redis refused to store a token: %s",
                      rep->str);
    }
}


/*
 * 7digital answers "oauth_token=..&oauth_token_secret=.." (request tokens;
 * node-oauth parses them so) or XML <oauth_token>..</oauth_token>.
 */

static ngx_int_t
ngx_http_7digital_token_parse(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *token, ngx_str_t *secret)
{
    ngx_uint_t                  n;
    ngx_array_t                 params;
    ngx_http_7digital_param_t  *t, *s;

    static ngx_str_t  token_name = ngx_string("oauth_token");
    static ngx_str_t  secret_name = ngx_string("oauth_token_secret");

    if (body->len && body->data[0] == '<') {
        if (ngx_http_7digital_xml_value(pool, body, "oauth_token", token)
            != NGX_OK
            || ngx_http_7digital_xml_value(pool, body, "oauth_token_secret",
                                           secret)
               != NGX_OK)
        {
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (ngx_array_init(&params, pool, 4, sizeof(ngx_http_7digital_param_t))
        != NGX_OK
        || ngx_http_7digital_parse_params(pool, body, &params) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    t = ngx_http_7digital_find_param(&params, &token_name, &n);
    s = ngx_http_7digital_find_param(&params, &secret_name, &n);

    if (t == NULL || s == NULL || t->value.len == 0) {
        return NGX_DECLINED;
    }

    *token = t->value;
    *secret = s->value;

    return NGX_OK;
}


/* the text of <name>...</name>, with XML's five entities decoded */

static ngx_int_t
ngx_http_7digital_xml_value(ngx_pool_t *pool, ngx_str_t *body, char *name,
    ngx_str_t *value)
{
    u_char  *start, *end, *last, *s, *d;
    size_t   len;
    u_char   open[64], close[64];

    len = ngx_strlen(name);
    last = body->data + body->len;

    ngx_sprintf(open, "<%s>%Z", name);
    ngx_sprintf(close, "</%s>%Z", name);

    start = ngx_strlcasestrn(body->data, last, open, len + 2 - 1);
    if (start == NULL) {
        return NGX_DECLINED;
    }

    start += len + 2;

    end = ngx_strlcasestrn(start, last, close, len + 3 - 1);
    if (end == NULL || end == start) {
        return NGX_DECLINED;
    }

    d = ngx_pnalloc(pool, end - start);
    if (d == NULL) {
        return NGX_ERROR;
    }

    value->data = d;

    for (s = start; s < end; s++) {
        if (*s != '&') {
            *d++ = *s;

        } else if (end - s >= 5 && ngx_strncmp(s, "&amp;", 5) == 0) {
            *d++ = '&'; s += 4;

        } else if (end - s >= 4 && ngx_strncmp(s, "&lt;", 4) == 0) {
            *d++ = '<'; s += 3;

        } else if (end - s >= 4 && ngx_strncmp(s, "&gt;", 4) == 0) {
            *d++ = '>'; s += 3;

        } else if (end - s >= 6 && ngx_strncmp(s, "&quot;", 6) == 0) {
            *d++ = '"'; s += 5;

        } else if (end - s >= 6 && ngx_strncmp(s, "&apos;", 6) == 0) {
            *d++ = '\''; s += 5;

        } else {
            return NGX_DECLINED;
        }
    }

    value->len = d - value->data;

    return NGX_OK;
}
