
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * OAuth nonces seen by this node, in shared memory: every worker refuses a
 * replay at once, and the gateway keeps refusing replays when Redis, the
 * store shared by all nodes, is unavailable.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


static ngx_int_t ngx_http_7digital_nonce_local(ngx_shm_zone_t *zone,
    ngx_str_t *key, time_t expires);
static void ngx_http_7digital_nonce_reply(ngx_http_request_t *r, void *data,
    void *reply);


char *
ngx_http_7digital_nonce_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf)
{
    ngx_str_t  name;

    ngx_str_set(&name, "sevendigital_nonces");

    if (mcf->nonce_cache_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_nonce_cache\" of %uz bytes is "
                           "too small, at least %uz are needed",
                           mcf->nonce_cache_size, 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    mcf->nonce_zone = ngx_http_7digital_shtable_add(cf, &name,
                                                    mcf->nonce_cache_size);

    return mcf->nonce_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * NGX_OK: the key was not seen and is now recorded until "expires";
 * NGX_DECLINED: a replay; NGX_ERROR: no memory for it.  Keys are hashed
 * digests, so they are short and fixed-size.
 */

static ngx_int_t
ngx_http_7digital_nonce_local(ngx_shm_zone_t *zone, ngx_str_t *key,
    time_t expires)
{
    uint64_t                      now;
    ngx_int_t                     rc;
    ngx_http_7digital_shentry_t  *e;

    now = ngx_http_7digital_shtable_now();

    ngx_http_7digital_shtable_lock(zone);

    e = ngx_http_7digital_shtable_get(zone, key, now);

    if (e == NULL) {
        rc = NGX_ERROR;

    } else if (e->deadline > now) {
        rc = NGX_DECLINED;

    } else {
        e->deadline = (uint64_t) expires * 1000000;
        rc = NGX_OK;
    }

    ngx_http_7digital_shtable_unlock(zone);

    return rc;
}


/*
 * This node's cache first: a replay here is refused at once.  Then Redis,
 * shared by every node: SET NX answers whether another node saw the
 * nonce.  NGX_AGAIN: the request waits for that answer; when Redis cannot
 * answer, the local verdict stands.
 */

ngx_int_t
ngx_http_7digital_nonce_check(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    u_char                         *p;
    time_t                          ttl;
    ngx_int_t                       rc;
    ngx_str_t                       key;
    ngx_http_7digital_main_conf_t  *mcf;
    u_char                          hex[2 * NGX_HTTP_7DIGITAL_DIGEST_LEN];

    static ngx_str_t  one = ngx_string("1");

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    key.data = ctx->nonce;
    key.len = NGX_HTTP_7DIGITAL_DIGEST_LEN;

    rc = ngx_http_7digital_nonce_local(mcf->nonce_zone, &key,
                                       ctx->nonce_expires);

    if (rc == NGX_DECLINED) {
        ctx->replay = 1;
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: the nonce cache is full, "
                      "consider a larger \"sevendigital_nonce_cache\"");
    }

    if (!ngx_http_7digital_redis_configured(NGX_HTTP_7DIGITAL_REDIS_STATE)) {
        return NGX_OK;
    }

    p = ngx_hex_dump(hex, ctx->nonce, NGX_HTTP_7DIGITAL_DIGEST_LEN);

    key.len = sizeof("sevendigital:nonce:") - 1 + (p - hex);
    key.data = ngx_pnalloc(r->pool, key.len);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key.data, "sevendigital:nonce:",
                   sizeof("sevendigital:nonce:") - 1);
    ngx_memcpy(p, hex, 2 * NGX_HTTP_7DIGITAL_DIGEST_LEN);

    ttl = ctx->nonce_expires - ngx_time();
    ttl = ttl > 0 ? ttl : 1;

    rc = ngx_http_7digital_batch_set_nx(r, &ctx->batch,
                                        NGX_HTTP_7DIGITAL_REDIS_STATE,
                                        ngx_http_7digital_nonce_reply, ctx,
                                        &key, &one, "EX", (ngx_uint_t) ttl);

    return (rc == NGX_DECLINED) ? NGX_OK : rc;
}


static void
ngx_http_7digital_nonce_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;

    /* "OK": first seen now; nil: another node saw it first */
    if (rep && rep->type == REDIS_REPLY_NIL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: nonce seen by another node");
        ctx->replay = 1;
    }
}
