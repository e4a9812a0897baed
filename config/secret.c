#include "config/secret.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int secret_set(struct secret *s, const char *bytes, size_t len)
{
    secret_clear(s);
    if (len == SIZE_MAX)
        return -1;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, bytes, len);
    copy[len] = '\0';
    s->bytes = copy;
    s->len = len;
    return 0;
}

void secret_clear(struct secret *s)
{
    if (s->bytes) {
        /* explicit_bzero, unlike memset, survives dead-store elimination before free. */
        explicit_bzero(s->bytes, s->len + 1);
        free(s->bytes);
    }
    s->bytes = NULL;
    s->len = 0;
}

int secret_equal(const struct secret *a, const struct secret *b)
{
    if (!a->bytes || !b->bytes)
        return a->bytes == b->bytes;
    if (a->len != b->len)
        return 0;
    /* Constant time in the content: the comparison only reveals the (equal) length. */
    unsigned char diff = 0;
    for (size_t i = 0; i < a->len; i++)
        diff |= (unsigned char)(a->bytes[i] ^ b->bytes[i]);
    return diff == 0;
}
