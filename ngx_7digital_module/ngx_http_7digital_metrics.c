
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Counters in shared memory, shown in the Prometheus text format by a
 * sevendigital_metrics location.  Each worker counts in a shard of its
 * own (by its slot, ngx_worker), so that workers do not pass cache lines
 * to each other on every request; a scrape adds the shards up.  The adds
 * are atomic all the same: during a reload the new worker and the old one
 * of a slot share its shard.  Other files call the add functions below
 * and nothing else; nothing here calls into a request's stages.
 *
 * A partner's row is found by its id, not its place in the file: a zone
 * kept across a reload keeps each partner's counters whatever the new
 * partners file looks like.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_METRICS_SHARDS  16

/* shards apart by more than a cache line and the one prefetched with it */
#define NGX_HTTP_7DIGITAL_METRICS_ALIGN   128

/* the longest line, but for an escaped partner id */
#define NGX_HTTP_7DIGITAL_METRICS_LINE    256

/* families of metrics, HELP and TYPE lines each */
#define NGX_HTTP_7DIGITAL_METRICS_FAMILIES                                   \
    (NGX_HTTP_7DIGITAL_F_N + NGX_HTTP_7DIGITAL_REDIS_EVENTS)

/* the implicit zone of a sevendigital_metrics location */
#define NGX_HTTP_7DIGITAL_METRICS_SIZE    (1024 * 1024)


/* one partner's counters in one shard; row 0 counts "no partner" */
typedef struct {
    ngx_atomic_t          requests[2][4];   /* by API, 2xx to 5xx */
    ngx_atomic_t          limited[2];       /* decided by Redis, locally */
} ngx_http_7digital_metrics_row_t;


typedef struct {
    ngx_atomic_t          events[NGX_HTTP_7DIGITAL_REDIS_EVENTS];
    ngx_atomic_t          buckets[NGX_HTTP_7DIGITAL_BUCKETS];
    ngx_atomic_t          usec;             /* the latencies' sum */
} ngx_http_7digital_metrics_redis_t;


/* what a shard counts beside its rows: only ngx_atomic_t, all summed */
typedef struct {
    ngx_atomic_t                       refusals[NGX_HTTP_7DIGITAL_AUTH_NSTATUS];
    ngx_atomic_t                       cache[NGX_HTTP_7DIGITAL_CACHE_NSTATUS];
    ngx_atomic_t                       cache_front;
    ngx_http_7digital_metrics_redis_t  redis[2];
    ngx_atomic_t                       written[NGX_HTTP_7DIGITAL_RECORD_TYPES];
    ngx_atomic_t                       failed[NGX_HTTP_7DIGITAL_RECORD_TYPES];
    ngx_atomic_t                       sales;    /* a gauge */
    ngx_atomic_t                       replays;
} ngx_http_7digital_metrics_totals_t;


/* whose a row is; an empty id: a free row */
typedef struct {
    u_char                             len;
    u_char                             id[NGX_HTTP_7DIGITAL_MAX_ID_LEN];
} ngx_http_7digital_metrics_name_t;


/*
 * The zone: the rows' names, then the shards, each its totals and then
 * its rows.  Laid out once, when the zone is created.
 */
typedef struct {
    ngx_uint_t                         nshards;
    ngx_uint_t                         nrows;
    size_t                             stride;   /* from shard to shard */
    size_t                             rows;     /* from totals to rows */
    ngx_http_7digital_metrics_name_t  *names;
    u_char                            *shards;
} ngx_http_7digital_metrics_sh_t;


/* one configuration's view of the zone */
typedef struct {
    ngx_http_7digital_metrics_sh_t    *sh;
    ngx_http_7digital_registry_t      *registry;
    ngx_uint_t                        *rows;        /* by partner_t's n */
    ngx_uint_t                         npartners;   /* the last n, + 1 */
    ngx_cycle_t                       *cycle;
} ngx_http_7digital_metrics_ctx_t;


typedef struct {
    ngx_str_t                          id;
    ngx_uint_t                         row;
} ngx_http_7digital_metrics_key_t;


typedef struct {
    char                              *name;
    char                              *help;
} ngx_http_7digital_metrics_family_t;


/* a label's value, by its place in its enumeration */
typedef ngx_str_t *(*ngx_http_7digital_metrics_name_pt)(ngx_uint_t i);


static ngx_shm_zone_t *ngx_http_7digital_metrics_add_zone(ngx_conf_t *cf,
    ngx_str_t *name, size_t size);
static ngx_int_t ngx_http_7digital_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_http_7digital_metrics_sh_t *ngx_http_7digital_metrics_layout(
    ngx_http_7digital_metrics_ctx_t *ctx, ngx_slab_pool_t *shpool);
static ngx_int_t ngx_http_7digital_metrics_map(
    ngx_http_7digital_metrics_ctx_t *ctx, ngx_shm_zone_t *zone);
static ngx_uint_t ngx_http_7digital_metrics_take(
    ngx_http_7digital_metrics_sh_t *sh, u_char *used, ngx_uint_t *next,
    ngx_str_t *id);
static int ngx_libc_cdecl ngx_http_7digital_metrics_key_cmp(const void *one,
    const void *two);
static ngx_int_t ngx_http_7digital_metrics_handler(ngx_http_request_t *r);
static void ngx_http_7digital_metrics_sum(ngx_http_7digital_metrics_sh_t *sh,
    size_t offset, ngx_atomic_uint_t *sum, size_t size);
static u_char *ngx_http_7digital_metrics_head(u_char *p, u_char *last,
    ngx_http_7digital_metrics_family_t *f, char *type);
static u_char *ngx_http_7digital_metrics_out_partners(
    ngx_http_7digital_metrics_ctx_t *ctx, u_char *p, u_char *last,
    ngx_uint_t limited);
static u_char *ngx_http_7digital_metrics_out_partner(u_char *p, u_char *last,
    ngx_str_t *label, ngx_uint_t apis, ngx_http_7digital_metrics_row_t *row,
    ngx_uint_t limited);
static u_char *ngx_http_7digital_metrics_out_totals(u_char *p, u_char *last,
    ngx_http_7digital_metrics_totals_t *t);
static u_char *ngx_http_7digital_metrics_out_labelled(u_char *p,
    u_char *last, ngx_http_7digital_metrics_family_t *f, char *label,
    ngx_http_7digital_metrics_name_pt name, ngx_atomic_t *values,
    ngx_uint_t from, ngx_uint_t to);
static ngx_str_t *ngx_http_7digital_metrics_reason(ngx_uint_t i);
static ngx_str_t *ngx_http_7digital_metrics_result(ngx_uint_t i);
static ngx_str_t *ngx_http_7digital_metrics_record_type(ngx_uint_t i);
static u_char *ngx_http_7digital_metrics_out_redis(u_char *p, u_char *last,
    ngx_http_7digital_metrics_totals_t *t);


/* this worker's shard, NULL when nothing is counted */
static ngx_http_7digital_metrics_totals_t  *ngx_http_7digital_shard_totals;
static ngx_http_7digital_metrics_row_t     *ngx_http_7digital_shard_rows;
static ngx_http_7digital_metrics_ctx_t     *ngx_http_7digital_metrics_conf;


#define ngx_http_7digital_count(counter)                                     \
    (void) ngx_atomic_fetch_add(&(counter), 1)

#define ngx_http_7digital_metrics_totals_of(sh, shard)                       \
    ((ngx_http_7digital_metrics_totals_t *)                                  \
         ((sh)->shards + (shard) * (sh)->stride))

#define ngx_http_7digital_metrics_rows(sh, shard)                            \
    ((ngx_http_7digital_metrics_row_t *)                                     \
         ((sh)->shards + (shard) * (sh)->stride + (sh)->rows))


/* label values, each table in its enumeration's order */

static ngx_str_t  ngx_http_7digital_redis_targets[] = {
    ngx_string("state"),
    ngx_string("cache")
};


static ngx_str_t  ngx_http_7digital_record_types[] = {
    ngx_string("intent"),
    ngx_string("outcome"),
    ngx_string("refused")
};


static ngx_http_7digital_metrics_family_t
    ngx_http_7digital_redis_families[NGX_HTTP_7DIGITAL_REDIS_EVENTS] = {

    { "sevendigital_redis_commands_total",
      "Commands sent to Redis, by connection." },

    { "sevendigital_redis_errors_total",
      "Commands answered with an error, or lost with their connection." },

    { "sevendigital_redis_timeouts_total",
      "Commands not answered within sevendigital_redis_timeout." },

    { "sevendigital_redis_reconnects_total",
      "Connections made again after one was lost." },

    { "sevendigital_redis_skipped_total",
      "Commands not sent: Redis was down, or not answering probes." }
};


static ngx_http_7digital_metrics_family_t  ngx_http_7digital_families[] = {

#define NGX_HTTP_7DIGITAL_F_REQUESTS  0
    { "sevendigital_requests_total",
      "Requests through gateway locations, by authenticated partner, API "
      "and status class." },

#define NGX_HTTP_7DIGITAL_F_LIMITED   1
    { "sevendigital_rate_limited_total",
      "Requests refused by a rate limit, by partner and by what decided: "
      "Redis, or the node's local share." },

#define NGX_HTTP_7DIGITAL_F_REFUSALS  2
    { "sevendigital_refusals_total",
      "Requests refused for their credentials, by $sevendigital_auth_status." },

#define NGX_HTTP_7DIGITAL_F_CACHE     3
    { "sevendigital_cache_results_total",
      "Cache lookups, by $sevendigital_cache_status." },

#define NGX_HTTP_7DIGITAL_F_FRONT     4
    { "sevendigital_cache_front_hits_total",
      "Hits answered from the shared-memory front tier." },

#define NGX_HTTP_7DIGITAL_F_LATENCY   5
    { "sevendigital_redis_latency_seconds",
      "Time from sending a command to its reply, by connection." },

#define NGX_HTTP_7DIGITAL_F_RECORDS   6
    { "sevendigital_audit_records_total",
      "Audit records written, by type." },

#define NGX_HTTP_7DIGITAL_F_FAILURES  7
    { "sevendigital_audit_record_failures_total",
      "Audit records that could not be written, by type." },

#define NGX_HTTP_7DIGITAL_F_SALES     8
    { "sevendigital_sales_in_flight",
      "Sales whose intent is written and whose outcome is not yet." },

#define NGX_HTTP_7DIGITAL_F_REPLAYS   9
    { "sevendigital_idempotent_replays_total",
      "Sales answered again from the idempotency store." }

#define NGX_HTTP_7DIGITAL_F_N         10
};


/* sevendigital_metrics_zone name:size */

char *
ngx_http_7digital_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    size_t      size;
    ngx_str_t  *value, name;

    if (mcf->metrics_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_7digital_zone_arg(cf, cmd, &value[1], &name, &size)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    mcf->metrics_zone = ngx_http_7digital_metrics_add_zone(cf, &name, size);

    return mcf->metrics_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* sevendigital_metrics: the location answers with every counter */

char *
ngx_http_7digital_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_http_core_loc_conf_t       *clcf;
    ngx_http_7digital_main_conf_t  *mcf;

    /* a server-level gateway would ask a scraper for a partner key */
    if (lcf->api != NGX_CONF_UNSET_UINT && lcf->api != NGX_HTTP_7DIGITAL_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" cannot be used in a location with "
                           "\"sevendigital_gateway\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    lcf->api = NGX_HTTP_7DIGITAL_OFF;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_7digital_module);
    mcf->metrics = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_7digital_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * Without sevendigital_metrics_zone, a sevendigital_metrics location has
 * a zone of 1 MB; without either, nothing is counted.
 */

char *
ngx_http_7digital_metrics_default_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf)
{
    ngx_str_t                         name;
    ngx_http_7digital_metrics_ctx_t  *ctx;

    if (mcf->metrics_zone == NULL) {

        if (!mcf->metrics) {
            return NGX_CONF_OK;
        }

        ngx_str_set(&name, "sevendigital_metrics");

        mcf->metrics_zone = ngx_http_7digital_metrics_add_zone(cf, &name,
                                                NGX_HTTP_7DIGITAL_METRICS_SIZE);
        if (mcf->metrics_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    ctx = mcf->metrics_zone->data;
    ctx->registry = mcf->registry;

    return NGX_CONF_OK;
}


static ngx_shm_zone_t *
ngx_http_7digital_metrics_add_zone(ngx_conf_t *cf, ngx_str_t *name,
    size_t size)
{
    ngx_http_7digital_metrics_ctx_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_metrics_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->cycle = cf->cycle;

    return ngx_http_7digital_zone_add(cf, name, size,
                                      ngx_http_7digital_metrics_init_zone,
                                      ctx);
}


/* a zone kept across a reload goes on counting; its partners are remapped */

static ngx_int_t
ngx_http_7digital_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_7digital_metrics_ctx_t  *octx = data;

    ngx_slab_pool_t                  *shpool;
    ngx_http_7digital_metrics_ctx_t  *ctx;

    ctx = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (octx) {
        ctx->sh = octx->sh;

    } else if (zone->shm.exists) {
        ctx->sh = shpool->data;

    } else {
        ctx->sh = ngx_http_7digital_metrics_layout(ctx, shpool);

        if (ctx->sh == NULL) {
            ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                          "sevendigital_metrics_zone \"%V\" is too small",
                          &zone->shm.name);
            return NGX_ERROR;
        }

        shpool->data = ctx->sh;
    }

    return ngx_http_7digital_metrics_map(ctx, zone);
}


/*
 * As many rows as fit: each has its name and one row in every shard.
 * A shard per worker process, up to 16; more workers share them.
 */

static ngx_http_7digital_metrics_sh_t *
ngx_http_7digital_metrics_layout(ngx_http_7digital_metrics_ctx_t *ctx,
    ngx_slab_pool_t *shpool)
{
    u_char                          *p;
    size_t                           avail, head, fixed, totals, size;
    ngx_uint_t                       nshards, nrows;
    ngx_core_conf_t                 *ccf;
    ngx_http_7digital_metrics_sh_t  *sh;

    ccf = (ngx_core_conf_t *) ngx_get_conf(ctx->cycle->conf_ctx,
                                           ngx_core_module);

    nshards = ngx_max(ccf->worker_processes, 1);
    nshards = ngx_min(nshards, NGX_HTTP_7DIGITAL_METRICS_SHARDS);

    avail = shpool->pfree * ngx_pagesize;
    head = ngx_align(sizeof(ngx_http_7digital_metrics_sh_t),
                     NGX_HTTP_7DIGITAL_METRICS_ALIGN);
    totals = ngx_align(sizeof(ngx_http_7digital_metrics_totals_t),
                       NGX_HTTP_7DIGITAL_METRICS_ALIGN);

    /* what alignment may add: a little less than one unit per area */
    fixed = head + (nshards + 1) * NGX_HTTP_7DIGITAL_METRICS_ALIGN
            + nshards * totals;

    if (avail <= fixed) {
        return NULL;
    }

    nrows = (avail - fixed)
            / (sizeof(ngx_http_7digital_metrics_name_t)
               + nshards * sizeof(ngx_http_7digital_metrics_row_t));

    if (nrows < 2) {
        return NULL;
    }

    size = head + ngx_align(nrows * sizeof(ngx_http_7digital_metrics_name_t),
                            NGX_HTTP_7DIGITAL_METRICS_ALIGN);

    p = ngx_slab_alloc(shpool, size + nshards
                       * ngx_align(totals + nrows
                                   * sizeof(ngx_http_7digital_metrics_row_t),
                                   NGX_HTTP_7DIGITAL_METRICS_ALIGN));
    if (p == NULL) {
        return NULL;
    }

    sh = (ngx_http_7digital_metrics_sh_t *) p;

    sh->nshards = nshards;
    sh->nrows = nrows;
    sh->rows = totals;
    sh->stride = ngx_align(totals
                           + nrows * sizeof(ngx_http_7digital_metrics_row_t),
                           NGX_HTTP_7DIGITAL_METRICS_ALIGN);
    sh->names = (ngx_http_7digital_metrics_name_t *) (p + head);
    sh->shards = p + size;

    ngx_memzero(p + head, size - head + nshards * sh->stride);

    return sh;
}


/*
 * Each partner of the configuration gets its row: the one with its id,
 * else a free one, else one of a partner no longer in the file (whose
 * counters are no longer shown).  A partner with no room left is counted
 * as no partner, and said so.  Only the master writes names, here.
 */

static ngx_int_t
ngx_http_7digital_metrics_map(ngx_http_7digital_metrics_ctx_t *ctx,
    ngx_shm_zone_t *zone)
{
    u_char                           *used;
    ngx_uint_t                        i, n, nkeys, lost, next[2];
    ngx_http_7digital_partner_t      *p;
    ngx_http_7digital_metrics_sh_t   *sh;
    ngx_http_7digital_metrics_key_t  *keys, key, *found;

    sh = ctx->sh;

    if (ctx->registry == NULL || ctx->registry->partners.nelts == 0) {
        return NGX_OK;
    }

    p = ctx->registry->partners.elts;
    n = ctx->registry->partners.nelts;
    ctx->npartners = p[n - 1].n + 1;

    ctx->rows = ngx_pcalloc(ctx->cycle->pool,
                            ctx->npartners * sizeof(ngx_uint_t));
    if (ctx->rows == NULL) {
        return NGX_ERROR;
    }

    used = ngx_calloc(sh->nrows, zone->shm.log);
    keys = ngx_alloc(sh->nrows * sizeof(ngx_http_7digital_metrics_key_t),
                     zone->shm.log);

    if (used == NULL || keys == NULL) {
        goto failed;
    }

    /* the rows that have a partner, by id */
    nkeys = 0;

    for (i = 1; i < sh->nrows; i++) {
        if (sh->names[i].len) {
            keys[nkeys].id.len = sh->names[i].len;
            keys[nkeys].id.data = sh->names[i].id;
            keys[nkeys].row = i;
            nkeys++;
        }
    }

    ngx_qsort(keys, nkeys, sizeof(ngx_http_7digital_metrics_key_t),
              ngx_http_7digital_metrics_key_cmp);

    used[0] = 1;

    for (i = 0; i < n; i++) {
        if (i && p[i].n == p[i - 1].n) {
            continue;   /* another key of the same partner */
        }

        key.id = p[i].id;
        found = bsearch(&key, keys, nkeys,
                        sizeof(ngx_http_7digital_metrics_key_t),
                        ngx_http_7digital_metrics_key_cmp);

        if (found) {
            ctx->rows[p[i].n] = found->row;
            used[found->row] = 1;
        }
    }

    lost = 0;
    next[0] = 1;
    next[1] = 1;

    for (i = 0; i < n; i++) {
        if ((i && p[i].n == p[i - 1].n) || ctx->rows[p[i].n]) {
            continue;
        }

        ctx->rows[p[i].n] = ngx_http_7digital_metrics_take(sh, used, next,
                                                           &p[i].id);
        if (ctx->rows[p[i].n] == 0) {
            lost++;
        }
    }

    if (lost) {
        ngx_log_error(NGX_LOG_WARN, zone->shm.log, 0,
                      "sevendigital_metrics_zone \"%V\" has no room for "
                      "%ui partners, they are counted as no partner; "
                      "each partner needs %uz bytes", &zone->shm.name, lost,
                      sizeof(ngx_http_7digital_metrics_name_t)
                      + sh->nshards * sizeof(ngx_http_7digital_metrics_row_t));
    }

    ngx_free(used);
    ngx_free(keys);

    return NGX_OK;

failed:

    if (used) {
        ngx_free(used);
    }

    if (keys) {
        ngx_free(keys);
    }

    return NGX_ERROR;
}


/* a free row, else one no partner of the file has; 0: none left */

static ngx_uint_t
ngx_http_7digital_metrics_take(ngx_http_7digital_metrics_sh_t *sh,
    u_char *used, ngx_uint_t *next, ngx_str_t *id)
{
    ngx_uint_t  row, i;

    while (next[0] < sh->nrows && (used[next[0]] || sh->names[next[0]].len)) {
        next[0]++;
    }

    if (next[0] < sh->nrows) {
        row = next[0]++;

    } else {
        while (next[1] < sh->nrows && used[next[1]]) {
            next[1]++;
        }

        if (next[1] == sh->nrows) {
            return 0;
        }

        row = next[1]++;
    }

    used[row] = 1;

    /* a gone partner's row starts again from zero */
    for (i = 0; i < sh->nshards; i++) {
        ngx_memzero(ngx_http_7digital_metrics_rows(sh, i) + row,
                    sizeof(ngx_http_7digital_metrics_row_t));
    }

    sh->names[row].len = (u_char) id->len;
    ngx_memcpy(sh->names[row].id, id->data, id->len);

    return row;
}


static int ngx_libc_cdecl
ngx_http_7digital_metrics_key_cmp(const void *one, const void *two)
{
    ngx_http_7digital_metrics_key_t  *a, *b;

    a = (ngx_http_7digital_metrics_key_t *) one;
    b = (ngx_http_7digital_metrics_key_t *) two;

    if (a->id.len != b->id.len) {
        return a->id.len < b->id.len ? -1 : 1;
    }

    return ngx_memcmp(a->id.data, b->id.data, a->id.len);
}


/* a worker counts in the shard of its slot */

void
ngx_http_7digital_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                        shard;
    ngx_http_7digital_metrics_ctx_t  *ctx;
    ngx_http_7digital_main_conf_t    *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_7digital_module);

    if (mcf == NULL || mcf->metrics_zone == NULL) {
        return;
    }

    ctx = mcf->metrics_zone->data;
    shard = ngx_worker % ctx->sh->nshards;

    ngx_http_7digital_metrics_conf = ctx;
    ngx_http_7digital_shard_totals = ngx_http_7digital_metrics_totals_of(
                                                              ctx->sh, shard);
    ngx_http_7digital_shard_rows = ngx_http_7digital_metrics_rows(ctx->sh,
                                                                  shard);
}


/*
 * A main request's end, from its context: its partner (only once
 * authenticated: a refused key names nobody), API and status class, why
 * it was refused, its cache status, a rate limit that refused it.  A few
 * atomic adds to lines this worker alone writes to.
 */

void
ngx_http_7digital_metrics_request(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_uint_t                           row, status, local;
    ngx_http_7digital_metrics_row_t     *rows;
    ngx_http_7digital_metrics_totals_t  *t;

    rows = ngx_http_7digital_shard_rows;
    t = ngx_http_7digital_shard_totals;

    if (rows == NULL || ctx->api == NGX_HTTP_7DIGITAL_OFF
        || ctx->api > NGX_HTTP_7DIGITAL_API_CD)
    {
        return;
    }

    row = 0;

    if (ctx->auth == NGX_HTTP_7DIGITAL_AUTH_OK && ctx->partner
        && ctx->partner->n < ngx_http_7digital_metrics_conf->npartners)
    {
        row = ngx_http_7digital_metrics_conf->rows[ctx->partner->n];
    }

    /* what nginx logs as $status */
    status = r->err_status ? r->err_status : r->headers_out.status;

    if (status >= 200 && status < 600) {
        ngx_http_7digital_count(
                          rows[row].requests[ctx->api - 1][status / 100 - 2]);
    }

    if (ctx->auth > NGX_HTTP_7DIGITAL_AUTH_OK
        && ctx->auth < NGX_HTTP_7DIGITAL_AUTH_NSTATUS)
    {
        ngx_http_7digital_count(t->refusals[ctx->auth]);
    }

    if (ctx->cache_status != NGX_HTTP_7DIGITAL_CACHE_NONE) {
        ngx_http_7digital_count(t->cache[ctx->cache_status]);
    }

    if (ctx->cache_front) {
        ngx_http_7digital_count(t->cache_front);
    }

    if (ctx->limit_denied) {
        /* refused credentials are limited per address, always locally */
        local = ctx->limit_local || ctx->auth != NGX_HTTP_7DIGITAL_AUTH_OK;
        ngx_http_7digital_count(rows[row].limited[local]);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: metrics: row %ui, status %ui, auth %ui",
                   row, status, (ngx_uint_t) ctx->auth);
}


/* microseconds for a Redis command's latency; 0 when nothing is counted */

uint64_t
ngx_http_7digital_metrics_clock(void)
{
    struct timespec  ts;

    if (ngx_http_7digital_shard_totals == NULL) {
        return 0;
    }

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void
ngx_http_7digital_metrics_redis(ngx_uint_t target, ngx_uint_t what)
{
    ngx_http_7digital_metrics_totals_t  *t;

    t = ngx_http_7digital_shard_totals;

    if (t) {
        ngx_http_7digital_count(t->redis[target].events[what]);
    }
}


void
ngx_http_7digital_metrics_redis_latency(ngx_uint_t target, uint64_t start)
{
    uint64_t                            usec;
    ngx_http_7digital_metrics_redis_t  *rd;

    if (ngx_http_7digital_shard_totals == NULL || start == 0) {
        return;
    }

    usec = ngx_http_7digital_metrics_clock() - start;
    rd = &ngx_http_7digital_shard_totals->redis[target];

    ngx_http_7digital_count(rd->buckets[ngx_http_7digital_bucket(usec)]);
    (void) ngx_atomic_fetch_add(&rd->usec, (ngx_atomic_int_t) usec);
}


void
ngx_http_7digital_metrics_record(ngx_uint_t type, ngx_uint_t written)
{
    ngx_http_7digital_metrics_totals_t  *t;

    t = ngx_http_7digital_shard_totals;

    if (t == NULL) {
        return;
    }

    if (written) {
        ngx_http_7digital_count(t->written[type]);

    } else {
        ngx_http_7digital_count(t->failed[type]);
    }
}


/* a shard's gauge may go below zero: only the sum means anything */

void
ngx_http_7digital_metrics_sales(ngx_int_t n)
{
    ngx_http_7digital_metrics_totals_t  *t;

    t = ngx_http_7digital_shard_totals;

    if (t) {
        (void) ngx_atomic_fetch_add(&t->sales, (ngx_atomic_int_t) n);
    }
}


void
ngx_http_7digital_metrics_replay(void)
{
    ngx_http_7digital_metrics_totals_t  *t;

    t = ngx_http_7digital_shard_totals;

    if (t) {
        ngx_http_7digital_count(t->replays);
    }
}


/*
 * The scrape: every counter summed over the shards, in the text format
 * (version 0.0.4).  The partners are the configuration's: a partner gone
 * from the file is no longer shown, one just added shows zeros.
 */

static ngx_int_t
ngx_http_7digital_metrics_handler(ngx_http_request_t *r)
{
    size_t                               size;
    ngx_int_t                            rc;
    ngx_buf_t                           *b;
    ngx_uint_t                           i;
    ngx_chain_t                          out;
    ngx_http_7digital_partner_t         *pt;
    ngx_http_7digital_metrics_ctx_t     *ctx;
    ngx_http_7digital_main_conf_t       *mcf;
    ngx_http_7digital_metrics_totals_t   t;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);
    ctx = mcf->metrics_zone->data;

    /* a line per counter and two per family, ten per partner */
    size = NGX_HTTP_7DIGITAL_METRICS_LINE
           * (sizeof(ngx_http_7digital_metrics_totals_t) / sizeof(ngx_atomic_t)
              + 2 * NGX_HTTP_7DIGITAL_METRICS_FAMILIES + 10);

    if (ctx->registry) {
        pt = ctx->registry->partners.elts;

        for (i = 0; i < ctx->registry->partners.nelts; i++) {
            size += 10 * (NGX_HTTP_7DIGITAL_METRICS_LINE
                          + ngx_http_7digital_label_len(&pt[i].id));
        }
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_7digital_metrics_sum(ctx->sh, 0, (ngx_atomic_uint_t *) &t,
                                  sizeof(ngx_http_7digital_metrics_totals_t));

    b->last = ngx_http_7digital_metrics_out_partners(ctx, b->last, b->end, 0);
    b->last = ngx_http_7digital_metrics_out_partners(ctx, b->last, b->end, 1);
    b->last = ngx_http_7digital_metrics_out_totals(b->last, b->end, &t);
    b->last = ngx_http_7digital_metrics_out_redis(b->last, b->end, &t);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: metrics, %uz of %uz bytes",
                   (size_t) (b->last - b->pos), size);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* the counters at "offset" in each shard, added up word by word */

static void
ngx_http_7digital_metrics_sum(ngx_http_7digital_metrics_sh_t *sh,
    size_t offset, ngx_atomic_uint_t *sum, size_t size)
{
    ngx_uint_t     i, j, n;
    ngx_atomic_t  *c;

    n = size / sizeof(ngx_atomic_t);

    ngx_memzero(sum, size);

    for (i = 0; i < sh->nshards; i++) {
        c = (ngx_atomic_t *) (sh->shards + i * sh->stride + offset);

        for (j = 0; j < n; j++) {
            sum[j] += c[j];
        }
    }
}


static u_char *
ngx_http_7digital_metrics_head(u_char *p, u_char *last,
    ngx_http_7digital_metrics_family_t *f, char *type)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        f->name, f->help, f->name, type);
}


/* requests (limited 0) or rate-limited requests (1), partner by partner */

static u_char *
ngx_http_7digital_metrics_out_partners(ngx_http_7digital_metrics_ctx_t *ctx,
    u_char *p, u_char *last, ngx_uint_t limited)
{
    u_char                           *q;
    ngx_str_t                         label;
    ngx_uint_t                        i, n;
    ngx_http_7digital_partner_t      *pt;
    ngx_http_7digital_metrics_sh_t   *sh;
    ngx_http_7digital_metrics_row_t   row;
    u_char                            buf[sizeof("partner=\"\",")
                                          + 2 * NGX_HTTP_7DIGITAL_MAX_ID_LEN];

    sh = ctx->sh;

    p = ngx_http_7digital_metrics_head(p, last,
                  &ngx_http_7digital_families[limited
                                              ? NGX_HTTP_7DIGITAL_F_LIMITED
                                              : NGX_HTTP_7DIGITAL_F_REQUESTS],
                  "counter");

    /* no partner: refused, or a partner the zone had no room for */
    ngx_http_7digital_metrics_sum(sh, sh->rows, (ngx_atomic_uint_t *) &row,
                                  sizeof(ngx_http_7digital_metrics_row_t));

    ngx_str_set(&label, "");

    p = ngx_http_7digital_metrics_out_partner(p, last, &label,
                                          NGX_HTTP_7DIGITAL_API_7D
                                          | NGX_HTTP_7DIGITAL_API_CD,
                                          &row, limited);

    if (ctx->registry == NULL) {
        return p;
    }

    pt = ctx->registry->partners.elts;
    n = ctx->registry->partners.nelts;

    for (i = 0; i < n; i++) {
        if ((i && pt[i].n == pt[i - 1].n) || ctx->rows[pt[i].n] == 0) {
            continue;
        }

        ngx_http_7digital_metrics_sum(sh, sh->rows + ctx->rows[pt[i].n]
                                      * sizeof(ngx_http_7digital_metrics_row_t),
                                      (ngx_atomic_uint_t *) &row,
                                      sizeof(ngx_http_7digital_metrics_row_t));

        q = ngx_cpymem(buf, "partner=\"", sizeof("partner=\"") - 1);
        q = ngx_http_7digital_label_escape(q, &pt[i].id);
        q = ngx_cpymem(q, "\",", 2);

        label.data = buf;
        label.len = q - buf;

        p = ngx_http_7digital_metrics_out_partner(p, last, &label, pt[i].apis,
                                              &row, limited);
    }

    return p;
}


static u_char *
ngx_http_7digital_metrics_out_partner(u_char *p, u_char *last, ngx_str_t *label,
    ngx_uint_t apis, ngx_http_7digital_metrics_row_t *row, ngx_uint_t limited)
{
    ngx_uint_t  api, c;

    if (limited) {
        p = ngx_slprintf(p, last, "sevendigital_rate_limited_total"
                         "{%Vdecided_by=\"redis\"} %uA\n"
                         "sevendigital_rate_limited_total"
                         "{%Vdecided_by=\"local\"} %uA\n",
                         label, row->limited[0], label, row->limited[1]);
        return p;
    }

    for (api = NGX_HTTP_7DIGITAL_API_7D; api <= NGX_HTTP_7DIGITAL_API_CD;
         api++)
    {
        if (!(apis & api)) {
            continue;
        }

        for (c = 0; c < 4; c++) {
            p = ngx_slprintf(p, last, "sevendigital_requests_total"
                             "{%Vapi=\"%V\",code=\"%uixx\"} %uA\n",
                             label, ngx_http_7digital_api_name(api), c + 2,
                             row->requests[api - 1][c]);
        }
    }

    return p;
}


static u_char *
ngx_http_7digital_metrics_out_totals(u_char *p, u_char *last,
    ngx_http_7digital_metrics_totals_t *t)
{
    ngx_http_7digital_metrics_family_t  *f;

    f = ngx_http_7digital_families;

    p = ngx_http_7digital_metrics_out_labelled(p, last,
                                        &f[NGX_HTTP_7DIGITAL_F_REFUSALS],
                                        "reason",
                                        ngx_http_7digital_metrics_reason,
                                        t->refusals,
                                        NGX_HTTP_7DIGITAL_AUTH_OK + 1,
                                        NGX_HTTP_7DIGITAL_AUTH_NSTATUS);

    p = ngx_http_7digital_metrics_out_labelled(p, last,
                                        &f[NGX_HTTP_7DIGITAL_F_CACHE],
                                        "result",
                                        ngx_http_7digital_metrics_result,
                                        t->cache,
                                        NGX_HTTP_7DIGITAL_CACHE_NONE + 1,
                                        NGX_HTTP_7DIGITAL_CACHE_NSTATUS);

    p = ngx_http_7digital_metrics_head(p, last, &f[NGX_HTTP_7DIGITAL_F_FRONT],
                                       "counter");
    p = ngx_slprintf(p, last, "%s %uA\n", f[NGX_HTTP_7DIGITAL_F_FRONT].name,
                     t->cache_front);

    p = ngx_http_7digital_metrics_out_labelled(p, last,
                                        &f[NGX_HTTP_7DIGITAL_F_RECORDS],
                                        "type",
                                        ngx_http_7digital_metrics_record_type,
                                        t->written, 0,
                                        NGX_HTTP_7DIGITAL_RECORD_TYPES);

    p = ngx_http_7digital_metrics_out_labelled(p, last,
                                        &f[NGX_HTTP_7DIGITAL_F_FAILURES],
                                        "type",
                                        ngx_http_7digital_metrics_record_type,
                                        t->failed, 0,
                                        NGX_HTTP_7DIGITAL_RECORD_TYPES);

    p = ngx_http_7digital_metrics_head(p, last, &f[NGX_HTTP_7DIGITAL_F_SALES],
                                       "gauge");
    p = ngx_slprintf(p, last, "%s %A\n", f[NGX_HTTP_7DIGITAL_F_SALES].name,
                     (ngx_atomic_int_t) t->sales);

    p = ngx_http_7digital_metrics_head(p, last,
                                       &f[NGX_HTTP_7DIGITAL_F_REPLAYS],
                                       "counter");
    return ngx_slprintf(p, last, "%s %uA\n",
                        f[NGX_HTTP_7DIGITAL_F_REPLAYS].name, t->replays);
}


/* a counter with one label, from "from" to "to" of its enumeration */

static u_char *
ngx_http_7digital_metrics_out_labelled(u_char *p, u_char *last,
    ngx_http_7digital_metrics_family_t *f, char *label,
    ngx_http_7digital_metrics_name_pt name, ngx_atomic_t *values,
    ngx_uint_t from, ngx_uint_t to)
{
    ngx_uint_t  i;

    p = ngx_http_7digital_metrics_head(p, last, f, "counter");

    for (i = from; i < to; i++) {
        p = ngx_slprintf(p, last, "%s{%s=\"%V\"} %uA\n", f->name, label,
                         name(i), values[i]);
    }

    return p;
}


static ngx_str_t *
ngx_http_7digital_metrics_reason(ngx_uint_t i)
{
    return ngx_http_7digital_auth_name(i);
}


static ngx_str_t *
ngx_http_7digital_metrics_result(ngx_uint_t i)
{
    return &ngx_http_7digital_cache_names[i];
}


static ngx_str_t *
ngx_http_7digital_metrics_record_type(ngx_uint_t i)
{
    return &ngx_http_7digital_record_types[i];
}


/* the Redis counters, then the latency histogram, by connection */

static u_char *
ngx_http_7digital_metrics_out_redis(u_char *p, u_char *last,
    ngx_http_7digital_metrics_totals_t *t)
{
    u_char                              *q;
    ngx_uint_t                           e, i, target;
    ngx_atomic_uint_t                    n;
    ngx_http_7digital_metrics_family_t  *f;
    ngx_http_7digital_metrics_redis_t   *rd;
    u_char                               le[NGX_HTTP_7DIGITAL_SECONDS_LEN];

    for (e = 0; e < NGX_HTTP_7DIGITAL_REDIS_EVENTS; e++) {
        f = &ngx_http_7digital_redis_families[e];
        p = ngx_http_7digital_metrics_head(p, last, f, "counter");

        for (target = 0; target < 2; target++) {
            p = ngx_slprintf(p, last, "%s{target=\"%V\"} %uA\n", f->name,
                             &ngx_http_7digital_redis_targets[target],
                             t->redis[target].events[e]);
        }
    }

    f = &ngx_http_7digital_families[NGX_HTTP_7DIGITAL_F_LATENCY];
    p = ngx_http_7digital_metrics_head(p, last, f, "histogram");

    for (target = 0; target < 2; target++) {
        rd = &t->redis[target];
        n = 0;

        for (i = 0; i < NGX_HTTP_7DIGITAL_BUCKETS; i++) {
            n += rd->buckets[i];

            if (i < NGX_HTTP_7DIGITAL_BUCKETS - 1) {
                q = ngx_http_7digital_seconds(le, ngx_http_7digital_buckets[i]);

            } else {
                q = ngx_cpymem(le, "+Inf", 4);
            }

            p = ngx_slprintf(p, last, "%s_bucket{target=\"%V\",le=\"%*s\"} "
                             "%uA\n", f->name,
                             &ngx_http_7digital_redis_targets[target],
                             (size_t) (q - le), le, n);
        }

        q = ngx_http_7digital_seconds(le, rd->usec);

        p = ngx_slprintf(p, last, "%s_sum{target=\"%V\"} %*s\n"
                         "%s_count{target=\"%V\"} %uA\n",
                         f->name, &ngx_http_7digital_redis_targets[target],
                         (size_t) (q - le), le,
                         f->name, &ngx_http_7digital_redis_targets[target], n);
    }

    return p;
}
