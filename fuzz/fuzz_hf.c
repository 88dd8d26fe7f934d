/*
 * fuzz_hf.c — libFuzzer target for the Hugging Face directory loader
 * (config.json parsing and checks, the safetensors header, its entries,
 * offsets and tiling, and the model-level shape checks shared with GGUF).
 *
 * Input format (fuzz/seeds/hf.sh writes seeds in it):
 *   bytes 0..3   little-endian u32: bits 0..29 are the length N of the
 *                config part (clamped to what is there); bit 30 selects the
 *                framed form below; bit 31 asks the load for the NaN/Inf
 *                weight scan
 *   next N bytes config.json
 *   the rest     model.safetensors as is, or (framed) the header JSON, one
 *                NUL byte, then the tensor data: the harness writes the
 *                8-byte header length itself. Byte mutations of a raw file
 *                mostly break the length field and stop at the first check;
 *                the framed form lets insertions and deletions in the JSON
 *                reach the entry, offset and tiling checks. (A NUL cannot
 *                occur inside a valid header, so the split is unambiguous.)
 * Both files are written into a directory private to this process (created
 * once, removed at exit) and the directory is loaded with attrib_model_load,
 * exactly as a user's checkpoint would be: the loader maps the safetensors
 * file itself. No tokenizer.json is written, so the tokenizer is not part of
 * this target. Any status is acceptable; a crash, a sanitizer report, a
 * leak, a failure without a message or an output written on failure is not.
 */
#include "attrib.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t g_sink;
static char g_dir[64];
static char g_config[96];
static char g_weights[96];

static void cleanup(void) {
    if (!g_dir[0]) return;
    unlink(g_config);
    unlink(g_weights);
    rmdir(g_dir);
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, p + off, n - off);
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int r = write_all(fd, p, n);
    return close(fd) || r ? -1 : 0;
}

/* The framed form: header JSON, NUL, data -> length, header, data. */
static int write_framed(const char *path, const uint8_t *p, size_t n) {
    const uint8_t *nul = memchr(p, 0, n);
    uint64_t hlen = nul ? (uint64_t)(nul - p) : n;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(hlen >> (8 * i));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int r = write_all(fd, le, 8) || write_all(fd, p, (size_t)hlen) ||
            (nul ? write_all(fd, nul + 1, n - (size_t)hlen - 1) : 0);
    return close(fd) || r ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        /* /dev/shm keeps the two writes per execution off the disk. */
        snprintf(g_dir, sizeof g_dir, "/dev/shm/fuzz_hf-XXXXXX");
        if (!mkdtemp(g_dir)) {
            snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_hf-XXXXXX");
            if (!mkdtemp(g_dir)) {
                g_dir[0] = '\0';
                return 0;
            }
        }
        snprintf(g_config, sizeof g_config, "%s/config.json", g_dir);
        snprintf(g_weights, sizeof g_weights, "%s/model.safetensors", g_dir);
        atexit(cleanup);
    }
    if (size < 4) return 0;
    uint32_t n = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    uint32_t len = n & 0x3fffffffu;
    size_t cfg_len = len < size - 4 ? len : size - 4;
    const uint8_t *st = data + 4 + cfg_len;
    size_t st_len = size - 4 - cfg_len;
    if (write_file(g_config, data + 4, cfg_len) != 0) return 0;
    if (((n >> 30) & 1 ? write_framed(g_weights, st, st_len) : write_file(g_weights, st, st_len)) != 0) return 0;

    attrib_model_options opt = attrib_model_default_options();
    opt.n_threads = 1;
    opt.check_weights = (n >> 31) & 1;
    attrib_model *m = NULL;
    attrib_status s = attrib_model_load(g_dir, &opt, &m);
    if (s == ATTRIB_OK) {
        const attrib_model_info *in = attrib_model_get_info(m);
        g_sink += in->n_params + in->weight_bytes;
        int32_t ids[2] = {0, in->n_vocab - 1};
        float *out = malloc(2 * (size_t)in->n_embd * sizeof *out);
        if (out && attrib_model_embed(m, ids, 2, out) != ATTRIB_OK) __builtin_trap();
        if (out) g_sink += (uint64_t)(out[0] == out[0]);
        free(out);
        attrib_model_free(m);
    } else {
        if (m) __builtin_trap();
        if (attrib_last_error()[0] == '\0') __builtin_trap();
    }
    return 0;
}
