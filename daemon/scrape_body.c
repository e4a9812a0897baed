#include "daemon/scrape_body.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

struct scrape_body *scrape_body_new(char *text, size_t len)
{
    struct scrape_body *b = calloc(1, sizeof *b);
    if (!b) {
        free(text);
        return NULL;
    }
    b->refs = 1;
    b->text = text;
    b->text_len = len;
    return b;
}

struct scrape_body *scrape_body_ref(struct scrape_body *b)
{
    b->refs++;
    return b;
}

void scrape_body_unref(struct scrape_body *b)
{
    if (!b || --b->refs > 0)
        return;
    free(b->text);
    free(b->gz);
    free(b);
}

bool scrape_body_gzip(struct scrape_body *b, const unsigned char **data, size_t *len)
{
    if (!b->gz && !b->gz_failed) {
        z_stream z = {0};
        /* Level 1: metrics text compresses well even so, and a cold 10 MB render must not
         * cost a scrape more than the render itself. windowBits + 16 selects gzip framing. */
        if (deflateInit2(&z, 1, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            b->gz_failed = true;
            return false;
        }
        uLong cap = deflateBound(&z, (uLong)b->text_len);
        b->gz = malloc(cap);
        z.next_in = (Bytef *)b->text;
        z.avail_in = (uInt)b->text_len;
        z.next_out = b->gz;
        z.avail_out = (uInt)cap;
        if (!b->gz || deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(b->gz);
            b->gz = NULL;
            b->gz_failed = true;
        } else {
            b->gz_len = z.total_out;
        }
        deflateEnd(&z);
    }
    if (!b->gz)
        return false;
    *data = b->gz;
    *len = b->gz_len;
    return true;
}

/* Token list per RFC 9110: "gzip", "gzip;q=0.5", "*" … An explicit gzip entry decides;
 * otherwise "*" does; a q of 0 refuses. */
bool accepts_gzip(const char *v)
{
    if (!v)
        return false;
    double gzip_q = -1, star_q = -1;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tl = (size_t)(p - tok);
        double q = 1;
        while (*p && *p != ',') {
            if (*p == ';') {
                p++;
                while (*p == ' ')
                    p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
                    q = strtod(p + 2, NULL);
            } else {
                p++;
            }
        }
        if (tl == 4 && strncasecmp(tok, "gzip", 4) == 0)
            gzip_q = q;
        else if (tl == 1 && *tok == '*')
            star_q = q;
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}
