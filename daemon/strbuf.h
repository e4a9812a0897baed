/* A growable byte buffer with a hard upper bound: appends past the bound fail and
 * leave the buffer marked as overflowed, so no input can make it grow without limit. */
#ifndef TPLINK_STRBUF_H
#define TPLINK_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t limit; /* maximum len; 0 means STRBUF_DEFAULT_LIMIT */
    bool overflow;
};

#define STRBUF_DEFAULT_LIMIT ((size_t)64 << 20)

void strbuf_init(struct strbuf *b, size_t limit);
void strbuf_free(struct strbuf *b);
void strbuf_reset(struct strbuf *b);
/* Makes room for extra more bytes (and the NUL) in one allocation of exactly that size when
 * the buffer must grow, so a caller that knows its output size pays for no doubling and no
 * unused tail. False (and overflow set) past the limit or when out of memory. */
bool strbuf_reserve(struct strbuf *b, size_t extra);
bool strbuf_append(struct strbuf *b, const void *data, size_t len);
bool strbuf_puts(struct strbuf *b, const char *s);
bool strbuf_putc(struct strbuf *b, char c);
bool strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
