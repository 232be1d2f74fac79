
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The partner registry: loaded from JSON at configuration time, searched
 * per request without revealing through timing which keys exist.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include <openssl/rand.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_MAX_KEY_LEN  256


static const char *ngx_http_7digital_json_error(json_error_t *jerr);
static ngx_int_t ngx_http_7digital_partner_parse(ngx_pool_t *pool,
    json_t *obj, ngx_uint_t n, ngx_http_7digital_partner_t *p, char *err,
    size_t errlen);
static ngx_int_t ngx_http_7digital_partner_string(ngx_pool_t *pool,
    json_t *obj, const char *name, ngx_uint_t required, size_t max,
    ngx_str_t *dst, ngx_uint_t n, char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_partner_keys(ngx_pool_t *pool,
    json_t *obj, ngx_http_7digital_partner_t *base, ngx_array_t *partners,
    char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_partner_members_check(json_t *obj,
    const char **members, ngx_uint_t n, char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_partner_limits(json_t *obj,
    ngx_http_7digital_partner_t *p, char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_partner_apis(json_t *obj, ngx_uint_t n,
    ngx_uint_t *apis, char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_registry_index(
    ngx_http_7digital_registry_t *reg, char *err, size_t errlen);
static ngx_int_t ngx_http_7digital_registry_digests(
    ngx_http_7digital_registry_t *reg);
static ngx_int_t ngx_http_7digital_registry_secrets(
    ngx_http_7digital_registry_t *reg, char *err, size_t errlen);
static int ngx_libc_cdecl ngx_http_7digital_slot_cmp(const void *a,
    const void *b);


static const char  *ngx_http_7digital_partner_members[] = {
    "id", "key", "secret", "keys", "enabled", "apis", "limits", NULL
};


static const char  *ngx_http_7digital_key_members[] = {
    "key", "secret", "not_after", NULL
};


/* what is wrong, by kind only */

static const char *
ngx_http_7digital_json_error(json_error_t *jerr)
{
    switch (json_error_code(jerr)) {

    case json_error_cannot_open_file:
        return "cannot be opened";

    case json_error_invalid_utf8:
        return "invalid UTF-8";

    case json_error_premature_end_of_input:
        return "unexpected end of the file";

    case json_error_end_of_input_expected:
        return "text after the end of the JSON value";

    case json_error_duplicate_key:
        return "a key appears twice in one object";

    case json_error_null_character:
    case json_error_null_byte_in_key:
        return "a NUL character";

    case json_error_numeric_overflow:
        return "a number too large";

    default:
        return "invalid JSON syntax";
    }
}


ngx_http_7digital_registry_t *
ngx_http_7digital_registry_load(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *file, char *err, size_t errlen)
{
    json_t                        *root, *list;
    size_t                         i;
    json_error_t                   jerr;
    ngx_http_7digital_partner_t    base;
    ngx_http_7digital_registry_t  *reg;

    reg = ngx_pcalloc(pool, sizeof(ngx_http_7digital_registry_t));
    if (reg == NULL) {
        return NULL;
    }

    reg->file = *file;

    root = json_load_file((char *) file->data, JSON_REJECT_DUPLICATES, &jerr);

    if (root == NULL) {
        /* jansson's text may quote the file, secrets included: never shown */
        ngx_snprintf((u_char *) err, errlen,
                     "line %d, column %d: %s%Z",
                     jerr.line, jerr.column,
                     ngx_http_7digital_json_error(&jerr));
        goto failed;
    }

    list = json_is_object(root) ? json_object_get(root, "partners") : NULL;

    if (!json_is_array(list)) {
        ngx_snprintf((u_char *) err, errlen,
                     "the top level must be an object with a \"partners\" "
                     "array%Z");
        goto failed;
    }

    if (json_object_size(root) != 1) {
        ngx_snprintf((u_char *) err, errlen,
                     "the top level object may only hold \"partners\"%Z");
        goto failed;
    }

    if (ngx_array_init(&reg->partners, pool, json_array_size(list) + 1,
                       sizeof(ngx_http_7digital_partner_t))
        != NGX_OK)
    {
        goto failed;
    }

    for (i = 0; i < json_array_size(list); i++) {
        ngx_memzero(&base, sizeof(ngx_http_7digital_partner_t));

        if (ngx_http_7digital_partner_parse(pool, json_array_get(list, i),
                                            i + 1, &base, err, errlen)
            != NGX_OK
            || ngx_http_7digital_partner_keys(pool, json_array_get(list, i),
                                              &base, &reg->partners, err,
                                              errlen)
               != NGX_OK)
        {
            goto failed;
        }
    }

    if (ngx_http_7digital_registry_index(reg, err, errlen) != NGX_OK
        || ngx_http_7digital_registry_secrets(reg, err, errlen) != NGX_OK)
    {
        goto failed;
    }

    json_decref(root);

    return reg;

failed:

    json_decref(root);

    /* a message cut at errlen lost its %Z: a member's name is unbounded */
    err[errlen - 1] = '\0';

    return NULL;
}


static ngx_int_t
ngx_http_7digital_partner_parse(ngx_pool_t *pool, json_t *obj, ngx_uint_t n,
    ngx_http_7digital_partner_t *p, char *err, size_t errlen)
{
    json_t  *v;

    if (!json_is_object(obj)) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner #%ui is not an object%Z", n);
        return NGX_ERROR;
    }

    if (ngx_http_7digital_partner_members_check(obj,
                                        ngx_http_7digital_partner_members, n,
                                        err, errlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p->n = n;

    /* "key" or "keys": ngx_http_7digital_partner_keys() checks */
    if (ngx_http_7digital_partner_string(pool, obj, "id", 1,
                                         NGX_HTTP_7DIGITAL_MAX_ID_LEN,
                                         &p->id, n, err, errlen)
        != NGX_OK
        || ngx_http_7digital_partner_string(pool, obj, "key", 0,
                                            NGX_HTTP_7DIGITAL_MAX_KEY_LEN,
                                            &p->key, n, err, errlen)
           != NGX_OK
        || ngx_http_7digital_partner_string(pool, obj, "secret", 0,
                                            NGX_HTTP_7DIGITAL_MAX_KEY_LEN,
                                            &p->secret, n, err, errlen)
           != NGX_OK
        || ngx_http_7digital_partner_apis(obj, n, &p->apis, err, errlen)
           != NGX_OK
        || ngx_http_7digital_partner_limits(obj, p, err, errlen) != NGX_OK)
    {
        return NGX_ERROR;
    }

    v = json_object_get(obj, "enabled");

    if (v != NULL && !json_is_boolean(v)) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner \"%V\": \"enabled\" must be true or false%Z",
                     &p->id);
        return NGX_ERROR;
    }

    p->enabled = (v == NULL || json_is_true(v));

    return NGX_OK;
}


/* an object's members, each one of "members": a misspelling is an error */

static ngx_int_t
ngx_http_7digital_partner_members_check(json_t *obj, const char **members,
    ngx_uint_t n, char *err, size_t errlen)
{
    json_t       *v;
    const char   *name, **m;

    json_object_foreach(obj, name, v) {
        for (m = members; *m; m++) {
            if (ngx_strcmp(name, *m) == 0) {
                break;
            }
        }

        if (*m == NULL) {
            ngx_snprintf((u_char *) err, errlen,
                         "partner #%ui has an unknown member \"%s\"%Z",
                         n, name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A partner's keys: its "key" (with its "secret"), and each of its "keys"
 * ({"key", "secret" (else the partner's), "not_after"}), one registry
 * entry each, all with the partner's id, APIs and limits, so that its user
 * tokens, limits and audit trail carry over when a key is rotated.
 */

static ngx_int_t
ngx_http_7digital_partner_keys(ngx_pool_t *pool, json_t *obj,
    ngx_http_7digital_partner_t *base, ngx_array_t *partners, char *err,
    size_t errlen)
{
    size_t                        i;
    json_t                       *keys, *k, *v;
    ngx_str_t                     date;
    ngx_http_7digital_partner_t  *p;

    keys = json_object_get(obj, "keys");

    if (base->key.len == 0 && keys == NULL) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner #%ui has no \"key\"%Z", base->n);
        return NGX_ERROR;
    }

    if (base->key.len) {
        p = ngx_array_push(partners);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *p = *base;
    }

    if (keys == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner \"%V\": \"keys\" must be a list of "
                     "{\"key\", \"secret\", \"not_after\"}%Z", &base->id);
        return NGX_ERROR;
    }

    json_array_foreach(keys, i, k) {

        if (!json_is_object(k)
            || ngx_http_7digital_partner_members_check(k,
                                            ngx_http_7digital_key_members,
                                            base->n, err, errlen)
               != NGX_OK)
        {
            ngx_snprintf((u_char *) err, errlen,
                         "partner \"%V\": key #%uz of \"keys\" must be "
                         "{\"key\", \"secret\", \"not_after\"}%Z",
                         &base->id, i + 1);
            return NGX_ERROR;
        }

        p = ngx_array_push(partners);
        if (p == NULL) {
            return NGX_ERROR;
        }

        *p = *base;

        if (ngx_http_7digital_partner_string(pool, k, "key", 1,
                                             NGX_HTTP_7DIGITAL_MAX_KEY_LEN,
                                             &p->key, base->n, err, errlen)
            != NGX_OK
            || ngx_http_7digital_partner_string(pool, k, "secret", 0,
                                                NGX_HTTP_7DIGITAL_MAX_KEY_LEN,
                                                &p->secret, base->n, err,
                                                errlen)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (p->secret.len == 0) {
            p->secret = base->secret;
        }

        v = json_object_get(k, "not_after");

        if (v == NULL) {
            continue;
        }

        date.data = (u_char *) (json_is_string(v) ? json_string_value(v)
                                                  : "");
        date.len = ngx_strlen(date.data);

        if (ngx_http_7digital_cd_parse_date(&date, &p->not_after) != NGX_OK)
        {
            ngx_snprintf((u_char *) err, errlen,
                         "partner \"%V\": \"not_after\" of key #%uz must "
                         "be a UTC time as \"2027-01-31T00:00:00Z\"%Z",
                         &base->id, i + 1);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Identifiers and keys end up in logs, cache keys and HTTP headers, so
 * they are held to visible ASCII; a secret is only ever an HMAC key, but
 * it must not be empty.  Error messages never quote a key or a secret.
 */

static ngx_int_t
ngx_http_7digital_partner_string(ngx_pool_t *pool, json_t *obj,
    const char *name, ngx_uint_t required, size_t max, ngx_str_t *dst,
    ngx_uint_t n, char *err, size_t errlen)
{
    size_t       i, len;
    json_t      *v;
    const char  *s;

    v = json_object_get(obj, name);

    if (v == NULL) {
        ngx_str_null(dst);

        if (!required) {
            return NGX_OK;
        }

        ngx_snprintf((u_char *) err, errlen,
                     "partner #%ui has no \"%s\"%Z", n, name);
        return NGX_ERROR;
    }

    if (!json_is_string(v)) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner #%ui: \"%s\" must be a string%Z", n, name);
        return NGX_ERROR;
    }

    s = json_string_value(v);
    len = json_string_length(v);

    if (len == 0 || len > max) {
        ngx_snprintf((u_char *) err, errlen,
                     "partner #%ui: \"%s\" must be 1 to %uz bytes long%Z",
                     n, name, max);
        return NGX_ERROR;
    }

    for (i = 0; i < len; i++) {
        if ((u_char) s[i] <= 0x20 || (u_char) s[i] >= 0x7f
            || s[i] == '"' || s[i] == '\\')
        {
            ngx_snprintf((u_char *) err, errlen,
                         "partner #%ui: \"%s\" may only hold visible ASCII "
                         "characters other than quotes and backslashes%Z",
                         n, name);
            return NGX_ERROR;
        }
    }

    dst->data = ngx_pnalloc(pool, len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, s, len);
    dst->len = len;

    return NGX_OK;
}


/*
 * "limits": {"catalogue": {"rate": "50r/s", "burst": 100}, "purchase": ...}
 * by endpoint class; a class left out takes sevendigital_rate_limit's.
 */

static ngx_int_t
ngx_http_7digital_partner_limits(json_t *obj, ngx_http_7digital_partner_t *p,
    char *err, size_t errlen)
{
    json_t       *v, *limit, *rate, *burst;
    ngx_str_t     value;
    ngx_uint_t    c;
    const char   *name;

    v = json_object_get(obj, "limits");

    if (v == NULL) {
        return NGX_OK;
    }

    if (!json_is_object(v)) {
        goto invalid;
    }

    json_object_foreach(v, name, limit) {
        c = ngx_http_7digital_class((u_char *) name, ngx_strlen(name));

        if (c == NGX_HTTP_7DIGITAL_CLASS_AUTO || !json_is_object(limit)) {
            goto invalid;
        }

        rate = json_object_get(limit, "rate");
        burst = json_object_get(limit, "burst");

        if (!json_is_string(rate)
            || (burst && (!json_is_integer(burst)
                          || json_integer_value(burst) < 0
                          || json_integer_value(burst) > 1000000))
            || json_object_size(limit) != (size_t) (burst ? 2 : 1))
        {
            goto invalid;
        }

        value.data = (u_char *) json_string_value(rate);
        value.len = json_string_length(rate);

        if (ngx_http_7digital_gcra_rate(&value, &p->limits[c].interval)
            != NGX_OK)
        {
            goto invalid;
        }

        p->limits[c].burst = burst ? (uint64_t) json_integer_value(burst) : 0;
    }

    return NGX_OK;

invalid:

    ngx_snprintf((u_char *) err, errlen,
                 "partner \"%V\": \"limits\" must map \"catalogue\", "
                 "\"user\" or \"purchase\" to {\"rate\": \"50r/s\", "
                 "\"burst\": 100} (a rate per s, m or h)%Z", &p->id);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_7digital_partner_apis(json_t *obj, ngx_uint_t n, ngx_uint_t *apis,
    char *err, size_t errlen)
{
    size_t       i;
    json_t      *v, *e;
    const char  *s;

    v = json_object_get(obj, "apis");

    if (v == NULL) {
        *apis = NGX_HTTP_7DIGITAL_API_7D | NGX_HTTP_7DIGITAL_API_CD;
        return NGX_OK;
    }

    if (!json_is_array(v)) {
        goto invalid;
    }

    *apis = 0;

    json_array_foreach(v, i, e) {
        s = json_string_value(e);

        if (s == NULL) {
            goto invalid;
        }

        if (ngx_strcmp(s, "7digital") == 0) {
            *apis |= NGX_HTTP_7DIGITAL_API_7D;

        } else if (ngx_strcmp(s, "choosedigital") == 0) {
            *apis |= NGX_HTTP_7DIGITAL_API_CD;

        } else {
            goto invalid;
        }
    }

    return NGX_OK;

invalid:

    ngx_snprintf((u_char *) err, errlen,
                 "partner #%ui: \"apis\" must be an array of \"7digital\" "
                 "and \"choosedigital\"%Z", n);

    return NGX_ERROR;
}


/*
 * Keys are looked up by a SipHash of the key under a random per-load
 * key: the binary search compares digests an attacker cannot predict, and
 * the one key found is then compared in constant time.
 */

static ngx_int_t
ngx_http_7digital_registry_index(ngx_http_7digital_registry_t *reg,
    char *err, size_t errlen)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, j, tries;
    ngx_http_7digital_partner_t  *p;

    p = reg->partners.elts;

    for (i = 0; i < reg->partners.nelts; i++) {
        for (j = 0; j < i; j++) {
            if (p[i].n != p[j].n && p[i].id.len == p[j].id.len
                && ngx_strncmp(p[i].id.data, p[j].id.data, p[i].id.len) == 0)
            {
                ngx_snprintf((u_char *) err, errlen,
                             "partner #%ui: duplicate id \"%V\"%Z",
                             p[i].n, &p[i].id);
                return NGX_ERROR;
            }

            if (ngx_http_7digital_equal(&p[i].key, &p[j].key)) {
                ngx_snprintf((u_char *) err, errlen,
                             "partner \"%V\" has the same key as "
                             "partner \"%V\"%Z", &p[i].id, &p[j].id);
                return NGX_ERROR;
            }
        }
    }

    if (ngx_array_init(&reg->slots, reg->partners.pool,
                       reg->partners.nelts + 1,
                       sizeof(ngx_http_7digital_slot_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* two keys with one digest (one chance in 2^64 a pair): another key */
    for (tries = 0; tries < 4; tries++) {
        rc = ngx_http_7digital_registry_digests(reg);

        if (rc != NGX_DECLINED) {
            if (rc == NGX_ERROR) {
                ngx_snprintf((u_char *) err, errlen,
                             "RAND_bytes() failed%Z");
            }

            return rc;
        }
    }

    ngx_snprintf((u_char *) err, errlen, "keys with the same digest%Z");

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_7digital_registry_digests(ngx_http_7digital_registry_t *reg)
{
    ngx_uint_t                    i;
    ngx_http_7digital_slot_t     *slot;
    ngx_http_7digital_partner_t  *p;

    if (RAND_bytes(reg->lookup_key, NGX_HTTP_7DIGITAL_SIPHASH_KEY) != 1) {
        return NGX_ERROR;
    }

    p = reg->partners.elts;
    slot = reg->slots.elts;
    reg->slots.nelts = reg->partners.nelts;

    for (i = 0; i < reg->partners.nelts; i++) {
        slot[i].partner = &p[i];
        slot[i].digest = ngx_http_7digital_siphash(reg->lookup_key,
                                                   p[i].key.data,
                                                   p[i].key.len);
    }

    ngx_qsort(slot, reg->slots.nelts, sizeof(ngx_http_7digital_slot_t),
              ngx_http_7digital_slot_cmp);

    for (i = 1; i < reg->slots.nelts; i++) {
        if (slot[i].digest == slot[i - 1].digest) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the secrets partners sign with, made ready once */

static ngx_int_t
ngx_http_7digital_registry_secrets(ngx_http_7digital_registry_t *reg,
    char *err, size_t errlen)
{
    ngx_str_t                     key;
    ngx_uint_t                    i;
    ngx_http_7digital_partner_t  *p;

    static ngx_str_t  none = ngx_null_string;

    p = reg->partners.elts;

    for (i = 0; i < reg->partners.nelts; i++) {
        if (p[i].secret.len == 0) {
            continue;
        }

        p[i].hmac = ngx_http_7digital_hmac_create(reg->partners.pool, 0,
                                                  &p[i].secret);

        if (p[i].hmac == NULL
            || ngx_http_7digital_oauth_key(reg->partners.pool, &p[i].secret,
                                           &none, &key)
               != NGX_OK
            || (p[i].oauth = ngx_http_7digital_hmac_create(
                                 reg->partners.pool, 0, &key))
               == NULL)
        {
            ngx_snprintf((u_char *) err, errlen,
                         "partner \"%V\": HMAC key setup failed%Z",
                         &p[i].id);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_7digital_slot_cmp(const void *a, const void *b)
{
    uint64_t  one, two;

    one = ((ngx_http_7digital_slot_t *) a)->digest;
    two = ((ngx_http_7digital_slot_t *) b)->digest;

    return (one > two) - (one < two);
}


ngx_http_7digital_partner_t *
ngx_http_7digital_registry_find(ngx_http_7digital_registry_t *reg,
    ngx_str_t *key)
{
    uint64_t                   digest;
    ngx_uint_t                 lo, hi, mid;
    ngx_http_7digital_slot_t  *slot;

    if (key->len == 0 || key->len > NGX_HTTP_7DIGITAL_MAX_KEY_LEN) {
        return NULL;
    }

    digest = ngx_http_7digital_siphash(reg->lookup_key, key->data, key->len);

    slot = reg->slots.elts;
    lo = 0;
    hi = reg->slots.nelts;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (digest == slot[mid].digest) {
            return ngx_http_7digital_equal(key, &slot[mid].partner->key)
                   ? slot[mid].partner : NULL;
        }

        if (digest < slot[mid].digest) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


/*
 * The partner behind a key and whether it may call this API; returns an
 * ngx_http_7digital_auth_e value (OK, UNKNOWN, DISABLED, EXPIRED or
 * FORBIDDEN).
 */

ngx_uint_t
ngx_http_7digital_registry_check(ngx_http_7digital_registry_t *reg,
    ngx_str_t *key, ngx_uint_t api, time_t now,
    ngx_http_7digital_partner_t **partner)
{
    ngx_http_7digital_partner_t  *p;

    p = ngx_http_7digital_registry_find(reg, key);
    *partner = p;

    if (p == NULL) {
        return NGX_HTTP_7DIGITAL_CHECK_UNKNOWN;
    }

    if (!p->enabled) {
        return NGX_HTTP_7DIGITAL_CHECK_DISABLED;
    }

    /* a rotated key, past the day it was given until */
    if (p->not_after && now > p->not_after) {
        return NGX_HTTP_7DIGITAL_CHECK_EXPIRED;
    }

    if (!(p->apis & api)) {
        return NGX_HTTP_7DIGITAL_CHECK_FORBIDDEN;
    }

    return NGX_HTTP_7DIGITAL_CHECK_OK;
}
