/* One rendered exposition, shared by every response that sends it. Reference counted
 * (all on the loop thread), so a scrape never copies it and a re-render never frees bytes
 * that libmicrohttpd is still sending. The gzip form is made once, on first demand. */
#ifndef TPLINK_SCRAPE_BODY_H
#define TPLINK_SCRAPE_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct scrape_body {
    unsigned refs;
    char *text;
    size_t text_len;
    unsigned char *gz; /* NULL until asked for */
    size_t gz_len;
    bool gz_failed;
};

/* Takes ownership of text (malloc'd). Returns NULL on allocation failure (text freed). */
struct scrape_body *scrape_body_new(char *text, size_t len);
struct scrape_body *scrape_body_ref(struct scrape_body *b);
void scrape_body_unref(struct scrape_body *b);
/* The gzip form, compressed on first use; false if compression failed. */
bool scrape_body_gzip(struct scrape_body *b, const unsigned char **data, size_t *len);

/* Whether an Accept-Encoding header value accepts gzip (a q of 0 refuses it). */
bool accepts_gzip(const char *accept_encoding);

#endif
