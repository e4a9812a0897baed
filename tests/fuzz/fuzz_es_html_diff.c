/* libFuzzer target, differential: the bounded scanner (es_html_scan, what the daemon uses)
 * against libxml2's HTML parser (es_html_parse_libxml2, the reference) on a page body.
 *
 * "Agree", the rule this target enforces:
 *  1. The input is first reduced to printable ASCII, tab, LF and CR (every other byte
 *     becomes a space). libxml2 reads invalid UTF-8 as Latin-1 and drops control
 *     characters and NUL, the scanner passes bytes through; on the reduced input the two
 *     see the same bytes. (fuzz_es_page feeds the scanner raw bytes.)
 *  2. When the scanner reports no quirk (ES_HTML_QUIRK_*: constructs whose reading in
 *     libxml2 depends on the open elements, a quoted DOCTYPE, an entity in a form action),
 *     both extract the same scripts, byte for byte and in the same order, and the same
 *     logon-form flag; and every codec (es_classify_page with each anchor, es_parse_*)
 *     returns the same result code and, on success, the same struct, through either
 *     extraction. Error texts may differ ("not parsable as HTML" against "… missing").
 *  3. With a quirk, only the codecs' invariants of fuzz_es_page are checked.
 * Agreement of the codecs follows from 2 (they read only the scripts and the flag), so
 * when fuzzing, each input runs the extraction check and one codec, picked by its length;
 * the replay test runs every codec and every anchor on each input. */
#include "collectors/easysmart/html.h"
#include "collectors/easysmart/page.h"
#include "tests/fuzz/fuzz.h"

static const char *const anchors[] = {NULL, "all_info", "tmp_info", "info_ds", "portConfig"};

static void same_scripts(const struct es_html *a, const struct es_html *b)
{
    FUZZ_CHECK(a->n_scripts == b->n_scripts);
    for (size_t i = 0; i < a->n_scripts; i++) {
        FUZZ_CHECK(a->scripts[i].len == b->scripts[i].len);
        FUZZ_CHECK(a->scripts[i].len == 0 ||
                   memcmp(a->scripts[i].text, b->scripts[i].text, a->scripts[i].len) == 0);
    }
    FUZZ_CHECK(a->logon_form == b->logon_form);
}

/* The codecs' results hold numbers and fixed strings only; equal means bit for bit (a NaN
 * equals itself, 0.0 and -0.0 differ), over structs zeroed before the call. */
static bool same_bytes(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

#define SAME_CODEC(fn, type)                                                                       \
    do {                                                                                           \
        type x, y;                                                                                 \
        memset(&x, 0, sizeof x); /* padding equal in both: compared bytewise below */              \
        memset(&y, 0, sizeof y);                                                                   \
        char ex[256] = "", ey[256] = "";                                                           \
        int rx = fn(ES_HTML_SCANNER, text, len, &x, ex, sizeof ex);                                \
        int ry = fn(ES_HTML_LIBXML2, text, len, &y, ey, sizeof ey);                                \
        fuzz_check_err(ex, sizeof ex);                                                             \
        if (compare) {                                                                             \
            FUZZ_CHECK(rx == ry);                                                                  \
            FUZZ_CHECK(rx != 0 || same_bytes(&x, &y, sizeof x));                                   \
        }                                                                                          \
    } while (0)

static void codecs(const char *text, size_t len, unsigned op, bool compare)
{
    switch (op) {
    case 0:
        for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
            int ex = 12345, ey = 12345;
            enum es_page_class cx =
                es_classify_page_via(ES_HTML_SCANNER, text, len, anchors[i], &ex);
            enum es_page_class cy =
                es_classify_page_via(ES_HTML_LIBXML2, text, len, anchors[i], &ey);
            FUZZ_CHECK(cx == ES_PAGE_LOGIN || ex == -1);
            if (compare)
                FUZZ_CHECK(cx == cy && ex == ey);
        }
        break;
    case 1:
        SAME_CODEC(es_parse_port_statistics_via, struct es_port_statistics);
        break;
    case 2:
        SAME_CODEC(es_parse_system_info_via, struct es_system_info);
        break;
    case 3:
        SAME_CODEC(es_parse_port_settings_via, struct es_port_settings);
        break;
    default:
        SAME_CODEC(es_parse_poe_via, struct es_poe);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > ES_HTML_MAX_BYTES)
        return 0;
    char *text = malloc(size);
    if (!text)
        abort();
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        text[i] = (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' ? (char)c : ' ';
    }
    size_t len = size;

    struct es_html scan, ref;
    char e1[128], e2[128];
    int r1 = es_html_scan(text, len, &scan, e1, sizeof e1);
    int r2 = es_html_parse_libxml2(text, len, &ref, e2, sizeof e2);
    FUZZ_CHECK(r1 == 0); /* not empty, not too large: only out of memory could fail */
    bool compare = scan.quirks == 0;
    if (compare) {
        if (r2 == 0)
            same_scripts(&scan, &ref);
        else /* libxml2 found no document: nothing to find for the scanner either */
            FUZZ_CHECK(scan.n_scripts == 0 && !scan.logon_form);
    }
    for (size_t i = 0; i < scan.n_scripts; i++)
        FUZZ_CHECK(scan.scripts[i].len <= len);
    es_html_free(&scan);
    if (r2 == 0)
        es_html_free(&ref);

#ifdef FUZZ_REPLAY
    for (unsigned op = 0; op < 5; op++)
        codecs(text, len, op, compare);
#else
    codecs(text, len, (unsigned)(size % 5), compare);
#endif
    free(text);
    return 0;
}
