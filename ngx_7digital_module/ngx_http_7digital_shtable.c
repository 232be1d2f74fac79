
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Keys with a deadline, in shared memory, seen alike by every worker: the
 * nonces this node has seen (until they expire) and the rate limits it
 * counts itself (a GCRA theoretical arrival time).  An entry whose
 * deadline has passed means the same as no entry, so the oldest are
 * dropped as the table is used, and first when memory runs out, as
 * limit_req does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


/* entries dropped in one pass */
#define NGX_HTTP_7DIGITAL_SHTABLE_EXPIRE  4


typedef struct {
    u_char                         color;
    u_char                         len;
    ngx_queue_t                    queue;
    ngx_http_7digital_shentry_t    entry;
    u_char                         data[1];
} ngx_http_7digital_shtable_node_t;


typedef struct {
    ngx_rbtree_t                   rbtree;
    ngx_rbtree_node_t              sentinel;
    ngx_queue_t                    queue;       /* least recently used first */
    ngx_uint_t                     flags;
} ngx_http_7digital_shtable_sh_t;


typedef struct {
    ngx_http_7digital_shtable_sh_t  *sh;
    ngx_slab_pool_t                 *shpool;
} ngx_http_7digital_shtable_ctx_t;


static ngx_int_t ngx_http_7digital_shtable_init_zone(ngx_shm_zone_t *zone,
    void *data);
static void ngx_http_7digital_shtable_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_7digital_shtable_expire(
    ngx_http_7digital_shtable_ctx_t *ctx, uint64_t now, ngx_uint_t force);


ngx_shm_zone_t *
ngx_http_7digital_shtable_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_http_7digital_shtable_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_shtable_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    return ngx_http_7digital_zone_add(cf, name, size,
                                      ngx_http_7digital_shtable_init_zone,
                                      ctx);
}


/* one of the module's zones, whatever it holds; data is its init's */

ngx_shm_zone_t *
ngx_http_7digital_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    ngx_shm_zone_init_pt init, void *data)
{
    ngx_shm_zone_t  *zone;

    zone = ngx_shared_memory_add(cf, name, size, &ngx_http_7digital_module);
    if (zone == NULL) {
        return NULL;
    }

    if (zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already declared", name);
        return NULL;
    }

    zone->init = init;
    zone->data = data;

    return zone;
}


/*
 * The "name:size" of a zone directive, at least 8 pages: NGX_ERROR once
 * it has said what is wrong.
 */

ngx_int_t
ngx_http_7digital_zone_arg(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_str_t *name, size_t *size)
{
    u_char     *p;
    ssize_t     n;
    ngx_str_t   s;

    p = (u_char *) ngx_strchr(value->data, ':');

    if (p == NULL || p == value->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\" in \"%V\", write it as "
                           "name:size", value, &cmd->name);
        return NGX_ERROR;
    }

    name->data = value->data;
    name->len = p - name->data;

    s.data = p + 1;
    s.len = value->data + value->len - s.data;

    n = ngx_parse_size(&s);

    if (n == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\" in \"%V\"",
                           value, &cmd->name);
        return NGX_ERROR;
    }

    if (n < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" in \"%V\" is too small, at least "
                           "%uz bytes are needed", value, &cmd->name,
                           8 * ngx_pagesize);
        return NGX_ERROR;
    }

    *size = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_shtable_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_7digital_shtable_ctx_t  *octx = data;

    ngx_http_7digital_shtable_ctx_t  *ctx;

    ctx = zone->data;

    if (octx) {
        /* a reload keeps what was seen and counted */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ctx->sh = ngx_http_7digital_shtree(zone,
                                       sizeof(ngx_http_7digital_shtable_sh_t),
                                       ngx_http_7digital_shtable_insert);

    return (ctx->sh == NULL) ? NGX_ERROR : NGX_OK;
}


/*
 * The shared part of a zone that begins with a tree and a list (see
 * ngx_http_7digital_shtree_t): found again in a zone that exists already
 * (Windows), made on the first start.
 */

void *
ngx_http_7digital_shtree(ngx_shm_zone_t *zone, size_t size,
    ngx_rbtree_insert_pt insert)
{
    ngx_slab_pool_t            *shpool;
    ngx_http_7digital_shtree_t *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        return shpool->data;
    }

    sh = ngx_slab_calloc(shpool, size);
    if (sh == NULL) {
        return NULL;
    }

    shpool->data = sh;

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, insert);
    ngx_queue_init(&sh->queue);

    shpool->log_nomem = 0;

    return sh;
}


void
ngx_http_7digital_shtable_lock(ngx_shm_zone_t *zone)
{
    ngx_http_7digital_shtable_ctx_t  *ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
}


void
ngx_http_7digital_shtable_unlock(ngx_shm_zone_t *zone)
{
    ngx_http_7digital_shtable_ctx_t  *ctx = zone->data;

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * With the lock held: the key's entry, to read and set, all zeroes for a
 * key not seen (it is made); NULL when there is no memory even after
 * dropping the least recently used entries, or the key is too long.
 */

ngx_http_7digital_shentry_t *
ngx_http_7digital_shtable_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    uint64_t now)
{
    size_t                             size;
    uint32_t                           hash;
    ngx_int_t                          rc;
    ngx_rbtree_node_t                 *node, *sentinel;
    ngx_http_7digital_shtable_ctx_t   *ctx;
    ngx_http_7digital_shtable_node_t  *sn;

    ctx = zone->data;

    if (key->len > 255) {
        return NULL;
    }

    ngx_http_7digital_shtable_expire(ctx, now, 0);

    hash = ngx_crc32_short(key->data, key->len);

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        sn = (ngx_http_7digital_shtable_node_t *) &node->color;

        rc = ngx_memn2cmp(key->data, sn->data, key->len, (size_t) sn->len);

        if (rc == 0) {
            ngx_queue_remove(&sn->queue);
            ngx_queue_insert_tail(&ctx->sh->queue, &sn->queue);
            return &sn->entry;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_7digital_shtable_node_t, data)
           + key->len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    if (node == NULL) {
        ngx_http_7digital_shtable_expire(ctx, now, 1);

        node = ngx_slab_alloc_locked(ctx->shpool, size);
        if (node == NULL) {
            return NULL;
        }
    }

    node->key = hash;
    sn = (ngx_http_7digital_shtable_node_t *) &node->color;
    sn->len = (u_char) key->len;
    ngx_memzero(&sn->entry, sizeof(ngx_http_7digital_shentry_t));
    ngx_memcpy(sn->data, key->data, key->len);

    ngx_rbtree_insert(&ctx->sh->rbtree, node);
    ngx_queue_insert_tail(&ctx->sh->queue, &sn->queue);

    return &sn->entry;
}


/*
 * A word of state shared by the workers of every generation (the rate
 * limits' incident flag): the lock held to change it.
 */

ngx_uint_t *
ngx_http_7digital_shtable_flags(ngx_shm_zone_t *zone)
{
    ngx_http_7digital_shtable_ctx_t  *ctx = zone->data;

    return &ctx->sh->flags;
}


/* past their deadline, or with force the least recently used whatever */

static void
ngx_http_7digital_shtable_expire(ngx_http_7digital_shtable_ctx_t *ctx,
    uint64_t now, ngx_uint_t force)
{
    ngx_uint_t                         n;
    ngx_queue_t                       *q;
    ngx_rbtree_node_t                 *node;
    ngx_http_7digital_shtable_node_t  *sn;

    for (n = 0; n < NGX_HTTP_7DIGITAL_SHTABLE_EXPIRE; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_head(&ctx->sh->queue);
        sn = ngx_queue_data(q, ngx_http_7digital_shtable_node_t, queue);

        if (!force && sn->entry.deadline > now) {
            return;
        }

        node = (ngx_rbtree_node_t *)
                   ((u_char *) sn - offsetof(ngx_rbtree_node_t, color));

        ngx_queue_remove(q);
        ngx_rbtree_delete(&ctx->sh->rbtree, node);
        ngx_slab_free_locked(ctx->shpool, node);
    }
}


static void
ngx_http_7digital_shtable_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t                 **p;
    ngx_http_7digital_shtable_node_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_7digital_shtable_node_t *) &node->color;
            t = (ngx_http_7digital_shtable_node_t *) &temp->color;

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


/* now, in microseconds, from nginx's cached clock */

uint64_t
ngx_http_7digital_shtable_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000000 + (uint64_t) tp->msec * 1000;
}
