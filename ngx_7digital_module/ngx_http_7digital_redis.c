
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * One non-blocking Redis connection per worker, on nginx's own event loop:
 * hiredis formats commands and parses replies, nginx owns the waiting.
 * Every command is bounded by an nginx timer.  Like max_fails and
 * fail_timeout for upstream servers, a Redis that failed or let a command
 * time out is not waited for again: commands are refused at once, so
 * callers degrade without waiting, until a probe (PING) gets a real reply.
 * An incident is logged once when it starts and once when it ends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <sys/ioctl.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_REDIS_DOWN        0
#define NGX_HTTP_7DIGITAL_REDIS_CONNECTING  1
#define NGX_HTTP_7DIGITAL_REDIS_READY       2

#define NGX_HTTP_7DIGITAL_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_7DIGITAL_REDIS_BACKOFF_MAX  5000


typedef struct ngx_http_7digital_redis_s  ngx_http_7digital_redis_t;


struct ngx_http_7digital_redis_op_s {
    ngx_http_7digital_redis_t      *rd;
    ngx_http_7digital_redis_pt      handler;
    void                           *data;
    ngx_http_7digital_redis_op_t  **slot;
    ngx_event_t                     timer;
    uint64_t                        sent;   /* for its latency */
    unsigned                        done:1;
};


/*
 * A worker's connection to one Redis: the one for state (tokens, nonces,
 * limits, idempotency keys) and, when configured apart, the one for the
 * cache (sevendigital_redis_cache), which may evict.
 */
struct ngx_http_7digital_redis_s {
    char                           *name;
    ngx_http_7digital_redis_conf_t *conf;
    redisAsyncContext              *ac;
    ngx_connection_t               *c;
    ngx_event_t                     connect_timer;
    ngx_event_t                     retry_timer;
    ngx_event_t                     probe_timer;
    ngx_msec_t                      backoff;
    ngx_uint_t                      state;
    ngx_http_7digital_redis_op_t   *probe;
    ngx_uint_t                      target;
    unsigned                        failing:1;
    unsigned                        closing:1;
    unsigned                        connected:1;   /* once, at least */
};


static ngx_int_t ngx_http_7digital_redis_connect(
    ngx_http_7digital_redis_t *rd);
static void ngx_http_7digital_redis_down(ngx_http_7digital_redis_t *rd,
    const char *why);
static void ngx_http_7digital_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_7digital_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_7digital_redis_setup_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_7digital_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_7digital_redis_op_timeout(ngx_event_t *ev);
static void ngx_http_7digital_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_7digital_redis_retry(ngx_event_t *ev);
static void ngx_http_7digital_redis_probe(ngx_event_t *ev);
static void ngx_http_7digital_redis_probe_reply(void *data, void *reply);
static void ngx_http_7digital_redis_fail(ngx_http_7digital_redis_t *rd,
    const char *why);
static ngx_int_t ngx_http_7digital_redis_send(ngx_http_7digital_redis_t *rd,
    ngx_http_7digital_redis_op_t **opp, ngx_http_7digital_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
static void ngx_http_7digital_redis_read(ngx_event_t *ev);
static void ngx_http_7digital_redis_write(ngx_event_t *ev);
static void ngx_http_7digital_redis_add_read(void *privdata);
static void ngx_http_7digital_redis_del_read(void *privdata);
static void ngx_http_7digital_redis_add_write(void *privdata);
static void ngx_http_7digital_redis_del_write(void *privdata);
static void ngx_http_7digital_redis_cleanup(void *privdata);


static ngx_http_7digital_redis_t *ngx_http_7digital_redis_target(
    ngx_uint_t target);


static ngx_http_7digital_redis_t  ngx_http_7digital_redis[2];


/*
 * Replies are built by functions of our own (hiredis's public
 * redisReplyObjectFunctions), so that a reply a request keeps (a cache
 * hit's body, sent without a copy) is owned by that request: hiredis's
 * free after the callback leaves it alone, and the request frees it.
 */

typedef struct {
    redisReply                      reply;
    redisReply                     *parent;
    size_t                          index;
} ngx_http_7digital_reply_t;


#if (HIREDIS_MAJOR >= 1)
typedef size_t  ngx_http_7digital_elements_t;
#else
typedef int     ngx_http_7digital_elements_t;
#endif


static void *ngx_http_7digital_reply_create(const redisReadTask *task,
    int type);
static void *ngx_http_7digital_reply_string(const redisReadTask *task,
    char *str, size_t len);
static void *ngx_http_7digital_reply_array(const redisReadTask *task,
    ngx_http_7digital_elements_t elements);
static void *ngx_http_7digital_reply_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_7digital_reply_nil(const redisReadTask *task);
static void ngx_http_7digital_reply_free(void *reply);


static redisReplyObjectFunctions  ngx_http_7digital_reply_functions = {
    .createString = ngx_http_7digital_reply_string,
    .createArray = ngx_http_7digital_reply_array,
    .createInteger = ngx_http_7digital_reply_integer,
    .createNil = ngx_http_7digital_reply_nil,
    .freeObject = ngx_http_7digital_reply_free
};


static void *
ngx_http_7digital_reply_create(const redisReadTask *task, int type)
{
    redisReply                 *parent;
    ngx_http_7digital_reply_t  *r;

    r = ngx_calloc(sizeof(ngx_http_7digital_reply_t), ngx_cycle->log);
    if (r == NULL) {
        return NULL;
    }

    r->reply.type = type;

    if (task->parent) {
        parent = task->parent->obj;
        parent->element[task->idx] = &r->reply;
        r->parent = parent;
        r->index = task->idx;
    }

    return r;
}


static void *
ngx_http_7digital_reply_string(const redisReadTask *task, char *str,
    size_t len)
{
    char                       *buf;
    ngx_http_7digital_reply_t  *r;

    buf = ngx_alloc(len + 1, ngx_cycle->log);
    if (buf == NULL) {
        return NULL;
    }

    r = ngx_http_7digital_reply_create(task, task->type);
    if (r == NULL) {
        ngx_free(buf);
        return NULL;
    }

    ngx_memcpy(buf, str, len);
    buf[len] = '\0';

    r->reply.str = buf;
    r->reply.len = len;

    return r;
}


static void *
ngx_http_7digital_reply_array(const redisReadTask *task,
    ngx_http_7digital_elements_t elements)
{
    redisReply                **el;
    ngx_http_7digital_reply_t  *r;

    el = NULL;

    if (elements > 0) {
        el = ngx_calloc(elements * sizeof(redisReply *), ngx_cycle->log);
        if (el == NULL) {
            return NULL;
        }
    }

    r = ngx_http_7digital_reply_create(task, REDIS_REPLY_ARRAY);
    if (r == NULL) {
        if (el) {
            ngx_free(el);
        }

        return NULL;
    }

    r->reply.element = el;
    r->reply.elements = elements;

    return r;
}


static void *
ngx_http_7digital_reply_integer(const redisReadTask *task, long long value)
{
    ngx_http_7digital_reply_t  *r;

    r = ngx_http_7digital_reply_create(task, REDIS_REPLY_INTEGER);
    if (r) {
        r->reply.integer = value;
    }

    return r;
}


static void *
ngx_http_7digital_reply_nil(const redisReadTask *task)
{
    return ngx_http_7digital_reply_create(task, REDIS_REPLY_NIL);
}


/* hiredis's free of a reply: whatever a request kept stays */

static void
ngx_http_7digital_reply_free(void *reply)
{
    size_t                      i;
    ngx_http_7digital_reply_t  *r = reply;

    if (r == NULL) {
        return;
    }

    if (r->reply.type == REDIS_REPLY_ARRAY && r->reply.element) {
        for (i = 0; i < r->reply.elements; i++) {
            ngx_http_7digital_reply_free(r->reply.element[i]);
        }

        ngx_free(r->reply.element);
    }

    if (r->reply.str) {
        ngx_free(r->reply.str);
    }

    ngx_free(r);
}


/*
 * A reply handler keeps an element of a reply past its callback: it is
 * taken out of its array, which hiredis frees without it (even while the
 * request that keeps it ends inside the callback), and it is freed by
 * ngx_http_7digital_redis_release(), for example from a pool cleanup.
 */

void
ngx_http_7digital_redis_keep(void *reply)
{
    ngx_http_7digital_reply_t  *r = reply;

    if (r->parent) {
        r->parent->element[r->index] = NULL;
        r->parent = NULL;
    }
}


void
ngx_http_7digital_redis_release(void *reply)
{
    ngx_http_7digital_reply_free(reply);
}


/*
 * Called at worker start, which connects at once: a cold worker's first
 * request then finds the connection ready (or known to be down) instead
 * of paying for the connect within its command timeout.  Timers are
 * cancelable, so that a graceful shutdown never waits for a reconnection.
 */

ngx_int_t
ngx_http_7digital_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_7digital_redis_conf_t *conf, ngx_uint_t target)
{
    ngx_http_7digital_redis_t  *rd;

    rd = &ngx_http_7digital_redis[target];
    ngx_memzero(rd, sizeof(ngx_http_7digital_redis_t));

    rd->name = (target == NGX_HTTP_7DIGITAL_REDIS_CACHE) ? "cache redis"
                                                         : "redis";
    rd->conf = conf;
    rd->target = target;
    rd->backoff = NGX_HTTP_7DIGITAL_REDIS_BACKOFF_MIN;

    rd->connect_timer.handler = ngx_http_7digital_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    rd->retry_timer.handler = ngx_http_7digital_redis_retry;
    rd->retry_timer.data = rd;
    rd->retry_timer.log = cycle->log;
    rd->retry_timer.cancelable = 1;

    rd->probe_timer.handler = ngx_http_7digital_redis_probe;
    rd->probe_timer.data = rd;
    rd->probe_timer.log = cycle->log;
    rd->probe_timer.cancelable = 1;

    /* a failure is logged and retried on the backoff timer */
    (void) ngx_http_7digital_redis_connect(rd);

    return NGX_OK;
}


void
ngx_http_7digital_redis_exit_worker(void)
{
    ngx_uint_t                  i;
    ngx_http_7digital_redis_t  *rd;

    for (i = 0; i < 2; i++) {
        rd = &ngx_http_7digital_redis[i];

        if (rd->conf == NULL) {
            continue;
        }

        if (rd->connect_timer.timer_set) {
            ngx_del_timer(&rd->connect_timer);
        }

        if (rd->retry_timer.timer_set) {
            ngx_del_timer(&rd->retry_timer);
        }

        if (rd->probe_timer.timer_set) {
            ngx_del_timer(&rd->probe_timer);
        }

        rd->closing = 1;

        if (rd->ac) {
            /* pending callbacks run with no reply; cleanup releases the fd */
            redisAsyncFree(rd->ac);
        }

        rd->conf = NULL;
    }
}


/* the cache's Redis is the state's unless configured apart */

static ngx_http_7digital_redis_t *
ngx_http_7digital_redis_target(ngx_uint_t target)
{
    if (target == NGX_HTTP_7DIGITAL_REDIS_CACHE
        && ngx_http_7digital_redis[target].conf != NULL)
    {
        return &ngx_http_7digital_redis[target];
    }

    return &ngx_http_7digital_redis[NGX_HTTP_7DIGITAL_REDIS_STATE];
}


/*
 * Sends one command.  NGX_OK: the handler will be called exactly once,
 * with the reply or with NULL (error, timeout, lost connection), unless
 * the op is cancelled first; *opp is the handle to cancel it with, and is
 * set to NULL just before the handler runs, so that a caller never keeps
 * a handle to an op that is gone.  NGX_DECLINED: Redis is unavailable now
 * and the handler will not be called.  Without opp, nothing can cancel the
 * op (a write nobody waits for).  Commands sent in one pass of the
 * event loop leave in one write: they cost one round trip together.
 */

ngx_int_t
ngx_http_7digital_redis_command(ngx_uint_t target,
    ngx_http_7digital_redis_op_t **opp, ngx_http_7digital_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    ngx_http_7digital_redis_t  *rd;

    rd = ngx_http_7digital_redis_target(target);

    if (opp) {
        *opp = NULL;
    }

    if (rd->conf == NULL || rd->closing) {
        return NGX_DECLINED;
    }

    /* an incident: nobody waits until a probe has had a reply */
    if (rd->failing
        || (rd->state == NGX_HTTP_7DIGITAL_REDIS_DOWN
            && ngx_http_7digital_redis_connect(rd) != NGX_OK)
        || ngx_http_7digital_redis_send(rd, opp, handler, data, argc, argv,
                                        argvlen)
           != NGX_OK)
    {
        ngx_http_7digital_metrics_redis(rd->target,
                                        NGX_HTTP_7DIGITAL_METRIC_SKIPPED);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* whether an exiting worker is closing its connection: nothing goes on */

ngx_uint_t
ngx_http_7digital_redis_exiting(void)
{
    return ngx_http_7digital_redis[NGX_HTTP_7DIGITAL_REDIS_STATE].closing
           || ngx_http_7digital_redis[NGX_HTTP_7DIGITAL_REDIS_CACHE].closing;
}


static ngx_int_t
ngx_http_7digital_redis_send(ngx_http_7digital_redis_t *rd,
    ngx_http_7digital_redis_op_t **opp, ngx_http_7digital_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    ngx_http_7digital_redis_op_t  *op;

    op = ngx_calloc(sizeof(ngx_http_7digital_redis_op_t), ngx_cycle->log);
    if (op == NULL) {
        return NGX_DECLINED;
    }

    op->rd = rd;
    op->handler = handler;
    op->data = data;
    op->slot = opp;

    /* hiredis copies the command into its buffer: argv may be freed */
    if (redisAsyncCommandArgv(rd->ac, ngx_http_7digital_redis_reply, op, argc,
                              argv, argvlen)
        != REDIS_OK)
    {
        ngx_free(op);
        return NGX_DECLINED;
    }

    /*
     * Not cancelable: a gracefully exiting worker waits for the replies
     * its requests wait for (at most the timeout) instead of cutting them
     * off.
     */
    op->timer.handler = ngx_http_7digital_redis_op_timeout;
    op->timer.data = op;
    op->timer.log = ngx_cycle->log;

    ngx_add_timer(&op->timer, rd->conf->timeout);

    if (opp) {
        *opp = op;
    }

    op->sent = ngx_http_7digital_metrics_clock();
    ngx_http_7digital_metrics_redis(rd->target,
                                    NGX_HTTP_7DIGITAL_METRIC_COMMAND);

    return NGX_OK;
}


/* the caller goes away: its handler must never run */

void
ngx_http_7digital_redis_cancel(ngx_http_7digital_redis_op_t *op)
{
    if (op == NULL || op->done) {
        return;
    }

    op->done = 1;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }
}


ngx_uint_t
ngx_http_7digital_redis_configured(ngx_uint_t target)
{
    return ngx_http_7digital_redis_target(target)->conf != NULL;
}


static void
ngx_http_7digital_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_7digital_redis_op_t  *op = privdata;

    redisReply  *reply;

    reply = r;

    /* a late reply too: how slow Redis is, whoever still waits for it */
    if (reply) {
        ngx_http_7digital_metrics_redis_latency(op->rd->target, op->sent);
    }

    if (!op->done) {
        if ((reply == NULL && !op->rd->closing)
            || (reply && reply->type == REDIS_REPLY_ERROR))
        {
            ngx_http_7digital_metrics_redis(op->rd->target,
                                            NGX_HTTP_7DIGITAL_METRIC_ERROR);
        }

        op->done = 1;

        if (op->slot) {
            *op->slot = NULL;
        }

        if (op->timer.timer_set) {
            ngx_del_timer(&op->timer);
        }

        op->handler(op->data, reply);
    }

    /* a timed-out op lives until its reply, or the connection, ends */
    ngx_free(op);
}


/*
 * A slow Redis: the caller goes on without the reply, and from now on
 * nobody waits for Redis until a probe has had a reply.
 */

static void
ngx_http_7digital_redis_op_timeout(ngx_event_t *ev)
{
    ngx_http_7digital_redis_op_t  *op = ev->data;

    ngx_http_7digital_redis_t     *rd;

    rd = op->rd;
    op->done = 1;

    if (op->slot) {
        *op->slot = NULL;
    }

    ngx_http_7digital_metrics_redis(rd->target,
                                    NGX_HTTP_7DIGITAL_METRIC_TIMEOUT);

    if (!rd->failing && !rd->closing) {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                      "sevendigital: %s did not answer within %M ms, "
                      "going on without it", rd->name, rd->conf->timeout);
        ngx_http_7digital_redis_fail(rd, NULL);
    }

    op->handler(op->data, NULL);
}


/*
 * The start of an incident, logged once by the caller or here; probes
 * decide when it ends.  The connection is kept: a Redis that is only slow
 * answers the probe on it.
 */

static void
ngx_http_7digital_redis_fail(ngx_http_7digital_redis_t *rd, const char *why)
{
    if (!rd->failing && why) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sevendigital: %s unavailable (%s), "
                      "going on without it", rd->name, why);
    }

    rd->failing = 1;

    if (rd->state == NGX_HTTP_7DIGITAL_REDIS_READY && rd->probe == NULL
        && !rd->probe_timer.timer_set && !rd->closing)
    {
        ngx_add_timer(&rd->probe_timer, rd->backoff);
    }
}


/* one probe at a time, on a connection that is up */

static void
ngx_http_7digital_redis_probe(ngx_event_t *ev)
{
    ngx_http_7digital_redis_t *rd = ev->data;

    const char  *argv[1];
    size_t       argvlen[1];

    if (rd->probe || rd->state != NGX_HTTP_7DIGITAL_REDIS_READY
        || rd->closing)
    {
        return;
    }

    argv[0] = "PING";
    argvlen[0] = 4;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "sevendigital: redis probe");

    if (ngx_http_7digital_redis_send(rd, &rd->probe,
                                     ngx_http_7digital_redis_probe_reply, rd,
                                     1, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_7digital_redis_down(rd, "cannot send a probe");
    }
}


/*
 * A reply ends the incident.  No reply in time: the connection may be to
 * a Redis that is stopped (the kernel still accepts connections for it);
 * it is dropped and made again after a backoff, and probed again.
 */

static void
ngx_http_7digital_redis_probe_reply(void *data, void *reply)
{
    ngx_http_7digital_redis_t *rd = data;

    redisReply  *rep = reply;

    if (rd->closing) {
        return;
    }

    if (rep && rep->type != REDIS_REPLY_ERROR) {
        rd->failing = 0;
        rd->backoff = NGX_HTTP_7DIGITAL_REDIS_BACKOFF_MIN;
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "sevendigital: %s is reachable again", rd->name);
        return;
    }

    if (rd->ac) {
        ngx_http_7digital_redis_down(rd, "no answer to a probe");
        redisAsyncFree(rd->ac);
    }
}


static ngx_int_t
ngx_http_7digital_redis_connect(ngx_http_7digital_redis_t *rd)
{
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_http_7digital_redis_conf_t  *conf;

    conf = rd->conf;

    if (conf->unix_path.len) {
        ac = redisAsyncConnectUnix((const char *) conf->unix_path.data);

    } else {
        ac = redisAsyncConnect((const char *) conf->host.data, conf->port);
    }

    if (ac == NULL) {
        ngx_http_7digital_redis_down(rd, "cannot allocate a connection");
        return NGX_ERROR;
    }

    if (ac->err) {
        redisAsyncFree(ac);
        ngx_http_7digital_redis_down(rd, "connect() failed");
        return NGX_ERROR;
    }

    ac->c.reader->fn = &ngx_http_7digital_reply_functions;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_7digital_redis_down(rd, "no free worker connection");
        return NGX_ERROR;
    }

    c->data = rd;
    c->read->handler = ngx_http_7digital_redis_read;
    c->write->handler = ngx_http_7digital_redis_write;
    c->read->log = c->log;
    c->write->log = c->log;

    rd->ac = ac;
    rd->c = c;
    rd->state = NGX_HTTP_7DIGITAL_REDIS_CONNECTING;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_7digital_redis_add_read;
    ac->ev.delRead = ngx_http_7digital_redis_del_read;
    ac->ev.addWrite = ngx_http_7digital_redis_add_write;
    ac->ev.delWrite = ngx_http_7digital_redis_del_write;
    ac->ev.cleanup = ngx_http_7digital_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_7digital_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_7digital_redis_on_disconnect);

    /* queued ahead of every command: they are sent once connected */
    if (conf->password.len) {
        redisAsyncCommand(ac, ngx_http_7digital_redis_setup_reply, NULL,
                          "AUTH %b", conf->password.data,
                          conf->password.len);
    }

    if (conf->db) {
        redisAsyncCommand(ac, ngx_http_7digital_redis_setup_reply, NULL,
                          "SELECT %d", (int) conf->db);
    }

    ngx_add_timer(&rd->connect_timer, conf->connect_timeout);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "sevendigital: redis connecting");

    return NGX_OK;
}


static void
ngx_http_7digital_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_7digital_redis_t  *rd = ac->data;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_http_7digital_redis_down(rd, ac->errstr);
        return;
    }

    rd->state = NGX_HTTP_7DIGITAL_REDIS_READY;

    if (rd->connected) {
        ngx_http_7digital_metrics_redis(rd->target,
                                        NGX_HTTP_7DIGITAL_METRIC_RECONNECT);
    }

    rd->connected = 1;

    /* connected is not answering: during an incident, a probe decides */
    if (rd->failing) {
        ngx_http_7digital_redis_probe(&rd->probe_timer);
    }
}


static void
ngx_http_7digital_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_7digital_redis_t  *rd = ac->data;

    ngx_http_7digital_redis_down(rd, status == REDIS_OK ? "disconnected"
                                                        : ac->errstr);
}


/* AUTH and SELECT: a refusal makes the connection useless */

static void
ngx_http_7digital_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply  *reply = r;

    if (reply && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "sevendigital: redis refused the connection setup: %s",
                      reply->str);
        redisAsyncDisconnect(ac);
    }
}


/*
 * Logged once per incident, not per request; commands fail at once until
 * the next attempt, which waits longer after each failure.
 */

static void
ngx_http_7digital_redis_down(ngx_http_7digital_redis_t *rd, const char *why)
{
    rd->state = NGX_HTTP_7DIGITAL_REDIS_DOWN;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->probe_timer.timer_set) {
        ngx_del_timer(&rd->probe_timer);
    }

    if (rd->closing) {
        return;
    }

    ngx_http_7digital_redis_fail(rd, why ? why : "unknown error");

    if (!rd->retry_timer.timer_set && !ngx_exiting && !ngx_terminate
        && !ngx_quit)
    {
        ngx_add_timer(&rd->retry_timer, rd->backoff);
        rd->backoff = ngx_min(rd->backoff * 2,
                              NGX_HTTP_7DIGITAL_REDIS_BACKOFF_MAX);
    }
}


static void
ngx_http_7digital_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_7digital_redis_t  *rd = ev->data;

    if (rd->ac == NULL) {
        return;
    }

    ngx_http_7digital_redis_down(rd, "connection timed out");

    /* every queued command is answered with no reply */
    redisAsyncFree(rd->ac);
}


static void
ngx_http_7digital_redis_retry(ngx_event_t *ev)
{
    ngx_http_7digital_redis_t  *rd = ev->data;

    if (rd->state != NGX_HTTP_7DIGITAL_REDIS_DOWN || rd->closing) {
        return;
    }

    /* a connection given up while still open (a probe not sent) */
    if (rd->ac) {
        redisAsyncFree(rd->ac);
    }

    if (rd->ac == NULL) {
        (void) ngx_http_7digital_redis_connect(rd);
    }
}


/*
 * hiredis reads at most 16 KB per call; with edge-triggered events no new
 * event comes for bytes already waiting, so read until the socket is dry.
 * The context may be freed inside a call: it is then NULL in rd.
 */

static void
ngx_http_7digital_redis_read(ngx_event_t *ev)
{
    int                         n;
    ngx_socket_t                fd;
    ngx_connection_t           *c;
    ngx_http_7digital_redis_t  *rd;

    c = ev->data;
    rd = c->data;
    fd = c->fd;

    for ( ;; ) {
        redisAsyncHandleRead(rd->ac);

        if (rd->ac == NULL || rd->c == NULL || rd->c->fd != fd) {
            return;
        }

        n = 0;

        if (ioctl(fd, FIONREAD, &n) == -1 || n <= 0) {
            return;
        }
    }
}


static void
ngx_http_7digital_redis_write(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_http_7digital_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleWrite(rd->ac);
    }
}


static void
ngx_http_7digital_redis_add_read(void *privdata)
{
    ngx_http_7digital_redis_t  *rd = privdata;

    if (rd->c && !rd->c->read->active) {
        (void) ngx_add_event(rd->c->read, NGX_READ_EVENT,
                             (ngx_event_flags & NGX_USE_CLEAR_EVENT)
                             ? NGX_CLEAR_EVENT : NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_7digital_redis_del_read(void *privdata)
{
    ngx_http_7digital_redis_t  *rd = privdata;

    if (rd->c && rd->c->read->active) {
        (void) ngx_del_event(rd->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_7digital_redis_add_write(void *privdata)
{
    ngx_http_7digital_redis_t  *rd = privdata;

    if (rd->c && !rd->c->write->active) {
        (void) ngx_add_event(rd->c->write, NGX_WRITE_EVENT,
                             (ngx_event_flags & NGX_USE_CLEAR_EVENT)
                             ? NGX_CLEAR_EVENT : NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_7digital_redis_del_write(void *privdata)
{
    ngx_http_7digital_redis_t  *rd = privdata;

    if (rd->c && rd->c->write->active) {
        (void) ngx_del_event(rd->c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis is about to close the socket and free the context: release the
 * nginx side without closing the descriptor a second time.
 */

static void
ngx_http_7digital_redis_cleanup(void *privdata)
{
    ngx_connection_t           *c;
    ngx_http_7digital_redis_t  *rd = privdata;

    c = rd->c;

    if (c) {
        /* NGX_CLOSE_EVENT: the descriptor is closed next, no syscall */
        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
    }

    rd->c = NULL;
    rd->ac = NULL;

    if (rd->state != NGX_HTTP_7DIGITAL_REDIS_DOWN) {
        ngx_http_7digital_redis_down(rd, "connection closed");
    }
}
