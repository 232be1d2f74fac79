
/*
 * libFuzzer target: the cache entry decoder
 * (ngx_http_7digital_cache_decode), since what Redis holds is input too,
 * and the generation digest of the purge scopes' values as Redis returns
 * them (ngx_http_7digital_cache_generation).  The input is an entry; its
 * lines are also the scopes' values ("-" for one never purged).  Checked:
 * a decoded entry is encoded to the very same bytes, its headers cannot
 * split a header line, and the generation is 0 only when nothing was ever
 * purged.
 */


#include "fuzz.h"


static void fuzz_headers(fuzz_input_t *in,
    ngx_http_7digital_cache_entry_t *e);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t                          gen;
    ngx_str_t                         out, values[FUZZ_PARTS];
    ngx_uint_t                        i, purged;
    fuzz_input_t                      in;
    ngx_http_7digital_cache_entry_t   e;

    fuzz_input(&in, data, size, FUZZ_PARTS);

    if (ngx_http_7digital_cache_decode(&in.all, &e) == NGX_OK) {

        fuzz_assert(e.status >= 100 && e.status <= 599
                    && e.nheaders <= NGX_HTTP_7DIGITAL_CACHE_HEADERS
                    && e.body.data >= in.all.data
                    && e.body.data + e.body.len == in.all.data + in.all.len,
                    "a decoded entry out of bounds", &in.all, NULL);

        fuzz_headers(&in, &e);

        fuzz_assert(ngx_http_7digital_cache_encode(NULL, &e, &out) == NGX_OK
                    && fuzz_same(&out, &in.all),
                    "an entry encoded again is not the same", &in.all, &out);
    }

    purged = 0;

    for (i = 0; i < in.n; i++) {
        values[i] = in.part[i];

        if (values[i].len == 1 && values[i].data[0] == '-') {
            values[i].data = NULL;
            values[i].len = 0;
        }

        purged |= (values[i].data != NULL);
    }

    fuzz_assert(ngx_http_7digital_cache_generation(NULL, values, in.n, &gen)
                == NGX_OK && (gen != 0) == (purged != 0),
                "a generation of 0 for purged scopes, or the reverse",
                &in.all, NULL);

    fuzz_done(&in);

    return 0;
}


/* replayed as header lines: a token for a name, no CR, LF or NUL */

static void
fuzz_headers(fuzz_input_t *in, ngx_http_7digital_cache_entry_t *e)
{
    u_char      c;
    size_t      j;
    ngx_uint_t  i;

    for (i = 0; i < e->nheaders; i++) {
        fuzz_assert(e->names[i].len > 0, "a header without a name",
                    &in->all, NULL);

        for (j = 0; j < e->names[i].len; j++) {
            c = e->names[i].data[j];

            fuzz_assert(c > ' ' && c < 0x7f && c != ':',
                        "a header name that could split a line",
                        &e->names[i], NULL);
        }

        fuzz_assert(memchr(e->values[i].data, '\r', e->values[i].len) == NULL
                    && memchr(e->values[i].data, '\n', e->values[i].len)
                       == NULL
                    && memchr(e->values[i].data, '\0', e->values[i].len)
                       == NULL,
                    "a header value that could split a line",
                    &e->values[i], NULL);
    }
}
