/* Script extraction from an Easy Smart page with libxml2's forgiving HTML parser.
 *
 * Real pages put their data <script> before <html> (and login pages have no DOCTYPE);
 * libxml2 in recover mode still places it in the tree, first in document order. Declared
 * charsets are ignored: a page is read as UTF-8, and bytes that are not valid UTF-8 are
 * taken as Latin-1, so a stray byte in a user string can never cut a script short. NUL
 * bytes (which would end libxml2's input) are read as spaces. */
#ifndef TPLINK_EASYSMART_HTML_H
#define TPLINK_EASYSMART_HTML_H

#include <stdbool.h>
#include <stddef.h>

#define ES_HTML_MAX_BYTES ((size_t)1 << 20) /* real pages are 3-11 KB */
#define ES_HTML_MAX_SCRIPTS 256

struct es_html_script {
    char *text; /* NUL-terminated, owned (libxml2 memory) */
    size_t len;
};

struct es_html {
    struct es_html_script *scripts; /* in document order */
    size_t n_scripts;
    bool logon_form; /* a <form> whose action is logon.cgi */
};

/* Returns 0, or -1 with a one-line reason in err (too large, empty, out of memory). */
int es_html_parse(const char *text, size_t len, struct es_html *out, char *err, size_t errlen);
void es_html_free(struct es_html *h);

#endif
