
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The catalogue cache's pure parts: the key a request is cached under, and
 * the binary form of an entry in Redis.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_CACHE_MAGIC  "7DC1"


typedef struct {
    ngx_str_t   name;
    ngx_str_t   value;
} ngx_http_7digital_kv_t;


static int ngx_libc_cdecl ngx_http_7digital_kv_cmp(const void *one,
    const void *two);
static u_char *ngx_http_7digital_put(u_char *p, uint64_t v, ngx_uint_t n);
static uint64_t ngx_http_7digital_get(u_char *p, ngx_uint_t n);


/*
 * Everything that changes the answer goes in, nothing else: the API, the
 * path, the response format, and every parameter but the skipped ones
 * (credentials, nonces, signatures), decoded, encoded again and sorted,
 * so that the same question asked by two partners, in any parameter order
 * or encoding, is one entry.  The key is a digest: bounded and safe
 * whatever bytes the client sent.
 */

ngx_int_t
ngx_http_7digital_cache_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *api, ngx_str_t *path, ngx_str_t *format, ngx_array_t *params,
    ngx_http_7digital_skip_pt skip, ngx_str_t *key)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   canon, epath;
    ngx_uint_t                  i, n;
    ngx_http_7digital_kv_t     *kv;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;

    kv = ngx_palloc(pool, (params->nelts + 1) * sizeof(ngx_http_7digital_kv_t));
    if (kv == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_escape(pool, path, &epath) != NGX_OK) {
        return NGX_ERROR;
    }

    len = api->len + 1 + epath.len + 1 + format->len + 1;
    n = 0;

    for (i = 0; i < params->nelts; i++) {
        if (skip && skip(&prm[i].name)) {
            continue;
        }

        if (ngx_http_7digital_escape(pool, &prm[i].name, &kv[n].name)
            != NGX_OK
            || ngx_http_7digital_escape(pool, &prm[i].value, &kv[n].value)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        len += kv[n].name.len + 1 + kv[n].value.len + 1;
        n++;
    }

    ngx_qsort(kv, n, sizeof(ngx_http_7digital_kv_t), ngx_http_7digital_kv_cmp);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    canon.data = p;

    p = ngx_cpymem(p, api->data, api->len);
    *p++ = '\n';
    p = ngx_cpymem(p, epath.data, epath.len);
    *p++ = '\n';
    p = ngx_cpymem(p, format->data, format->len);
    *p++ = '\n';

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, kv[i].name.data, kv[i].name.len);
        *p++ = '=';
        p = ngx_cpymem(p, kv[i].value.data, kv[i].value.len);
        *p++ = '&';
    }

    canon.len = p - canon.data;

    key->len = prefix->len + 64;
    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, prefix->data, prefix->len);

    return ngx_http_7digital_sha256_hex(&canon, p);
}


static int ngx_libc_cdecl
ngx_http_7digital_kv_cmp(const void *one, const void *two)
{
    int                      rc;
    ngx_http_7digital_kv_t  *a, *b;

    a = (ngx_http_7digital_kv_t *) one;
    b = (ngx_http_7digital_kv_t *) two;

    rc = ngx_http_7digital_bytes_cmp(&a->name, &b->name);

    if (rc == 0) {
        rc = ngx_http_7digital_bytes_cmp(&a->value, &b->value);
    }

    return rc;
}


/*
 * An entry: "7DC1", status (2 bytes), stored, fresh until, stale until (8
 * bytes each), the header count (1), each header as name length (2), name,
 * value length (2), value, then the body (the rest).  Integers are big
 * endian.
 */

ngx_int_t
ngx_http_7digital_cache_encode(ngx_pool_t *pool,
    ngx_http_7digital_cache_entry_t *e, ngx_str_t *dst)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    if (e->nheaders > NGX_HTTP_7DIGITAL_CACHE_HEADERS) {
        return NGX_ERROR;
    }

    len = 4 + 2 + 3 * 8 + 1 + e->body.len;

    for (i = 0; i < e->nheaders; i++) {
        if (e->names[i].len > 0xffff || e->values[i].len > 0xffff) {
            return NGX_ERROR;
        }

        len += 2 + e->names[i].len + 2 + e->values[i].len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->data = p;

    p = ngx_cpymem(p, NGX_HTTP_7DIGITAL_CACHE_MAGIC, 4);
    p = ngx_http_7digital_put(p, e->status, 2);
    p = ngx_http_7digital_put(p, (uint64_t) e->stored, 8);
    p = ngx_http_7digital_put(p, (uint64_t) e->fresh_until, 8);
    p = ngx_http_7digital_put(p, (uint64_t) e->stale_until, 8);
    *p++ = (u_char) e->nheaders;

    for (i = 0; i < e->nheaders; i++) {
        p = ngx_http_7digital_put(p, e->names[i].len, 2);
        p = ngx_cpymem(p, e->names[i].data, e->names[i].len);
        p = ngx_http_7digital_put(p, e->values[i].len, 2);
        p = ngx_cpymem(p, e->values[i].data, e->values[i].len);
    }

    p = ngx_cpymem(p, e->body.data, e->body.len);

    dst->len = p - dst->data;

    return NGX_OK;
}


/* points into src, copies nothing; NGX_DECLINED for anything malformed */

ngx_int_t
ngx_http_7digital_cache_decode(ngx_str_t *src,
    ngx_http_7digital_cache_entry_t *e)
{
    u_char      *p, *end;
    size_t       n;
    ngx_uint_t   i;

    p = src->data;
    end = p + src->len;

    if (src->len < 4 + 2 + 3 * 8 + 1
        || ngx_memcmp(p, NGX_HTTP_7DIGITAL_CACHE_MAGIC, 4) != 0)
    {
        return NGX_DECLINED;
    }

    p += 4;

    e->status = (ngx_uint_t) ngx_http_7digital_get(p, 2);
    e->stored = (time_t) ngx_http_7digital_get(p + 2, 8);
    e->fresh_until = (time_t) ngx_http_7digital_get(p + 10, 8);
    e->stale_until = (time_t) ngx_http_7digital_get(p + 18, 8);
    e->nheaders = p[26];
    p += 27;

    if (e->status < 100 || e->status > 599
        || e->nheaders > NGX_HTTP_7DIGITAL_CACHE_HEADERS)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < e->nheaders; i++) {

        if (end - p < 2) {
            return NGX_DECLINED;
        }

        n = (size_t) ngx_http_7digital_get(p, 2);
        p += 2;

        if ((size_t) (end - p) < n + 2) {
            return NGX_DECLINED;
        }

        e->names[i].data = p;
        e->names[i].len = n;
        p += n;

        n = (size_t) ngx_http_7digital_get(p, 2);
        p += 2;

        if ((size_t) (end - p) < n) {
            return NGX_DECLINED;
        }

        e->values[i].data = p;
        e->values[i].len = n;
        p += n;
    }

    e->body.data = p;
    e->body.len = end - p;

    return NGX_OK;
}


static u_char *
ngx_http_7digital_put(u_char *p, uint64_t v, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = n; i; i--) {
        p[i - 1] = (u_char) (v & 0xff);
        v >>= 8;
    }

    return p + n;
}


static uint64_t
ngx_http_7digital_get(u_char *p, ngx_uint_t n)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }

    return v;
}
