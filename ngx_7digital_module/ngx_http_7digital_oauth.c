
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * OAuth 1.0 HMAC-SHA1 (RFC 5849 section 3.4) as pure functions: the base
 * string URI, parameter normalisation, the signature base string, the
 * signature, and the Authorization header.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


typedef struct {
    ngx_str_t   name;
    ngx_str_t   value;
} ngx_http_7digital_pair_t;


static int ngx_libc_cdecl ngx_http_7digital_pair_cmp(const void *one,
    const void *two);
static u_char *ngx_http_7digital_lower_copy(u_char *dst, ngx_str_t *src);
static u_char *ngx_http_7digital_escape_again(u_char *dst, ngx_str_t *src);
static void ngx_http_7digital_pairs_sort(ngx_http_7digital_pair_t *pairs,
    ngx_uint_t n);


/*
 * Section 3.4.1.2: scheme and host in lower case, the port only when it
 * is not the scheme's default, and the path as it is sent.
 */

ngx_int_t
ngx_http_7digital_oauth_base_uri(ngx_pool_t *pool, ngx_str_t *scheme,
    ngx_str_t *host, ngx_uint_t port, ngx_str_t *path, ngx_str_t *dst)
{
    u_char      *p;
    ngx_uint_t   def;

    def = (scheme->len == 5 && ngx_strncasecmp(scheme->data,
                                               (u_char *) "https", 5) == 0)
          ? 443 : 80;

    p = ngx_pnalloc(pool, scheme->len + 3 + host->len + 6
                          + (path->len ? path->len : 1));
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->data = p;

    p = ngx_http_7digital_lower_copy(p, scheme);
    *p++ = ':'; *p++ = '/'; *p++ = '/';
    p = ngx_http_7digital_lower_copy(p, host);

    if (port && port != def) {
        p = ngx_http_7digital_put_port(p, port);
    }

    if (path->len) {
        p = ngx_cpymem(p, path->data, path->len);

    } else {
        *p++ = '/';
    }

    dst->len = p - dst->data;

    return NGX_OK;
}


/*
 * Sections 3.4.1.3.2 and 3.4.1.1: every name and value encoded, sorted by
 * encoded name and then encoded value in byte order, duplicates and empty
 * values kept; then METHOD&enc(uri)&enc(parameters).  The params hold
 * decoded names and values; the caller leaves out oauth_signature.  The
 * parameters are written encoded twice in one pass: what the first
 * encoding leaves is unreserved but for "%", and the "=" and "&" that join
 * them.
 */

ngx_int_t
ngx_http_7digital_oauth_base_string(ngx_pool_t *pool, ngx_str_t *method,
    ngx_str_t *uri, ngx_array_t *params, ngx_str_t *dst)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   enc_uri;
    ngx_uint_t                  i;
    ngx_http_7digital_pair_t   *pairs;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;

    pairs = ngx_palloc(pool, (params->nelts + 1)
                             * sizeof(ngx_http_7digital_pair_t));
    if (pairs == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_escape(pool, uri, &enc_uri) != NGX_OK) {
        return NGX_ERROR;
    }

    len = method->len + 1 + enc_uri.len + 1;

    for (i = 0; i < params->nelts; i++) {
        if (ngx_http_7digital_escape(pool, &prm[i].name, &pairs[i].name)
            != NGX_OK
            || ngx_http_7digital_escape(pool, &prm[i].value, &pairs[i].value)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        /* "%26" name "%3D" value, each "%" of them as "%25" */
        len += 3 + 3 * pairs[i].name.len + 3 + 3 * pairs[i].value.len;
    }

    ngx_http_7digital_pairs_sort(pairs, params->nelts);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->data = p;

    for (i = 0; i < method->len; i++) {
        *p++ = ngx_toupper(method->data[i]);
    }

    *p++ = '&';
    p = ngx_cpymem(p, enc_uri.data, enc_uri.len);
    *p++ = '&';

    for (i = 0; i < params->nelts; i++) {
        if (i) {
            p = ngx_cpymem(p, "%26", 3);
        }

        p = ngx_http_7digital_escape_again(p, &pairs[i].name);
        p = ngx_cpymem(p, "%3D", 3);
        p = ngx_http_7digital_escape_again(p, &pairs[i].value);
    }

    dst->len = p - dst->data;

    return NGX_OK;
}


/* an encoded string encoded again: only its "%" signs change */

static u_char *
ngx_http_7digital_escape_again(u_char *dst, ngx_str_t *src)
{
    u_char  *s, *end;

    end = src->data + src->len;

    for (s = src->data; s < end; s++) {
        *dst++ = *s;

        if (*s == '%') {
            *dst++ = '2';
            *dst++ = '5';
        }
    }

    return dst;
}


static u_char *
ngx_http_7digital_lower_copy(u_char *dst, ngx_str_t *src)
{
    size_t  i;

    for (i = 0; i < src->len; i++) {
        *dst++ = ngx_tolower(src->data[i]);
    }

    return dst;
}


/* the dozen parameters of most calls sorted in place, more by qsort() */

static void
ngx_http_7digital_pairs_sort(ngx_http_7digital_pair_t *pairs, ngx_uint_t n)
{
    ngx_uint_t                i, j;
    ngx_http_7digital_pair_t  pair;

    if (n > 16) {
        ngx_qsort(pairs, n, sizeof(ngx_http_7digital_pair_t),
                  ngx_http_7digital_pair_cmp);
        return;
    }

    for (i = 1; i < n; i++) {
        pair = pairs[i];

        for (j = i; j > 0 && ngx_http_7digital_pair_cmp(&pairs[j - 1], &pair)
                             > 0; j--)
        {
            pairs[j] = pairs[j - 1];
        }

        pairs[j] = pair;
    }
}


static int ngx_libc_cdecl
ngx_http_7digital_pair_cmp(const void *one, const void *two)
{
    int                        rc;
    ngx_http_7digital_pair_t  *a, *b;

    a = (ngx_http_7digital_pair_t *) one;
    b = (ngx_http_7digital_pair_t *) two;

    rc = ngx_http_7digital_bytes_cmp(&a->name, &b->name);

    if (rc == 0) {
        rc = ngx_http_7digital_bytes_cmp(&a->value, &b->value);
    }

    return rc;
}


/*
 * Section 3.4.2: the key is enc(consumer secret) "&" enc(token secret),
 * the "&" kept when there is no token.  out receives 28 Base64 bytes.
 */

ngx_int_t
ngx_http_7digital_oauth_sign(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *consumer_secret, ngx_str_t *token_secret, u_char *out)
{
    ngx_str_t  key;

    if (ngx_http_7digital_oauth_key(pool, consumer_secret, token_secret, &key)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_hmac_sha1_base64(&key, base, out);
}


/* the signing key's text, which a key made ready once is made of too */

ngx_int_t
ngx_http_7digital_oauth_key(ngx_pool_t *pool, ngx_str_t *consumer_secret,
    ngx_str_t *token_secret, ngx_str_t *key)
{
    u_char     *p;
    ngx_str_t   cs, ts;

    if (ngx_http_7digital_escape(pool, consumer_secret, &cs) != NGX_OK
        || ngx_http_7digital_escape(pool, token_secret, &ts) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, cs.len + 1 + ts.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    p = ngx_cpymem(p, cs.data, cs.len);
    *p++ = '&';

    /* 2-legged: no token secret, a NULL one memcpy() may not be given */
    if (ts.len) {
        p = ngx_cpymem(p, ts.data, ts.len);
    }

    key->len = p - key->data;

    return NGX_OK;
}


/*
 * Section 3.5.1: OAuth name="enc(value)", ... in the order given; the
 * params hold decoded names and values.
 */

ngx_int_t
ngx_http_7digital_oauth_header(ngx_pool_t *pool, ngx_array_t *params,
    ngx_str_t *dst)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                  *enc;
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;

    enc = ngx_palloc(pool, (params->nelts + 1) * sizeof(ngx_str_t));
    if (enc == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("OAuth ") - 1;

    for (i = 0; i < params->nelts; i++) {
        if (ngx_http_7digital_escape(pool, &prm[i].value, &enc[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        len += prm[i].name.len + sizeof("=\"\", ") - 1 + enc[i].len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->data = p;
    p = ngx_cpymem(p, "OAuth ", sizeof("OAuth ") - 1);

    for (i = 0; i < params->nelts; i++) {
        if (i) {
            *p++ = ','; *p++ = ' ';
        }

        p = ngx_cpymem(p, prm[i].name.data, prm[i].name.len);
        *p++ = '='; *p++ = '"';
        p = ngx_cpymem(p, enc[i].data, enc[i].len);
        *p++ = '"';
    }

    dst->len = p - dst->data;

    return NGX_OK;
}
