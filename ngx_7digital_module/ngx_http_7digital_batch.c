
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The request side of Redis: every caller (nonce, token, cache lookup,
 * lock, purge) adds its commands to the request's one batch, the request
 * parks, and it is resumed once, when the last reply is in.  Commands
 * added in one pass of the event loop leave in one write, so a batch
 * costs one round trip however many commands it holds.
 *
 * Nothing here assumes one server: each command carries its own keys and
 * its own reply handler, so a batch can later be split by node (Redis
 * Cluster, Sentinel) and joined again by the same pending count.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


struct ngx_http_7digital_batch_op_s {
    ngx_http_7digital_batch_t      *batch;
    ngx_http_7digital_redis_op_t   *op;
    ngx_http_7digital_reply_pt      handler;
    void                           *data;
    ngx_http_7digital_batch_op_t   *next;
};


static void ngx_http_7digital_batch_reply(void *data, void *reply);
static void ngx_http_7digital_batch_done(ngx_http_7digital_batch_t *b);
static void ngx_http_7digital_batch_cleanup(void *data);


/*
 * NGX_OK: the command is queued and its handler will be called exactly
 * once, with the reply or NULL (error, timeout), unless the request ends
 * first.  NGX_DECLINED: Redis is not to be waited for now (unreachable,
 * or not answering); nothing is queued and the caller goes on without it.
 */

ngx_int_t
ngx_http_7digital_batch_add(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_uint_t target,
    ngx_http_7digital_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_int_t                      rc;
    ngx_http_cleanup_t            *cln;
    ngx_http_7digital_batch_op_t  *bop;

    if (!b->cleanup) {
        /* a request that dies first must never be called back */
        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_7digital_batch_cleanup;
        cln->data = b;
        b->cleanup = 1;
        b->request = r;
    }

    bop = ngx_pcalloc(r->pool, sizeof(ngx_http_7digital_batch_op_t));
    if (bop == NULL) {
        return NGX_ERROR;
    }

    bop->batch = b;
    bop->handler = handler;
    bop->data = data;

    rc = ngx_http_7digital_redis_command(target, &bop->op,
                                         ngx_http_7digital_batch_reply, bop,
                                         argc, argv, argvlen);

    if (rc != NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: redis not waited for, \"%*s\" "
                       "skipped", (size_t) argvlen[0], argv[0]);
        return NGX_DECLINED;
    }

    bop->next = b->ops;
    b->ops = bop;
    b->pending++;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: redis \"%*s\" added, %ui in the batch",
                   (size_t) argvlen[0], argv[0], b->pending);

    return NGX_OK;
}


/* SET key value NX EX|PX amount: who first records a nonce, takes a lock */

ngx_int_t
ngx_http_7digital_batch_set_nx(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_uint_t target,
    ngx_http_7digital_reply_pt handler, void *data, ngx_str_t *key,
    ngx_str_t *value, char *unit, ngx_uint_t amount)
{
    const char  *argv[6];
    size_t       argvlen[6];
    u_char       buf[NGX_INT_T_LEN];

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (const char *) key->data;
    argvlen[1] = key->len;
    argv[2] = (const char *) value->data;
    argvlen[2] = value->len;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = unit;
    argvlen[4] = 2;
    argv[5] = (const char *) buf;
    argvlen[5] = ngx_sprintf(buf, "%ui", amount) - buf;

    return ngx_http_7digital_batch_add(r, b, target, handler, data, 6, argv,
                                       argvlen);
}


/*
 * Parks the request until every reply of the batch is in; then "resume"
 * runs once.  NGX_OK: nothing is pending, go on now.  A content handler
 * (content set) holds a reference on the request while it waits, and its
 * resume finalizes the request; the access phase holds none, as limit_req
 * does, and its resume runs the phases again.
 */

ngx_int_t
ngx_http_7digital_batch_park(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_http_7digital_resume_pt resume,
    void *data, ngx_uint_t content)
{
    if (b->pending == 0) {
        return NGX_OK;
    }

    b->resume = resume;
    b->data = data;
    b->parked = 1;

    if (content) {
        r->main->count++;
    }

    /* notice a client that goes away meanwhile */
    r->read_event_handler = ngx_http_test_reading;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: waiting for %ui redis replies",
                   b->pending);

    return NGX_AGAIN;
}


/* the access phase's resume: the phases run again from where they were */

void
ngx_http_7digital_batch_run_phases(ngx_http_request_t *r, void *data)
{
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static void
ngx_http_7digital_batch_reply(void *data, void *reply)
{
    ngx_http_7digital_batch_op_t *bop = data;

    ngx_http_7digital_batch_t  *b;

    b = bop->batch;
    bop->op = NULL;

    bop->handler(b->request, bop->data, reply);

    /* a handler may have added commands: they join the same wait */
    if (--b->pending == 0 && b->parked) {
        ngx_http_7digital_batch_done(b);
    }
}


/*
 * The last reply is in.  A worker that is exiting does not send requests
 * on: whatever still waits when its Redis connection closes is answered
 * with 503 and closed, instead of going upstream from the exit handler.
 */

static void
ngx_http_7digital_batch_done(ngx_http_7digital_batch_t *b)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;
    ngx_http_log_ctx_t  *lctx;

    r = b->request;
    c = r->connection;
    lctx = c->log->data;
    lctx->current_request = r;

    b->parked = 0;
    b->ops = NULL;

    if (ngx_http_7digital_redis_exiting()) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "sevendigital: worker exiting, request answered "
                      "without redis");
        ngx_http_finalize_request(r, NGX_HTTP_SERVICE_UNAVAILABLE);

    } else {
        b->resume(r, b->data);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_7digital_batch_cleanup(void *data)
{
    ngx_http_7digital_batch_t *b = data;

    ngx_http_7digital_batch_op_t  *bop;

    for (bop = b->ops; bop; bop = bop->next) {
        ngx_http_7digital_redis_cancel(bop->op);
        bop->op = NULL;
    }

    b->ops = NULL;
    b->pending = 0;
    b->parked = 0;
}
