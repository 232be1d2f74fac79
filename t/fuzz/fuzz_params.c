
/*
 * libFuzzer target: query strings and urlencoded bodies
 * (ngx_http_7digital_parse_params and ngx_http_7digital_decode), the
 * encoder, and what logs show of a query (ngx_http_7digital_log_args).
 * The input is a query string.  Checked: escaping and decoding are
 * inverses, the parameters joined again are the input without its empty
 * ones, and no parameter the module would read as a credential is left in
 * what a log shows.
 */


#include "fuzz.h"


static void fuzz_escape(ngx_str_t *s);
static void fuzz_join(fuzz_input_t *in, ngx_array_t *a);
static void fuzz_log(ngx_str_t *query);


/*
 * What ngx_http_7digital_log_args() must leave out, decoded: the list of
 * docs/directives.md, kept here apart from the module's own on purpose.
 */
static ngx_str_t  fuzz_secrets[] = {
    ngx_string("oauth_consumer_key"),
    ngx_string("oauth_token"),
    ngx_string("oauth_signature"),
    ngx_string("oauth_verifier"),
    ngx_string("authentication"),
    ngx_null_string
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t                   out, text;
    ngx_uint_t                  i, count;
    ngx_array_t                 a, b;
    fuzz_input_t                in;
    ngx_http_7digital_param_t  *p, *found, *q;

    fuzz_input(&in, data, size, 1);

    fuzz_escape(&in.all);
    fuzz_log(&in.all);

    if (ngx_http_7digital_decode(NULL, &in.all, &out, 0) == NGX_OK) {
        fuzz_assert(out.len <= in.all.len, "decoding made it longer",
                    &in.all, &out);
    }

    /* the same bytes as decoded text (a path, as nginx decoded it) */
    (void) ngx_http_7digital_text_check(&in.all);

    if (fuzz_params(&in.all, &a) != NGX_OK) {
        goto done;
    }

    (void) ngx_http_7digital_params_check(&a);

    fuzz_join(&in, &a);

    p = a.elts;

    for (i = 0; i < a.nelts; i++) {
        fuzz_assert(p[i].raw.data >= in.all.data
                    && p[i].raw.data + p[i].raw.len
                       <= in.all.data + in.all.len
                    && p[i].raw.len > 0,
                    "a parameter's raw text is not in the input",
                    &in.all, &p[i].raw);

        found = ngx_http_7digital_find_param(&a, &p[i].name, &count);

        fuzz_assert(found && found <= &p[i] && count >= 1
                    && fuzz_same(&found->name, &p[i].name),
                    "find_param() misses a parameter", &p[i].name, NULL);

        /* as the module writes one upstream: read back the same */
        fuzz_escape(&p[i].name);
        fuzz_escape(&p[i].value);

        if (ngx_http_7digital_escape(NULL, &p[i].name, &out) != NGX_OK
            || ngx_http_7digital_param_text(NULL, &out, &p[i].value, &text)
               != NGX_OK
            || fuzz_params(&text, &b) != NGX_OK)
        {
            fuzz_fail("param_text() does not parse", &p[i].name, &text);
        }

        q = b.elts;

        fuzz_assert(b.nelts == 1 && fuzz_same(&q[0].name, &p[i].name)
                    && fuzz_same(&q[0].value, &p[i].value),
                    "param_text() changed a parameter", &p[i].value, &text);
    }

    /* the credentials left out of what goes upstream */
    if (ngx_http_7digital_join_params(NULL, &a,
                                      ngx_http_7digital_is_oauth_credential,
                                      NULL, &out) == NGX_OK
        && fuzz_params(&out, &b) == NGX_OK)
    {
        p = b.elts;

        for (i = 0; i < b.nelts; i++) {
            fuzz_assert(!ngx_http_7digital_is_oauth_credential(&p[i].name),
                        "a credential joined", &in.all, &out);
        }
    }

done:

    fuzz_done(&in);

    return 0;
}


/* decoding what was escaped gives it back, as a form or not */

static void
fuzz_escape(ngx_str_t *s)
{
    ngx_str_t  esc, back;

    fuzz_assert(ngx_http_7digital_escape(NULL, s, &esc) == NGX_OK,
                "escape() failed", s, NULL);

    fuzz_assert(esc.len >= s->len && esc.len <= 3 * s->len,
                "escape()'s length", s, &esc);

    fuzz_assert(ngx_http_7digital_decode(NULL, &esc, &back, 0) == NGX_OK
                && fuzz_same(&back, s),
                "decode(escape(s)) is not s", s, &esc);

    fuzz_assert(ngx_http_7digital_decode(NULL, &esc, &back, 1) == NGX_OK
                && fuzz_same(&back, s),
                "decode(escape(s)) as a form is not s", s, &esc);
}


/* joined again: the input without empty parameters ("&&", "&" at ends) */

static void
fuzz_join(fuzz_input_t *in, ngx_array_t *a)
{
    u_char     *s, *end, *d;
    ngx_str_t   out, want;

    fuzz_assert(ngx_http_7digital_join_params(NULL, a, NULL, NULL, &out)
                == NGX_OK, "join_params() failed", &in->all, NULL);

    want.data = malloc(in->all.len + 1);
    d = want.data;

    for (s = in->all.data, end = s + in->all.len; s < end; s++) {
        if (*s == '&' && (d == want.data || d[-1] == '&')) {
            continue;
        }

        *d++ = *s;
    }

    if (d > want.data && d[-1] == '&') {
        d--;
    }

    want.len = d - want.data;

    fuzz_assert(fuzz_same(&out, &want), "join_params() is not the input",
                &want, &out);

    free(want.data);
}


/*
 * What a log shows: never longer than the query, and no parameter in it
 * that the module's parser would read as a credential.
 */

static void
fuzz_log(ngx_str_t *query)
{
    u_char      *p, *start, *end, *eq;
    ngx_str_t    out, name, decoded, *s;

    fuzz_assert(ngx_http_7digital_log_args(NULL, query, &out) == NGX_OK
                && out.len <= query->len,
                "log_args() longer than the query", query, &out);

    p = out.data;
    end = p + out.len;

    while (p < end) {
        start = p;
        p = memchr(p, '&', end - p);
        p = p ? p : end;

        eq = memchr(start, '=', p - start);
        name.data = start;
        name.len = (eq ? eq : p) - start;

        if (ngx_http_7digital_decode(NULL, &name, &decoded, 1) == NGX_OK) {
            for (s = fuzz_secrets; s->len; s++) {
                fuzz_assert(!fuzz_same(&decoded, s),
                            "a credential left in what a log shows",
                            query, &out);
            }
        }

        p++;
    }
}
