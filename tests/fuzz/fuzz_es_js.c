/* libFuzzer target: the JavaScript literal reader behind the Easy Smart page parsers
 * (js_doc_add_script), without the HTML parser in front, so it runs far faster than
 * fuzz_es_page. The input (but see REPEAT_MAX) is split at each "</script>" into up to 8
 * scripts of one document; then every declaration and every value is walked and the
 * document's structure checked: indices, pool offsets, child counts, caps, and the
 * lookups. */
#include "collectors/easysmart/js.h"
#include "tests/fuzz/fuzz.h"

#define MAX_SCRIPTS 8

static void check_span(const struct js_doc *d, uint32_t off, uint32_t len)
{
    FUZZ_CHECK((size_t)off + len <= d->pool_len);
}

/* Walks a value; returns the number of nodes below and including n. */
static size_t walk(const struct js_doc *d, const struct js_node *n, unsigned depth)
{
    FUZZ_CHECK(n != NULL);
    FUZZ_CHECK(n->type <= JS_NULL && n->type != JS_NONE);
    size_t total = 1;
    switch (n->type) {
    case JS_STRING: {
        size_t len = 0;
        const char *s = js_string(d, n, &len);
        FUZZ_CHECK(s != NULL && len == n->str_len && len <= JS_MAX_STRING);
        check_span(d, n->str_off, n->str_len);
        break;
    }
    case JS_NUMBER: {
        uint64_t v = 0;
        FUZZ_CHECK(js_uint(n, UINT64_MAX, &v) == (n->flags == 0));
        break;
    }
    case JS_ARRAY:
    case JS_OBJECT: {
        FUZZ_CHECK(depth < JS_MAX_DEPTH);
        FUZZ_CHECK(n->count <= JS_MAX_ARRAY);
        uint32_t i = 0;
        for (const struct js_node *c = js_first(d, n); c; c = js_next(d, c), i++) {
            FUZZ_CHECK(i < n->count);
            FUZZ_CHECK(c > n); /* children come after their parent: no cycles */
            if (n->type == JS_OBJECT) {
                check_span(d, c->key_off, c->key_len);
                FUZZ_CHECK(c->key_len <= JS_MAX_NAME);
                char key[JS_MAX_NAME + 1];
                memcpy(key, d->pool + c->key_off, c->key_len);
                key[c->key_len] = '\0';
                /* A later member of the same name wins; keys with a NUL cannot be asked.
                 * The first few only: js_member is linear. */
                if (i < 16 && strlen(key) == c->key_len) {
                    const struct js_node *m = js_member(d, n, key);
                    FUZZ_CHECK(m != NULL && m >= c);
                }
            } else if (i < 4) {
                FUZZ_CHECK(js_at(d, n, i) == c);
            }
            total += walk(d, c, depth + 1);
        }
        FUZZ_CHECK(i == n->count);
        if (n->type == JS_ARRAY)
            FUZZ_CHECK(js_at(d, n, n->count) == NULL);
        break;
    }
    default:
        break;
    }
    return total;
}

static void check_doc(const struct js_doc *d, unsigned n_scripts)
{
    FUZZ_CHECK(d->n_nodes >= 1 && d->n_nodes <= JS_MAX_NODES + 1);
    FUZZ_CHECK(d->n_vars <= JS_MAX_VARS);
    FUZZ_CHECK(d->pool_len <= d->pool_cap);
    for (size_t i = 0; i < d->n_vars; i++) {
        const struct js_var *v = &d->vars[i];
        FUZZ_CHECK(v->script < n_scripts);
        FUZZ_CHECK(v->name_len >= 1 && v->name_len <= JS_MAX_NAME);
        check_span(d, v->name_off, v->name_len);
        FUZZ_CHECK(v->node != 0 || v->error != NULL);
        char name[JS_MAX_NAME + 1];
        memcpy(name, d->pool + v->name_off, v->name_len);
        name[v->name_len] = '\0';
        FUZZ_CHECK(strlen(name) == v->name_len); /* identifiers hold no NUL */
        /* js_find_var is linear: ask for the first and the last few names only. */
        if (i < 32 || i + 32 >= d->n_vars) {
            const struct js_var *found = js_find_var(d, name, -1);
            FUZZ_CHECK(found != NULL && found >= v);
            const struct js_var *in_script = js_find_var(d, name, (int)v->script);
            FUZZ_CHECK(in_script != NULL && in_script >= v && in_script->script == v->script);
        }
        if (v->node) {
            const struct js_node *n = js_node(d, v->node);
            FUZZ_CHECK(n != NULL);
            FUZZ_CHECK(walk(d, n, 0) <= d->n_nodes);
        }
    }
    FUZZ_CHECK(js_node(d, 0) == NULL);
    FUZZ_CHECK(js_node(d, (uint32_t)d->n_nodes) == NULL);
}

/* Replaying, an input that starts with byte 0x01 is a pattern: byte 1 is a count, then
 * head NUL unit NUL tail (without the first NUL all is unit, without the second there is
 * no tail); the script is the head, the unit repeated (count + 1) * 4 times (at most
 * 160 KiB) and the tail. The seeds corpus/es_js/seed-repeat-* use it to
 * cross the caps (65536 nodes, 4096 declarations, 16 KiB strings, 1024 elements) with small
 * files. Fuzzing, it is off: every repeat count looks new to libFuzzer, so such inputs
 * crowd the corpus and, being long, slow the run tenfold. */
#define REPEAT_MAX ((size_t)160 << 10)

static void add_scripts(struct js_doc *d, const char *p, const char *end, unsigned *n_out)
{
    static const char sep[] = "</script>";
    const size_t sep_len = sizeof sep - 1;
    unsigned n = 0;
    while (n < MAX_SCRIPTS) {
        const char *stop = end;
        if (n + 1 < MAX_SCRIPTS)
            for (const char *q = p; (size_t)(end - q) >= sep_len; q++)
                if (*q == '<' && memcmp(q, sep, sep_len) == 0) {
                    stop = q;
                    break;
                }
        FUZZ_CHECK(js_doc_add_script(d, p, (size_t)(stop - p), n) == 0);
        n++;
        if (stop == end)
            break;
        p = stop + sep_len;
    }
    *n_out = n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *expanded = NULL;
    const char *p = (const char *)data;
    size_t len = size;
#ifdef FUZZ_REPLAY
    if (size >= 3 && data[0] == 0x01) {
        /* count, head NUL unit [NUL tail] */
        const uint8_t *head = data + 2, *end = data + size;
        const uint8_t *nul = memchr(head, '\0', (size_t)(end - head));
        const uint8_t *unit = nul ? nul + 1 : head;
        const uint8_t *nul2 = memchr(unit, '\0', (size_t)(end - unit));
        const uint8_t *tail = nul2 ? nul2 + 1 : end;
        size_t head_len = (size_t)(unit - head) - (nul ? 1 : 0);
        size_t unit_len = (size_t)((nul2 ? nul2 : end) - unit), tail_len = (size_t)(end - tail);
        size_t times = unit_len ? ((size_t)data[1] + 1) * 4 : 0;
        if (unit_len && times > REPEAT_MAX / unit_len)
            times = REPEAT_MAX / unit_len;
        len = head_len + unit_len * times + tail_len;
        expanded = malloc(len ? len : 1);
        FUZZ_CHECK(expanded != NULL);
        memcpy(expanded, head, head_len);
        for (size_t i = 0; i < times; i++)
            memcpy(expanded + head_len + i * unit_len, unit, unit_len);
        memcpy(expanded + head_len + unit_len * times, tail, tail_len);
        p = expanded;
    }
#endif
    struct js_doc d;
    js_doc_init(&d);
    unsigned n = 0;
    add_scripts(&d, p, p + len, &n);
    check_doc(&d, n);
    js_doc_free(&d);
    free(expanded);
    return 0;
}
