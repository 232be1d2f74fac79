
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * Each API's endpoints, and the matcher that finds a request's endpoint:
 * how 7digital expects it signed, whether its answers are public
 * catalogue data, one user's, or a sale, which Choose Digital fields its
 * "authentication" hash signs.  Sources: shared/reference/upstream-apis.md
 * sections 1.1, 1.5, 2.1, 2.2 and 3 (the official clients' schemas).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_7digital_pure.h"


#define NGX_HTTP_7DIGITAL_M_READ   (NGX_HTTP_7DIGITAL_M_GET                  \
                                    |NGX_HTTP_7DIGITAL_M_HEAD)
#define NGX_HTTP_7DIGITAL_M_ANY    0xff

#define CATALOGUE  NGX_HTTP_7DIGITAL_CLASS_CATALOGUE
#define USER       NGX_HTTP_7DIGITAL_CLASS_USER
#define PURCHASE   NGX_HTTP_7DIGITAL_CLASS_PURCHASE

#define UNSIGNED   NGX_HTTP_7DIGITAL_SIGN_OFF
#define TWO        NGX_HTTP_7DIGITAL_SIGN_2LEGGED
#define THREE      NGX_HTTP_7DIGITAL_SIGN_3LEGGED

#define READ       NGX_HTTP_7DIGITAL_M_READ
#define POST       NGX_HTTP_7DIGITAL_M_POST
#define PUT        NGX_HTTP_7DIGITAL_M_PUT
#define DELETE     NGX_HTTP_7DIGITAL_M_DELETE
#define ANY        NGX_HTTP_7DIGITAL_M_ANY

/* flags */
#define SIGNED     0x01     /* a partner key alone is not enough */
#define XML        0x02     /* answers in XML only, errors too */
#define ID         0x04     /* a completed sale's answer names its id */
#define REQTOKEN   0x08     /* issues a request token */
#define ACCTOKEN   0x10     /* issues an access token */


static ngx_str_t  ngx_http_7digital_cd_purchase_fields[] = {
    ngx_string("cdin"),
    ngx_string("customerId"),
    ngx_string("customerCountryCode"),
    ngx_string("priceSold"),
    ngx_null_string
};

/* the specification writes "userId"; the parameter sent is customerId */
static ngx_str_t  ngx_http_7digital_cd_order_fields[] = {
    ngx_string("orderId"),
    ngx_string("customerId"),
    ngx_null_string
};

/* reset download takes the same two fields in the other order */
static ngx_str_t  ngx_http_7digital_cd_reset_fields[] = {
    ngx_string("customerId"),
    ngx_string("orderId"),
    ngx_null_string
};

static ngx_str_t  ngx_http_7digital_cd_history_fields[] = {
    ngx_string("customerId"),
    ngx_string("customerCountryCode"),
    ngx_null_string
};


#define E(pattern, methods, sign, class, flags, hash)                         \
    { ngx_string(pattern), methods, sign, class, hash,                        \
      ((flags) & SIGNED) != 0, ((flags) & XML) != 0, ((flags) & ID) != 0,     \
      ((flags) & REQTOKEN) ? NGX_HTTP_7DIGITAL_TOKENS_REQUEST                 \
      : ((flags) & ACCTOKEN) ? NGX_HTTP_7DIGITAL_TOKENS_ACCESS : 0, 0, 0, 0 }


/*
 * 7digital v1.2, relative to "/1.2/".  Unsigned calls are the schema's
 * "global" ones; GET calls that change a basket are recorded as
 * purchases, as are card changes; refunds are the seed's DELETE paths.
 */

static ngx_http_7digital_endpoint_t  ngx_http_7digital_7d_endpoints[] = {

    E("release/byDate", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/details", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/details/batch", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/editorial", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/chart", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/recommend", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/search", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/tracks", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/tags", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/bytag/new", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/bytag/top", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("release/match/byId", READ, TWO, CATALOGUE, 0, NULL),

    E("artist/browse", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/chart", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/details", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/releases", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/similar", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/search", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/topTracks", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/tags", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/bytag/top", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("artist/match/byId", READ, TWO, CATALOGUE, 0, NULL),

    E("track/chart", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("track/details", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("track/details/batch", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("track/search", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("track/match/byId", READ, TWO, CATALOGUE, 0, NULL),

    E("tag", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("tag/related", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("countries", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("translations", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("country/resolve", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("country/georestrictions/checkout", READ, UNSIGNED, USER, 0, NULL),
    E("editorial/list", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("catalogue/artist-byurl", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("catalogue/release-byurl", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("payment/card/type", READ, UNSIGNED, CATALOGUE, 0, NULL),
    E("status", READ, UNSIGNED, USER, 0, NULL),

    E("basket", READ, UNSIGNED, USER, 0, NULL),
    E("basket/paypalurl", READ, UNSIGNED, USER, 0, NULL),
    E("basket/create", READ, UNSIGNED, PURCHASE, 0, NULL),
    E("basket/addItem", READ, UNSIGNED, PURCHASE, 0, NULL),
    E("basket/removeItem", READ, UNSIGNED, PURCHASE, 0, NULL),
    E("basket/applyVoucher", POST, TWO, PURCHASE, SIGNED, NULL),
    E("basket/addpriceditem", READ, TWO, PURCHASE, SIGNED, NULL),
    E("basket/completepaypalpurchase", POST, THREE, PURCHASE, ID, NULL),

    E("user/unlimitedStreaming", READ, THREE, USER, 0, NULL),
    E("user/unlimitedStreaming", POST, TWO, USER, SIGNED, NULL),
    E("user/locker", READ, THREE, USER, 0, NULL),
    E("user/purchase/item", READ, THREE, PURCHASE, ID, NULL),
    E("user/purchase/rrpitem", READ, THREE, PURCHASE, ID, NULL),
    E("user/purchase/basket", READ, THREE, PURCHASE, ID, NULL),
    E("user/purchase/priceditem", READ, THREE, PURCHASE, ID, NULL),
    E("user/purchase/:purchaseId/track/:trackId", DELETE, THREE, PURCHASE,
      0, NULL),
    E("user/purchase/:purchaseId/release/:releaseId", DELETE, THREE,
      PURCHASE, 0, NULL),
    E("user/deliveritem", READ, THREE, PURCHASE, XML|ID, NULL),
    E("user/payment/card", READ, THREE, USER, 0, NULL),
    E("user/payment/card/add", POST, THREE, PURCHASE, 0, NULL),
    E("user/payment/card/select", POST, THREE, PURCHASE, 0, NULL),
    E("user/payment/card/delete", POST, THREE, PURCHASE, 0, NULL),
    E("user/payment/cardregistration", POST, THREE, PURCHASE, 0, NULL),
    E("user/payment/cardregistration/:id", READ, THREE, USER, 0, NULL),
    E("user/playlists", ANY, THREE, USER, 0, NULL),
    E("user/signup", POST, TWO, USER, SIGNED, NULL),
    E("user/create", READ, TWO, USER, SIGNED, NULL),
    E("user/details", READ, TWO, USER, SIGNED, NULL),
    E("user/authenticate", POST, TWO, USER, SIGNED, NULL),
    E("users", READ, TWO, USER, SIGNED, NULL),
    E("users/:id/update", PUT, THREE, USER, 0, NULL),
    E("payment/voucher/details", READ, TWO, USER, SIGNED, NULL),
    E("playlists", ANY, THREE, USER, 0, NULL),
    E("playlists/*", ANY, THREE, USER, 0, NULL),

    /* what the official clients do not list under the same roots: sales */
    E("user/purchase/*", ANY, THREE, PURCHASE, 0, NULL),
    E("user/payment/*", ANY, THREE, PURCHASE, 0, NULL),
    E("basket/*", ANY, TWO, PURCHASE, SIGNED, NULL),

    E("oauth/requesttoken", ANY, TWO, USER, REQTOKEN, NULL),
    E("oauth/accesstoken", ANY, THREE, USER, ACCTOKEN, NULL),
    E("oauth/requestToken/authorise", READ, TWO, USER, SIGNED, NULL),

    E("", 0, 0, 0, 0, NULL)
};


/*
 * Choose Digital; every call is header-signed, "sign" is unused.  The
 * service checks are not cached: they exist to test authentication.
 * Download and player links expire within minutes and are never cached.
 */

static ngx_http_7digital_endpoint_t  ngx_http_7digital_cd_endpoints[] = {

    E("music|movie|tv|ebook|audiobook", READ, 0, USER, 0, NULL),

    E("music/artist/*", READ, 0, CATALOGUE, 0, NULL),
    E("music/list/:listId/:country", READ, 0, CATALOGUE, 0, NULL),
    E("music/curatedgenres", READ, 0, CATALOGUE, 0, NULL),
    E("music/genres", READ, 0, CATALOGUE, 0, NULL),
    E("music/curatedcharts/:country", READ, 0, CATALOGUE, 0, NULL),
    E("music/search", READ, 0, CATALOGUE, 0, NULL),
    E("music/detail/:cdin", READ, 0, CATALOGUE, 0, NULL),
    E("music/isrc/:isrc/:country", READ, 0, CATALOGUE, 0, NULL),

    E("movie/browse/:country", READ, 0, CATALOGUE, 0, NULL),
    E("movie/list/:listId/:country", READ, 0, CATALOGUE, 0, NULL),
    E("movie/genres", READ, 0, CATALOGUE, 0, NULL),
    E("movie/search", READ, 0, CATALOGUE, 0, NULL),
    E("movie/videotest", READ, 0, CATALOGUE, 0, NULL),
    E("movie/detail/:cdin", READ, 0, CATALOGUE, 0, NULL),
    E("movie/curatedcharts/:country", READ, 0, CATALOGUE, 0, NULL),

    E("tv/list/top/:country", READ, 0, CATALOGUE, 0, NULL),
    E("tv/search", READ, 0, CATALOGUE, 0, NULL),
    E("tv/videotest", READ, 0, CATALOGUE, 0, NULL),
    E("tv/detail/:cdin/:country", READ, 0, CATALOGUE, 0, NULL),
    E("tv/genres", READ, 0, CATALOGUE, 0, NULL),

    E("ebook|audiobook/subjects", READ, 0, CATALOGUE, 0, NULL),
    E("ebook|audiobook/languages", READ, 0, CATALOGUE, 0, NULL),
    E("ebook|audiobook/list/:listId/:country", READ, 0, CATALOGUE, 0,
      NULL),
    E("ebook|audiobook/search", READ, 0, CATALOGUE, 0, NULL),
    E("ebook|audiobook/detail/:cdin/:country", READ, 0, CATALOGUE, 0,
      NULL),
    E("ebook|audiobook/curatedcharts/:country", READ, 0, CATALOGUE, 0,
      NULL),
    E("ebook/taxcalc", POST, 0, USER, 0, NULL),
    E("ebook/addressvalidation", POST, 0, USER, 0, NULL),

    E("music|ebook|audiobook/download/*", READ, 0, USER, 0, NULL),
    E("movie|tv/playerinfo/*", READ, 0, USER, 0, NULL),

    E("music|movie|tv|ebook|audiobook/purchase", POST, 0, PURCHASE, ID,
      ngx_http_7digital_cd_purchase_fields),
    E("music|movie|tv|ebook|audiobook/update", ANY, 0, PURCHASE, 0,
      ngx_http_7digital_cd_order_fields),
    E("music|movie|tv|ebook|audiobook/cancel", ANY, 0, PURCHASE, 0,
      ngx_http_7digital_cd_order_fields),
    E("music/resetdownload", ANY, 0, PURCHASE, 0,
      ngx_http_7digital_cd_reset_fields),

    E("history/all", POST, 0, USER, 0, ngx_http_7digital_cd_history_fields),
    E("history/count", POST, 0, USER, 0,
      ngx_http_7digital_cd_history_fields),

    E("videoplayer/start", PUT, 0, USER, 0, NULL),
    E("promo/lists/ids/:country", READ, 0, CATALOGUE, 0, NULL),
    E("promo/lists/:name/:country/:rows", READ, 0, CATALOGUE, 0, NULL),

    E("", 0, 0, 0, 0, NULL)
};


/*
 * What a path of neither table gets: passed on, never cached, never
 * taken for a sale; on 7digital signed 2-legged, which every endpoint
 * accepts, so that a call the table does not know still authenticates,
 * but only for a partner that signed it: the gateway's secret is not lent
 * to any path on a key's word.  A path the operator declared with
 * sevendigital_endpoint is the operator's to vouch for.
 */

static ngx_http_7digital_endpoint_t  ngx_http_7digital_7d_unknown =
    { ngx_string("(unknown)"), ANY, TWO, USER, NULL, 1, 0, 0, 0, 1, 0, 0 };

static ngx_http_7digital_endpoint_t  ngx_http_7digital_cd_unknown =
    { ngx_string("(unknown)"), ANY, 0, USER, NULL, 0, 0, 0, 0, 1, 0, 0 };

static ngx_http_7digital_endpoint_t  ngx_http_7digital_declared =
    { ngx_string("(declared)"), ANY, TWO, USER, NULL, 0, 0, 0, 0, 1, 0, 0 };


static ngx_int_t ngx_http_7digital_endpoint_fits(ngx_str_t *pattern,
    ngx_str_t *path, ngx_http_7digital_route_t *route);
static void ngx_http_7digital_endpoint_runs(
    ngx_http_7digital_endpoint_t *table);
static size_t ngx_http_7digital_endpoint_head(ngx_str_t *pattern);
static ngx_uint_t ngx_http_7digital_segment_fits(u_char *pat, size_t plen,
    u_char *seg, size_t slen);


static struct {
    ngx_str_t   name;
    ngx_uint_t  bit;
} ngx_http_7digital_methods[] = {
    { ngx_string("GET"), NGX_HTTP_7DIGITAL_M_GET },
    { ngx_string("HEAD"), NGX_HTTP_7DIGITAL_M_HEAD },
    { ngx_string("POST"), NGX_HTTP_7DIGITAL_M_POST },
    { ngx_string("PUT"), NGX_HTTP_7DIGITAL_M_PUT },
    { ngx_string("DELETE"), NGX_HTTP_7DIGITAL_M_DELETE },
    { ngx_string("PATCH"), NGX_HTTP_7DIGITAL_M_PATCH },
    { ngx_null_string, 0 }
};


/* the endpoint classes by value, as directives and partners name them */

ngx_str_t  ngx_http_7digital_class_names[] = {
    ngx_string("auto"),
    ngx_string("catalogue"),
    ngx_string("user"),
    ngx_string("purchase"),
    ngx_null_string
};


/* a class by its name; NGX_HTTP_7DIGITAL_CLASS_AUTO for none */

ngx_uint_t
ngx_http_7digital_class(u_char *name, size_t len)
{
    ngx_uint_t  c;

    for (c = NGX_HTTP_7DIGITAL_CLASS_CATALOGUE;
         ngx_http_7digital_class_names[c].len;
         c++)
    {
        if (ngx_http_7digital_class_names[c].len == len
            && ngx_strncmp(ngx_http_7digital_class_names[c].data, name, len)
               == 0)
        {
            return c;
        }
    }

    return NGX_HTTP_7DIGITAL_CLASS_AUTO;
}


ngx_uint_t
ngx_http_7digital_method_bit(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_7digital_methods[i].name.len; i++) {
        if (ngx_http_7digital_methods[i].name.len == name->len
            && ngx_strncmp(ngx_http_7digital_methods[i].name.data,
                           name->data, name->len)
               == 0)
        {
            return ngx_http_7digital_methods[i].bit;
        }
    }

    return NGX_HTTP_7DIGITAL_M_OTHER;
}


/*
 * The path as the API routes it: empty segments ("//") and a trailing
 * slash dropped, and on 7digital the "1.2" version segment too, with
 * whatever came before it.  Case is
 * kept; matching ignores it, as 7digital's routing does.
 */

ngx_int_t
ngx_http_7digital_endpoint_path(ngx_pool_t *pool, ngx_uint_t api,
    ngx_str_t *uri, ngx_str_t *path)
{
    u_char      *p, *end, *start, *dst;
    ngx_uint_t   versioned;

    versioned = 0;

    dst = ngx_pnalloc(pool, uri->len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    path->data = dst;
    p = uri->data;
    end = p + uri->len;

    while (p < end) {
        while (p < end && *p == '/') {
            p++;
        }

        start = p;

        while (p < end && *p != '/') {
            p++;
        }

        if (p == start) {
            break;
        }

        /* a location's own prefix ("/gw/1.2/...") goes with the version */
        if (api == NGX_HTTP_7DIGITAL_API_7D && !versioned
            && p - start == 3 && ngx_strncmp(start, "1.2", 3) == 0)
        {
            versioned = 1;
            dst = path->data;
            continue;
        }

        if (dst != path->data) {
            *dst++ = '/';
        }

        dst = ngx_cpymem(dst, start, p - start);
    }

    path->len = dst - path->data;

    return NGX_OK;
}


/*
 * The endpoint of a normalised path and a method.  A path the table knows
 * under another method keeps the class of its first entry, so that a sale
 * sent with an unexpected method is still recorded as one.
 */

void
ngx_http_7digital_endpoint_match(ngx_uint_t api, ngx_str_t *path,
    ngx_uint_t method, ngx_array_t *overrides,
    ngx_http_7digital_route_t *route)
{
    size_t                         head;
    ngx_int_t                      rc;
    ngx_uint_t                     i;
    ngx_http_7digital_route_t      other, scratch;
    ngx_http_7digital_endpoint_t  *e, *fallback;
    ngx_http_7digital_override_t  *o;

    e = ngx_http_7digital_endpoints(api);
    fallback = NULL;
    other.nparams = 0;

    if (e->run == 0) {
        ngx_http_7digital_endpoint_runs(e);
    }

    head = ngx_http_7digital_endpoint_head(path);

    for ( /* void */ ; e->pattern.len; e++) {
        route->nparams = 0;

        /* a literal first segment of another length, and its run */
        rc = (e->head && e->head != head)
             ? NGX_ABORT
             : ngx_http_7digital_endpoint_fits(&e->pattern, path, route);

        if (rc == NGX_ABORT) {
            /* the first segment differs: so does the rest of its run */
            e += e->run - 1;
            continue;
        }

        if (rc != NGX_OK) {
            continue;
        }

        if (e->methods & method) {
            fallback = e;
            other = *route;
            break;
        }

        if (fallback == NULL) {
            fallback = e;
            other = *route;
        }
    }

    if (fallback) {
        *route = other;
        route->endpoint = fallback;

    } else {
        route->nparams = 0;
        route->endpoint = (api == NGX_HTTP_7DIGITAL_API_CD)
                          ? &ngx_http_7digital_cd_unknown
                          : &ngx_http_7digital_7d_unknown;
    }

    route->class = route->endpoint->class;
    route->sign = route->endpoint->sign;

    if (overrides == NULL) {
        return;
    }

    /* the operator's word over the table's; the first that fits */
    o = overrides->elts;

    for (i = 0; i < overrides->nelts; i++) {
        scratch.nparams = 0;

        if (ngx_http_7digital_endpoint_fits(&o[i].pattern, path, &scratch)
            == NGX_OK)
        {
            if (route->endpoint->unknown) {
                route->endpoint = &ngx_http_7digital_declared;
            }

            route->class = o[i].class;
            route->sign = o[i].sign;
            return;
        }
    }
}


/* an operator's pattern: segments, ":name" or a final "*" */

ngx_int_t
ngx_http_7digital_endpoint_pattern(ngx_str_t *pattern)
{
    u_char  *p, *end, *seg;

    p = pattern->data;
    end = p + pattern->len;

    if (pattern->len == 0 || *p == '/' || end[-1] == '/') {
        return NGX_ERROR;
    }

    while (p < end) {
        seg = p;
        while (p < end && *p != '/') {
            if (*p <= ' ' || *p == 0x7f) {
                return NGX_ERROR;
            }
            p++;
        }

        if (p == seg
            || (*seg == ':' && p - seg < 2)
            || (*seg == '*' && (p - seg != 1 || p != end)))
        {
            return NGX_ERROR;
        }

        if (p < end) {
            p++;
        }
    }

    return NGX_OK;
}


/*
 * Each pattern segment against a path segment; a final "*" takes the
 * rest.  NGX_ABORT: the first segment, a literal, is not the path's.
 */

static ngx_int_t
ngx_http_7digital_endpoint_fits(ngx_str_t *pattern, ngx_str_t *path,
    ngx_http_7digital_route_t *route)
{
    u_char      *p, *pend, *s, *send, *pseg, *sseg;
    size_t       plen;
    ngx_uint_t   first;

    pseg = NULL;
    p = pattern->data;
    pend = p + pattern->len;
    s = path->data;
    send = s + path->len;

    while (p < pend) {
        first = (pseg == NULL);
        pseg = p;
        while (p < pend && *p != '/') {
            p++;
        }

        plen = p - pseg;

        if (s >= send) {
            return first ? NGX_ABORT : NGX_DECLINED;
        }

        sseg = s;
        while (s < send && *s != '/') {
            s++;
        }

        if (plen == 1 && pseg[0] == '*') {
            return NGX_OK;
        }

        if (pseg[0] == ':') {
            if (route->nparams < NGX_HTTP_7DIGITAL_ROUTE_PARAMS) {
                route->params[route->nparams].name.data = pseg + 1;
                route->params[route->nparams].name.len = plen - 1;
                route->params[route->nparams].value.data = sseg;
                route->params[route->nparams].value.len = s - sseg;
                route->nparams++;
            }

        } else if (!ngx_http_7digital_segment_fits(pseg, plen, sseg,
                                                   s - sseg))
        {
            return first ? NGX_ABORT : NGX_DECLINED;
        }

        if (p < pend) {
            p++;
        }

        if (s < send) {
            s++;
        }
    }

    return (s >= send) ? NGX_OK : NGX_DECLINED;
}


/*
 * Each entry's run: how many entries from it on share its literal first
 * segment ("release/..."), which a table lists together; and that
 * segment's length when it has no alternatives.  Computed once per
 * process, the first time the table is used.
 */

static void
ngx_http_7digital_endpoint_runs(ngx_http_7digital_endpoint_t *table)
{
    size_t                         len;
    ngx_uint_t                     i, n;
    ngx_http_7digital_endpoint_t  *e;

    for (n = 0; table[n].pattern.len; n++) { /* void */ }

    /* from the last entry back, so that the next one's run is known */
    for (i = n; i-- > 0; /* void */ ) {
        e = &table[i];
        len = ngx_http_7digital_endpoint_head(&e->pattern);
        e->run = 1;

        if (len < 256 && e->pattern.data[0] != ':'
            && e->pattern.data[0] != '*'
            && ngx_strlchr(e->pattern.data, e->pattern.data + len, '|')
               == NULL)
        {
            e->head = len;
        }

        if (i + 1 < n
            && e->pattern.data[0] != ':' && e->pattern.data[0] != '*'
            && e[1].run < 255
            && ngx_http_7digital_endpoint_head(&e[1].pattern) == len
            && ngx_strncmp(e->pattern.data, e[1].pattern.data, len) == 0)
        {
            e->run = e[1].run + 1;
        }
    }
}


static size_t
ngx_http_7digital_endpoint_head(ngx_str_t *pattern)
{
    u_char  *slash;

    slash = ngx_strlchr(pattern->data, pattern->data + pattern->len, '/');

    return (slash ? slash : pattern->data + pattern->len) - pattern->data;
}


/* a literal segment, or alternatives "music|movie", ignoring case */

static ngx_uint_t
ngx_http_7digital_segment_fits(u_char *pat, size_t plen, u_char *seg,
    size_t slen)
{
    u_char  *end, *alt;

    end = pat + plen;

    while (pat < end) {
        alt = pat;
        while (pat < end && *pat != '|') {
            pat++;
        }

        if ((size_t) (pat - alt) == slen
            && ngx_strncasecmp(alt, seg, slen) == 0)
        {
            return 1;
        }

        pat++;
    }

    return 0;
}


ngx_http_7digital_endpoint_t *
ngx_http_7digital_endpoints(ngx_uint_t api)
{
    return (api == NGX_HTTP_7DIGITAL_API_CD) ? ngx_http_7digital_cd_endpoints
                                             : ngx_http_7digital_7d_endpoints;
}


/*
 * The endpoint's name for logs and records: its pattern, with a segment
 * of alternatives ("music|movie") replaced by the one the path took.
 */

ngx_int_t
ngx_http_7digital_endpoint_name(ngx_pool_t *pool,
    ngx_http_7digital_route_t *route, ngx_str_t *path, ngx_str_t *name)
{
    u_char     *p, *pend, *s, *send, *seg, *sseg, *dst;
    ngx_str_t  *pattern;

    pattern = &route->endpoint->pattern;

    if (ngx_strlchr(pattern->data, pattern->data + pattern->len, '|')
        == NULL)
    {
        *name = *pattern;
        return NGX_OK;
    }

    dst = ngx_pnalloc(pool, pattern->len + path->len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    name->data = dst;
    p = pattern->data;
    pend = p + pattern->len;
    s = path->data;
    send = s + path->len;

    while (p < pend) {
        seg = p;
        while (p < pend && *p != '/') {
            p++;
        }

        sseg = s;
        while (s < send && *s != '/') {
            s++;
        }

        if (ngx_strlchr(seg, p, '|')) {
            while (sseg < s) {
                *dst++ = ngx_tolower(*sseg);
                sseg++;
            }

        } else {
            dst = ngx_cpymem(dst, seg, p - seg);
        }

        if (p < pend) {
            *dst++ = *p++;
        }

        if (s < send) {
            s++;
        }
    }

    name->len = dst - name->data;

    return NGX_OK;
}
