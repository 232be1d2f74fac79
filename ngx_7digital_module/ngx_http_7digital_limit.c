
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Rate limits.  A partner's limit for an endpoint class is counted in
 * Redis with GCRA, so that every node shares one budget, by a script
 * called with EVALSHA in the request's one batch (and sent again on
 * NOSCRIPT).  A node that sends a partner many requests takes a few at
 * once (a lease: at most an eighth of what is left, shared by the nodes,
 * twice what it let through since its last lease and one, and 64), lets
 * them through itself within the lease's time and gives back what it did
 * not use with its next request to Redis, so that a busy partner does not
 * cost Redis a script per request.  The node's own counters use the
 * monotonic clock.  When Redis cannot answer, each node counts in shared
 * memory its share of the limit (the limit divided by the number of
 * nodes), so that the fleet stays near the budget; that is logged once
 * per incident.  Refused credentials are limited per client address on
 * the node.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_LIMIT_INCIDENT   0x01

/* the two RateLimit fields but their policy names: quotes, names, numbers */
#define NGX_HTTP_7DIGITAL_LIMIT_FIELDS_LEN                                    \
    (2 * sizeof("\"\";q=;w=") + 4 * NGX_INT64_LEN)

/*
 * A lease: how many requests at most; and how long what Redis said was
 * left is remembered to size the next (microseconds).
 */
#define NGX_HTTP_7DIGITAL_LIMIT_LEASE_MAX  64
#define NGX_HTTP_7DIGITAL_LIMIT_HINT_TTL   60000000

/* the values of a lease's entry */
#define NGX_HTTP_7DIGITAL_LEASE_LEFT       0   /* not yet let through */
#define NGX_HTTP_7DIGITAL_LEASE_EXPIRES    1
#define NGX_HTTP_7DIGITAL_LEASE_REDIS_LEFT 2   /* what Redis said was left */
#define NGX_HTTP_7DIGITAL_LEASE_SERVED     3   /* since the last reply */

/* the node's own clock for its counters: monotonic, microseconds */
#define ngx_http_7digital_limit_now()  ((uint64_t) ngx_current_msec * 1000)


static ngx_int_t ngx_http_7digital_limit_leased(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_limit_lease(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_limit_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_uint_t eval);
static void ngx_http_7digital_limit_reply(ngx_http_request_t *r, void *data,
    void *reply);
static void ngx_http_7digital_limit_local(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, char *why);
static ngx_int_t ngx_http_7digital_limit_step(ngx_http_request_t *r,
    ngx_shm_zone_t *zone, ngx_str_t *key, ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_limit_incident(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, char *why);
static ngx_int_t ngx_http_7digital_limit_address(ngx_http_request_t *r,
    ngx_str_t *key);
static ngx_int_t ngx_http_7digital_limit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_limit_header(ngx_http_request_t *r,
    char *name, u_char *value, size_t len);


static u_char  ngx_http_7digital_limit_sha[2 * SHA_DIGEST_LENGTH];

static ngx_str_t  ngx_http_7digital_limit_refused_policy =
    ngx_string("refused");

static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


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


ngx_int_t
ngx_http_7digital_limit_filter_init(void)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_7digital_limit_header_filter;

    return NGX_OK;
}


/* sevendigital_rate_limit_zone name:size [nodes=number] [lease=time] */

char *
ngx_http_7digital_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    size_t       size;
    ngx_int_t    n;
    ngx_str_t   *value, name, s;
    ngx_uint_t   i;

    if (mcf->limit_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_7digital_zone_arg(cf, cmd, &value[1], &name, &size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "nodes=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n >= 1 && n <= 1000) {
                mcf->limit_nodes = n;
                continue;
            }

        } else if (ngx_strncmp(value[i].data, "lease=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            n = ngx_parse_time(&s, 0);

            if (n != NGX_ERROR && n <= 600000) {
                mcf->limit_lease = n;
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\", it must "
                           "be \"nodes=\" and a number from 1 to 1000, or "
                           "\"lease=\" and a time up to 10m",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    mcf->limit_zone = ngx_http_7digital_shtable_add(cf, &name, size);

    return mcf->limit_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* without sevendigital_rate_limit_zone: 1 MB for one node */

char *
ngx_http_7digital_limit_default_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf)
{
    ngx_str_t  name;

    ngx_conf_init_uint_value(mcf->limit_nodes, 1);
    ngx_conf_init_msec_value(mcf->limit_lease, 100);

    if (mcf->limit_zone) {
        return NGX_CONF_OK;
    }

    ngx_str_set(&name, "sevendigital_rate_limit");

    mcf->limit_zone = ngx_http_7digital_shtable_add(cf, &name, 1024 * 1024);

    return mcf->limit_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* NGX_OK: counted, in the batch, or nothing to count; NGX_ERROR */

ngx_int_t
ngx_http_7digital_limit_check(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    u_char                         *p;
    ngx_uint_t                      c;
    ngx_str_t                      *policy;
    ngx_http_7digital_limit_t      *limit;
    ngx_http_7digital_main_conf_t  *mcf;

    c = ctx->route.class;

    if (ctx->partner == NULL || c < NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
        || c > NGX_HTTP_7DIGITAL_CLASS_PURCHASE)
    {
        return NGX_OK;
    }

    /* the partner's own limit for the class, else the location's */
    limit = ctx->partner->limits[c].interval ? &ctx->partner->limits[c]
                                             : &lcf->limits[c];

    if (limit->interval == 0) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: no rate limit");
        return NGX_OK;
    }

    policy = &ngx_http_7digital_class_names[c];

    ctx->limit = *limit;
    ctx->limit_policy = *policy;

    /*
     * One TAT per partner and class, whatever the limit: locations that
     * give a class different limits count it together.
     */
    ctx->limit_key.len = sizeof("sevendigital:rl::") - 1 + policy->len
                         + ctx->partner->id.len;
    ctx->limit_key.data = ngx_pnalloc(r->pool, 2 * ctx->limit_key.len);
    if (ctx->limit_key.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(ctx->limit_key.data, "sevendigital:rl:%V:%V", policy,
                    &ctx->partner->id);
    ctx->limit_key.len = p - ctx->limit_key.data;

    /* the node's lease on it, short: shared memory holds many */
    ctx->limit_lease.data = p;
    p = ngx_sprintf(p, "l:%V:%V", policy, &ctx->partner->id);
    ctx->limit_lease.len = p - ctx->limit_lease.data;

    if (!ngx_http_7digital_redis_configured(NGX_HTTP_7DIGITAL_REDIS_STATE)) {
        ngx_http_7digital_limit_local(r, ctx, NULL);
        return NGX_OK;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    if (ngx_http_7digital_limit_leased(r, mcf, ctx) == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_7digital_limit_send(r, ctx, 0);
}


/*
 * NGX_OK: let through from the node's lease.  Else what to ask Redis for:
 * one, unless the partner has plenty left and the node used its last
 * lease (so that a partner near its limit is counted request by request,
 * and a node that is not busy does not hold what others could use); and
 * what the node took before and did not use, given back.
 */

static ngx_int_t
ngx_http_7digital_limit_leased(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, ngx_http_7digital_ctx_t *ctx)
{
    uint64_t                      now, ask, left;
    ngx_int_t                     rc;
    ngx_http_7digital_shentry_t  *e;

    now = ngx_http_7digital_limit_now();
    rc = NGX_DECLINED;

    ctx->limit_ask = 1;
    ctx->limit_back = 0;

    ngx_http_7digital_shtable_lock(mcf->limit_zone);

    e = ngx_http_7digital_shtable_get(mcf->limit_zone, &ctx->limit_lease,
                                      now);

    if (e == NULL) {
        goto done;
    }

    if (e->value[NGX_HTTP_7DIGITAL_LEASE_EXPIRES] > now
        && e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT])
    {
        e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT]--;
        e->value[NGX_HTTP_7DIGITAL_LEASE_SERVED]++;

        /* what GCRA would say with the lease spent */
        left = e->value[NGX_HTTP_7DIGITAL_LEASE_REDIS_LEFT]
               + e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT];
        left = ngx_min(left, ctx->limit.burst);

        ctx->limit_result.taken = 1;
        ctx->limit_result.remaining = left;
        ctx->limit_result.wait = 0;
        ctx->limit_result.reset = (ctx->limit.burst + 1 - left)
                                  * ctx->limit.interval;
        ctx->limit_counted = 1;

        rc = NGX_OK;
        goto done;
    }

    /* an expired lease's rest goes back with this request */
    ctx->limit_back = e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT];
    e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT] = 0;

    ask = e->value[NGX_HTTP_7DIGITAL_LEASE_REDIS_LEFT]
          / (8 * mcf->limit_nodes);
    ask = ngx_min(ask, 2 * e->value[NGX_HTTP_7DIGITAL_LEASE_SERVED] + 1);
    ask = ngx_min(ask, NGX_HTTP_7DIGITAL_LIMIT_LEASE_MAX);
    ask = mcf->limit_lease ? ask : 1;

    ctx->limit_ask = ask ? ask : 1;

done:

    ngx_http_7digital_shtable_unlock(mcf->limit_zone);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: rate limit \"%V\" %s, asking %uL, "
                   "giving back %uL", &ctx->limit_key,
                   rc == NGX_OK ? "kept from the node's lease" : "to redis",
                   ctx->limit_ask, ctx->limit_back);

    return rc;
}


/* what Redis let through beyond this request is the node's lease */

static void
ngx_http_7digital_limit_lease(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, ngx_http_7digital_ctx_t *ctx)
{
    uint64_t                      now, extra;
    ngx_http_7digital_shentry_t  *e;

    now = ngx_http_7digital_limit_now();
    extra = ctx->limit_result.taken ? ctx->limit_result.taken - 1 : 0;

    ngx_http_7digital_shtable_lock(mcf->limit_zone);

    e = ngx_http_7digital_shtable_get(mcf->limit_zone, &ctx->limit_lease,
                                      now);

    if (e) {
        if (e->value[NGX_HTTP_7DIGITAL_LEASE_EXPIRES] <= now) {
            e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT] = 0;
        }

        if (extra) {
            e->value[NGX_HTTP_7DIGITAL_LEASE_LEFT] += extra;
            e->value[NGX_HTTP_7DIGITAL_LEASE_EXPIRES] =
                                      now + (uint64_t) mcf->limit_lease * 1000;
        }

        /* the next lease is sized by what this one lets through */
        e->value[NGX_HTTP_7DIGITAL_LEASE_SERVED] = 1;

        e->value[NGX_HTTP_7DIGITAL_LEASE_REDIS_LEFT] =
                                                 ctx->limit_result.remaining;
        e->deadline = now + NGX_HTTP_7DIGITAL_LIMIT_HINT_TTL;
    }

    ngx_http_7digital_shtable_unlock(mcf->limit_zone);

    if (ctx->limit_result.taken == 0) {
        return;
    }

    /* what this request's answer tells: GCRA's view, the lease unspent */
    ctx->limit_result.remaining = ngx_min(ctx->limit_result.remaining + extra,
                                          ctx->limit.burst);
    ctx->limit_result.reset = (ctx->limit.burst + 1
                               - ctx->limit_result.remaining)
                              * ctx->limit.interval;
    ctx->limit_result.taken = 1;
}


/*
 * EVALSHA; after a NOSCRIPT (a Redis restarted, or flushed), the script
 * itself with EVAL, in the same wait: the request is counted, and Redis
 * has the script again for the next ones.  Redis not waited for: the
 * node's share decides now.
 */

static ngx_int_t
ngx_http_7digital_limit_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_uint_t eval)
{
    ngx_int_t    rc;
    const char  *argv[8];
    size_t       argvlen[8];
    u_char       t[NGX_INT64_LEN], b[NGX_INT64_LEN], n[NGX_INT64_LEN];
    u_char       g[NGX_INT64_LEN];

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
    argvlen[4] = ngx_sprintf(t, "%uL", ctx->limit.interval) - t;
    argv[5] = (const char *) b;
    argvlen[5] = ngx_sprintf(b, "%uL", ctx->limit.burst) - b;
    argv[6] = (const char *) n;
    argvlen[6] = ngx_sprintf(n, "%uL", ctx->limit_ask) - n;
    argv[7] = (const char *) g;
    argvlen[7] = ngx_sprintf(g, "%uL", ctx->limit_back) - g;

    rc = ngx_http_7digital_batch_add(r, &ctx->batch,
                                     NGX_HTTP_7DIGITAL_REDIS_STATE,
                                     ngx_http_7digital_limit_reply, ctx, 8,
                                     argv, argvlen);

    if (rc == NGX_DECLINED) {
        ngx_http_7digital_limit_local(r, ctx, "not reachable");
        return NGX_OK;
    }

    return rc;
}


static void
ngx_http_7digital_limit_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_ctx_t *ctx = data;

    redisReply                     *rep = reply;
    ngx_http_7digital_main_conf_t  *mcf;

    if (rep && rep->type == REDIS_REPLY_ERROR && !ctx->limit_eval
        && ngx_strncmp(rep->str, "NOSCRIPT", 8) == 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: rate limit script sent again");

        ctx->limit_eval = 1;

        if (ngx_http_7digital_limit_send(r, ctx, 1) == NGX_ERROR) {
            ngx_http_7digital_limit_local(r, ctx, "no memory");
        }

        return;
    }

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3
        || rep->element[0]->type != REDIS_REPLY_INTEGER
        || rep->element[1]->type != REDIS_REPLY_INTEGER
        || rep->element[2]->type != REDIS_REPLY_INTEGER)
    {
        ngx_http_7digital_limit_local(r, ctx,
                                      (rep && rep->type == REDIS_REPLY_ERROR)
                                      ? rep->str : "no answer");
        return;
    }

    ctx->limit_counted = 1;
    ctx->limit_denied = (rep->element[0]->integer <= 0);

    ctx->limit_result.taken = ctx->limit_denied
                              ? 0 : (uint64_t) rep->element[0]->integer;
    ctx->limit_result.remaining = ctx->limit_denied
                                  ? 0 : (uint64_t) rep->element[1]->integer;
    ctx->limit_result.wait = ctx->limit_denied
                             ? (uint64_t) rep->element[1]->integer : 0;
    ctx->limit_result.reset = (uint64_t) rep->element[2]->integer;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: rate limit \"%V\" %s in redis, %uL of "
                   "%uL taken", &ctx->limit_key,
                   ctx->limit_denied ? "reached" : "kept",
                   ctx->limit_result.taken, ctx->limit_ask);

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    ngx_http_7digital_limit_lease(r, mcf, ctx);
    ngx_http_7digital_limit_incident(r, mcf, NULL);
}


/*
 * This node's share: one request per "nodes" intervals and the burst
 * divided among the nodes, so that the fleet stays near the budget while
 * Redis cannot count it.
 */

static void
ngx_http_7digital_limit_local(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, char *why)
{
    ngx_str_t                       key;
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    ctx->limit.interval *= mcf->limit_nodes;
    ctx->limit.burst /= mcf->limit_nodes;
    ctx->limit_local = 1;

    /* "r:<class>:<partner>", beside the lease's "l:..." */
    key.len = ctx->limit_lease.len;
    key.data = ngx_pnalloc(r->pool, key.len);

    if (key.data) {
        ngx_memcpy(key.data, ctx->limit_lease.data, key.len);
        key.data[0] = 'r';

        (void) ngx_http_7digital_limit_step(r, mcf->limit_zone, &key, ctx);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: rate limit \"%V\" %s on this node "
                   "(1/%ui), %uL", &ctx->limit_key,
                   ctx->limit_denied ? "reached" : "kept", mcf->limit_nodes,
                   ctx->limit_result.remaining);

    if (why) {
        ngx_http_7digital_limit_incident(r, mcf, why);
    }
}


/*
 * One GCRA step on the node's own counter of "key".  NGX_ERROR: no room
 * for it in the zone; the request is let through, not counted.
 */

static ngx_int_t
ngx_http_7digital_limit_step(ngx_http_request_t *r, ngx_shm_zone_t *zone,
    ngx_str_t *key, ngx_http_7digital_ctx_t *ctx)
{
    uint64_t                      now;
    ngx_int_t                     rc;
    ngx_http_7digital_shentry_t  *e;

    now = ngx_http_7digital_limit_now();

    ngx_http_7digital_shtable_lock(zone);

    /* the deadline is the TAT: past it, the limit is whole */
    e = ngx_http_7digital_shtable_get(zone, key, now);

    if (e == NULL) {
        ngx_http_7digital_shtable_unlock(zone);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: rate limit zone \"%V\" is full, "
                      "request not counted, consider a larger "
                      "\"sevendigital_rate_limit_zone\"", &zone->shm.name);
        return NGX_ERROR;
    }

    rc = ngx_http_7digital_gcra_step(&e->deadline, now, &ctx->limit, 1, 0,
                                     &ctx->limit_result);

    ngx_http_7digital_shtable_unlock(zone);

    ctx->limit_counted = 1;
    ctx->limit_denied = (rc == NGX_DECLINED);

    return NGX_OK;
}


/*
 * Redis stopped counting the limits (why: what went wrong), or counts them
 * again (NULL): said once per incident by whichever worker of the node
 * sees it first.
 */

static void
ngx_http_7digital_limit_incident(ngx_http_request_t *r,
    ngx_http_7digital_main_conf_t *mcf, char *why)
{
    ngx_uint_t  *flags, on, was;

    flags = ngx_http_7digital_shtable_flags(mcf->limit_zone);
    on = (why != NULL);

    /* the usual case, without the lock */
    if (((*flags & NGX_HTTP_7DIGITAL_LIMIT_INCIDENT) != 0) == on) {
        return;
    }

    ngx_http_7digital_shtable_lock(mcf->limit_zone);

    was = *flags & NGX_HTTP_7DIGITAL_LIMIT_INCIDENT;

    if (on) {
        *flags |= NGX_HTTP_7DIGITAL_LIMIT_INCIDENT;

    } else {
        *flags &= ~NGX_HTTP_7DIGITAL_LIMIT_INCIDENT;
    }

    ngx_http_7digital_shtable_unlock(mcf->limit_zone);

    if ((was != 0) == on) {
        return;
    }

    if (on) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "sevendigital: redis cannot count rate limits (%s), "
                      "this node allows 1/%ui of each limit until it can",
                      why, mcf->limit_nodes);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "sevendigital: rate limits counted in redis again");
    }
}


/*
 * A request refused for its credentials counts against its client address
 * on this node; past the allowance, the refusal becomes a 429, so that
 * guessing keys is slow.  Valid credentials from the same address are
 * never counted.
 */

ngx_int_t
ngx_http_7digital_limit_refused(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_str_t                       key;
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    /* a user's token that failed is the partner's business, not a guess */
    if (lcf->limit_refused.interval == 0 || mcf->limit_zone == NULL
        || !ngx_http_7digital_auth_guess(ctx->auth) || ctx->token.len)
    {
        return NGX_OK;
    }

    if (ngx_http_7digital_limit_address(r, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->limit = lcf->limit_refused;

    if (ngx_http_7digital_limit_step(r, mcf->limit_zone, &key, ctx)
        != NGX_OK)
    {
        return NGX_OK;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: refused credentials from %V, limit %s, "
                   "%uL", &r->connection->addr_text,
                   ctx->limit_denied ? "reached" : "kept",
                   ctx->limit_result.remaining);

    if (!ctx->limit_denied) {
        /* the refusal itself carries no RateLimit fields */
        ctx->limit_counted = 0;
        return NGX_OK;
    }

    ctx->limit_policy = ngx_http_7digital_limit_refused_policy;

    ngx_memzero(err, sizeof(ngx_http_7digital_error_t));

    return ngx_http_7digital_limit_refuse(r, ctx, err);
}


/*
 * The client's address as the per-address limit counts it: an IPv4
 * address, the /64 of an IPv6 one (a host has a whole /64 to pick
 * addresses from), or as nginx wrote it for anything else.
 */

static ngx_int_t
ngx_http_7digital_limit_address(ngx_http_request_t *r, ngx_str_t *key)
{
    u_char               *p;
    size_t                len;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    key->data = ngx_pnalloc(r->pool, 2 + ngx_max(16,
                                            r->connection->addr_text.len));
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, "a:", 2);

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        p = ngx_cpymem(p, &sin->sin_addr, 4);
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        p = ngx_cpymem(p, sin6->sin6_addr.s6_addr, 8);
        break;
#endif

    default:
        len = r->connection->addr_text.len;
        p = ngx_cpymem(p, r->connection->addr_text.data, len);
        break;
    }

    key->len = p - key->data;

    return NGX_OK;
}


/*
 * Over the limit: 429 in the API's own format, with Retry-After; the
 * RateLimit fields are added by the header filter.
 */

ngx_int_t
ngx_http_7digital_limit_refuse(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    u_char  *p;
    time_t   wait;

    wait = (time_t) ((ctx->limit_result.wait + 999999) / 1000000);

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_limit_header(r, "Retry-After", p,
                                       ngx_sprintf(p, "%T", wait ? wait : 1)
                                       - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    err->status = NGX_HTTP_TOO_MANY_REQUESTS;
    err->code = 7001;
    ngx_str_set(&err->parameter, "rate");
    ngx_str_set(&err->message, "Rate limit exceeded, retry later");

    return NGX_OK;
}


/*
 * The IETF httpapi RateLimit fields (draft 10), on refusals and, with
 * "sevendigital_rate_limit_headers always", on every answer that was
 * counted.  The GCRA limit is told as its whole burst over the time it
 * takes to earn it back: q = burst + 1 requests in w seconds.
 */

static ngx_int_t
ngx_http_7digital_limit_header_filter(ngx_http_request_t *r)
{
    u_char                        *p, *last;
    uint64_t                       quota, window, reset;
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    /*
     * Only after an internal redirect (error_page) is the context
     * elsewhere: other answers never pay for looking it up.
     */
    if (ctx == NULL && r == r->main && r->internal) {
        ctx = ngx_http_7digital_find_ctx(r);
    }

    if (ctx == NULL || !ctx->limit_counted || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    if (lcf->limit_headers == NGX_HTTP_7DIGITAL_LIMIT_HEADERS_OFF
        || (lcf->limit_headers == NGX_HTTP_7DIGITAL_LIMIT_HEADERS_DENIED
            && !ctx->limit_denied))
    {
        return ngx_http_next_header_filter(r);
    }

    /* once, whatever answer follows (an error_page, a refusal) */
    ctx->limit_counted = 0;

    quota = ctx->limit.burst + 1;
    window = (quota * ctx->limit.interval + 999999) / 1000000;
    window = window ? window : 1;
    reset = (ctx->limit_result.reset + 999999) / 1000000;

    p = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_LIMIT_FIELDS_LEN
                             + 2 * ctx->limit_policy.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = ngx_sprintf(p, "\"%V\";q=%uL;w=%uL", &ctx->limit_policy, quota,
                       window);

    if (ngx_http_7digital_limit_header(r, "RateLimit-Policy", p, last - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = last;
    last = ngx_sprintf(p, "\"%V\";r=%uL;t=%uL", &ctx->limit_policy,
                       ctx->limit_result.remaining, reset);

    if (ngx_http_7digital_limit_header(r, "RateLimit", p, last - p)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_7digital_limit_header(ngx_http_request_t *r, char *name,
    u_char *value, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.data = value;
    h->value.len = len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}
