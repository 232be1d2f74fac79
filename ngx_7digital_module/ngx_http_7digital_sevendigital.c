
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * The 7digital API v1.2 side of the gateway: where its clients put the
 * consumer key, and what the upstream must receive instead.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_7digital_module.h"


static ngx_int_t ngx_http_7digital_7d_key(ngx_array_t *params,
    ngx_str_t *key, ngx_uint_t *found);
static ngx_uint_t ngx_http_7digital_7d_half_signed(ngx_array_t *params);
static ngx_int_t ngx_http_7digital_7d_verify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_7d_nonce_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_param_t *nonce,
    time_t ts, ngx_http_7digital_loc_conf_t *lcf);
static ngx_int_t ngx_http_7digital_7d_token(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_param_t *token, ngx_uint_t n,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_7d_token_owned(
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_loc_conf_t *lcf,
    ngx_http_7digital_error_t *err);
static ngx_int_t ngx_http_7digital_7d_signed_params(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_array_t *all);
static ngx_int_t ngx_http_7digital_7d_public_uri(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_str_t *uri);
static ngx_int_t ngx_http_7digital_7d_sign(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_str_t *body, ngx_http_7digital_skip_pt skip);
static ngx_int_t ngx_http_7digital_upstream_path(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_int_t ngx_http_7digital_7d_protocol(ngx_http_7digital_ctx_t *ctx,
    ngx_array_t *oauth, char *name);
static void ngx_http_7digital_7d_refuse(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_auth_e auth, char *message,
    ngx_http_7digital_error_t *err);


static ngx_str_t  ngx_http_7digital_consumer_key =
    ngx_string("oauth_consumer_key");

static ngx_str_t  ngx_http_7digital_7d_headers[] = {
    ngx_string("Authorization"),
    ngx_null_string
};


/*
 * The key may arrive in the query, the form body, an OAuth Authorization
 * header or the .NET wrapper's bare header; the node client sends it in
 * both the query and the header.  Every copy must agree.
 */

ngx_int_t
ngx_http_7digital_7d_identify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    ngx_int_t                       rc;
    ngx_str_t                       key;
    ngx_uint_t                      found;
    ngx_http_7digital_auth_e        auth;
    ngx_http_7digital_main_conf_t  *mcf;

    /* a second pass, after a token lookup, reuses what the first parsed */
    if (!ctx->in_parsed) {
        rc = ngx_http_7digital_read_input(r, lcf, &ctx->in, ctx->body_read,
                                          err);

        if (rc != NGX_OK) {
            ctx->auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
            return rc;
        }

        ctx->in_parsed = 1;

        if (r->headers_in.authorization) {
            rc = ngx_http_7digital_parse_authorization(r->pool,
                                          &r->headers_in.authorization->value,
                                          &ctx->in.header);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            /* a value that is not text is a malformed header, too */
            if (rc == NGX_DECLINED || rc == NGX_ABORT
                || ngx_http_7digital_params_check(&ctx->in.header)
                   != NGX_HTTP_7DIGITAL_TEXT_OK)
            {
                ctx->in.header.nelts = 0;
                auth = NGX_HTTP_7DIGITAL_AUTH_MALFORMED;
                goto refused;
            }
        }
    }

    ngx_str_null(&key);
    found = 0;

    if (ngx_http_7digital_7d_key(&ctx->in.query, &key, &found) != NGX_OK
        || ngx_http_7digital_7d_key(&ctx->in.header, &key, &found) != NGX_OK
        || ngx_http_7digital_7d_key(&ctx->in.body, &key, &found) != NGX_OK)
    {
        auth = NGX_HTTP_7DIGITAL_AUTH_CONFLICT;
        goto refused;
    }

    if (!found) {
        auth = NGX_HTTP_7DIGITAL_AUTH_MISSING;
        goto refused;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    auth = ngx_http_7digital_registry_check(mcf->registry, &key,
                                            NGX_HTTP_7DIGITAL_API_7D,
                                            ngx_time(), &ctx->partner);

    if (auth == NGX_HTTP_7DIGITAL_AUTH_OK) {
        rc = ngx_http_7digital_7d_verify(r, lcf, ctx, err);

        /* with a user token still to load, nothing is verified yet */
        if (rc == NGX_OK && (ctx->token.len == 0 || ctx->token_loaded)) {
            ctx->auth = NGX_HTTP_7DIGITAL_AUTH_OK;
        }

        return rc;
    }

refused:

    ctx->auth = auth;
    ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_7D, auth,
                                 &ngx_http_7digital_consumer_key, err);

    return NGX_DECLINED;
}


/* the parameters that only a signed request has */

static ngx_uint_t
ngx_http_7digital_7d_half_signed(ngx_array_t *params)
{
    ngx_str_t   *name;
    ngx_uint_t   n;

    static ngx_str_t  names[] = {
        ngx_string("oauth_nonce"),
        ngx_string("oauth_timestamp"),
        ngx_string("oauth_signature_method"),
        ngx_string("oauth_token"),
        ngx_null_string
    };

    for (name = names; name->len; name++) {
        if (ngx_http_7digital_find_param(params, name, &n) != NULL) {
            return 1;
        }
    }

    return 0;
}


/*
 * A request that carries oauth_signature is verified as 7digital would,
 * with the partner's secret: HMAC-SHA1 only, a timestamp within the
 * window, over the URL the partner called on this gateway and every
 * parameter of the query, the form body and the header.
 */

static ngx_int_t
ngx_http_7digital_7d_verify(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_error_t *err)
{
    time_t                      now, ts;
    ngx_int_t                   rc;
    ngx_str_t                   uri, base, want, token_secret;
    ngx_uint_t                  n, i;
    ngx_array_t                 all, signed_params;
    ngx_http_7digital_param_t  *sig, *nonce, *token, *p, *q;
    u_char                      buf[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    static ngx_str_t  sig_name = ngx_string("oauth_signature");
    static ngx_str_t  method_name = ngx_string("oauth_signature_method");
    static ngx_str_t  ts_name = ngx_string("oauth_timestamp");
    static ngx_str_t  nonce_name = ngx_string("oauth_nonce");
    static ngx_str_t  version_name = ngx_string("oauth_version");
    static ngx_str_t  token_name = ngx_string("oauth_token");

    if (ngx_http_7digital_7d_signed_params(r, ctx, &all) != NGX_OK) {
        return NGX_ERROR;
    }

    sig = ngx_http_7digital_find_param(&all, &sig_name, &n);

    if (sig == NULL) {

        /*
         * A signature's other parameters without the signature: half a
         * signed request, refused as RFC 5849 verifiers do, never taken
         * for a key-only call and signed with the upstream secret.
         */

        if (ngx_http_7digital_7d_half_signed(&all)) {
            ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                        "Missing oauth_signature", err);
            return NGX_DECLINED;
        }

        if (!lcf->require_signature
            && ctx->sign != NGX_HTTP_7DIGITAL_SIGN_3LEGGED
            && !(ctx->sign != NGX_HTTP_7DIGITAL_SIGN_OFF
                 && ctx->route.endpoint->signed_only))
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "sevendigital: key-only call, nothing to verify");
            return NGX_OK;
        }

        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_UNSIGNED,
                                    "This resource requires a signature",
                                    err);
        return NGX_DECLINED;
    }

    if (n > 1) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                    "More than one oauth_signature", err);
        return NGX_DECLINED;
    }

    if (ctx->partner->secret.len == 0) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE,
                                    "This consumer has no secret to sign "
                                    "with", err);
        return NGX_DECLINED;
    }

    p = ngx_http_7digital_find_param(&all, &method_name, &n);

    if (p == NULL || n > 1 || p->value.len != 9
        || ngx_strncmp(p->value.data, "HMAC-SHA1", 9) != 0)
    {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                    "Unsupported signature method, "
                                    "only HMAC-SHA1 is accepted", err);
        return NGX_DECLINED;
    }

    p = ngx_http_7digital_find_param(&all, &version_name, &n);

    if (p && (n > 1 || p->value.len != 3
              || ngx_strncmp(p->value.data, "1.0", 3) != 0))
    {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                    "Unsupported OAuth version", err);
        return NGX_DECLINED;
    }

    nonce = ngx_http_7digital_find_param(&all, &nonce_name, &n);

    if (nonce == NULL || n > 1 || nonce->value.len == 0) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                    "Missing or repeated oauth_nonce", err);
        return NGX_DECLINED;
    }

    p = ngx_http_7digital_find_param(&all, &ts_name, &n);
    ts = (p && n == 1) ? ngx_atotm(p->value.data, p->value.len) : NGX_ERROR;
    now = ngx_time();

    if (ts == NGX_ERROR || ts < now - lcf->signature_window
        || ts > now + lcf->signature_window)
    {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_STALE,
                                    "Timestamp outside the allowed window",
                                    err);
        return NGX_DECLINED;
    }

    ngx_str_null(&token_secret);

    token = ngx_http_7digital_find_param(&all, &token_name, &n);

    if (token) {
        rc = ngx_http_7digital_7d_token(ctx, token, n, err);

        if (rc != NGX_OK || !ctx->token_loaded) {
            /* refused, or its secret is to be fetched first */
            return rc;
        }

        token_secret = ctx->token_secret;
    }

    if (ngx_array_init(&signed_params, r->pool, all.nelts,
                       sizeof(ngx_http_7digital_param_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = all.elts;

    for (i = 0; i < all.nelts; i++) {
        if (&p[i] != sig) {
            q = ngx_array_push(&signed_params);
            if (q == NULL) {
                return NGX_ERROR;
            }

            *q = p[i];
        }
    }

    if (ngx_http_7digital_7d_public_uri(r, lcf, &uri) != NGX_OK
        || ngx_http_7digital_oauth_base_string(r->pool, &r->method_name,
                                               &uri, &signed_params, &base)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* without a token, the partner's key made ready with the file */
    rc = token_secret.len
         ? ngx_http_7digital_oauth_sign(r->pool, &base, &ctx->partner->secret,
                                        &token_secret, buf)
         : ngx_http_7digital_hmac_base64(ctx->partner->oauth, &base, buf);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: partner base string \"%V\"", &base);

    want.data = buf;
    want.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (!ngx_http_7digital_equal(&want, &sig->value)) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE,
                                    "Invalid signature", err);
        return NGX_DECLINED;
    }

    /* only who knows the token's secret learns whose token it is */
    if (token && ngx_http_7digital_7d_token_owned(ctx, lcf, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_7digital_7d_nonce_key(r, ctx, nonce, ts, lcf);
}


/*
 * A nonce is unique per partner and timestamp (RFC 5849 section 3.3); it
 * is remembered, as a digest of the three, until the timestamp leaves the
 * window and could not be accepted anyway.
 */

static ngx_int_t
ngx_http_7digital_7d_nonce_key(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_http_7digital_param_t *nonce,
    time_t ts, ngx_http_7digital_loc_conf_t *lcf)
{
    u_char                         *p;
    ngx_str_t                       text;
    ngx_http_7digital_main_conf_t  *mcf;

    text.len = ctx->partner->id.len + 1 + NGX_TIME_T_LEN + 1
               + nonce->value.len;
    text.data = ngx_pnalloc(r->pool, text.len);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(text.data, "%V\n%T\n%V", &ctx->partner->id, ts,
                    &nonce->value);
    text.len = p - text.data;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_7digital_module);

    if (ngx_http_7digital_hmac(mcf->nonce_hmac, &text, ctx->nonce) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->has_nonce = 1;
    ctx->nonce_expires = ts + lcf->signature_window + 1;

    return NGX_OK;
}


/*
 * A user token's secret, which a partner signs with too.  Until it is
 * loaded, ctx->token names it and the core fetches it from Redis; a token
 * the store does not know verifies no signature, with the same message as
 * a wrong secret, so that a refusal tells nothing about whose it is.
 */

static ngx_int_t
ngx_http_7digital_7d_token(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_param_t *token, ngx_uint_t n,
    ngx_http_7digital_error_t *err)
{
    if (n > 1 || token->value.len == 0) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_MALFORMED,
                                    "Missing or repeated oauth_token", err);
        return NGX_DECLINED;
    }

    if (!ctx->token_loaded) {
        ctx->token = token->value;
        return NGX_OK;
    }

    if (ctx->token_store_down) {
        ctx->auth = NGX_HTTP_7DIGITAL_AUTH_UNAVAILABLE;
        ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_7D,
                                     NGX_HTTP_7DIGITAL_AUTH_UNAVAILABLE,
                                     &ngx_http_7digital_consumer_key, err);
        return NGX_DECLINED;
    }

    if (!ctx->token_found) {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE,
                                    "Invalid signature", err);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The token, whose secret the partner proved it has, must be one the
 * gateway saw 7digital issue to this same partner: a request token on the
 * access token location, an access token everywhere else.
 */

static ngx_int_t
ngx_http_7digital_7d_token_owned(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_error_t *err)
{
    u_char  kind;

    kind = (ctx->tokens == NGX_HTTP_7DIGITAL_TOKENS_ACCESS) ? 'r' : 'a';

    if (ctx->token_kind != kind
        || ctx->token_partner.len != ctx->partner->id.len
        || ngx_strncmp(ctx->token_partner.data, ctx->partner->id.data,
                       ctx->partner->id.len)
           != 0)
    {
        ngx_http_7digital_7d_refuse(ctx, NGX_HTTP_7DIGITAL_AUTH_BAD_SIGNATURE,
                                    "Token not recognised", err);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * Query, form body and header parameters together; the node client sends
 * oauth_consumer_key in both the query and the header, and signs it once,
 * so an oauth_* parameter repeated with the same value counts once.
 */

static ngx_int_t
ngx_http_7digital_7d_signed_params(ngx_http_request_t *r,
    ngx_http_7digital_ctx_t *ctx, ngx_array_t *all)
{
    ngx_uint_t                  i, j, k;
    ngx_array_t                *src[3];
    ngx_http_7digital_param_t  *p, *a, *n;

    src[0] = &ctx->in.query;
    src[1] = &ctx->in.body;
    src[2] = &ctx->in.header;

    if (ngx_array_init(all, r->pool, 16, sizeof(ngx_http_7digital_param_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (k = 0; k < 3; k++) {
        p = src[k]->elts;

        for (i = 0; i < src[k]->nelts; i++) {

            if (p[i].name.len > 6
                && ngx_strncmp(p[i].name.data, "oauth_", 6) == 0)
            {
                a = all->elts;

                for (j = 0; j < all->nelts; j++) {
                    /* bytes: "%00" must not end the comparison */
                    if (a[j].name.len == p[i].name.len
                        && a[j].value.len == p[i].value.len
                        && ngx_memcmp(a[j].name.data, p[i].name.data,
                                      p[i].name.len) == 0
                        && ngx_memcmp(a[j].value.data, p[i].value.data,
                                      p[i].value.len) == 0)
                    {
                        break;
                    }
                }

                if (j < all->nelts) {
                    continue;
                }
            }

            n = ngx_array_push(all);
            if (n == NULL) {
                return NGX_ERROR;
            }

            *n = p[i];
        }
    }

    return NGX_OK;
}


/*
 * The URL the partner signed: this gateway's scheme, the Host header's
 * name, and the port the request arrived on, because clients such as the
 * node one send Host without the port they signed; or the configured
 * public origin when the gateway sits behind another proxy.
 */

static ngx_int_t
ngx_http_7digital_7d_public_uri(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_str_t *uri)
{
    u_char                      *q;
    ngx_str_t                    scheme, host, path;
    ngx_uint_t                   port;
    ngx_http_7digital_origin_t  *o;

    path.data = r->unparsed_uri.data;
    q = ngx_strlchr(r->unparsed_uri.data,
                    r->unparsed_uri.data + r->unparsed_uri.len, '?');
    path.len = (q ? q : r->unparsed_uri.data + r->unparsed_uri.len)
               - path.data;

    o = lcf->public_origin;

    if (o) {
        return ngx_http_7digital_oauth_base_uri(r->pool, &o->scheme,
                                                &o->host, o->port, &path,
                                                uri);
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https");

    } else
#endif
    {
        ngx_str_set(&scheme, "http");
    }

    host = r->headers_in.server;

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    port = ngx_inet_get_port(r->connection->local_sockaddr);

    return ngx_http_7digital_oauth_base_uri(r->pool, &scheme, &host, port,
                                            &path, uri);
}


static void
ngx_http_7digital_7d_refuse(ngx_http_7digital_ctx_t *ctx,
    ngx_http_7digital_auth_e auth, char *message,
    ngx_http_7digital_error_t *err)
{
    ctx->auth = auth;
    ngx_http_7digital_auth_error(NGX_HTTP_7DIGITAL_API_7D, auth,
                                 &ngx_http_7digital_consumer_key, err);

    err->message.data = (u_char *) message;
    err->message.len = ngx_strlen(message);
}


static ngx_int_t
ngx_http_7digital_7d_key(ngx_array_t *params, ngx_str_t *key,
    ngx_uint_t *found)
{
    ngx_uint_t                  i;
    ngx_http_7digital_param_t  *prm;

    prm = params->elts;

    for (i = 0; i < params->nelts; i++) {
        if (prm[i].name.len != ngx_http_7digital_consumer_key.len
            || ngx_strncmp(prm[i].name.data,
                           ngx_http_7digital_consumer_key.data,
                           ngx_http_7digital_consumer_key.len)
               != 0)
        {
            continue;
        }

        if (*found && (key->len != prm[i].value.len
                       || ngx_memcmp(key->data, prm[i].value.data,
                                     key->len) != 0))
        {
            return NGX_DECLINED;
        }

        *key = prm[i].value;
        *found = 1;
    }

    return NGX_OK;
}


/*
 * Unsigned calls need only the real consumer key in place of the
 * partner's: the partner's OAuth parameters leave the query, the body and
 * the headers, and the real key joins the query string.
 */

ngx_int_t
ngx_http_7digital_7d_forward(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx)
{
    ngx_str_t                  extra, args, body;
    ngx_http_7digital_skip_pt  skip;

    ngx_str_null(&body);

    skip = (ctx->sign != NGX_HTTP_7DIGITAL_SIGN_OFF)
           ? ngx_http_7digital_is_oauth_param
           : ngx_http_7digital_is_oauth_credential;

    if (ctx->in.form) {
        if (ngx_http_7digital_join_params(r->pool, &ctx->in.body, skip,
                                          NULL, &body)
            != NGX_OK
            || ngx_http_7digital_set_body(r, &body) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ctx->sign != NGX_HTTP_7DIGITAL_SIGN_OFF) {
        return ngx_http_7digital_7d_sign(r, lcf, ctx, &body, skip);
    }

    if (ngx_http_7digital_param_text(r->pool,
                                     &ngx_http_7digital_consumer_key,
                                     &lcf->upstream_key, &extra)
        != NGX_OK
        || ngx_http_7digital_join_params(r->pool, &ctx->in.query,
                                      ngx_http_7digital_is_oauth_credential,
                                      &extra, &args)
        != NGX_OK
        || ngx_http_7digital_set_args(r, &args) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_remove_headers(r, ngx_http_7digital_7d_headers);
}


/*
 * 2-legged signing with the real consumer key and secret, over the exact
 * URL proxy_pass requests (the configured upstream origin and the path it
 * sends) and every parameter of the query and the form body as they are
 * forwarded; the OAuth parameters go in an Authorization header, or in
 * the query string for URLs handed on to players.
 */

static ngx_int_t
ngx_http_7digital_7d_sign(ngx_http_request_t *r,
    ngx_http_7digital_loc_conf_t *lcf, ngx_http_7digital_ctx_t *ctx,
    ngx_str_t *body, ngx_http_7digital_skip_pt skip)
{
    ngx_int_t                   rc;
    ngx_str_t                   nonce, ts, sig, path, uri, base, text;
    ngx_str_t                   token_secret;
    ngx_str_t                   args, extra;
    ngx_uint_t                  i;
    ngx_array_t                 params, oauth, fwd_body;
    ngx_http_7digital_param_t  *prm, *n;
    u_char                      sig_buf[NGX_HTTP_7DIGITAL_SHA1_B64_LEN];

    static ngx_str_t  method = ngx_string("HMAC-SHA1");
    static ngx_str_t  version = ngx_string("1.0");
    static ngx_str_t  authorization = ngx_string("Authorization");

    nonce.data = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_NONCE_LEN);
    ts.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);

    if (nonce.data == NULL || ts.data == NULL
        || ngx_http_7digital_nonce(nonce.data) != NGX_OK)
    {
        return NGX_ERROR;
    }

    nonce.len = NGX_HTTP_7DIGITAL_NONCE_LEN;
    ts.len = ngx_sprintf(ts.data, "%T", ngx_time()) - ts.data;

    if (ngx_array_init(&params, r->pool, ctx->in.query.nelts + 8,
                       sizeof(ngx_http_7digital_param_t))
        != NGX_OK
        || ngx_array_init(&oauth, r->pool, 6,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK
        || ngx_array_init(&fwd_body, r->pool, 4,
                          sizeof(ngx_http_7digital_param_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_push_param(&oauth, "oauth_consumer_key",
                                     &lcf->upstream_key)
        != NGX_OK
        || ngx_http_7digital_push_param(&oauth, "oauth_nonce", &nonce)
           != NGX_OK
        || ngx_http_7digital_push_param(&oauth, "oauth_signature_method",
                                        &method)
           != NGX_OK
        || ngx_http_7digital_push_param(&oauth, "oauth_timestamp", &ts)
           != NGX_OK
        || ngx_http_7digital_push_param(&oauth, "oauth_version", &version)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * 3-legged when the partner signed with a user's token; without one, as
     * the official clients do for user-management keys and partner-level
     * calls, 2-legged, and 7digital decides
     */
    if (ctx->sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED
        && ctx->token_found
        && ngx_http_7digital_push_param(&oauth, "oauth_token", &ctx->token)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the partner's own protocol parameters move with the signature */
    if (ngx_http_7digital_7d_protocol(ctx, &oauth, "oauth_callback")
        != NGX_OK
        || ngx_http_7digital_7d_protocol(ctx, &oauth, "oauth_verifier")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the forwarded body, parsed again: exactly what is sent is signed */
    if (body->len
        && ngx_http_7digital_parse_params(r->pool, body, &fwd_body) != NGX_OK)
    {
        return NGX_ERROR;
    }

    prm = ctx->in.query.elts;

    for (i = 0; i < ctx->in.query.nelts; i++) {
        if (!skip(&prm[i].name)) {
            n = ngx_array_push(&params);
            if (n == NULL) {
                return NGX_ERROR;
            }

            *n = prm[i];
        }
    }

    n = ngx_array_push_n(&params, fwd_body.nelts + oauth.nelts);
    if (n == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(n, fwd_body.elts,
               fwd_body.nelts * sizeof(ngx_http_7digital_param_t));
    ngx_memcpy(n + fwd_body.nelts, oauth.elts,
               oauth.nelts * sizeof(ngx_http_7digital_param_t));

    /* 3-legged: the user's token secret, which a partner signed with too */
    if (ctx->sign == NGX_HTTP_7DIGITAL_SIGN_3LEGGED && ctx->token_found)
    {
        token_secret = ctx->token_secret;

    } else {
        ngx_str_null(&token_secret);
    }

    if (ngx_http_7digital_upstream_path(r, &path) != NGX_OK
        || ngx_http_7digital_oauth_base_uri(r->pool,
                                            &lcf->upstream_origin->scheme,
                                            &lcf->upstream_origin->host,
                                            lcf->upstream_origin->port,
                                            &path, &uri)
           != NGX_OK
        || ngx_http_7digital_oauth_base_string(r->pool, &r->method_name,
                                               &uri, &params, &base)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* 2-legged: the key made ready with the configuration */
    rc = token_secret.len
         ? ngx_http_7digital_oauth_sign(r->pool, &base, &lcf->upstream_secret,
                                        &token_secret, sig_buf)
         : ngx_http_7digital_hmac_base64(lcf->upstream_oauth, &base, sig_buf);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sevendigital: upstream base string \"%V\"", &base);

    sig.data = ngx_pnalloc(r->pool, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);
    if (sig.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(sig.data, sig_buf, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);
    sig.len = NGX_HTTP_7DIGITAL_SHA1_B64_LEN;

    if (ngx_http_7digital_push_param(&oauth, "oauth_signature", &sig)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_7digital_remove_headers(r, ngx_http_7digital_7d_headers)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (lcf->oauth_placement == NGX_HTTP_7DIGITAL_IN_HEADER) {
        if (ngx_http_7digital_join_params(r->pool, &ctx->in.query, skip,
                                          NULL, &args)
            != NGX_OK
            || ngx_http_7digital_oauth_header(r->pool, &oauth, &text)
               != NGX_OK
            || ngx_http_7digital_add_header(r, &authorization, &text)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        return ngx_http_7digital_set_args(r, &args);
    }

    /* query placement: name=enc(value) for each OAuth parameter */
    prm = oauth.elts;

    if (ngx_array_init(&params, r->pool, oauth.nelts,
                       sizeof(ngx_http_7digital_param_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < oauth.nelts; i++) {
        n = ngx_array_push(&params);
        if (n == NULL) {
            return NGX_ERROR;
        }

        n->name = prm[i].name;

        if (ngx_http_7digital_param_text(r->pool, &prm[i].name,
                                         &prm[i].value, &n->raw)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_7digital_join_params(r->pool, &params, NULL, NULL, &extra)
        != NGX_OK
        || ngx_http_7digital_join_params(r->pool, &ctx->in.query, skip,
                                         &extra, &args)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_7digital_set_args(r, &args);
}


/*
 * The path proxy_pass without a URI part sends once r->valid_unparsed_uri
 * is cleared: r->uri, escaped the way the proxy module escapes it.
 */

static ngx_int_t
ngx_http_7digital_upstream_path(ngx_http_request_t *r, ngx_str_t *path)
{
    uintptr_t  escape;

    if (!(r->quoted_uri || r->internal)) {
        *path = r->uri;
        return NGX_OK;
    }

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);

    path->data = ngx_pnalloc(r->pool, r->uri.len + escape);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    path->len = (u_char *) ngx_escape_uri(path->data, r->uri.data, r->uri.len,
                                          NGX_ESCAPE_URI)
                - path->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_7digital_7d_protocol(ngx_http_7digital_ctx_t *ctx, ngx_array_t *oauth,
    char *name)
{
    ngx_str_t                   n;
    ngx_uint_t                  i, count;
    ngx_array_t                *src[3];
    ngx_http_7digital_param_t  *p;

    n.data = (u_char *) name;
    n.len = ngx_strlen(name);

    src[0] = &ctx->in.header;
    src[1] = &ctx->in.query;
    src[2] = &ctx->in.body;

    for (i = 0; i < 3; i++) {
        p = ngx_http_7digital_find_param(src[i], &n, &count);

        if (p) {
            return ngx_http_7digital_push_param(oauth, name, &p->value);
        }
    }

    return NGX_OK;
}
