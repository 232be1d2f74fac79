
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Pure functions: they take strings, pools and logs, never a request, so
 * that unit tests and fuzz targets can call them without a server.
 */


#ifndef _NGX_HTTP_7DIGITAL_PURE_H_INCLUDED_
#define _NGX_HTTP_7DIGITAL_PURE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_7DIGITAL_API_7D        0x01
#define NGX_HTTP_7DIGITAL_API_CD        0x02

#define NGX_HTTP_7DIGITAL_MAX_PARAMS    256
#define NGX_HTTP_7DIGITAL_MAX_ID_LEN    64    /* a partner's id */

/* the same values as ngx_http_7digital_auth_e */
#define NGX_HTTP_7DIGITAL_CHECK_OK         1
#define NGX_HTTP_7DIGITAL_CHECK_UNKNOWN    3
#define NGX_HTTP_7DIGITAL_CHECK_DISABLED   4
#define NGX_HTTP_7DIGITAL_CHECK_FORBIDDEN  5
#define NGX_HTTP_7DIGITAL_CHECK_EXPIRED    13
#define NGX_HTTP_7DIGITAL_DIGEST_LEN    32
#define NGX_HTTP_7DIGITAL_SHA1_LEN      20
#define NGX_HTTP_7DIGITAL_SHA1_B64_LEN  28
#define NGX_HTTP_7DIGITAL_NONCE_LEN     32
#define NGX_HTTP_7DIGITAL_SIPHASH_KEY   16
#define NGX_HTTP_7DIGITAL_CD_DATE_LEN   (sizeof("2000-01-01T00:00:00Z") - 1)


#define NGX_HTTP_7DIGITAL_SIGN_OFF      0
#define NGX_HTTP_7DIGITAL_SIGN_2LEGGED  1
#define NGX_HTTP_7DIGITAL_SIGN_3LEGGED  2
#define NGX_HTTP_7DIGITAL_SIGN_AUTO     3     /* the endpoint table's */

#define NGX_HTTP_7DIGITAL_TOKENS_OFF      0
#define NGX_HTTP_7DIGITAL_TOKENS_REQUEST  1
#define NGX_HTTP_7DIGITAL_TOKENS_ACCESS   2
#define NGX_HTTP_7DIGITAL_TOKENS_AUTO     3   /* the endpoint table's */

/* what an endpoint's answers are */
#define NGX_HTTP_7DIGITAL_CLASS_AUTO       0
#define NGX_HTTP_7DIGITAL_CLASS_CATALOGUE  1  /* public, cacheable */
#define NGX_HTTP_7DIGITAL_CLASS_USER       2  /* one user's, never cached */
#define NGX_HTTP_7DIGITAL_CLASS_PURCHASE   3  /* a sale: recorded, once */

#define NGX_HTTP_7DIGITAL_M_GET         0x01
#define NGX_HTTP_7DIGITAL_M_HEAD        0x02
#define NGX_HTTP_7DIGITAL_M_POST        0x04
#define NGX_HTTP_7DIGITAL_M_PUT         0x08
#define NGX_HTTP_7DIGITAL_M_DELETE      0x10
#define NGX_HTTP_7DIGITAL_M_PATCH       0x20
#define NGX_HTTP_7DIGITAL_M_OTHER       0x40

#define NGX_HTTP_7DIGITAL_ROUTE_PARAMS  4

/*
 * What is wrong with a request's text: ngx_http_7digital_text_check(), and
 * for a query string or a form body, its parser.
 */
#define NGX_HTTP_7DIGITAL_TEXT_OK        0
#define NGX_HTTP_7DIGITAL_TEXT_CONTROL   1    /* U+0000-U+001F, U+007F */
#define NGX_HTTP_7DIGITAL_TEXT_UTF8      2
#define NGX_HTTP_7DIGITAL_TEXT_ENCODING  3    /* a bad percent-escape */
#define NGX_HTTP_7DIGITAL_TEXT_TOO_MANY  4    /* over MAX_PARAMS */


/* one name=value pair as it appeared on the wire, and decoded */
typedef struct {
    ngx_str_t                       raw;
    ngx_str_t                       name;
    ngx_str_t                       value;
} ngx_http_7digital_param_t;


/* a GCRA limit: one request per interval (microseconds), and a burst */
typedef struct {
    uint64_t                        interval;    /* 0: not set */
    uint64_t                        burst;
} ngx_http_7digital_limit_t;


/* what one GCRA step decided */
typedef struct {
    uint64_t                        taken;       /* requests let through */
    uint64_t                        remaining;   /* left of the burst */
    uint64_t                        wait;        /* none taken: until one */
    uint64_t                        reset;       /* until whole again */
} ngx_http_7digital_gcra_t;


/*
 * An HMAC key made ready once: the digest's state after each of the
 * key's two pads, so that a message costs only its own blocks.  "work" is
 * the scratch state of the one process that uses it (a worker's copy).
 */
typedef struct {
    void                           *inner;   /* EVP_MD_CTX */
    void                           *outer;
    void                           *work;
} ngx_http_7digital_hmac_t;


/* one key of a partner: a partner with several keys has one per key */
typedef struct {
    ngx_str_t                       id;
    ngx_str_t                       key;
    ngx_str_t                       secret;
    ngx_http_7digital_hmac_t       *hmac;        /* keyed: the secret */
    ngx_http_7digital_hmac_t       *oauth;       /* enc(secret) "&" */
    time_t                          not_after;   /* 0: none */
    ngx_uint_t                      n;           /* its place in the file */
    ngx_uint_t                      apis;
    ngx_http_7digital_limit_t       limits[4];   /* by endpoint class */
    unsigned                        enabled:1;
} ngx_http_7digital_partner_t;


typedef struct {
    uint64_t                        digest;
    ngx_http_7digital_partner_t    *partner;
} ngx_http_7digital_slot_t;


typedef struct {
    ngx_str_t                       file;
    ngx_array_t                     partners;   /* partner_t */
    ngx_array_t                     slots;      /* slot_t, sorted */
    u_char                          lookup_key[NGX_HTTP_7DIGITAL_SIPHASH_KEY];
} ngx_http_7digital_registry_t;


typedef struct {
    ngx_str_t                       pattern;   /* ":x" is one segment */
    ngx_uint_t                      methods;
    ngx_uint_t                      sign;      /* 7digital only */
    ngx_uint_t                      class;
    ngx_str_t                      *hash;      /* Choose Digital fields */
    unsigned                        signed_only:1;
    unsigned                        xml_only:1;
    unsigned                        id:1;      /* a sale's answer has one */
    unsigned                        tokens:2;
    unsigned                        unknown:1;
    unsigned                        run:8;     /* entries from this one */
                                               /* with its first segment */
    unsigned                        head:8;    /* its length, a literal's */
} ngx_http_7digital_endpoint_t;


/* an operator's sevendigital_endpoint */
typedef struct {
    ngx_str_t                       pattern;
    ngx_uint_t                      class;
    ngx_uint_t                      sign;
} ngx_http_7digital_override_t;


/* a request's endpoint, and the values of its path's ":x" segments */
typedef struct {
    ngx_http_7digital_endpoint_t   *endpoint;
    ngx_uint_t                      class;     /* the endpoint's, or the */
    ngx_uint_t                      sign;      /* operator's override */
    ngx_uint_t                      nparams;
    struct {
        ngx_str_t                   name;
        ngx_str_t                   value;
    }                               params[NGX_HTTP_7DIGITAL_ROUTE_PARAMS];
} ngx_http_7digital_route_t;


/* one line of the purchase audit trail; docs/audit-record.schema.json */
typedef struct {
    ngx_str_t                       type;      /* intent, outcome, refused */
    ngx_str_t                       time;
    ngx_str_t                       id;
    ngx_str_t                       node;
    ngx_str_t                       partner;   /* empty: null */
    ngx_str_t                       claimed_partner;  /* not authenticated */
    ngx_str_t                       api;
    ngx_str_t                       method;
    ngx_str_t                       endpoint;
    ngx_str_t                       path;
    ngx_str_t                       client;
    ngx_array_t                    *fields;    /* param_t */
    ngx_str_t                       amount;
    ngx_str_t                       currency;
    ngx_str_t                       idempotency_key;
    ngx_int_t                       status;    /* -1: none */
    ngx_int_t                       upstream_status;
    ngx_int_t                       duration_ms;
    ngx_str_t                       purchase_id;
    ngx_str_t                       result;
    ngx_str_t                       reason;
    unsigned                        outcome:1;
    unsigned                        sent:1;
    unsigned                        replay:1;
} ngx_http_7digital_record_t;


typedef ngx_uint_t (*ngx_http_7digital_skip_pt)(ngx_str_t *name);


#define NGX_HTTP_7DIGITAL_CACHE_HEADERS  8

/*
 * Purge scopes: the API's root, and each path prefix up to this many
 * segments and this many bytes, each alone and narrowed by one of the
 * scope parameters (country, shopId, tenantId) up to this many bytes.
 */
#define NGX_HTTP_7DIGITAL_SCOPE_DEPTH    4
#define NGX_HTTP_7DIGITAL_SCOPE_MAX_LEN  256
#define NGX_HTTP_7DIGITAL_SCOPE_PARAMS   3
#define NGX_HTTP_7DIGITAL_SCOPE_VALUE    128
#define NGX_HTTP_7DIGITAL_SCOPES                                              \
    ((NGX_HTTP_7DIGITAL_SCOPE_DEPTH + 1) * (NGX_HTTP_7DIGITAL_SCOPE_PARAMS + 1))

/* a cached answer; decoded, every string points into the stored bytes */
typedef struct {
    ngx_uint_t                      status;
    time_t                          stored;
    time_t                          fresh_until;
    time_t                          stale_until;
    uint64_t                        generation;  /* of its purge scopes */
    ngx_uint_t                      nheaders;
    ngx_str_t                       names[NGX_HTTP_7DIGITAL_CACHE_HEADERS];
    ngx_str_t                       values[NGX_HTTP_7DIGITAL_CACHE_HEADERS];
    ngx_str_t                       body;
} ngx_http_7digital_cache_entry_t;


/* ngx_http_7digital_params.c */
ngx_int_t ngx_http_7digital_parse_params(ngx_pool_t *pool, ngx_str_t *src,
    ngx_array_t *params);
ngx_int_t ngx_http_7digital_decode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst, ngx_uint_t form);
ngx_uint_t ngx_http_7digital_text_check(ngx_str_t *s);
ngx_uint_t ngx_http_7digital_params_check(ngx_array_t *params);
ngx_int_t ngx_http_7digital_parse_authorization(ngx_pool_t *pool,
    ngx_str_t *value, ngx_array_t *params);
ngx_int_t ngx_http_7digital_join_params(ngx_pool_t *pool,
    ngx_array_t *params, ngx_http_7digital_skip_pt skip, ngx_str_t *extra,
    ngx_str_t *dst);
ngx_http_7digital_param_t *ngx_http_7digital_find_param(ngx_array_t *params,
    ngx_str_t *name, ngx_uint_t *count);
ngx_int_t ngx_http_7digital_push_param(ngx_array_t *a, char *name,
    ngx_str_t *value);
ngx_int_t ngx_http_7digital_escape(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst);
ngx_int_t ngx_http_7digital_param_text(ngx_pool_t *pool, ngx_str_t *name,
    ngx_str_t *value, ngx_str_t *dst);
ngx_uint_t ngx_http_7digital_is_oauth_credential(ngx_str_t *name);
ngx_int_t ngx_http_7digital_log_args(ngx_pool_t *pool, ngx_str_t *src,
    ngx_str_t *dst);
ngx_uint_t ngx_http_7digital_is_oauth_param(ngx_str_t *name);
int ngx_http_7digital_bytes_cmp(ngx_str_t *a, ngx_str_t *b);

/* ngx_http_7digital_oauth.c */
ngx_int_t ngx_http_7digital_oauth_base_uri(ngx_pool_t *pool,
    ngx_str_t *scheme, ngx_str_t *host, ngx_uint_t port, ngx_str_t *path,
    ngx_str_t *dst);
ngx_int_t ngx_http_7digital_oauth_base_string(ngx_pool_t *pool,
    ngx_str_t *method, ngx_str_t *uri, ngx_array_t *params, ngx_str_t *dst);
ngx_int_t ngx_http_7digital_oauth_sign(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *consumer_secret, ngx_str_t *token_secret, u_char *out);
ngx_int_t ngx_http_7digital_oauth_key(ngx_pool_t *pool,
    ngx_str_t *consumer_secret, ngx_str_t *token_secret, ngx_str_t *key);
ngx_int_t ngx_http_7digital_oauth_header(ngx_pool_t *pool,
    ngx_array_t *params, ngx_str_t *dst);
u_char *ngx_http_7digital_put_port(u_char *p, ngx_uint_t port);

/* ngx_http_7digital_cachekey.c */
ngx_int_t ngx_http_7digital_cache_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *api, ngx_str_t *path, ngx_str_t *format, ngx_array_t *params,
    ngx_http_7digital_skip_pt skip, ngx_str_t *key);
ngx_int_t ngx_http_7digital_cache_scopes(ngx_pool_t *pool, ngx_str_t *api,
    ngx_str_t *path, ngx_array_t *params, ngx_array_t *keys);
ngx_int_t ngx_http_7digital_cache_scope_key(ngx_pool_t *pool, ngx_str_t *api,
    ngx_str_t *scope, ngx_str_t *name, ngx_str_t *value, ngx_str_t *key);
ngx_int_t ngx_http_7digital_cache_purge_scope(ngx_str_t *path,
    ngx_str_t *scope);
ngx_int_t ngx_http_7digital_cache_scope_param(ngx_str_t *name);
ngx_int_t ngx_http_7digital_cache_generation(ngx_pool_t *pool,
    ngx_str_t *values, ngx_uint_t n, uint64_t *generation);
ngx_int_t ngx_http_7digital_cache_encode(ngx_pool_t *pool,
    ngx_http_7digital_cache_entry_t *e, ngx_str_t *dst);
ngx_int_t ngx_http_7digital_cache_decode(ngx_str_t *src,
    ngx_http_7digital_cache_entry_t *e);

/* ngx_http_7digital_crypto.c */
ngx_int_t ngx_http_7digital_hmac_sha1(ngx_str_t *key, ngx_str_t *msg,
    u_char *out);
ngx_int_t ngx_http_7digital_hmac_sha1_base64(ngx_str_t *key, ngx_str_t *msg,
    u_char *out);
ngx_int_t ngx_http_7digital_hmac_sha256(u_char *key, size_t key_len,
    ngx_str_t *msg, u_char *out);
ngx_http_7digital_hmac_t *ngx_http_7digital_hmac_create(ngx_pool_t *pool,
    ngx_uint_t sha256, ngx_str_t *key);
ngx_int_t ngx_http_7digital_hmac(ngx_http_7digital_hmac_t *h, ngx_str_t *msg,
    u_char *out);
ngx_int_t ngx_http_7digital_hmac_base64(ngx_http_7digital_hmac_t *h,
    ngx_str_t *msg, u_char *out);
uint64_t ngx_http_7digital_siphash(u_char *key, u_char *data, size_t len);
ngx_int_t ngx_http_7digital_sha256(ngx_str_t *msg, u_char *out);
ngx_int_t ngx_http_7digital_sha256_hex(ngx_str_t *msg, u_char *out);
ngx_uint_t ngx_http_7digital_equal(ngx_str_t *a, ngx_str_t *b);
ngx_int_t ngx_http_7digital_nonce(u_char *out);

/* ngx_http_7digital_partner.c */
ngx_http_7digital_registry_t *ngx_http_7digital_registry_load(
    ngx_pool_t *pool, ngx_log_t *log, ngx_str_t *file, char *errbuf,
    size_t errlen);
ngx_http_7digital_partner_t *ngx_http_7digital_registry_find(
    ngx_http_7digital_registry_t *reg, ngx_str_t *key);
ngx_uint_t ngx_http_7digital_registry_check(ngx_http_7digital_registry_t *reg,
    ngx_str_t *key, ngx_uint_t api, time_t now,
    ngx_http_7digital_partner_t **partner);

/* ngx_http_7digital_cdsign.c */
u_char *ngx_http_7digital_cd_date(u_char *buf, time_t now);
ngx_int_t ngx_http_7digital_cd_parse_date(ngx_str_t *value, time_t *t);
/* ngx_http_7digital_record.c */
ngx_int_t ngx_http_7digital_record_fields(ngx_pool_t *pool, ngx_uint_t api,
    ngx_http_7digital_route_t *route, ngx_array_t *query, ngx_array_t *body,
    ngx_uint_t keep, ngx_array_t *fields);
void ngx_http_7digital_record_amount(ngx_uint_t api, ngx_array_t *fields,
    ngx_str_t *amount, ngx_str_t *currency);
ngx_int_t ngx_http_7digital_deliver_check(ngx_array_t *query,
    ngx_array_t *body, ngx_str_t *name, ngx_uint_t *missing);
ngx_int_t ngx_http_7digital_record_conflict(ngx_uint_t api,
    ngx_array_t *query, ngx_array_t *body, ngx_str_t *name);
ngx_int_t ngx_http_7digital_record_encode(ngx_pool_t *pool,
    ngx_http_7digital_record_t *rec, ngx_str_t *line);
ngx_int_t ngx_http_7digital_record_find_id(ngx_uint_t api, ngx_str_t *body,
    ngx_str_t *id);
ngx_int_t ngx_http_7digital_idem_fingerprint(ngx_pool_t *pool,
    ngx_str_t *key, ngx_str_t *method, ngx_str_t *path, ngx_str_t *token,
    ngx_array_t *query, ngx_array_t *body, u_char *out);

/* ngx_http_7digital_gcra.c */
extern ngx_str_t  ngx_http_7digital_gcra_script;
ngx_int_t ngx_http_7digital_gcra_rate(ngx_str_t *value, uint64_t *interval);
ngx_int_t ngx_http_7digital_gcra_step(uint64_t *tat, uint64_t now,
    ngx_http_7digital_limit_t *limit, uint64_t n, uint64_t back,
    ngx_http_7digital_gcra_t *g);

/* ngx_http_7digital_exposition.c */
#define NGX_HTTP_7DIGITAL_BUCKETS       13    /* the last is +Inf */
#define NGX_HTTP_7DIGITAL_SECONDS_LEN   (NGX_INT64_LEN + 7)
extern uint64_t  ngx_http_7digital_buckets[];
ngx_uint_t ngx_http_7digital_bucket(uint64_t usec);
size_t ngx_http_7digital_label_len(ngx_str_t *value);
u_char *ngx_http_7digital_label_escape(u_char *dst, ngx_str_t *value);
u_char *ngx_http_7digital_seconds(u_char *dst, uint64_t usec);

/* ngx_http_7digital_endpoint.c */
extern ngx_str_t  ngx_http_7digital_class_names[];
ngx_uint_t ngx_http_7digital_class(u_char *name, size_t len);
ngx_uint_t ngx_http_7digital_method_bit(ngx_str_t *name);
ngx_int_t ngx_http_7digital_endpoint_path(ngx_pool_t *pool, ngx_uint_t api,
    ngx_str_t *uri, ngx_str_t *path);
void ngx_http_7digital_endpoint_match(ngx_uint_t api, ngx_str_t *path,
    ngx_uint_t method, ngx_array_t *overrides,
    ngx_http_7digital_route_t *route);
ngx_int_t ngx_http_7digital_endpoint_pattern(ngx_str_t *pattern);
ngx_int_t ngx_http_7digital_endpoint_name(ngx_pool_t *pool,
    ngx_http_7digital_route_t *route, ngx_str_t *path, ngx_str_t *name);
ngx_http_7digital_endpoint_t *ngx_http_7digital_endpoints(ngx_uint_t api);
ngx_int_t ngx_http_7digital_cd_auth_data(ngx_pool_t *pool, ngx_str_t *fields,
    ngx_array_t *query, ngx_array_t *body, ngx_str_t *data, ngx_str_t **bad);
ngx_int_t ngx_http_7digital_cd_authentication(ngx_array_t *query,
    ngx_array_t *body, ngx_str_t *value);
ngx_uint_t ngx_http_7digital_is_cd_authentication(ngx_str_t *name);


#endif /* _NGX_HTTP_7DIGITAL_PURE_H_INCLUDED_ */
