
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The purchase audit trail: an intent record on disk before a sale goes
 * upstream (or no sale), an outcome record when the request ends, a
 * record of each refused attempt.  One write() per record on an O_APPEND
 * file, so that workers never interleave; optionally a copy in a Redis
 * stream, which never holds up or fails a sale.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


/* enough of an answer to find the sale's id in */
#define NGX_HTTP_7DIGITAL_AUDIT_BODY_MAX  65536


static ngx_int_t ngx_http_7digital_audit_write(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_record_t *rec);
static ngx_int_t ngx_http_7digital_audit_record(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf,
    char *type, ngx_http_7digital_record_t *rec);
static void ngx_http_7digital_audit_result(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_record_t *rec);
static void ngx_http_7digital_audit_streamed(void *data, void *reply);
#if (NGX_THREADS)
static void ngx_http_7digital_audit_sync_thread(void *data, ngx_log_t *log);
static void ngx_http_7digital_audit_synced(ngx_event_t *ev);
static void ngx_http_7digital_audit_hold(ngx_event_t *ev);
#endif
static ngx_int_t ngx_http_7digital_audit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_audit_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


static ngx_str_t  ngx_http_7digital_request_id = ngx_string("request_id");


#if (NGX_THREADS)

typedef struct {
    ngx_fd_t                  fd;          /* a dup(): safe from a reopen */
    ngx_err_t                 err;
    ngx_http_request_t       *request;
    ngx_event_t               hold;        /* keeps an exiting worker */
} ngx_http_7digital_audit_sync_t;

#endif


ngx_int_t
ngx_http_7digital_audit_init(ngx_conf_t *cf)
{
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_7digital_module);

    mcf->request_id = ngx_http_get_variable_index(cf,
                                               &ngx_http_7digital_request_id);
    if (mcf->request_id == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_7digital_audit_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_7digital_audit_body_filter;

    return NGX_OK;
}


/* sevendigital_audit_log file | off */

char *
ngx_http_7digital_audit_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->audit_file != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->audit_file = NULL;
        return NGX_CONF_OK;
    }

    if (value[1].len == 0) {
        return "has an empty file name";
    }

    /* opened by nginx with O_APPEND, and reopened on SIGUSR1 */
    lcf->audit_file = ngx_conf_open_file(cf->cycle, &value[1]);
    if (lcf->audit_file == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * By default a gateway writes its trail beside nginx's access log; and
 * where nginx would send a sale to a second upstream server after the
 * first failed, nginx -t says so.
 */

char *
ngx_http_7digital_audit_merge(ngx_conf_t *cf,
    ngx_http_7digital_loc_conf_t *prev, ngx_http_7digital_loc_conf_t *conf)
{
    u_char                     *p;
    ngx_str_t                   name;
    ngx_uint_t                  i;
    ngx_module_t               *m;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_upstream_conf_t   *ucf;
    ngx_http_core_loc_conf_t   *clcf;

    ngx_conf_merge_ptr_value(conf->audit_file, prev->audit_file,
                             NGX_CONF_UNSET_PTR);
    ngx_conf_merge_value(conf->audit_personal_data,
                         prev->audit_personal_data, 0);
    ngx_conf_merge_str_value(conf->audit_stream, prev->audit_stream, "");
    ngx_conf_merge_uint_value(conf->audit_stream_maxlen,
                              prev->audit_stream_maxlen, 1000000);
    ngx_conf_merge_value(conf->audit_sync, prev->audit_sync, 0);

    if (conf->audit_sync) {
#if (NGX_THREADS)
        /* the fsync runs in nginx's thread pool, never on the event loop */
        conf->audit_pool = ngx_thread_pool_add(cf, NULL);
        if (conf->audit_pool == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_audit_sync on\" requires nginx "
                           "built with threads (--with-threads)");
        return NGX_CONF_ERROR;
#endif
    }

    /* left unset where the gateway is off: its locations may turn it on */
    if (conf->api == NGX_HTTP_7DIGITAL_OFF) {
        return NGX_CONF_OK;
    }

    if (conf->audit_file == NGX_CONF_UNSET_PTR) {
        ngx_str_set(&name, NGX_HTTP_LOG_PATH);

        p = name.data + name.len;
        while (p > name.data && p[-1] != '/') {
            p--;
        }

        name.len = p - name.data + sizeof("sevendigital-audit.log") - 1;
        name.data = ngx_pnalloc(cf->pool, name.len + 1);
        if (name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(name.data, "%*ssevendigital-audit.log%Z",
                    (size_t) (p - (u_char *) NGX_HTTP_LOG_PATH),
                    NGX_HTTP_LOG_PATH);

        conf->audit_file = ngx_conf_open_file(cf->cycle, &name);
        if (conf->audit_file == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == NULL) {
        return NGX_CONF_OK;
    }

    /* the proxy module's location conf starts with its upstream conf */
    for (i = 0; cf->cycle->modules[i]; i++) {
        m = cf->cycle->modules[i];

        if (ngx_strcmp(m->name, "ngx_http_proxy_module") != 0) {
            continue;
        }

        ctx = cf->ctx;
        ucf = ctx->loc_conf[m->ctx_index];

        if (ucf && (ucf->next_upstream & (NGX_HTTP_UPSTREAM_FT_ERROR
                                          |NGX_HTTP_UPSTREAM_FT_TIMEOUT
                                          |NGX_HTTP_UPSTREAM_FT_INVALID_HEADER
                                          |NGX_HTTP_UPSTREAM_FT_STATUS)))
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"sevendigital_gateway\" location \"%V\" "
                               "uses \"proxy_next_upstream\" (by default "
                               "error and timeout): a purchase whose "
                               "upstream fails after reading it would be "
                               "sent again to the next server; add "
                               "\"proxy_next_upstream off;\"",
                               &clcf->name);
        }

        break;
    }

    return NGX_CONF_OK;
}


/*
 * The intent: on disk before a byte of the sale goes upstream.  NGX_OK
 * when written, or when the request is no sale or the trail is off;
 * NGX_ERROR when it cannot be written, and then the sale must not happen.
 */

ngx_int_t
ngx_http_7digital_audit_intent(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_7digital_record_t  rec;

    if (ctx->route.class != NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        || lcf->audit_file == NULL || lcf->audit_file == NGX_CONF_UNSET_PTR
        || ctx->audited)
    {
        return NGX_OK;
    }

    if (ngx_http_7digital_audit_record(r, ctx, lcf, "intent", &rec)
        != NGX_OK
        || ngx_http_7digital_audit_write(r, lcf, &rec) != NGX_OK)
    {
        ngx_http_7digital_metrics_record(NGX_HTTP_7DIGITAL_METRIC_INTENT, 0);
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "sevendigital: a sale by partner \"%V\" was refused, "
                      "its audit record could not be written",
                      &ctx->partner->id);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: intent of \"%V\" recorded",
                   &ctx->route.endpoint->pattern);

    ctx->audited = 1;
    ctx->audit_conf = lcf;
    ctx->audit_in_flight = 1;

    ngx_http_7digital_metrics_record(NGX_HTTP_7DIGITAL_METRIC_INTENT, 1);
    ngx_http_7digital_metrics_sales(1);

    return NGX_OK;
}


/*
 * With sevendigital_audit_sync on, the intent is on disk, not only in the
 * page cache, before the sale leaves: fdatasync() runs in the thread pool
 * while the request waits.  NGX_OK: go on (or nothing to wait for);
 * NGX_AGAIN: waiting, the phases run again when it is done; NGX_ERROR:
 * the intent is not durable and the sale must not happen.
 */

ngx_int_t
ngx_http_7digital_audit_sync(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
#if (NGX_THREADS)
    ngx_thread_task_t               *task;
    ngx_http_7digital_audit_sync_t  *sync;

    if (!ctx->audited || !lcf->audit_sync) {
        return NGX_OK;
    }

    if (ctx->audit_syncing) {
        /* a write event before the thread is done is not the end of it */
        if (!ctx->audit_synced) {
            return NGX_AGAIN;
        }

        /* a client gone while the disk was busy: the sale is not sent */
        return (ctx->audit_sync_failed || r->connection->error) ? NGX_ERROR
                                                                 : NGX_OK;
    }

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_7digital_audit_sync_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    sync = task->ctx;
    sync->request = r;

    /* the thread syncs the file the intent went to, whatever a reopen does */
    sync->fd = dup(lcf->audit_file->fd);
    if (sync->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      "sevendigital: dup() of the audit trail failed");
        return NGX_ERROR;
    }

    task->handler = ngx_http_7digital_audit_sync_thread;
    task->event.data = sync;
    task->event.handler = ngx_http_7digital_audit_synced;

    if (ngx_thread_task_post(lcf->audit_pool, task) != NGX_OK) {
        (void) close(sync->fd);
        return NGX_ERROR;
    }

    /*
     * A worker that is exiting waits for its timers only: this one holds
     * it until the sale is synced and answered.
     */
    sync->hold.handler = ngx_http_7digital_audit_hold;
    sync->hold.data = sync;
    sync->hold.log = r->connection->log;
    sync->hold.cancelable = 0;
    ngx_add_timer(&sync->hold, 1000);

    /* a blocked request is not freed under the thread, as with aio */
    r->main->blocked++;
    r->aio = 1;
    r->write_event_handler = ngx_http_request_empty_handler;
    ctx->audit_syncing = 1;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: waiting for the intent to reach the disk");

    return NGX_AGAIN;
#else
    return NGX_OK;
#endif
}


#if (NGX_THREADS)

static void
ngx_http_7digital_audit_sync_thread(void *data, ngx_log_t *log)
{
    ngx_http_7digital_audit_sync_t *sync = data;

    sync->err = (fdatasync(sync->fd) == -1) ? ngx_errno : 0;

    (void) close(sync->fd);
}


static void
ngx_http_7digital_audit_hold(ngx_event_t *ev)
{
    ngx_add_timer(ev, 1000);
}


static void
ngx_http_7digital_audit_synced(ngx_event_t *ev)
{
    ngx_http_7digital_audit_sync_t *sync = ev->data;

    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_http_7digital_ctx_t  *ctx;

    r = sync->request;
    c = r->connection;

    if (sync->hold.timer_set) {
        ngx_del_timer(&sync->hold);
    }

    r->main->blocked--;
    r->aio = 0;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx) {
        ctx->audit_synced = 1;
        ctx->audit_sync_failed = (sync->err != 0);
    }

    if (sync->err) {
        ngx_log_error(NGX_LOG_CRIT, c->log, sync->err,
                      "sevendigital: fdatasync() of the audit trail failed");
    }

    /* unless the request was terminated meanwhile, its phases go on */
    if (r->write_event_handler == ngx_http_request_empty_handler) {
        r->write_event_handler = ngx_http_core_run_phases;
    }

    r->write_event_handler(r);

    ngx_http_run_posted_requests(c);
}

#endif


/* a sale the gateway refused: who tried, and why */

void
ngx_http_7digital_audit_refused(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t status, ngx_str_t *reason)
{
    ngx_uint_t                  written;
    ngx_http_7digital_record_t  rec;

    if (ctx->route.endpoint == NULL
        || ctx->route.class != NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        || lcf->audit_file == NULL || lcf->audit_file == NGX_CONF_UNSET_PTR)
    {
        return;
    }

    if (ngx_http_7digital_audit_record(r, ctx, lcf, "refused", &rec)
        == NGX_OK)
    {
        rec.status = status;
        rec.reason = *reason;

        written = (ngx_http_7digital_audit_write(r, lcf, &rec) == NGX_OK);

    } else {
        written = 0;
    }

    ngx_http_7digital_metrics_record(NGX_HTTP_7DIGITAL_METRIC_REFUSED,
                                     written);
}


/* the outcome, when the request is over: what the upstream said, or why
 * nothing is known */

void
ngx_http_7digital_audit_outcome(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_7digital_record_t     rec;
    ngx_http_7digital_loc_conf_t  *lcf;

    if (!ctx->audited || ctx->audit_done) {
        return;
    }

    ctx->audit_done = 1;

    /* an idempotent replay has an outcome and no intent */
    if (ctx->audit_in_flight) {
        ctx->audit_in_flight = 0;
        ngx_http_7digital_metrics_sales(-1);
    }

    /* the location whose trail holds the intent */
    lcf = ctx->audit_conf;

    if (ngx_http_7digital_audit_record(r, ctx, lcf, "outcome", &rec)
        == NGX_OK)
    {
        ngx_http_7digital_audit_result(r, ctx, &rec);

        if (ngx_http_7digital_audit_write(r, lcf, &rec) == NGX_OK) {
            ngx_http_7digital_metrics_record(NGX_HTTP_7DIGITAL_METRIC_OUTCOME,
                                             1);
            return;
        }
    }

    ngx_http_7digital_metrics_record(NGX_HTTP_7DIGITAL_METRIC_OUTCOME, 0);

    ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                  "sevendigital: the outcome of a sale by partner "
                  "\"%V\" could not be written, the sale is in doubt",
                  &ctx->partner->id);
}


static void
ngx_http_7digital_audit_result(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_record_t *rec)
{
    u_char          *p;
    ngx_str_t        body;
    ngx_int_t        status;
    ngx_uint_t       sent, tries;
    ngx_msec_int_t   ms;
    ngx_time_t      *tp;

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));

    rec->outcome = 1;
    rec->status = r->headers_out.status ? (ngx_int_t) r->headers_out.status
                                        : (r->connection->error ? 499 : 0);
    rec->duration_ms = ngx_max(ms, 0);

    if (ctx->idem_replayed) {
        rec->replay = 1;
        ngx_str_set(&rec->reason, "answered from the idempotency store");

        if (ctx->idem_status >= 200 && ctx->idem_status < 300) {
            ngx_str_set(&rec->result, "completed");

        } else {
            ngx_str_set(&rec->result, "failed");
        }

        return;
    }

    ngx_http_7digital_upstream_outcome(r, &sent, &status, &tries);

    rec->sent = sent;
    rec->upstream_status = status ? status : -1;

    if (tries > 1) {
        p = ngx_pnalloc(r->pool, 64);
        if (p) {
            rec->reason.data = p;
            rec->reason.len = ngx_sprintf(p, "sent to %ui upstream servers",
                                          tries)
                              - p;
        }

        ngx_str_set(&rec->result, "in_doubt");
        return;
    }

    if (rec->upstream_status >= 200 && rec->upstream_status < 300) {

        if (!ctx->route.endpoint->id) {
            ngx_str_set(&rec->result, "completed");
            return;
        }

        if (ctx->audit_body) {
            body.data = ctx->audit_body->pos;
            body.len = ctx->audit_body->last - ctx->audit_body->pos;

            if (ngx_http_7digital_record_find_id(ctx->api, &body,
                                                 &rec->purchase_id)
                == NGX_OK)
            {
                ngx_str_set(&rec->result, "completed");
                return;
            }
        }

        ngx_str_set(&rec->result, "in_doubt");
        ngx_str_set(&rec->reason, "no purchase id in the answer");
        return;
    }

    /* refused by the upstream: no sale; anything else may have been one */
    if (rec->upstream_status > 0) {
        if (rec->upstream_status >= 400 && rec->upstream_status < 500) {
            ngx_str_set(&rec->result, "failed");

        } else {
            ngx_str_set(&rec->result, "in_doubt");
        }

        p = ngx_pnalloc(r->pool, 32);
        if (p) {
            rec->reason.data = p;
            rec->reason.len = ngx_sprintf(p, "upstream answered %i",
                                          rec->upstream_status) - p;
        }

        return;
    }

    if (!rec->sent) {
        ngx_str_set(&rec->result, "failed");

        /*
         * A connection tried is the upstream's failure; none tried, the
         * client's: its body never came whole
         */
        if (r->upstream && r->upstream_states && r->upstream_states->nelts) {
            ngx_str_set(&rec->reason,
                        "upstream unreachable, nothing was sent");

        } else if (r->connection->timedout) {
            ngx_str_set(&rec->reason,
                        "client timed out before the request was sent");

        } else if (r->connection->error) {
            ngx_str_set(&rec->reason, "client closed the connection before "
                        "the request was sent");

        } else if (r->upstream) {
            ngx_str_set(&rec->reason,
                        "upstream unreachable, nothing was sent");

        } else {
            ngx_str_set(&rec->reason, "not sent upstream");
        }

        return;
    }

    ngx_str_set(&rec->result, "in_doubt");

    if (rec->status == NGX_HTTP_GATEWAY_TIME_OUT) {
        ngx_str_set(&rec->reason,
                    "upstream timed out after the request was sent");

    } else if (rec->status == NGX_HTTP_CLIENT_CLOSED_REQUEST
               || r->connection->error)
    {
        ngx_str_set(&rec->reason,
                    "client closed the connection before the upstream "
                    "answered");

    } else {
        ngx_str_set(&rec->reason,
                    "upstream closed the connection after the request was "
                    "sent");
    }
}


/* what every record of a request shares */

static ngx_int_t
ngx_http_7digital_audit_record(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf,
    char *type, ngx_http_7digital_record_t *rec)
{
    u_char                     *p;
    ngx_tm_t                    tm;
    ngx_time_t                     *tp;
    ngx_http_variable_value_t      *id;
    ngx_http_7digital_main_conf_t  *mcf;

    ngx_memzero(rec, sizeof(ngx_http_7digital_record_t));

    rec->status = -1;
    rec->upstream_status = -1;
    rec->duration_ms = -1;

    rec->type.data = (u_char *) type;
    rec->type.len = ngx_strlen(type);

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    p = ngx_pnalloc(r->pool, sizeof("2000-01-01T00:00:00.000Z") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    rec->time.data = p;
    rec->time.len = ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                                tm.ngx_tm_year, tm.ngx_tm_mon,
                                tm.ngx_tm_mday, tm.ngx_tm_hour,
                                tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec)
                    - p;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    /* indexed, so that every record and the access log share one value */
    id = ngx_http_get_indexed_variable(r, mcf->request_id);

    if (id && !id->not_found) {
        rec->id.data = id->data;
        rec->id.len = id->len;
    }

    rec->node = ngx_cycle->hostname;

    /* a key is a claim; only a partner that passed its checks is named */
    if (ctx->partner && ctx->auth == NGX_HTTP_7DIGITAL_AUTH_OK) {
        rec->partner = ctx->partner->id;

    } else if (ctx->partner) {
        rec->claimed_partner = ctx->partner->id;
    }

    rec->api = *ngx_http_7digital_api_name(ctx->api);
    rec->method = r->method_name;
    rec->endpoint = ctx->route_name;
    rec->path = ctx->route_path;
    rec->client = r->connection->addr_text;
    rec->idempotency_key = ctx->idempotency_key;

    if (rec->type.data[0] == 'o') {
        return NGX_OK;
    }

    rec->fields = ngx_array_create(r->pool, 8,
                                   sizeof(ngx_http_7digital_param_t));
    if (rec->fields == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_record_fields(r->pool, ctx->api, &ctx->route,
                                        &ctx->in.query, &ctx->in.body,
                                        lcf->audit_personal_data,
                                        rec->fields)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_7digital_record_amount(ctx->api, rec->fields, &rec->amount,
                                    &rec->currency);

    return NGX_OK;
}


/* one write() of one whole line; a short write is a failure */

static ngx_int_t
ngx_http_7digital_audit_write(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_record_t *rec)
{
    ssize_t      n;
    ngx_str_t    line;
    const char  *argv[8];
    size_t       argvlen[8];
    u_char       maxlen[NGX_INT_T_LEN];

    if (ngx_http_7digital_record_encode(r->pool, rec, &line) != NGX_OK) {
        return NGX_ERROR;
    }

    if (lcf->audit_file->fd == NGX_INVALID_FILE) {
        return NGX_ERROR;
    }

    n = ngx_write_fd(lcf->audit_file->fd, line.data, line.len);

    if (n != (ssize_t) line.len) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log,
                      n == -1 ? ngx_errno : 0,
                      "sevendigital: audit record not written to \"%V\" "
                      "(%z of %uz bytes)", &lcf->audit_file->name, n,
                      line.len);
        return NGX_ERROR;
    }

    if (lcf->audit_stream.len == 0) {
        return NGX_OK;
    }

    /* the fleet's copy: sent, never waited for */
    argv[0] = "XADD";
    argvlen[0] = 4;
    argv[1] = (const char *) lcf->audit_stream.data;
    argvlen[1] = lcf->audit_stream.len;
    argv[2] = "MAXLEN";
    argvlen[2] = 6;
    argv[3] = "~";
    argvlen[3] = 1;
    argv[4] = (const char *) maxlen;
    argvlen[4] = ngx_sprintf(maxlen, "%ui", lcf->audit_stream_maxlen)
                 - maxlen;
    argv[5] = "*";
    argvlen[5] = 1;
    argv[6] = "record";
    argvlen[6] = 6;
    argv[7] = (const char *) line.data;
    argvlen[7] = line.len - 1;

    if (ngx_http_7digital_redis_command(NGX_HTTP_7DIGITAL_REDIS_STATE, NULL,
                                        ngx_http_7digital_audit_streamed, NULL,
                                        8, argv, argvlen)
        != NGX_OK)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: audit stream skipped, redis is "
                       "unavailable");
    }

    return NGX_OK;
}


static void
ngx_http_7digital_audit_streamed(void *data, void *reply)
{
    /* the file is the record of truth: a stream's failure changes nothing */
}


/* a sale's answer is read as it passes, for the id it carries */

static ngx_int_t
ngx_http_7digital_audit_header_filter(ngx_http_request_t *r)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_7digital_find_ctx(r);

    /* for the sale's id, and for an idempotency key's kept answer */
    if (ctx && r == r->main && r->upstream
        && ((ctx->audited && ctx->route.endpoint->id
             && r->headers_out.status >= 200
             && r->headers_out.status < 300)
            || ctx->idem == NGX_HTTP_7DIGITAL_IDEM_FIRST))
    {
        ctx->audit_capture = 1;
        r->filter_need_in_memory = 1;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_7digital_audit_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                 rc;
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_7digital_find_ctx(r);

    if (in && ctx && ctx->audit_capture && r == r->main) {
        rc = ngx_http_7digital_capture(r, &ctx->audit_body,
                                       NGX_HTTP_7DIGITAL_AUDIT_BODY_MAX, in);

        if (rc != NGX_AGAIN) {
            ctx->audit_capture = 0;
            ctx->audit_body_complete = (rc == NGX_OK);
        }
    }

    return ngx_http_next_body_filter(r, in);
}
