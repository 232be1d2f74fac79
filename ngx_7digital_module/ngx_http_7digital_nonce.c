
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


/* entries expired in one pass, as limit_req does */
#define NGX_HTTP_7DIGITAL_NONCE_EXPIRE  4


typedef struct {
    u_char                      color;
    u_char                      len;
    ngx_queue_t                 queue;
    time_t                      expires;
    u_char                      data[1];
} ngx_http_7digital_nonce_node_t;


typedef struct {
    ngx_rbtree_t                rbtree;
    ngx_rbtree_node_t           sentinel;
    ngx_queue_t                 queue;       /* oldest first */
} ngx_http_7digital_nonce_sh_t;


typedef struct {
    ngx_http_7digital_nonce_sh_t  *sh;
    ngx_slab_pool_t               *shpool;
} ngx_http_7digital_nonce_ctx_t;


static void ngx_http_7digital_nonce_reply(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_nonce_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void ngx_http_7digital_nonce_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_7digital_nonce_expire(
    ngx_http_7digital_nonce_ctx_t *ctx, time_t now, ngx_uint_t force);


char *
ngx_http_7digital_nonce_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf)
{
    ngx_str_t                       name;
    ngx_http_7digital_nonce_ctx_t  *ctx;

    ngx_str_set(&name, "sevendigital_nonces");

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_nonce_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->nonce_cache_size < 8 * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_nonce_cache\" of %uz bytes is "
                           "too small, at least %uz are needed",
                           mcf->nonce_cache_size, 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    mcf->nonce_zone = ngx_shared_memory_add(cf, &name, mcf->nonce_cache_size,
                                            &ngx_http_7digital_module);
    if (mcf->nonce_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mcf->nonce_zone->init = ngx_http_7digital_nonce_init_zone;
    mcf->nonce_zone->data = ctx;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_7digital_nonce_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_7digital_nonce_ctx_t  *octx = data;

    ngx_http_7digital_nonce_ctx_t  *ctx;

    ctx = zone->data;

    if (octx) {
        /* a reload keeps the nonces already seen */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool,
                             sizeof(ngx_http_7digital_nonce_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_7digital_nonce_insert);
    ngx_queue_init(&ctx->sh->queue);

    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * NGX_OK: the key was not seen and is now recorded until "expires";
 * NGX_DECLINED: a replay.  When memory runs out the oldest entries go
 * first; keys are hashed digests, so they are short and fixed-size.
 */

ngx_int_t
ngx_http_7digital_nonce_local(ngx_shm_zone_t *zone, ngx_str_t *key,
    time_t expires)
{
    size_t                           size;
    uint32_t                         hash;
    ngx_int_t                        rc;
    ngx_rbtree_node_t               *node, *sentinel;
    ngx_http_7digital_nonce_ctx_t   *ctx;
    ngx_http_7digital_nonce_node_t  *nn;

    ctx = zone->data;
    hash = ngx_crc32_short(key->data, key->len);

    if (key->len > 255) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_7digital_nonce_expire(ctx, ngx_time(), 0);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        nn = (ngx_http_7digital_nonce_node_t *) &node->color;

        rc = ngx_memn2cmp(key->data, nn->data, key->len, (size_t) nn->len);

        if (rc == 0) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_DECLINED;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_7digital_nonce_node_t, data)
           + key->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    if (node == NULL) {
        ngx_http_7digital_nonce_expire(ctx, ngx_time(), 1);

        node = ngx_slab_alloc_locked(ctx->shpool, size);
        if (node == NULL) {
            ngx_shmtx_unlock(&ctx->shpool->mutex);
            return NGX_ERROR;
        }
    }

    node->key = hash;
    nn = (ngx_http_7digital_nonce_node_t *) &node->color;
    nn->len = (u_char) key->len;
    nn->expires = expires;
    ngx_memcpy(nn->data, key->data, key->len);

    ngx_rbtree_insert(&ctx->sh->rbtree, node);
    ngx_queue_insert_tail(&ctx->sh->queue, &nn->queue);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return NGX_OK;
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

    if (!ngx_http_7digital_redis_configured()) {
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


/* expired entries, or with force the oldest ones whatever their age */

static void
ngx_http_7digital_nonce_expire(ngx_http_7digital_nonce_ctx_t *ctx,
    time_t now, ngx_uint_t force)
{
    ngx_uint_t                       n;
    ngx_queue_t                     *q;
    ngx_rbtree_node_t               *node;
    ngx_http_7digital_nonce_node_t  *nn;

    for (n = 0; n < NGX_HTTP_7DIGITAL_NONCE_EXPIRE; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_head(&ctx->sh->queue);
        nn = ngx_queue_data(q, ngx_http_7digital_nonce_node_t, queue);

        if (!force && nn->expires > now) {
            return;
        }

        node = (ngx_rbtree_node_t *)
                   ((u_char *) nn - offsetof(ngx_rbtree_node_t, color));

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, node);
        ngx_slab_free_locked(ctx->shpool, node);
    }
}


static void
ngx_http_7digital_nonce_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t               **p;
    ngx_http_7digital_nonce_node_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_7digital_nonce_node_t *) &node->color;
            t = (ngx_http_7digital_nonce_node_t *) &temp->color;

            p = (ngx_memn2cmp(n->data, t->data, n->len, t->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}
