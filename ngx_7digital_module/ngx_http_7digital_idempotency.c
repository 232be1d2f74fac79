
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Idempotency keys for sales (the IETF httpapi Idempotency-Key draft): a
 * partner's key, or deliveritem's transactionId, names one sale.  The
 * first request claims it in Redis with its fingerprint, in the request's
 * one batch; when its answer is known the answer is kept, and a retry
 * gets that answer again instead of a second sale.  A retry while the
 * first is in flight, or in doubt, gets 409; the same key for another
 * request 422; and when Redis cannot say, 503: never a double sale.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_IDEM_KEY_MAX  255


static ngx_int_t ngx_http_7digital_idem_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_str_t *name,
    ngx_http_7digital_error_t *err);
static void ngx_http_7digital_idem_claimed(ngx_http_request_t *r,
    void *data, void *reply);
static void ngx_http_7digital_idem_read(ngx_http_request_t *r, void *data,
    void *reply);
static ngx_int_t ngx_http_7digital_idem_refuse(ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t status, ngx_uint_t code, char *message,
    ngx_http_7digital_error_t *err);
static void ngx_http_7digital_idem_done(void *data, void *reply);
static ngx_int_t ngx_http_7digital_idem_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static void ngx_http_7digital_idem_keep(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf);
static ngx_int_t ngx_http_7digital_idem_if_ours(ngx_http_7digital_ctx_t *ctx,
    char *script, ngx_str_t *value, ngx_str_t *ttl);


static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_7digital_idem_header =
    ngx_string("Idempotency-Key");
static ngx_str_t  ngx_http_7digital_transaction_id =
    ngx_string("transactionId");


/*
 * Adds the claim to the request's batch when the sale has a key.  NGX_OK:
 * claimed or nothing to claim; NGX_DECLINED: the request is refused (err);
 * NGX_ERROR.
 */

ngx_int_t
ngx_http_7digital_idem_claim(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    u_char                         *p;
    ngx_int_t                       rc;
    ngx_str_t                       name, value, scoped;
    const char                     *argv[2];
    size_t                          argvlen[2];
    ngx_http_variable_value_t      *id;
    ngx_http_7digital_main_conf_t  *mcf;
    u_char                          digest[NGX_HTTP_7DIGITAL_DIGEST_LEN];

    static ngx_str_t  prefix = ngx_string("sevendigital:idem:");

    if (ctx->route.class != NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        || !lcf->idempotency)
    {
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    rc = ngx_http_7digital_idem_key(r, ctx, &name, err);

    if (rc != NGX_OK) {
        return rc == NGX_DONE ? NGX_OK : rc;
    }

    /* scoped to the partner: another partner's key is another sale */
    scoped.len = ctx->partner->id.len + 1 + name.len;
    scoped.data = ngx_pnalloc(r->pool, scoped.len);
    if (scoped.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(scoped.data, ctx->partner->id.data, ctx->partner->id.len);
    *p++ = '\n';
    ngx_memcpy(p, name.data, name.len);

    if (ngx_http_7digital_sha256(&scoped, digest) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->idem_redis_key.len = prefix.len + 2 * NGX_HTTP_7DIGITAL_DIGEST_LEN;
    ctx->idem_redis_key.data = ngx_pnalloc(r->pool, ctx->idem_redis_key.len);
    if (ctx->idem_redis_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(ctx->idem_redis_key.data, prefix.data, prefix.len);
    ngx_hex_dump(p, digest, NGX_HTTP_7DIGITAL_DIGEST_LEN);

    if (ngx_http_7digital_idem_fingerprint(r->pool, &lcf->upstream_secret,
                                           &r->method_name, &ctx->route_path,
                                           &ctx->token, &ctx->in.query,
                                           &ctx->in.body, ctx->idem_fp)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * "P": in flight, with the fingerprint of the request that claimed it
     * and that request's id, so that only it can release or settle it
     */
    id = ngx_http_get_indexed_variable(r, mcf->request_id);

    value.len = 2 + sizeof(ctx->idem_fp) + 1
                + ((id && !id->not_found) ? id->len : 0);
    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(value.data, "P\n", 2);
    p = ngx_cpymem(p, ctx->idem_fp, sizeof(ctx->idem_fp));
    *p++ = '\n';

    if (id && !id->not_found) {
        ngx_memcpy(p, id->data, id->len);
    }

    ctx->idem_claim = value;
    ctx->idem = NGX_HTTP_7DIGITAL_IDEM_DOWN;

    rc = ngx_http_7digital_batch_set_nx(r, &ctx->batch,
                                        NGX_HTTP_7DIGITAL_REDIS_STATE,
                                        ngx_http_7digital_idem_claimed, ctx,
                                        &ctx->idem_redis_key, &value, "EX",
                                        (ngx_uint_t) lcf->idempotency_ttl);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->idem_claim_sent = (rc == NGX_OK);

    if (rc == NGX_DECLINED) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: idempotency store unavailable");
        return NGX_OK;
    }

    /* what holds the key, read in the same round trip */
    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (const char *) ctx->idem_redis_key.data;
    argvlen[1] = ctx->idem_redis_key.len;

    rc = ngx_http_7digital_batch_add(r, &ctx->batch,
                                     NGX_HTTP_7DIGITAL_REDIS_STATE,
                                     ngx_http_7digital_idem_read, ctx, 2, argv,
                                     argvlen);

    /* a claim whose holder cannot be read is no claim: fail closed */
    if (rc == NGX_DECLINED) {
        ctx->idem_unread = 1;
    }

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/*
 * The partner's Idempotency-Key, else deliveritem's transactionId, which
 * 7digital says names one sale.  NGX_DONE: the sale has no key.
 */

static ngx_int_t
ngx_http_7digital_idem_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_str_t *name,
    ngx_http_7digital_error_t *err)
{
    u_char                     *p;
    ngx_uint_t                  n;
    ngx_table_elt_t            *h;
    ngx_http_7digital_param_t  *prm;

    h = ngx_http_7digital_find_header(r, &ngx_http_7digital_idem_header, &n);

    if (h) {
        if (n > 1 || h->value.len == 0
            || h->value.len > NGX_HTTP_7DIGITAL_IDEM_KEY_MAX)
        {
            return ngx_http_7digital_idem_refuse(ctx, NGX_HTTP_BAD_REQUEST,
                                                 1002,
                                                 "Invalid Idempotency-Key",
                                                 err);
        }

        for (p = h->value.data; p < h->value.data + h->value.len; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                return ngx_http_7digital_idem_refuse(ctx,
                                                     NGX_HTTP_BAD_REQUEST,
                                                     1002,
                                                     "Invalid Idempotency-Key",
                                                     err);
            }
        }

        ctx->idempotency_key = h->value;
        name->len = 2 + h->value.len;
        name->data = ngx_pnalloc(r->pool, name->len);
        if (name->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(name->data, "k:", 2);
        ngx_memcpy(p, h->value.data, h->value.len);

        return NGX_OK;
    }

    if (ctx->api != NGX_HTTP_7DIGITAL_API_7D
        || !ctx->route.endpoint->xml_only)
    {
        return NGX_DONE;
    }

    prm = ngx_http_7digital_find_param(&ctx->in.query,
                                       &ngx_http_7digital_transaction_id, &n);
    if (prm == NULL && ctx->in.body.nelts) {
        prm = ngx_http_7digital_find_param(&ctx->in.body,
                                       &ngx_http_7digital_transaction_id, &n);
    }

    if (prm == NULL || prm->value.len == 0) {
        return NGX_DONE;
    }

    name->len = 3 + prm->value.len;
    name->data = ngx_pnalloc(r->pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name->data, "tx:", 3);
    ngx_memcpy(p, prm->value.data, prm->value.len);

    return NGX_OK;
}


static void
ngx_http_7digital_idem_claimed(ngx_http_request_t *r, void *data,
    void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;

    if (rep && rep->type == REDIS_REPLY_STATUS && rep->len == 2
        && ngx_strncmp(rep->str, "OK", 2) == 0)
    {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_FIRST;

    } else if (rep && rep->type == REDIS_REPLY_NIL && !ctx->idem_unread) {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_TAKEN;

    } else {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_DOWN;
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: idempotency key %s",
                   ctx->idem == NGX_HTTP_7DIGITAL_IDEM_FIRST ? "claimed"
                                                             : "taken");
}


/* "P\n<fp>" in flight or in doubt; "D\n<fp>\n<status>\n<type>\n<body>" */

static void
ngx_http_7digital_idem_read(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply  *rep = reply;
    size_t       need;

    if (ctx->idem == NGX_HTTP_7DIGITAL_IDEM_FIRST
        || ctx->idem == NGX_HTTP_7DIGITAL_IDEM_DOWN)
    {
        return;
    }

    need = 2 + sizeof(ctx->idem_fp);

    if (rep == NULL || rep->type != REDIS_REPLY_STRING
        || rep->len < need)
    {
        /* expired between the two commands, or unreadable: not safe */
        ctx->idem = (rep && rep->type == REDIS_REPLY_NIL)
                    ? NGX_HTTP_7DIGITAL_IDEM_INFLIGHT
                    : NGX_HTTP_7DIGITAL_IDEM_DOWN;
        return;
    }

    if (ngx_memcmp(rep->str + 2, ctx->idem_fp, sizeof(ctx->idem_fp)) != 0) {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_MISMATCH;
        return;
    }

    if (rep->str[0] != 'D' || rep->len == need || rep->str[need] != '\n') {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_INFLIGHT;
        return;
    }

    need++;

    ctx->idem_stored.len = rep->len - need;
    ctx->idem_stored.data = ngx_pnalloc(r->pool, ctx->idem_stored.len + 1);
    if (ctx->idem_stored.data == NULL) {
        ctx->idem = NGX_HTTP_7DIGITAL_IDEM_DOWN;
        return;
    }

    ngx_memcpy(ctx->idem_stored.data, rep->str + need, ctx->idem_stored.len);
    ctx->idem = NGX_HTTP_7DIGITAL_IDEM_REPLAY;
}


/*
 * After the batch: NGX_OK, go on (first, replay or no key); NGX_DECLINED,
 * refused with err.
 */

ngx_int_t
ngx_http_7digital_idem_decide(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: idempotency state %ui", ctx->idem);

    switch (ctx->idem) {

    case NGX_HTTP_7DIGITAL_IDEM_INFLIGHT:
        return ngx_http_7digital_idem_refuse(ctx, NGX_HTTP_CONFLICT, 7001,
                   "A request with this key is in progress or its outcome "
                   "is not known yet", err);

    case NGX_HTTP_7DIGITAL_IDEM_MISMATCH:
        return ngx_http_7digital_idem_refuse(ctx, 422, 1002,
                   "This key was used for a different request", err);

    case NGX_HTTP_7DIGITAL_IDEM_TAKEN:
    case NGX_HTTP_7DIGITAL_IDEM_DOWN:
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: a keyed sale by partner \"%V\" was "
                      "refused, the idempotency store is unavailable",
                      &ctx->partner->id);
        return ngx_http_7digital_idem_refuse(ctx,
                   NGX_HTTP_SERVICE_UNAVAILABLE, 9001,
                   "The sale could not be checked against earlier ones, it "
                   "was not sent; try again later", err);

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_7digital_idem_refuse(ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t status, ngx_uint_t code, char *message,
    ngx_http_7digital_error_t *err)
{
    err->status = status;
    err->code = code;
    err->message.data = (u_char *) message;
    err->message.len = ngx_strlen(message);
    ngx_str_set(&err->parameter, "Idempotency-Key");

    return NGX_DECLINED;
}


/*
 * A replay: the first request's answer again, marked as such.  Sent from
 * the precontent phase, so the request is finalized here (NGX_DONE).
 */

ngx_int_t
ngx_http_7digital_idem_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    u_char           *p, *end, *type;
    ngx_str_t         body;
    ngx_int_t         status;
    ngx_table_elt_t  *h;

    p = ctx->idem_stored.data;
    end = p + ctx->idem_stored.len;

    type = ngx_strlchr(p, end, '\n');
    if (type == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    status = ngx_atoi(p, type - p);
    p = ngx_strlchr(++type, end, '\n');

    if (status < 200 || status > 599 || p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->idem_status = status;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type.data = type;
    r->headers_out.content_type.len = p - type;
    r->headers_out.content_type_len = p - type;
    r->headers_out.content_length_n = end - (p + 1);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Idempotent-Replayed");
    ngx_str_set(&h->value, "true");
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    ctx->idem_replayed = 1;
    ngx_http_7digital_metrics_replay();

    body.data = p + 1;
    body.len = end - body.data;

    return ngx_http_7digital_send_answer(r, &body);
}


/*
 * The answer is kept as soon as its last byte has gone by (the audit
 * filter above this one captured it), not when the request is logged,
 * which may be seconds later on a lingering or kept-alive connection: a
 * retry right after the answer finds it.
 */

static ngx_int_t
ngx_http_7digital_idem_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    ctx = ngx_http_7digital_find_ctx(r);

    if (ctx && r == r->main && ctx->idem == NGX_HTTP_7DIGITAL_IDEM_FIRST
        && ctx->audit_body_complete && !ctx->idem_settled)
    {
        lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
        ngx_http_7digital_idem_keep(r, ctx, lcf);
    }

    return ngx_http_next_body_filter(r, in);
}


static void
ngx_http_7digital_idem_keep(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf)
{
    u_char      *p;
    ngx_str_t    value, *type, body, id, ttlv;
    ngx_int_t    upstream_status;
    ngx_uint_t   sent, tries;
    u_char       ttl[NGX_TIME_T_LEN];

    ctx->idem_settled = 1;

    ngx_http_7digital_upstream_outcome(r, &sent, &upstream_status, &tries);

    body.data = ctx->audit_body->pos;
    body.len = ctx->audit_body->last - ctx->audit_body->pos;

    /*
     * Only a final answer is kept: a completed sale (2xx, with its id
     * where the endpoint gives one), or the upstream's 409 and 422.  An
     * answer the trail calls in doubt keeps the key in flight (409); a
     * refusal frees it when the request ends.
     */
    if (tries != 1
        || !((upstream_status >= 200 && upstream_status < 300
              && (!ctx->route.endpoint->id
                  || ngx_http_7digital_record_find_id(ctx->api, &body, &id)
                     == NGX_OK))
             || upstream_status == NGX_HTTP_CONFLICT
             || upstream_status == 422))
    {
        return;
    }

    ctx->idem_kept = 1;

    type = &r->headers_out.content_type;

    value.len = 2 + sizeof(ctx->idem_fp) + 1 + NGX_INT_T_LEN + 1 + type->len
                + 1 + body.len;

    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return;
    }

    p = ngx_cpymem(value.data, "D\n", 2);
    p = ngx_cpymem(p, ctx->idem_fp, sizeof(ctx->idem_fp));
    p = ngx_sprintf(p, "\n%i\n%V\n", upstream_status, type);
    p = ngx_cpymem(p, body.data, body.len);

    value.len = p - value.data;

    ttlv.data = ttl;
    ttlv.len = ngx_sprintf(ttl, "%T", lcf->idempotency_ttl) - ttl;

    /* settled only if the claim is still this request's */
    if (ngx_http_7digital_idem_if_ours(ctx,
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
            "end return 0", &value, &ttlv)
        == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: the answer to a keyed sale by partner "
                      "\"%V\" could not be kept, retries get 409 until the "
                      "key expires", &ctx->partner->id);
    }
}


/*
 * The request is over: a sale that never left, or that the upstream
 * refused, frees its key; a kept answer stays; a sale in doubt keeps the
 * key claimed until it expires, so that no retry can make it a second one.
 */

void
ngx_http_7digital_idem_finish(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf)
{
    ngx_int_t    upstream_status;
    ngx_uint_t   sent, tries;

    /*
     * Ours to settle: claimed by this request, or possibly claimed (the
     * reply never came: a timeout, a client gone while it waited).
     */
    if (!ctx->idem_claim_sent || ctx->idem_kept
        || (ctx->idem != NGX_HTTP_7DIGITAL_IDEM_FIRST
            && ctx->idem != NGX_HTTP_7DIGITAL_IDEM_DOWN))
    {
        return;
    }

    ngx_http_7digital_upstream_outcome(r, &sent, &upstream_status, &tries);

    if (sent
        && !(tries == 1 && upstream_status >= 400 && upstream_status < 500
             && upstream_status != NGX_HTTP_CONFLICT
             && upstream_status != 422))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: idempotency key kept in flight, the "
                       "outcome is not known");
        return;
    }

    /* released only if the claim is still this request's */
    (void) ngx_http_7digital_idem_if_ours(ctx,
               "if redis.call('GET', KEYS[1]) == ARGV[1] then "
               "return redis.call('DEL', KEYS[1]) end return 0", NULL, NULL);
}


/*
 * What a request leaves to settle after it (a key freed, an answer kept)
 * must reach Redis even when Redis cannot take it now: a claim whose reply
 * never came may still land there once a paused Redis goes on, and would
 * then turn every retry of a sale that never left away for the key's whole
 * life.  Each settlement is a copy of its own, sent again every second
 * until Redis has run it; the scripts only act on a key that still holds
 * the request's claim, so running one twice is harmless.
 */

#define NGX_HTTP_7DIGITAL_IDEM_LATER      1000
#define NGX_HTTP_7DIGITAL_IDEM_RETRY      1000


typedef struct {
    ngx_queue_t                     queue;
    const char                     *script;
    ngx_str_t                       key;
    ngx_str_t                       claim;
    ngx_str_t                       value;       /* empty: freed */
    ngx_str_t                       ttl;
} ngx_http_7digital_idem_later_t;


static ngx_int_t ngx_http_7digital_idem_send_later(
    ngx_http_7digital_idem_later_t *l);
static void ngx_http_7digital_idem_retry(ngx_event_t *ev);


static ngx_queue_t   ngx_http_7digital_idem_later;
static ngx_uint_t    ngx_http_7digital_idem_nlater;
static ngx_event_t   ngx_http_7digital_idem_timer;
static ngx_connection_t  ngx_http_7digital_idem_conn;


/* a script run on the key if it still holds this request's claim */

static ngx_int_t
ngx_http_7digital_idem_if_ours(ngx_http_7digital_ctx_t *ctx, char *script,
    ngx_str_t *value, ngx_str_t *ttl)
{
    u_char                          *p;
    size_t                           len;
    ngx_http_7digital_idem_later_t  *l;

    len = sizeof(ngx_http_7digital_idem_later_t) + ctx->idem_redis_key.len
          + ctx->idem_claim.len + (value ? value->len + ttl->len : 0);

    l = ngx_alloc(len, ngx_cycle->log);
    if (l == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) (l + 1);

    l->script = script;
    l->key.data = p;
    l->key.len = ctx->idem_redis_key.len;
    p = ngx_cpymem(p, ctx->idem_redis_key.data, l->key.len);
    l->claim.data = p;
    l->claim.len = ctx->idem_claim.len;
    p = ngx_cpymem(p, ctx->idem_claim.data, l->claim.len);
    ngx_str_null(&l->value);
    ngx_str_null(&l->ttl);

    if (value) {
        l->value.data = p;
        l->value.len = value->len;
        p = ngx_cpymem(p, value->data, value->len);
        l->ttl.data = p;
        l->ttl.len = ttl->len;
        ngx_memcpy(p, ttl->data, ttl->len);
    }

    if (ngx_http_7digital_idem_send_later(l) == NGX_OK) {
        return NGX_OK;
    }

    /* not now: sent again once Redis takes commands */
    ngx_http_7digital_idem_done(l, NULL);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_7digital_idem_send_later(ngx_http_7digital_idem_later_t *l)
{
    const char  *argv[7];
    size_t       argvlen[7];

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = l->script;
    argvlen[1] = ngx_strlen(l->script);
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (const char *) l->key.data;
    argvlen[3] = l->key.len;
    argv[4] = (const char *) l->claim.data;
    argvlen[4] = l->claim.len;
    argv[5] = (const char *) l->value.data;
    argvlen[5] = l->value.len;
    argv[6] = (const char *) l->ttl.data;
    argvlen[6] = l->ttl.len;

    return ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_STATE, NULL,
        ngx_http_7digital_idem_done, l, l->value.data ? 7 : 5, argv, argvlen);
}


/* Redis ran it, or it waits for the next try */

static void
ngx_http_7digital_idem_done(void *data, void *reply)
{
    ngx_http_7digital_idem_later_t *l = data;

    redisReply  *rep = reply;

    if (rep && rep->type != REDIS_REPLY_ERROR) {
        ngx_free(l);
        return;
    }

    if (ngx_http_7digital_idem_nlater == 0) {
        ngx_queue_init(&ngx_http_7digital_idem_later);
    }

    if (ngx_http_7digital_idem_nlater >= NGX_HTTP_7DIGITAL_IDEM_LATER) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "sevendigital: %ui idempotency keys wait to be settled "
                      "in Redis, one more dropped: retries get 409 until it "
                      "expires", ngx_http_7digital_idem_nlater);
        ngx_free(l);
        return;
    }

    ngx_queue_insert_tail(&ngx_http_7digital_idem_later, &l->queue);
    ngx_http_7digital_idem_nlater++;

    if (!ngx_http_7digital_idem_timer.timer_set) {
        /* nginx's debug log reads a timer's data as a connection */
        ngx_http_7digital_idem_conn.fd = (ngx_socket_t) -1;
        ngx_http_7digital_idem_timer.data = &ngx_http_7digital_idem_conn;
        ngx_http_7digital_idem_timer.handler = ngx_http_7digital_idem_retry;
        ngx_http_7digital_idem_timer.log = ngx_cycle->log;
        ngx_http_7digital_idem_timer.cancelable = 1;
        ngx_add_timer(&ngx_http_7digital_idem_timer,
                      NGX_HTTP_7DIGITAL_IDEM_RETRY);
    }
}


static void
ngx_http_7digital_idem_retry(ngx_event_t *ev)
{
    ngx_queue_t                     *q;
    ngx_http_7digital_idem_later_t  *l;

    while (ngx_http_7digital_idem_nlater) {
        q = ngx_queue_head(&ngx_http_7digital_idem_later);
        l = ngx_queue_data(q, ngx_http_7digital_idem_later_t, queue);

        if (ngx_http_7digital_idem_send_later(l) != NGX_OK) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                           "sevendigital: %ui idempotency keys wait for "
                           "redis", ngx_http_7digital_idem_nlater);
            ngx_add_timer(ev, NGX_HTTP_7DIGITAL_IDEM_RETRY);
            return;
        }

        ngx_queue_remove(q);
        ngx_http_7digital_idem_nlater--;
    }
}


/*
 * A worker that exits drops what it could not settle, and says so: after
 * the Redis connections are closed, whose commands in flight come back
 * here unanswered.
 */

void
ngx_http_7digital_idem_exit_worker(void)
{
    ngx_queue_t  *q;

    if (ngx_http_7digital_idem_timer.timer_set) {
        ngx_del_timer(&ngx_http_7digital_idem_timer);
    }

    if (ngx_http_7digital_idem_nlater) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "sevendigital: %ui idempotency keys left unsettled "
                      "by an exiting worker, retries get 409 until they "
                      "expire", ngx_http_7digital_idem_nlater);
    }

    while (ngx_http_7digital_idem_nlater) {
        q = ngx_queue_head(&ngx_http_7digital_idem_later);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_http_7digital_idem_later_t, queue));
        ngx_http_7digital_idem_nlater--;
    }
}


ngx_int_t
ngx_http_7digital_idem_init_filters(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_7digital_idem_body_filter;

    return NGX_OK;
}
