/* Script and form extraction from an Easy Smart page.
 *
 * es_html_scan, used for every page the daemon reads: a bounded single pass over the bytes,
 * no tree and (for pages without the quirks below) no copy: scripts point into the page.
 * It follows libxml2 2.9's forgiving HTML parser in recover mode, the reference, and is
 * checked against it (tests/unit/test_es_html.c over every fixture and simulator page,
 * tests/fuzz/fuzz_es_html_diff.c over mutated pages):
 *  - a tag is '<' + ASCII letter; names and attribute names are [A-Za-z0-9:_.-], compared
 *    case-insensitively and cut after 100 bytes (the rest reads as a further attribute);
 *    attribute values may be quoted ('>' inside quotes does not end the tag) or bare;
 *  - <!-- --> comments, <!DOCTYPE …>, <?pi …> and end tags are skipped; an unterminated
 *    comment, PI or quoted value swallows the rest of the page;
 *  - script and style content is raw text up to "</script" / "</style" (any case, whatever
 *    follows); an end tag with a longer name ("</scripts>") is dropped and the content goes
 *    on (the pieces are then joined in a copy); an end tag at the start of the content is
 *    markup, and <noscript there closes a script, <body or <frameset a style; an
 *    unterminated script runs to the end of the page; <script/> is an empty script;
 *  - the first action attribute of each <form> is checked for logon.cgi.
 * Bytes pass through unchanged (libxml2 reads invalid UTF-8 as Latin-1 and drops control
 * characters); a NUL reads as a space in markup and stays a NUL in script text (js.c takes
 * it as a space outside strings).
 *
 * Where libxml2's recovery depends on state this pass does not keep (the open elements),
 * the pass makes its own choice and sets a bit in quirks: then, and only then, the two may
 * extract different scripts. See ES_HTML_QUIRK_*.
 *
 * es_html_parse_libxml2 (html_libxml2.c) is that reference, kept for the tests, the fuzz
 * target and bench/parse_pages; the daemon does not call it (it is still linked, through
 * page.h's es_*_via functions). */
#ifndef TPLINK_EASYSMART_HTML_H
#define TPLINK_EASYSMART_HTML_H

#include <stdbool.h>
#include <stddef.h>

#define ES_HTML_MAX_BYTES ((size_t)1 << 20) /* real pages are 3-11 KB */
#define ES_HTML_MAX_SCRIPTS 256             /* later scripts are not data: ignored */

/* A script's content begins with an end tag other than </script>: libxml2 closes the
 * script when that element is open (an ancestor), and ignores the tag otherwise; the scan
 * always ignores it. */
#define ES_HTML_QUIRK_END_TAG_IN_SCRIPT 1u
/* A <!DOCTYPE with a quote before its '>': libxml2 reads quoted literals only after
 * PUBLIC/SYSTEM; the scan ends the declaration at the first '>'. */
#define ES_HTML_QUIRK_DOCTYPE_QUOTE 2u
/* A form's action attribute contains '&': libxml2 decodes character references; the scan
 * does not. */
#define ES_HTML_QUIRK_ACTION_ENTITY 4u
/* A start tag's name has a prefix (<a:script>): libxml2's tree keeps the part after the
 * colon as the element's name, so its reading sees a script or a form there; for HTML (and
 * the scan) it is an unknown element. */
#define ES_HTML_QUIRK_PREFIXED_NAME 8u

struct es_html_script {
    const char *text; /* not NUL-terminated; into the page, or into the copy (arena) */
    size_t len;
};

struct es_html {
    struct es_html_script scripts[ES_HTML_MAX_SCRIPTS]; /* in document order */
    size_t n_scripts;
    bool logon_form;  /* a <form> whose action is logon.cgi */
    unsigned quirks;  /* ES_HTML_QUIRK_* met on the way (es_html_scan only) */
    char *arena;      /* owned copies of joined or converted scripts, or NULL */
    size_t arena_len; /* bytes used */
};

/* Returns 0, or -1 with a one-line reason in err (too large, empty, out of memory). The
 * page must outlive out. */
int es_html_scan(const char *text, size_t len, struct es_html *out, char *err, size_t errlen);

/* The reference: libxml2's HTML parser (recover mode, declared charsets ignored, NUL read as
 * a space), then a walk of the tree. Same contract; the scripts are copies in the arena. */
int es_html_parse_libxml2(const char *text, size_t len, struct es_html *out, char *err,
                          size_t errlen);

void es_html_free(struct es_html *h);

/* The bounds both readers apply to a page before reading it: 0, or -1 with the reason in err
 * (larger than ES_HTML_MAX_BYTES, or empty). */
int es_html_check_size(size_t len, char *err, size_t errlen);

/* action="/logon.cgi", "logon.cgi", "http://host/logon.cgi?x": the last path segment. */
bool es_html_is_logon_action(const char *a, size_t len);

#endif
