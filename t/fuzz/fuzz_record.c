
/*
 * libFuzzer target: the audit record builder (ngx_7digital_module/
 * ngx_http_7digital_record.c): deliveritem's checks, the fields a sale
 * records and their masks, the JSON line, the sale's id in an upstream
 * answer, and the idempotency fingerprint.  The input is
 * "path\nquery\nbody\nanswer\ntext", the text going in every free-form
 * member of the record.  Checked: a record is one line of JSON that reads
 * back with the text in it, whatever its bytes, so that no record can be
 * forged through a value; personal data is masked; nothing but a sale's
 * fields is recorded; the fingerprint does not depend on the parameters'
 * order, the path's case or OAuth's parameters.
 */


#include "fuzz.h"
#include <jansson.h>


static void fuzz_sale(ngx_uint_t api, fuzz_input_t *in, ngx_array_t *query,
    ngx_array_t *body);
static void fuzz_fields(ngx_array_t *fields, ngx_uint_t keep);
static void fuzz_line(ngx_http_7digital_record_t *rec, ngx_str_t *text);
static void fuzz_fingerprint(ngx_str_t *path, ngx_array_t *query,
    ngx_array_t *body);
static ngx_uint_t fuzz_name_is(ngx_str_t *name, const char *s);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t     id, name;
    ngx_uint_t    missing, api;
    ngx_array_t   query, body;
    fuzz_input_t  in;

    fuzz_input(&in, data, size, 5);

    for (api = NGX_HTTP_7DIGITAL_API_7D; api <= NGX_HTTP_7DIGITAL_API_CD;
         api++)
    {
        if (ngx_http_7digital_record_find_id(api, &in.part[3], &id)
            == NGX_OK)
        {
            fuzz_assert(id.len > 0 && id.data >= in.part[3].data
                        && id.data + id.len
                           <= in.part[3].data + in.part[3].len,
                        "a sale's id outside the answer", &in.part[3], &id);
        }
    }

    if (fuzz_params(&in.part[1], &query) != NGX_OK
        || fuzz_params(&in.part[2], &body) != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_7digital_deliver_check(&query, &body, &name, &missing)
        != NGX_OK)
    {
        fuzz_assert(name.len > 0, "deliver_check() names no parameter",
                    &in.all, NULL);
    }

    fuzz_sale(NGX_HTTP_7DIGITAL_API_7D, &in, &query, &body);
    fuzz_sale(NGX_HTTP_7DIGITAL_API_CD, &in, &query, &body);

    fuzz_fingerprint(&in.part[0], &query, &body);

done:

    fuzz_done(&in);

    return 0;
}


static void
fuzz_sale(ngx_uint_t api, fuzz_input_t *in, ngx_array_t *query,
    ngx_array_t *body)
{
    ngx_str_t                   path;
    ngx_uint_t                  keep;
    ngx_array_t                 fields;
    ngx_http_7digital_route_t   route;
    ngx_http_7digital_record_t  rec;

    if (ngx_http_7digital_endpoint_path(NULL, api, &in->part[0], &path)
        != NGX_OK)
    {
        abort();
    }

    ngx_http_7digital_endpoint_match(api, &path,
                                     api == NGX_HTTP_7DIGITAL_API_CD
                                     ? NGX_HTTP_7DIGITAL_M_POST
                                     : NGX_HTTP_7DIGITAL_M_GET,
                                     NULL, &route);

    for (keep = 0; keep < 2; keep++) {
        ngx_array_init(&fields, NULL, 4, sizeof(ngx_http_7digital_param_t));

        fuzz_assert(ngx_http_7digital_record_fields(NULL, api, &route, query,
                                                    body, keep, &fields)
                    == NGX_OK, "record_fields() failed", &in->all, NULL);

        fuzz_fields(&fields, keep);

        ngx_memzero(&rec, sizeof(rec));
        rec.type = (ngx_str_t) ngx_string("intent");
        rec.time = in->part[4];
        rec.id = in->part[4];
        rec.node = in->part[4];
        rec.partner = in->part[4];
        rec.claimed_partner = in->part[4];
        rec.api = (ngx_str_t) ngx_string("7digital");
        rec.method = in->part[4];
        rec.path = in->part[0];
        rec.client = in->part[4];
        rec.fields = &fields;
        rec.idempotency_key = in->part[4];
        rec.status = keep ? 200 : -1;
        rec.upstream_status = keep ? 502 : -1;
        rec.duration_ms = -1;
        rec.purchase_id = in->part[4];
        rec.result = in->part[4];
        rec.reason = in->part[4];
        rec.outcome = keep;
        rec.sent = keep;

        ngx_http_7digital_record_amount(api, &fields, &rec.amount,
                                        &rec.currency);

        if (ngx_http_7digital_endpoint_name(NULL, &route, &path,
                                            &rec.endpoint)
            != NGX_OK)
        {
            abort();
        }

        fuzz_line(&rec, &in->part[4]);
    }
}


/*
 * A sale's fields: none of what proves who sent it or pays for it, and
 * personal data masked unless kept.
 */

static void
fuzz_fields(ngx_array_t *fields, ngx_uint_t keep)
{
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *f;

    static const char  *never[] = {
        "password", "oauth_consumer_key", "oauth_token", "oauth_signature",
        "oauth_verifier", "authentication", "cardNumber", "cvv", "cv2",
        "securityCode", NULL
    };

    static const char  *masked[] = {
        "emailAddress", "customerEmail", "postCode", "zipCode",
        "customerPostalCode", NULL
    };

    const char  **s;

    f = fields->elts;

    for (i = 0; i < fields->nelts; i++) {
        for (s = never; *s; s++) {
            fuzz_assert(!fuzz_name_is(&f[i].name, *s),
                        "a secret in a sale's fields", &f[i].name,
                        &f[i].value);
        }

        if (keep) {
            continue;
        }

        for (s = masked; *s; s++) {
            if (fuzz_name_is(&f[i].name, *s)) {
                fuzz_assert((f[i].value.len >= 3
                             && ngx_strncmp(f[i].value.data, "***", 3) == 0)
                            || (f[i].value.len >= 4
                                && ngx_strncmp(f[i].value.data + 1, "***", 3)
                                   == 0),
                            "personal data not masked", &f[i].name,
                            &f[i].value);
            }
        }

        /* a spendable code: its last three bytes at most */
        if (fuzz_name_is(&f[i].name, "voucherCode")
            || fuzz_name_is(&f[i].name, "promoCode"))
        {
            fuzz_assert(f[i].value.len >= 3 && f[i].value.len <= 6
                        && ngx_strncmp(f[i].value.data, "***", 3) == 0,
                        "a code not masked", &f[i].name, &f[i].value);
        }
    }
}


/* one line of JSON; every member that held the text holds it again */

static void
fuzz_line(ngx_http_7digital_record_t *rec, ngx_str_t *text)
{
    json_t        *obj, *v;
    ngx_str_t      line, got;
    json_error_t   jerr;

    static const char  *members[] = {
        "time", "id", "node", "method", "client", "idempotency_key",
        "purchase_id", "result", "reason", NULL
    };

    const char  **m;

    fuzz_assert(ngx_http_7digital_record_encode(NULL, rec, &line) == NGX_OK,
                "record_encode() failed", text, NULL);

    fuzz_assert(line.len >= 2 && line.data[line.len - 1] == '\n'
                && memchr(line.data, '\n', line.len - 1) == NULL
                && memchr(line.data, '\r', line.len) == NULL,
                "a record that is not one line", text, &line);

    obj = json_loadb((char *) line.data, line.len, JSON_ALLOW_NUL, &jerr);

    fuzz_assert(json_is_object(obj), "a record that is not a JSON object",
                text, &line);

    for (m = members; *m; m++) {
        v = json_object_get(obj, *m);

        if (text->len == 0) {
            fuzz_assert(v == NULL || (json_is_string(v)
                                      && json_string_length(v) == 0),
                        "an empty member that holds something", text, &line);
            continue;
        }

        fuzz_assert(json_is_string(v), "a member missing from a record",
                    text, &line);

        /* bytes that are not UTF-8 become "?", one for one */
        got.data = (u_char *) json_string_value(v);
        got.len = json_string_length(v);

        fuzz_assert(got.len == text->len, "a member of another length",
                    text, &got);
    }

    v = json_object_get(obj, "partner");

    fuzz_assert(text->len ? json_is_string(v) : json_is_null(v),
                "the partner member", text, &line);

    json_decref(obj);
}


static void
fuzz_fingerprint(ngx_str_t *path, ngx_array_t *query, ngx_array_t *body)
{
    u_char                      fp1[64], fp2[64];
    size_t                      i;
    ngx_str_t                   key, method, token, upper;
    ngx_array_t                 q, b;
    ngx_http_7digital_param_t  *p;

    key = (ngx_str_t) ngx_string("gateway-secret");
    method = (ngx_str_t) ngx_string("POST");
    token = (ngx_str_t) ngx_string("");

    if (ngx_http_7digital_idem_fingerprint(NULL, &key, &method, path,
                                           &token, query, body, fp1)
        != NGX_OK)
    {
        abort();
    }

    upper.len = path->len;
    upper.data = malloc(path->len + 1);

    for (i = 0; i < path->len; i++) {
        upper.data[i] = ngx_toupper(path->data[i]);
    }

    fuzz_reverse(query, &q);
    fuzz_reverse(body, &b);

    p = ngx_array_push(&q);
    p->name = (ngx_str_t) ngx_string("oauth_nonce");
    p->value = (ngx_str_t) ngx_string("another");

    if (ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &upper,
                                           &token, &q, &b, fp2)
        != NGX_OK)
    {
        abort();
    }

    fuzz_assert(memcmp(fp1, fp2, 64) == 0,
                "the fingerprint depends on order, case or a nonce", path,
                &upper);

    free(upper.data);
}


static ngx_uint_t
fuzz_name_is(ngx_str_t *name, const char *s)
{
    size_t  n;

    n = strlen(s);

    return name->len == n && ngx_strncasecmp(name->data, (u_char *) s, n) == 0;
}
