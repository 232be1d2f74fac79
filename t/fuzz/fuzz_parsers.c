
/*
 * libFuzzer target for every parser of client input: query strings and
 * urlencoded bodies, OAuth Authorization headers, x-cd-date values, the
 * Choose Digital hash data built from them, the endpoint matcher; and
 * the cache entry decoder,
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

    switch (data[0] % 5) {

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
        if (ngx_http_7digital_parse_params(NULL, &in, &a) == NGX_OK) {
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
        (void) ngx_http_7digital_parse_authorization(NULL, &in, &a);
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
