
/*
 * libFuzzer target: the partners file (ngx_http_7digital_registry_load),
 * JSON read with jansson, keys, rotated keys with their not_after dates,
 * APIs and rate limits.  The input is the file, kept in a memfd.  Checked:
 * a loaded registry finds every partner's key (and only that partner),
 * and an error message is a terminated string.
 */


#include "fuzz.h"
#include <sys/mman.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                           err[512];   /* as the module's */
    u_char                         path[64];
    time_t                         now;
    ngx_str_t                      file, key;
    ngx_uint_t                     i, rc;
    fuzz_input_t                   in;
    ngx_http_7digital_partner_t   *p, *found;
    ngx_http_7digital_registry_t  *reg;

    static int  fd = -1;

    if (fd == -1) {
        fd = memfd_create("partners.json", 0);
        if (fd == -1) {
            abort();
        }
    }

    if (ftruncate(fd, 0) != 0
        || (size && pwrite(fd, data, size, 0) != (ssize_t) size))
    {
        abort();
    }

    fuzz_input(&in, data, size, 1);

    file.data = path;
    file.len = snprintf((char *) path, sizeof(path), "/proc/self/fd/%d", fd);

    memset(err, 0xa5, sizeof(err));

    reg = ngx_http_7digital_registry_load(NULL, NULL, &file, err,
                                          sizeof(err));

    if (reg == NULL) {
        fuzz_assert(memchr(err, '\0', sizeof(err)) != NULL,
                    "an error message without its end", &in.all, NULL);
        goto done;
    }

    p = reg->partners.elts;
    now = 1700000000;

    for (i = 0; i < reg->partners.nelts; i++) {
        found = ngx_http_7digital_registry_find(reg, &p[i].key);

        fuzz_assert(found == &p[i], "a partner's key finds another partner",
                    &p[i].id, &p[i].key);

        rc = ngx_http_7digital_registry_check(reg, &p[i].key,
                                              NGX_HTTP_7DIGITAL_API_7D, now,
                                              &found);

        fuzz_assert(rc != NGX_HTTP_7DIGITAL_CHECK_UNKNOWN && found == &p[i],
                    "a partner's key is unknown", &p[i].id, &p[i].key);

        /* one byte more is another key */
        key.len = p[i].key.len + 1;
        key.data = malloc(key.len);
        memcpy(key.data, p[i].key.data, p[i].key.len);
        key.data[p[i].key.len] = 'x';

        found = ngx_http_7digital_registry_find(reg, &key);

        fuzz_assert(found == NULL || fuzz_same(&found->key, &key),
                    "a key finds a partner with another key", &p[i].key,
                    &key);

        free(key.data);
    }

done:

    fuzz_done(&in);

    return 0;
}
