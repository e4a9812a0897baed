/* The bounded scanner of html.h: one pass, memchr to the next '<', and the few rules of
 * libxml2 2.9's recovering parser that decide where a script starts and ends.
 *
 * The daemon reads every page with it: the per-poll statistics page and the rare ones
 * (login, SystemInfo, PortSetting, PoE) alike, so that one reading decides what a page is
 * and holds. The daemon no longer calls libxml2; it stays (html_libxml2.c, reached through
 * the es_*_via functions of page.h, so still linked) as the reference for the differential
 * unit test and fuzz target and for bench/parse_pages. */
#include "collectors/easysmart/html.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 100 /* libxml2's HTML_PARSER_BUFFER_SIZE: longer names are cut */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* Byte classes: 1 ASCII letter, 2 name start [A-Za-z_:.], 4 name [A-Za-z0-9:_.-],
 * 8 blank (space, tab, LF, CR, and NUL, which libxml2 got as a space). */
static const unsigned char byte_class[256] = {
    8, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 6, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 0, 0, 0, 0, 0,
    0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 6,
    0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_letter(unsigned char c)
{
    return byte_class[c] & 1;
}

static bool is_blank(unsigned char c)
{
    return byte_class[c] & 8;
}

/* libxml2's htmlParseHTMLName: [A-Za-z_:.] then [A-Za-z0-9:_.-]. */
static bool is_name_start(unsigned char c)
{
    return byte_class[c] & 2;
}

static bool is_name_char(unsigned char c)
{
    return byte_class[c] & 4;
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

struct scan {
    const unsigned char *s;
    size_t n;
    struct es_html *h;
};

/* A name at i (at most NAME_MAX_LEN bytes): its length, 0 when none starts there. */
static size_t name_at(const struct scan *sc, size_t i)
{
    if (i >= sc->n || !is_name_start(sc->s[i]))
        return 0;
    size_t k = 0;
    while (k < NAME_MAX_LEN && i + k < sc->n && is_name_char(sc->s[i + k]))
        k++;
    return k;
}

/* Whether the name at s[i..i+len) is lit (lower case), ignoring case. */
static bool name_is(const struct scan *sc, size_t i, size_t len, const char *lit)
{
    size_t k = strlen(lit);
    if (len != k)
        return false;
    for (size_t j = 0; j < k; j++)
        if (lower(sc->s[i + j]) != (unsigned char)lit[j])
            return false;
    return true;
}

static bool starts_with_ci(const struct scan *sc, size_t i, const char *lit)
{
    size_t k = strlen(lit);
    if (sc->n - i < k)
        return false;
    for (size_t j = 0; j < k; j++)
        if (lower(sc->s[i + j]) != (unsigned char)lit[j])
            return false;
    return true;
}

/* Index after the next '>' at or after i, or n. */
static size_t after_gt(const struct scan *sc, size_t i)
{
    if (i >= sc->n)
        return sc->n;
    const unsigned char *gt = memchr(sc->s + i, '>', sc->n - i);
    return gt ? (size_t)(gt - sc->s) + 1 : sc->n;
}

static size_t skip_blanks(const struct scan *sc, size_t i)
{
    while (i < sc->n && is_blank(sc->s[i]))
        i++;
    return i;
}

/* "<!--" at i: the comment ends at the first "-->" or "--!>" after the "<!--" (libxml2
 * 2.9 does not end it at "<!-->" or "<!--->"); unterminated, it takes the rest. */
static size_t skip_comment(const struct scan *sc, size_t i)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, j = i + 4;
    for (size_t p = j; p + 2 < n;) {
        const unsigned char *dash = memchr(s + p, '-', n - p - 2);
        if (!dash)
            break;
        p = (size_t)(dash - s);
        if (s[p + 1] == '-') {
            if (s[p + 2] == '>')
                return p + 3;
            if (s[p + 2] == '!' && p + 3 < n && s[p + 3] == '>')
                return p + 4;
        }
        p++;
    }
    return n;
}

/* "</" at i, outside raw text: a name makes an end tag, skipped to its '>' (quotes mean
 * nothing there); without one only the "</" goes. */
static size_t skip_end_tag(const struct scan *sc, size_t i)
{
    if (name_at(sc, i + 2) == 0)
        return i + 2;
    return after_gt(sc, i + 2);
}

struct piece {
    size_t off, len;
};

/* Raw text of a script or style element from i (after its start tag) to its end tag; the
 * pieces of the content go to pieces (NULL for style). Returns where markup resumes. */
static size_t raw_text(struct scan *sc, size_t i, const char *name, struct piece *pieces,
                       size_t *n_pieces, size_t max_pieces)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n, nlen = strlen(name);
    for (;;) {
        /* at the start of content, libxml2's document loop runs before its raw text
         * reader, and takes an end tag as markup */
        if (i + 1 < n && s[i] == '<' && s[i + 1] == '/') {
            size_t k = name_at(sc, i + 2);
            if (k == 0) {
                i += 2;
                continue;
            }
            if (name_is(sc, i + 2, k, name))
                return after_gt(sc, i + 2 + k);
            sc->h->quirks |= ES_HTML_QUIRK_END_TAG_IN_SCRIPT;
            i = after_gt(sc, i + 2 + k);
            continue;
        }
        if (i + 1 < n && s[i] == '<' && is_letter(s[i + 1])) {
            /* libxml2's htmlStartClose, as 2.9 applies it here: <noscript> closes an open
             * script, <body> and <frameset> an open style (found by probing every HTML 4
             * element) */
            size_t k = 0;
            while (k < NAME_MAX_LEN && i + 1 + k < n && is_name_char(s[i + 1 + k]) &&
                   s[i + 1 + k] != '.')
                k++;
            if (pieces ? name_is(sc, i + 1, k, "noscript")
                       : name_is(sc, i + 1, k, "body") || name_is(sc, i + 1, k, "frameset"))
                return i;
        }
        if (i >= n)
            return n;
        /* the raw text reader: to "</" + the element's name, whatever follows it */
        size_t p = i;
        for (;;) {
            const unsigned char *lt = p < n ? memchr(s + p, '<', n - p) : NULL;
            if (!lt) {
                p = n;
                break;
            }
            p = (size_t)(lt - s);
            if (p + 1 < n && s[p + 1] == '/' && starts_with_ci(sc, p + 2, name))
                break;
            p++;
        }
        if (pieces && p > i && *n_pieces < max_pieces) {
            pieces[*n_pieces].off = i;
            pieces[*n_pieces].len = p - i;
            (*n_pieces)++;
        }
        if (p >= n)
            return n;
        size_t k = name_at(sc, p + 2);
        if (k == nlen)
            return after_gt(sc, p + 2 + k); /* the end tag */
        /* "</scripts>": not the element's end tag; libxml2 drops it, and the content goes
         * on, unless an open element has that name */
        sc->h->quirks |= ES_HTML_QUIRK_END_TAG_IN_SCRIPT;
        i = after_gt(sc, p + 2 + k);
    }
}

/* Records a script from its pieces: the page's bytes for one piece, a copy for several. */
static int add_script(struct scan *sc, const struct piece *pieces, size_t n_pieces)
{
    struct es_html *h = sc->h;
    if (h->n_scripts >= ES_HTML_MAX_SCRIPTS)
        return 0;
    struct es_html_script *out = &h->scripts[h->n_scripts++];
    if (n_pieces == 0) {
        out->text = (const char *)sc->s;
        out->len = 0;
        return 0;
    }
    if (n_pieces == 1) {
        out->text = (const char *)sc->s + pieces[0].off;
        out->len = pieces[0].len;
        return 0;
    }
    /* the joined scripts are disjoint parts of the page: the page's length is enough */
    if (!h->arena) {
        h->arena = malloc(sc->n);
        if (!h->arena)
            return -1;
    }
    char *dst = h->arena + h->arena_len;
    size_t len = 0;
    for (size_t i = 0; i < n_pieces; i++) {
        if (pieces[i].len > sc->n - h->arena_len - len)
            return -1; /* cannot happen: pieces do not overlap */
        memcpy(dst + len, sc->s + pieces[i].off, pieces[i].len);
        len += pieces[i].len;
    }
    out->text = dst;
    out->len = len;
    h->arena_len += len;
    return 0;
}

/* A start tag at i ('<' + letter). Returns where parsing resumes; -1 when out of memory. */
static int start_tag(struct scan *sc, size_t i, size_t *next)
{
    const unsigned char *s = sc->s;
    size_t n = sc->n;
    size_t nlen = name_at(sc, i + 1);
    if (memchr(s + i + 1, ':', nlen))
        sc->h->quirks |= ES_HTML_QUIRK_PREFIXED_NAME;
    bool script = name_is(sc, i + 1, nlen, "script"), style = name_is(sc, i + 1, nlen, "style"),
         form = name_is(sc, i + 1, nlen, "form");
    size_t j = i + 1 + nlen;
    bool have_action = false;
    size_t action_off = 0, action_len = 0;
    bool action_value = false;
    /* attributes, as htmlParseStartTag reads them */
    j = skip_blanks(sc, j);
    while (j < n && s[j] != '>' && !(s[j] == '/' && j + 1 < n && s[j + 1] == '>')) {
        size_t alen = name_at(sc, j);
        if (alen == 0) {
            /* not an attribute: dropped up to a blank or the end of the tag */
            while (j < n && !is_blank(s[j]) && s[j] != '>' &&
                   !(s[j] == '/' && j + 1 < n && s[j + 1] == '>'))
                j++;
            j = skip_blanks(sc, j);
            continue;
        }
        bool is_action = form && !have_action && name_is(sc, j, alen, "action");
        j = skip_blanks(sc, j + alen);
        size_t voff = 0, vlen = 0;
        bool has_value = false;
        if (j < n && s[j] == '=') {
            j = skip_blanks(sc, j + 1);
            if (j < n && (s[j] == '"' || s[j] == '\'')) {
                const unsigned char *q = memchr(s + j + 1, s[j], n - j - 1);
                if (q) {
                    voff = j + 1;
                    vlen = (size_t)(q - s) - voff;
                    has_value = true;
                    j = (size_t)(q - s) + 1;
                } else {
                    j = n; /* unterminated: the value, and the tag, take the rest */
                }
            } else {
                voff = j;
                while (j < n && !is_blank(s[j]) && s[j] != '>')
                    j++;
                vlen = j - voff;
                has_value = true;
            }
        }
        if (is_action) {
            /* the first action counts; libxml2 drops a repeated attribute */
            have_action = true;
            action_value = has_value;
            action_off = voff;
            action_len = vlen;
        }
        j = skip_blanks(sc, j);
    }
    if (form && have_action && action_value) {
        if (memchr(s + action_off, '&', action_len))
            sc->h->quirks |= ES_HTML_QUIRK_ACTION_ENTITY;
        if (es_html_is_logon_action((const char *)s + action_off, action_len))
            sc->h->logon_form = true;
    }
    bool empty = j >= n || s[j] == '/'; /* unterminated, or <x/> */
    size_t after = j >= n ? n : s[j] == '/' ? j + 2 : j + 1;
    if (!script && !style) {
        *next = after;
        return 0;
    }
    struct piece pieces[8];
    size_t n_pieces = 0;
    if (!empty)
        after = raw_text(sc, after, script ? "script" : "style", script ? pieces : NULL, &n_pieces,
                         sizeof pieces / sizeof pieces[0]);
    *next = after;
    return script ? add_script(sc, pieces, n_pieces) : 0;
}

int es_html_check_size(size_t len, char *err, size_t errlen)
{
    if (len > ES_HTML_MAX_BYTES) {
        set_err(err, errlen, "page larger than 1 MiB");
        return -1;
    }
    if (len == 0) {
        set_err(err, errlen, "empty page");
        return -1;
    }
    return 0;
}

int es_html_scan(const char *text, size_t len, struct es_html *out, char *err, size_t errlen)
{
    out->n_scripts = 0;
    out->logon_form = false;
    out->quirks = 0;
    out->arena = NULL;
    out->arena_len = 0;
    if (es_html_check_size(len, err, errlen) < 0)
        return -1;
    struct scan sc = {(const unsigned char *)text, len, out};
    const unsigned char *s = sc.s;
    size_t i = 0;
    while (i < len) {
        const unsigned char *lt = memchr(s + i, '<', len - i);
        if (!lt)
            break;
        i = (size_t)(lt - s);
        unsigned char c1 = i + 1 < len ? s[i + 1] : 0;
        if (c1 == '/') {
            i = skip_end_tag(&sc, i);
        } else if (c1 == '!') {
            if (i + 3 < len && s[i + 2] == '-' && s[i + 3] == '-') {
                i = skip_comment(&sc, i);
            } else if (starts_with_ci(&sc, i + 2, "doctype")) {
                size_t end = after_gt(&sc, i + 9);
                for (size_t k = i + 9; k < end; k++)
                    if (s[k] == '"' || s[k] == '\'')
                        out->quirks |= ES_HTML_QUIRK_DOCTYPE_QUOTE;
                i = end;
            } else {
                i++; /* text */
            }
        } else if (c1 == '?') {
            /* a processing instruction needs a name: then it runs to '>' */
            unsigned char c2 = i + 2 < len ? s[i + 2] : 0;
            if (is_letter(c2) || c2 == '_' || c2 == ':' || c2 >= 0x80)
                i = after_gt(&sc, i + 2);
            else
                i += 2;
        } else if (is_letter(c1)) {
            size_t next;
            if (start_tag(&sc, i, &next) != 0) {
                es_html_free(out);
                set_err(err, errlen, "out of memory");
                return -1;
            }
            i = next;
        } else {
            i++; /* text */
        }
    }
    return 0;
}

void es_html_free(struct es_html *h)
{
    free(h->arena);
    h->arena = NULL;
    h->arena_len = 0;
    h->n_scripts = 0;
    h->logon_form = false;
    h->quirks = 0;
}

bool es_html_is_logon_action(const char *a, size_t len)
{
    size_t n = 0;
    while (n < len && a[n] != '?' && a[n] != '#')
        n++;
    while (n > 0 && is_blank((unsigned char)a[n - 1]))
        n--;
    static const char name[] = "logon.cgi";
    size_t k = sizeof name - 1;
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (lower((unsigned char)a[n - k + i]) != (unsigned char)name[i])
            return false;
    if (n == k)
        return true;
    return a[n - k - 1] == '/' || is_blank((unsigned char)a[n - k - 1]);
}
