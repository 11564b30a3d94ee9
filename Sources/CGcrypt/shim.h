// libgcrypt (GnuPG's crypto library): SM4 with AES-NI/AVX2 (16 blocks at a time in CTR and
// GCM) and SM3 with AVX/BMI2, where OpenSSL 3.0 has plain C. Its control calls are variadic,
// which Swift cannot call: these helpers wrap the ones Tandem needs.
#include <gcrypt.h>

/// Initializes the library once per process (as an application, not a library, must):
/// version check, no secure-memory pool (key buffers are zeroed by the Swift owners),
/// initialization finished. Returns the library's version or NULL if it is older than needed.
static inline const char *tandem_gcrypt_initialize(const char *minimum) {
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
        return gcry_check_version(NULL);
    }
    const char *version = gcry_check_version(minimum);
    if (version == NULL) return NULL;
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return version;
}

/// gcry_md_final and gcry_md_read (a macro and a call): the digest of an open hash handle.
static inline const unsigned char *tandem_gcry_md_digest(gcry_md_hd_t handle, int algorithm) {
    gcry_md_final(handle);
    return gcry_md_read(handle, algorithm);
}
