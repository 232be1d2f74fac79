
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Cache purge, as a content handler in a location the operator protects.
 * One resource: its entries (both response formats) are deleted.  A
 * prefix (a path ending in a slash and a star), optionally narrowed by
 * one scope parameter: its generation is incremented, one Redis command
 * whatever the number of entries under it (see
 * ngx_http_7digital_cache_scopes()).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include "ngx_http_7digital_module.h"


typedef struct {
    ngx_http_7digital_batch_t       batch;
    ngx_int_t                       integer;   /* INCR's or DEL's reply */
    unsigned                        answered:1;
    unsigned                        prefix:1;
} ngx_http_7digital_purge_t;


static ngx_int_t ngx_http_7digital_purge_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_7digital_purge_prefix(ngx_http_request_t *r,
    ngx_str_t *api, ngx_str_t *scope, ngx_array_t *params, ngx_str_t *argv,
    ngx_str_t *reason);
static ngx_int_t ngx_http_7digital_purge_keys(ngx_http_request_t *r,
    ngx_uint_t api, ngx_str_t *path, ngx_array_t *params, ngx_str_t *argv);
static ngx_int_t ngx_http_7digital_purge_front(ngx_http_request_t *r,
    ngx_http_7digital_purge_t *p);
static void ngx_http_7digital_purge_reply(ngx_http_request_t *r, void *data,
    void *reply);
static void ngx_http_7digital_purge_counted(ngx_http_request_t *r,
    void *data, void *reply);
static void ngx_http_7digital_purge_done(ngx_http_request_t *r, void *data);
static ngx_int_t ngx_http_7digital_purge_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *body);
static ngx_int_t ngx_http_7digital_purge_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *reason);


static ngx_str_t  ngx_http_7digital_purge_method = ngx_string("PURGE");


char *
ngx_http_7digital_cache_purge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_7digital_loc_conf_t *lcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    if (lcf->purge_api) {
        return "is duplicate";
    }

    value = cf->args->elts;
    lcf->purge_api = ngx_http_7digital_api(&value[1]);

    if (lcf->purge_api == NGX_CONF_UNSET_UINT
        || lcf->purge_api == NGX_HTTP_7DIGITAL_OFF)
    {
        lcf->purge_api = 0;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\", "
                           "it must be \"7digital\" or \"choosedigital\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 3) {
        lcf->purge_path = ngx_palloc(cf->pool,
                                     sizeof(ngx_http_complex_value_t));
        if (lcf->purge_path == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[2];
        ccv.complex_value = lcf->purge_path;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_7digital_purge_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_7digital_purge_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_str_t                      path, scope, reason, *api;
    ngx_str_t                      argv[3];
    ngx_uint_t                     i, argc;
    ngx_array_t                    params;
    const char                    *cargv[3];
    size_t                         cargvlen[3];
    ngx_http_7digital_purge_t     *p;
    ngx_http_7digital_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_7digital_module);

    if (!(r->method & NGX_HTTP_DELETE)
        && (r->method_name.len != ngx_http_7digital_purge_method.len
            || ngx_strncmp(r->method_name.data,
                           ngx_http_7digital_purge_method.data,
                           r->method_name.len) != 0))
    {
        ngx_str_set(&reason, "use PURGE or DELETE");
        return ngx_http_7digital_purge_error(r, NGX_HTTP_NOT_ALLOWED,
                                             &reason);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    path = r->uri;

    if (lcf->purge_path
        && ngx_http_complex_value(r, lcf->purge_path, &path) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_array_init(&params, r->pool, 4,
                       sizeof(ngx_http_7digital_param_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_7digital_parse_params(r->pool, &r->args, &params)
        != NGX_OK)
    {
        ngx_str_set(&reason, "the query string is malformed");
        return ngx_http_7digital_purge_error(r, NGX_HTTP_BAD_REQUEST,
                                             &reason);
    }

    p = ngx_pcalloc(r->pool, sizeof(ngx_http_7digital_purge_t));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_7digital_cache_purge_scope(&path, &scope);

    if (rc == NGX_ERROR) {
        ngx_str_set(&reason, "a prefix ends in \\\"/*\\\" after at most 4 "
                             "path segments and 256 bytes");
        return ngx_http_7digital_purge_error(r, NGX_HTTP_BAD_REQUEST,
                                             &reason);
    }

    if (rc == NGX_OK) {
        p->prefix = 1;
        api = ngx_http_7digital_api_name(lcf->purge_api);
        rc = ngx_http_7digital_purge_prefix(r, api, &scope, &params, argv,
                                            &reason);
        argc = 2;

    } else {
        rc = ngx_http_7digital_purge_keys(r, lcf->purge_api, &path, &params,
                                          argv);
        argc = (lcf->purge_api == NGX_HTTP_7DIGITAL_API_7D) ? 3 : 2;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_7digital_purge_error(r, NGX_HTTP_BAD_REQUEST,
                                             &reason);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < argc; i++) {
        cargv[i] = (const char *) argv[i].data;
        cargvlen[i] = argv[i].len;
    }

    rc = ngx_http_7digital_batch_add(r, &p->batch,
                                     NGX_HTTP_7DIGITAL_REDIS_CACHE,
                                     ngx_http_7digital_purge_reply, p,
                                     (int) argc, cargv, cargvlen);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&reason, "the cache store is unavailable");
        return ngx_http_7digital_purge_error(r,
                                             NGX_HTTP_SERVICE_UNAVAILABLE,
                                             &reason);
    }

    if (ngx_http_7digital_purge_front(r, p) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_7digital_batch_park(r, &p->batch,
                                        ngx_http_7digital_purge_done, p, 1);

    return NGX_DONE;
}


/* INCR of the scope's generation; at most one scope parameter narrows it */

static ngx_int_t
ngx_http_7digital_purge_prefix(ngx_http_request_t *r, ngx_str_t *api,
    ngx_str_t *scope, ngx_array_t *params, ngx_str_t *argv,
    ngx_str_t *reason)
{
    ngx_http_7digital_param_t  *prm, *narrow;

    prm = params->elts;
    narrow = NULL;

    if (params->nelts > 1) {
        ngx_str_set(reason, "a prefix is narrowed by one parameter at most");
        return NGX_DECLINED;
    }

    if (params->nelts == 1) {
        narrow = &prm[0];

        if (ngx_http_7digital_cache_scope_param(&narrow->name) < 0) {
            ngx_str_set(reason, "a prefix is narrowed by \\\"country\\\", "
                                "\\\"shopId\\\" or \\\"tenantId\\\" only");
            return NGX_DECLINED;
        }

        if (narrow->value.len == 0
            || narrow->value.len > NGX_HTTP_7DIGITAL_SCOPE_VALUE)
        {
            ngx_str_set(reason, "the parameter's value is empty or longer "
                                "than 128 bytes");
            return NGX_DECLINED;
        }
    }

    ngx_str_set(&argv[0], "INCR");

    return ngx_http_7digital_cache_scope_key(r->pool, api, scope,
                                             narrow ? &narrow->name : NULL,
                                             narrow ? &narrow->value : NULL,
                                             &argv[1]);
}


/* DEL of the resource's entries, in every format the API answers in */

static ngx_int_t
ngx_http_7digital_purge_keys(ngx_http_request_t *r, ngx_uint_t api,
    ngx_str_t *path, ngx_array_t *params, ngx_str_t *argv)
{
    ngx_str_t  json, xml;

    ngx_str_set(&json, "json");
    ngx_str_set(&xml, "xml");
    ngx_str_set(&argv[0], "DEL");

    if (ngx_http_7digital_cache_entry_key(r->pool, api, path, &json, params,
                                          &argv[1])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (api == NGX_HTTP_7DIGITAL_API_CD) {
        return NGX_OK;
    }

    return ngx_http_7digital_cache_entry_key(r->pool, api, path, &xml,
                                             params, &argv[2]);
}


/*
 * The front tiers: this node's copies are dropped now, those of other
 * nodes when they see the purge counter move (in the same batch, so
 * after the purge itself).
 */

static ngx_int_t
ngx_http_7digital_purge_front(ngx_http_request_t *r,
    ngx_http_7digital_purge_t *p)
{
    ngx_str_t                      *key;
    const char                     *argv[2];
    size_t                          argvlen[2];
    ngx_http_7digital_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    ngx_http_7digital_front_purged(mcf->front_zones, NGX_ERROR);

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: purge: front tiers dropped");

    /* counted even by a node without a front tier: the others have one */

    key = ngx_http_7digital_front_purges_key();

    argv[0] = "INCR";
    argvlen[0] = 4;
    argv[1] = (const char *) key->data;
    argvlen[1] = key->len;

    return (ngx_http_7digital_batch_add(r, &p->batch,
                                        NGX_HTTP_7DIGITAL_REDIS_CACHE,
                                        ngx_http_7digital_purge_counted, p,
                                        2, argv, argvlen)
            == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_7digital_purge_counted(ngx_http_request_t *r, void *data,
    void *reply)
{
    redisReply  *rep = reply;

    ngx_http_7digital_main_conf_t  *mcf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: purge counted: %s",
                   rep ? "yes" : "no answer");

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    /*
     * Dropped again now that Redis has run the purge: another worker may
     * have copied what Redis answered it just before.
     */
    ngx_http_7digital_front_purged(mcf->front_zones,
                                   (rep && rep->type == REDIS_REPLY_INTEGER)
                                   ? (ngx_int_t) rep->integer : NGX_ERROR);
}


static void
ngx_http_7digital_purge_reply(ngx_http_request_t *r, void *data, void *reply)
{
    ngx_http_7digital_purge_t *p = data;

    redisReply  *rep = reply;

    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        p->answered = 1;
        p->integer = (ngx_int_t) rep->integer;
    }
}


/* the batch is complete: the answer, and the reference the wait held */

static void
ngx_http_7digital_purge_done(ngx_http_request_t *r, void *data)
{
    ngx_http_7digital_purge_t *p = data;

    ngx_int_t   rc;
    ngx_str_t   body, reason;
    ngx_uint_t  status;

    if (!p->answered) {
        ngx_str_set(&reason, "the cache store did not answer");
        rc = ngx_http_7digital_purge_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           &reason);
        goto done;
    }

    body.data = ngx_pnalloc(r->pool, sizeof("{\"purged\":\"prefix\","
                                            "\"generation\":}")
                                     + NGX_INT64_LEN);
    if (body.data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    if (p->prefix) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "sevendigital: cache prefix purged, generation %i",
                      p->integer);

        status = NGX_HTTP_OK;
        body.len = ngx_sprintf(body.data,
                               "{\"purged\":\"prefix\",\"generation\":%i}",
                               p->integer)
                   - body.data;

    } else {
        status = p->integer ? NGX_HTTP_OK : NGX_HTTP_NOT_FOUND;
        body.len = ngx_sprintf(body.data,
                               "{\"purged\":\"key\",\"deleted\":%i}",
                               p->integer)
                   - body.data;
    }

    rc = ngx_http_7digital_purge_send(r, status, &body);

done:

    ngx_http_finalize_request(r, rc);
}


/* reason is a JSON string's contents: a constant, never client bytes */

static ngx_int_t
ngx_http_7digital_purge_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *reason)
{
    ngx_str_t         body;
    ngx_table_elt_t  *h;

    body.len = sizeof("{\"error\":\"\"}") - 1 + reason->len;
    body.data = ngx_pnalloc(r->pool, body.len);
    if (body.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(body.data, "{\"error\":\"%V\"}", reason);

    if (status == NGX_HTTP_NOT_ALLOWED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Allow");
        ngx_str_set(&h->value, "PURGE, DELETE");
#if (nginx_version >= 1023000)
        h->next = NULL;
#endif
    }

    return ngx_http_7digital_purge_send(r, status, &body);
}


static ngx_int_t
ngx_http_7digital_purge_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
