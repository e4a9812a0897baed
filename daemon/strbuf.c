#include "daemon/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit ? limit : STRBUF_DEFAULT_LIMIT;
}

void strbuf_free(struct strbuf *b)
{
    free(b->data);
    size_t limit = b->limit;
    strbuf_init(b, limit);
}

void strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data)
        b->data[0] = '\0';
}

/* Room for extra more bytes and the NUL. Appends double the capacity (amortised O(1));
 * strbuf_reserve asks for exactly what it is told, for a size known in advance. */
static bool grow(struct strbuf *b, size_t extra, bool exact)
{
    if (b->overflow)
        return false;
    if (extra > b->limit - b->len) {
        b->overflow = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = need;
    if (!exact) {
        cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->overflow = true;
        return false;
    }
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return true;
}

static bool reserve(struct strbuf *b, size_t extra)
{
    return grow(b, extra, false);
}

bool strbuf_reserve(struct strbuf *b, size_t extra)
{
    return grow(b, extra, true);
}

bool strbuf_append(struct strbuf *b, const void *data, size_t len)
{
    if (!reserve(b, len))
        return false;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool strbuf_puts(struct strbuf *b, const char *s)
{
    return strbuf_append(b, s, strlen(s));
}

bool strbuf_putc(struct strbuf *b, char c)
{
    return strbuf_append(b, &c, 1);
}

bool strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    if ((size_t)n < sizeof small)
        return strbuf_append(b, small, (size_t)n);
    if (!reserve(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}
