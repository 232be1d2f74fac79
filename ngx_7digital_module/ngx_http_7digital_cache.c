
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The catalogue cache in Redis, shared by every gateway node: looked up in
 * the access phase once the partner is known (a hit never reaches the
 * upstream, a refused request is never served from it), stored from the
 * upstream's answer as it passes the header and body filters.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


static ngx_uint_t ngx_http_7digital_cache_bypass(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_cache_keys(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_cache_argv(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_cache_fetch(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_cache_reply(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_cache_read(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, redisReply *rep,
    ngx_http_7digital_cache_entry_t **entry);
static ngx_http_7digital_cache_entry_t *ngx_http_7digital_cache_take(
    ngx_http_request_t *r, ngx_http_7digital_ctx_t *ctx, redisReply *rep);
static ngx_int_t ngx_http_7digital_cache_header_filter(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_cache_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static time_t ngx_http_7digital_cache_ttl(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf);
static void ngx_http_7digital_cache_store(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_cache_kept(ngx_http_request_t *r,
    ngx_http_7digital_cache_entry_t *e);
static void ngx_http_7digital_cache_stored(void *data, void *reply);
static ngx_uint_t ngx_http_7digital_cache_failed(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_cache_stale_header(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_cache_stale_body(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_chain_t *in);
static ngx_int_t ngx_http_7digital_cache_headers(ngx_http_request_t *r,
    ngx_http_7digital_cache_entry_t *e);
static ngx_uint_t ngx_http_7digital_cache_swallow(ngx_chain_t *in);
static ngx_int_t ngx_http_7digital_cache_front_hit(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t unavailable);
static ngx_int_t ngx_http_7digital_cache_unavailable(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_cache_front_put(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_cache_entry_t *e, ngx_str_t *bytes);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_7digital_cache_prefix =
    ngx_string("sevendigital:cache:");


ngx_int_t
ngx_http_7digital_cache_init_filters(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_7digital_cache_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_7digital_cache_body_filter;

    return NGX_OK;
}


/*
 * NGX_AGAIN: the request waits for Redis and runs the phases again; the
 * status is then HIT (ctx->cache_entry set), MISS or EXPIRED (the answer
 * is to be stored), or BYPASS.  NGX_DECLINED: no lookup.  One command
 * fetches the entry and the generations of its purge scopes.
 */

ngx_int_t
ngx_http_7digital_cache_lookup(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (!lcf->cache) {
        return NGX_DECLINED;
    }

    if (ngx_http_7digital_cache_bypass(r, lcf, ctx)) {
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_BYPASS;
        return NGX_DECLINED;
    }

    if (ngx_http_7digital_cache_keys(r, lcf, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (lcf->cache_front) {
        ctx->front = lcf->cache_front;
        ctx->front_epoch = ngx_http_7digital_front_epoch(ctx->front);

        rc = ngx_http_7digital_cache_front_hit(r, lcf, ctx, 0);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /* the scopes' generations only for Redis: a purge moved them there */
    if (ngx_http_7digital_cache_argv(r, lcf, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_http_7digital_cache_fetch(r, ctx);

    if (rc == NGX_DECLINED) {
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_BYPASS;
        return ngx_http_7digital_cache_unavailable(r, lcf, ctx);
    }

    return rc;
}


/*
 * The entry from the front tier: NGX_DECLINED when it has none to serve
 * (an expired one is kept for a failing upstream while Redis cannot
 * answer), NGX_OK for a hit, with no command for Redis.
 */

static ngx_int_t
ngx_http_7digital_cache_front_hit(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t unavailable)
{
    ngx_int_t                         rc;
    ngx_str_t                         bytes;
    ngx_http_7digital_cache_entry_t  *e;

    rc = ngx_http_7digital_front_get(ctx->front, &ctx->cache_key, unavailable,
                                     r->pool, &bytes);
    if (rc != NGX_OK) {
        return rc;
    }

    e = ngx_palloc(r->pool, sizeof(ngx_http_7digital_cache_entry_t));
    if (e == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_cache_decode(&bytes, e) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (e->fresh_until > ngx_time()) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache hit in the front tier%s",
                       unavailable ? ", redis unavailable" : "");

        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_HIT;
        ctx->cache_entry = e;
        ctx->cache_front = 1;
        ctx->cache_store = 0;
        return NGX_OK;
    }

    if (unavailable && lcf->cache_stale && e->stale_until > ngx_time()) {
        ctx->cache_stale = e;
    }

    return NGX_DECLINED;
}


/*
 * Redis cannot answer.  With a front tier the cache goes on on this node:
 * a hot entry is served from it, and a miss is stored there at once, one
 * request of the node refreshing each key (see
 * ngx_http_7digital_cache_lock()).  Without one, the request bypasses the
 * cache.
 */

static ngx_int_t
ngx_http_7digital_cache_unavailable(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->front == NULL) {
        return NGX_DECLINED;
    }

    ctx->front_unavailable = 1;

    rc = ngx_http_7digital_cache_front_hit(r, lcf, ctx, 1);

    if (rc == NGX_DECLINED) {
        ctx->cache_status = ctx->cache_stale
                            ? NGX_HTTP_7DIGITAL_CACHE_EXPIRED
                            : NGX_HTTP_7DIGITAL_CACHE_MISS;
        ctx->cache_store = 1;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: redis unavailable, front tier: %ui",
                   (ngx_uint_t) ctx->cache_status);

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_DECLINED;
}


/* a Redis hit or a stored answer counts as a use of the key's entry */

static void
ngx_http_7digital_cache_front_put(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_cache_entry_t *e, ngx_str_t *bytes)
{
    ngx_http_7digital_front_copy_t  copy;

    if (ctx->front == NULL) {
        return;
    }

    copy.bytes = *bytes;
    copy.epoch = ctx->front_epoch;
    copy.stored = e->stored;
    copy.keep_until = e->stale_until;
    copy.now = ctx->front_unavailable;

    ngx_http_7digital_front_put(ctx->front, &ctx->cache_key, &copy);
}


/* the entry's key: the front tier's and Redis's */

static ngx_int_t
ngx_http_7digital_cache_keys(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t  format;

    /* 7digital answers XML or JSON as asked; Choose Digital JSON only */
    if (lcf->api == NGX_HTTP_7DIGITAL_API_7D
        && !ngx_http_7digital_wants_json(r))
    {
        ngx_str_set(&format, "xml");

    } else {
        ngx_str_set(&format, "json");
    }

    return ngx_http_7digital_cache_entry_key(r->pool, lcf->api, &r->uri,
                                             &format, &ctx->in.query,
                                             &ctx->cache_key);
}


/* the MGET: the entry, then the generation key of each of its scopes */

static ngx_int_t
ngx_http_7digital_cache_argv(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t    *key;
    ngx_uint_t    i;
    ngx_array_t   keys;

    if (ngx_array_init(&keys, r->pool, 1 + NGX_HTTP_7DIGITAL_SCOPES,
                       sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    key = ngx_array_push(&keys);
    *key = ctx->cache_key;

    if (ngx_http_7digital_cache_scopes(r->pool,
                                       ngx_http_7digital_api_name(lcf->api),
                                       &r->uri, &ctx->in.query, &keys)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->cache_argc = keys.nelts + 1;
    ctx->cache_argv = ngx_palloc(r->pool,
                                 ctx->cache_argc * sizeof(const char *));
    ctx->cache_argvlen = ngx_palloc(r->pool,
                                    ctx->cache_argc * sizeof(size_t));

    if (ctx->cache_argv == NULL || ctx->cache_argvlen == NULL) {
        return NGX_ERROR;
    }

    ctx->cache_argv[0] = "MGET";
    ctx->cache_argvlen[0] = 4;
    key = keys.elts;

    for (i = 0; i < keys.nelts; i++) {
        ctx->cache_argv[i + 1] = (const char *) key[i].data;
        ctx->cache_argvlen[i + 1] = key[i].len;
    }

    return NGX_OK;
}


/*
 * The key of one entry: for lookups, stores and purges alike.  Every
 * credential and one-time value of the API is left out of it.
 */

ngx_int_t
ngx_http_7digital_cache_entry_key(ngx_pool_t *pool, ngx_uint_t api,
    ngx_str_t *path, ngx_str_t *format, ngx_array_t *params, ngx_str_t *key)
{
    ngx_http_7digital_skip_pt  skip;

    skip = (api == NGX_HTTP_7DIGITAL_API_7D)
           ? ngx_http_7digital_is_oauth_param
           : ngx_http_7digital_is_cd_authentication;

    return ngx_http_7digital_cache_key(pool, &ngx_http_7digital_cache_prefix,
                                       ngx_http_7digital_api_name(api), path,
                                       format, params, skip, key);
}


/* NGX_OK: the MGET is in the request's batch; NGX_DECLINED: no Redis now */

static ngx_int_t
ngx_http_7digital_cache_fetch(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    return ngx_http_7digital_batch_add(r, &ctx->batch,
                                       NGX_HTTP_7DIGITAL_REDIS_CACHE,
                                       ngx_http_7digital_cache_reply, ctx,
                                       (int) ctx->cache_argc, ctx->cache_argv,
                                       ctx->cache_argvlen);
}


static ngx_uint_t
ngx_http_7digital_cache_bypass(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    /*
     * Only catalogue reads: a user's data, a sale's answer (single-use
     * links among them) and calls the table does not know are never cached,
     * whatever the location says.
     */
    return !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
           || ctx->route.class != NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
           || !ngx_http_7digital_redis_configured(NGX_HTTP_7DIGITAL_REDIS_CACHE)
           || ctx->token.len
           || ctx->cd_hashed;
}


static void
ngx_http_7digital_cache_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    ngx_http_7digital_loc_conf_t     *lcf;
    ngx_http_7digital_cache_entry_t  *e;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    if (ngx_http_7digital_cache_read(r, ctx, reply, &e) != NGX_OK) {
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_BYPASS;

        if (reply == NULL) {
            /* no answer in time: the front tier answers if it can */
            (void) ngx_http_7digital_cache_unavailable(r, lcf, ctx);
        }

        goto done;
    }

    ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_MISS;
    ctx->cache_store = 1;

    if (e == NULL) {
        goto done;
    }

    if (e->fresh_until <= ngx_time()) {
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_EXPIRED;

        /* kept for an upstream that fails while it is being refreshed */
        if (lcf->cache_stale && e->stale_until > ngx_time()) {
            ctx->cache_stale = e;
        }

        goto done;
    }

    ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_HIT;
    ctx->cache_store = 0;
    ctx->cache_entry = e;

    ngx_http_7digital_cache_front_put(ctx, e, &ctx->cache_bytes);

done:

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: cache lookup: %ui",
                   (ngx_uint_t) ctx->cache_status);
}


/*
 * An MGET reply: the entry, valid only if it was stored under the
 * generations that came with it (nothing purged since); NGX_ERROR for no
 * usable reply.  The generations' digest is kept for the entry stored
 * next.
 */

static ngx_int_t
ngx_http_7digital_cache_read(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, redisReply *rep,
    ngx_http_7digital_cache_entry_t **entry)
{
    ngx_str_t                        *values;
    ngx_uint_t                        i, n;
    redisReply                       *el;
    ngx_http_7digital_cache_entry_t  *e;

    *entry = NULL;

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
        || rep->elements != ctx->cache_argc - 1)
    {
        return NGX_ERROR;
    }

    n = rep->elements - 1;

    values = ngx_pcalloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        el = rep->element[i + 1];

        if (el->type == REDIS_REPLY_STRING) {
            values[i].data = (u_char *) el->str;
            values[i].len = el->len;
        }
    }

    if (ngx_http_7digital_cache_generation(r->pool, values, n,
                                           &ctx->cache_generation)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    e = ngx_http_7digital_cache_take(r, ctx, rep->element[0]);

    if (e && e->generation != ctx->cache_generation) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache entry purged");
        e = NULL;
    }

    *entry = e;

    return NGX_OK;
}


/*
 * The entry is sent from the very string the reply was read into: the
 * reply is kept past its callback (see ngx_http_7digital_redis_keep()) and
 * freed with the request.
 */

static ngx_http_7digital_cache_entry_t *
ngx_http_7digital_cache_take(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, redisReply *rep)
{
    ngx_str_t                         bytes;
    ngx_pool_cleanup_t               *cln;
    ngx_http_7digital_cache_entry_t  *e;

    if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
        return NULL;
    }

    e = ngx_palloc(r->pool, sizeof(ngx_http_7digital_cache_entry_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (e == NULL || cln == NULL) {
        return NULL;
    }

    ngx_http_7digital_redis_keep(rep);
    cln->handler = ngx_http_7digital_redis_release;
    cln->data = rep;

    bytes.data = (u_char *) rep->str;
    bytes.len = rep->len;
    ctx->cache_bytes = bytes;

    if (ngx_http_7digital_cache_decode(&bytes, e) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: unreadable cache entry, replaced");
        return NULL;
    }

    return e;
}


/* a hit: the stored status, headers and body, with its Age */

ngx_int_t
ngx_http_7digital_cache_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    if (ngx_http_7digital_cache_headers(r, ctx->cache_entry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_7digital_send_answer(r, &ctx->cache_entry->body);
}


/* the response headers of a stored entry, and its Age */

static ngx_int_t
ngx_http_7digital_cache_headers(ngx_http_request_t *r,
    ngx_http_7digital_cache_entry_t *e)
{
    time_t            age;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    r->headers_out.status = e->status;
    r->headers_out.content_length_n = e->body.len;

    for (i = 0; i < e->nheaders; i++) {

        if (e->names[i].len == 12
            && ngx_strncasecmp(e->names[i].data, (u_char *) "Content-Type",
                               12) == 0)
        {
            r->headers_out.content_type = e->values[i];
            r->headers_out.content_type_len = e->values[i].len;
            continue;
        }

        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = e->names[i];
        h->value = e->values[i];
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    age = ngx_time() - e->stored;

    h->hash = 1;
    ngx_str_set(&h->key, "Age");
    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T", age > 0 ? age : 0)
                   - h->value.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/*
 * The upstream failed while an expired entry could still stand in: an
 * error status, nginx's own 502 or 504 (no connection, a timeout), or a
 * 429, which nginx's own stale serving leaves out.
 */

static ngx_uint_t
ngx_http_7digital_cache_failed(ngx_http_request_t *r)
{
    ngx_uint_t  status;

    status = r->headers_out.status;

    return status == NGX_HTTP_INTERNAL_SERVER_ERROR
           || status == NGX_HTTP_BAD_GATEWAY
           || status == NGX_HTTP_SERVICE_UNAVAILABLE
           || status == NGX_HTTP_GATEWAY_TIME_OUT
           || status == NGX_HTTP_TOO_MANY_REQUESTS;
}


/* the failed answer's headers are replaced before they go out */

static ngx_int_t
ngx_http_7digital_cache_stale_header(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "sevendigital: upstream answered %ui, serving a stale "
                  "cache entry", r->headers_out.status);

    ngx_http_clean_header(r);

    if (ngx_http_7digital_cache_headers(r, ctx->cache_stale) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_STALE;
    ctx->cache_store = 0;
    ctx->cache_serving_stale = 1;

    r->header_only = (r->method == NGX_HTTP_HEAD);

    return ngx_http_next_header_filter(r);
}


/* the failed answer's body is dropped, the stale one goes instead */

static ngx_int_t
ngx_http_7digital_cache_stale_body(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_chain_t *in)
{
    ngx_buf_t    *b;
    ngx_uint_t    last;
    ngx_chain_t   out;

    last = ngx_http_7digital_cache_swallow(in);

    if (!last || r->header_only) {
        return NGX_OK;
    }

    ctx->cache_serving_stale = 0;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = ctx->cache_stale->body.data;
    b->last = b->pos + ctx->cache_stale->body.len;
    b->memory = (b->last > b->pos);
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
}


/*
 * The buffers count as sent, their producer may reuse them; returns
 * whether the answer's last buffer was among them.
 */

static ngx_uint_t
ngx_http_7digital_cache_swallow(ngx_chain_t *in)
{
    ngx_uint_t    last;
    ngx_chain_t  *cl;

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        last |= (cl->buf->last_buf || cl->buf->last_in_chain);
        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    return last;
}


/*
 * Stale-while-revalidate: the request that holds the lock answers with
 * the expired entry at once, and a background subrequest refreshes it.
 * The subrequest is a clone of this request, which is already re-signed
 * for the upstream; it skips the access phase, goes to proxy_pass, and
 * its answer is stored by the filters below and never sent.  The lock is
 * released when the whole request ends, after the subrequest.
 */

ngx_int_t
ngx_http_7digital_cache_refresh(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_request_t       *sr;
    ngx_http_7digital_ctx_t  *sctx;

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_7digital_ctx_t));
    if (sctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_subrequest(r, &r->uri, &r->args, &sr, NULL,
                            NGX_HTTP_SUBREQUEST_CLONE
                            |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sctx->partner = ctx->partner;
    sctx->auth = ctx->auth;
    sctx->cache_key = ctx->cache_key;
    sctx->cache_generation = ctx->cache_generation;
    sctx->front = ctx->front;
    sctx->front_epoch = ctx->front_epoch;
    sctx->front_unavailable = ctx->front_unavailable;
    sctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_EXPIRED;
    sctx->cache_store = 1;
    sctx->cache_background = 1;
    sctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;

    ngx_http_set_ctx(sr, sctx, ngx_http_7digital_module);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: cache entry refreshed in the background");

    return NGX_OK;
}


/*
 * Decides whether the upstream's answer is kept: a configured status, no
 * cookie, nothing the upstream forbids, not compressed (the key does not
 * vary with Accept-Encoding), not larger than allowed.
 */

static ngx_int_t
ngx_http_7digital_cache_header_filter(ngx_http_request_t *r)
{
    time_t                         ttl;
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx == NULL || (r != r->main && !ctx->cache_background)) {
        return ngx_http_next_header_filter(r);
    }

    if (ctx->cache_stale && ngx_http_7digital_cache_failed(r)) {
        return ngx_http_7digital_cache_stale_header(r, ctx);
    }

    if (!ctx->cache_store) {
        return ngx_http_next_header_filter(r);
    }

    ctx->cache_store = 0;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    ttl = ngx_http_7digital_cache_ttl(r, lcf);

    if (ttl <= 0
        || (r->headers_out.content_length_n > 0
            && (size_t) r->headers_out.content_length_n
               > lcf->cache_max_size))
    {
        /* nothing will be stored: whoever waits for it goes on now */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: answer %ui not stored",
                       r->headers_out.status);
        ngx_http_7digital_cache_unlock(ctx);
        return ngx_http_next_header_filter(r);
    }

    ctx->cache_ttl = ttl;
    ctx->cache_capture = 1;
    r->filter_need_in_memory = 1;

    return ngx_http_next_header_filter(r);
}


static time_t
ngx_http_7digital_cache_ttl(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf)
{
    u_char                          *p, *last;
    time_t                           ttl, max_age;
    ngx_uint_t                       i;
    ngx_list_part_t                 *part;
    ngx_table_elt_t                 *h;
    ngx_http_7digital_cache_valid_t *valid;

    ttl = 0;
    valid = lcf->cache_valid->elts;

    for (i = 0; i < lcf->cache_valid->nelts; i++) {
        if (valid[i].status == r->headers_out.status) {
            ttl = valid[i].valid;
            break;
        }
    }

    if (ttl == 0 || r->headers_out.content_encoding) {
        return 0;
    }

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (h[i].hash == 0) {
                continue;
            }

            if (h[i].key.len == 10
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Set-Cookie", 10)
                   == 0)
            {
                return 0;
            }

            if (h[i].key.len != 13
                || ngx_strncasecmp(h[i].key.data, (u_char *) "Cache-Control",
                                   13) != 0)
            {
                continue;
            }

            p = h[i].value.data;
            last = p + h[i].value.len;

            if (ngx_strlcasestrn(p, last, (u_char *) "no-store", 8 - 1)
                || ngx_strlcasestrn(p, last, (u_char *) "no-cache", 8 - 1)
                || ngx_strlcasestrn(p, last, (u_char *) "private", 7 - 1))
            {
                return 0;
            }

            p = ngx_strlcasestrn(p, last, (u_char *) "max-age=", 8 - 1);

            if (p) {
                p += 8;
                max_age = 0;

                /* digits past the TTL cannot shorten it: no overflow */
                while (p < last && *p >= '0' && *p <= '9') {
                    if (max_age <= ttl) {
                        max_age = max_age * 10 + (*p - '0');
                    }

                    p++;
                }

                /* the upstream's max-age shortens the TTL, never lengthens */
                if (max_age < ttl) {
                    ttl = max_age;
                }
            }
        }
    }

    return ttl;
}


static ngx_int_t
ngx_http_7digital_cache_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                      rc;
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx && ctx->cache_serving_stale) {
        return ngx_http_7digital_cache_stale_body(r, ctx, in);
    }

    if (in == NULL || ctx == NULL || !ctx->cache_capture) {

        if (ctx && ctx->cache_background) {
            /* a background refresh: nothing of it reaches the client */
            (void) ngx_http_7digital_cache_swallow(in);
            return NGX_OK;
        }

        return ngx_http_next_body_filter(r, in);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    rc = ngx_http_7digital_capture(r, &ctx->cache_buf,
                                   r->headers_out.content_length_n > 0
                                   ? (size_t) r->headers_out.content_length_n
                                   : lcf->cache_max_size,
                                   in);

    if (rc == NGX_OK) {
        ngx_http_7digital_cache_store(r, ctx);
    }

    if (rc != NGX_AGAIN) {
        ctx->cache_capture = 0;
        ngx_http_7digital_cache_unlock(ctx);
    }

    if (ctx->cache_background) {
        (void) ngx_http_7digital_cache_swallow(in);
        return NGX_OK;
    }

    return ngx_http_next_body_filter(r, in);
}


/* an answer cut short is never stored; the SET is not waited for */

static void
ngx_http_7digital_cache_store(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_7digital_loc_conf_t     *lcf;

    size_t                            len;
    ngx_str_t                         bytes;
    const char                       *argv[5];
    size_t                            argvlen[5];
    ngx_http_7digital_cache_entry_t   e;
    u_char                            ttl[NGX_TIME_T_LEN];

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
    len = ctx->cache_buf->last - ctx->cache_buf->pos;

    if (r->headers_out.content_length_n >= 0
        && (off_t) len != r->headers_out.content_length_n)
    {
        return;
    }

    ngx_memzero(&e, sizeof(ngx_http_7digital_cache_entry_t));

    e.status = r->headers_out.status;
    e.stored = ngx_time();
    e.fresh_until = e.stored + ctx->cache_ttl;
    e.stale_until = e.fresh_until + lcf->cache_stale;
    e.generation = ctx->cache_generation;
    e.body.data = ctx->cache_buf->pos;
    e.body.len = len;

    if (r->headers_out.content_type.len) {
        ngx_str_set(&e.names[0], "Content-Type");
        e.values[0] = r->headers_out.content_type;
        e.nheaders = 1;
    }

    ngx_http_7digital_cache_kept(r, &e);

    if (ngx_http_7digital_cache_encode(r->pool, &e, &bytes) != NGX_OK) {
        return;
    }

    ngx_http_7digital_cache_front_put(ctx, &e, &bytes);

    /*
     * Without an answer from Redis the scopes' generations are unknown:
     * the entry stays on this node, and Redis is not sent one that could
     * outlive a purge.
     */
    if (ctx->front_unavailable) {
        return;
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->cache_key.data;
    argvlen[1] = ctx->cache_key.len;
    argv[2] = (const char *) bytes.data;
    argvlen[2] = bytes.len;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (const char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%T", ctx->cache_ttl + lcf->cache_stale)
                 - ttl;

    (void) ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_CACHE, NULL,
        ngx_http_7digital_cache_stored, NULL, 5, argv, argvlen);
}


/*
 * The upstream's headers an entry keeps besides Content-Type: those that
 * describe the answer itself; never Set-Cookie (such answers are not
 * stored) nor hop-by-hop or length headers, which nginx writes anew.
 */

static ngx_str_t  ngx_http_7digital_cache_kept_headers[] = {
    ngx_string("Content-Language"),
    ngx_string("Last-Modified"),
    ngx_string("ETag"),
    ngx_string("Cache-Control"),
    ngx_string("Expires"),
    ngx_null_string
};


static void
ngx_http_7digital_cache_kept(ngx_http_request_t *r,
    ngx_http_7digital_cache_entry_t *e)
{
    ngx_str_t        *k;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {

            if (h[i].hash == 0
                || e->nheaders == NGX_HTTP_7DIGITAL_CACHE_HEADERS)
            {
                continue;
            }

            for (k = ngx_http_7digital_cache_kept_headers; k->len; k++) {
                if (h[i].key.len == k->len
                    && ngx_strncasecmp(h[i].key.data, k->data, k->len) == 0)
                {
                    e->names[e->nheaders] = *k;
                    e->values[e->nheaders++] = h[i].value;
                    break;
                }
            }
        }
    }
}


static void
ngx_http_7digital_cache_stored(void *data, void *reply)
{
    redisReply  *rep = reply;

    if (rep && rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sevendigital: redis refused a cache entry: %s",
                      rep->str);
    }
}


/*
 * Stampede protection across nodes.  After a miss, SET NX PX with a token
 * of its own decides who refreshes the entry: the winner goes upstream and
 * releases the lock as soon as it knows what it stores, or that it stores
 * nothing (compare-and-delete: never another request's lock).  The others
 * take the expired entry at once if there is one (UPDATING); or they look
 * every 50 ms whether the lock is gone or the entry is there (two EXISTS,
 * nothing copied), read the entry once it is, and go upstream themselves
 * as soon as the lock is gone without an entry, or its time is over.
 */

#define NGX_HTTP_7DIGITAL_LOCK_POLL  50

#define NGX_HTTP_7DIGITAL_LOCK_NONE     0
#define NGX_HTTP_7DIGITAL_LOCK_HELD     1
#define NGX_HTTP_7DIGITAL_LOCK_WAITING  2
#define NGX_HTTP_7DIGITAL_LOCK_REREAD   3
#define NGX_HTTP_7DIGITAL_LOCK_NODE     4    /* the front tier's, held */
#define NGX_HTTP_7DIGITAL_LOCK_NODE_WAITING  5


static void ngx_http_7digital_lock_reply(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_lock_arm(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_lock_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_7digital_lock_node(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_lock_node_wait(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_lock_node_tick(ngx_event_t *ev);
static void ngx_http_7digital_lock_gone(ngx_http_request_t *r, void *data,
    void *reply);
static void ngx_http_7digital_lock_entry(ngx_http_request_t *r, void *data,
    void *reply);
static void ngx_http_7digital_lock_cleanup(void *data);
static void ngx_http_7digital_lock_end(void *data);


static ngx_str_t  ngx_http_7digital_lock_release_script = ngx_string(
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end");


/* NGX_AGAIN: the SET NX is in the batch and the request is parked */

ngx_int_t
ngx_http_7digital_cache_lock(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    u_char     *p;
    size_t      n;
    ngx_int_t   rc;
    ngx_str_t   token;

    /* a HEAD stores nothing: it would hold the others up for nothing */
    if (lcf->cache_lock_timeout == 0 || r->method != NGX_HTTP_GET) {
        return NGX_OK;
    }

    if (ctx->front_unavailable) {
        return ngx_http_7digital_lock_node(r, lcf, ctx);
    }

    /* "sevendigital:lock:" and the digest the cache key ends with */
    n = ngx_http_7digital_cache_prefix.len;
    ctx->lock_key.len = sizeof("sevendigital:lock:") - 1
                        + ctx->cache_key.len - n;
    ctx->lock_key.data = ngx_pnalloc(r->pool, ctx->lock_key.len);
    if (ctx->lock_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(ctx->lock_key.data, "sevendigital:lock:",
                   sizeof("sevendigital:lock:") - 1);
    ngx_memcpy(p, ctx->cache_key.data + n, ctx->cache_key.len - n);

    if (ngx_http_7digital_nonce(ctx->lock_token) != NGX_OK) {
        return NGX_ERROR;
    }

    token.data = ctx->lock_token;
    token.len = NGX_HTTP_7DIGITAL_NONCE_LEN;

    rc = ngx_http_7digital_batch_set_nx(r, &ctx->batch,
                                        NGX_HTTP_7DIGITAL_REDIS_CACHE,
                                        ngx_http_7digital_lock_reply, ctx,
                                        &ctx->lock_key, &token, "PX",
                                        lcf->cache_lock_timeout);
    if (rc != NGX_OK) {
        return (rc == NGX_DECLINED) ? NGX_OK : rc;
    }

    ctx->lock_deadline = ngx_current_msec + lcf->cache_lock_timeout;

    return ngx_http_7digital_batch_park(r, &ctx->batch,
                                        ngx_http_7digital_batch_run_phases,
                                        NULL, 0);
}


static void
ngx_http_7digital_lock_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply          *rep;
    ngx_pool_cleanup_t  *cln;

    rep = reply;
    ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;

    if (rep && rep->type == REDIS_REPLY_STATUS) {
        /* ours: released once the answer is known, or when the request ends */
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln) {
            cln->handler = ngx_http_7digital_lock_end;
            cln->data = ctx;
            ctx->lock = NGX_HTTP_7DIGITAL_LOCK_HELD;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache lock taken");
        return;
    }

    if (rep == NULL || rep->type != REDIS_REPLY_NIL) {
        return;
    }

    if (ctx->cache_stale) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache locked, expired entry sent");
        ctx->cache_entry = ctx->cache_stale;
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_UPDATING;
        ctx->cache_store = 0;
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: cache locked, waiting for the entry");

    if (ngx_http_7digital_lock_arm(r, ctx) == NGX_OK) {
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_WAITING;
    }
}


/*
 * The lock stage after its replies: NGX_OK goes on (to a hit, or
 * upstream), NGX_AGAIN keeps the request parked.
 */

ngx_int_t
ngx_http_7digital_cache_lock_wait(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->lock == NGX_HTTP_7DIGITAL_LOCK_REREAD) {
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;
        return NGX_OK;
    }

    if (ctx->lock == NGX_HTTP_7DIGITAL_LOCK_NODE_WAITING) {
        return ngx_http_7digital_lock_node_wait(r, lcf, ctx);
    }

    if (ctx->lock != NGX_HTTP_7DIGITAL_LOCK_WAITING) {
        return NGX_OK;
    }

    if (ctx->lock_entry) {
        /* the new entry is there: read it, once */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache lock: the entry is there");

        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_REREAD;

        rc = ngx_http_7digital_cache_fetch(r, ctx);

        if (rc != NGX_OK) {
            return (rc == NGX_DECLINED) ? NGX_OK : rc;
        }

        return ngx_http_7digital_batch_park(r, &ctx->batch,
                                            ngx_http_7digital_batch_run_phases,
                                            NULL, 0);
    }

    if (ctx->lock_free
        || (ngx_msec_int_t) (ctx->lock_deadline - ngx_current_msec) <= 0)
    {
        /* the holder stores nothing, or took too long: go upstream */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache lock: %s, going upstream",
                       ctx->lock_free ? "released without an entry"
                                      : "timed out");
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;
        return NGX_OK;
    }

    return (ngx_http_7digital_lock_arm(r, ctx) == NGX_OK) ? NGX_AGAIN
                                                          : NGX_OK;
}


static ngx_int_t
ngx_http_7digital_lock_arm(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_cleanup_t  *cln;

    if (ctx->lock_timer.handler == NULL) {
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_7digital_lock_cleanup;
        cln->data = ctx;

        ctx->lock_timer.handler = ngx_http_7digital_lock_tick;
        ctx->lock_timer.data = ctx;
        ctx->lock_timer.log = r->connection->log;
    }

    ngx_add_timer(&ctx->lock_timer, NGX_HTTP_7DIGITAL_LOCK_POLL);

    /* notice a client that goes away while it waits */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_OK;
}


/* is the lock still there, is the entry there: one round trip */

static void
ngx_http_7digital_lock_tick(ngx_event_t *ev)
{
    ngx_http_7digital_ctx_t *ctx = ev->data;

    const char          *argv[2];
    size_t               argvlen[2];
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->batch.request;
    ctx->lock_free = 0;
    ctx->lock_entry = 0;

    argv[0] = "EXISTS";
    argvlen[0] = 6;
    argv[1] = (const char *) ctx->lock_key.data;
    argvlen[1] = ctx->lock_key.len;

    if (ngx_http_7digital_batch_add(r, &ctx->batch,
                                    NGX_HTTP_7DIGITAL_REDIS_CACHE,
                                    ngx_http_7digital_lock_gone, ctx, 2, argv,
                                    argvlen)
        == NGX_OK)
    {
        argv[1] = (const char *) ctx->cache_key.data;
        argvlen[1] = ctx->cache_key.len;

        (void) ngx_http_7digital_batch_add(r, &ctx->batch,
            NGX_HTTP_7DIGITAL_REDIS_CACHE, ngx_http_7digital_lock_entry, ctx, 2,
            argv, argvlen);
    }

    if (ngx_http_7digital_batch_park(r, &ctx->batch,
                                     ngx_http_7digital_batch_run_phases,
                                     NULL, 0)
        == NGX_OK)
    {
        /* Redis is not waited for now: go upstream without the entry */
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;

        /* the request may be freed by its phases: the connection is not */
        c = r->connection;
        ngx_http_7digital_batch_run_phases(r, NULL);
        ngx_http_run_posted_requests(c);
    }
}


/*
 * Redis cannot answer: the node's own lock, in the front tier, so that the
 * origin sees one request per key and node, not one per client.  The
 * others take the expired entry if there is one (UPDATING), or look every
 * 50 ms for the entry in the tier, and go upstream themselves once the
 * lock is gone without one, or its time is over.
 */

static ngx_int_t
ngx_http_7digital_lock_node(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t            rc;
    ngx_pool_cleanup_t  *cln;

    rc = ngx_http_7digital_front_lock(ctx->front, &ctx->cache_key,
                                      lcf->cache_lock_timeout,
                                      &ctx->front_lock);

    if (rc == NGX_OK) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_7digital_front_unlock(ctx->front, &ctx->cache_key,
                                           ctx->front_lock);
            return NGX_ERROR;
        }

        cln->handler = ngx_http_7digital_lock_end;
        cln->data = ctx;
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NODE;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: redis unavailable, node's cache "
                       "lock taken");
        return NGX_OK;
    }

    if (rc != NGX_BUSY) {
        return NGX_OK;
    }

    if (ctx->cache_stale) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: node's cache lock busy, expired "
                       "entry sent");
        ctx->cache_entry = ctx->cache_stale;
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_UPDATING;
        ctx->cache_store = 0;
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: node's cache lock busy, waiting for the "
                   "entry");

    ctx->lock_deadline = ngx_current_msec + lcf->cache_lock_timeout;

    if (ngx_http_7digital_lock_arm(r, ctx) != NGX_OK) {
        return NGX_OK;
    }

    /* the tier is looked at, not Redis (the cleanup is lock_arm()'s) */
    ctx->lock_timer.handler = ngx_http_7digital_lock_node_tick;
    ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NODE_WAITING;

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_7digital_lock_node_wait(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_7digital_cache_front_hit(r, lcf, ctx, 1);

    if (rc != NGX_DECLINED) {
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;
        return rc;
    }

    if (!ngx_http_7digital_front_locked(ctx->front, &ctx->cache_key)
        || (ngx_msec_int_t) (ctx->lock_deadline - ngx_current_msec) <= 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: node's cache lock gone without an "
                       "entry, going upstream");
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;
        return NGX_OK;
    }

    return (ngx_http_7digital_lock_arm(r, ctx) == NGX_OK) ? NGX_AGAIN
                                                          : NGX_OK;
}


static void
ngx_http_7digital_lock_node_tick(ngx_event_t *ev)
{
    ngx_http_7digital_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->batch.request;
    c = r->connection;

    ngx_http_7digital_batch_run_phases(r, NULL);
    ngx_http_run_posted_requests(c);
}


/* EXISTS of the lock: no answer counts as gone, so nobody waits on */

static void
ngx_http_7digital_lock_gone(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;

    ctx->lock_free = (rep == NULL || rep->type != REDIS_REPLY_INTEGER
                      || rep->integer == 0);
}


/* EXISTS of the entry */

static void
ngx_http_7digital_lock_entry(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;

    ctx->lock_entry = (rep && rep->type == REDIS_REPLY_INTEGER
                       && rep->integer == 1);
}


static void
ngx_http_7digital_lock_cleanup(void *data)
{
    ngx_http_7digital_ctx_t  *ctx = data;

    if (ctx->lock_timer.timer_set) {
        ngx_del_timer(&ctx->lock_timer);
    }
}


/* whether this request holds the refresh lock */

ngx_uint_t
ngx_http_7digital_cache_locked(ngx_http_7digital_ctx_t *ctx)
{
    return ctx->lock == NGX_HTTP_7DIGITAL_LOCK_HELD
           || ctx->lock == NGX_HTTP_7DIGITAL_LOCK_NODE;
}


/*
 * Releases our lock, on the same connection as the entry's SET (so after
 * it), and only if it is still ours: a lock that expired and was taken by
 * another request is left to it.
 */

void
ngx_http_7digital_cache_unlock(ngx_http_7digital_ctx_t *ctx)
{
    const char  *argv[5];
    size_t       argvlen[5];

    if (ctx->lock == NGX_HTTP_7DIGITAL_LOCK_NODE) {
        ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;
        ngx_http_7digital_front_unlock(ctx->front, &ctx->cache_key,
                                       ctx->front_lock);
        return;
    }

    if (ctx->lock != NGX_HTTP_7DIGITAL_LOCK_HELD) {
        return;
    }

    ctx->lock = NGX_HTTP_7DIGITAL_LOCK_NONE;

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = (const char *) ngx_http_7digital_lock_release_script.data;
    argvlen[1] = ngx_http_7digital_lock_release_script.len;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) ctx->lock_key.data;
    argvlen[3] = ctx->lock_key.len;
    argv[4] = (const char *) ctx->lock_token;
    argvlen[4] = NGX_HTTP_7DIGITAL_NONCE_LEN;

    (void) ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_CACHE, NULL,
        ngx_http_7digital_cache_stored, NULL, 5, argv, argvlen);
}


static void
ngx_http_7digital_lock_end(void *data)
{
    ngx_http_7digital_cache_unlock(data);
}
