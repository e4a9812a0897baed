/* Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the replay driver. Each target
 * checks the invariants its parser promises; a broken one aborts, which libFuzzer and the
 * replay test both report as a finding. */
#ifndef TPLINK_TESTS_FUZZ_H
#define TPLINK_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A fixed-size text field is NUL-terminated inside its array. */
#define FUZZ_CHECK_STR(field) FUZZ_CHECK(memchr((field), '\0', sizeof(field)) != NULL)

/* An error message: NUL-terminated inside err and one line. */
static inline void fuzz_check_err(const char *err, size_t cap)
{
    FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
    FUZZ_CHECK(strchr(err, '\n') == NULL);
}

/* A malloc'd copy with a NUL after the data, for parsers that want C strings. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
