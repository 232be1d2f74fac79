
/*
 * libFuzzer target: the endpoint table matcher
 * (ngx_http_7digital_endpoint_path, ngx_http_7digital_endpoint_match,
 * ngx_http_7digital_endpoint_name) and an operator's patterns
 * (ngx_http_7digital_endpoint_pattern).  The input is
 * "uri\nmethod\npattern".  Checked, for both APIs: a normalised path has
 * no empty segment; the endpoint does not depend on the path's case; the
 * route's values lie in the path; a valid pattern, as an override, decides
 * the class of the path it spells.
 */


#include "fuzz.h"


static void fuzz_api(ngx_uint_t api, fuzz_input_t *in, ngx_uint_t method);
static void fuzz_route(ngx_http_7digital_route_t *route, ngx_str_t *path,
    ngx_str_t *uri);
static void fuzz_override(ngx_uint_t api, ngx_str_t *pattern,
    ngx_uint_t method);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_uint_t    method;
    fuzz_input_t  in;

    fuzz_input(&in, data, size, 3);

    method = ngx_http_7digital_method_bit(&in.part[1]);

    fuzz_assert(method != 0 && (method & (method - 1)) == 0,
                "not one method bit", &in.part[1], NULL);

    (void) ngx_http_7digital_class(in.part[1].data, in.part[1].len);

    fuzz_api(NGX_HTTP_7DIGITAL_API_7D, &in, method);
    fuzz_api(NGX_HTTP_7DIGITAL_API_CD, &in, method);

    if (ngx_http_7digital_endpoint_pattern(&in.part[2]) == NGX_OK) {
        fuzz_override(NGX_HTTP_7DIGITAL_API_7D, &in.part[2], method);
        fuzz_override(NGX_HTTP_7DIGITAL_API_CD, &in.part[2], method);
    }

    fuzz_done(&in);

    return 0;
}


static void
fuzz_api(ngx_uint_t api, fuzz_input_t *in, ngx_uint_t method)
{
    size_t                      i;
    ngx_str_t                   path, again, upper;
    ngx_http_7digital_route_t   route, route2;

    fuzz_assert(ngx_http_7digital_endpoint_path(NULL, api, &in->part[0], &path)
                == NGX_OK, "endpoint_path() failed", &in->part[0], NULL);

    fuzz_assert(path.len <= in->part[0].len
                && (path.len == 0
                    || (path.data[0] != '/' && path.data[path.len - 1] != '/'
                        && memmem(path.data, path.len, "//", 2) == NULL)),
                "a normalised path with an empty segment", &in->part[0],
                &path);

    /* Choose Digital's paths have no version to drop: normalised once */
    if (api == NGX_HTTP_7DIGITAL_API_CD) {
        fuzz_assert(ngx_http_7digital_endpoint_path(NULL, api, &path, &again)
                    == NGX_OK && fuzz_same(&path, &again),
                    "normalising twice changes a path", &path, &again);
    }

    ngx_http_7digital_endpoint_match(api, &path, method, NULL, &route);
    fuzz_route(&route, &path, &in->part[0]);

    /* 7digital's routing ignores case, and so does the table */
    upper.len = path.len;
    upper.data = malloc(path.len + 1);

    for (i = 0; i < path.len; i++) {
        upper.data[i] = ngx_toupper(path.data[i]);
    }

    ngx_http_7digital_endpoint_match(api, &upper, method, NULL, &route2);

    fuzz_assert(route.endpoint == route2.endpoint
                && route.class == route2.class && route.sign == route2.sign
                && route.nparams == route2.nparams,
                "the endpoint depends on the path's case", &path, &upper);

    free(upper.data);
}


static void
fuzz_route(ngx_http_7digital_route_t *route, ngx_str_t *path, ngx_str_t *uri)
{
    ngx_str_t   name;
    ngx_uint_t  i;

    fuzz_assert(route->endpoint != NULL
                && route->nparams <= NGX_HTTP_7DIGITAL_ROUTE_PARAMS
                && route->class >= NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
                && route->class <= NGX_HTTP_7DIGITAL_CLASS_PURCHASE
                && route->sign <= NGX_HTTP_7DIGITAL_SIGN_3LEGGED,
                "a route out of range", uri, path);

    for (i = 0; i < route->nparams; i++) {
        fuzz_assert(route->params[i].value.data >= path->data
                    && route->params[i].value.data
                       + route->params[i].value.len
                       <= path->data + path->len
                    && route->params[i].name.len > 0,
                    "a route's value outside the path", uri, path);
    }

    fuzz_assert(ngx_http_7digital_endpoint_name(NULL, route, path, &name)
                == NGX_OK
                && name.len <= route->endpoint->pattern.len + path->len,
                "endpoint_name() failed", path, &name);
}


/*
 * The pattern as a path ("*" and ":x" are segments like others) fits it;
 * "a|b" is a literal in the operator's patterns only as far as it is one.
 */

static void
fuzz_override(ngx_uint_t api, ngx_str_t *pattern, ngx_uint_t method)
{
    ngx_array_t                    overrides;
    ngx_http_7digital_route_t      route;
    ngx_http_7digital_override_t  *o;

    if (memchr(pattern->data, '|', pattern->len)) {
        return;
    }

    ngx_array_init(&overrides, NULL, 1, sizeof(ngx_http_7digital_override_t));

    o = ngx_array_push(&overrides);
    o->pattern = *pattern;
    o->class = NGX_HTTP_7DIGITAL_CLASS_CATALOGUE;
    o->sign = NGX_HTTP_7DIGITAL_SIGN_OFF;

    ngx_http_7digital_endpoint_match(api, pattern, method, &overrides, &route);

    fuzz_assert(route.class == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
                && route.sign == NGX_HTTP_7DIGITAL_SIGN_OFF,
                "an override does not decide the path it spells", pattern,
                NULL);

    fuzz_route(&route, pattern, pattern);
}
