#ifndef TANDEM_CLIBCRYPTO_SHIM_H
#define TANDEM_CLIBCRYPTO_SHIM_H

#include <stdint.h>
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

/*
 * Small helpers that build OSSL_PARAM arrays on the C side. Doing this in
 * Swift needs non-const char* casts and nested pointer scopes; here the
 * params only live for the duration of the call.
 */

/* Creates an HMAC EVP_MAC_CTX keyed with `key` using digest `digest`
 * ("SHA256", "SM3"). Returns NULL on failure (error queue populated). */
static inline EVP_MAC_CTX *tandem_hmac_ctx_new(EVP_MAC *mac, const char *digest,
                                               const unsigned char *key, size_t keylen) {
    static const unsigned char empty = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL) return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, key != NULL ? key : &empty, keylen, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* HKDF (extract-and-expand) via EVP_KDF. Returns 1 on success. */
static inline int tandem_hkdf(EVP_KDF *kdf, const char *digest,
                              const unsigned char *key, size_t keylen,
                              const unsigned char *salt, size_t saltlen,
                              const unsigned char *info, size_t infolen,
                              unsigned char *out, size_t outlen) {
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    if (kctx == NULL) return 0;
    OSSL_PARAM params[5], *p = params;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)digest, 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
    if (saltlen > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
    if (infolen > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, infolen);
    *p = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(kctx, out, outlen, params);
    EVP_KDF_CTX_free(kctx);
    return rc;
}

/* scrypt via EVP_KDF "SCRYPT". Returns 1 on success. */
static inline int tandem_scrypt(EVP_KDF *kdf,
                                const unsigned char *pass, size_t passlen,
                                const unsigned char *salt, size_t saltlen,
                                uint64_t n, uint32_t r, uint32_t p_, uint64_t maxmem,
                                unsigned char *out, size_t outlen) {
    static const unsigned char empty = 0;
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    if (kctx == NULL) return 0;
    OSSL_PARAM params[7], *p = params;
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                             (void *)(pass != NULL ? pass : &empty), passlen);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                             (void *)(salt != NULL ? salt : &empty), saltlen);
    *p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    *p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    *p++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p_);
    *p++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
    *p = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(kctx, out, outlen, params);
    EVP_KDF_CTX_free(kctx);
    return rc;
}

#endif
