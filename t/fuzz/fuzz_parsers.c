
/*
 * libFuzzer target for every parser of client input: query strings and
 * urlencoded bodies and the text checks of what they decode to, OAuth
 * Authorization headers, x-cd-date values, the
 * Choose Digital hash data built from them, the endpoint matcher, a sale's
 * records and fingerprint; and the cache entry decoder,
 * since Redis contents are input too.  The first byte picks the
 * parser, so one corpus covers all of them.
 *
 *   make fuzz FUZZ_SECONDS=60
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void shim_reset(void);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_t        t;
    u_char       *copy;
    ngx_str_t     in, out, uri, *fields, *bad;
    ngx_uint_t    i;
    ngx_array_t   a, b;

    if (size == 0) {
        return 0;
    }

    /* an exact-size heap copy, so that ASan sees any over-read */
    copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);

    in.data = copy;
    in.len = size - 1;

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));

    switch (data[0] % 6) {

    case 5:
        {
        u_char                      fp[64];
        ngx_str_t                   path, line, name, id, method, key, tok;
        ngx_uint_t                  missing;
        ngx_array_t                 fields;
        ngx_http_7digital_record_t  rec;
        ngx_http_7digital_route_t   route;

        /* a sale's parameters: checked, recorded, fingerprinted; the same
         * bytes as an upstream answer to find a sale's id in */
        (void) ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_7D,
                                                &in, &id);
        (void) ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_CD,
                                                &in, &id);

        if (ngx_http_7digital_parse_params(NULL, &in, &a) != NGX_OK) {
            break;
        }

        (void) ngx_http_7digital_deliver_check(&a, &b, &name, &missing);
        (void) ngx_http_7digital_record_conflict(NGX_HTTP_7DIGITAL_API_7D,
                                                 &a, &b, &name);
        (void) ngx_http_7digital_record_conflict(NGX_HTTP_7DIGITAL_API_CD,
                                                 &b, &a, &name);

        uri = (ngx_str_t) ngx_string("/1.2/user/purchase/1/track/2");
        (void) ngx_http_7digital_endpoint_path(NULL,
                                               NGX_HTTP_7DIGITAL_API_7D,
                                               &uri, &path);
        ngx_http_7digital_endpoint_match(NGX_HTTP_7DIGITAL_API_7D, &path,
                                         NGX_HTTP_7DIGITAL_M_DELETE, NULL,
                                         &route);

        ngx_array_init(&fields, NULL, 4, sizeof(ngx_http_7digital_param_t));

        if (ngx_http_7digital_record_fields(NULL, NGX_HTTP_7DIGITAL_API_7D,
                                            &route, &a, &b, data[0] & 1,
                                            &fields)
            == NGX_OK)
        {
            ngx_memzero(&rec, sizeof(rec));
            rec.type = (ngx_str_t) ngx_string("intent");
            rec.id = in;
            rec.partner = in;
            rec.fields = &fields;
            rec.status = -1;
            rec.upstream_status = -1;
            rec.duration_ms = -1;
            ngx_http_7digital_record_amount(NGX_HTTP_7DIGITAL_API_7D,
                                            &fields, &rec.amount,
                                            &rec.currency);
            (void) ngx_http_7digital_record_encode(NULL, &rec, &line);
        }

        method = (ngx_str_t) ngx_string("GET");
        key = (ngx_str_t) ngx_string("k");
        tok = in;
        (void) ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path,
                                                  &tok, &a, &b, fp);
        }
        break;

    case 4:
        {
        ngx_str_t                        prefix, api, fmt, key;
        ngx_http_7digital_cache_entry_t  e;

        (void) ngx_http_7digital_cache_decode(&in, &e);

        prefix = (ngx_str_t) ngx_string("k:");
        api = (ngx_str_t) ngx_string("7digital");
        fmt = (ngx_str_t) ngx_string("xml");

        if (ngx_http_7digital_parse_params(NULL, &in, &a) == NGX_OK) {
            (void) ngx_http_7digital_cache_key(NULL, &prefix, &api, &in,
                                      &fmt, &a,
                                      ngx_http_7digital_is_oauth_param, &key);

            /* the same bytes as a path: purge scopes, lookup scopes */
            ngx_array_init(&b, NULL, 4, sizeof(ngx_str_t));
            (void) ngx_http_7digital_cache_scopes(NULL, &api, &in, &a, &b);
            (void) ngx_http_7digital_cache_purge_scope(&in, &key);
        }
        }
        break;

    case 0:
        /* what logs show of a query: never longer than the query */
        if (ngx_http_7digital_log_args(NULL, &in, &out) == NGX_OK
            && out.len > in.len)
        {
            abort();
        }

        /* the same bytes as decoded text (a path, as nginx decoded it) */
        (void) ngx_http_7digital_text_check(&in);

        if (ngx_http_7digital_parse_params(NULL, &in, &a) == NGX_OK) {
            (void) ngx_http_7digital_params_check(&a);
            (void) ngx_http_7digital_join_params(NULL, &a,
                                      ngx_http_7digital_is_oauth_credential,
                                      NULL, &out);
            for (i = 0; i < a.nelts; i++) {
                (void) ngx_http_7digital_escape(NULL,
                    &((ngx_http_7digital_param_t *) a.elts)[i].value, &out);
            }
        }
        break;

    case 1:
        if (ngx_http_7digital_parse_authorization(NULL, &in, &a) == NGX_OK) {
            (void) ngx_http_7digital_params_check(&a);
        }
        break;

    case 2:
        (void) ngx_http_7digital_cd_parse_date(&in, &t);
        break;

    default:
        {
        ngx_str_t                  path;
        ngx_http_7digital_route_t  route;

        /* the same bytes as a path, through the endpoint matcher */
        for (i = NGX_HTTP_7DIGITAL_API_7D; i <= NGX_HTTP_7DIGITAL_API_CD; i++)
        {
            if (ngx_http_7digital_endpoint_path(NULL, i, &in, &path)
                == NGX_OK)
            {
                ngx_http_7digital_endpoint_match(i, &path,
                                                 NGX_HTTP_7DIGITAL_M_GET,
                                                 NULL, &route);
            }
        }

        uri = (ngx_str_t) ngx_string("/music/purchase");
        (void) ngx_http_7digital_endpoint_path(NULL,
                                               NGX_HTTP_7DIGITAL_API_CD,
                                               &uri, &path);
        ngx_http_7digital_endpoint_match(NGX_HTTP_7DIGITAL_API_CD, &path,
                                         NGX_HTTP_7DIGITAL_M_POST, NULL,
                                         &route);
        fields = route.endpoint->hash;
        }
        if (ngx_http_7digital_parse_params(NULL, &in, &a) == NGX_OK) {
            (void) ngx_http_7digital_cd_auth_data(NULL, fields, &a, &b,
                                                  &out, &bad);
            (void) ngx_http_7digital_cd_authentication(&a, &b, &out);
        }
        break;
    }

    free(copy);
    shim_reset();

    return 0;
}
