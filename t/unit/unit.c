
/*
 * Unit tests of the pure functions, printed as TAP.  The expected values
 * were computed outside this project's code:
 *
 *   HMAC:    echo -n "$data" | openssl dgst -sha1 -hmac "$secret" -binary \
 *            | base64      (and Python's hmac, which agrees)
 *   SHA-256: python3 -c 'import hashlib; print(hashlib.sha256(b"...")
 *            .hexdigest())'
 *   epochs:  python3 datetime.fromisoformat(...).timestamp()
 *   escape:  python3 urllib.parse.quote(s, safe="~")
 *   bounds:  python3 '%g' % seconds (what Prometheus's Go client writes)
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


void shim_reset(void);


static int test_escape_bytes(void);


static int  tests;
static int  failures;


#define S(s)  { sizeof(s) - 1, (u_char *) s }


static void
ok(int cond, const char *what)
{
    tests++;

    if (!cond) {
        failures++;
    }

    printf("%sok %d - %s\n", cond ? "" : "not ", tests, what);
}


static int
eq(ngx_str_t *s, const char *want)
{
    return s->len == strlen(want) && memcmp(s->data, want, s->len) == 0;
}


static void
test_cd_date_hmac(void)
{
    u_char      out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];
    ngx_str_t   secret = S("choose-digital-test-secret"), d;
    ngx_uint_t  i;

    static struct { const char *date, *sig; }  v[] = {
        { "2026-11-23T10:15:30Z", "hmTnf/pOolRp+U/xXlwMXdwPfgM=" },
        { "2026-11-23T10:15:30", "8cxGWP2zLR7j/63en91ZWcL5IG8=" },
        { "2026-11-23T11:15:30.427+01:00", "Ri2a05vQF/LTI8ZpbhIerBeLLTA=" },
    };

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        d.data = (u_char *) v[i].date;
        d.len = strlen(v[i].date);
        out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN] = '\0';

        ok(ngx_http_7digital_hmac_sha1_base64(&secret, &d, out) == NGX_OK
           && strcmp((char *) out, v[i].sig) == 0,
           "date HMAC matches openssl for each date format");
    }
}


static int
hex_of(u_char *dst, u_char *src, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        sprintf((char *) dst + 2 * i, "%02x", src[i]);
    }

    return 1;
}


/* RFC 2202 and RFC 4231, cases 2 and 6: a short key, and one longer
 * than a block, hashed first; each key used twice */

static void
test_hmac_keyed(void)
{
    u_char                     out[NGX_HTTP_7DIGITAL_DIGEST_LEN];
    u_char                     hex[2 * NGX_HTTP_7DIGITAL_DIGEST_LEN + 1];
    u_char                     b64[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];
    u_char                     big[131];
    ngx_str_t                  key, msg, secret = S("choose-digital-test-secret");
    ngx_uint_t                 i, j, n;
    ngx_http_7digital_hmac_t  *h;

    static struct {
        ngx_uint_t   sha256;
        size_t       key_len;   /* 0: "Jefe" */
        const char  *msg, *hex;
    }  v[] = {
        { 0, 0, "what do ya want for nothing?",
          "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" },
        { 0, 80, "Test Using Larger Than Block-Size Key - Hash Key First",
          "aa4ae5e15272d00e95705637ce8a3b55ed402112" },
        { 1, 0, "what do ya want for nothing?",
          "5bdcc146bf60754e6a042426089575c7"
          "5a003f089d2739839dec58b964ec3843" },
        { 1, 131, "Test Using Larger Than Block-Size Key - Hash Key First",
          "60e431591ee0b67f0d8a26aacbf5b77f"
          "8e0bc6213728c5140546040f0ee37f54" },
    };

    ngx_memset(big, 0xaa, sizeof(big));

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        key.data = v[i].key_len ? big : (u_char *) "Jefe";
        key.len = v[i].key_len ? v[i].key_len : 4;
        msg.data = (u_char *) v[i].msg;
        msg.len = strlen(v[i].msg);
        n = v[i].sha256 ? 32 : 20;

        h = ngx_http_7digital_hmac_create(NULL, v[i].sha256, &key);

        for (j = 0; j < 2; j++) {
            ok(h && ngx_http_7digital_hmac(h, &msg, out) == NGX_OK
               && hex_of(hex, out, n)
               && strcmp((char *) hex, v[i].hex) == 0,
               "a key made ready once gives the RFC's HMAC, twice");
        }
    }

    /* the same Base64 as the one-shot call of test_cd_date_hmac() */
    msg = (ngx_str_t) S("2026-11-23T10:15:30Z");
    h = ngx_http_7digital_hmac_create(NULL, 0, &secret);
    b64[NGX_HTTP_7DIGITAL_SHA1_B64_LEN] = '\0';

    ok(h && ngx_http_7digital_hmac_base64(h, &msg, b64) == NGX_OK
       && strcmp((char *) b64, "hmTnf/pOolRp+U/xXlwMXdwPfgM=") == 0,
       "a key made ready once signs a date as the one-shot call does");
}


/*
 * SipHash-2-4, the paper's key 00..0f over 00..(n-1): n = 0, 1 and 63 are
 * the reference vectors, 15 the paper's example; 7, 8 and 16 take a
 * block's edges (Python, from the paper's description)
 */

static void
test_siphash(void)
{
    u_char      key[16], msg[64];
    ngx_uint_t  i, all;

    static struct { size_t n; uint64_t h; }  v[] = {
        { 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
        { 7, 0xab0200f58b01d137ULL }, { 8, 0x93f5f5799a932462ULL },
        { 15, 0xa129ca6149be45e5ULL }, { 16, 0x3f2acc7f57c29bdbULL },
        { 63, 0x958a324ceb064572ULL },
    };

    for (i = 0; i < 64; i++) {
        msg[i] = (u_char) i;
        key[i & 15] = (u_char) (i & 15);
    }

    all = 1;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (ngx_http_7digital_siphash(key, msg, v[i].n) != v[i].h) {
            printf("# SipHash of %u bytes\n", (unsigned) v[i].n);
            all = 0;
        }
    }

    ok(all, "SipHash-2-4 gives the reference vectors");
}


/* nonces: well formed, all different, and never a parent's after a fork */

static void
test_nonce(void)
{
    int         fd[2], status;
    pid_t       pid;
    ngx_uint_t  i, j, bad, same;
    u_char      n[600][NGX_HTTP_7DIGITAL_NONCE_LEN];
    u_char      child[NGX_HTTP_7DIGITAL_NONCE_LEN];

    bad = 0;
    same = 0;
    ngx_pid = getpid();

    /* more than one draw of the store */
    for (i = 0; i < 600; i++) {
        if (ngx_http_7digital_nonce(n[i]) != NGX_OK) {
            bad++;
            continue;
        }

        for (j = 0; j < NGX_HTTP_7DIGITAL_NONCE_LEN; j++) {
            bad += !isxdigit(n[i][j]) || isupper(n[i][j]);
        }

        for (j = 0; j < i; j++) {
            same += memcmp(n[i], n[j], NGX_HTTP_7DIGITAL_NONCE_LEN) == 0;
        }
    }

    ok(bad == 0 && same == 0, "600 nonces: 32 lower-case hex digits, "
       "no two alike");

    /* a worker forked from a process with bytes left draws its own */
    if (pipe(fd) != 0 || (pid = fork()) < 0) {
        ok(0, "fork for the nonce test");
        return;
    }

    if (pid == 0) {
        ngx_pid = getpid();
        ngx_http_7digital_nonce(child);
        (void) !write(fd[1], child, sizeof(child));
        _exit(0);
    }

    ngx_http_7digital_nonce(n[0]);
    waitpid(pid, &status, 0);

    ok(read(fd[0], child, sizeof(child)) == sizeof(child)
       && memcmp(child, n[0], sizeof(child)) != 0,
       "a forked process never hands out its parent's nonce bytes");

    close(fd[0]);
    close(fd[1]);
}


static void
test_cd_parse_date(void)
{
    time_t      t;
    ngx_str_t   d;
    ngx_uint_t  i;

    static struct { const char *date; time_t epoch; }  good[] = {
        { "2026-11-23T10:15:30Z", 1795428930 },
        { "2026-11-23T11:15:30.427+01:00", 1795428930 },
        { "2026-11-23T05:15:30-0500", 1795428930 },
        { "1999-12-31T23:59:59", 946684799 },
        { "2024-02-29T12:00:00Z", 1709208000 },
    };

    static const char  *bad[] = {
        "", "2026-11-23", "2026-11-23T10:15", "2026-13-01T00:00:00Z",
        "2026-11-23T10:15:30ZZ", "2026-11-23T10:15:30.", "26-11-23T10:15:30",
        "2026-11-23T10:15:30+1", "yesterday", "2026-11-23T25:00:00Z",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        d.data = (u_char *) good[i].date;
        d.len = strlen(good[i].date);

        ok(ngx_http_7digital_cd_parse_date(&d, &t) == NGX_OK
           && t == good[i].epoch, good[i].date);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d.data = (u_char *) bad[i];
        d.len = strlen(bad[i]);

        ok(ngx_http_7digital_cd_parse_date(&d, &t) == NGX_DECLINED,
           "an unreadable date is refused");
    }
}


static void
test_cd_date_format(void)
{
    u_char     buf[32], *end;
    ngx_str_t  s;

    end = ngx_http_7digital_cd_date(buf, 1795428930);
    s.data = buf;
    s.len = end - buf;

    ok(eq(&s, "2026-11-23T10:15:30Z"), "x-cd-date is yyyy-MM-ddTHH:mm:ssZ");
}


/* the fields a Choose Digital method's "authentication" signs */
static ngx_str_t *
cd_fields(ngx_str_t *uri)
{
    ngx_str_t                  path;
    ngx_http_7digital_route_t  route;

    if (ngx_http_7digital_endpoint_path(NULL, NGX_HTTP_7DIGITAL_API_CD, uri,
                                        &path)
        != NGX_OK)
    {
        return NULL;
    }

    ngx_http_7digital_endpoint_match(NGX_HTTP_7DIGITAL_API_CD, &path,
                                     NGX_HTTP_7DIGITAL_M_POST
                                     |NGX_HTTP_7DIGITAL_M_PUT, NULL, &route);

    return route.endpoint->hash;
}


static ngx_http_7digital_route_t *
route(ngx_uint_t api, const char *method, const char *uri,
    ngx_array_t *overrides)
{
    ngx_str_t                         u, m, path;
    static ngx_http_7digital_route_t  r;

    u.data = (u_char *) uri;
    u.len = strlen(uri);
    m.data = (u_char *) method;
    m.len = strlen(method);

    ngx_memzero(&r, sizeof(r));

    if (ngx_http_7digital_endpoint_path(NULL, api, &u, &path) != NGX_OK) {
        return &r;
    }

    ngx_http_7digital_endpoint_match(api, &path,
                                     ngx_http_7digital_method_bit(&m),
                                     overrides, &r);
    return &r;
}


static void
test_endpoints(void)
{
    u_char                        *p;
    ngx_str_t                      path, u;
    ngx_uint_t                     i, all;
    ngx_array_t                    o;
    ngx_http_7digital_route_t     *r;
    ngx_http_7digital_endpoint_t  *e;
    ngx_http_7digital_override_t  *ov;
    u_char                         buf[256];

    u = (ngx_str_t) S("//1.2//User/deliveritem/");
    ok(ngx_http_7digital_endpoint_path(NULL, NGX_HTTP_7DIGITAL_API_7D, &u,
                                       &path) == NGX_OK
       && eq(&path, "User/deliveritem"), "path: slashes and version gone");

    u = (ngx_str_t) S("/gw/1.2/user/deliveritem");
    ok(ngx_http_7digital_endpoint_path(NULL, NGX_HTTP_7DIGITAL_API_7D, &u,
                                       &path) == NGX_OK
       && eq(&path, "user/deliveritem"), "path: a location prefix goes");

    u = (ngx_str_t) S("/music//purchase/");
    ok(ngx_http_7digital_endpoint_path(NULL, NGX_HTTP_7DIGITAL_API_CD, &u,
                                       &path) == NGX_OK
       && eq(&path, "music/purchase"), "path: Choose Digital");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/User/deliveritem/",
              NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE
       && r->sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED
       && r->endpoint->xml_only && r->endpoint->id,
       "deliveritem in odd case: a 3-legged, XML-only sale");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "POST", "/1.2/user/DELIVERITEM",
              NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE,
       "deliveritem under another method is still a sale");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "DELETE",
              "/1.2/USER/purchase/77/track/2", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE && r->nparams == 2
       && eq(&r->params[0].name, "purchaseId")
       && eq(&r->params[0].value, "77")
       && eq(&r->params[1].name, "trackId")
       && eq(&r->params[1].value, "2"), "track refund, ids from the path");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "DELETE",
              "/1.2/user/purchase/77/release/9/", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE && r->nparams == 2
       && eq(&r->params[1].name, "releaseId"), "release refund");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "HEAD", "/1.2/release/details",
              NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
       && r->sign == NGX_HTTP_7DIGITAL_SIGN_OFF, "catalogue, unsigned");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/user/unlimitedStreaming",
              NULL);
    ok(r->sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED, "streaming GET 3-legged");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "POST",
              "/1.2/user/unlimitedstreaming", NULL);
    ok(r->sign == NGX_HTTP_7DIGITAL_SIGN_2LEGGED && r->endpoint->signed_only,
       "streaming POST 2-legged");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/oauth/requesttoken",
              NULL);
    ok(r->endpoint->tokens == NGX_HTTP_7DIGITAL_TOKENS_REQUEST,
       "request tokens");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/release/details/x/y",
              NULL);
    ok(r->endpoint->unknown && r->class == NGX_HTTP_7DIGITAL_CLASS_USER
       && r->sign == NGX_HTTP_7DIGITAL_SIGN_2LEGGED,
       "unknown: signed, never cached");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/", NULL);
    ok(r->endpoint->unknown, "the root is unknown");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/playlists/5/tracks",
              NULL);
    ok(!r->endpoint->unknown && r->sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED,
       "playlists/*");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "POST", "/MUSIC/Purchase/", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE && r->endpoint->hash
       && eq(&r->endpoint->hash[0], "cdin"), "Choose Digital purchase");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "PUT", "/audiobook/cancel", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_PURCHASE, "cancel is a sale");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "GET", "/music", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_USER, "service check not cached");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "GET", "/music/download/1/2/us",
              NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_USER, "download never cached");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "GET", "/music/detail/123", NULL);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE, "detail cached");

    r = route(NGX_HTTP_7DIGITAL_API_CD, "GET", "/musicx/purchase", NULL);
    ok(r->endpoint->unknown, "alternatives match whole segments");

    ngx_array_init(&o, NULL, 2, sizeof(ngx_http_7digital_override_t));
    ov = ngx_array_push(&o);
    ov->pattern = (ngx_str_t) S("test/*");
    ov->class = NGX_HTTP_7DIGITAL_CLASS_CATALOGUE;
    ov->sign = NGX_HTTP_7DIGITAL_SIGN_OFF;

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/Test/big", &o);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
       && r->sign == NGX_HTTP_7DIGITAL_SIGN_OFF, "an override applies");

    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/test", &o);
    ok(r->class == NGX_HTTP_7DIGITAL_CLASS_USER, "* takes one or more");

    u = (ngx_str_t) S("a/:b/*");
    ok(ngx_http_7digital_endpoint_pattern(&u) == NGX_OK, "pattern ok");

    u = (ngx_str_t) S("a/*/b");
    ok(ngx_http_7digital_endpoint_pattern(&u) == NGX_ERROR,
       "pattern: * only last");

    u = (ngx_str_t) S("/a//b");
    ok(ngx_http_7digital_endpoint_pattern(&u) == NGX_ERROR,
       "pattern: no empty segment");

    /* every entry matches itself, method and all, and is a valid pattern */
    all = 1;

    for (i = 0; i < 2; i++) {
        e = ngx_http_7digital_endpoints(i == 0 ? NGX_HTTP_7DIGITAL_API_7D
                                               : NGX_HTTP_7DIGITAL_API_CD);

        for ( /* void */ ; e->pattern.len; e++) {
            ngx_str_t                  pat, p2;
            ngx_http_7digital_route_t  rr;
            u_char                    *s, *end;

            pat = e->pattern;
            p = buf;
            s = pat.data;
            end = s + pat.len;

            while (s < end) {
                if (*s == ':' || *s == '*') {
                    *p++ = 'x';
                    while (s < end && *s != '/') {
                        s++;
                    }

                } else if (*s == '|') {
                    while (s < end && *s != '/') {
                        s++;
                    }

                } else {
                    *p++ = *s++;
                }
            }

            p2.data = buf;
            p2.len = p - buf;

            ngx_http_7digital_endpoint_match(
                i == 0 ? NGX_HTTP_7DIGITAL_API_7D : NGX_HTTP_7DIGITAL_API_CD,
                &p2, e->methods, NULL, &rr);

            if (rr.endpoint != e
                || ngx_http_7digital_endpoint_pattern(&pat) != NGX_OK)
            {
                printf("# %.*s\n", (int) pat.len, pat.data);
                all = 0;
            }
        }
    }

    ok(all, "every table entry is found by its own path and method");
}


static void
test_records(void)
{
    u_char                      fp1[64], fp2[64];
    ngx_str_t                   body, id, name, line, method, path;
    ngx_str_t                   key = S("gateway-secret"), tok = S("");
    ngx_uint_t                  missing;
    ngx_array_t                 q, b, fields;
    ngx_http_7digital_record_t  rec;
    ngx_http_7digital_route_t  *r;

    body = (ngx_str_t) S("<response status=\"ok\"><purchase id=\"P-42\" "
                         "purchaseDate=\"x\"></purchase></response>");
    ok(ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_7D, &body, &id)
       == NGX_OK && eq(&id, "P-42"), "purchase id from XML");

    body = (ngx_str_t) S("{\"status\":\"ok\",\"purchase\": {\"id\": 77}}");
    ok(ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_7D, &body, &id)
       == NGX_OK && eq(&id, "77"), "purchase id from JSON");

    body = (ngx_str_t) S("{\"orderId\" : \"ORD-9\", \"x\": 1}");
    ok(ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_CD, &body, &id)
       == NGX_OK && eq(&id, "ORD-9"), "Choose Digital order id");

    body = (ngx_str_t) S("<purchase></purchase>");
    ok(ngx_http_7digital_record_find_id(NGX_HTTP_7DIGITAL_API_7D, &body, &id)
       == NGX_DECLINED, "no id, no guess");

    ngx_array_init(&q, NULL, 8, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&b, NULL, 8, sizeof(ngx_http_7digital_param_t));
    body = (ngx_str_t) S("userId=1&releaseId=2&country=GB&transactionId=t"
                         "&retailPrice=1.99&currency=GBP"
                         "&emailAddress=jane%40example.com&password=x");
    ngx_http_7digital_parse_params(NULL, &body, &q);

    ok(ngx_http_7digital_deliver_check(&q, &b, &name, &missing) == NGX_OK,
       "deliveritem parameters valid");

    ngx_array_init(&fields, NULL, 8, sizeof(ngx_http_7digital_param_t));
    r = route(NGX_HTTP_7DIGITAL_API_7D, "GET", "/1.2/user/deliveritem", NULL);
    ok(ngx_http_7digital_record_fields(NULL, NGX_HTTP_7DIGITAL_API_7D, r, &q,
                                       &b, 0, &fields) == NGX_OK
       && fields.nelts == 7
       && eq(&((ngx_http_7digital_param_t *) fields.elts)[1].value,
             "j***@example.com"),
       "fields: the sale's, masked, no password");

    ngx_memzero(&rec, sizeof(rec));
    rec.type = (ngx_str_t) S("intent");
    rec.id = (ngx_str_t) S("a\"b");
    rec.partner = (ngx_str_t) S("\xff\xfe");
    rec.fields = &fields;
    rec.status = -1;
    rec.upstream_status = -1;
    rec.duration_ms = -1;
    ok(ngx_http_7digital_record_encode(NULL, &rec, &line) == NGX_OK
       && line.data[line.len - 1] == '\n'
       && memchr(line.data, '\n', line.len - 1) == NULL
       && memmem(line.data, line.len, "\"id\":\"a\\\"b\"", 9) != NULL
       && memmem(line.data, line.len, "\"partner\":\"??\"", 14) != NULL,
       "a record is one line of valid JSON whatever its bytes");

    static const char *bad[][2] = {
        { "retailPrice=-1", "retailPrice" }, { "retailPrice=1,99", "retailPrice" },
        { "retailPrice=1.999", "retailPrice" }, { "retailPrice=.5", "retailPrice" },
        { "country=GBR", "country" }, { "currency=GB", "currency" },
    };
    ngx_uint_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ngx_array_init(&b, NULL, 8, sizeof(ngx_http_7digital_param_t));
        body.data = (u_char *) bad[i][0];
        body.len = strlen(bad[i][0]);
        ngx_http_7digital_parse_params(NULL, &body, &b);
        ok(ngx_http_7digital_deliver_check(&q, &b, &name, &missing)
           == NGX_DECLINED && eq(&name, bad[i][1]) && !missing, bad[i][0]);
    }

    ngx_array_init(&b, NULL, 8, sizeof(ngx_http_7digital_param_t));
    method = (ngx_str_t) S("GET");
    path = (ngx_str_t) S("User/DeliverItem");
    ok(ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path, &tok, &q, &b, fp1)
       == NGX_OK, "fingerprint");

    /* the same parameters in another order, with other signatures */
    ngx_array_init(&q, NULL, 8, sizeof(ngx_http_7digital_param_t));
    body = (ngx_str_t) S("oauth_nonce=n2&password=x&currency=GBP"
                         "&emailAddress=jane%40example.com&retailPrice=1.99"
                         "&transactionId=t&country=GB&releaseId=2&userId=1"
                         "&oauth_signature=zz");
    ngx_http_7digital_parse_params(NULL, &body, &q);
    path = (ngx_str_t) S("user/deliveritem");
    ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path, &tok, &q, &b, fp2);
    ok(memcmp(fp1, fp2, 64) == 0, "fingerprint ignores order, case, oauth_*");

    ngx_array_init(&q, NULL, 8, sizeof(ngx_http_7digital_param_t));
    body = (ngx_str_t) S("userId=1&releaseId=2&country=GB&transactionId=t"
                         "&retailPrice=2.99&currency=GBP"
                         "&emailAddress=jane%40example.com&password=x");
    ngx_http_7digital_parse_params(NULL, &body, &q);
    ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path, &tok, &q, &b, fp2);
    ok(memcmp(fp1, fp2, 64) != 0, "fingerprint sees another price");

    tok = (ngx_str_t) S("user-token");
    ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path, &tok, &q,
                                       &b, fp1);
    ok(memcmp(fp1, fp2, 64) != 0, "fingerprint sees the user's token");
}


static void
test_gcra(void)
{
    uint64_t                    T, tat, now;
    ngx_str_t                   v;
    ngx_uint_t                  i, allowed;
    ngx_http_7digital_gcra_t    g;
    ngx_http_7digital_limit_t   lim;

    v = (ngx_str_t) S("50r/s");
    ok(ngx_http_7digital_gcra_rate(&v, &T) == NGX_OK && T == 20000,
       "50r/s: one every 20 ms");
    v = (ngx_str_t) S("600r/m");
    ok(ngx_http_7digital_gcra_rate(&v, &T) == NGX_OK && T == 100000,
       "600r/m: one every 100 ms");
    v = (ngx_str_t) S("0r/s");
    ok(ngx_http_7digital_gcra_rate(&v, &T) == NGX_ERROR, "0r/s refused");
    v = (ngx_str_t) S("5r/d");
    ok(ngx_http_7digital_gcra_rate(&v, &T) == NGX_ERROR, "5r/d refused");
    v = (ngx_str_t) S("r/s");
    ok(ngx_http_7digital_gcra_rate(&v, &T) == NGX_ERROR, "r/s refused");

    ok(ngx_http_7digital_class((u_char *) "purchase", 8)
       == NGX_HTTP_7DIGITAL_CLASS_PURCHASE
       && ngx_http_7digital_class((u_char *) "user", 4)
          == NGX_HTTP_7DIGITAL_CLASS_USER
       && ngx_http_7digital_class((u_char *) "catalogue", 9)
          == NGX_HTTP_7DIGITAL_CLASS_CATALOGUE,
       "classes by name");
    ok(ngx_http_7digital_class((u_char *) "auto", 4)
       == NGX_HTTP_7DIGITAL_CLASS_AUTO
       && ngx_http_7digital_class((u_char *) "purchases", 9)
          == NGX_HTTP_7DIGITAL_CLASS_AUTO
       && ngx_http_7digital_class((u_char *) "use", 3)
          == NGX_HTTP_7DIGITAL_CLASS_AUTO,
       "no class for other names, \"auto\" included");
    ok(ngx_strcmp(ngx_http_7digital_class_names[
                      NGX_HTTP_7DIGITAL_CLASS_USER].data, "user") == 0,
       "a class's name by its value");

    /* 10r/s burst 5, all at once: the first and five more */
    T = 100000;
    lim.interval = T;
    lim.burst = 5;
    tat = 0;
    now = 1000000000;
    allowed = 0;

    for (i = 0; i < 20; i++) {
        if (ngx_http_7digital_gcra_step(&tat, now, &lim, 1, 0, &g)
            == NGX_OK)
        {
            allowed++;
        }
    }

    ok(allowed == 6, "a burst of 5: six at once, no more");
    ok(g.wait == T, "the next one in one interval");

    /* steady state over 10 s at twice the rate: the rate, not twice it */
    allowed = 0;

    for (i = 0; i < 200; i++) {
        now += T / 2;
        if (ngx_http_7digital_gcra_step(&tat, now, &lim, 1, 0, &g)
            == NGX_OK)
        {
            allowed++;
        }
    }

    ok(allowed == 100, "10 s at 20r/s against 10r/s: 100 pass");

    /* idle for long: the burst is whole again */
    now += 60 * 1000000;
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 1, 0, &g)
       == NGX_OK && g.remaining == 5,
       "after a pause the whole burst is back");

    /* several at once, as a node takes them: no more than the burst */
    now += 60 * 1000000;
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 4, 0, &g) == NGX_OK
       && g.taken == 4 && g.remaining == 2 && g.reset == 4 * T,
       "four at once: four taken, two left");
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 4, 0, &g) == NGX_OK
       && g.taken == 2 && g.remaining == 0,
       "four more asked: the two left");
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 4, 0, &g) == NGX_DECLINED
       && g.taken == 0 && g.wait == T, "then none, for one interval");
    now += 3 * T;
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 10, 0, &g) == NGX_OK
       && g.taken == 3, "three intervals later: three");
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 10, 2, &g) == NGX_OK
       && g.taken == 2, "two given back: two more");
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 1, 0, &g)
       == NGX_DECLINED && tat == now + 6 * T,
       "then refused, and the TAT does not move");
    ok(ngx_http_7digital_gcra_step(&tat, now, &lim, 3, 1, &g) == NGX_OK
       && g.taken == 1 && tat == now + 6 * T,
       "one given back makes room for one");
}


/* a query string and a form body, parsed as the gateway parses them */

static void
query_and_body(const char *query, const char *body, ngx_array_t *q,
    ngx_array_t *b)
{
    ngx_str_t  src;

    ngx_array_init(q, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(b, NULL, 4, sizeof(ngx_http_7digital_param_t));

    src.data = (u_char *) query;
    src.len = strlen(query);
    ngx_http_7digital_parse_params(NULL, &src, q);

    src.data = (u_char *) body;
    src.len = strlen(body);
    ngx_http_7digital_parse_params(NULL, &src, b);
}


static void
test_cd_families(void)
{
    u_char       out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];
    ngx_str_t    uri, src, data, *fields, *bad;
    ngx_str_t    secret = S("choose-digital-test-secret");
    ngx_uint_t   i;
    ngx_array_t  q, b;

    static struct { const char *uri, *query, *body, *data, *sig; }  v[] = {
        { "/music/purchase", "",
          "cdin=CD0001&priceSold=1099&customerId=cust-42"
          "&customerCountryCode=us&taxAmount=0",
          "CD0001cust-42us1099", "IccSiFQo1LDP8t3/DASPCyU46Rw=" },
        { "/audiobook/purchase", "customerCountryCode=us",
          "cdin=CD0001&priceSold=1099&customerId=cust-42",
          "CD0001cust-42us1099", "IccSiFQo1LDP8t3/DASPCyU46Rw=" },
        { "/movie/update", "orderId=ORD-1&customerId=cust-42", "",
          "ORD-1cust-42", "694bevIqiiy+erD+1nzjgkDQcc0=" },
        { "/tv/cancel", "", "customerId=cust-42&orderId=ORD-1",
          "ORD-1cust-42", "694bevIqiiy+erD+1nzjgkDQcc0=" },
        { "/music/resetdownload", "", "orderId=ORD-1&customerId=cust-42",
          "cust-42ORD-1", "ELkEUtEfrS6cTZmC6BVKYcILnm0=" },
        { "/history/all", "", "customerId=cust-42&customerCountryCode=ca",
          "cust-42ca", "HkJxVwE+T+Gmwq0Q0/hOwZbzFGQ=" },
        { "/history/count", "customerId=cust-42&customerCountryCode=ca", "",
          "cust-42ca", "HkJxVwE+T+Gmwq0Q0/hOwZbzFGQ=" },
    };

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uri.data = (u_char *) v[i].uri;
        uri.len = strlen(v[i].uri);

        fields = cd_fields(&uri);
        query_and_body(v[i].query, v[i].body, &q, &b);

        ok(fields != NULL
           && ngx_http_7digital_cd_auth_data(NULL, fields, &q, &b, &data,
                                             &bad)
              == NGX_OK
           && eq(&data, v[i].data), v[i].uri);

        out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN] = '\0';

        ok(ngx_http_7digital_hmac_sha1_base64(&secret, &data, out) == NGX_OK
           && strcmp((char *) out, v[i].sig) == 0,
           "authentication matches openssl");
    }

    uri = (ngx_str_t) S("/music/search");
    ok(cd_fields(&uri) == NULL, "search has no hash");

    uri = (ngx_str_t) S("/foo/history/all");
    ok(cd_fields(&uri) == NULL,
       "history matches the whole path only");

    uri = (ngx_str_t) S("/music/purchase");
    fields = cd_fields(&uri);
    ngx_array_init(&q, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("cdin=1&customerId=2&priceSold=3");
    ngx_http_7digital_parse_params(NULL, &src, &b);

    ok(ngx_http_7digital_cd_auth_data(NULL, fields, &q, &b, &data, &bad)
       == NGX_DECLINED && eq(bad, "customerCountryCode"),
       "a missing field is named");

    src = (ngx_str_t) S("customerCountryCode=us&cdin=9");
    ngx_http_7digital_parse_params(NULL, &src, &q);

    ok(ngx_http_7digital_cd_auth_data(NULL, fields, &q, &b, &data, &bad)
       == NGX_ABORT && eq(bad, "cdin"),
       "a field with two values is named");

    /* found by t/fuzz/fuzz_choose.c (corpus/choose/nul-in-value) */
    ngx_array_init(&q, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("customerCountryCode=us&cdin=1%00a");
    ngx_http_7digital_parse_params(NULL, &src, &q);
    src = (ngx_str_t) S("cdin=1%00b&customerId=2&priceSold=3");
    ngx_http_7digital_parse_params(NULL, &src, &b);

    ok(ngx_http_7digital_cd_auth_data(NULL, fields, &q, &b, &data, &bad)
       == NGX_ABORT && eq(bad, "cdin"),
       "two values that differ after a NUL are two values");

    src = (ngx_str_t) S("cdin");
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_http_7digital_parse_params(NULL, &src, &b);
    src = (ngx_str_t) S("customerCountryCode&customerId&priceSold");
    ngx_http_7digital_parse_params(NULL, &src, &b);
    ngx_array_init(&q, NULL, 4, sizeof(ngx_http_7digital_param_t));

    ok(ngx_http_7digital_cd_auth_data(NULL, fields, &q, &b, &data, &bad)
       == NGX_OK && data.len == 0 && data.data != NULL,
       "fields named without a value hash as empty");
}


static void
test_params(void)
{
    ngx_str_t                   src, dst, name;
    ngx_uint_t                  n;
    ngx_array_t                 a;
    ngx_http_7digital_param_t  *p;

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("a=1&&b=x+y%20z&c&d=&e=%E2%82%AC&a=2");

    ok(ngx_http_7digital_parse_params(NULL, &src, &a) == NGX_OK
       && a.nelts == 6, "empty segments are skipped, the rest kept");

    p = a.elts;
    ok(eq(&p[1].value, "x y z") && eq(&p[1].raw, "b=x+y%20z"),
       "form decoding turns + into a space; raw is kept");
    ok(eq(&p[2].name, "c") && p[2].value.len == 0 && p[2].value.data,
       "a name without =: empty, not NULL");
    ok(eq(&p[3].name, "d") && p[3].value.len == 0, "an empty value");
    ok(eq(&p[4].value, "\xe2\x82\xac"), "UTF-8 is decoded");

    name = (ngx_str_t) S("a");
    ok(ngx_http_7digital_find_param(&a, &name, &n) == &p[0] && n == 2,
       "duplicates are counted");

    ok(ngx_http_7digital_join_params(NULL, &a, NULL, NULL, &dst) == NGX_OK
       && eq(&dst, "a=1&b=x+y%20z&c&d=&e=%E2%82%AC&a=2"),
       "join keeps the wire encoding");

    /* found by t/fuzz/fuzz_params.c (corpus/params/nul-in-name) */
    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("k%00a=1&k%00b=2");
    ngx_http_7digital_parse_params(NULL, &src, &a);
    p = a.elts;
    ok(ngx_http_7digital_find_param(&a, &p[1].name, &n) == &p[1] && n == 1,
       "names that differ after a NUL are two names");

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("a=%zz");
    ok(ngx_http_7digital_parse_params(NULL, &src, &a) == NGX_DECLINED,
       "invalid percent-encoding is refused");

    src = (ngx_str_t) S("a=%4");
    ok(ngx_http_7digital_parse_params(NULL, &src, &a) == NGX_DECLINED,
       "a truncated escape is refused");

    src = (ngx_str_t) S("oauth%5Fconsumer_key=k");
    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_http_7digital_parse_params(NULL, &src, &a);
    p = a.elts;
    ok(ngx_http_7digital_is_oauth_credential(&p[0].name),
       "an encoded credential name is still a credential");

    /* what logs may show of a query string */
    src = (ngx_str_t) S("releaseId=1&country=GB");
    ok(ngx_http_7digital_log_args(NULL, &src, &dst) == NGX_OK
       && dst.data == src.data && dst.len == src.len,
       "log: nothing to leave out, the query itself");
    src = (ngx_str_t) S("oauth_consumer_key=K&releaseId=1&oauth_token=T"
                        "&oauth_signature=S%3D&oauth_nonce=n&x=%zz"
                        "&oauth_verifier=V&authentication=H");
    ok(ngx_http_7digital_log_args(NULL, &src, &dst) == NGX_OK
       && eq(&dst, "releaseId=1&oauth_nonce=n&x=%zz"),
       "log: keys, tokens, signatures, verifiers, hashes left out");
    src = (ngx_str_t) S("oauth%5Fconsumer%5fkey=K&a&&oauth_token&b=2&");
    ok(ngx_http_7digital_log_args(NULL, &src, &dst) == NGX_OK
       && eq(&dst, "a&b=2"), "log: encoded names and names alone too");
    src = (ngx_str_t) S("oauth_consumer_key=K");
    ok(ngx_http_7digital_log_args(NULL, &src, &dst) == NGX_OK
       && dst.len == 0, "log: nothing left");
    src = (ngx_str_t) S("oauth_consumer_keys=K&Oauth_token=T&%=1");
    ok(ngx_http_7digital_log_args(NULL, &src, &dst) == NGX_OK
       && dst.data == src.data,
       "log: other names, even close ones, are kept");
}


/*
 * Text checks: which byte strings are UTF-8 is what Python's
 * bytes.decode("utf-8") says (strict: no overlong form, no surrogate,
 * nothing above U+10FFFF).
 */

static void
test_text(void)
{
    ngx_int_t                   conflict;
    ngx_str_t                   s, name;
    ngx_uint_t                  i, rc;
    ngx_array_t                 q, b;

    static struct { const char *bytes; size_t len; ngx_uint_t want; }  v[] = {
        { "", 0, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "plain", 5, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xe2\x82\xac", 3, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xf0\x9f\x8e\xb5", 4, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "caf\xc3\xa9", 5, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xc2\x80", 2, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xef\xbf\xbf", 3, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xf4\x8f\xbf\xbf", 4, NGX_HTTP_7DIGITAL_TEXT_OK },
        { "\xff", 1, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xc0\xaf", 2, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xc1\xbf", 2, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xe0\x80\xaf", 3, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xed\xa0\x80", 3, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xf4\x90\x80\x80", 4, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xf5\x80\x80\x80", 4, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xc3", 1, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xe2\x82", 2, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xf0\x9f\x8e", 3, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "a\x80" "b", 3, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "\xe2\x28\xa1", 3, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "a\0b", 3, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "a\rb", 3, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "a\nb", 3, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "\t", 1, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "\x1b[31m", 5, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "\x7f", 1, NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "\xff\n", 2, NGX_HTTP_7DIGITAL_TEXT_UTF8 },
    };

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        s.data = (u_char *) v[i].bytes;
        s.len = v[i].len;
        rc = ngx_http_7digital_text_check(&s);

        if (rc != v[i].want) {
            printf("# text %u: got %u, want %u\n", (unsigned) i,
                   (unsigned) rc, (unsigned) v[i].want);
        }

        ok(rc == v[i].want, "text check: control characters and UTF-8");
    }

    /* parameters are checked decoded: names and values, + and %XX alike */
    static struct { const char *src; ngx_uint_t want; }  p[] = {
        { "releaseId=1&q=caf%C3%A9+%E2%82%AC", NGX_HTTP_7DIGITAL_TEXT_OK },
        { "releaseId=1%00", NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "releaseId=1%0D%0AX-Injected:%201", NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "a%0Ab=1", NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "a=1&b=2\n", NGX_HTTP_7DIGITAL_TEXT_CONTROL },
        { "q=%FF", NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "%C0%AF=1", NGX_HTTP_7DIGITAL_TEXT_UTF8 },
        { "q=%ED%A0%80", NGX_HTTP_7DIGITAL_TEXT_UTF8 },
    };

    for (i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        ngx_array_init(&q, NULL, 4, sizeof(ngx_http_7digital_param_t));
        s.data = (u_char *) p[i].src;
        s.len = strlen(p[i].src);
        ok(ngx_http_7digital_parse_params(NULL, &s, &q) == NGX_OK
           && ngx_http_7digital_params_check(&q) == p[i].want, p[i].src);
    }

    ngx_array_init(&q, NULL, 4, sizeof(ngx_http_7digital_param_t));
    s = (ngx_str_t) S("OAuth oauth_consumer_key=\"k\", "
                      "oauth_token=\"t%0D%0Ax\"");
    ok(ngx_http_7digital_parse_authorization(NULL, &s, &q) == NGX_OK
       && ngx_http_7digital_params_check(&q)
          == NGX_HTTP_7DIGITAL_TEXT_CONTROL,
       "OAuth header values are checked decoded too");

    /* a sale's business field with two values, wherever they are */
    static struct { const char *query, *body; ngx_uint_t api;
                    const char *name; }  c[] = {
        { "releaseId=1&releaseId=1", "", NGX_HTTP_7DIGITAL_API_7D, NULL },
        { "releaseId=1", "releaseId=1", NGX_HTTP_7DIGITAL_API_7D, NULL },
        { "password=a&password=b", "", NGX_HTTP_7DIGITAL_API_7D, NULL },
        { "releaseId=1&releaseId=2", "", NGX_HTTP_7DIGITAL_API_7D,
          "releaseId" },
        { "retailPrice=0.99", "retailPrice=99", NGX_HTTP_7DIGITAL_API_7D,
          "retailPrice" },
        { "", "currency=GBP&currency=USD", NGX_HTTP_7DIGITAL_API_7D,
          "currency" },
        { "priceSold=1", "priceSold=100", NGX_HTTP_7DIGITAL_API_CD,
          "priceSold" },
        { "releaseId=1&releaseId=2", "", NGX_HTTP_7DIGITAL_API_CD, NULL },
    };

    for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        query_and_body(c[i].query, c[i].body, &q, &b);

        conflict = ngx_http_7digital_record_conflict(c[i].api, &q, &b,
                                                     &name);
        ok(c[i].name ? conflict == NGX_DECLINED && eq(&name, c[i].name)
                     : conflict == NGX_OK,
           "a sale's field with two values is a conflict, one value twice "
           "is not");
    }
}


static void
test_escape(void)
{
    ngx_str_t  src, dst;

    src = (ngx_str_t) S("a b+c/d=e~f-g_h.i!*'()\xc3\xa9");

    ok(ngx_http_7digital_escape(NULL, &src, &dst) == NGX_OK
       && eq(&dst, "a%20b%2Bc%2Fd%3De~f-g_h.i%21%2A%27%28%29%C3%A9"),
       "RFC 3986 escaping matches Python's quote(safe='~')");

    ok(test_escape_bytes(), "each of the 256 bytes is escaped unless "
       "RFC 3986 lists it unreserved");
}


static int
test_escape_bytes(void)
{
    char        want[4];
    u_char      c;
    ngx_str_t   src, dst;
    ngx_uint_t  i;

    static char  unreserved[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "abcdefghijklmnopqrstuvwxyz0123456789-._~";

    for (i = 0; i < 256; i++) {
        c = (u_char) i;
        src.data = &c;
        src.len = 1;

        if (i && strchr(unreserved, (int) i)) {
            sprintf(want, "%c", (int) i);

        } else {
            sprintf(want, "%%%02X", (unsigned) i);
        }

        if (ngx_http_7digital_escape(NULL, &src, &dst) != NGX_OK
            || !eq(&dst, want))
        {
            printf("# byte %u\n", (unsigned) i);
            return 0;
        }
    }

    return 1;
}


/* the text exposition format's label escapes, seconds and buckets */

static void
test_exposition(void)
{
    u_char      buf[64], *p;
    ngx_str_t   v, out;
    ngx_uint_t  i, ok_all;

    static uint64_t     usec[] = { 250, 500, 1000, 100000, 1000000 };
    static const char  *text[] = { "0.00025", "0.0005", "0.001", "0.1",
                                   "1" };

    v = (ngx_str_t) S("a\"b\\c\nd");

    p = ngx_http_7digital_label_escape(buf, &v);
    out.data = buf;
    out.len = p - buf;

    ok(eq(&out, "a\\\"b\\\\c\\nd"),
       "label values: quote, backslash and line feed escaped");
    ok(ngx_http_7digital_label_len(&v) == out.len,
       "label values: the escaped length is told beforehand");

    v = (ngx_str_t) S("acme-7.digital_x");
    p = ngx_http_7digital_label_escape(buf, &v);
    out.len = p - buf;
    ok(eq(&out, "acme-7.digital_x"), "label values: the rest is kept");

    ok_all = 1;

    for (i = 0; i < sizeof(usec) / sizeof(usec[0]); i++) {
        p = ngx_http_7digital_seconds(buf, usec[i]);
        out.len = p - buf;
        ok_all &= eq(&out, text[i]);
    }

    ok(ok_all, "bucket bounds in seconds, as Python's %g writes them");

    p = ngx_http_7digital_seconds(buf, 1234567);
    out.len = p - buf;
    ok(eq(&out, "1.234567"), "seconds: to the microsecond");

    p = ngx_http_7digital_seconds(buf, 0);
    out.len = p - buf;
    ok(eq(&out, "0"), "seconds: zero");

    ok(ngx_http_7digital_bucket(0) == 0
       && ngx_http_7digital_bucket(250) == 0
       && ngx_http_7digital_bucket(251) == 1
       && ngx_http_7digital_bucket(1000000) == NGX_HTTP_7DIGITAL_BUCKETS - 2
       && ngx_http_7digital_bucket(1000001) == NGX_HTTP_7DIGITAL_BUCKETS - 1,
       "buckets: a bound is in its bucket, past the last is +Inf");

    for (i = 1, ok_all = 1; i < NGX_HTTP_7DIGITAL_BUCKETS - 1; i++) {
        ok_all &= (ngx_http_7digital_buckets[i]
                   > ngx_http_7digital_buckets[i - 1]);
    }

    ok(ok_all, "buckets: bounds in increasing order");
}


static void
test_authorization(void)
{
    ngx_str_t                   v;
    ngx_array_t                 a;
    ngx_http_7digital_param_t  *p;

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    v = (ngx_str_t) S("OAuth realm=\"x\", oauth_consumer_key=\"k%2Fey\","
                      "oauth_signature=\"a%2Bb%3D\"");

    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_OK
       && a.nelts == 2, "OAuth header: realm dropped");

    p = a.elts;
    ok(eq(&p[0].name, "oauth_consumer_key") && eq(&p[0].value, "k/ey")
       && eq(&p[1].value, "a+b="), "OAuth header values are decoded");

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    v = (ngx_str_t) S("oauth_consumer_key=KEY ");
    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_OK
       && eq(&((ngx_http_7digital_param_t *) a.elts)[0].value, "KEY"),
       "the .NET bare header");

    v = (ngx_str_t) S("Basic dXNlcjpwYXNz");
    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_DONE,
       "another scheme is not ours");

    v = (ngx_str_t) S("OAuth oauth_consumer_key=\"unterminated");
    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_DECLINED,
       "an unterminated value is malformed");

    v = (ngx_str_t) S("OAuth oauth_consumer_key=k");
    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_DECLINED,
       "an unquoted value is malformed");

    v = (ngx_str_t) S("OAuthx");
    ok(ngx_http_7digital_parse_authorization(NULL, &v, &a) == NGX_DONE,
       "OAuthx is another scheme");
}


static void
oauth_collect(ngx_array_t *all, const char *query, const char *body,
    const char *header)
{
    ngx_str_t                   src;
    ngx_uint_t                  i;
    ngx_array_t                 a;
    ngx_http_7digital_param_t  *p, *n;

    ngx_array_init(all, NULL, 8, sizeof(ngx_http_7digital_param_t));

    ngx_array_init(&a, NULL, 8, sizeof(ngx_http_7digital_param_t));
    src.data = (u_char *) query;
    src.len = strlen(query);
    ngx_http_7digital_parse_params(NULL, &src, &a);

    src.data = (u_char *) body;
    src.len = strlen(body);
    ngx_http_7digital_parse_params(NULL, &src, &a);

    if (header) {
        src.data = (u_char *) header;
        src.len = strlen(header);
        ngx_http_7digital_parse_authorization(NULL, &src, &a);
    }

    p = a.elts;

    for (i = 0; i < a.nelts; i++) {
        if (p[i].name.len == 15
            && memcmp(p[i].name.data, "oauth_signature", 15) == 0)
        {
            continue;
        }

        n = ngx_array_push(all);
        *n = p[i];
    }
}


/* the base string of params, forward and reversed: one, and in order */

static int
test_oauth_order(ngx_array_t *all)
{
    u_char                     *p, *end;
    ngx_str_t                   m, uri, one, two, pair, last;
    ngx_uint_t                  i, n;
    ngx_array_t                 rev;
    ngx_http_7digital_param_t  *prm, *q;

    m = (ngx_str_t) S("GET");
    uri = (ngx_str_t) S("http://example.com/");
    prm = all->elts;
    n = all->nelts;

    ngx_array_init(&rev, NULL, n, sizeof(ngx_http_7digital_param_t));

    for (i = 0; i < n; i++) {
        q = ngx_array_push(&rev);
        *q = prm[n - 1 - i];
    }

    if (ngx_http_7digital_oauth_base_string(NULL, &m, &uri, all, &one)
        != NGX_OK
        || ngx_http_7digital_oauth_base_string(NULL, &m, &uri, &rev, &two)
           != NGX_OK
        || one.len != two.len || memcmp(one.data, two.data, one.len) != 0)
    {
        return 0;
    }

    /* each "%26"-separated pair no smaller than the one before it */
    end = one.data + one.len;
    p = ngx_strlchr(one.data, end, '&') + 1;
    p = ngx_strlchr(p, end, '&') + 1;
    last.len = 0;

    while (p < end) {
        pair.data = p;

        while (p < end && !(p + 3 <= end && ngx_strncmp(p, "%26", 3) == 0)) {
            p++;
        }

        pair.len = p - pair.data;

        if (last.len && ngx_http_7digital_bytes_cmp(&last, &pair) > 0) {
            return 0;
        }

        last = pair;
        p += 3;
    }

    return 1;
}


static void
test_oauth(void)
{
    u_char       out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];
    ngx_str_t    m, uri, base, scheme, host, path, cs, ts, h;
    ngx_uint_t   i;
    ngx_array_t  all;

    /* RFC 5849 section 3.4.1.1, the request of section 3.4.1 */
    oauth_collect(&all, "b5=%3D%253D&a3=a&c%40=&a2=r%20b", "c2&a3=2+q",
                  "OAuth realm=\"Example\", "
                  "oauth_consumer_key=\"9djdj82h48djs9d2\", "
                  "oauth_token=\"kkk9d7dh3k39sjv7\", "
                  "oauth_signature_method=\"HMAC-SHA1\", "
                  "oauth_timestamp=\"137131201\", "
                  "oauth_nonce=\"7d8f3e4a\", "
                  "oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\"");

    m = (ngx_str_t) S("POST");
    uri = (ngx_str_t) S("http://example.com/request");

    ok(ngx_http_7digital_oauth_base_string(NULL, &m, &uri, &all, &base)
       == NGX_OK
       && eq(&base, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b"
             "%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D"
             "%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2"
             "%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method"
             "%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token"
             "%3Dkkk9d7dh3k39sjv7"),
       "RFC 5849 3.4.1.1 base string");

    /* the same parameters in reverse, and 20 of them (sorted by qsort) */
    ok(test_oauth_order(&all), "a dozen parameters sorted in any order");
    oauth_collect(&all, "z=1&y=2&x=3&w=4&v=5&u=6&t=7&s=8&r=9&q=10&p=11"
                  "&o=12&n=13&m=14&l=15&k=16&j=17&i=18&a=2&a=10", "", NULL);
    ok(test_oauth_order(&all), "twenty parameters sorted in any order");

    /* the photos.example.net example (liboauth's self test, OAuth Core) */
    oauth_collect(&all, "file=vacation.jpg&size=original",
                  "oauth_consumer_key=dpf43f3p2l4k3l03"
                  "&oauth_token=nnch734d00sl2jdk"
                  "&oauth_signature_method=HMAC-SHA1"
                  "&oauth_timestamp=1191242096&oauth_nonce=kllo9940pd9333jh"
                  "&oauth_version=1.0", NULL);

    m = (ngx_str_t) S("GET");
    uri = (ngx_str_t) S("http://photos.example.net/photos");
    cs = (ngx_str_t) S("kd94hf93k423kf44");
    ts = (ngx_str_t) S("pfkkdhi9sl3r4s00");
    out[NGX_HTTP_7DIGITAL_SHA1_B64_LEN] = '\0';

    ok(ngx_http_7digital_oauth_base_string(NULL, &m, &uri, &all, &base)
       == NGX_OK
       && ngx_http_7digital_oauth_sign(NULL, &base, &cs, &ts, out) == NGX_OK
       && strcmp((char *) out, "tR3+Ty81lMeYAr/Fid0kMTYa/WM=") == 0,
       "photos.example.net signature");

    /* Twitter's "Creating a signature" example */
    oauth_collect(&all, "include_entities=true",
                  "status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed"
                  "%20OAuth%20request%21", "OAuth "
                  "oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "
                  "oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", "
                  "oauth_signature_method=\"HMAC-SHA1\", "
                  "oauth_timestamp=\"1318622958\", "
                  "oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS"
                  "9weJAEb\", oauth_version=\"1.0\"");

    m = (ngx_str_t) S("POST");
    uri = (ngx_str_t) S("https://api.twitter.com/1.1/statuses/update.json");
    cs = (ngx_str_t) S("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw");
    ts = (ngx_str_t) S("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE");

    ok(ngx_http_7digital_oauth_base_string(NULL, &m, &uri, &all, &base)
       == NGX_OK
       && ngx_http_7digital_oauth_sign(NULL, &base, &cs, &ts, out) == NGX_OK
       && strcmp((char *) out, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=") == 0,
       "Twitter example signature");

    /* ours: UTF-8, "+" against "%20", reserved characters, an empty
     * value, a duplicate name, a secret with "&", three kinds of port;
     * expected values from oauthlib */
    {
        static struct { const char *scheme; ngx_uint_t port;
                        const char *sig; }  v[] = {
            { "http", 8080, "h8qHt3UK4kxmRbjGMN+fKGJPsa0=" },
            { "https", 443, "HHfHY5nc66BorRRrqBZ7Yi2F51w=" },
            { "HTTP", 80, "JlA7zoRb/5MKK29zapKg6431SJ0=" },
        };

        oauth_collect(&all, "q=caf%C3%A9+%26+%C3%BCber&a=x%2By&a=x+y&e="
                      "&r=!*'()~-._/?:@", "oauth_consumer_key=ck"
                      "&oauth_nonce=n&oauth_timestamp=1"
                      "&oauth_signature_method=HMAC-SHA1&oauth_version=1.0",
                      NULL);

        m = (ngx_str_t) S("get");
        host = (ngx_str_t) S("API.example.com");
        path = (ngx_str_t) S("/1.2/x");
        cs = (ngx_str_t) S("cs&1");
        ts = (ngx_str_t) S("ts");

        for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
            scheme.data = (u_char *) v[i].scheme;
            scheme.len = strlen(v[i].scheme);

            ok(ngx_http_7digital_oauth_base_uri(NULL, &scheme, &host,
                                                v[i].port, &path, &uri)
               == NGX_OK
               && ngx_http_7digital_oauth_base_string(NULL, &m, &uri, &all,
                                                      &base) == NGX_OK
               && ngx_http_7digital_oauth_sign(NULL, &base, &cs, &ts, out)
                  == NGX_OK
               && strcmp((char *) out, v[i].sig) == 0,
               "edge cases match oauthlib (ports 8080, 443, 80)");
        }

        ok(eq(&uri, "http://api.example.com/1.2/x"),
           "scheme and host lower-cased, default port dropped");
    }

    ngx_array_init(&all, NULL, 2, sizeof(ngx_http_7digital_param_t));
    {
        ngx_http_7digital_param_t  *p;

        p = ngx_array_push(&all);
        p->name = (ngx_str_t) S("oauth_consumer_key");
        p->value = (ngx_str_t) S("k y");
        p = ngx_array_push(&all);
        p->name = (ngx_str_t) S("oauth_signature");
        p->value = (ngx_str_t) S("a+b=");
    }

    ok(ngx_http_7digital_oauth_header(NULL, &all, &h) == NGX_OK
       && eq(&h, "OAuth oauth_consumer_key=\"k%20y\", "
                 "oauth_signature=\"a%2Bb%3D\""),
       "Authorization header values are encoded");
}


static void
test_sha256(void)
{
    u_char     out[64];
    ngx_str_t  s = S("cust-42"), o;

    o.data = out;
    o.len = 64;

    ok(ngx_http_7digital_sha256_hex(&s, out) == NGX_OK
       && eq(&o, "8a3c5a67cad508582b5edf6b8352cea3"
                 "ffbad7f44812c1a736b4444c0f5746aa"),
       "hashed customer id matches hashlib.sha256");
}


static void
test_cache_key(void)
{
    ngx_str_t    prefix, api, path, fmt, src, k1, k2, k3;
    ngx_array_t  a, b;

    prefix = (ngx_str_t) S("sevendigital:cache:");
    api = (ngx_str_t) S("7digital");
    path = (ngx_str_t) S("/1.2/release/details");
    fmt = (ngx_str_t) S("xml");

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("releaseId=1&country=GB&oauth_consumer_key=k1"
                        "&oauth_nonce=n1&q=a+b");
    ngx_http_7digital_parse_params(NULL, &src, &a);

    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("q=a%20b&oauth_nonce=n2&country=GB&releaseId=1"
                        "&oauth_consumer_key=k2&oauth_signature=s");
    ngx_http_7digital_parse_params(NULL, &src, &b);

    ok(ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &a,
                                   ngx_http_7digital_is_oauth_param, &k1)
       == NGX_OK
       && ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &b,
                                      ngx_http_7digital_is_oauth_param, &k2)
          == NGX_OK
       && k1.len == prefix.len + 64
       && k1.len == k2.len && memcmp(k1.data, k2.data, k1.len) == 0,
       "order, encoding, credentials and nonces do not change the key");

    fmt = (ngx_str_t) S("json");
    ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &a,
                                ngx_http_7digital_is_oauth_param, &k3);
    ok(memcmp(k1.data, k3.data, k1.len) != 0, "the format changes the key");

    fmt = (ngx_str_t) S("xml");
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("releaseId=1&country=US&q=a+b");
    ngx_http_7digital_parse_params(NULL, &src, &b);
    ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &b,
                                ngx_http_7digital_is_oauth_param, &k3);
    ok(memcmp(k1.data, k3.data, k1.len) != 0, "the country changes the key");

    /* "a=1&b=2" as one value must not collide with two parameters */
    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("a=1%26b%3D2");
    ngx_http_7digital_parse_params(NULL, &src, &a);
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));
    src = (ngx_str_t) S("a=1&b=2");
    ngx_http_7digital_parse_params(NULL, &src, &b);
    ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &a, NULL,
                                &k1);
    ngx_http_7digital_cache_key(NULL, &prefix, &api, &path, &fmt, &b, NULL,
                                &k2);
    ok(memcmp(k1.data, k2.data, k1.len) != 0,
       "an encoded & is not a parameter separator in the key");
}


static void
test_cache_entry(void)
{
    ngx_str_t                        bytes, cut;
    ngx_uint_t                       i, bad;
    ngx_http_7digital_cache_entry_t  e, d;

    ngx_memzero(&e, sizeof(e));
    e.status = 200;
    e.stored = 1795428930;
    e.fresh_until = 1795429230;
    e.stale_until = 1795432530;
    e.generation = 0xcdbc37115309893bULL;
    e.nheaders = 2;
    e.names[0] = (ngx_str_t) S("Content-Type");
    e.values[0] = (ngx_str_t) S("application/xml; charset=utf-8");
    e.names[1] = (ngx_str_t) S("Last-Modified");
    e.values[1] = (ngx_str_t) S("Mon, 23 Nov 2026 10:15:30 GMT");
    e.body = (ngx_str_t) S("<response status=\"ok\"/>\0binary");

    ok(ngx_http_7digital_cache_encode(NULL, &e, &bytes) == NGX_OK
       && ngx_http_7digital_cache_decode(&bytes, &d) == NGX_OK
       && d.status == 200 && d.stored == e.stored
       && d.fresh_until == e.fresh_until && d.stale_until == e.stale_until
       && d.generation == e.generation
       && d.nheaders == 2 && eq(&d.names[1], "Last-Modified")
       && eq(&d.values[0], "application/xml; charset=utf-8")
       && d.body.len == e.body.len
       && memcmp(d.body.data, e.body.data, e.body.len) == 0,
       "an entry survives encoding and decoding, NUL bytes included");

    bad = 0;

    for (i = 0; i < 4 + 2 + 32 + 1 + 2 + 12; i++) {
        cut.data = bytes.data;
        cut.len = i;
        if (ngx_http_7digital_cache_decode(&cut, &d) == NGX_OK) {
            bad++;
        }
    }

    ok(bad == 0, "a truncated entry is refused, never over-read");

    cut = (ngx_str_t) S("not an entry at all, but long enough to look");
    ok(ngx_http_7digital_cache_decode(&cut, &d) == NGX_DECLINED,
       "something else in Redis is refused");

    /* an entry planted by someone who can write to Redis */
    e.values[1] = (ngx_str_t) S("x\r\nSet-Cookie: session=stolen");
    ok(ngx_http_7digital_cache_encode(NULL, &e, &bytes) == NGX_OK
       && ngx_http_7digital_cache_decode(&bytes, &d) == NGX_DECLINED,
       "a header value with CR LF in an entry is refused");

    e.values[1] = (ngx_str_t) S("Mon, 23 Nov 2026 10:15:30 GMT");
    e.names[1] = (ngx_str_t) S("Bad Name:");
    ok(ngx_http_7digital_cache_encode(NULL, &e, &bytes) == NGX_OK
       && ngx_http_7digital_cache_decode(&bytes, &d) == NGX_DECLINED,
       "a header name that is not a token is refused");
}


static ngx_str_t *
scopes(const char *path, const char *query, ngx_uint_t *n)
{
    ngx_str_t    api = S("7digital"), p, q;
    ngx_array_t  params, keys;

    p.data = (u_char *) path;
    p.len = strlen(path);
    q.data = (u_char *) query;
    q.len = strlen(query);

    ngx_array_init(&params, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&keys, NULL, 4, sizeof(ngx_str_t));

    if (ngx_http_7digital_parse_params(NULL, &q, &params) != NGX_OK
        || ngx_http_7digital_cache_scopes(NULL, &api, &p, &params, &keys)
           != NGX_OK)
    {
        *n = 0;
        return NULL;
    }

    *n = keys.nelts;

    return keys.elts;
}


static void
test_cache_scopes(void)
{
    u_char      long_path[400];
    ngx_str_t  *k, path, scope;
    ngx_uint_t  n;

    k = scopes("/1.2/artist/details", "shopId=34&q=x&country=GB", &n);

    ok(n == 12 && eq(&k[0], "sevendigital:gen:7digital:")
       && eq(&k[1], "sevendigital:gen:7digital:?country=GB")
       && eq(&k[2], "sevendigital:gen:7digital:?shopId=34")
       && eq(&k[3], "sevendigital:gen:7digital:/1.2")
       && eq(&k[6], "sevendigital:gen:7digital:/1.2/artist")
       && eq(&k[11],
             "sevendigital:gen:7digital:/1.2/artist/details?shopId=34"),
       "a request's purge scopes: root and each path prefix, each alone "
       "and with each scope parameter");

    k = scopes("/music/list/top/us/extra/more", "tenantId=a%20b&country=x"
               "&country=y&country=", &n);

    ok(n == 5 * 3 && eq(&k[14],
             "sevendigital:gen:7digital:/music/list/top/us?tenantId=a%20b")
       && eq(&k[13], "sevendigital:gen:7digital:/music/list/top/us?country=x"),
       "four path segments at most; values encoded; the first value only");

    ngx_memset(long_path, 'a', sizeof(long_path));
    long_path[0] = '/';
    long_path[5] = '/';
    long_path[sizeof(long_path) - 1] = '\0';

    k = scopes((char *) long_path, "", &n);
    ok(n == 2 && k[1].len == sizeof("sevendigital:gen:7digital:/aaaa") - 1,
       "a prefix longer than 256 bytes is not a scope");

    path = (ngx_str_t) S("/1.2/artist/*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_OK
       && eq(&scope, "/1.2/artist"),
       "a purge prefix names the same scope as the lookups");

    path = (ngx_str_t) S("/*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_OK
       && scope.len == 0, "\"/*\" is the API's root");

    path = (ngx_str_t) S("/1.2//*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_OK
       && eq(&scope, "/1.2"), "repeated slashes before the star are one");

    path = (ngx_str_t) S("/1.2/artist/details");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_DECLINED,
       "a path without a star is one resource");

    path = (ngx_str_t) S("/1.2/art*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_ERROR,
       "a star inside a segment is refused");

    path = (ngx_str_t) S("/a/b/c/d/*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_OK,
       "four segments are a scope");

    path = (ngx_str_t) S("/a/b/c/d/e/*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_ERROR,
       "five segments are refused");

    path = (ngx_str_t) S("/a/*/c/*");
    ok(ngx_http_7digital_cache_purge_scope(&path, &scope) == NGX_ERROR,
       "a star before the end is refused");
}


static void
test_cache_generation(void)
{
    uint64_t   g1, g2;
    ngx_str_t  v[4];

    ngx_memzero(v, sizeof(v));

    ok(ngx_http_7digital_cache_generation(NULL, v, 4, &g1) == NGX_OK
       && g1 == 0, "never purged: generation 0");

    v[2] = (ngx_str_t) S("3");

    /* python3: hashlib.sha256(b"\n\n3\n\n").hexdigest()[:16] */
    ok(ngx_http_7digital_cache_generation(NULL, v, 4, &g1) == NGX_OK
       && g1 == 0xcdbc37115309893bULL,
       "the generation digests every scope's value");

    v[2] = (ngx_str_t) S("4");
    ngx_http_7digital_cache_generation(NULL, v, 4, &g2);
    ok(g1 != g2, "a purge changes it");
}


/*
 * nginx's unset strings are NULL with length 0 (no query string, no token
 * secret on a 2-legged call, no user token): each function takes one as
 * "".  Built with UBSan (make unit), memcpy() given NULL or arithmetic on
 * NULL fails here; found by make asan.
 */

static void
test_unset_strings(void)
{
    u_char       sig1[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    u_char       sig2[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];
    u_char       fp1[64], fp2[64];
    ngx_str_t    unset, empty, dst, base, secret, key, method, path;
    ngx_array_t  a, b;

    ngx_str_null(&unset);
    empty = (ngx_str_t) S("");
    base = (ngx_str_t) S("GET&http%3A%2F%2Fapi.7digital.com%2F1.2%2Fx&");
    secret = (ngx_str_t) S("consumer-secret");
    key = (ngx_str_t) S("gateway-secret");
    method = (ngx_str_t) S("GET");
    path = (ngx_str_t) S("user/deliveritem");

    ngx_array_init(&a, NULL, 4, sizeof(ngx_http_7digital_param_t));
    ngx_array_init(&b, NULL, 4, sizeof(ngx_http_7digital_param_t));

    ok(ngx_http_7digital_parse_params(NULL, &unset, &a) == NGX_OK
       && a.nelts == 0, "no query string: no parameters");

    ok(ngx_http_7digital_escape(NULL, &unset, &dst) == NGX_OK
       && dst.len == 0, "an unset string escapes to nothing");

    ok(ngx_http_7digital_oauth_sign(NULL, &base, &secret, &unset, sig1)
       == NGX_OK
       && ngx_http_7digital_oauth_sign(NULL, &base, &secret, &empty, sig2)
          == NGX_OK
       && memcmp(sig1, sig2, sizeof(sig1)) == 0,
       "2-legged: an unset token secret signs as an empty one");

    ok(ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path,
                                          &unset, &a, &b, fp1) == NGX_OK
       && ngx_http_7digital_idem_fingerprint(NULL, &key, &method, &path,
                                             &empty, &a, &b, fp2) == NGX_OK
       && memcmp(fp1, fp2, 64) == 0,
       "no user token: the fingerprint of an empty one");
}


/* found by t/fuzz/fuzz_partners.c: an error message is always a string */

static void
test_partners(void)
{
    int                            fd;
    char                           err[64];
    char                           path[] = "/tmp/unit-partners-XXXXXX";
    size_t                         i;
    ngx_str_t                      file;
    ngx_http_7digital_registry_t  *reg;

    static char  json[] = "{\"partners\": [{\"id\": \"a\", \"key\": \"k\", "
                          "\"a-member-whose-name-is-longer-than-the-message"
                          "-buffer\": 1}]}";

    fd = mkstemp(path);
    if (fd == -1 || write(fd, json, sizeof(json) - 1) != sizeof(json) - 1) {
        ok(0, "a partners file");
        return;
    }

    close(fd);

    file.data = (u_char *) path;
    file.len = strlen(path);

    for (i = 1; i <= sizeof(err); i *= 2) {
        memset(err, 'x', sizeof(err));
        reg = ngx_http_7digital_registry_load(NULL, NULL, &file, err, i);

        if (reg != NULL || err[i - 1] != '\0') {
            break;
        }
    }

    ok(i > sizeof(err), "an error message cut short still ends");
    ok(strncmp(err, "partner #1 has an unknown member \"a-member", 42) == 0,
       "the unknown member is named");

    unlink(path);
}


int
main(void)
{
    test_cache_scopes();
    test_cache_generation();
    test_cd_date_hmac();
    test_hmac_keyed();
    test_nonce();
    test_siphash();
    test_cd_parse_date();
    test_cd_date_format();
    test_cd_families();
    test_endpoints();
    test_records();
    test_gcra();
    test_params();
    test_text();
    test_escape();
    test_exposition();
    test_authorization();
    test_sha256();
    test_oauth();
    test_cache_key();
    test_cache_entry();
    test_partners();
    test_unset_strings();

    shim_reset();

    printf("1..%d\n", tests);

    return failures ? 1 : 0;
}
