
/*
 * Helpers of the libFuzzer targets: inputs copied to heap blocks of their
 * exact size (so that AddressSanitizer sees any read past their end), split
 * into parts, parsed as parameters; broken invariants reported.
 */


#include "fuzz.h"


void
fuzz_input(fuzz_input_t *in, const uint8_t *data, size_t size,
    ngx_uint_t parts)
{
    u_char      *p, *end, *nl;
    ngx_uint_t   i;

    in->copy = malloc(size ? size : 1);
    if (in->copy == NULL) {
        abort();
    }

    memcpy(in->copy, data, size);

    in->all.data = in->copy;
    in->all.len = size;

    for (i = 0; i < FUZZ_PARTS; i++) {
        in->part[i].data = in->copy + size;
        in->part[i].len = 0;
    }

    p = in->copy;
    end = p + size;

    /* the last part takes the rest, newlines and all */
    for (i = 0; i + 1 < parts && i + 1 < FUZZ_PARTS; i++) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            break;
        }

        in->part[i].data = p;
        in->part[i].len = nl - p;
        p = nl + 1;
    }

    in->part[i].data = p;
    in->part[i].len = end - p;
    in->n = i + 1;
}


void
fuzz_done(fuzz_input_t *in)
{
    free(in->copy);
    shim_reset();
}


ngx_int_t
fuzz_params(ngx_str_t *src, ngx_array_t *params)
{
    if (ngx_array_init(params, NULL, 4, sizeof(ngx_http_7digital_param_t))
        != NGX_OK)
    {
        abort();
    }

    return ngx_http_7digital_parse_params(NULL, src, params);
}


/* the same parameters in the opposite order */

void
fuzz_reverse(ngx_array_t *src, ngx_array_t *dst)
{
    ngx_uint_t  i;

    if (ngx_array_init(dst, NULL, src->nelts + 1, src->size) != NGX_OK) {
        abort();
    }

    for (i = src->nelts; i; i--) {
        memcpy(ngx_array_push(dst), (u_char *) src->elts + (i - 1) * src->size,
               src->size);
    }
}


ngx_uint_t
fuzz_same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


static void
fuzz_print(const char *name, ngx_str_t *s)
{
    size_t  i;

    fprintf(stderr, "  %s (%zu bytes): \"", name, s->len);

    for (i = 0; i < s->len && i < 512; i++) {
        if (s->data[i] >= 0x20 && s->data[i] < 0x7f && s->data[i] != '"'
            && s->data[i] != '\\')
        {
            fputc(s->data[i], stderr);

        } else {
            fprintf(stderr, "\\x%02x", s->data[i]);
        }
    }

    fprintf(stderr, "%s\"\n", i < s->len ? "..." : "");
}


void
fuzz_fail(const char *what, ngx_str_t *a, ngx_str_t *b)
{
    fprintf(stderr, "INVARIANT BROKEN: %s\n", what);

    if (a) {
        fuzz_print("a", a);
    }

    if (b) {
        fuzz_print("b", b);
    }

    abort();
}
