
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Directives, configuration, and the access phase handler that runs the
 * gateway's checks in a fixed order for one request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


#define NGX_HTTP_7DIGITAL_MAX_SECRET_FILE  4096


static ngx_int_t ngx_http_7digital_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_read_body(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static void ngx_http_7digital_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_stages(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_replay(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_decide(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_answer_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_record_sale(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_dispatch(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static ngx_uint_t ngx_http_7digital_resent(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static ngx_int_t ngx_http_7digital_refuse(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_deliver_params(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_conflict(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_str_t *name,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_check_path(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err);
static void ngx_http_7digital_ctx_cleanup(void *data);
static void ngx_http_7digital_redirected(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx);
static void *ngx_http_7digital_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_7digital_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_7digital_init_process(ngx_cycle_t *cycle);
static void ngx_http_7digital_exit_process(ngx_cycle_t *cycle);
static char *ngx_http_7digital_redis_address(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_redis_password(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void *ngx_http_7digital_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_7digital_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_7digital_init(ngx_conf_t *cf);
static char *ngx_http_7digital_partners(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_7digital_gateway(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_7digital_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_7digital_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_origin_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_7digital_enum_value(ngx_conf_enum_t *e,
    ngx_str_t *word, ngx_uint_t *value);
static char *ngx_http_7digital_rate_limit(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_rate_limit_refused(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_limit_args(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_uint_t first, ngx_http_7digital_limit_t *limit);
static char *ngx_http_7digital_audit_stream(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_7digital_cache_valid(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_array_t *ngx_http_7digital_default_valid(ngx_conf_t *cf);
static ngx_int_t ngx_http_7digital_read_secret(ngx_conf_t *cf,
    ngx_str_t *file, ngx_str_t *secret);


static ngx_str_t  ngx_http_7digital_nonce_param = ngx_string("oauth_nonce");
static ngx_str_t  ngx_http_7digital_none = ngx_string("-");


static ngx_conf_enum_t  ngx_http_7digital_signs[] = {
    { ngx_string("auto"), NGX_HTTP_7DIGITAL_SIGN_AUTO },
    { ngx_string("off"), NGX_HTTP_7DIGITAL_SIGN_OFF },
    { ngx_string("2-legged"), NGX_HTTP_7DIGITAL_SIGN_2LEGGED },
    { ngx_string("3-legged"), NGX_HTTP_7DIGITAL_SIGN_3LEGGED },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_7digital_tokens[] = {
    { ngx_string("auto"), NGX_HTTP_7DIGITAL_TOKENS_AUTO },
    { ngx_string("off"), NGX_HTTP_7DIGITAL_TOKENS_OFF },
    { ngx_string("request"), NGX_HTTP_7DIGITAL_TOKENS_REQUEST },
    { ngx_string("access"), NGX_HTTP_7DIGITAL_TOKENS_ACCESS },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_7digital_limit_headers[] = {
    { ngx_string("off"), NGX_HTTP_7DIGITAL_LIMIT_HEADERS_OFF },
    { ngx_string("denied"), NGX_HTTP_7DIGITAL_LIMIT_HEADERS_DENIED },
    { ngx_string("always"), NGX_HTTP_7DIGITAL_LIMIT_HEADERS_ALWAYS },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_7digital_placements[] = {
    { ngx_string("header"), NGX_HTTP_7DIGITAL_IN_HEADER },
    { ngx_string("query"), NGX_HTTP_7DIGITAL_IN_QUERY },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_7digital_apis[] = {
    { ngx_string("off"), NGX_HTTP_7DIGITAL_OFF },
    { ngx_string("7digital"), NGX_HTTP_7DIGITAL_API_7D },
    { ngx_string("choosedigital"), NGX_HTTP_7DIGITAL_API_CD },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_7digital_commands[] = {

    { ngx_string("sevendigital_partners"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_partners,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_redis_address,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, redis),
      NULL },

    { ngx_string("sevendigital_redis_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_7digital_redis_address,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, redis_cache),
      NULL },

    { ngx_string("sevendigital_redis_password_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_redis_password,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_redis_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, redis.db),
      NULL },

    { ngx_string("sevendigital_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, redis.timeout),
      NULL },

    { ngx_string("sevendigital_redis_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, redis.connect_timeout),
      NULL },

    { ngx_string("sevendigital_log_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, log_credentials),
      NULL },

    { ngx_string("sevendigital_nonce_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_7digital_main_conf_t, nonce_cache_size),
      NULL },

    { ngx_string("sevendigital_gateway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_gateway,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_upstream_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, upstream_key),
      NULL },

    { ngx_string("sevendigital_oauth_sign"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, oauth_sign),
      &ngx_http_7digital_signs },

    { ngx_string("sevendigital_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_7digital_endpoint,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_audit_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_audit_log,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_audit_personal_data"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, audit_personal_data),
      NULL },

    { ngx_string("sevendigital_audit_sync"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, audit_sync),
      NULL },

    { ngx_string("sevendigital_audit_stream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_7digital_audit_stream,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_7digital_rate_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_rate_limit_refused"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_7digital_rate_limit_refused,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_rate_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, limit_headers),
      &ngx_http_7digital_limit_headers },

    { ngx_string("sevendigital_rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_7digital_limit_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_7digital_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_idempotency"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, idempotency),
      NULL },

    { ngx_string("sevendigital_idempotency_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, idempotency_ttl),
      NULL },

    { ngx_string("sevendigital_oauth_tokens"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, oauth_tokens),
      &ngx_http_7digital_tokens },

    { ngx_string("sevendigital_oauth_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, oauth_token_ttl),
      NULL },

    { ngx_string("sevendigital_oauth_placement"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, oauth_placement),
      &ngx_http_7digital_placements },

    { ngx_string("sevendigital_upstream_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_origin_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, upstream_origin),
      NULL },

    { ngx_string("sevendigital_public_origin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_origin_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, public_origin),
      NULL },

    { ngx_string("sevendigital_cache"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, cache),
      NULL },

    { ngx_string("sevendigital_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_7digital_cache_valid,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_cache_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, cache_max_size),
      NULL },

    { ngx_string("sevendigital_cache_lock_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, cache_lock_timeout),
      NULL },

    { ngx_string("sevendigital_cache_front_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_7digital_front_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_cache_front"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_front,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_cache_stale"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, cache_stale),
      NULL },

    { ngx_string("sevendigital_cache_background_update"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, cache_background_update),
      NULL },

    { ngx_string("sevendigital_cache_purge"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_7digital_cache_purge,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("sevendigital_require_signature"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, require_signature),
      NULL },

    { ngx_string("sevendigital_signature_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_7digital_loc_conf_t, signature_window),
      NULL },

    { ngx_string("sevendigital_upstream_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_7digital_secret_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_7digital_module_ctx = {
    ngx_http_7digital_add_variables,       /* preconfiguration */
    ngx_http_7digital_init,                /* postconfiguration */

    ngx_http_7digital_create_main_conf,    /* create main configuration */
    ngx_http_7digital_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_7digital_create_loc_conf,     /* create location configuration */
    ngx_http_7digital_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_7digital_module = {
    NGX_MODULE_V1,
    &ngx_http_7digital_module_ctx,         /* module context */
    ngx_http_7digital_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_7digital_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_7digital_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The access handler runs one request through its stages in order:
 * identify the partner and verify what it signed (a user token's secret
 * may have to come from Redis first), then one Redis batch for the nonce
 * and the cache entry, then, on a miss, the refresh lock; then decide:
 * refuse, forward re-signed, or leave a hit to the precontent phase.
 * Each stage that waits on Redis parks the request; the phases run again
 * when the batch is complete and the handler goes on where it was.
 */

static ngx_int_t
ngx_http_7digital_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    if (lcf->api == NGX_HTTP_7DIGITAL_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_7digital_get_ctx(r);

    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->batch.parked || ctx->lock_timer.timer_set) {
        return NGX_AGAIN;
    }

    switch (ctx->stage) {

    case NGX_HTTP_7DIGITAL_STAGE_BODY:
        rc = ngx_http_7digital_read_body(r, ctx);
        break;

    case NGX_HTTP_7DIGITAL_STAGE_DONE:
        /* an internal redirect after the checks: the request is rewritten */
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: checked before a redirect, auth %ui",
                       (ngx_uint_t) ctx->auth);
        return ctx->auth == NGX_HTTP_7DIGITAL_AUTH_OK ? NGX_DECLINED
                                                      : NGX_HTTP_FORBIDDEN;

    default:
        rc = NGX_OK;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    /* a refusal is answered and the request freed inside: no ctx after */
    return ngx_http_7digital_stages(r, lcf, ctx);
}


/*
 * A form body is read first, without blocking; its reference is dropped
 * at once, as the mirror module does, so that when reading fails later
 * nginx finalizes the request itself and nothing is left behind.
 */

static ngx_int_t
ngx_http_7digital_read_body(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    ctx->stage = NGX_HTTP_7DIGITAL_STAGE_IDENTIFY;

    if (ctx->body_read || !ngx_http_7digital_wants_body(r)) {
        return NGX_OK;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_7digital_body_handler);

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);

    if (ctx->body_read) {
        return NGX_OK;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: waiting for the request body");

    ctx->stage = NGX_HTTP_7DIGITAL_STAGE_BODY;

    return NGX_DONE;
}


static void
ngx_http_7digital_body_handler(ngx_http_request_t *r)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_7digital_get_ctx(r);

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->body_read = 1;

    if (ctx->stage == NGX_HTTP_7DIGITAL_STAGE_BODY) {
        ctx->stage = NGX_HTTP_7DIGITAL_STAGE_IDENTIFY;
        ngx_http_7digital_batch_run_phases(r, NULL);
    }
}


static ngx_int_t
ngx_http_7digital_stages(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_7digital_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_7digital_error_t));

    switch (ctx->stage) {

    case NGX_HTTP_7DIGITAL_STAGE_IDENTIFY:
        if (ngx_http_7digital_route(r, lcf, ctx) != NGX_OK) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_7digital_check_path(r, ctx, &err);

        if (rc != NGX_OK) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            return rc == NGX_DECLINED ? ngx_http_7digital_refuse(r, lcf, ctx,
                                                                 &err)
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* fall through */

    case NGX_HTTP_7DIGITAL_STAGE_TOKEN:
        rc = ngx_http_7digital_identify(r, lcf, ctx, &err);

        if (rc == NGX_DECLINED) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;

            /* too many refusals from one address: slowed down */
            if (ngx_http_7digital_limit_refused(r, lcf, ctx, &err)
                == NGX_ERROR)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_7digital_refuse(r, lcf, ctx, &err);
        }

        if (rc != NGX_OK) {
            return rc;
        }

        rc = ngx_http_7digital_deliver_params(r, ctx, &err);

        if (rc == NGX_OK) {
            rc = ngx_http_7digital_idem_claim(r, lcf, ctx, &err);
        }

        if (rc != NGX_OK) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            return rc == NGX_DECLINED ? ngx_http_7digital_refuse(r, lcf, ctx,
                                                                 &err)
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->stage = NGX_HTTP_7DIGITAL_STAGE_LOOKUP;

        /* the nonce, a sale's key, the cache entry: one round trip */
        if ((ctx->has_nonce
             && ngx_http_7digital_nonce_check(r, ctx) == NGX_ERROR)
            || (!ctx->replay  /* a replay this node saw is not counted */
                && ngx_http_7digital_limit_check(r, lcf, ctx) == NGX_ERROR)
            || ngx_http_7digital_cache_lookup(r, lcf, ctx) == NGX_ERROR)
        {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_7digital_batch_park(r, &ctx->batch,
                                         ngx_http_7digital_batch_run_phases,
                                         NULL, 0)
            == NGX_AGAIN)
        {
            return NGX_AGAIN;
        }

        /* fall through */

    case NGX_HTTP_7DIGITAL_STAGE_LOOKUP:

        /* the nonce's verdict first: a refused request is never served */
        if (ctx->replay) {
            return ngx_http_7digital_replay(r, lcf, ctx);
        }

        /* over the partner's limit: refused, a hit included */
        if (ctx->limit_denied) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            ctx->cache_entry = NULL;
            ctx->cache_store = 0;

            if (ngx_http_7digital_limit_refuse(r, ctx, &err) == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_7digital_refuse(r, lcf, ctx, &err);
        }

        if (ngx_http_7digital_idem_decide(r, ctx, &err) != NGX_OK) {
            ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
            return ngx_http_7digital_refuse(r, lcf, ctx, &err);
        }

        ctx->stage = NGX_HTTP_7DIGITAL_STAGE_LOCK;

        /* a miss: one request refreshes the entry, the others wait for it */
        if (ctx->cache_store) {
            rc = ngx_http_7digital_cache_lock(r, lcf, ctx);

            if (rc == NGX_ERROR) {
                ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_AGAIN) {
                return NGX_AGAIN;
            }
        }

        /* fall through */

    case NGX_HTTP_7DIGITAL_STAGE_LOCK:
        rc = ngx_http_7digital_cache_lock_wait(r, lcf, ctx);

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_7digital_decide(r, lcf, ctx);

    default:
        return NGX_DECLINED;
    }
}


/*
 * The request's endpoint from the table, and what follows from it unless
 * the location says otherwise: the signing (none without an upstream
 * secret to sign with) and whether it issues user tokens.
 */

ngx_int_t
ngx_http_7digital_route(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t   path;
    ngx_uint_t  sign;

    if (ctx->route.endpoint) {
        return NGX_OK;
    }

    /* $sevendigital_partner, read before the access phase, found it once */
    if (ctx->early && ctx->early->route.endpoint) {
        ctx->route = ctx->early->route;
        ctx->route_path = ctx->early->route_path;
        ctx->route_name = ctx->early->route_name;
        ctx->api = ctx->early->api;
        ctx->sign = ctx->early->sign;
        ctx->tokens = ctx->early->tokens;
        return NGX_OK;
    }

    if (ngx_http_7digital_endpoint_path(r->pool, lcf->api, &r->uri, &path)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_7digital_endpoint_match(lcf->api, &path,
                                 ngx_http_7digital_method_bit(&r->method_name),
                                 lcf->endpoints, &ctx->route);

    ctx->api = lcf->api;
    ctx->route_path = path;

    if (ngx_http_7digital_endpoint_name(r->pool, &ctx->route, &path,
                                        &ctx->route_name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sign = (lcf->oauth_sign == NGX_HTTP_7DIGITAL_SIGN_AUTO) ? ctx->route.sign
                                                            : lcf->oauth_sign;

    if (lcf->api != NGX_HTTP_7DIGITAL_API_7D || lcf->upstream_secret.len == 0
        || lcf->upstream_origin == NULL)
    {
        sign = NGX_HTTP_7DIGITAL_SIGN_OFF;
    }

    ctx->sign = sign;

    if (lcf->oauth_tokens != NGX_HTTP_7DIGITAL_TOKENS_AUTO) {
        ctx->tokens = lcf->oauth_tokens;

    } else {
        ctx->tokens = (sign == NGX_HTTP_7DIGITAL_SIGN_OFF)
                      ? NGX_HTTP_7DIGITAL_TOKENS_OFF
                      : ctx->route.endpoint->tokens;
    }

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: endpoint \"%V\" for \"%V\", class %ui, "
                   "sign %ui, tokens %ui", &ctx->route.endpoint->pattern,
                   &path, ctx->route.class, ctx->sign, ctx->tokens);

    return NGX_OK;
}


/*
 * NGX_OK: the partner is known and what it signed verified.  A user
 * token's secret comes from Redis first: NGX_AGAIN parks the request and
 * the stage runs again with the secret (or knowing that there is none).
 */

static ngx_int_t
ngx_http_7digital_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_int_t  rc;

    if (lcf->api == NGX_HTTP_7DIGITAL_API_CD) {
        rc = ngx_http_7digital_cd_identify(r, lcf, ctx, err);
        goto done;
    }

    rc = ngx_http_7digital_7d_identify(r, lcf, ctx, err);

    if (rc != NGX_OK || ctx->token.len == 0 || ctx->token_loaded) {
        goto done;
    }

    /* a user token: its secret first, then the signature is verified */
    ctx->stage = NGX_HTTP_7DIGITAL_STAGE_TOKEN;

    rc = ngx_http_7digital_token_lookup(r, ctx);

    if (rc == NGX_ERROR) {
        goto done;
    }

    if (rc == NGX_OK
        && ngx_http_7digital_batch_park(r, &ctx->batch,
                                        ngx_http_7digital_batch_run_phases,
                                        NULL, 0)
           == NGX_AGAIN)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: waiting for a user token's secret");
        return NGX_AGAIN;
    }

    /* no token store now: verified again, knowing there is no secret */
    ctx->token_loaded = 1;
    ctx->token_store_down = (rc == NGX_DECLINED);

    ngx_memzero(err, sizeof(ngx_http_7digital_error_t));
    rc = ngx_http_7digital_7d_identify(r, lcf, ctx, err);

done:

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: identified, rc %i, auth %ui", rc,
                   (ngx_uint_t) ctx->auth);

    return rc;
}


static ngx_int_t
ngx_http_7digital_replay(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_7digital_error_t  err;

    ngx_memzero(&err, sizeof(ngx_http_7digital_error_t));

    ctx->stage = NGX_HTTP_7DIGITAL_STAGE_DONE;
    ctx->auth = NGX_HTTP_7DIGITAL_AUTH_REPLAY;
    ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_NONE;
    ctx->cache_entry = NULL;
    ctx->cache_store = 0;

    ngx_http_7digital_auth_error(lcf->api, NGX_HTTP_7DIGITAL_AUTH_REPLAY,
                                 &ngx_http_7digital_nonce_param, &err);

    return ngx_http_7digital_refuse(r, lcf, ctx, &err);
}


/*
 * A passed check grants nothing (NGX_DECLINED, not NGX_OK): under
 * "satisfy any" the location's own rules still decide.  A hit waits for
 * them too, and is sent from the precontent phase.
 */

static ngx_int_t
ngx_http_7digital_decide(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->cache_entry) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: cache hit, sent after the access "
                       "checks");
        return NGX_DECLINED;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: partner \"%V\" forwarded",
                   &ctx->partner->id);

    if (lcf->api == NGX_HTTP_7DIGITAL_API_7D) {
        rc = ngx_http_7digital_7d_forward(r, lcf, ctx);

    } else {
        rc = ngx_http_7digital_cd_forward(r, lcf, ctx);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * An expired entry and the lock are ours: answer with the entry after
     * the access checks, and refresh it behind the answer.  A HEAD would
     * refresh nothing: its answer has no body to store.
     */
    if (ctx->cache_stale && lcf->cache_background_update
        && r->method == NGX_HTTP_GET
        && (ngx_http_7digital_cache_locked(ctx)
            || lcf->cache_lock_timeout == 0))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: expired entry, refreshed in the "
                       "background after the access checks");
        ctx->cache_refresh = 1;
    }

    return NGX_DECLINED;
}


/*
 * A sale goes upstream only once its intent is on disk: when it cannot be
 * written, the partner gets 503 in the API's own format and nothing is
 * sent.
 */

static ngx_int_t
ngx_http_7digital_record_sale(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_7digital_error_t      err;
    ngx_http_7digital_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    if (ctx->auth != NGX_HTTP_7DIGITAL_AUTH_OK) {
        return NGX_DECLINED;
    }

    /* a retry of a sale whose answer is kept: that answer, no new sale */
    if (ctx->idem == NGX_HTTP_7DIGITAL_IDEM_REPLAY) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: idempotent replay");

        if (lcf->audit_file && lcf->audit_file != NGX_CONF_UNSET_PTR) {
            ctx->audited = 1;
            ctx->audit_conf = lcf;
        }

        return ngx_http_7digital_idem_send(r, ctx);
    }

    /*
     * A sale handed upstream once and back here (error_page to a location
     * that proxies it again, a named location) is never sent a second time.
     */
    if (ngx_http_7digital_resent(r, ctx)) {
        return NGX_HTTP_BAD_GATEWAY;
    }

    if (ngx_http_7digital_audit_intent(r, lcf, ctx) == NGX_OK) {
        rc = ngx_http_7digital_audit_sync(r, lcf, ctx);

        if (rc == NGX_OK) {
            return ngx_http_7digital_dispatch(r, ctx);
        }

        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }
    }

    ngx_memzero(&err, sizeof(ngx_http_7digital_error_t));

    err.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    err.code = 9001;
    err.xml = ctx->route.endpoint->xml_only;
    ngx_str_set(&err.parameter, "request");
    ngx_str_set(&err.message, "The sale could not be recorded, it was "
                "not sent; try again later");

    return ngx_http_7digital_send_error(r, lcf->api, &err);
}


/*
 * A sale that has been to an upstream once (error_page, try_files or a
 * named location bringing it back to a location that proxies) is never
 * sent again; a sale that has not (try_files before it) goes on.
 */

static ngx_uint_t
ngx_http_7digital_resent(ngx_http_request_t *r, ngx_http_7digital_ctx_t *ctx)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ctx->route.endpoint == NULL
        || ctx->route.class != NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        || r->upstream == NULL)
    {
        return 0;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->handler == NULL) {
        /* a static error page: nothing goes upstream */
        return 0;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "sevendigital: a sale by partner \"%V\" was not sent "
                  "again after an internal redirect",
                  ctx->partner ? &ctx->partner->id : &ngx_http_7digital_none);

    return 1;
}


/*
 * A sale goes upstream: its answer is read for the sale's id and may be
 * kept for retries, so it must come uncompressed; the idempotency key is
 * the gateway's business, not the upstream's.
 */

static ngx_int_t
ngx_http_7digital_dispatch(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    static ngx_str_t  headers[] = {
        ngx_string("Accept-Encoding"),
        ngx_string("Idempotency-Key"),
        ngx_null_string
    };

    if (ctx->route.class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        && ngx_http_7digital_remove_headers(r, headers) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * The precontent phase: every access rule of the location has let the
 * request through.  A hit is sent now; an expired entry is sent once its
 * background refresh has started, and if it cannot start, the request
 * goes upstream itself; a sale goes once it is written down.
 */

static ngx_int_t
ngx_http_7digital_answer_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_7digital_ctx_t       *ctx, *mctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (r != r->main) {
        /*
         * Subrequests skip the access phase: only the cache's own
         * background refresh, of a request already checked, may pass
         * through a gateway location, and no subrequest of a sale may
         * reach any upstream (a mirror would send it twice).
         */
        mctx = ngx_http_7digital_find_ctx(r->main);

        if ((ctx && ctx->cache_background)
            || (lcf->api == NGX_HTTP_7DIGITAL_OFF
                && (mctx == NULL
                    || mctx->route.class != NGX_HTTP_7DIGITAL_CLASS_PURCHASE)))
        {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "sevendigital: a subrequest to a gateway location, or "
                      "of a sale, was refused");
        return NGX_HTTP_FORBIDDEN;
    }

    /* a sale redirected to a location without the gateway that proxies */
    if (lcf->api == NGX_HTTP_7DIGITAL_OFF) {
        ctx = ngx_http_7digital_find_ctx(r);

        return (ctx && ngx_http_7digital_resent(r, ctx))
               ? NGX_HTTP_BAD_GATEWAY : NGX_DECLINED;
    }

    /*
     * The checks did not run in the access phase ("satisfy any" with an
     * earlier module granting access): they run here, and nothing goes
     * upstream unchecked or signed with the partner's credentials.
     */
    if (ctx == NULL || ctx->stage != NGX_HTTP_7DIGITAL_STAGE_DONE) {
        rc = ngx_http_7digital_access_handler(r);

        if (rc != NGX_DECLINED) {
            return rc == NGX_OK ? NGX_DECLINED : rc;
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

        if (ctx == NULL || ctx->auth != NGX_HTTP_7DIGITAL_AUTH_OK) {
            return NGX_HTTP_FORBIDDEN;
        }
    }

    if (ctx->cache_refresh) {
        ctx->cache_refresh = 0;

        if (ngx_http_7digital_cache_refresh(r, ctx) != NGX_OK) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "sevendigital: background refresh not started, "
                           "going upstream");
            return NGX_DECLINED;
        }

        ctx->cache_entry = ctx->cache_stale;
        ctx->cache_status = NGX_HTTP_7DIGITAL_CACHE_UPDATING;
        ctx->cache_store = 0;
    }

    if (ctx->cache_entry) {
        return ngx_http_7digital_cache_send(r, ctx);
    }

    return ngx_http_7digital_record_sale(r, ctx);
}


/* the request is counted, a sale's outcome written, its key settled */

static ngx_int_t
ngx_http_7digital_log_handler(ngx_http_request_t *r)
{
    ngx_http_7digital_ctx_t       *ctx;
    ngx_http_7digital_loc_conf_t  *lcf;

    if (r != r->main) {
        return NGX_OK;
    }

    /* after an internal redirect too: a sale's outcome is never lost */
    ctx = ngx_http_7digital_find_ctx(r);

    if (ctx == NULL) {
        return NGX_OK;
    }

    ngx_http_7digital_metrics_request(r, ctx);

    ngx_http_7digital_audit_outcome(r, ctx);

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);
    ngx_http_7digital_idem_finish(r, ctx, lcf);

    return NGX_OK;
}


/* a refused sale is written down too; deliveritem answers XML only */

static ngx_int_t
ngx_http_7digital_refuse(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "sevendigital: request refused: %V", &err->message);

    ngx_http_7digital_audit_refused(r, lcf, ctx, err->status, &err->message);

    err->xml = (ctx->route.endpoint && ctx->route.endpoint->xml_only);

    return ngx_http_7digital_send_error(r, lcf->api, err);
}


/*
 * A sale's parameters, checked before anything is recorded or sent: each
 * business field has one value, and deliveritem's are what 7digital
 * requires, so that a sale the upstream must refuse is never logged as
 * one in doubt.
 */

static ngx_int_t
ngx_http_7digital_deliver_params(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    u_char      *p;
    ngx_str_t    name;
    ngx_uint_t   missing;

    if (ctx->route.class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE
        && ngx_http_7digital_record_conflict(ctx->api, &ctx->in.query,
                                             &ctx->in.body, &name)
           != NGX_OK)
    {
        return ngx_http_7digital_conflict(r, ctx, &name, err);
    }

    if (ctx->api != NGX_HTTP_7DIGITAL_API_7D
        || !ctx->route.endpoint->xml_only
        || ngx_http_7digital_deliver_check(&ctx->in.query, &ctx->in.body,
                                           &name, &missing)
           == NGX_OK)
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, name.len + sizeof("Invalid value for "));
    if (p == NULL) {
        return NGX_ERROR;
    }

    err->status = NGX_HTTP_BAD_REQUEST;
    err->code = missing ? 1001 : 1002;
    err->message.data = p;
    err->message.len = ngx_sprintf(p, "%s%V",
                                   missing ? "Missing parameter "
                                           : "Invalid value for ",
                                   &name)
                       - p;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: deliveritem refused: %V", &err->message);

    return NGX_DECLINED;
}


/*
 * A sale whose business field has two values is refused before anything
 * is recorded or sent: the trail must say what the upstream carries out.
 */

static ngx_int_t
ngx_http_7digital_conflict(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_str_t *name,
    ngx_http_7digital_error_t *err)
{
    u_char  *p;

    err->status = NGX_HTTP_BAD_REQUEST;
    err->code = 1002;
    err->parameter = *name;

    /* the refusal's record cannot say which sale it was: no fields */
    ctx->in.query.nelts = 0;
    ctx->in.body.nelts = 0;

    if (ctx->api == NGX_HTTP_7DIGITAL_API_CD) {
        ngx_str_set(&err->message, "Conflicting values");

    } else {
        p = ngx_pnalloc(r->pool,
                        sizeof("Conflicting values for ") - 1 + name->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        err->message.data = p;
        err->message.len = ngx_sprintf(p, "Conflicting values for %V", name)
                           - p;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: sale refused, conflicting values of "
                   "\"%V\"", name);

    return NGX_DECLINED;
}


/*
 * The path, as nginx decoded it, must be text (no control character, only
 * UTF-8): no endpoint of either API has anything else, and the path goes
 * into the audit trail and upstream.
 */

static ngx_int_t
ngx_http_7digital_check_path(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_error_t *err)
{
    ngx_uint_t  problem;

    problem = ngx_http_7digital_text_check(&r->uri);

    if (problem == NGX_HTTP_7DIGITAL_TEXT_OK) {
        return NGX_OK;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: path refused, problem %ui", problem);

    ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;

    return ngx_http_7digital_input_error(r->pool, problem, "path", err);
}


/*
 * Module contexts are zeroed by an internal redirect, but the request was
 * already rewritten (partner credentials gone), so the result of the
 * checks must survive: the context is also reachable through a pool
 * cleanup, as the realip module does.
 */

static ngx_http_7digital_ctx_t *
ngx_http_7digital_saved_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_7digital_ctx_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * The context, also after an internal redirect to a location where the
 * gateway is off, for the sale's records; it is not taken over.
 */

ngx_http_7digital_ctx_t *
ngx_http_7digital_find_ctx(ngx_http_request_t *r)
{
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx || r != r->main) {
        return ctx;
    }

    return ngx_http_7digital_saved_ctx(r);
}


ngx_http_7digital_ctx_t *
ngx_http_7digital_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_7digital_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_7digital_module);

    if (ctx) {
        return ctx;
    }

    /*
     * A subrequest shares the main request's pool, not its location: it
     * reads the main request's context and never takes it over.
     */
    if (r != r->main) {
        return ngx_http_get_module_ctx(r->main, ngx_http_7digital_module);
    }

    ctx = ngx_http_7digital_saved_ctx(r);

    if (ctx) {
        ngx_http_7digital_redirected(r, ctx);
        ngx_http_set_ctx(r, ctx, ngx_http_7digital_module);
        return ctx;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_7digital_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_http_7digital_ctx_t));

    cln->handler = ngx_http_7digital_ctx_cleanup;
    ngx_http_set_ctx(r, ctx, ngx_http_7digital_module);

    return ctx;
}


/*
 * After an internal redirect (error_page, a named location, X-Accel) the
 * answer is another location's: the original's hit is not sent, and
 * nothing is stored under the original's key.
 */

static void
ngx_http_7digital_redirected(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx)
{
    if (ctx->cache_entry || ctx->cache_store || ctx->cache_capture
        || ctx->cache_refresh)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "sevendigital: internal redirect, the cache is left "
                       "alone");
    }

    ctx->cache_entry = NULL;
    ctx->cache_stale = NULL;
    ctx->cache_store = 0;
    ctx->cache_capture = 0;
    ctx->cache_refresh = 0;
}


static void
ngx_http_7digital_ctx_cleanup(void *data)
{
    /* nothing to release: the cleanup only marks where the context is */
}


static void *
ngx_http_7digital_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->registry = NULL;
     *     mcf->redis.host = { 0, NULL };
     *     mcf->redis.unix_path = { 0, NULL };
     *     mcf->redis.password = { 0, NULL };
     *     mcf->redis.configured = 0;
     *     mcf->nonce_zone = NULL;
     *     mcf->nonce_hmac = NULL;
     *     mcf->limit_zone = NULL;
     */

    mcf->redis.db = NGX_CONF_UNSET;
    mcf->redis_cache.db = NGX_CONF_UNSET;
    mcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    mcf->redis.connect_timeout = NGX_CONF_UNSET_MSEC;
    mcf->nonce_cache_size = NGX_CONF_UNSET_SIZE;
    mcf->limit_nodes = NGX_CONF_UNSET_UINT;
    mcf->limit_lease = NGX_CONF_UNSET_MSEC;
    mcf->log_credentials = NGX_CONF_UNSET;

    return mcf;
}


static char *
ngx_http_7digital_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    /* what a nonce is remembered by (t/lib/Gateway.pm's nonce_key too) */
    static ngx_str_t  nonce_key = ngx_string("sevendigital-nonce");

    ngx_conf_init_value(mcf->redis.db, 0);
    ngx_conf_init_msec_value(mcf->redis.timeout, 100);
    ngx_conf_init_msec_value(mcf->redis.connect_timeout, 1000);

    /* a cache Redis apart: the same timeouts and password, its own db */
    ngx_conf_init_value(mcf->redis_cache.db, 0);
    mcf->redis_cache.timeout = mcf->redis.timeout;
    mcf->redis_cache.connect_timeout = mcf->redis.connect_timeout;
    mcf->redis_cache.password = mcf->redis.password;
    ngx_conf_init_size_value(mcf->nonce_cache_size, 1024 * 1024);
    ngx_conf_init_value(mcf->log_credentials, 0);

    if (mcf->redis.db < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"sevendigital_redis_db\" %i",
                           mcf->redis.db);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_7digital_limit_init() != NGX_OK
        || ngx_http_7digital_metrics_default_zone(cf, mcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (mcf->registry == NULL) {
        return NGX_CONF_OK;
    }

    if (ngx_http_7digital_limit_default_zone(cf, mcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    mcf->nonce_hmac = ngx_http_7digital_hmac_create(cf->pool, 1, &nonce_key);
    if (mcf->nonce_hmac == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_7digital_nonce_zone(cf, mcf);
}


static ngx_int_t
ngx_http_7digital_init_process(ngx_cycle_t *cycle)
{
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_7digital_module);

    if (mcf == NULL) {
        return NGX_OK;
    }

    ngx_http_7digital_metrics_init_process(cycle);

    if (mcf->redis.configured
        && ngx_http_7digital_redis_init_worker(cycle, &mcf->redis,
                                               NGX_HTTP_7DIGITAL_REDIS_STATE)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mcf->redis_cache.configured
        && ngx_http_7digital_redis_init_worker(cycle, &mcf->redis_cache,
                                               NGX_HTTP_7DIGITAL_REDIS_CACHE)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_front_init_worker(cycle, mcf->front_zones);
}


static void
ngx_http_7digital_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_7digital_front_exit_worker();
    ngx_http_7digital_redis_exit_worker();
    ngx_http_7digital_idem_exit_worker();
}


static void *
ngx_http_7digital_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_7digital_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->upstream_key = { 0, NULL };
     *     conf->upstream_secret = { 0, NULL };
     *     conf->upstream_secret_file = { 0, NULL };
     *     conf->upstream_hmac = NULL;
     *     conf->upstream_oauth = NULL;
     *     conf->purge_api = 0;
     *     conf->purge_path = NULL;
     */

    conf->api = NGX_CONF_UNSET_UINT;
    conf->require_signature = NGX_CONF_UNSET;
    conf->signature_window = NGX_CONF_UNSET;
    conf->oauth_sign = NGX_CONF_UNSET_UINT;
    conf->oauth_placement = NGX_CONF_UNSET_UINT;
    conf->upstream_origin = NGX_CONF_UNSET_PTR;
    conf->public_origin = NGX_CONF_UNSET_PTR;
    conf->oauth_tokens = NGX_CONF_UNSET_UINT;
    conf->oauth_token_ttl = NGX_CONF_UNSET;
    conf->endpoints = NGX_CONF_UNSET_PTR;
    conf->audit_file = NGX_CONF_UNSET_PTR;
    conf->audit_personal_data = NGX_CONF_UNSET;
    conf->audit_sync = NGX_CONF_UNSET;
    conf->audit_stream_maxlen = NGX_CONF_UNSET_UINT;
    conf->limit_refused.interval = NGX_HTTP_7DIGITAL_LIMIT_UNSET;
    conf->limit_headers = NGX_CONF_UNSET_UINT;
    conf->error_api = NGX_CONF_UNSET_UINT;
    conf->idempotency = NGX_CONF_UNSET;
    conf->idempotency_ttl = NGX_CONF_UNSET;
    conf->cache = NGX_CONF_UNSET;
    conf->cache_valid = NGX_CONF_UNSET_PTR;
    conf->cache_max_size = NGX_CONF_UNSET_SIZE;
    conf->cache_stale = NGX_CONF_UNSET;
    conf->cache_lock_timeout = NGX_CONF_UNSET_MSEC;
    conf->cache_background_update = NGX_CONF_UNSET;
    conf->cache_front = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_7digital_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_7digital_loc_conf_t *prev = parent;
    ngx_http_7digital_loc_conf_t *conf = child;

    ngx_uint_t                      i;
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_7digital_module);

    ngx_conf_merge_uint_value(conf->api, prev->api, NGX_HTTP_7DIGITAL_OFF);
    ngx_conf_merge_str_value(conf->upstream_key, prev->upstream_key, "");
    ngx_conf_merge_value(conf->require_signature, prev->require_signature, 0);
    ngx_conf_merge_sec_value(conf->signature_window, prev->signature_window,
                             900);
    ngx_conf_merge_uint_value(conf->oauth_sign, prev->oauth_sign,
                              NGX_HTTP_7DIGITAL_SIGN_AUTO);
    ngx_conf_merge_ptr_value(conf->endpoints, prev->endpoints, NULL);
    ngx_conf_merge_uint_value(conf->oauth_placement, prev->oauth_placement,
                              NGX_HTTP_7DIGITAL_IN_HEADER);
    ngx_conf_merge_ptr_value(conf->upstream_origin, prev->upstream_origin,
                             NULL);
    ngx_conf_merge_ptr_value(conf->public_origin, prev->public_origin, NULL);
    ngx_conf_merge_uint_value(conf->oauth_tokens, prev->oauth_tokens,
                              NGX_HTTP_7DIGITAL_TOKENS_AUTO);
    ngx_conf_merge_sec_value(conf->oauth_token_ttl, prev->oauth_token_ttl,
                             30 * 86400);
    ngx_conf_merge_value(conf->cache, prev->cache, 0);
    ngx_conf_merge_ptr_value(conf->cache_valid, prev->cache_valid,
                             ngx_http_7digital_default_valid(cf));
    ngx_conf_merge_size_value(conf->cache_max_size, prev->cache_max_size,
                              1024 * 1024);
    ngx_conf_merge_sec_value(conf->cache_stale, prev->cache_stale, 0);
    ngx_conf_merge_msec_value(conf->cache_lock_timeout,
                              prev->cache_lock_timeout, 3000);
    ngx_conf_merge_value(conf->cache_background_update,
                         prev->cache_background_update, 0);
    ngx_conf_merge_ptr_value(conf->cache_front, prev->cache_front, NULL);

    if (conf->cache_valid == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the whole http block is read: a zone named is declared by now */
    if (conf->cache_front
        && (conf->cache_front->data == NULL
            || !ngx_http_7digital_front_is_zone(conf->cache_front)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_cache_front\" zone \"%V\" is "
                           "not a front tier's: declare it with "
                           "\"sevendigital_cache_front_zone\"",
                           &conf->cache_front->shm.name);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_7digital_audit_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = NGX_HTTP_7DIGITAL_CLASS_CATALOGUE;
         i <= NGX_HTTP_7DIGITAL_CLASS_PURCHASE;
         i++)
    {
        if (conf->limits[i].interval == 0) {
            conf->limits[i] = prev->limits[i];
        }
    }

    /* a key-guesser is slowed after a few tries unless told otherwise */
    if (conf->limit_refused.interval == NGX_HTTP_7DIGITAL_LIMIT_UNSET) {
        conf->limit_refused = prev->limit_refused;

        if (conf->limit_refused.interval == NGX_HTTP_7DIGITAL_LIMIT_UNSET) {
            conf->limit_refused.interval = 1000000;
            conf->limit_refused.burst = 10;
        }
    }

    ngx_conf_merge_uint_value(conf->limit_headers, prev->limit_headers,
                              NGX_HTTP_7DIGITAL_LIMIT_HEADERS_DENIED);

    /* keys need a store: on wherever there is one, unless turned off */
    ngx_conf_merge_value(conf->idempotency, prev->idempotency,
                         mcf->redis.configured);
    ngx_conf_merge_sec_value(conf->idempotency_ttl, prev->idempotency_ttl,
                             86400);

    if (conf->idempotency_ttl < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_idempotency_ttl\" must be at "
                           "least 1s");
        return NGX_CONF_ERROR;
    }

    if (conf->idempotency && !mcf->redis.configured) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_idempotency\" requires "
                           "\"sevendigital_redis\"");
        return NGX_CONF_ERROR;
    }

    if (conf->audit_stream.len && !mcf->redis.configured) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_audit_stream\" requires "
                           "\"sevendigital_redis\"");
        return NGX_CONF_ERROR;
    }

    if (conf->upstream_secret_file.data == NULL) {
        conf->upstream_secret_file = prev->upstream_secret_file;
        conf->upstream_secret = prev->upstream_secret;
        conf->upstream_hmac = prev->upstream_hmac;
        conf->upstream_oauth = prev->upstream_oauth;
    }

    if (conf->purge_api && !mcf->redis.configured
        && !mcf->redis_cache.configured)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_cache_purge\" requires "
                           "\"sevendigital_redis\" or "
                           "\"sevendigital_redis_cache\"");
        return NGX_CONF_ERROR;
    }

    if (conf->purge_api && conf->api != NGX_HTTP_7DIGITAL_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_cache_purge\" cannot be used "
                           "where \"sevendigital_gateway\" is on, add "
                           "\"sevendigital_gateway off;\" to its location");
        return NGX_CONF_ERROR;
    }

    if (conf->api == NGX_HTTP_7DIGITAL_OFF) {
        return NGX_CONF_OK;
    }

    if (conf->cache && !mcf->redis.configured
        && !mcf->redis_cache.configured)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_cache\" requires "
                           "\"sevendigital_redis\" or "
                           "\"sevendigital_redis_cache\"");
        return NGX_CONF_ERROR;
    }

    if (mcf->registry == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_gateway\" requires "
                           "\"sevendigital_partners\" in the http block");
        return NGX_CONF_ERROR;
    }

    if (conf->upstream_key.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_gateway\" requires "
                           "\"sevendigital_upstream_key\"");
        return NGX_CONF_ERROR;
    }

    if (conf->oauth_sign != NGX_HTTP_7DIGITAL_SIGN_OFF
        && conf->oauth_sign != NGX_HTTP_7DIGITAL_SIGN_AUTO)
    {
        if (conf->api != NGX_HTTP_7DIGITAL_API_7D) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"sevendigital_oauth_sign\" requires "
                               "\"sevendigital_gateway 7digital\"");
            return NGX_CONF_ERROR;
        }

        if (conf->upstream_secret.len == 0 || conf->upstream_origin == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"sevendigital_oauth_sign\" requires "
                               "\"sevendigital_upstream_secret_file\" and "
                               "\"sevendigital_upstream_origin\"");
            return NGX_CONF_ERROR;
        }
    }

    if (((conf->oauth_tokens != NGX_HTTP_7DIGITAL_TOKENS_OFF
          && conf->oauth_tokens != NGX_HTTP_7DIGITAL_TOKENS_AUTO)
         || conf->oauth_sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED)
        && !mcf->redis.configured)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "user tokens (\"sevendigital_oauth_tokens\", "
                           "\"sevendigital_oauth_sign 3-legged\") require "
                           "\"sevendigital_redis\"");
        return NGX_CONF_ERROR;
    }

    if (conf->oauth_tokens != NGX_HTTP_7DIGITAL_TOKENS_OFF
        && conf->oauth_tokens != NGX_HTTP_7DIGITAL_TOKENS_AUTO
        && (conf->oauth_sign == NGX_HTTP_7DIGITAL_SIGN_OFF
            || conf->oauth_sign == NGX_HTTP_7DIGITAL_SIGN_AUTO))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_oauth_tokens\" requires "
                           "\"sevendigital_oauth_sign\"");
        return NGX_CONF_ERROR;
    }

    if (conf->api == NGX_HTTP_7DIGITAL_API_CD
        && conf->upstream_secret.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sevendigital_gateway choosedigital\" requires "
                           "\"sevendigital_upstream_secret_file\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_7digital_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /* before anything can log a request's line */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_7digital_hide_credentials;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_7digital_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_7digital_answer_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_7digital_log_handler;

    /* the audit filter captures a sale's answer before the key keeps it */
    if (ngx_http_7digital_token_init_filters(cf) != NGX_OK
        || ngx_http_7digital_limit_filter_init() != NGX_OK
        || ngx_http_7digital_idem_init_filters(cf) != NGX_OK
        || ngx_http_7digital_audit_init(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_cache_init_filters(cf);
}


static char *
ngx_http_7digital_partners(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    char        err[512];
    ngx_str_t  *value, file;

    if (mcf->registry) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    err[0] = '\0';

    mcf->registry = ngx_http_7digital_registry_load(cf->pool, cf->log, &file,
                                                    err, sizeof(err));

    if (mcf->registry == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid partners file \"%V\": %s", &file, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_7digital_gateway(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->api != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->api = ngx_http_7digital_api(&value[1]);

    if (lcf->api != NGX_CONF_UNSET_UINT) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"7digital\", \"choosedigital\" or \"off\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * sevendigital_error 7digital | choosedigital: the location answers the
 * error that error_page brought here in the API's format.
 */

static char *
ngx_http_7digital_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (lcf->error_api != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->error_api = ngx_http_7digital_api(&value[1]);

    if (lcf->error_api != NGX_HTTP_7DIGITAL_API_7D
        && lcf->error_api != NGX_HTTP_7DIGITAL_API_CD)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be \"7digital\" or \"choosedigital\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_7digital_error_handler;

    return NGX_CONF_OK;
}


/* an API by its name in directives: NGX_CONF_UNSET_UINT for none */

ngx_uint_t
ngx_http_7digital_api(ngx_str_t *name)
{
    ngx_conf_enum_t  *e;

    for (e = ngx_http_7digital_apis; e->name.len; e++) {
        if (e->name.len == name->len
            && ngx_strncmp(e->name.data, name->data, name->len) == 0)
        {
            return e->value;
        }
    }

    return NGX_CONF_UNSET_UINT;
}


/* the name of an API, as in directives and Redis keys */

ngx_str_t *
ngx_http_7digital_api_name(ngx_uint_t api)
{
    ngx_conf_enum_t  *e;

    for (e = ngx_http_7digital_apis; e->name.len; e++) {
        if (e->value == api) {
            break;
        }
    }

    return &e->name;
}


static char *
ngx_http_7digital_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t  *value, key;

    static ngx_str_t  none = ngx_null_string;

    if (lcf->upstream_secret_file.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->upstream_secret_file = value[1];

    if (ngx_conf_full_name(cf->cycle, &lcf->upstream_secret_file, 1)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_7digital_read_secret(cf, &lcf->upstream_secret_file,
                                      &lcf->upstream_secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the keys every request is signed with, made ready once */
    lcf->upstream_hmac = ngx_http_7digital_hmac_create(cf->pool, 0,
                                                       &lcf->upstream_secret);

    if (lcf->upstream_hmac == NULL
        || ngx_http_7digital_oauth_key(cf->pool, &lcf->upstream_secret,
                                       &none, &key)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    lcf->upstream_oauth = ngx_http_7digital_hmac_create(cf->pool, 0, &key);

    if (lcf->upstream_oauth == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * "host:port" (a name is resolved now, once, since connecting later must
 * not block) or "unix:/path".
 */

static char *
ngx_http_7digital_redis_address(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    u_char                          *p;
    ngx_int_t                        db;
    ngx_url_t                        u;
    ngx_str_t                       *value;
    ngx_http_7digital_redis_conf_t  *rc;

    rc = (ngx_http_7digital_redis_conf_t *) ((char *) conf + cmd->offset);

    if (rc->configured) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* sevendigital_redis_cache address [db=number] */
    if (cf->args->nelts == 3) {
        db = NGX_ERROR;

        if (ngx_strncmp(value[2].data, "db=", 3) == 0) {
            db = ngx_atoi(value[2].data + 3, value[2].len - 3);
        }

        if (db == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\" in \"%V\"",
                               &value[2], &cmd->name);
            return NGX_CONF_ERROR;
        }

        rc->db = db;
    }

    if (value[1].len > 5 && ngx_strncmp(value[1].data, "unix:", 5) == 0) {
        rc->unix_path.len = value[1].len - 5;
        rc->unix_path.data = ngx_pnalloc(cf->pool, value[1].len - 4);
        if (rc->unix_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(rc->unix_path.data, value[1].data + 5,
                    value[1].len - 4);

        rc->configured = 1;
        return NGX_CONF_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid redis address \"%V\" in \"%V\": %s",
                           &value[1], &cmd->name,
                           u.err ? u.err : "no address");
        return NGX_CONF_ERROR;
    }

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"%V\" resolves to several addresses, "
                           "using \"%V\"", &value[1], &u.addrs[0].name);
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    rc->host.data = p;
    rc->host.len = ngx_sock_ntop(u.addrs[0].sockaddr,
                                        u.addrs[0].socklen, p,
                                        NGX_SOCKADDR_STRLEN, 0);
    p[rc->host.len] = '\0';

    rc->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    rc->configured = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_7digital_redis_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_main_conf_t *mcf = conf;

    ngx_str_t  *value, file;

    if (mcf->redis.password.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK
        || ngx_http_7digital_read_secret(cf, &file, &mcf->redis.password)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* sevendigital_rate_limit catalogue|user|purchase rate=50r/s [burst=n] */

static char *
ngx_http_7digital_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   class;

    value = cf->args->elts;

    class = ngx_http_7digital_class(value[1].data, value[1].len);

    if (class == NGX_HTTP_7DIGITAL_CLASS_AUTO) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid class \"%V\" in \"%V\", it must be "
                           "\"catalogue\", \"user\" or \"purchase\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (lcf->limits[class].interval) {
        return "is duplicate";
    }

    return ngx_http_7digital_limit_args(cf, cmd, 2, &lcf->limits[class]);
}


/* sevendigital_rate_limit_refused rate=1r/s [burst=n] | off */

static char *
ngx_http_7digital_rate_limit_refused(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t  *value;

    if (lcf->limit_refused.interval != NGX_HTTP_7DIGITAL_LIMIT_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->limit_refused.interval = 0;
    lcf->limit_refused.burst = 0;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    return ngx_http_7digital_limit_args(cf, cmd, 1, &lcf->limit_refused);
}


/* "rate=50r/s" and "burst=100", from the argument "first" on */

static char *
ngx_http_7digital_limit_args(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_uint_t first, ngx_http_7digital_limit_t *limit)
{
    ngx_int_t    n;
    ngx_str_t   *value, rate;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = first; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            rate.data = value[i].data + 5;
            rate.len = value[i].len - 5;

            if (ngx_http_7digital_gcra_rate(&rate, &limit->interval)
                == NGX_OK)
            {
                continue;
            }

        } else if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n != NGX_ERROR && n <= 1000000) {
                limit->burst = n;
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\"",
                           &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (limit->interval == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs \"rate=\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* sevendigital_audit_stream key [maxlen=number] */

static char *
ngx_http_7digital_audit_stream(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (lcf->audit_stream.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty key";
    }

    lcf->audit_stream = value[1];

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "maxlen=", 7) == 0) {
        n = ngx_atoi(value[2].data + 7, value[2].len - 7);

        if (n > 0) {
            lcf->audit_stream_maxlen = n;
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"%V\", expected "
                       "\"maxlen=number\"", &value[2], &cmd->name);
    return NGX_CONF_ERROR;
}


/* the value of one of a directive's words, as ngx_conf_set_enum_slot has */

static ngx_int_t
ngx_http_7digital_enum_value(ngx_conf_enum_t *e, ngx_str_t *word,
    ngx_uint_t *value)
{
    for ( /* void */ ; e->name.len; e++) {
        if (e->name.len == word->len
            && ngx_strcmp(e->name.data, word->data) == 0)
        {
            *value = e->value;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* sevendigital_endpoint pattern catalogue|user|purchase [sign] */

static char *
ngx_http_7digital_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t                     *value;
    ngx_http_7digital_override_t  *o;

    value = cf->args->elts;

    if (lcf->endpoints == NGX_CONF_UNSET_PTR) {
        lcf->endpoints = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_7digital_override_t));
        if (lcf->endpoints == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    o = ngx_array_push(lcf->endpoints);
    if (o == NULL) {
        return NGX_CONF_ERROR;
    }

    /* written as the API's own path, with or without "/1.2/" */
    if (ngx_http_7digital_endpoint_path(cf->pool, NGX_HTTP_7DIGITAL_API_7D,
                                        &value[1], &o->pattern)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_7digital_endpoint_pattern(&o->pattern) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid endpoint \"%V\" in \"%V\", write it as "
                           "path segments, \":name\" for any one, and "
                           "\"*\" last for the rest", &value[1],
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    o->class = ngx_http_7digital_class(value[2].data, value[2].len);

    if (o->class == NGX_HTTP_7DIGITAL_CLASS_AUTO) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid class \"%V\" in \"%V\", it must be "
                           "\"catalogue\", \"user\" or \"purchase\"",
                           &value[2], &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* a catalogue read is unsigned unless said otherwise, others 2-legged */
    o->sign = (o->class == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE)
              ? NGX_HTTP_7DIGITAL_SIGN_OFF : NGX_HTTP_7DIGITAL_SIGN_2LEGGED;

    if (cf->args->nelts == 3) {
        return NGX_CONF_OK;
    }

    /* "auto" is the table's word, not an override's */
    if (ngx_http_7digital_enum_value(ngx_http_7digital_signs + 1, &value[3],
                                     &o->sign)
        == NGX_OK)
    {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid signing \"%V\" in \"%V\", it must be "
                       "\"off\", \"2-legged\" or \"3-legged\"", &value[3],
                       &cmd->name);
    return NGX_CONF_ERROR;
}


/* 200 answers for five minutes, unless configured otherwise */

static ngx_array_t *
ngx_http_7digital_default_valid(ngx_conf_t *cf)
{
    ngx_array_t                      *a;
    ngx_http_7digital_cache_valid_t  *v;

    a = ngx_array_create(cf->pool, 1,
                         sizeof(ngx_http_7digital_cache_valid_t));
    if (a == NULL) {
        return NULL;
    }

    v = ngx_array_push(a);
    if (v == NULL) {
        return NULL;
    }

    v->status = NGX_HTTP_OK;
    v->valid = 300;

    return a;
}


/* "[code ...] time", as proxy_cache_valid; without codes, 200 */

static char *
ngx_http_7digital_cache_valid(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    time_t                            valid;
    ngx_int_t                         status;
    ngx_str_t                        *value;
    ngx_uint_t                        i, n;
    ngx_http_7digital_cache_valid_t  *v;

    value = cf->args->elts;
    n = cf->args->nelts - 1;

    valid = ngx_parse_time(&value[n], 1);
    if (valid == (time_t) NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\" in \"%V\" directive",
                           &value[n], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (lcf->cache_valid == NGX_CONF_UNSET_PTR) {
        lcf->cache_valid = ngx_array_create(cf->pool, 4,
                                   sizeof(ngx_http_7digital_cache_valid_t));
        if (lcf->cache_valid == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (n == 1) {
        v = ngx_array_push(lcf->cache_valid);
        if (v == NULL) {
            return NGX_CONF_ERROR;
        }

        v->status = NGX_HTTP_OK;
        v->valid = valid;

        return NGX_CONF_OK;
    }

    for (i = 1; i < n; i++) {
        status = ngx_atoi(value[i].data, value[i].len);

        if (status < 200 || status > 599) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid status \"%V\" in \"%V\" directive",
                               &value[i], &cmd->name);
            return NGX_CONF_ERROR;
        }

        v = ngx_array_push(lcf->cache_valid);
        if (v == NULL) {
            return NGX_CONF_ERROR;
        }

        v->status = status;
        v->valid = valid;
    }

    return NGX_CONF_OK;
}


/* "scheme://host[:port]", the start of the URL a signature covers */

static char *
ngx_http_7digital_origin_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                      *s, *end, *colon;
    ngx_int_t                    port;
    ngx_str_t                   *value;
    ngx_http_7digital_origin_t  *o, **field;

    field = (ngx_http_7digital_origin_t **) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    s = value[1].data;
    end = s + value[1].len;

    if (end > s && end[-1] == '/') {
        end--;
    }

    o = ngx_pcalloc(cf->pool, sizeof(ngx_http_7digital_origin_t));
    if (o == NULL) {
        return NGX_CONF_ERROR;
    }

    if (end - s > 7 && ngx_strncasecmp(s, (u_char *) "http://", 7) == 0) {
        ngx_str_set(&o->scheme, "http");
        s += 7;

    } else if (end - s > 8
               && ngx_strncasecmp(s, (u_char *) "https://", 8) == 0)
    {
        ngx_str_set(&o->scheme, "https");
        s += 8;

    } else {
        goto invalid;
    }

    if (ngx_strlchr(s, end, '/') || ngx_strlchr(s, end, '?')) {
        goto invalid;
    }

    colon = ngx_strlchr(s, end, ':');

    o->host.data = s;
    o->host.len = (colon ? colon : end) - s;

    if (o->host.len == 0) {
        goto invalid;
    }

    if (colon) {
        port = ngx_atoi(colon + 1, end - colon - 1);

        if (port < 1 || port > 65535) {
            goto invalid;
        }

        o->port = port;
    }

    *field = o;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, "
                       "it must be \"http[s]://host[:port]\"",
                       &value[1], &cmd->name);

    return NGX_CONF_ERROR;
}


/*
 * Read at configuration time, when the master still runs as root; the
 * file's content is never logged, only its name.
 */

static ngx_int_t
ngx_http_7digital_read_secret(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *secret)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_file_info_t   fi;

    rc = NGX_ERROR;

    fd = ngx_open_file(file->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", file);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", file);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_7DIGITAL_MAX_SECRET_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is larger than %d bytes",
                           file, NGX_HTTP_7DIGITAL_MAX_SECRET_FILE);
        goto done;
    }

    buf = ngx_pnalloc(cf->pool, NGX_HTTP_7DIGITAL_MAX_SECRET_FILE);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, NGX_HTTP_7DIGITAL_MAX_SECRET_FILE);

    if (n == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_read_fd_n " \"%V\" failed", file);
        goto done;
    }

    /* editors add a final newline; a secret never ends with white space */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'
                     || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    {
        n--;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is empty", file);
        goto done;
    }

    secret->data = buf;
    secret->len = n;
    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", file);
    }

    return rc;
}
