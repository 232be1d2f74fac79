
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * HMAC and digests over OpenSSL's one-shot calls; no state survives a call.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "ngx_http_7digital_pure.h"


ngx_int_t
ngx_http_7digital_hmac_sha1(ngx_str_t *key, ngx_str_t *msg, u_char *out)
{
    unsigned int  len;

    len = NGX_HTTP_7DIGITAL_SHA1_LEN;

    if (HMAC(EVP_sha1(), key->data, (int) key->len, msg->data, msg->len,
             out, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* out receives NGX_HTTP_7DIGITAL_SHA1_B64_LEN bytes, not NUL-terminated */

ngx_int_t
ngx_http_7digital_hmac_sha1_base64(ngx_str_t *key, ngx_str_t *msg,
    u_char *out)
{
    u_char  md[NGX_HTTP_7DIGITAL_SHA1_LEN];
    u_char  b64[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];

    if (ngx_http_7digital_hmac_sha1(key, msg, md) != NGX_OK) {
        return NGX_ERROR;
    }

    EVP_EncodeBlock(b64, md, NGX_HTTP_7DIGITAL_SHA1_LEN);
    ngx_memcpy(out, b64, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);

    return NGX_OK;
}


ngx_int_t
ngx_http_7digital_hmac_sha256(u_char *key, size_t key_len, ngx_str_t *msg,
    u_char *out)
{
    unsigned int  len;

    len = NGX_HTTP_7DIGITAL_DIGEST_LEN;

    if (HMAC(EVP_sha256(), key, (int) key_len, msg->data, msg->len, out,
             &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* out receives NGX_HTTP_7DIGITAL_DIGEST_LEN bytes */

ngx_int_t
ngx_http_7digital_sha256(ngx_str_t *msg, u_char *out)
{
    return (SHA256(msg->data, msg->len, out) == NULL) ? NGX_ERROR : NGX_OK;
}


/* out receives 64 lower-case hex digits */

ngx_int_t
ngx_http_7digital_sha256_hex(ngx_str_t *msg, u_char *out)
{
    u_char      md[SHA256_DIGEST_LENGTH];
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    if (SHA256(msg->data, msg->len, md) == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        *out++ = hex[md[i] >> 4];
        *out++ = hex[md[i] & 0x0f];
    }

    return NGX_OK;
}


/* constant time in the contents; only the lengths may show */

ngx_uint_t
ngx_http_7digital_equal(ngx_str_t *a, ngx_str_t *b)
{
    if (a->len != b->len) {
        return 0;
    }

    return CRYPTO_memcmp(a->data, b->data, a->len) == 0;
}


/* an OAuth nonce: 32 hex digits from the CSPRNG */

ngx_int_t
ngx_http_7digital_nonce(u_char *out)
{
    u_char      raw[NGX_HTTP_7DIGITAL_NONCE_LEN / 2];
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return NGX_ERROR;
    }

    for (i = 0; i < sizeof(raw); i++) {
        *out++ = hex[raw[i] >> 4];
        *out++ = hex[raw[i] & 0x0f];
    }

    return NGX_OK;
}
