
/*
 * libFuzzer target: the cache key normaliser (ngx_http_7digital_cache_key)
 * and the purge scopes (ngx_http_7digital_cache_scopes,
 * ngx_http_7digital_cache_purge_scope).  The input is "path\nquery".
 * Checked: the key does not depend on the parameters' order, on how they
 * were percent-encoded, nor on the parameters left out (OAuth's); a
 * request has at most NGX_HTTP_7DIGITAL_SCOPES scopes; and a prefix a
 * purge accepts is a scope of every request under it, narrowed by each
 * scope parameter the request carries.
 */


#include "fuzz.h"


static ngx_int_t fuzz_key(ngx_str_t *path, ngx_array_t *params,
    ngx_str_t *key);
static void fuzz_purge(ngx_str_t *path, ngx_array_t *params);
static ngx_uint_t fuzz_has(ngx_array_t *keys, ngx_str_t *key);


static ngx_str_t  fuzz_api = ngx_string("7digital");


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     *p;
    ngx_str_t                   key, key2, query, text, *s;
    ngx_uint_t                  i;
    ngx_array_t                 a, b, keys;
    fuzz_input_t                in;
    ngx_http_7digital_param_t  *prm, *extra;

    fuzz_input(&in, data, size, 2);

    if (fuzz_params(&in.part[1], &a) != NGX_OK) {
        goto done;
    }

    fuzz_assert(fuzz_key(&in.part[0], &a, &key) == NGX_OK
                && key.len == sizeof("k:") - 1 + 64,
                "cache_key() failed", &in.all, NULL);

    /* in the opposite order */
    fuzz_reverse(&a, &b);

    fuzz_assert(fuzz_key(&in.part[0], &b, &key2) == NGX_OK
                && fuzz_same(&key, &key2),
                "the key depends on the parameters' order", &in.all, NULL);

    /* encoded again, all of it, with a nonce added: the same question */
    if (a.nelts >= NGX_HTTP_7DIGITAL_MAX_PARAMS) {
        goto scopes;
    }

    prm = a.elts;
    query.len = sizeof("oauth_nonce=n");
    query.data = malloc(query.len);
    p = ngx_cpymem(query.data, "oauth_nonce=n", sizeof("oauth_nonce=n") - 1);

    for (i = 0; i < a.nelts; i++) {
        if (ngx_http_7digital_escape(NULL, &prm[i].name, &key2) != NGX_OK
            || ngx_http_7digital_param_text(NULL, &key2, &prm[i].value, &text)
               != NGX_OK)
        {
            abort();
        }

        s = &query;
        p = malloc(s->len + text.len + 1);
        memcpy(p, s->data, s->len);
        p[s->len] = '&';
        memcpy(p + s->len + 1, text.data, text.len);
        free(s->data);
        s->data = p;
        s->len += 1 + text.len;
    }

    fuzz_assert(fuzz_params(&query, &b) == NGX_OK
                && fuzz_key(&in.part[0], &b, &key2) == NGX_OK
                && fuzz_same(&key, &key2),
                "the key depends on the encoding or on a nonce", &in.all,
                &query);

    /* a parameter more is another question */
    extra = ngx_array_push(&b);
    extra->name = (ngx_str_t) ngx_string("page");
    extra->value = (ngx_str_t) ngx_string("2");

    fuzz_assert(fuzz_key(&in.part[0], &b, &key2) == NGX_OK
                && !fuzz_same(&key, &key2),
                "a parameter more, the same key", &in.all, NULL);

    free(query.data);

scopes:

    ngx_array_init(&keys, NULL, 4, sizeof(ngx_str_t));

    fuzz_assert(ngx_http_7digital_cache_scopes(NULL, &fuzz_api, &in.part[0],
                                               &a, &keys) == NGX_OK
                && keys.nelts >= 1
                && keys.nelts <= NGX_HTTP_7DIGITAL_SCOPES,
                "cache_scopes(): none, or too many", &in.all, NULL);

    fuzz_purge(&in.part[0], &a);

done:

    fuzz_done(&in);

    return 0;
}


static ngx_int_t
fuzz_key(ngx_str_t *path, ngx_array_t *params, ngx_str_t *key)
{
    ngx_str_t  prefix, format;

    prefix = (ngx_str_t) ngx_string("k:");
    format = (ngx_str_t) ngx_string("xml");

    return ngx_http_7digital_cache_key(NULL, &prefix, &fuzz_api, path,
                                       &format, params,
                                       ngx_http_7digital_is_oauth_param, key);
}


/*
 * A purge of a prefix ("<scope>/" and a star) reaches "<scope>/x?<params>":
 * its scope alone and narrowed by the first usable value of each scope
 * parameter.
 */

static void
fuzz_purge(ngx_str_t *path, ngx_array_t *params)
{
    u_char                     *p;
    ngx_int_t                   j;
    ngx_str_t                   scope, request, key;
    ngx_uint_t                  i, seen;
    ngx_array_t                 keys;
    ngx_http_7digital_param_t  *prm;

    if (ngx_http_7digital_cache_purge_scope(path, &scope) != NGX_OK) {
        return;
    }

    fuzz_assert(scope.len <= NGX_HTTP_7DIGITAL_SCOPE_MAX_LEN
                && (scope.len == 0 || scope.data[scope.len - 1] != '/'),
                "a purge scope too long or ending in /", path, &scope);

    request.len = scope.len + 2;
    request.data = malloc(request.len);
    p = ngx_cpymem(request.data, scope.data, scope.len);
    *p++ = '/';
    *p = 'x';

    ngx_array_init(&keys, NULL, 4, sizeof(ngx_str_t));

    if (ngx_http_7digital_cache_scopes(NULL, &fuzz_api, &request, params,
                                       &keys) != NGX_OK
        || ngx_http_7digital_cache_scope_key(NULL, &fuzz_api, &scope, NULL,
                                             NULL, &key) != NGX_OK)
    {
        abort();
    }

    fuzz_assert(fuzz_has(&keys, &key),
                "a purged prefix is not a scope of a request under it",
                path, &request);

    prm = params->elts;
    seen = 0;

    for (i = 0; i < params->nelts; i++) {
        j = ngx_http_7digital_cache_scope_param(&prm[i].name);

        if (j < 0 || (seen & (1 << j)) || prm[i].value.len == 0
            || prm[i].value.len > NGX_HTTP_7DIGITAL_SCOPE_VALUE)
        {
            continue;
        }

        seen |= 1 << j;

        if (ngx_http_7digital_cache_scope_key(NULL, &fuzz_api, &scope,
                                              &prm[i].name, &prm[i].value,
                                              &key)
            != NGX_OK)
        {
            abort();
        }

        fuzz_assert(fuzz_has(&keys, &key),
                    "a purge narrowed by a parameter misses a request",
                    &request, &prm[i].value);
    }

    free(request.data);
}


static ngx_uint_t
fuzz_has(ngx_array_t *keys, ngx_str_t *key)
{
    ngx_str_t   *k;
    ngx_uint_t   i;

    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (fuzz_same(&k[i], key)) {
            return 1;
        }
    }

    return 0;
}
