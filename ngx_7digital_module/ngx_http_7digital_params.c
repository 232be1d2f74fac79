
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Query strings, urlencoded bodies and OAuth Authorization headers.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


static ngx_int_t ngx_http_7digital_hex(u_char c);
static ngx_uint_t ngx_http_7digital_log_secret(u_char *p, u_char *end);
static ngx_int_t ngx_http_7digital_add_param(ngx_pool_t *pool,
    ngx_array_t *params, u_char *start, u_char *end);
static size_t ngx_http_7digital_utf8_char(u_char *p, u_char *end);


/* the OAuth protocol parameters a partner signs with; never forwarded */
/* RFC 3986 section 2.3: ALPHA DIGIT "-" "." "_" "~", a byte each */
static u_char  ngx_http_7digital_unreserved[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0,     /* - . */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,     /* 0-9 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,     /* P-Z _ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0      /* p-z ~ */
};


static ngx_str_t  ngx_http_7digital_oauth_credentials[] = {
    ngx_string("oauth_consumer_key"),
    ngx_string("oauth_signature"),
    ngx_string("oauth_signature_method"),
    ngx_string("oauth_nonce"),
    ngx_string("oauth_timestamp"),
    ngx_string("oauth_version"),
    ngx_null_string
};


ngx_int_t
ngx_http_7digital_parse_params(ngx_pool_t *pool, ngx_str_t *src,
    ngx_array_t *params)
{
    u_char     *p, *start, *end;
    ngx_int_t   rc;

    /* no query string: r->args.data is NULL, with which C has no arithmetic */
    if (src->len == 0) {
        return NGX_OK;
    }

    p = src->data;
    end = src->data + src->len;

    while (p < end) {
        start = p;

        while (p < end && *p != '&') {
            p++;
        }

        if (p > start) {
            rc = ngx_http_7digital_add_param(pool, params, start, p);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        p++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_add_param(ngx_pool_t *pool, ngx_array_t *params,
    u_char *start, u_char *end)
{
    u_char                     *eq;
    ngx_str_t                   name, value;
    ngx_http_7digital_param_t  *prm;

    if (params->nelts >= NGX_HTTP_7DIGITAL_MAX_PARAMS) {
        return NGX_ABORT;
    }

    eq = ngx_strlchr(start, end, '=');

    name.data = start;
    name.len = (eq ? eq : end) - start;

    if (eq) {
        value.data = eq + 1;
        value.len = end - eq - 1;

    } else {
        /* empty, but not NULL: C has no arithmetic or memcpy() on NULL */
        value.data = end;
        value.len = 0;
    }

    prm = ngx_array_push(params);
    if (prm == NULL) {
        return NGX_ERROR;
    }

    prm->raw.data = start;
    prm->raw.len = end - start;

    if (ngx_http_7digital_decode(pool, &name, &prm->name, 1) != NGX_OK
        || ngx_http_7digital_decode(pool, &value, &prm->value, 1) != NGX_OK)
    {
        params->nelts--;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Strict percent-decoding: "%" not followed by two hex digits is an error
 * rather than a literal, so that two parsers can never disagree on what a
 * parameter says.  Forms (query strings, urlencoded bodies) also turn "+"
 * into a space; Authorization header values do not.
 */

ngx_int_t
ngx_http_7digital_decode(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst,
    ngx_uint_t form)
{
    u_char     *s, *end, *d;
    ngx_int_t   hi, lo;

    for (s = src->data, end = s + src->len; s < end; s++) {
        if (*s == '%' || (form && *s == '+')) {
            break;
        }
    }

    if (s == end) {
        *dst = *src;
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, src->len ? src->len : 1);
    if (d == NULL) {
        return NGX_ERROR;
    }

    dst->data = d;

    for (s = src->data; s < end; s++) {

        if (*s == '%') {
            if (end - s < 3) {
                return NGX_DECLINED;
            }

            hi = ngx_http_7digital_hex(s[1]);
            lo = ngx_http_7digital_hex(s[2]);

            if (hi < 0 || lo < 0) {
                return NGX_DECLINED;
            }

            *d++ = (u_char) (hi << 4 | lo);
            s += 2;

        } else if (form && *s == '+') {
            *d++ = ' ';

        } else {
            *d++ = *s;
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * Text as a request may carry it once decoded, in a parameter's name or
 * value or in the path: no control character (NUL, CR and LF above all,
 * which end a header, a request line or a log line wherever a value is
 * copied to) and nothing but UTF-8, which an audit record's JSON could
 * only show altered.  NGX_HTTP_7DIGITAL_TEXT_OK, or what is wrong.
 */

ngx_uint_t
ngx_http_7digital_text_check(ngx_str_t *s)
{
    u_char      *p, *end;
    size_t       n;
    ngx_uint_t   rc;

    rc = NGX_HTTP_7DIGITAL_TEXT_OK;

    p = s->data;
    end = p + s->len;

    while (p < end) {

        if (*p < 0x20 || *p == 0x7f) {
            rc = NGX_HTTP_7DIGITAL_TEXT_CONTROL;
            break;
        }

        n = (*p < 0x80) ? 1 : ngx_http_7digital_utf8_char(p, end);

        if (n == 0) {
            rc = NGX_HTTP_7DIGITAL_TEXT_UTF8;
            break;
        }

        p += n;
    }

    return rc;
}


/*
 * The length of the UTF-8 sequence at p, 0 when it is not one: RFC 3629,
 * so no overlong form, no surrogate, nothing above U+10FFFF.
 */

static size_t
ngx_http_7digital_utf8_char(u_char *p, u_char *end)
{
    size_t    n, i;
    uint32_t  cp, min;

    if (*p >= 0xc2 && *p <= 0xdf) {
        n = 2;
        cp = *p & 0x1f;
        min = 0x80;

    } else if (*p >= 0xe0 && *p <= 0xef) {
        n = 3;
        cp = *p & 0x0f;
        min = 0x800;

    } else if (*p >= 0xf0 && *p <= 0xf4) {
        n = 4;
        cp = *p & 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if ((size_t) (end - p) < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        cp = cp << 6 | (p[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }

    return n;
}


/* the first problem of any parameter's name or value, as text_check */

ngx_uint_t
ngx_http_7digital_params_check(ngx_array_t *params)
{
    ngx_uint_t                  i, rc;
    ngx_http_7digital_param_t  *prm;

    rc = NGX_HTTP_7DIGITAL_TEXT_OK;
    prm = params->elts;

    for (i = 0; i < params->nelts && rc == NGX_HTTP_7DIGITAL_TEXT_OK; i++) {
        rc = ngx_http_7digital_text_check(&prm[i].name);

        if (rc == NGX_HTTP_7DIGITAL_TEXT_OK) {
            rc = ngx_http_7digital_text_check(&prm[i].value);
        }
    }

    return rc;
}


/* RFC 3986 section 2.3: every byte but the unreserved ones */

ngx_int_t
ngx_http_7digital_escape(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    u_char  *s, *end, *d;

    static u_char  hex[] = "0123456789ABCDEF";

    /* an unset string (a token secret, ...) is NULL: no arithmetic on it */
    if (src->len == 0) {
        *dst = *src;
        return NGX_OK;
    }

    end = src->data + src->len;

    for (s = src->data; s < end; s++) {
        if (!ngx_http_7digital_unreserved[*s]) {
            break;
        }
    }

    if (s == end) {
        *dst = *src;
        return NGX_OK;
    }

    /* what is left may all need escaping */
    d = ngx_pnalloc(pool, src->len + 2 * (end - s));
    if (d == NULL) {
        return NGX_ERROR;
    }

    dst->data = d;
    d = ngx_cpymem(d, src->data, s - src->data);

    for ( /* void */ ; s < end; s++) {
        if (ngx_http_7digital_unreserved[*s]) {
            *d++ = *s;

        } else {
            *d++ = '%';
            *d++ = hex[*s >> 4];
            *d++ = hex[*s & 0x0f];
        }
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


/*
 * RFC 5849 section 3.5.1 ("OAuth k="v", ...") and the bare
 * "oauth_consumer_key=KEY" that the .NET wrapper sends on unsigned calls.
 * Returns NGX_DONE for another scheme, NGX_DECLINED when malformed.
 */

ngx_int_t
ngx_http_7digital_parse_authorization(ngx_pool_t *pool, ngx_str_t *value,
    ngx_array_t *params)
{
    u_char                     *p, *end, *name, *val;
    ngx_str_t                   n, v;
    ngx_http_7digital_param_t  *prm;

    static ngx_str_t  bare = ngx_string("oauth_consumer_key=");

    p = value->data;
    end = p + value->len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if ((size_t) (end - p) >= bare.len
        && ngx_strncmp(p, bare.data, bare.len) == 0)
    {
        n.data = p;
        n.len = bare.len - 1;

        v.data = p + bare.len;
        v.len = end - v.data;

        while (v.len && (v.data[v.len - 1] == ' '
                         || v.data[v.len - 1] == '\t'))
        {
            v.len--;
        }

        prm = ngx_array_push(params);
        if (prm == NULL) {
            return NGX_ERROR;
        }

        prm->raw.data = p;
        prm->raw.len = end - p;
        prm->name = n;

        return ngx_http_7digital_decode(pool, &v, &prm->value, 0);
    }

    if (end - p < 5 || ngx_strncasecmp(p, (u_char *) "OAuth", 5) != 0
        || (end - p > 5 && p[5] != ' ' && p[5] != '\t'))
    {
        return NGX_DONE;
    }

    p += 5;

    for ( ;; ) {

        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        if (p == end) {
            return NGX_OK;
        }

        name = p;

        while (p < end && *p != '=' && *p != ' ' && *p != ',') {
            p++;
        }

        if (p == name || p + 1 >= end || p[0] != '=' || p[1] != '"') {
            return NGX_DECLINED;
        }

        n.data = name;
        n.len = p - name;

        val = p + 2;
        p = ngx_strlchr(val, end, '"');

        if (p == NULL) {
            return NGX_DECLINED;
        }

        v.data = val;
        v.len = p - val;
        p++;

        if (p < end && *p != ',' && *p != ' ' && *p != '\t') {
            return NGX_DECLINED;
        }

        if (n.len == 5 && ngx_strncmp(n.data, "realm", 5) == 0) {
            continue;
        }

        if (params->nelts >= NGX_HTTP_7DIGITAL_MAX_PARAMS) {
            return NGX_ABORT;
        }

        prm = ngx_array_push(params);
        if (prm == NULL) {
            return NGX_ERROR;
        }

        prm->raw.data = name;
        prm->raw.len = p - name;

        if (ngx_http_7digital_decode(pool, &n, &prm->name, 0) != NGX_OK
            || ngx_http_7digital_decode(pool, &v, &prm->value, 0) != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }
}


/* "name=enc(value)", a parameter as it goes on the wire */

ngx_int_t
ngx_http_7digital_param_text(ngx_pool_t *pool, ngx_str_t *name,
    ngx_str_t *value, ngx_str_t *dst)
{
    u_char     *p;
    ngx_str_t   esc;

    if (ngx_http_7digital_escape(pool, value, &esc) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, name->len + 1 + esc.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst->data = p;
    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '=';
    p = ngx_cpymem(p, esc.data, esc.len);
    dst->len = p - dst->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_7digital_join_params(ngx_pool_t *pool, ngx_array_t *params,
    ngx_http_7digital_skip_pt skip, ngx_str_t *extra, ngx_str_t *dst)
{
    u_char                     *d;
    size_t                      len;
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;
    len = extra ? extra->len + 1 : 0;

    for (i = 0; i < params->nelts; i++) {
        if (skip == NULL || !skip(&prm[i].name)) {
            len += prm[i].raw.len + 1;
        }
    }

    if (len == 0) {
        ngx_str_null(dst);
        return NGX_OK;
    }

    d = ngx_pnalloc(pool, len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    dst->data = d;

    for (i = 0; i < params->nelts; i++) {
        if (skip == NULL || !skip(&prm[i].name)) {
            d = ngx_cpymem(d, prm[i].raw.data, prm[i].raw.len);
            *d++ = '&';
        }
    }

    if (extra) {
        d = ngx_cpymem(d, extra->data, extra->len);
        *d++ = '&';
    }

    dst->len = d - dst->data - 1;

    return NGX_OK;
}


ngx_http_7digital_param_t *
ngx_http_7digital_find_param(ngx_array_t *params, ngx_str_t *name,
    ngx_uint_t *count)
{
    ngx_uint_t                  i, n;
    ngx_http_7digital_param_t  *prm, *found;

    prm = params->elts;
    found = NULL;
    n = 0;

    for (i = 0; i < params->nelts; i++) {
        if (prm[i].name.len == name->len
            && ngx_memcmp(prm[i].name.data, name->data, name->len) == 0)
        {
            if (found == NULL) {
                found = &prm[i];
            }

            n++;
        }
    }

    if (count) {
        *count = n;
    }

    return found;
}


ngx_uint_t
ngx_http_7digital_is_oauth_credential(ngx_str_t *name)
{
    ngx_str_t  *c;

    for (c = ngx_http_7digital_oauth_credentials; c->len; c++) {
        if (name->len == c->len
            && ngx_strncmp(name->data, c->data, c->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The names logs must never show the values of: what identifies a partner
 * or a user, or proves who sent a request.
 */

static ngx_str_t  ngx_http_7digital_log_secrets[] = {
    ngx_string("oauth_consumer_key"),
    ngx_string("oauth_token"),
    ngx_string("oauth_signature"),
    ngx_string("oauth_verifier"),
    ngx_string("authentication"),
    ngx_null_string
};


/*
 * A query string as a log may show it: every credential left out, the
 * other parameters as they came, in their order.  *dst is src itself when
 * nothing is left out.
 */

ngx_int_t
ngx_http_7digital_log_args(ngx_pool_t *pool, ngx_str_t *src, ngx_str_t *dst)
{
    u_char      *p, *end, *start, *buf, *d;
    ngx_uint_t   dropped;

    *dst = *src;

    if (src->len == 0) {
        return NGX_OK;
    }

    buf = ngx_pnalloc(pool, src->len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    d = buf;
    dropped = 0;

    p = src->data;
    end = src->data + src->len;

    while (p < end) {
        start = p;

        while (p < end && *p != '&') {
            p++;
        }

        if (p > start) {
            if (ngx_http_7digital_log_secret(start, p)) {
                dropped = 1;

            } else {
                if (d > buf) {
                    *d++ = '&';
                }

                d = ngx_cpymem(d, start, p - start);
            }
        }

        p++;
    }

    if (dropped) {
        dst->data = buf;
        dst->len = d - buf;
    }

    return NGX_OK;
}


/*
 * Whether a "name=value" is a credential.  The name is compared
 * percent-decoded, leniently (a malformed escape stays as it is), so that
 * "oauth%5Fconsumer%5Fkey" is one too.
 */

static ngx_uint_t
ngx_http_7digital_log_secret(u_char *p, u_char *end)
{
    u_char     *q, name[32];
    ngx_int_t   hi, lo;
    ngx_str_t  *s;

    q = name;

    while (p < end && *p != '=') {

        if (q == name + sizeof(name)) {
            /* longer than any credential's name */
            return 0;
        }

        hi = lo = NGX_ERROR;

        if (*p == '%' && end - p > 2) {
            hi = ngx_http_7digital_hex(p[1]);
            lo = ngx_http_7digital_hex(p[2]);
        }

        if (hi != NGX_ERROR && lo != NGX_ERROR) {
            *q++ = (u_char) (hi << 4 | lo);
            p += 3;

        } else {
            *q++ = *p++;
        }
    }

    for (s = ngx_http_7digital_log_secrets; s->len; s++) {
        if ((size_t) (q - name) == s->len
            && ngx_strncmp(name, s->data, s->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* ":port", without nginx's formatting functions */

u_char *
ngx_http_7digital_put_port(u_char *p, ngx_uint_t port)
{
    u_char   digits[NGX_INT_T_LEN];
    size_t   n;

    n = 0;

    do {
        digits[n++] = (u_char) ('0' + port % 10);
        port /= 10;
    } while (port);

    *p++ = ':';

    while (n) {
        *p++ = digits[--n];
    }

    return p;
}


/*
 * Every protocol parameter: a signed request carries them all in one place,
 * with the signature (RFC 5849 section 3.5).
 */

ngx_uint_t
ngx_http_7digital_is_oauth_param(ngx_str_t *name)
{
    return name->len > 6 && ngx_strncmp(name->data, "oauth_", 6) == 0;
}


/* byte order, a shorter string first: RFC 5849's sort, and the cache's */

int
ngx_http_7digital_bytes_cmp(ngx_str_t *a, ngx_str_t *b)
{
    int  rc;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc == 0) {
        rc = (a->len < b->len) ? -1 : (a->len > b->len);
    }

    return rc;
}


/* a parameter of the module's own making: its name a literal, no raw text */

ngx_int_t
ngx_http_7digital_push_param(ngx_array_t *a, char *name, ngx_str_t *value)
{
    ngx_http_7digital_param_t  *p;

    p = ngx_array_push(a);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->name.data = (u_char *) name;
    p->name.len = ngx_strlen(name);
    p->value = *value;
    ngx_str_null(&p->raw);

    return NGX_OK;
}
