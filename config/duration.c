/* Prometheus durations: units in descending order, each at most once, integer counts, no
 * sign, no fraction ("1h30m", "500ms"). The total is kept in integer milliseconds so that a
 * huge count is refused instead of silently losing precision. */
#include "config/inventory.h"

#include <stdint.h>
#include <string.h>

struct unit {
    const char *suffix;
    uint64_t ms;
};

/* Descending order is part of the syntax. "ms" precedes "m" so that it matches first; the
 * order check below uses the table index, not the position. */
static const struct unit units[] = {
    {"y", 365ULL * 24 * 3600 * 1000},
    {"w", 7ULL * 24 * 3600 * 1000},
    {"d", 24ULL * 3600 * 1000},
    {"h", 3600ULL * 1000},
    {"ms", 1},
    {"m", 60ULL * 1000},
    {"s", 1000},
};

/* Rank in the descending sequence y w d h m s ms. */
static const int rank[] = {0, 1, 2, 3, 6, 4, 5};

/* Prometheus' own limit: the total must fit a signed 64-bit count of milliseconds. */
#define DURATION_MAX_MS ((uint64_t)INT64_MAX)

int duration_parse(const char *text, double *seconds)
{
    const char *p = text;
    uint64_t total = 0;
    int last_rank = -1;

    if (!text || !*text)
        return -1;
    while (*p) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (n > (DURATION_MAX_MS - d) / 10)
                return -1;
            n = n * 10 + d;
            p++;
        }
        size_t i, nunits = sizeof units / sizeof units[0];
        for (i = 0; i < nunits; i++) {
            size_t len = strlen(units[i].suffix);
            if (strncmp(p, units[i].suffix, len) == 0)
                break;
        }
        if (i == nunits || rank[i] <= last_rank)
            return -1;
        last_rank = rank[i];
        p += strlen(units[i].suffix);
        if (n > DURATION_MAX_MS / units[i].ms)
            return -1;
        n *= units[i].ms;
        if (total > DURATION_MAX_MS - n)
            return -1;
        total += n;
    }
    if (total == 0)
        return -1;
    *seconds = (double)total / 1000.0;
    return 0;
}
