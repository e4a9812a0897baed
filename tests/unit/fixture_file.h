/* Reads a fixture file whole (tests only: a missing or empty file fails the test). */
#ifndef TPLINK_FIXTURE_FILE_H
#define TPLINK_FIXTURE_FILE_H

#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static const size_t cap = 1 << 20;
    char *buf = malloc(cap);
    assert_non_null(buf);
    *len = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(*len > 0 && *len < cap);
    return buf;
}

#endif
