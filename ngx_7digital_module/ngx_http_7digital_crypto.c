
/*
 * Copyright (C) ngx_7digital_module authors
 *
 * HMAC and digests over OpenSSL's one-shot calls, and HMAC keys made
 * ready once for the keys that sign every request: with OpenSSL 3 a
 * one-shot HMAC() looks its algorithm up and sets up both pads each time,
 * three times the work of hashing a base string.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "ngx_http_7digital_pure.h"


/* the block of SHA-1 and SHA-256, which HMAC pads the key to */
#define NGX_HTTP_7DIGITAL_HMAC_BLOCK  64

/* the CSPRNG's bytes drawn at once for nonces: 256 nonces */
#define NGX_HTTP_7DIGITAL_NONCE_STORE  4096


static void ngx_http_7digital_sha1_base64(u_char *md, u_char *out);
static ngx_int_t ngx_http_7digital_hmac_init(ngx_http_7digital_hmac_t *h,
    ngx_uint_t sha256, u_char *key, size_t key_len);
static void ngx_http_7digital_hmac_cleanup(void *data);
static uint64_t ngx_http_7digital_le64(u_char *p);


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

    if (ngx_http_7digital_hmac_sha1(key, msg, md) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_7digital_sha1_base64(md, out);

    return NGX_OK;
}


static void
ngx_http_7digital_sha1_base64(u_char *md, u_char *out)
{
    u_char  b64[NGX_HTTP_7DIGITAL_SHA1_B64_LEN + 1];

    EVP_EncodeBlock(b64, md, NGX_HTTP_7DIGITAL_SHA1_LEN);
    ngx_memcpy(out, b64, NGX_HTTP_7DIGITAL_SHA1_B64_LEN);
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


/*
 * RFC 2104: the digest's state after (key ^ ipad) and after (key ^ opad),
 * a key longer than a block hashed first.  The pool's cleanup frees the
 * states, also after a failure.
 */

static ngx_int_t
ngx_http_7digital_hmac_init(ngx_http_7digital_hmac_t *h, ngx_uint_t sha256,
    u_char *key, size_t key_len)
{
    size_t         i;
    ngx_int_t      rc;
    unsigned int   len;
    const EVP_MD  *md;
    u_char         k[NGX_HTTP_7DIGITAL_HMAC_BLOCK];
    u_char         pad[NGX_HTTP_7DIGITAL_HMAC_BLOCK];

    md = sha256 ? EVP_sha256() : EVP_sha1();

    h->inner = EVP_MD_CTX_new();
    h->outer = EVP_MD_CTX_new();
    h->work = EVP_MD_CTX_new();

    if (h->inner == NULL || h->outer == NULL || h->work == NULL
        || EVP_MD_get_block_size(md) != NGX_HTTP_7DIGITAL_HMAC_BLOCK)
    {
        return NGX_ERROR;
    }

    ngx_memzero(k, sizeof(k));

    if (key_len > NGX_HTTP_7DIGITAL_HMAC_BLOCK) {
        if (EVP_Digest(key, key_len, k, &len, md, NULL) != 1) {
            return NGX_ERROR;
        }

    } else {
        ngx_memcpy(k, key, key_len);
    }

    for (i = 0; i < NGX_HTTP_7DIGITAL_HMAC_BLOCK; i++) {
        pad[i] = k[i] ^ 0x36;
    }

    rc = NGX_ERROR;

    if (EVP_DigestInit_ex(h->inner, md, NULL) != 1
        || EVP_DigestUpdate(h->inner, pad, NGX_HTTP_7DIGITAL_HMAC_BLOCK) != 1)
    {
        goto done;
    }

    for (i = 0; i < NGX_HTTP_7DIGITAL_HMAC_BLOCK; i++) {
        pad[i] = k[i] ^ 0x5c;
    }

    if (EVP_DigestInit_ex(h->outer, md, NULL) != 1
        || EVP_DigestUpdate(h->outer, pad, NGX_HTTP_7DIGITAL_HMAC_BLOCK) != 1)
    {
        goto done;
    }

    rc = NGX_OK;

done:

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));

    return rc;
}


/* a ready key that lives as long as the pool */

ngx_http_7digital_hmac_t *
ngx_http_7digital_hmac_create(ngx_pool_t *pool, ngx_uint_t sha256,
    ngx_str_t *key)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_7digital_hmac_t  *h;

    cln = ngx_pool_cleanup_add(pool, sizeof(ngx_http_7digital_hmac_t));
    if (cln == NULL) {
        return NULL;
    }

    h = cln->data;
    ngx_memzero(h, sizeof(ngx_http_7digital_hmac_t));
    cln->handler = ngx_http_7digital_hmac_cleanup;

    if (ngx_http_7digital_hmac_init(h, sha256, key->data, key->len)
        != NGX_OK)
    {
        return NULL;
    }

    return h;
}


static void
ngx_http_7digital_hmac_cleanup(void *data)
{
    ngx_http_7digital_hmac_t  *h = data;

    EVP_MD_CTX_free(h->inner);
    EVP_MD_CTX_free(h->outer);
    EVP_MD_CTX_free(h->work);
}


/* out receives the digest's length: 20 bytes (SHA-1) or 32 (SHA-256) */

ngx_int_t
ngx_http_7digital_hmac(ngx_http_7digital_hmac_t *h, ngx_str_t *msg,
    u_char *out)
{
    unsigned int  len;
    u_char        md[EVP_MAX_MD_SIZE];

    if (EVP_MD_CTX_copy_ex(h->work, h->inner) != 1
        || EVP_DigestUpdate(h->work, msg->data, msg->len) != 1
        || EVP_DigestFinal_ex(h->work, md, &len) != 1
        || EVP_MD_CTX_copy_ex(h->work, h->outer) != 1
        || EVP_DigestUpdate(h->work, md, len) != 1
        || EVP_DigestFinal_ex(h->work, out, &len) != 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* SHA-1 only; out receives NGX_HTTP_7DIGITAL_SHA1_B64_LEN bytes */

ngx_int_t
ngx_http_7digital_hmac_base64(ngx_http_7digital_hmac_t *h, ngx_str_t *msg,
    u_char *out)
{
    u_char  md[EVP_MAX_MD_SIZE];

    if (ngx_http_7digital_hmac(h, msg, md) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_7digital_sha1_base64(md, out);

    return NGX_OK;
}


/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash made for
 * tables of strings an attacker chooses, a few dozen instructions for a
 * short one, where an HMAC costs two blocks of its digest.
 */

#define ngx_http_7digital_rotl(x, b)  (((x) << (b)) | ((x) >> (64 - (b))))

#define ngx_http_7digital_sipround(v0, v1, v2, v3)                            \
    v0 += v1; v1 = ngx_http_7digital_rotl(v1, 13); v1 ^= v0;                  \
    v0 = ngx_http_7digital_rotl(v0, 32);                                      \
    v2 += v3; v3 = ngx_http_7digital_rotl(v3, 16); v3 ^= v2;                  \
    v0 += v3; v3 = ngx_http_7digital_rotl(v3, 21); v3 ^= v0;                  \
    v2 += v1; v1 = ngx_http_7digital_rotl(v1, 17); v1 ^= v2;                  \
    v2 = ngx_http_7digital_rotl(v2, 32)


uint64_t
ngx_http_7digital_siphash(u_char *key, u_char *data, size_t len)
{
    size_t    i;
    uint64_t  k0, k1, v0, v1, v2, v3, m, last;

    k0 = ngx_http_7digital_le64(key);
    k1 = ngx_http_7digital_le64(key + 8);

    v0 = k0 ^ 0x736f6d6570736575ULL;
    v1 = k1 ^ 0x646f72616e646f6dULL;
    v2 = k0 ^ 0x6c7967656e657261ULL;
    v3 = k1 ^ 0x7465646279746573ULL;

    for (i = 0; i + 8 <= len; i += 8) {
        m = ngx_http_7digital_le64(data + i);
        v3 ^= m;
        ngx_http_7digital_sipround(v0, v1, v2, v3);
        ngx_http_7digital_sipround(v0, v1, v2, v3);
        v0 ^= m;
    }

    /* the last 0 to 7 bytes, and the length's low byte on top */
    last = (uint64_t) len << 56;

    for ( /* void */ ; i < len; i++) {
        last |= (uint64_t) data[i] << (8 * (i & 7));
    }

    v3 ^= last;
    ngx_http_7digital_sipround(v0, v1, v2, v3);
    ngx_http_7digital_sipround(v0, v1, v2, v3);
    v0 ^= last;

    v2 ^= 0xff;
    ngx_http_7digital_sipround(v0, v1, v2, v3);
    ngx_http_7digital_sipround(v0, v1, v2, v3);
    ngx_http_7digital_sipround(v0, v1, v2, v3);
    ngx_http_7digital_sipround(v0, v1, v2, v3);

    return v0 ^ v1 ^ v2 ^ v3;
}


static uint64_t
ngx_http_7digital_le64(u_char *p)
{
    return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16
           | (uint64_t) p[3] << 24 | (uint64_t) p[4] << 32
           | (uint64_t) p[5] << 40 | (uint64_t) p[6] << 48
           | (uint64_t) p[7] << 56;
}


/* out receives NGX_HTTP_7DIGITAL_DIGEST_LEN bytes */

ngx_int_t
ngx_http_7digital_sha256(ngx_str_t *msg, u_char *out)
{
    unsigned int  len;

    /*
     * One context and one fetched digest for the process: OpenSSL 3's
     * SHA256() looks the algorithm up (under a lock) and makes a context
     * for every call, more work than hashing a cache key.  They live as
     * long as the process.
     */
    static EVP_MD_CTX  *ctx;
    static EVP_MD      *md;

    if (md == NULL) {
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
        ctx = EVP_MD_CTX_new();

        if (md == NULL || ctx == NULL) {
            EVP_MD_free(md);
            EVP_MD_CTX_free(ctx);
            md = NULL;
            ctx = NULL;
            return NGX_ERROR;
        }
    }

    return (EVP_DigestInit_ex2(ctx, md, NULL)
            && EVP_DigestUpdate(ctx, msg->data, msg->len)
            && EVP_DigestFinal_ex(ctx, out, &len))
           ? NGX_OK : NGX_ERROR;
}


/* out receives 64 lower-case hex digits */

ngx_int_t
ngx_http_7digital_sha256_hex(ngx_str_t *msg, u_char *out)
{
    u_char      md[SHA256_DIGEST_LENGTH];
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789abcdef";

    if (ngx_http_7digital_sha256(msg, md) != NGX_OK) {
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


/*
 * An OAuth nonce: 32 hex digits from the CSPRNG.  Its bytes are drawn a
 * few hundred nonces at a time, since a RAND_bytes() call costs far more
 * than the 16 bytes it gives; the bytes belong to the process that drew
 * them (ngx_pid), so that no two workers ever share a draw, and each
 * leaves the store as it is used.
 */

ngx_int_t
ngx_http_7digital_nonce(u_char *out)
{
    u_char      *raw;
    ngx_uint_t   i;

    static u_char      hex[] = "0123456789abcdef";
    static u_char      store[NGX_HTTP_7DIGITAL_NONCE_STORE];
    static size_t      left;
    static ngx_pid_t   owner;

    if (left < NGX_HTTP_7DIGITAL_NONCE_LEN / 2 || owner != ngx_pid) {
        if (RAND_bytes(store, sizeof(store)) != 1) {
            left = 0;
            return NGX_ERROR;
        }

        left = sizeof(store);
        owner = ngx_pid;
    }

    left -= NGX_HTTP_7DIGITAL_NONCE_LEN / 2;
    raw = store + left;

    for (i = 0; i < NGX_HTTP_7DIGITAL_NONCE_LEN / 2; i++) {
        *out++ = hex[raw[i] >> 4];
        *out++ = hex[raw[i] & 0x0f];
    }

    OPENSSL_cleanse(raw, NGX_HTTP_7DIGITAL_NONCE_LEN / 2);

    return NGX_OK;
}
