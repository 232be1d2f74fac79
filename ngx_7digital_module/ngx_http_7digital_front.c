
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The cache's shared-memory front tier: copies of the hottest entries,
 * seen alike by every worker of the node, so that a hit costs no round
 * trip to Redis.  An entry comes in once it has been asked for a few times
 * (or at once while Redis cannot answer) and is served from here only for
 * a short time, after which Redis is asked again; it stays longer, to be
 * served while Redis is unavailable.
 *
 * A purge on this node drops every copy at once (the zone's epoch moves
 * on); a purge on another node is seen through a counter in Redis that
 * each worker reads every 100 ms.  A copy taken from an answer asked for
 * before the epoch moved is not kept.
 *
 * While Redis is unavailable the tier also holds the node's own refresh
 * locks, so that the misses of one key go to the origin once per node.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_FRONT_POLL    100
#define NGX_HTTP_7DIGITAL_FRONT_EXPIRE  2


/* in nginx's string tree: sn.str is the key, which the node holds */
typedef struct {
    ngx_str_node_t                  sn;
    ngx_queue_t                     queue;
    ngx_uint_t                      uses;
    ngx_uint_t                      epoch;
    ngx_msec_t                      front_until;
    ngx_msec_t                      lock_until;
    time_t                          stored;
    time_t                          keep_until;
    size_t                          size;
    u_char                         *bytes;
    u_char                          key[1];
} ngx_http_7digital_front_node_t;


/* begins as ngx_http_7digital_shtree_t does */
typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;       /* least recently used last */
    ngx_atomic_t                    epoch;
    ngx_atomic_int_t                purges;      /* Redis's counter, seen */
    ngx_uint_t                      polled;      /* it has been seen once */
} ngx_http_7digital_front_sh_t;


typedef struct {
    ngx_http_7digital_front_sh_t   *sh;
    ngx_slab_pool_t                *shpool;
    ngx_msec_t                      ttl;
    ngx_uint_t                      uses;
    size_t                          max_size;
} ngx_http_7digital_front_ctx_t;


static ngx_int_t ngx_http_7digital_front_init_zone(ngx_shm_zone_t *zone,
    void *data);
static uint32_t ngx_http_7digital_front_hash(ngx_str_t *key);
static ngx_http_7digital_front_node_t *ngx_http_7digital_front_find(
    ngx_http_7digital_front_ctx_t *ctx, ngx_str_t *key);
static ngx_http_7digital_front_node_t *ngx_http_7digital_front_node(
    ngx_http_7digital_front_ctx_t *ctx, ngx_str_t *key);
static void *ngx_http_7digital_front_alloc(ngx_http_7digital_front_ctx_t *ctx,
    size_t size, ngx_http_7digital_front_node_t *keep);
static void ngx_http_7digital_front_expire(ngx_http_7digital_front_ctx_t *ctx,
    ngx_uint_t n, ngx_uint_t force, ngx_http_7digital_front_node_t *keep);
static void ngx_http_7digital_front_free(ngx_http_7digital_front_ctx_t *ctx,
    ngx_http_7digital_front_node_t *fn);
static void ngx_http_7digital_front_poll(ngx_event_t *ev);
static void ngx_http_7digital_front_polled(void *data, void *reply);


static ngx_event_t   ngx_http_7digital_front_timer;
static ngx_array_t  *ngx_http_7digital_front_zones;

static ngx_str_t  ngx_http_7digital_front_purges =
    ngx_string("sevendigital:purges");


/* "sevendigital_cache_front_zone name:size [ttl=time] [min_uses=n]" */

char *
ngx_http_7digital_front_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    size_t                          size;
    ngx_int_t                       n;
    ngx_str_t                      *value, name, s;
    ngx_uint_t                      i;
    ngx_shm_zone_t                 *zone, **zp;
    ngx_http_7digital_front_ctx_t  *ctx;

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_front_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->ttl = 1000;
    ctx->uses = 2;

    if (ngx_http_7digital_zone_arg(cf, cmd, &value[1], &name, &size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* one copy may take an eighth of the zone at most */
    ctx->max_size = size / 8;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ctx->ttl = ngx_parse_time(&s, 0);

            if (ctx->ttl == (ngx_msec_t) NGX_ERROR || ctx->ttl == 0
                || ctx->ttl > 60000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", "
                                   "between 1ms and 60s", &value[i],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "min_uses=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n == NGX_ERROR || n < 1 || n > 1000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"%V\" in \"%V\", "
                                   "between 1 and 1000", &value[i],
                                   &cmd->name);
                return NGX_CONF_ERROR;
            }

            ctx->uses = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    zone = ngx_http_7digital_zone_add(cf, &name, size,
                                      ngx_http_7digital_front_init_zone, ctx);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mcf->front_zones == NULL) {
        mcf->front_zones = ngx_array_create(cf->pool, 1,
                                            sizeof(ngx_shm_zone_t *));
        if (mcf->front_zones == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    zp = ngx_array_push(mcf->front_zones);
    if (zp == NULL) {
        return NGX_CONF_ERROR;
    }

    *zp = zone;

    return NGX_CONF_OK;
}


/* "sevendigital_cache_front name | off", wherever the zone is declared */

char *
ngx_http_7digital_front(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->cache_front != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->cache_front = NULL;
        return NGX_CONF_OK;
    }

    lcf->cache_front = ngx_shared_memory_add(cf, &value[1], 0,
                                             &ngx_http_7digital_module);
    if (lcf->cache_front == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_7digital_front_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_7digital_front_ctx_t  *octx = data;

    ngx_http_7digital_front_ctx_t  *ctx;

    ctx = zone->data;

    if (octx) {
        /* a reload keeps the copies: they are checked as before */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ctx->sh = ngx_http_7digital_shtree(zone,
                                       sizeof(ngx_http_7digital_front_sh_t),
                                       ngx_str_rbtree_insert_value);

    return (ctx->sh == NULL) ? NGX_ERROR : NGX_OK;
}


/* the zone's epoch now: a copy asked for under an older one is not kept */

ngx_uint_t
ngx_http_7digital_front_epoch(ngx_shm_zone_t *zone)
{
    ngx_http_7digital_front_ctx_t  *ctx = zone->data;

    return ctx->sh->epoch;
}


/*
 * A copy of the key's entry into the pool: NGX_OK when there is one that
 * may be served (within its time in the tier, or, when Redis cannot
 * answer, until it may no longer be served at all), NGX_DECLINED when
 * there is none.
 */

ngx_int_t
ngx_http_7digital_front_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_uint_t unavailable, ngx_pool_t *pool, ngx_str_t *bytes)
{
    ngx_int_t                        rc;
    ngx_http_7digital_front_ctx_t   *ctx;
    ngx_http_7digital_front_node_t  *fn;

    ctx = zone->data;
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    fn = ngx_http_7digital_front_find(ctx, key);

    if (fn == NULL || fn->bytes == NULL || fn->epoch != ctx->sh->epoch) {
        goto done;
    }

    if (unavailable ? fn->keep_until <= ngx_time()
                    : (ngx_msec_int_t) (fn->front_until - ngx_current_msec)
                      <= 0)
    {
        goto done;
    }

    bytes->data = ngx_pnalloc(pool, fn->size);
    if (bytes->data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_memcpy(bytes->data, fn->bytes, fn->size);
    bytes->len = fn->size;

    ngx_queue_remove(&fn->queue);
    ngx_queue_insert_head(&ctx->sh->queue, &fn->queue);

    rc = NGX_OK;

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * An entry was read from Redis or stored there: one more use of the key,
 * and a copy in the tier once it has been used often enough (at once when
 * "now" is set: Redis cannot answer).  The same entry already copied is
 * only given more time.
 */

void
ngx_http_7digital_front_put(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_http_7digital_front_copy_t *copy)
{
    u_char                          *p;
    ngx_http_7digital_front_ctx_t   *ctx;
    ngx_http_7digital_front_node_t  *fn;

    ctx = zone->data;

    if (copy->bytes.len > ctx->max_size) {
        return;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /*
     * Asked for before a purge: what Redis said then may be gone.  Before
     * the node knows Redis's purge counter, it could not tell either.
     */
    if (copy->epoch != ctx->sh->epoch || (!ctx->sh->polled && !copy->now)) {
        goto done;
    }

    fn = ngx_http_7digital_front_node(ctx, key);
    if (fn == NULL) {
        goto done;
    }

    if (fn->epoch != ctx->sh->epoch) {
        fn->epoch = ctx->sh->epoch;
        fn->uses = 0;

        if (fn->bytes) {
            ngx_slab_free_locked(ctx->shpool, fn->bytes);
            fn->bytes = NULL;
        }
    }

    if (++fn->uses < ctx->uses && !copy->now) {
        goto done;
    }

    if (fn->bytes == NULL || fn->stored != copy->stored
        || fn->size != copy->bytes.len)
    {
        p = ngx_http_7digital_front_alloc(ctx, copy->bytes.len, fn);
        if (p == NULL) {
            goto done;
        }

        if (fn->bytes) {
            ngx_slab_free_locked(ctx->shpool, fn->bytes);
        }

        ngx_memcpy(p, copy->bytes.data, copy->bytes.len);
        fn->bytes = p;
        fn->size = copy->bytes.len;
        fn->stored = copy->stored;
    }

    fn->keep_until = copy->keep_until;
    fn->front_until = ngx_current_msec + ctx->ttl;

done:

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * While Redis cannot answer, the refresh lock of a key is the node's:
 * NGX_OK taken (with a token to give it back), NGX_BUSY held by another
 * request, NGX_DECLINED no memory for it (nobody waits).
 */

ngx_int_t
ngx_http_7digital_front_lock(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_msec_t timeout, ngx_msec_t *token)
{
    ngx_int_t                        rc;
    ngx_http_7digital_front_ctx_t   *ctx;
    ngx_http_7digital_front_node_t  *fn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    fn = ngx_http_7digital_front_node(ctx, key);

    if (fn == NULL) {
        rc = NGX_DECLINED;

    } else if ((ngx_msec_int_t) (fn->lock_until - ngx_current_msec) > 0) {
        rc = NGX_BUSY;

    } else {
        /* never 0: that means "not locked"; the holder's token */
        fn->lock_until = (ngx_current_msec + timeout) | 1;
        *token = fn->lock_until;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/* whether the key's lock is still held; an expired lock counts as gone */

ngx_uint_t
ngx_http_7digital_front_locked(ngx_shm_zone_t *zone, ngx_str_t *key)
{
    ngx_uint_t                       locked;
    ngx_http_7digital_front_ctx_t   *ctx;
    ngx_http_7digital_front_node_t  *fn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    fn = ngx_http_7digital_front_find(ctx, key);
    locked = (fn && (ngx_msec_int_t) (fn->lock_until - ngx_current_msec) > 0);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return locked;
}


/* only the holder's: a lock that expired and was taken again is left */

void
ngx_http_7digital_front_unlock(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_msec_t token)
{
    ngx_http_7digital_front_ctx_t   *ctx;
    ngx_http_7digital_front_node_t  *fn;

    ctx = zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    fn = ngx_http_7digital_front_find(ctx, key);
    if (fn && fn->lock_until == token) {
        fn->lock_until = 0;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* whether a zone is a front tier's, not another zone of the module */

ngx_uint_t
ngx_http_7digital_front_is_zone(ngx_shm_zone_t *zone)
{
    return zone->init == ngx_http_7digital_front_init_zone;
}


/*
 * A cache key ends in a SHA-256 digest: its last bytes are as good a hash
 * as any, at the cost of eight.
 */

static uint32_t
ngx_http_7digital_front_hash(ngx_str_t *key)
{
    return (key->len < 8) ? ngx_crc32_short(key->data, key->len)
                          : ngx_crc32_short(key->data + key->len - 8, 8);
}


static ngx_http_7digital_front_node_t *
ngx_http_7digital_front_find(ngx_http_7digital_front_ctx_t *ctx,
    ngx_str_t *key)
{
    return (ngx_http_7digital_front_node_t *)
               ngx_str_rbtree_lookup(&ctx->sh->rbtree, key,
                                     ngx_http_7digital_front_hash(key));
}


/* with the lock held: the key's node, made when missing */

static ngx_http_7digital_front_node_t *
ngx_http_7digital_front_node(ngx_http_7digital_front_ctx_t *ctx,
    ngx_str_t *key)
{
    uint32_t                         hash;
    ngx_http_7digital_front_node_t  *fn;

    ngx_http_7digital_front_expire(ctx, NGX_HTTP_7DIGITAL_FRONT_EXPIRE, 0,
                                   NULL);

    hash = ngx_http_7digital_front_hash(key);
    fn = (ngx_http_7digital_front_node_t *)
             ngx_str_rbtree_lookup(&ctx->sh->rbtree, key, hash);

    if (fn) {
        ngx_queue_remove(&fn->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &fn->queue);
        return fn;
    }

    fn = ngx_http_7digital_front_alloc(ctx,
             offsetof(ngx_http_7digital_front_node_t, key) + key->len, NULL);
    if (fn == NULL) {
        return NULL;
    }

    ngx_memzero(fn, offsetof(ngx_http_7digital_front_node_t, key));
    fn->sn.node.key = hash;
    fn->sn.str.len = key->len;
    fn->sn.str.data = fn->key;
    fn->epoch = ctx->sh->epoch;
    ngx_memcpy(fn->key, key->data, key->len);

    ngx_rbtree_insert(&ctx->sh->rbtree, &fn->sn.node);
    ngx_queue_insert_head(&ctx->sh->queue, &fn->queue);

    return fn;
}


/* memory, made by dropping the least recently used copies if need be */

static void *
ngx_http_7digital_front_alloc(ngx_http_7digital_front_ctx_t *ctx, size_t size,
    ngx_http_7digital_front_node_t *keep)
{
    void        *p;
    ngx_uint_t   i;

    for (i = 0; i < 64; i++) {
        p = ngx_slab_alloc_locked(ctx->shpool, size);

        if (p || ngx_queue_empty(&ctx->sh->queue)
            || (keep && ngx_queue_last(&ctx->sh->queue) == &keep->queue))
        {
            return p;
        }

        ngx_http_7digital_front_expire(ctx, 1, 1, keep);
    }

    return NULL;
}


/*
 * Drops up to n of the least recently used nodes that are of no more use
 * (nothing to serve, no lock held), or, forced, the least recently used;
 * never "keep", the node being filled.
 */

static void
ngx_http_7digital_front_expire(ngx_http_7digital_front_ctx_t *ctx,
    ngx_uint_t n, ngx_uint_t force, ngx_http_7digital_front_node_t *keep)
{
    ngx_queue_t                     *q;
    ngx_http_7digital_front_node_t  *fn;

    while (n-- && !ngx_queue_empty(&ctx->sh->queue)) {
        q = ngx_queue_last(&ctx->sh->queue);
        fn = ngx_queue_data(q, ngx_http_7digital_front_node_t, queue);

        if (fn == keep) {
            return;
        }

        if (!force
            && ((fn->bytes && fn->epoch == ctx->sh->epoch
                 && fn->keep_until > ngx_time())
                || (ngx_msec_int_t) (fn->lock_until - ngx_current_msec) > 0
                || (fn->bytes == NULL && fn->uses
                    && fn->epoch == ctx->sh->epoch)))
        {
            return;
        }

        ngx_http_7digital_front_free(ctx, fn);
    }
}


static void
ngx_http_7digital_front_free(ngx_http_7digital_front_ctx_t *ctx,
    ngx_http_7digital_front_node_t *fn)
{
    ngx_queue_remove(&fn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &fn->sn.node);

    if (fn->bytes) {
        ngx_slab_free_locked(ctx->shpool, fn->bytes);
    }

    ngx_slab_free_locked(ctx->shpool, fn);
}


/*
 * Purges on other nodes: each worker reads Redis's purge counter every
 * 100 ms; when it has moved, every copy of the node is dropped.
 */

ngx_int_t
ngx_http_7digital_front_init_worker(ngx_cycle_t *cycle, ngx_array_t *zones)
{
    if (zones == NULL || zones->nelts == 0
        || !ngx_http_7digital_redis_configured(NGX_HTTP_7DIGITAL_REDIS_CACHE))
    {
        return NGX_OK;
    }

    ngx_http_7digital_front_zones = zones;

    ngx_http_7digital_front_timer.handler = ngx_http_7digital_front_poll;
    ngx_http_7digital_front_timer.log = cycle->log;
    ngx_http_7digital_front_timer.data = zones;
    ngx_http_7digital_front_timer.cancelable = 1;

    /* the counter is read first thing: nothing is kept until then */
    ngx_add_timer(&ngx_http_7digital_front_timer, 1);

    return NGX_OK;
}


static void
ngx_http_7digital_front_poll(ngx_event_t *ev)
{
    const char  *argv[2];
    size_t       argvlen[2];

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) ngx_http_7digital_front_purges.data;
    argvlen[1] = ngx_http_7digital_front_purges.len;

    /* no answer (Redis unavailable): the copies are kept, and served */
    (void) ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_CACHE, NULL,
        ngx_http_7digital_front_polled, NULL, 2, argv, argvlen);

    ngx_add_timer(ev, NGX_HTTP_7DIGITAL_FRONT_POLL);
}


static void
ngx_http_7digital_front_polled(void *data, void *reply)
{
    ngx_int_t                       purges;
    ngx_uint_t                      i;
    redisReply                     *rep;
    ngx_shm_zone_t                **zone;
    ngx_http_7digital_front_ctx_t  *ctx;

    rep = reply;

    if (rep == NULL || ngx_http_7digital_front_zones == NULL) {
        return;
    }

    if (rep->type == REDIS_REPLY_NIL) {
        purges = 0;

    } else if (rep->type == REDIS_REPLY_STRING) {
        purges = ngx_atoi((u_char *) rep->str, rep->len);

    } else {
        return;
    }

    zone = ngx_http_7digital_front_zones->elts;

    for (i = 0; i < ngx_http_7digital_front_zones->nelts; i++) {
        ctx = zone[i]->data;

        ngx_shmtx_lock(&ctx->shpool->mutex);

        /* the first reading: nothing Redis answered was kept before it */
        if (!ctx->sh->polled) {
            ctx->sh->purges = purges;
            ctx->sh->polled = 1;

        } else if (ctx->sh->purges != purges) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "sevendigital: purges %i (was %i), "
                           "front tier dropped", purges,
                           (ngx_int_t) ctx->sh->purges);

            ctx->sh->purges = purges;
            (void) ngx_atomic_fetch_add(&ctx->sh->epoch, 1);
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }
}


void
ngx_http_7digital_front_exit_worker(void)
{
    if (ngx_http_7digital_front_timer.timer_set) {
        ngx_del_timer(&ngx_http_7digital_front_timer);
    }

    ngx_http_7digital_front_zones = NULL;
}


/*
 * A purge on this node: every copy of every zone is dropped, in every
 * worker, at once (under the lock, so that no copy is kept with an epoch
 * it did not see).  "counted" is Redis's purge counter as this purge
 * moved it, or NGX_ERROR while Redis has not answered: when it has, the
 * counter moved by one is taken as seen, the copies dropped already.
 */

void
ngx_http_7digital_front_purged(ngx_array_t *zones, ngx_int_t counted)
{
    ngx_uint_t                      i;
    ngx_shm_zone_t                **zone;
    ngx_http_7digital_front_ctx_t  *ctx;

    if (zones == NULL) {
        return;
    }

    zone = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        ctx = zone[i]->data;

        ngx_shmtx_lock(&ctx->shpool->mutex);

        (void) ngx_atomic_fetch_add(&ctx->sh->epoch, 1);

        if (counted != NGX_ERROR && ctx->sh->polled
            && ctx->sh->purges == counted - 1)
        {
            ctx->sh->purges = counted;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }
}


/* the INCR a purge adds to its batch, so that other nodes see it */

ngx_str_t *
ngx_http_7digital_front_purges_key(void)
{
    return &ngx_http_7digital_front_purges;
}
