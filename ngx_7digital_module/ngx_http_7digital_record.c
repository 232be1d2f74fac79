
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The purchase audit trail's pure half: which parameters of a sale are
 * written down (and which are masked), the record's JSON line, the sale's
 * id in the upstream's answer, and the checks 7digital's deliveritem
 * makes of its parameters.  docs/purchases.md, docs/audit-record.schema.json.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_FIELD_PLAIN     0
#define NGX_HTTP_7DIGITAL_FIELD_EMAIL     1   /* masked unless kept */
#define NGX_HTTP_7DIGITAL_FIELD_POSTCODE  2   /* masked unless kept */
#define NGX_HTTP_7DIGITAL_FIELD_CODE      3   /* a bearer code: its end */


/*
 * The business fields of a sale, by the API's own names.  Nothing else is
 * ever written: passwords, card numbers, CVVs, tokens and signatures are
 * simply not on the list.
 */

typedef struct {
    ngx_str_t   name;
    ngx_uint_t  kind;
} ngx_http_7digital_field_t;


static ngx_http_7digital_field_t  ngx_http_7digital_7d_fields[] = {
    { ngx_string("userId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("emailAddress"), NGX_HTTP_7DIGITAL_FIELD_EMAIL },
    { ngx_string("releaseId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("trackId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("packageId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("formatId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("country"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("shopId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("transactionId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("retailPrice"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("price"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("currency"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("currencyCode"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("voucherCode"), NGX_HTTP_7DIGITAL_FIELD_CODE },
    { ngx_string("basketId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("itemId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("cardId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("purchaseId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("postCode"), NGX_HTTP_7DIGITAL_FIELD_POSTCODE },
    { ngx_string("zipCode"), NGX_HTTP_7DIGITAL_FIELD_POSTCODE },
    { ngx_null_string, 0 }
};

static ngx_http_7digital_field_t  ngx_http_7digital_cd_fields[] = {
    { ngx_string("cdin"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("customerId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("customerCountryCode"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("priceSold"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("taxAmount"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("currencyType"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("orderId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("transactionId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("cancelTransactionId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("promoCode"), NGX_HTTP_7DIGITAL_FIELD_CODE },
    { ngx_string("externalMemberId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("tenantId"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("segment"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("tier"), NGX_HTTP_7DIGITAL_FIELD_PLAIN },
    { ngx_string("customerEmail"), NGX_HTTP_7DIGITAL_FIELD_EMAIL },
    { ngx_string("customerPostalCode"), NGX_HTTP_7DIGITAL_FIELD_POSTCODE },
    { ngx_null_string, 0 }
};


/* what deliveritem needs, checked before a sale is recorded or sent */

typedef struct {
    ngx_str_t   name;
    ngx_int_t (*valid)(ngx_str_t *value);
} ngx_http_7digital_required_t;


static ngx_int_t ngx_http_7digital_any(ngx_str_t *value);
static ngx_uint_t ngx_http_7digital_route_has(ngx_http_7digital_route_t *route,
    ngx_str_t *name);
static ngx_int_t ngx_http_7digital_price(ngx_str_t *value);
static ngx_int_t ngx_http_7digital_letters2(ngx_str_t *value);
static ngx_int_t ngx_http_7digital_letters3(ngx_str_t *value);
static ngx_http_7digital_param_t *ngx_http_7digital_record_param(
    ngx_array_t *query, ngx_array_t *body, ngx_str_t *name);
static ngx_uint_t ngx_http_7digital_param_count(ngx_array_t *query,
    ngx_array_t *body, ngx_str_t *name);
static ngx_int_t ngx_http_7digital_mask(ngx_pool_t *pool, ngx_uint_t kind,
    ngx_str_t *value, ngx_str_t *out);
static json_t *ngx_http_7digital_json_str(ngx_str_t *s);
static ngx_int_t ngx_http_7digital_json_set(json_t *obj, const char *key,
    json_t *value);
static ngx_int_t ngx_http_7digital_id_after(u_char *p, u_char *end,
    ngx_str_t *id);
static u_char *ngx_http_7digital_find(u_char *p, u_char *end, char *s,
    size_t n);
static int ngx_http_7digital_param_cmp(ngx_http_7digital_param_t *a,
    ngx_http_7digital_param_t *b);
static u_char *ngx_http_7digital_put_field(u_char *p, ngx_str_t *s);


static ngx_http_7digital_required_t  ngx_http_7digital_deliver_required[] = {
    { ngx_string("userId"), ngx_http_7digital_any },
    { ngx_string("releaseId"), ngx_http_7digital_any },
    { ngx_string("country"), ngx_http_7digital_letters2 },
    { ngx_string("transactionId"), ngx_http_7digital_any },
    { ngx_string("retailPrice"), ngx_http_7digital_price },
    { ngx_null_string, NULL }
};

static ngx_str_t  ngx_http_7digital_currency_names[] = {
    ngx_string("currency"),
    ngx_string("currencyCode"),
    ngx_null_string
};


/*
 * The sale's parameters worth keeping, from the body first, then the
 * query; personal data masked unless "keep" says otherwise.  Path ids
 * (a refund's purchase and track) come first.
 */

ngx_int_t
ngx_http_7digital_record_fields(ngx_pool_t *pool, ngx_uint_t api,
    ngx_http_7digital_route_t *route, ngx_array_t *query, ngx_array_t *body,
    ngx_uint_t keep, ngx_array_t *fields)
{
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *p, *f;
    ngx_http_7digital_field_t  *spec;

    for (i = 0; i < route->nparams; i++) {
        f = ngx_array_push(fields);
        if (f == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(f, sizeof(ngx_http_7digital_param_t));
        f->name = route->params[i].name;
        f->value = route->params[i].value;
    }

    spec = (api == NGX_HTTP_7DIGITAL_API_CD) ? ngx_http_7digital_cd_fields
                                             : ngx_http_7digital_7d_fields;

    for ( /* void */ ; spec->name.len; spec++) {
        p = ngx_http_7digital_record_param(query, body, &spec->name);

        if (p == NULL
            || ngx_http_7digital_route_has(route, &spec->name))
        {
            /* the path names the sale's ids; a parameter cannot restate them */
            continue;
        }

        f = ngx_array_push(fields);
        if (f == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(f, sizeof(ngx_http_7digital_param_t));
        f->name = spec->name;

        if (keep || spec->kind == NGX_HTTP_7DIGITAL_FIELD_PLAIN) {
            f->value = p->value;
            continue;
        }

        if (ngx_http_7digital_mask(pool, spec->kind, &p->value, &f->value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_7digital_route_has(ngx_http_7digital_route_t *route, ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < route->nparams; i++) {
        if (route->params[i].name.len == name->len
            && ngx_strncmp(route->params[i].name.data, name->data, name->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* the amount and currency a sale is totalled by */

void
ngx_http_7digital_record_amount(ngx_uint_t api, ngx_array_t *fields,
    ngx_str_t *amount, ngx_str_t *currency)
{
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *f;

    ngx_str_null(amount);
    ngx_str_null(currency);

    f = fields->elts;

    for (i = 0; i < fields->nelts; i++) {

        if (api == NGX_HTTP_7DIGITAL_API_CD) {
            if (f[i].name.len == 9
                && ngx_strncmp(f[i].name.data, "priceSold", 9) == 0)
            {
                *amount = f[i].value;
                ngx_str_set(currency, "points");
            }

            continue;
        }

        if ((f[i].name.len == 11
             && ngx_strncmp(f[i].name.data, "retailPrice", 11) == 0)
            || (f[i].name.len == 5
                && ngx_strncmp(f[i].name.data, "price", 5) == 0))
        {
            *amount = f[i].value;

        } else if ((f[i].name.len == 8
                    && ngx_strncmp(f[i].name.data, "currency", 8) == 0)
                   || (f[i].name.len == 12
                       && ngx_strncmp(f[i].name.data, "currencyCode", 12)
                          == 0))
        {
            *currency = f[i].value;
        }
    }
}


/*
 * deliveritem's own checks: NGX_OK, or NGX_DECLINED with *name the first
 * parameter missing (*missing set) or invalid.
 */

ngx_int_t
ngx_http_7digital_deliver_check(ngx_array_t *query, ngx_array_t *body,
    ngx_str_t *name, ngx_uint_t *missing)
{
    ngx_str_t                     *c;
    ngx_http_7digital_param_t     *p;
    ngx_http_7digital_required_t  *req;

    for (req = ngx_http_7digital_deliver_required; req->name.len; req++) {
        p = ngx_http_7digital_record_param(query, body, &req->name);

        /* sent twice, a value is not one value: refused, never guessed */
        if (p == NULL || p->value.len == 0 || req->valid(&p->value) != NGX_OK
            || ngx_http_7digital_param_count(query, body, &req->name) > 1)
        {
            *name = req->name;
            *missing = (p == NULL || p->value.len == 0);
            return NGX_DECLINED;
        }
    }

    for (c = ngx_http_7digital_currency_names; c->len; c++) {
        p = ngx_http_7digital_record_param(query, body, c);

        if (p && p->value.len) {
            *name = *c;
            *missing = 0;
            return (ngx_http_7digital_letters3(&p->value) == NGX_OK
                    && ngx_http_7digital_param_count(query, body, c) == 1)
                   ? NGX_OK : NGX_DECLINED;
        }
    }

    *name = ngx_http_7digital_currency_names[0];
    *missing = 1;

    return NGX_DECLINED;
}


/*
 * A business field sent twice with different values (twice in the query,
 * or in the query and the body) could be recorded with one value and
 * carried out by the upstream with the other: NGX_DECLINED, *name the
 * first such field.  The same value twice is one value.
 */

ngx_int_t
ngx_http_7digital_record_conflict(ngx_uint_t api, ngx_array_t *query,
    ngx_array_t *body, ngx_str_t *name)
{
    ngx_uint_t                  i, j;
    ngx_str_t                  *first;
    ngx_array_t                *src[2];
    ngx_http_7digital_param_t  *prm;
    ngx_http_7digital_field_t  *spec;

    spec = (api == NGX_HTTP_7DIGITAL_API_CD) ? ngx_http_7digital_cd_fields
                                             : ngx_http_7digital_7d_fields;
    src[0] = body;
    src[1] = query;

    for ( /* void */ ; spec->name.len; spec++) {
        first = NULL;

        for (j = 0; j < 2; j++) {
            prm = src[j]->elts;

            for (i = 0; i < src[j]->nelts; i++) {
                if (prm[i].name.len != spec->name.len
                    || ngx_strncmp(prm[i].name.data, spec->name.data,
                                   spec->name.len)
                       != 0)
                {
                    continue;
                }

                if (first == NULL) {
                    first = &prm[i].value;
                    continue;
                }

                if (first->len != prm[i].value.len
                    || ngx_strncmp(first->data, prm[i].value.data,
                                   first->len)
                       != 0)
                {
                    *name = spec->name;
                    return NGX_DECLINED;
                }
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_any(ngx_str_t *value)
{
    return NGX_OK;
}


/* "0", "1.5", "12.99": no sign, no comma, at most two decimals */

static ngx_int_t
ngx_http_7digital_price(ngx_str_t *value)
{
    u_char  *p, *end;
    size_t   digits, decimals;

    p = value->data;
    end = p + value->len;
    digits = 0;

    while (p < end && *p >= '0' && *p <= '9') {
        p++;
        digits++;
    }

    if (digits == 0 || digits > 9) {
        return NGX_DECLINED;
    }

    if (p == end) {
        return NGX_OK;
    }

    if (*p++ != '.') {
        return NGX_DECLINED;
    }

    decimals = end - p;

    if (decimals == 0 || decimals > 2) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < end; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_letters(ngx_str_t *value, size_t n)
{
    size_t  i;

    if (value->len != n) {
        return NGX_DECLINED;
    }

    for (i = 0; i < n; i++) {
        if (!((value->data[i] >= 'a' && value->data[i] <= 'z')
              || (value->data[i] >= 'A' && value->data[i] <= 'Z')))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_letters2(ngx_str_t *value)
{
    return ngx_http_7digital_letters(value, 2);
}


static ngx_int_t
ngx_http_7digital_letters3(ngx_str_t *value)
{
    return ngx_http_7digital_letters(value, 3);
}


static ngx_uint_t
ngx_http_7digital_param_count(ngx_array_t *query, ngx_array_t *body,
    ngx_str_t *name)
{
    ngx_uint_t  n, total;

    total = 0;

    if (body && body->nelts
        && ngx_http_7digital_find_param(body, name, &n) != NULL)
    {
        total += n;
    }

    if (query && query->nelts
        && ngx_http_7digital_find_param(query, name, &n) != NULL)
    {
        total += n;
    }

    return total;
}


static ngx_http_7digital_param_t *
ngx_http_7digital_record_param(ngx_array_t *query, ngx_array_t *body,
    ngx_str_t *name)
{
    ngx_uint_t                  n;
    ngx_http_7digital_param_t  *p;

    p = NULL;

    if (body && body->nelts) {
        p = ngx_http_7digital_find_param(body, name, &n);
    }

    if (p == NULL && query && query->nelts) {
        p = ngx_http_7digital_find_param(query, name, &n);
    }

    return p;
}


/* "jane@example.com" as "j***@example.com"; a post code as "***" */

static ngx_int_t
ngx_http_7digital_mask(ngx_pool_t *pool, ngx_uint_t kind, ngx_str_t *value,
    ngx_str_t *out)
{
    u_char  *at, *p;

    /* a voucher or promotion code is spendable: only its last 3 show */
    if (kind == NGX_HTTP_7DIGITAL_FIELD_CODE) {
        out->len = 3 + ngx_min(value->len / 2, 3);
        out->data = ngx_pnalloc(pool, out->len);
        if (out->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(out->data, "***", 3);
        ngx_memcpy(p, value->data + value->len - (out->len - 3),
                   out->len - 3);
        return NGX_OK;
    }

    at = (kind == NGX_HTTP_7DIGITAL_FIELD_EMAIL)
         ? ngx_strlchr(value->data, value->data + value->len, '@') : NULL;

    if (at == NULL || at == value->data) {
        ngx_str_set(out, "***");
        return NGX_OK;
    }

    out->len = 4 + (value->data + value->len - at);
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    p = out->data;
    *p++ = value->data[0];
    p = ngx_cpymem(p, "***", 3);
    ngx_memcpy(p, at, value->data + value->len - at);

    return NGX_OK;
}


/*
 * One record as one line of JSON, ending in a newline, so that a single
 * write() appends it whole.  Members the record does not have are left
 * out (status, sent, ... < 0), partner is null when nobody was identified.
 */

ngx_int_t
ngx_http_7digital_record_encode(ngx_pool_t *pool,
    ngx_http_7digital_record_t *rec, ngx_str_t *line)
{
    size_t                      len;
    json_t                     *obj, *fields;
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *f;

    obj = json_object();
    if (obj == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_http_7digital_json_set(obj, "v", json_integer(1)) != NGX_OK
        || ngx_http_7digital_json_set(obj, "time",
                                      ngx_http_7digital_json_str(&rec->time))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "type",
                                      ngx_http_7digital_json_str(&rec->type))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "id",
                                      ngx_http_7digital_json_str(&rec->id))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "node",
                                      ngx_http_7digital_json_str(&rec->node))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "partner",
                                rec->partner.len
                                ? ngx_http_7digital_json_str(&rec->partner)
                                : json_null())
           != NGX_OK
        || (rec->claimed_partner.len
            && ngx_http_7digital_json_set(obj, "claimed_partner",
                             ngx_http_7digital_json_str(&rec->claimed_partner))
               != NGX_OK)
        || ngx_http_7digital_json_set(obj, "api",
                                      ngx_http_7digital_json_str(&rec->api))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "method",
                                      ngx_http_7digital_json_str(&rec->method))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "endpoint",
                                    ngx_http_7digital_json_str(&rec->endpoint))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "path",
                                      ngx_http_7digital_json_str(&rec->path))
           != NGX_OK
        || ngx_http_7digital_json_set(obj, "client",
                                      ngx_http_7digital_json_str(&rec->client))
           != NGX_OK)
    {
        goto done;
    }

    if (rec->fields) {
        fields = json_object();

        if (ngx_http_7digital_json_set(obj, "fields", fields) != NGX_OK) {
            goto done;
        }

        f = rec->fields->elts;

        for (i = 0; i < rec->fields->nelts; i++) {
            u_char  name[64];

            if (f[i].name.len >= sizeof(name)) {
                continue;
            }

            ngx_memcpy(name, f[i].name.data, f[i].name.len);
            name[f[i].name.len] = '\0';

            if (ngx_http_7digital_json_set(fields, (char *) name,
                                      ngx_http_7digital_json_str(&f[i].value))
                != NGX_OK)
            {
                goto done;
            }
        }
    }

#define NGX_HTTP_7DIGITAL_OPT_STR(key, s)                                     \
    if ((s).len                                                               \
        && ngx_http_7digital_json_set(obj, key,                               \
                                      ngx_http_7digital_json_str(&(s)))       \
           != NGX_OK)                                                         \
    {                                                                         \
        goto done;                                                            \
    }

#define NGX_HTTP_7DIGITAL_OPT_INT(key, n)                                     \
    if ((n) >= 0                                                              \
        && ngx_http_7digital_json_set(obj, key, json_integer(n)) != NGX_OK)   \
    {                                                                         \
        goto done;                                                            \
    }

    NGX_HTTP_7DIGITAL_OPT_STR("amount", rec->amount)
    NGX_HTTP_7DIGITAL_OPT_STR("currency", rec->currency)
    NGX_HTTP_7DIGITAL_OPT_STR("idempotency_key", rec->idempotency_key)
    NGX_HTTP_7DIGITAL_OPT_INT("status", rec->status)

    if (rec->outcome
        && ngx_http_7digital_json_set(obj, "upstream_status",
                                      rec->upstream_status >= 0
                                      ? json_integer(rec->upstream_status)
                                      : json_null())
           != NGX_OK)
    {
        goto done;
    }

    if (rec->outcome
        && ngx_http_7digital_json_set(obj, "sent", json_boolean(rec->sent))
           != NGX_OK)
    {
        goto done;
    }

    NGX_HTTP_7DIGITAL_OPT_INT("duration_ms", rec->duration_ms)
    NGX_HTTP_7DIGITAL_OPT_STR("purchase_id", rec->purchase_id)
    NGX_HTTP_7DIGITAL_OPT_STR("result", rec->result)
    NGX_HTTP_7DIGITAL_OPT_STR("reason", rec->reason)

    if (rec->replay
        && ngx_http_7digital_json_set(obj, "replay", json_true()) != NGX_OK)
    {
        goto done;
    }

#undef NGX_HTTP_7DIGITAL_OPT_STR
#undef NGX_HTTP_7DIGITAL_OPT_INT

    len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        goto done;
    }

    line->data = ngx_pnalloc(pool, len + 1);
    if (line->data == NULL) {
        goto done;
    }

    line->len = json_dumpb(obj, (char *) line->data, len, JSON_COMPACT);

    if (line->len != len) {
        goto done;
    }

    line->data[line->len++] = '\n';
    rc = NGX_OK;

done:

    json_decref(obj);

    return rc;
}


/* bytes that are not UTF-8 become "?": a record is always valid JSON */

static json_t *
ngx_http_7digital_json_str(ngx_str_t *s)
{
    json_t  *j;
    u_char  *copy;
    size_t   i;

    j = json_stringn((char *) s->data, s->len);

    if (j || s->len == 0) {
        return j ? j : json_string("");
    }

    copy = malloc(s->len);
    if (copy == NULL) {
        return NULL;
    }

    for (i = 0; i < s->len; i++) {
        copy[i] = (s->data[i] < 0x80) ? s->data[i] : '?';
    }

    j = json_stringn((char *) copy, s->len);
    free(copy);

    return j;
}


static ngx_int_t
ngx_http_7digital_json_set(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL) {
        return NGX_ERROR;
    }

    return json_object_set_new(obj, key, value) == 0 ? NGX_OK : NGX_ERROR;
}


/*
 * The sale's id in the upstream's answer: 7digital's <purchase id="...">
 * (or "purchase": {"id": ...} in JSON), Choose Digital's "orderId".
 */

ngx_int_t
ngx_http_7digital_record_find_id(ngx_uint_t api, ngx_str_t *body,
    ngx_str_t *id)
{
    u_char  *p, *end, *gt;

    p = body->data;
    end = p + body->len;

    if (api == NGX_HTTP_7DIGITAL_API_CD) {
        p = ngx_http_7digital_find(p, end, "\"orderId\"", 9);
        return p ? ngx_http_7digital_id_after(p + 9, end, id) : NGX_DECLINED;
    }

    p = ngx_http_7digital_find(body->data, end, "<purchase ", 10);

    if (p) {
        gt = ngx_strlchr(p, end, '>');
        p = ngx_http_7digital_find(p, gt ? gt : end, " id=\"", 5);

        if (p == NULL) {
            return NGX_DECLINED;
        }

        p += 5;
        id->data = p;

        while (p < end && *p != '"' && *p != '<') {
            p++;
        }

        id->len = p - id->data;

        return (p < end && *p == '"' && id->len) ? NGX_OK : NGX_DECLINED;
    }

    p = ngx_http_7digital_find(body->data, end, "\"purchase\"", 10);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_http_7digital_find(p + 10, end, "\"id\"", 4);

    return p ? ngx_http_7digital_id_after(p + 4, end, id) : NGX_DECLINED;
}


/* ': "abc-1"' or ': 123' after a JSON member's name */

static ngx_int_t
ngx_http_7digital_id_after(u_char *p, u_char *end, ngx_str_t *id)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    if (p == end || *p++ != ':') {
        return NGX_DECLINED;
    }

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    if (p < end && *p == '"') {
        p++;
    }

    id->data = p;

    while (p < end
           && ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z')
               || (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'
               || *p == '.'))
    {
        p++;
    }

    id->len = p - id->data;

    return id->len ? NGX_OK : NGX_DECLINED;
}


static u_char *
ngx_http_7digital_find(u_char *p, u_char *end, char *s, size_t n)
{
    for ( /* void */ ; end - p >= (ssize_t) n; p++) {
        if (ngx_memcmp(p, s, n) == 0) {
            return p;
        }
    }

    return NULL;
}


/*
 * What makes two sales the same request, for idempotency keys: the method,
 * the endpoint's path (case and slashes aside), the user's token, and
 * every parameter but the credentials and signatures, which differ from
 * one retry to the next; order does not matter.  Each field is length-
 * prefixed, so that no value can pose as two.  Keyed with a secret of the
 * gateway's (HMAC-SHA256), so that what Redis keeps of card parameters
 * cannot be guessed back.  64 hex digits.
 */

ngx_int_t
ngx_http_7digital_idem_fingerprint(ngx_pool_t *pool, ngx_str_t *key,
    ngx_str_t *method, ngx_str_t *path, ngx_str_t *token, ngx_array_t *query,
    ngx_array_t *body, u_char *out)
{
    u_char                      *p;
    size_t                       len;
    ngx_str_t                    text;
    ngx_uint_t                   i, j, n;
    ngx_array_t                 *src[2];
    ngx_http_7digital_param_t  **all, *prm, *t;
    u_char                       md[32];

    static u_char  hex[] = "0123456789abcdef";

    src[0] = query;
    src[1] = body;
    n = query->nelts + body->nelts;
    len = 4 * (NGX_SIZE_T_LEN + 1) + method->len + path->len + token->len;

    all = ngx_palloc(pool, (n ? n : 1) * sizeof(ngx_http_7digital_param_t *));
    if (all == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < 2; i++) {
        prm = src[i]->elts;

        for (j = 0; j < src[i]->nelts; j++) {
            if ((prm[j].name.len >= 6
                 && ngx_strncmp(prm[j].name.data, "oauth_", 6) == 0)
                || (prm[j].name.len == 14
                    && ngx_strncmp(prm[j].name.data, "authentication", 14)
                       == 0))
            {
                continue;
            }

            all[n++] = &prm[j];
            len += 2 * (NGX_SIZE_T_LEN + 1) + prm[j].name.len
                   + prm[j].value.len;
        }
    }

    /* insertion sort by name, then value: a few dozen at most */
    for (i = 1; i < n; i++) {
        t = all[i];

        for (j = i; j > 0; j--) {
            if (ngx_http_7digital_param_cmp(all[j - 1], t) <= 0) {
                break;
            }

            all[j] = all[j - 1];
        }

        all[j] = t;
    }

    text.data = ngx_pnalloc(pool, len);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_7digital_put_field(text.data, method);
    p = ngx_http_7digital_put_field(p, path);

    /* the path as the API routes it: without regard to case */
    for (j = path->len; j; j--) {
        p[-(ssize_t) j] = ngx_tolower(p[-(ssize_t) j]);
    }

    p = ngx_http_7digital_put_field(p, token);

    for (i = 0; i < n; i++) {
        p = ngx_http_7digital_put_field(p, &all[i]->name);
        p = ngx_http_7digital_put_field(p, &all[i]->value);
    }

    text.len = p - text.data;

    if (ngx_http_7digital_hmac_sha256(key->len ? key->data : (u_char *) "",
                                      key->len, &text, md)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < 32; i++) {
        *out++ = hex[md[i] >> 4];
        *out++ = hex[md[i] & 0x0f];
    }

    return NGX_OK;
}


/* "<length>:<bytes>" */

static u_char *
ngx_http_7digital_put_field(u_char *p, ngx_str_t *s)
{
    u_char  digits[NGX_SIZE_T_LEN];
    size_t  n, i;

    n = s->len;
    i = 0;

    do {
        digits[i++] = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    while (i) {
        *p++ = digits[--i];
    }

    *p++ = ':';

    /* an unset string is NULL, which memcpy() may not even be given */
    return s->len ? ngx_cpymem(p, s->data, s->len) : p;
}


static int
ngx_http_7digital_param_cmp(ngx_http_7digital_param_t *a,
    ngx_http_7digital_param_t *b)
{
    int  rc;

    rc = ngx_http_7digital_bytes_cmp(&a->name, &b->name);

    return rc ? rc : ngx_http_7digital_bytes_cmp(&a->value, &b->value);
}
