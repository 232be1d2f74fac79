
/*
 * Copyright (C) ngx_7digital_module authors
 */


#ifndef _NGX_HTTP_7DIGITAL_MODULE_H_INCLUDED_
#define _NGX_HTTP_7DIGITAL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_OFF           0


/* why a request was, or was not, let through; $sevendigital_auth_status */
typedef enum {
    NGX_HTTP_7DIGITAL_AUTH_NONE = 0,
    NGX_HTTP_7DIGITAL_AUTH_OK = NGX_HTTP_7DIGITAL_CHECK_OK,
    NGX_HTTP_7DIGITAL_AUTH_MISSING,
    NGX_HTTP_7DIGITAL_AUTH_UNKNOWN = NGX_HTTP_7DIGITAL_CHECK_UNKNOWN,
    NGX_HTTP_7DIGITAL_AUTH_DISABLED = NGX_HTTP_7DIGITAL_CHECK_DISABLED,
    NGX_HTTP_7DIGITAL_AUTH_FORBIDDEN = NGX_HTTP_7DIGITAL_CHECK_FORBIDDEN,
    NGX_HTTP_7DIGITAL_AUTH_CONFLICT,
    NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
    NGX_HTTP_7DIGITAL_AUTH_UNSIGNED,
    NGX_HTTP_7DIGITAL_AUTH_STALE,
    NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE,
    NGX_HTTP_7DIGITAL_AUTH_REPLAY,
    NGX_HTTP_7DIGITAL_AUTH_UNAVAILABLE,
    NGX_HTTP_7DIGITAL_AUTH_EXPIRED = NGX_HTTP_7DIGITAL_CHECK_EXPIRED,
    NGX_HTTP_7DIGITAL_AUTH_NSTATUS      /* how many there are */
} ngx_http_7digital_auth_e;


/* sevendigital_rate_limit_refused not set */
#define NGX_HTTP_7DIGITAL_LIMIT_UNSET  ((uint64_t) -1)

/* sevendigital_rate_limit_headers */
#define NGX_HTTP_7DIGITAL_LIMIT_HEADERS_OFF     0
#define NGX_HTTP_7DIGITAL_LIMIT_HEADERS_DENIED  1
#define NGX_HTTP_7DIGITAL_LIMIT_HEADERS_ALWAYS  2


#define NGX_HTTP_7DIGITAL_IN_HEADER     0
#define NGX_HTTP_7DIGITAL_IN_QUERY      1


typedef struct ngx_http_7digital_redis_op_s  ngx_http_7digital_redis_op_t;


/* which Redis a command is for: state is never evicted, the cache may be */
#define NGX_HTTP_7DIGITAL_REDIS_STATE  0
#define NGX_HTTP_7DIGITAL_REDIS_CACHE  1

/* what the Redis client counts, by connection */
#define NGX_HTTP_7DIGITAL_METRIC_COMMAND    0   /* sent */
#define NGX_HTTP_7DIGITAL_METRIC_ERROR      1   /* error reply, or lost */
#define NGX_HTTP_7DIGITAL_METRIC_TIMEOUT    2
#define NGX_HTTP_7DIGITAL_METRIC_RECONNECT  3
#define NGX_HTTP_7DIGITAL_METRIC_SKIPPED    4   /* not sent: Redis is out */
#define NGX_HTTP_7DIGITAL_REDIS_EVENTS      5

/* the audit trail's records, as counted */
#define NGX_HTTP_7DIGITAL_METRIC_INTENT     0
#define NGX_HTTP_7DIGITAL_METRIC_OUTCOME    1
#define NGX_HTTP_7DIGITAL_METRIC_REFUSED    2
#define NGX_HTTP_7DIGITAL_RECORD_TYPES      3

typedef struct ngx_http_7digital_batch_op_s  ngx_http_7digital_batch_op_t;

/* the reply is NULL when Redis failed, timed out or went away */
typedef void (*ngx_http_7digital_redis_pt)(void *data, void *reply);

/* one command's reply, to the request that added it to its batch */
typedef void (*ngx_http_7digital_reply_pt)(ngx_http_request_t *r,
    void *data, void *reply);

/* a batch's last reply is in */
typedef void (*ngx_http_7digital_resume_pt)(ngx_http_request_t *r,
    void *data);


/*
 * An entry of a shared table: it means nothing once its deadline (in
 * microseconds) has passed; the values are its owner's.
 */
typedef struct {
    uint64_t                        deadline;
    uint64_t                        value[4];
} ngx_http_7digital_shentry_t;


/* a request's Redis commands, sent together and waited for together */
typedef struct {
    ngx_http_request_t             *request;
    ngx_http_7digital_batch_op_t   *ops;
    ngx_uint_t                      pending;
    ngx_http_7digital_resume_pt     resume;
    void                           *data;
    unsigned                        cleanup:1;
    unsigned                        parked:1;
} ngx_http_7digital_batch_t;


/* what Redis said of a sale's idempotency key */
typedef enum {
    NGX_HTTP_7DIGITAL_IDEM_NONE = 0,    /* no key */
    NGX_HTTP_7DIGITAL_IDEM_FIRST,       /* claimed by this request */
    NGX_HTTP_7DIGITAL_IDEM_TAKEN,       /* claimed before, being read */
    NGX_HTTP_7DIGITAL_IDEM_INFLIGHT,    /* same request, no answer yet */
    NGX_HTTP_7DIGITAL_IDEM_MISMATCH,    /* another request's key */
    NGX_HTTP_7DIGITAL_IDEM_REPLAY,      /* the answer is kept */
    NGX_HTTP_7DIGITAL_IDEM_DOWN         /* Redis could not say */
} ngx_http_7digital_idem_e;


/* where the access handler is in its sequence for one request */
typedef enum {
    NGX_HTTP_7DIGITAL_STAGE_BODY = 0,   /* reading a form body */
    NGX_HTTP_7DIGITAL_STAGE_IDENTIFY,   /* the partner and its signature */
    NGX_HTTP_7DIGITAL_STAGE_TOKEN,      /* a user token's secret, from Redis */
    NGX_HTTP_7DIGITAL_STAGE_LOOKUP,     /* nonce and cache entry, one batch */
    NGX_HTTP_7DIGITAL_STAGE_LOCK,       /* a miss: the refresh lock */
    NGX_HTTP_7DIGITAL_STAGE_DONE        /* decided; forwarded or answered */
} ngx_http_7digital_stage_e;


typedef struct {
    ngx_str_t                       host;        /* numeric, NUL-ended */
    ngx_uint_t                      port;
    ngx_str_t                       unix_path;   /* NUL-ended */
    ngx_str_t                       password;
    ngx_int_t                       db;
    ngx_msec_t                      timeout;
    ngx_msec_t                      connect_timeout;
    unsigned                        configured:1;
} ngx_http_7digital_redis_conf_t;


typedef enum {
    NGX_HTTP_7DIGITAL_CACHE_NONE = 0,
    NGX_HTTP_7DIGITAL_CACHE_HIT,
    NGX_HTTP_7DIGITAL_CACHE_MISS,
    NGX_HTTP_7DIGITAL_CACHE_EXPIRED,
    NGX_HTTP_7DIGITAL_CACHE_BYPASS,
    NGX_HTTP_7DIGITAL_CACHE_STALE,
    NGX_HTTP_7DIGITAL_CACHE_UPDATING,
    NGX_HTTP_7DIGITAL_CACHE_NSTATUS     /* how many there are */
} ngx_http_7digital_cache_status_e;


typedef struct {
    ngx_uint_t                      status;
    time_t                          valid;
} ngx_http_7digital_cache_valid_t;


typedef struct {
    ngx_http_7digital_registry_t   *registry;
    ngx_http_7digital_redis_conf_t  redis;
    ngx_http_7digital_redis_conf_t  redis_cache;
    ngx_shm_zone_t                 *nonce_zone;
    size_t                          nonce_cache_size;
    ngx_http_7digital_hmac_t       *nonce_hmac;   /* a nonce's digest */
    ngx_shm_zone_t                 *limit_zone;
    ngx_array_t                    *front_zones;   /* ngx_shm_zone_t * */
    ngx_uint_t                      limit_nodes;
    ngx_msec_t                      limit_lease;
    ngx_flag_t                      log_credentials;
    ngx_int_t                       request_id;   /* variable index */
    ngx_shm_zone_t                 *metrics_zone;
    ngx_uint_t                      metrics;      /* a location shows them */
} ngx_http_7digital_main_conf_t;


/* scheme://host[:port], what an OAuth base string URI starts with */
typedef struct {
    ngx_str_t                       scheme;
    ngx_str_t                       host;
    ngx_uint_t                      port;
} ngx_http_7digital_origin_t;


typedef struct {
    ngx_uint_t                      api;
    ngx_str_t                       upstream_key;
    ngx_str_t                       upstream_secret;
    ngx_str_t                       upstream_secret_file;
    ngx_http_7digital_hmac_t       *upstream_hmac;    /* keyed: the secret */
    ngx_http_7digital_hmac_t       *upstream_oauth;   /* enc(secret) "&" */
    ngx_flag_t                      require_signature;
    time_t                          signature_window;
    ngx_uint_t                      oauth_sign;
    ngx_uint_t                      oauth_placement;
    ngx_http_7digital_origin_t     *upstream_origin;
    ngx_http_7digital_origin_t     *public_origin;
    ngx_uint_t                      oauth_tokens;
    time_t                          oauth_token_ttl;
    ngx_array_t                    *endpoints;   /* override_t */
    ngx_open_file_t                *audit_file;
    ngx_flag_t                      audit_personal_data;
    ngx_flag_t                      audit_sync;
    void                           *audit_pool;   /* ngx_thread_pool_t */
    ngx_str_t                       audit_stream;
    ngx_uint_t                      audit_stream_maxlen;
    ngx_http_7digital_limit_t       limits[4];   /* by endpoint class */
    ngx_http_7digital_limit_t       limit_refused;   /* per address */
    ngx_uint_t                      limit_headers;
    ngx_uint_t                      error_api;   /* sevendigital_error */
    ngx_flag_t                      idempotency;
    time_t                          idempotency_ttl;
    ngx_flag_t                      cache;
    ngx_array_t                    *cache_valid;
    size_t                          cache_max_size;
    time_t                          cache_stale;
    ngx_msec_t                      cache_lock_timeout;
    ngx_flag_t                      cache_background_update;
    ngx_shm_zone_t                 *cache_front;
    ngx_uint_t                      purge_api;
    ngx_http_complex_value_t       *purge_path;
} ngx_http_7digital_loc_conf_t;


/* what the access phase parsed once and the later steps reuse */
typedef struct {
    ngx_array_t                     query;     /* param_t */
    ngx_array_t                     body;      /* param_t */
    ngx_array_t                     header;    /* param_t */
    ngx_str_t                       body_text;
    unsigned                        form:1;
} ngx_http_7digital_input_t;


typedef struct ngx_http_7digital_ctx_s {
    ngx_http_7digital_route_t       route;
    ngx_str_t                       route_path;
    ngx_str_t                       route_name;
    ngx_uint_t                      api;
    ngx_uint_t                      sign;       /* effective, 7digital */
    ngx_uint_t                      tokens;     /* effective */
    ngx_http_7digital_partner_t    *partner;
    ngx_http_7digital_auth_e        auth;
    ngx_http_7digital_input_t       in;
    ngx_str_t                       cd_auth_data;
    u_char                          nonce[NGX_HTTP_7DIGITAL_DIGEST_LEN];
    time_t                          nonce_expires;
    ngx_http_7digital_stage_e       stage;
    ngx_http_7digital_batch_t       batch;
    ngx_str_t                       token;
    ngx_str_t                       token_secret;
    ngx_str_t                       token_partner;
    ngx_buf_t                      *captured;
    ngx_buf_t                      *audit_body;
    ngx_http_7digital_loc_conf_t   *audit_conf;
    ngx_str_t                       idempotency_key;
    ngx_str_t                       idem_redis_key;
    ngx_str_t                       idem_stored;
    ngx_str_t                       idem_claim;   /* "P\n<fp>\n<id>" */
    ngx_http_7digital_idem_e        idem;
    ngx_http_7digital_limit_t       limit;     /* the one applied */
    ngx_str_t                       limit_key;
    ngx_str_t                       limit_lease;   /* this node's share */
    ngx_str_t                       limit_policy;
    ngx_http_7digital_gcra_t        limit_result;
    uint64_t                        limit_ask;
    uint64_t                        limit_back;
    ngx_int_t                       idem_status;   /* of a kept answer */
    u_char                          idem_fp[2 * NGX_HTTP_7DIGITAL_DIGEST_LEN];
    ngx_str_t                       cache_key;
    const char                    **cache_argv;   /* MGET key scopes... */
    size_t                         *cache_argvlen;
    ngx_uint_t                      cache_argc;
    uint64_t                        cache_generation;
    ngx_str_t                       lock_key;
    ngx_str_t                       cache_bytes;  /* the entry, encoded */
    ngx_shm_zone_t                 *front;
    ngx_uint_t                      front_epoch;  /* when Redis was asked */
    ngx_msec_t                      front_lock;   /* the node lock's token */
    ngx_http_7digital_cache_entry_t *cache_entry;
    ngx_http_7digital_cache_entry_t *cache_stale;
    ngx_buf_t                      *cache_buf;
    time_t                          cache_ttl;
    ngx_event_t                     lock_timer;
    ngx_msec_t                      lock_deadline;
    ngx_uint_t                      lock;
    struct ngx_http_7digital_ctx_s *early;    /* $sevendigital_partner's */
    ngx_http_7digital_cache_status_e  cache_status;
    u_char                          token_kind;
    u_char                          lock_token[NGX_HTTP_7DIGITAL_NONCE_LEN];
    unsigned                        token_loaded:1;
    unsigned                        token_found:1;
    unsigned                        token_store_down:1;
    unsigned                        capture:1;
    unsigned                        in_parsed:1;
    unsigned                        cache_store:1;
    unsigned                        cache_capture:1;
    unsigned                        cache_serving_stale:1;
    unsigned                        cache_background:1;
    unsigned                        cache_refresh:1;
    unsigned                        lock_free:1;
    unsigned                        lock_entry:1;
    unsigned                        cache_front:1;    /* served from shm */
    unsigned                        front_unavailable:1;  /* Redis is not */
    unsigned                        cd_hashed:1;
    unsigned                        has_nonce:1;
    unsigned                        replay:1;
    unsigned                        body_read:1;
    unsigned                        audited:1;
    unsigned                        audit_done:1;
    unsigned                        audit_capture:1;
    unsigned                        audit_body_complete:1;
    unsigned                        audit_syncing:1;
    unsigned                        audit_synced:1;
    unsigned                        audit_sync_failed:1;
    unsigned                        audit_in_flight:1;   /* in the gauge */
    unsigned                        idem_replayed:1;
    unsigned                        idem_unread:1;
    unsigned                        idem_kept:1;
    unsigned                        idem_settled:1;
    unsigned                        idem_claim_sent:1;
    unsigned                        limit_counted:1;
    unsigned                        limit_denied:1;
    unsigned                        limit_local:1;
    unsigned                        limit_eval:1;
} ngx_http_7digital_ctx_t;


/* an error answered in the upstream API's own format */
typedef struct {
    ngx_uint_t                      status;
    ngx_uint_t                      code;        /* 7digital error code */
    ngx_str_t                       parameter;   /* Choose Digital */
    ngx_str_t                       message;
    unsigned                        oauth:1;     /* 7digital plain text */
    unsigned                        xml:1;       /* XML whatever Accept */
} ngx_http_7digital_error_t;


extern ngx_module_t  ngx_http_7digital_module;


/* ngx_http_7digital_module.c */
ngx_uint_t ngx_http_7digital_api(ngx_str_t *name);
ngx_str_t *ngx_http_7digital_api_name(ngx_uint_t api);
ngx_http_7digital_ctx_t *ngx_http_7digital_get_ctx(ngx_http_request_t *r);
ngx_http_7digital_ctx_t *ngx_http_7digital_find_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_7digital_route(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);

/* ngx_http_7digital_batch.c */
ngx_int_t ngx_http_7digital_batch_add(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_uint_t target,
    ngx_http_7digital_reply_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);
ngx_int_t ngx_http_7digital_batch_set_nx(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_uint_t target,
    ngx_http_7digital_reply_pt handler, void *data, ngx_str_t *key,
    ngx_str_t *value, char *unit, ngx_uint_t amount);
ngx_int_t ngx_http_7digital_batch_park(ngx_http_request_t *r,
    ngx_http_7digital_batch_t *b, ngx_http_7digital_resume_pt resume,
    void *data, ngx_uint_t content);
void ngx_http_7digital_batch_run_phases(ngx_http_request_t *r, void *data);

/* ngx_http_7digital_request.c */
ngx_int_t ngx_http_7digital_read_input(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_input_t *in,
    ngx_uint_t with_body, ngx_http_7digital_error_t *err);
ngx_uint_t ngx_http_7digital_wants_body(ngx_http_request_t *r);
ngx_int_t ngx_http_7digital_input_error(ngx_pool_t *pool, ngx_uint_t problem,
    const char *what, ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_body_text(ngx_http_request_t *r, ngx_str_t *text);
ngx_int_t ngx_http_7digital_set_body(ngx_http_request_t *r, ngx_str_t *text);
ngx_int_t ngx_http_7digital_set_args(ngx_http_request_t *r, ngx_str_t *args);
ngx_int_t ngx_http_7digital_remove_headers(ngx_http_request_t *r,
    ngx_str_t *names);
ngx_int_t ngx_http_7digital_add_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
ngx_table_elt_t *ngx_http_7digital_find_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_uint_t *count);
ngx_int_t ngx_http_7digital_capture(ngx_http_request_t *r, ngx_buf_t **buf,
    size_t max, ngx_chain_t *in);
ngx_int_t ngx_http_7digital_send_answer(ngx_http_request_t *r,
    ngx_str_t *body);
void ngx_http_7digital_upstream_outcome(ngx_http_request_t *r,
    ngx_uint_t *sent, ngx_int_t *status, ngx_uint_t *tries);

/* ngx_http_7digital_sevendigital.c / ngx_http_7digital_choose.c */
ngx_int_t ngx_http_7digital_7d_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_7d_forward(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_cd_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_cd_forward(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);

/* ngx_http_7digital_redis.c */
ngx_int_t ngx_http_7digital_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_7digital_redis_conf_t *conf, ngx_uint_t target);
void ngx_http_7digital_redis_exit_worker(void);
ngx_int_t ngx_http_7digital_redis_command(ngx_uint_t target,
    ngx_http_7digital_redis_op_t **opp, ngx_http_7digital_redis_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen);
void ngx_http_7digital_redis_cancel(ngx_http_7digital_redis_op_t *op);
ngx_uint_t ngx_http_7digital_redis_configured(ngx_uint_t target);
ngx_uint_t ngx_http_7digital_redis_exiting(void);
void ngx_http_7digital_redis_keep(void *reply);
void ngx_http_7digital_redis_release(void *reply);

/* ngx_http_7digital_shtable.c */
typedef struct {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
} ngx_http_7digital_shtree_t;

void *ngx_http_7digital_shtree(ngx_shm_zone_t *zone, size_t size,
    ngx_rbtree_insert_pt insert);
ngx_shm_zone_t *ngx_http_7digital_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, ngx_shm_zone_init_pt init, void *data);
ngx_int_t ngx_http_7digital_zone_arg(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_str_t *name, size_t *size);
ngx_shm_zone_t *ngx_http_7digital_shtable_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);
void ngx_http_7digital_shtable_lock(ngx_shm_zone_t *zone);
void ngx_http_7digital_shtable_unlock(ngx_shm_zone_t *zone);
ngx_http_7digital_shentry_t *ngx_http_7digital_shtable_get(
    ngx_shm_zone_t *zone, ngx_str_t *key, uint64_t now);
ngx_uint_t *ngx_http_7digital_shtable_flags(ngx_shm_zone_t *zone);
uint64_t ngx_http_7digital_shtable_now(void);

/* ngx_http_7digital_nonce.c */
ngx_int_t ngx_http_7digital_nonce_check(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
char *ngx_http_7digital_nonce_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf);

/* ngx_http_7digital_token.c */
ngx_int_t ngx_http_7digital_token_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_7digital_token_lookup(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);

/* ngx_http_7digital_front.c: the cache's shared-memory front tier */
typedef struct {
    ngx_str_t                       bytes;       /* the entry, encoded */
    ngx_uint_t                      epoch;       /* when Redis was asked */
    time_t                          stored;
    time_t                          keep_until;  /* servable until */
    ngx_uint_t                      now;         /* admitted at once */
} ngx_http_7digital_front_copy_t;

char *ngx_http_7digital_front_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_7digital_front(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_uint_t ngx_http_7digital_front_epoch(ngx_shm_zone_t *zone);
ngx_int_t ngx_http_7digital_front_get(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_uint_t unavailable, ngx_pool_t *pool, ngx_str_t *bytes);
void ngx_http_7digital_front_put(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_http_7digital_front_copy_t *copy);
ngx_int_t ngx_http_7digital_front_lock(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_msec_t timeout, ngx_msec_t *token);
ngx_uint_t ngx_http_7digital_front_locked(ngx_shm_zone_t *zone,
    ngx_str_t *key);
void ngx_http_7digital_front_unlock(ngx_shm_zone_t *zone, ngx_str_t *key,
    ngx_msec_t token);
ngx_uint_t ngx_http_7digital_front_is_zone(ngx_shm_zone_t *zone);
void ngx_http_7digital_front_purged(ngx_array_t *zones, ngx_int_t counted);
ngx_int_t ngx_http_7digital_front_init_worker(ngx_cycle_t *cycle,
    ngx_array_t *zones);
void ngx_http_7digital_front_exit_worker(void);
ngx_str_t *ngx_http_7digital_front_purges_key(void);

/* ngx_http_7digital_cache.c */
ngx_int_t ngx_http_7digital_cache_init_filters(ngx_conf_t *cf);
ngx_int_t ngx_http_7digital_cache_lookup(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_cache_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_cache_entry_key(ngx_pool_t *pool, ngx_uint_t api,
    ngx_str_t *path, ngx_str_t *format, ngx_array_t *params, ngx_str_t *key);
ngx_int_t ngx_http_7digital_cache_refresh(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_cache_lock(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_cache_lock_wait(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
ngx_uint_t ngx_http_7digital_cache_locked(ngx_http_7digital_ctx_t *ctx);
void ngx_http_7digital_cache_unlock(ngx_http_7digital_ctx_t *ctx);

/* ngx_http_7digital_purge.c */
char *ngx_http_7digital_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_7digital_audit.c */
ngx_int_t ngx_http_7digital_audit_init(ngx_conf_t *cf);
char *ngx_http_7digital_audit_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_7digital_audit_merge(ngx_conf_t *cf,
    ngx_http_7digital_loc_conf_t *prev, ngx_http_7digital_loc_conf_t *conf);
ngx_int_t ngx_http_7digital_audit_intent(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
void ngx_http_7digital_audit_outcome(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_audit_sync(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);

/* ngx_http_7digital_idempotency.c */
ngx_int_t ngx_http_7digital_idem_claim(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_idem_decide(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_idem_send(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
void ngx_http_7digital_idem_finish(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf);
void ngx_http_7digital_idem_exit_worker(void);
ngx_int_t ngx_http_7digital_idem_init_filters(ngx_conf_t *cf);
void ngx_http_7digital_audit_refused(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_uint_t status, ngx_str_t *reason);

/* ngx_http_7digital_limit.c */
ngx_int_t ngx_http_7digital_limit_init(void);
ngx_int_t ngx_http_7digital_limit_filter_init(void);
char *ngx_http_7digital_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_7digital_limit_default_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf);
ngx_int_t ngx_http_7digital_limit_check(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
ngx_int_t ngx_http_7digital_limit_refused(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
ngx_int_t ngx_http_7digital_limit_refuse(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err);

/* ngx_http_7digital_error.c */
ngx_uint_t ngx_http_7digital_wants_json(ngx_http_request_t *r);
ngx_int_t ngx_http_7digital_error_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_7digital_send_error(ngx_http_request_t *r,
    ngx_uint_t api, ngx_http_7digital_error_t *err);
ngx_str_t *ngx_http_7digital_auth_name(ngx_http_7digital_auth_e auth);
ngx_uint_t ngx_http_7digital_auth_guess(ngx_http_7digital_auth_e auth);
void ngx_http_7digital_auth_error(ngx_uint_t api,
    ngx_http_7digital_auth_e auth, ngx_str_t *param,
    ngx_http_7digital_error_t *err);

/* ngx_http_7digital_metrics.c */
char *ngx_http_7digital_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_7digital_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_7digital_metrics_default_zone(ngx_conf_t *cf,
    ngx_http_7digital_main_conf_t *mcf);
void ngx_http_7digital_metrics_init_process(ngx_cycle_t *cycle);
void ngx_http_7digital_metrics_request(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
uint64_t ngx_http_7digital_metrics_clock(void);
void ngx_http_7digital_metrics_redis(ngx_uint_t target, ngx_uint_t what);
void ngx_http_7digital_metrics_redis_latency(ngx_uint_t target,
    uint64_t start);
void ngx_http_7digital_metrics_record(ngx_uint_t type, ngx_uint_t written);
void ngx_http_7digital_metrics_sales(ngx_int_t n);
void ngx_http_7digital_metrics_replay(void);

/* ngx_http_7digital_var.c */
extern ngx_str_t  ngx_http_7digital_cache_names[];
ngx_int_t ngx_http_7digital_hide_credentials(ngx_http_request_t *r);
ngx_int_t ngx_http_7digital_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_7DIGITAL_MODULE_H_INCLUDED_ */
