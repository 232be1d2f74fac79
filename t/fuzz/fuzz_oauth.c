
/*
 * libFuzzer target: the OAuth Authorization header parser
 * (ngx_http_7digital_parse_authorization).  The input is the header's
 * value.  What it parses must survive being written as a header again
 * (ngx_http_7digital_oauth_header) and read back, and its signature base
 * string must not depend on the order of the parameters.
 */


#include "fuzz.h"


static ngx_uint_t fuzz_token(ngx_str_t *s);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      sig[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    ngx_int_t                   rc;
    ngx_str_t                   header, base, base2, method, uri, secret;
    ngx_uint_t                  i, tokens;
    ngx_array_t                 a, again, rev;
    fuzz_input_t                in;
    ngx_http_7digital_param_t  *p, *q;

    fuzz_input(&in, data, size, 1);
    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));

    rc = ngx_http_7digital_parse_authorization(NULL, &in.all, &a);

    if (rc != NGX_OK) {
        goto done;
    }

    (void) ngx_http_7digital_params_check(&a);

    p = a.elts;
    tokens = 1;

    for (i = 0; i < a.nelts; i++) {
        fuzz_assert(p[i].name.len > 0, "a parameter without a name",
                    &in.all, NULL);
        tokens &= fuzz_token(&p[i].name);
    }

    /* written again and read back: the same names and values */
    if (tokens) {
        fuzz_assert(ngx_http_7digital_oauth_header(NULL, &a, &header)
                    == NGX_OK, "oauth_header() failed", &in.all, NULL);

        ngx_array_init(&again, NULL, 4, sizeof(ngx_http_7digital_param_t));
        rc = ngx_http_7digital_parse_authorization(NULL, &header, &again);

        fuzz_assert(rc == NGX_OK && again.nelts == a.nelts,
                    "a header written from parsed parameters does not parse",
                    &in.all, &header);

        q = again.elts;

        for (i = 0; i < a.nelts; i++) {
            fuzz_assert(fuzz_same(&p[i].name, &q[i].name)
                        && fuzz_same(&p[i].value, &q[i].value),
                        "a parameter changed through oauth_header()",
                        &p[i].value, &q[i].value);
        }
    }

    /* section 3.4.1.3.2: sorted, so the order they came in is irrelevant */
    method = (ngx_str_t) ngx_string("get");
    uri = (ngx_str_t) ngx_string("http://api.7digital.com/1.2/release/details");

    fuzz_reverse(&a, &rev);

    fuzz_assert(ngx_http_7digital_oauth_base_string(NULL, &method, &uri, &a,
                                                    &base) == NGX_OK
                && ngx_http_7digital_oauth_base_string(NULL, &method, &uri,
                                                       &rev, &base2) == NGX_OK
                && fuzz_same(&base, &base2),
                "the base string depends on the parameters' order",
                &base, &base2);

    fuzz_assert(base.len > 4 && ngx_strncmp(base.data, "GET&", 4) == 0,
                "the base string's method", &base, NULL);

    secret = a.nelts ? p[0].value : in.all;

    fuzz_assert(ngx_http_7digital_oauth_sign(NULL, &base, &secret, &in.all,
                                             sig) == NGX_OK,
                "oauth_sign() failed", &base, NULL);

done:

    fuzz_done(&in);

    return 0;
}


/* a name oauth_header() writes as it is: RFC 3986 unreserved bytes */

static ngx_uint_t
fuzz_token(ngx_str_t *s)
{
    u_char  c;
    size_t  i;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')
              || c == '-' || c == '.' || c == '_' || c == '~'))
        {
            return 0;
        }
    }

    /* realm is the one name the parser leaves out */
    return !(s->len == 5 && ngx_strncmp(s->data, "realm", 5) == 0);
}

