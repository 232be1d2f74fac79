
/*
 * What the libFuzzer targets in t/fuzz share: each target is one file,
 * fuzz_<name>.c, linked with fuzz.c, t/unit/shim.c and the pure files.
 * Inputs with several parts (a path and a query, a date and a body)
 * separate them with "\n"; a value that must hold any byte gets it
 * percent-encoded in a part that is decoded.
 */


#ifndef _FUZZ_H_INCLUDED_
#define _FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


#define FUZZ_PARTS  8


typedef struct {
    u_char      *copy;
    ngx_str_t    all;                /* the whole input */
    ngx_uint_t   n;                  /* parts found, 1 at least */
    ngx_str_t    part[FUZZ_PARTS];   /* the rest empty */
} fuzz_input_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void shim_reset(void);

void fuzz_input(fuzz_input_t *in, const uint8_t *data, size_t size,
    ngx_uint_t parts);
void fuzz_done(fuzz_input_t *in);
ngx_int_t fuzz_params(ngx_str_t *src, ngx_array_t *params);
void fuzz_reverse(ngx_array_t *src, ngx_array_t *dst);
ngx_uint_t fuzz_same(ngx_str_t *a, ngx_str_t *b);
void fuzz_fail(const char *what, ngx_str_t *a, ngx_str_t *b);


/* an invariant that does not hold is a crash, with what it was */
#define fuzz_assert(cond, what, a, b)                                         \
    if (!(cond)) {                                                            \
        fuzz_fail(what, a, b);                                                \
    }


#endif /* _FUZZ_H_INCLUDED_ */
