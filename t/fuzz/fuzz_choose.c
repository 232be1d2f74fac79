
/*
 * libFuzzer target: Choose Digital's x-cd-date values
 * (ngx_http_7digital_cd_parse_date) and the data its "authentication" hash
 * signs (ngx_http_7digital_cd_auth_data), for every endpoint of the table
 * that has one.  The input is "date\nquery\nbody".  Checked: a parsed date
 * written as the module writes one parses to the same time; the hash data
 * is each field's value, and a field given twice with different bytes is
 * refused as ambiguous rather than read one way here and another way
 * upstream.
 */


#include "fuzz.h"


static void fuzz_date(ngx_str_t *value);
static void fuzz_fields(ngx_str_t *fields, ngx_array_t *query,
    ngx_array_t *body);
static ngx_int_t fuzz_value(ngx_array_t *query, ngx_array_t *body,
    ngx_str_t *name, ngx_str_t *value);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t                      value, want;
    ngx_int_t                      rc;
    ngx_array_t                    query, body;
    fuzz_input_t                   in;
    ngx_http_7digital_endpoint_t  *e;

    static ngx_str_t  auth = ngx_string("authentication");

    fuzz_input(&in, data, size, 3);

    fuzz_date(&in.part[0]);

    if (fuzz_params(&in.part[1], &query) != NGX_OK
        || fuzz_params(&in.part[2], &body) != NGX_OK)
    {
        goto done;
    }

    for (e = ngx_http_7digital_endpoints(NGX_HTTP_7DIGITAL_API_CD);
         e->pattern.len;
         e++)
    {
        if (e->hash) {
            fuzz_fields(e->hash, &query, &body);
        }
    }

    rc = ngx_http_7digital_cd_authentication(&query, &body, &value);

    fuzz_assert(rc == fuzz_value(&query, &body, &auth, &want)
                && (rc != NGX_OK || fuzz_same(&value, &want)),
                "the authentication parameter read another way",
                &value, &want);

done:

    fuzz_done(&in);

    return 0;
}


static void
fuzz_date(ngx_str_t *value)
{
    u_char     buf[NGX_HTTP_7DIGITAL_CD_DATE_LEN];
    time_t     t, t2;
    ngx_str_t  out;

    if (ngx_http_7digital_cd_parse_date(value, &t) != NGX_OK) {
        return;
    }

    /* 0000-01-01 to 9999-12-31, what four digits of year can say */
    if (t < -62167219200 || t >= 253402300800) {
        return;
    }

    out.data = buf;
    out.len = ngx_http_7digital_cd_date(buf, t) - buf;

    fuzz_assert(out.len == NGX_HTTP_7DIGITAL_CD_DATE_LEN
                && ngx_http_7digital_cd_parse_date(&out, &t2) == NGX_OK
                && t2 == t,
                "a date written by cd_date() parses to another time",
                value, &out);
}


/* the hash data is the fields' values in the table's order */

static void
fuzz_fields(ngx_str_t *fields, ngx_array_t *query, ngx_array_t *body)
{
    u_char      *p;
    ngx_int_t    rc, want;
    ngx_str_t    data, value, all, *f, *bad;

    rc = ngx_http_7digital_cd_auth_data(NULL, fields, query, body, &data,
                                        &bad);

    all.len = 0;
    all.data = NULL;

    for (f = fields; f->len; f++) {
        want = fuzz_value(query, body, f, &value);

        if (want != NGX_OK) {
            fuzz_assert(rc == want && bad == f,
                        "cd_auth_data() disagrees on a field", f, &value);
            free(all.data);
            return;
        }

        p = malloc(all.len + value.len + 1);
        memcpy(p, all.data ? all.data : p, all.len);
        memcpy(p + all.len, value.data ? value.data : p, value.len);
        free(all.data);
        all.data = p;
        all.len += value.len;
    }

    fuzz_assert(rc == NGX_OK && fuzz_same(&data, &all),
                "cd_auth_data() is not the fields' values", &all, &data);

    free(all.data);
}


/*
 * A field's value compared byte by byte: NGX_DECLINED when absent,
 * NGX_ABORT when two of its occurrences differ.  Written apart from
 * ngx_http_7digital_cd_value() on purpose, as the oracle it is checked
 * against (it found that one comparing values as C strings).
 */

static ngx_int_t
fuzz_value(ngx_array_t *query, ngx_array_t *body, ngx_str_t *name,
    ngx_str_t *value)
{
    ngx_uint_t                  i, j, found;
    ngx_array_t                *src[2];
    ngx_http_7digital_param_t  *p;

    src[0] = body;
    src[1] = query;
    found = 0;

    for (j = 0; j < 2; j++) {
        p = src[j]->elts;

        for (i = 0; i < src[j]->nelts; i++) {
            if (!fuzz_same(&p[i].name, name)) {
                continue;
            }

            if (found && !fuzz_same(&p[i].value, value)) {
                return NGX_ABORT;
            }

            *value = p[i].value;
            found = 1;
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}
