/* A credential read from the inventory or a password file. It has no printer on
 * purpose: nothing formats a struct secret, so it cannot reach a log or a metric. */
#ifndef TPLINK_SECRET_H
#define TPLINK_SECRET_H

#include <stddef.h>

struct secret {
    char *bytes; /* NUL-terminated for libraries that want a C string; may hold no NUL */
    size_t len;
};

/* Copies len bytes; returns 0 or -1 on allocation failure. */
int secret_set(struct secret *s, const char *bytes, size_t len);
/* Wipes and frees. */
void secret_clear(struct secret *s);
int secret_equal(const struct secret *a, const struct secret *b);

#endif
