
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Per-partner rate limits, counted in Redis with GCRA so that every node
 * shares one budget, in the request's one batch (EVALSHA, the script
 * loaded again on NOSCRIPT).  WIP (#12): no shared-memory fallback yet;
 * when Redis cannot answer, the request goes on.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include "ngx_http_7digital_module.h"


static void ngx_http_7digital_limit_reply(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_limit_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_uint_t eval);


static u_char  ngx_http_7digital_limit_sha[2 * SHA_DIGEST_LENGTH];


ngx_int_t
ngx_http_7digital_limit_init(void)
{
    u_char      md[SHA_DIGEST_LENGTH];
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    if (SHA1(ngx_http_7digital_gcra_script.data,
             ngx_http_7digital_gcra_script.len, md)
        == NULL)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < SHA_DIGEST_LENGTH; i++) {
        ngx_http_7digital_limit_sha[2 * i] = hex[md[i] >> 4];
        ngx_http_7digital_limit_sha[2 * i + 1] = hex[md[i] & 0x0f];
    }

    return NGX_OK;
}


/* the partner's own limit for the endpoint's class, else the location's */

static ngx_http_7digital_limit_t *
ngx_http_7digital_limit_of(ngx_http_7digital_loc_conf_t *lcf,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_uint_t  c;

    c = ctx->route.class;

    if (c < 1 || c > 3) {
        return NULL;
    }

    if (ctx->partner->limits[c].interval) {
        return &ctx->partner->limits[c];
    }

    return lcf->limits[c].interval ? &lcf->limits[c] : NULL;
}


/* NGX_OK: in the batch or nothing to count; NGX_ERROR */

ngx_int_t
ngx_http_7digital_limit_check(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    u_char                     *p;
    ngx_str_t                   key;
    ngx_http_7digital_limit_t  *limit;

    static ngx_str_t  classes[] = {
        ngx_null_string, ngx_string("catalogue"), ngx_string("user"),
        ngx_string("purchase")
    };

    limit = ngx_http_7digital_limit_of(lcf, ctx);

    if (limit == NULL || !ngx_http_7digital_redis_configured()) {
        return NGX_OK;
    }

    ctx->limit = limit;

    key.len = sizeof("sevendigital:rl::") - 1
              + classes[ctx->route.class].len + ctx->partner->id.len;
    key.data = ngx_pnalloc(r->pool, key.len);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(key.data, "sevendigital:rl:%V:%V",
                    &classes[ctx->route.class], &ctx->partner->id);
    key.len = p - key.data;
    ctx->limit_key = key;

    return ngx_http_7digital_limit_send(r, ctx, 0);
}


/*
 * EVALSHA; after a NOSCRIPT (a Redis restarted, or flushed), the script
 * itself with EVAL, in the same wait: the request is counted, and Redis
 * has the script again for the next ones.
 */

static ngx_int_t
ngx_http_7digital_limit_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_uint_t eval)
{
    ngx_int_t                   rc;
    const char                 *argv[6];
    size_t                      argvlen[6];
    ngx_http_7digital_limit_t  *limit;
    u_char                      t[NGX_INT64_LEN], b[NGX_INT64_LEN];

    limit = ctx->limit;

    if (eval) {
        argv[0] = "EVAL";
        argvlen[0] = 4;
        argv[1] = (const char *) ngx_http_7digital_gcra_script.data;
        argvlen[1] = ngx_http_7digital_gcra_script.len;

    } else {
        argv[0] = "EVALSHA";
        argvlen[0] = 7;
        argv[1] = (const char *) ngx_http_7digital_limit_sha;
        argvlen[1] = sizeof(ngx_http_7digital_limit_sha);
    }

    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) ctx->limit_key.data;
    argvlen[3] = ctx->limit_key.len;
    argv[4] = (const char *) t;
    argvlen[4] = ngx_sprintf(t, "%uL", limit->interval) - t;
    argv[5] = (const char *) b;
    argvlen[5] = ngx_sprintf(b, "%uL", limit->burst) - b;

    rc = ngx_http_7digital_batch_add(r, &ctx->batch,
                                     ngx_http_7digital_limit_reply, ctx, 6,
                                     argv, argvlen);

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_7digital_limit_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;

    if (rep && rep->type == REDIS_REPLY_ERROR && !ctx->limit_eval
        && ngx_strncmp(rep->str, "NOSCRIPT", 8) == 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: rate limit script sent again");

        ctx->limit_eval = 1;
        (void) ngx_http_7digital_limit_send(r, ctx, 1);
        return;
    }

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3
        || rep->element[0]->type != REDIS_REPLY_INTEGER)
    {
        return;
    }

    ctx->limit_denied = (rep->element[0]->integer == 0);
    ctx->limit_value = (uint64_t) rep->element[1]->integer;
    ctx->limit_reset = (uint64_t) rep->element[2]->integer;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: rate limit %s, %uL",
                   ctx->limit_denied ? "reached" : "kept", ctx->limit_value);
}


/*
 * Over the limit: 429 in the API's own format, with Retry-After and the
 * IETF httpapi RateLimit fields (draft 10).
 */

ngx_int_t
ngx_http_7digital_limit_refuse(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    u_char           *p;
    time_t            wait;
    ngx_table_elt_t  *h;

    wait = (time_t) ((ctx->limit_value + 999999) / 1000000);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, "%T", wait ? wait : 1) - p;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    err->status = NGX_HTTP_TOO_MANY_REQUESTS;
    err->code = 7001;
    ngx_str_set(&err->parameter, "rate");
    ngx_str_set(&err->message, "Rate limit exceeded, retry later");

    return NGX_DECLINED;
}
