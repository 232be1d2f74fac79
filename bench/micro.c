
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * bench/micro.c - what one signature costs a worker, without a server:
 * the module's own pure functions (linked with t/unit/shim.c, as the unit
 * tests are), called the way ngx_http_7digital_sevendigital.c and
 * ngx_http_7digital_choose.c call them for one forwarded request.
 *
 *   make micro && build/micro [iterations] [rounds]
 *
 * Each operation runs `iterations' times per round; the figure is the
 * median of the rounds' ns per operation, with their min-max.  Every
 * allocation goes through the shim, one malloc() each, and is freed after
 * every operation, as a request's pool would be: nginx's pools hand out
 * memory by moving a pointer, so these figures are an upper bound.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


#define MICRO_ITERATIONS  50000
#define MICRO_ROUNDS      7
#define MICRO_MAX_ROUNDS  99


void shim_reset(void);
void shim_forget(void);


typedef ngx_int_t (*micro_op_pt)(void);

typedef struct {
    char          *name;
    micro_op_pt    op;
    ngx_uint_t     target;      /* ns; 0: none */
} micro_t;


static ngx_int_t micro_setup(void);
static ngx_int_t micro_keep(ngx_array_t *a);
static ngx_int_t micro_keep_str(ngx_str_t *s);
static ngx_int_t micro_params(ngx_array_t *params);
static ngx_int_t micro_oauth_base(ngx_str_t *base);
static ngx_int_t micro_oauth_nonce(void);
static ngx_int_t micro_oauth_base_string(void);
static ngx_int_t micro_oauth_hmac(void);
static ngx_int_t micro_oauth_header(void);
static ngx_int_t micro_oauth(void);
static ngx_int_t micro_alloc(void);
static ngx_int_t micro_cd_authorization(void);
static ngx_int_t micro_cd_authentication(void);
static double micro_round(micro_op_pt op, ngx_uint_t n);
static int micro_cmp(const void *one, const void *two);


/* a catalogue read as a partner sends it, its key already checked */
static ngx_str_t  micro_query = ngx_string(
    "releaseid=1234567&country=GB&imageSize=350&usageTypes=download"
    "&oauth_consumer_key=bench-partner-key");

static ngx_str_t  micro_method = ngx_string("GET");
static ngx_str_t  micro_scheme = ngx_string("http");
static ngx_str_t  micro_host = ngx_string("api.7digital.com");
static ngx_str_t  micro_path = ngx_string("/1.2/release/details");
static ngx_str_t  micro_key = ngx_string("bench-upstream-key");
static ngx_str_t  micro_secret = ngx_string("bench-upstream-secret");
static ngx_http_7digital_hmac_t  *micro_oauth_key;
static ngx_http_7digital_hmac_t  *micro_cd_key;
static ngx_str_t  micro_sig_method = ngx_string("HMAC-SHA1");
static ngx_str_t  micro_version = ngx_string("1.0");

/* a Choose Digital purchase's form body, and the fields it signs */
static ngx_str_t  micro_cd_body = ngx_string(
    "cdin=CD0001&customerId=cust-1&customerCountryCode=us&priceSold=100"
    "&currencyType=points");

static ngx_str_t  micro_cd_fields[] = {
    ngx_string("cdin"),
    ngx_string("customerId"),
    ngx_string("customerCountryCode"),
    ngx_string("priceSold"),
    ngx_null_string
};

static ngx_array_t  micro_in;        /* the parsed query, kept across ops */
static ngx_array_t  micro_cd_query;
static ngx_array_t  micro_cd_form;
static ngx_array_t  micro_signed;    /* for the steps timed alone */
static ngx_array_t  micro_oauth_params;
static ngx_str_t    micro_base;
static ngx_str_t    micro_sink;


static micro_t  micro_ops[] = {
    { "OAuth 1.0 signature, whole (nonce, base string, HMAC-SHA1, header)",
      micro_oauth, 3000 },
    { "&nbsp;&nbsp;step: nonce (the worker's CSPRNG store)",
      micro_oauth_nonce, 0 },
    { "&nbsp;&nbsp;step: base string URI and base string (encode, sort, "
      "join)", micro_oauth_base_string, 0 },
    { "&nbsp;&nbsp;step: HMAC-SHA1 and Base64", micro_oauth_hmac, 0 },
    { "&nbsp;&nbsp;step: Authorization header", micro_oauth_header, 0 },
    { "Choose Digital authorization (x-cd-date, HMAC-SHA1, Base64)",
      micro_cd_authorization, 1000 },
    { "Choose Digital authentication (purchase fields, HMAC-SHA1, Base64)",
      micro_cd_authentication, 1000 },
    { "the shim's malloc() and free() of one allocation", micro_alloc, 0 },
    { NULL, NULL, 0 }
};


int
main(int argc, char **argv)
{
    double      ns[MICRO_MAX_ROUNDS];
    ngx_uint_t  n, rounds, i, r, failed;
    micro_t    *m;

    n = (argc > 1) ? (ngx_uint_t) strtoul(argv[1], NULL, 10)
                   : MICRO_ITERATIONS;
    rounds = (argc > 2) ? (ngx_uint_t) strtoul(argv[2], NULL, 10)
                        : MICRO_ROUNDS;

    if (n == 0 || rounds == 0 || rounds > MICRO_MAX_ROUNDS) {
        fprintf(stderr, "usage: micro [iterations] [rounds (1-%d)]\n",
                MICRO_MAX_ROUNDS);
        return 2;
    }

    if (micro_setup() != NGX_OK) {
        fprintf(stderr, "micro: the inputs do not parse\n");
        return 1;
    }

    printf("| operation | ns/op | min-max | target |\n");
    printf("|---|---:|---:|---|\n");

    failed = 0;

    for (m = micro_ops; m->name; m++) {
        /* one untimed round: caches, OpenSSL's lazy initialisation */
        if (micro_round(m->op, n / 10 + 1) < 0) {
            fprintf(stderr, "micro: \"%s\" failed\n", m->name);
            return 1;
        }

        for (r = 0; r < rounds; r++) {
            ns[r] = micro_round(m->op, n);
        }

        qsort(ns, rounds, sizeof(double), micro_cmp);

        i = (rounds - 1) / 2;

        printf("| %s | %.0f | %.0f-%.0f |", m->name, ns[i], ns[0],
               ns[rounds - 1]);

        if (m->target) {
            printf(" < %lu ns: %s |\n", (unsigned long) m->target,
                   ns[i] < m->target ? "met" : "NOT met");
            failed += (ns[i] >= m->target);

        } else {
            printf(" |\n");
        }
    }

    printf("\n%lu iterations per round, median of %lu rounds; allocations"
           " through malloc() (an upper bound)\n",
           (unsigned long) n, (unsigned long) rounds);

    shim_reset();

    return failed ? 3 : 0;
}


/* the inputs every request would have parsed before it is signed */

static ngx_int_t
micro_setup(void)
{
    ngx_str_t  oauth_key;

    /*
     * The keys as a location prepares them at configuration time (the
     * consumer secret, and "secret&" for 2-legged OAuth): kept out of the
     * arena the operations release.
     */
    shim_reset();
    ngx_str_set(&oauth_key, "bench-upstream-secret&");
    micro_oauth_key = ngx_http_7digital_hmac_create(NULL, 0, &oauth_key);
    micro_cd_key = ngx_http_7digital_hmac_create(NULL, 0, &micro_secret);
    shim_forget();

    if (micro_oauth_key == NULL || micro_cd_key == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&micro_in, NULL, 8, sizeof(ngx_http_7digital_param_t))
        != NGX_OK
        || ngx_http_7digital_parse_params(NULL, &micro_query, &micro_in)
           != NGX_OK
        || ngx_array_init(&micro_cd_query, NULL, 1,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK
        || ngx_array_init(&micro_cd_form, NULL, 8,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK
        || ngx_http_7digital_parse_params(NULL, &micro_cd_body,
                                          &micro_cd_form)
           != NGX_OK
        || micro_params(&micro_signed) != NGX_OK
        || micro_oauth_base(&micro_base) != NGX_OK
        || micro_keep(&micro_in) != NGX_OK
        || micro_keep(&micro_signed) != NGX_OK
        || micro_keep(&micro_cd_query) != NGX_OK
        || micro_keep(&micro_cd_form) != NGX_OK
        || micro_keep_str(&micro_base) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the header carries the OAuth parameters only, the last five */
    micro_oauth_params = micro_signed;
    micro_oauth_params.elts = (ngx_http_7digital_param_t *) micro_signed.elts
                              + micro_signed.nelts - 5;
    micro_oauth_params.nelts = 5;

    /* every operation ends with shim_reset(): nothing above may be in it */
    shim_reset();

    return NGX_OK;
}


static ngx_int_t
micro_keep(ngx_array_t *a)
{
    void                       *elts;
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *p;

    elts = malloc(a->nelts * a->size + 1);
    if (elts == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(elts, a->elts, a->nelts * a->size);
    a->elts = elts;
    a->nalloc = a->nelts;
    p = elts;

    for (i = 0; i < a->nelts; i++) {
        if (micro_keep_str(&p[i].raw) != NGX_OK
            || micro_keep_str(&p[i].name) != NGX_OK
            || micro_keep_str(&p[i].value) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
micro_keep_str(ngx_str_t *s)
{
    u_char  *p;

    p = malloc(s->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s->data, s->len);
    s->data = p;

    return NGX_OK;
}


/*
 * What ngx_http_7digital_7d_sign() does for a GET: the five OAuth
 * parameters, the forwarded query without the partner's credentials, the
 * base string over the origin's URL.
 */

static ngx_int_t
micro_params(ngx_array_t *params)
{
    u_char                     *p;
    ngx_str_t                   nonce, ts;
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *prm, *n;

    nonce.data = ngx_pnalloc(NULL, NGX_HTTP_7DIGITAL_NONCE_LEN);
    ts.data = ngx_pnalloc(NULL, NGX_TIME_T_LEN);

    if (nonce.data == NULL || ts.data == NULL
        || ngx_http_7digital_nonce(nonce.data) != NGX_OK
        || ngx_array_init(params, NULL, micro_in.nelts + 8,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    nonce.len = NGX_HTTP_7DIGITAL_NONCE_LEN;

    /* ngx_sprintf("%T") is nginx's; the shim has none */
    p = ts.data + NGX_TIME_T_LEN;
    i = (ngx_uint_t) time(NULL);

    do {
        *--p = (u_char) ('0' + i % 10);
        i /= 10;
    } while (i);

    ts.len = ts.data + NGX_TIME_T_LEN - p;
    ts.data = p;

    prm = micro_in.elts;

    for (i = 0; i < micro_in.nelts; i++) {
        if (!ngx_http_7digital_is_oauth_param(&prm[i].name)) {
            n = ngx_array_push(params);
            if (n == NULL) {
                return NGX_ERROR;
            }

            *n = prm[i];
        }
    }

    if (ngx_http_7digital_push_param(params, "oauth_consumer_key",
                                     &micro_key)
        != NGX_OK
        || ngx_http_7digital_push_param(params, "oauth_nonce", &nonce)
           != NGX_OK
        || ngx_http_7digital_push_param(params, "oauth_signature_method",
                                        &micro_sig_method)
           != NGX_OK
        || ngx_http_7digital_push_param(params, "oauth_timestamp", &ts)
           != NGX_OK
        || ngx_http_7digital_push_param(params, "oauth_version",
                                        &micro_version)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
micro_oauth_base(ngx_str_t *base)
{
    ngx_str_t    uri;
    ngx_array_t  params;

    if (micro_params(&params) != NGX_OK
        || ngx_http_7digital_oauth_base_uri(NULL, &micro_scheme, &micro_host,
                                            80, &micro_path, &uri)
           != NGX_OK
        || ngx_http_7digital_oauth_base_string(NULL, &micro_method, &uri,
                                               &params, base)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
micro_oauth_nonce(void)
{
    u_char  nonce[NGX_HTTP_7DIGITAL_NONCE_LEN];

    return ngx_http_7digital_nonce(nonce);
}


static ngx_int_t
micro_oauth_base_string(void)
{
    ngx_str_t  uri;

    if (ngx_http_7digital_oauth_base_uri(NULL, &micro_scheme, &micro_host,
                                         80, &micro_path, &uri)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_oauth_base_string(NULL, &micro_method, &uri,
                                               &micro_signed, &micro_sink);
}


static ngx_int_t
micro_oauth_hmac(void)
{
    u_char  sig[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    return ngx_http_7digital_hmac_base64(micro_oauth_key, &micro_base, sig);
}


static ngx_int_t
micro_oauth_header(void)
{
    return ngx_http_7digital_oauth_header(NULL, &micro_oauth_params,
                                          &micro_sink);
}


/* what the shim adds to every allocation of the operations above */

static ngx_int_t
micro_alloc(void)
{
    return ngx_pnalloc(NULL, 64) ? NGX_OK : NGX_ERROR;
}


/* the whole of it, as one forwarded 2-legged request pays it */

static ngx_int_t
micro_oauth(void)
{
    ngx_str_t    uri, base, sig;
    ngx_array_t  params;

    sig.data = ngx_pnalloc(NULL, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);
    sig.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (sig.data == NULL
        || micro_params(&params) != NGX_OK
        || ngx_http_7digital_oauth_base_uri(NULL, &micro_scheme, &micro_host,
                                            80, &micro_path, &uri)
           != NGX_OK
        || ngx_http_7digital_oauth_base_string(NULL, &micro_method, &uri,
                                               &params, &base)
           != NGX_OK
        || ngx_http_7digital_hmac_base64(micro_oauth_key, &base, sig.data)
           != NGX_OK
        || ngx_http_7digital_push_param(&params, "oauth_signature", &sig)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the header carries the OAuth parameters only, the last six */
    params.elts = (ngx_http_7digital_param_t *) params.elts
                  + params.nelts - 6;
    params.nelts = 6;

    return ngx_http_7digital_oauth_header(NULL, &params, &micro_sink);
}


/* ngx_http_7digital_cd_forward(): the date, and its HMAC */

static ngx_int_t
micro_cd_authorization(void)
{
    u_char     sig[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    ngx_str_t  date;

    date.data = ngx_pnalloc(NULL, NGX_HTTP_7DIGITAL_CD_DATE_LEN);
    if (date.data == NULL) {
        return NGX_ERROR;
    }

    date.len = ngx_http_7digital_cd_date(date.data, time(NULL)) - date.data;

    return ngx_http_7digital_hmac_base64(micro_cd_key, &date, sig);
}


/* a purchase: the fields' values joined, and their HMAC */

static ngx_int_t
micro_cd_authentication(void)
{
    u_char      sig[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    ngx_str_t   data, *bad;

    if (ngx_http_7digital_cd_auth_data(NULL, micro_cd_fields,
                                       &micro_cd_query, &micro_cd_form,
                                       &data, &bad)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_hmac_base64(micro_cd_key, &data, sig);
}


/* ns per operation over n of them, each followed by its "pool"'s release */

static double
micro_round(micro_op_pt op, ngx_uint_t n)
{
    ngx_uint_t       i;
    struct timespec  t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (i = 0; i < n; i++) {
        if (op() != NGX_OK) {
            return -1;
        }

        shim_reset();
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);

    return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
}


static int
micro_cmp(const void *one, const void *two)
{
    double  a, b;

    a = *(double *) one;
    b = *(double *) two;

    return (a > b) - (a < b);
}
