
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The catalogue cache's pure parts: the key a request is cached under, and
 * the binary form of an entry in Redis.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_CACHE_MAGIC  "7DC2"

/* magic, status, four times, the header count */
#define NGX_HTTP_7DIGITAL_CACHE_FIXED  (4 + 2 + 4 * 8 + 1)


typedef struct {
    ngx_str_t   name;
    ngx_str_t   value;
} ngx_http_7digital_kv_t;


static int ngx_libc_cdecl ngx_http_7digital_kv_cmp(const void *one,
    const void *two);
static ngx_uint_t ngx_http_7digital_header_ok(ngx_str_t *name,
    ngx_str_t *value);
static u_char *ngx_http_7digital_put(u_char *p, uint64_t v, ngx_uint_t n);
static uint64_t ngx_http_7digital_get(u_char *p, ngx_uint_t n);


/* the parameters a purge can narrow a prefix with, as the APIs spell them */
static ngx_str_t  ngx_http_7digital_scope_params[] = {
    ngx_string("country"),
    ngx_string("shopId"),
    ngx_string("tenantId")
};

static ngx_str_t  ngx_http_7digital_scope_prefix =
    ngx_string("sevendigital:gen:");


static ngx_int_t ngx_http_7digital_scope_key(ngx_pool_t *pool,
    ngx_str_t *api, ngx_str_t *scope, ngx_str_t *name, ngx_str_t *evalue,
    ngx_str_t *key);


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
 * Purge works on generations: an entry records a digest of the
 * generations of every scope it belongs to, and a purge increments one
 * generation, which makes every entry under that scope unusable at once,
 * whatever their number.  A request's scopes: the API's root and each of
 * its first path prefixes, each alone and with each scope parameter the
 * request carries.  The keys are readable, and bounded by the limits in
 * ngx_http_7digital_pure.h; what lies beyond them is simply not a scope.
 */

ngx_int_t
ngx_http_7digital_cache_scopes(ngx_pool_t *pool, ngx_str_t *api,
    ngx_str_t *path, ngx_array_t *params, ngx_array_t *keys)
{
    size_t                      i, ends[NGX_HTTP_7DIGITAL_SCOPE_DEPTH + 1];
    ngx_int_t                   j;
    ngx_str_t                   scope, *key;
    ngx_uint_t                  n, k;
    ngx_str_t                  *values[NGX_HTTP_7DIGITAL_SCOPE_PARAMS];
    ngx_http_7digital_param_t  *prm;

    n = 0;
    ends[n++] = 0;
    i = 0;

    while (n <= NGX_HTTP_7DIGITAL_SCOPE_DEPTH) {

        while (i < path->len && path->data[i] == '/') {
            i++;
        }

        if (i == path->len) {
            break;
        }

        while (i < path->len && path->data[i] != '/') {
            i++;
        }

        if (i > NGX_HTTP_7DIGITAL_SCOPE_MAX_LEN) {
            break;
        }

        ends[n++] = i;
    }

    ngx_memzero(values, sizeof(values));
    prm = params->elts;

    for (i = 0; i < params->nelts; i++) {
        j = ngx_http_7digital_cache_scope_param(&prm[i].name);

        if (j >= 0 && values[j] == NULL && prm[i].value.len
            && prm[i].value.len <= NGX_HTTP_7DIGITAL_SCOPE_VALUE)
        {
            /* encoded once, used in every path scope */
            values[j] = ngx_palloc(pool, sizeof(ngx_str_t));

            if (values[j] == NULL
                || ngx_http_7digital_escape(pool, &prm[i].value, values[j])
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    scope.data = path->data;

    for (k = 0; k < n; k++) {
        scope.len = ends[k];

        for (j = -1; j < NGX_HTTP_7DIGITAL_SCOPE_PARAMS; j++) {

            if (j >= 0 && values[j] == NULL) {
                continue;
            }

            key = ngx_array_push(keys);
            if (key == NULL) {
                return NGX_ERROR;
            }

            if (ngx_http_7digital_scope_key(pool, api, &scope,
                    j >= 0 ? &ngx_http_7digital_scope_params[j] : NULL,
                    j >= 0 ? values[j] : NULL, key)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* "sevendigital:gen:<api>:<path prefix>[?<name>=<encoded value>]" */

ngx_int_t
ngx_http_7digital_cache_scope_key(ngx_pool_t *pool, ngx_str_t *api,
    ngx_str_t *scope, ngx_str_t *name, ngx_str_t *value, ngx_str_t *key)
{
    ngx_str_t  evalue;

    if (name
        && ngx_http_7digital_escape(pool, value, &evalue) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_scope_key(pool, api, scope, name,
                                       name ? &evalue : NULL, key);
}


static ngx_int_t
ngx_http_7digital_scope_key(ngx_pool_t *pool, ngx_str_t *api,
    ngx_str_t *scope, ngx_str_t *name, ngx_str_t *evalue, ngx_str_t *key)
{
    u_char  *p;

    key->len = ngx_http_7digital_scope_prefix.len + api->len + 1 + scope->len
               + (name ? 1 + name->len + 1 + evalue->len : 0);

    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(key->data, ngx_http_7digital_scope_prefix.data,
                   ngx_http_7digital_scope_prefix.len);
    p = ngx_cpymem(p, api->data, api->len);
    *p++ = ':';
    p = ngx_cpymem(p, scope->data, scope->len);

    if (name) {
        *p++ = '?';
        p = ngx_cpymem(p, name->data, name->len);
        *p++ = '=';
        ngx_memcpy(p, evalue->data, evalue->len);
    }

    return NGX_OK;
}


/*
 * A purge path ending in a slash and a star names a prefix: NGX_OK with
 * the scope (the slash and star alone are the API's root).  NGX_DECLINED:
 * not a prefix, one entry.  NGX_ERROR: a prefix no lookup would ever use
 * (not at a "/", too deep, too long).
 */

ngx_int_t
ngx_http_7digital_cache_purge_scope(ngx_str_t *path, ngx_str_t *scope)
{
    size_t      i, len;
    ngx_uint_t  depth;

    len = path->len;

    if (len == 0 || path->data[len - 1] != '*') {
        return NGX_DECLINED;
    }

    len--;

    if (len == 0 || path->data[len - 1] != '/') {
        return NGX_ERROR;
    }

    while (len && path->data[len - 1] == '/') {
        len--;
    }

    if (len > NGX_HTTP_7DIGITAL_SCOPE_MAX_LEN) {
        return NGX_ERROR;
    }

    depth = 0;

    for (i = 0; i < len; i++) {
        if (path->data[i] == '*') {
            return NGX_ERROR;
        }

        if (path->data[i] != '/' && (i == 0 || path->data[i - 1] == '/')) {
            depth++;
        }
    }

    if (depth > NGX_HTTP_7DIGITAL_SCOPE_DEPTH) {
        return NGX_ERROR;
    }

    scope->data = path->data;
    scope->len = len;

    return NGX_OK;
}


/* the index of a scope parameter, or NGX_DECLINED */

ngx_int_t
ngx_http_7digital_cache_scope_param(ngx_str_t *name)
{
    ngx_int_t  i;

    for (i = 0; i < NGX_HTTP_7DIGITAL_SCOPE_PARAMS; i++) {
        if (name->len == ngx_http_7digital_scope_params[i].len
            && ngx_strncmp(name->data, ngx_http_7digital_scope_params[i].data,
                           name->len)
               == 0)
        {
            return i;
        }
    }

    return NGX_DECLINED;
}


/*
 * The digest of the scopes' generations, as Redis returned them (data
 * NULL: never purged).  0 while nothing was ever purged, so that entries
 * need no generation keys to exist; never 0 once something was.
 */

ngx_int_t
ngx_http_7digital_cache_generation(ngx_pool_t *pool, ngx_str_t *values,
    ngx_uint_t n, uint64_t *generation)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    all;
    ngx_uint_t   i, found;
    u_char       md[NGX_HTTP_7DIGITAL_DIGEST_LEN];

    *generation = 0;
    found = 0;
    len = 0;

    for (i = 0; i < n; i++) {
        found |= (values[i].data != NULL);
        len += values[i].len + 1;
    }

    if (!found) {
        return NGX_OK;
    }

    all.data = ngx_pnalloc(pool, len);
    if (all.data == NULL) {
        return NGX_ERROR;
    }

    p = all.data;

    for (i = 0; i < n; i++) {
        if (values[i].len) {
            p = ngx_cpymem(p, values[i].data, values[i].len);
        }

        *p++ = '\n';
    }

    all.len = len;

    if (ngx_http_7digital_sha256(&all, md) != NGX_OK) {
        return NGX_ERROR;
    }

    *generation = ngx_http_7digital_get(md, 8);

    if (*generation == 0) {
        *generation = 1;
    }

    return NGX_OK;
}


/*
 * An entry: "7DC2", status (2 bytes), stored, fresh until, stale until,
 * generation (8 bytes each), the header count (1), each header as name
 * length (2), name, value length (2), value, then the body (the rest).
 * Integers are big endian.
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

    len = NGX_HTTP_7DIGITAL_CACHE_FIXED + e->body.len;

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
    p = ngx_http_7digital_put(p, e->generation, 8);
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

    if (src->len < NGX_HTTP_7DIGITAL_CACHE_FIXED
        || ngx_memcmp(p, NGX_HTTP_7DIGITAL_CACHE_MAGIC, 4) != 0)
    {
        return NGX_DECLINED;
    }

    p += 4;

    e->status = (ngx_uint_t) ngx_http_7digital_get(p, 2);
    e->stored = (time_t) ngx_http_7digital_get(p + 2, 8);
    e->fresh_until = (time_t) ngx_http_7digital_get(p + 10, 8);
    e->stale_until = (time_t) ngx_http_7digital_get(p + 18, 8);
    e->generation = ngx_http_7digital_get(p + 26, 8);
    e->nheaders = p[34];
    p += 35;

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

        /* replayed as header lines: nothing that could split or end one */
        if (!ngx_http_7digital_header_ok(&e->names[i], &e->values[i])) {
            return NGX_DECLINED;
        }
    }

    e->body.data = p;
    e->body.len = end - p;

    return NGX_OK;
}


/* a field name of token characters, a value without CR, LF or NUL */

static ngx_uint_t
ngx_http_7digital_header_ok(ngx_str_t *name, ngx_str_t *value)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0) {
        return 0;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (c <= ' ' || c >= 0x7f || c == ':' || c == '"' || c == '('
            || c == ')' || c == ',' || c == '/' || c == ';' || c == '<'
            || c == '=' || c == '>' || c == '?' || c == '@' || c == '['
            || c == '\\' || c == ']' || c == '{' || c == '}')
        {
            return 0;
        }
    }

    for (i = 0; i < value->len; i++) {
        c = value->data[i];

        if (c == '\0' || c == CR || c == LF) {
            return 0;
        }
    }

    return 1;
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
