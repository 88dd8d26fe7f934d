/*
 * hash.c — SHA-256 digests that identify what produced a result: the model's
 * weight files (recorded in every probe and every comparison report, and
 * checked when a probe is applied) and dataset files. OpenSSL's libcrypto
 * does the hashing; memory-mapped model files are hashed in place.
 */
#include "model/model.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *d, unsigned n, char *hex) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* Hashes the N buffers (DATA[i], SIZE[i]) as one stream. */
static attrib_status sha256_buffers(const uint8_t *const *data, const size_t *size, int n, char hex[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) return attrib_fail(ATTRIB_E_NOMEM, "out of memory for a SHA-256 context");
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (int i = 0; ok && i < n; i++) ok = EVP_DigestUpdate(ctx, data[i], size[i]);
    ok = ok && EVP_DigestFinal_ex(ctx, d, &dn);
    EVP_MD_CTX_free(ctx);
    if (!ok || dn != 32) return attrib_fail(ATTRIB_E_INTERNAL, "SHA-256 failed in libcrypto");
    to_hex(d, dn, hex);
    return ATTRIB_OK;
}

attrib_status attrib_sha256_file(const char *path, char hex[65]) {
    if (!path || !hex) return attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_sha256_file: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return attrib_fail(ATTRIB_E_IO, "cannot open '%s': %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = attrib_malloc(1 << 16);
    if (!ctx || !buf) {
        EVP_MD_CTX_free(ctx);
        free(buf);
        fclose(f);
        return attrib_fail(ATTRIB_E_NOMEM, "out of memory hashing '%s'", path);
    }
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    size_t got;
    while (ok && (got = fread(buf, 1, 1 << 16, f)) > 0) ok = EVP_DigestUpdate(ctx, buf, got);
    const int read_error = ferror(f);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned dn = 0;
    ok = ok && !read_error && EVP_DigestFinal_ex(ctx, d, &dn);
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    if (read_error) return attrib_fail(ATTRIB_E_IO, "error reading '%s'", path);
    if (!ok || dn != 32) return attrib_fail(ATTRIB_E_INTERNAL, "SHA-256 failed in libcrypto");
    to_hex(d, dn, hex);
    return ATTRIB_OK;
}

const char *attrib_model_sha256(attrib_model *m) {
    if (!m) {
        attrib_fail(ATTRIB_E_INVALID_ARG, "attrib_model_sha256: NULL model");
        return NULL;
    }
    if (m->sha256[0]) return m->sha256;
    if (m->gguf) {
        const uint8_t *data[1] = {gguf_file_data(m->gguf)};
        size_t size[1] = {gguf_file_size(m->gguf)};
        if (sha256_buffers(data, size, 1, m->sha256)) return NULL;
        return m->sha256;
    }
    if (m->n_st_files > 0) {
        const uint8_t **data = attrib_calloc_array((size_t)m->n_st_files, sizeof *data);
        size_t *size = attrib_calloc_array((size_t)m->n_st_files, sizeof *size);
        attrib_status s = (!data || !size) ? attrib_fail(ATTRIB_E_NOMEM, "out of memory") : ATTRIB_OK;
        for (int i = 0; !s && i < m->n_st_files; i++) {
            data[i] = m->st_files[i].data;
            size[i] = m->st_files[i].size;
        }
        if (!s) s = sha256_buffers(data, size, m->n_st_files, m->sha256);
        free(data);
        free(size);
        if (s) {
            m->sha256[0] = '\0';
            return NULL;
        }
        return m->sha256;
    }
    attrib_fail(ATTRIB_E_INTERNAL, "the model has no weight file to hash");
    return NULL;
}
