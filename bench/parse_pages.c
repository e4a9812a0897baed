/* parse_pages: time per PortStatisticsRpm.htm parse (es_parse_port_statistics: the bounded
 * scanner of collectors/easysmart/html.h, then the data script's literals), the page a
 * switch poll reads every interval.
 *
 *   parse_pages [--iterations K] [--only ours|libxml2|scan] [PAGE...]
 *
 * Default pages: the real TL-SG108E v3 capture and the synthetic TL-SG1024DE tmp_info page
 * in tests/fixtures/easy-smart. Beside ours, two baselines over the same bytes in the same
 * run: libxml2's HTML parser alone (htmlReadMemory + xmlFreeDoc, the part of our parse we
 * did not write) and a plain pass over the bytes (a checksum: what touching the page costs).
 * --only runs one of the three, for instruction counts under callgrind. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "collectors/easysmart/page.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(ES_PAGE_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, ES_PAGE_MAX_BYTES, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n == ES_PAGE_MAX_BYTES) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

enum which { OURS, LIBXML2, SCAN, ALL };

static volatile uint64_t sink; /* keeps the compiler from dropping the baselines' work */

static int run_ours(const char *page, size_t len)
{
    struct es_port_statistics st;
    char err[160];
    if (es_parse_port_statistics(page, len, &st, err, sizeof err) != 0) {
        fprintf(stderr, "parse_pages: %s\n", err);
        return -1;
    }
    sink += st.n_ports + st.ports[0].rx_good;
    return 0;
}

static int run_libxml2(const char *page, size_t len)
{
    htmlDocPtr doc = htmlReadMemory(page, (int)len, NULL, NULL,
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
    if (!doc)
        return -1;
    sink += (uintptr_t)doc->children;
    xmlFreeDoc(doc);
    return 0;
}

static int run_scan(const char *page, size_t len)
{
    uint64_t h = 0;
    for (size_t i = 0; i < len; i++)
        h = h * 31 + (unsigned char)page[i];
    sink += h;
    return 0;
}

/* Returns microseconds per page, or a negative value on a parse failure. */
static double time_it(int (*fn)(const char *, size_t), const char *page, size_t len,
                      unsigned long iterations)
{
    for (unsigned long i = 0; i < iterations / 10 + 1; i++) /* warm caches and allocator */
        if (fn(page, len) != 0)
            return -1;
    double t = mono();
    for (unsigned long i = 0; i < iterations; i++)
        if (fn(page, len) != 0)
            return -1;
    return (mono() - t) * 1e6 / (double)iterations;
}

int main(int argc, char **argv)
{
    unsigned long iterations = 20000;
    enum which only = ALL;
    const char *pages[16];
    int npages = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            iterations = strtoul(argv[++i], &end, 10);
            if (*end || iterations == 0 || iterations > 100000000) {
                fprintf(stderr, "parse_pages: --iterations wants 1..100000000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            const char *w = argv[++i];
            only = strcmp(w, "ours") == 0      ? OURS
                   : strcmp(w, "libxml2") == 0 ? LIBXML2
                   : strcmp(w, "scan") == 0    ? SCAN
                                               : ALL;
            if (only == ALL) {
                fprintf(stderr, "parse_pages: --only ours|libxml2|scan\n");
                return 2;
            }
        } else if (argv[i][0] != '-' && npages < 16) {
            pages[npages++] = argv[i];
        } else {
            fprintf(stderr, "usage: parse_pages [--iterations K] [--only ours|libxml2|scan] "
                            "[PAGE...]\n");
            return 2;
        }
    }
    if (npages == 0) {
        pages[npages++] = BENCH_FIXTURES "/easy-smart/sg108e-v3/PortStatisticsRpm.htm";
        pages[npages++] =
            BENCH_FIXTURES "/easy-smart/synthetic/TL-SG1024DE_PortStatisticsRpm_tmp_info.htm";
    }
    xmlInitParser();
    int rc = 0;
    for (int p = 0; p < npages; p++) {
        size_t len = 0;
        char *page = read_file(pages[p], &len);
        if (!page) {
            fprintf(stderr, "parse_pages: cannot read %s\n", pages[p]);
            rc = 1;
            continue;
        }
        const char *base = strrchr(pages[p], '/');
        base = base ? base + 1 : pages[p];
        const char *dir_end = base > pages[p] + 1 ? base - 1 : NULL;
        const char *dir = pages[p];
        for (const char *q = pages[p]; dir_end && q < dir_end; q++)
            if (*q == '/')
                dir = q + 1;
        int dirlen = dir_end ? (int)(dir_end - dir) : 0;
        double ours = -1, lx = -1, scan = -1;
        if (only == ALL || only == OURS)
            ours = time_it(run_ours, page, len, iterations);
        if (only == ALL || only == LIBXML2)
            lx = time_it(run_libxml2, page, len, iterations);
        if (only == ALL || only == SCAN)
            scan = time_it(run_scan, page, len, iterations);
        if ((only == ALL || only == OURS) && ours < 0) {
            fprintf(stderr, "parse_pages: %s does not parse\n", pages[p]);
            rc = 1;
        }
        printf("page=%.*s%s%s bytes=%zu iterations=%lu", dirlen, dir, dirlen ? "/" : "", base, len,
               iterations);
        if (ours >= 0)
            printf(" ours_us=%.2f", ours);
        if (lx >= 0)
            printf(" libxml2_only_us=%.2f", lx);
        if (scan >= 0)
            printf(" byte_scan_us=%.3f", scan);
        if (ours >= 0 && lx > 0)
            printf(" ours/libxml2=%.2f", ours / lx);
        if (ours >= 0 && scan > 0)
            printf(" ours/scan=%.0f", ours / scan);
        if (ours >= 0)
            printf(" goal_20us=%s", ours < 20 ? "met" : "MISSED");
        printf("\n");
        free(page);
    }
    xmlCleanupParser();
    return rc;
}
