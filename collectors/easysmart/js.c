#include "collectors/easysmart/js.h"

#include <stdlib.h>
#include <string.h>

/* ---- tokenizer ---------------------------------------------------------------------- */

enum tok_kind { TK_EOF, TK_IDENT, TK_NUM, TK_STR, TK_PUNCT, TK_REGEX, TK_BAD };

struct tok {
    enum tok_kind kind;
    const char *s; /* the token's bytes; for TK_STR including the quotes */
    size_t len;
};

/* Copyable by value: saving and restoring it is how the parser looks ahead. */
struct lexer {
    const char *p, *end;
    bool regex_ok;   /* a '/' here starts a regular expression, not a division */
    bool line_start; /* only whitespace since the last line break (for "-->") */
    /* A regular expression scan from before here found no end: a '/' before this point is
     * a division. Keeps a line full of unclosed '/' linear instead of quadratic. */
    const char *regex_fail_until;
};

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(unsigned char c)
{
    /* NUL too: a stray NUL in a page must not end or confuse the scan */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0;
}

static bool starts_with(const struct lexer *lx, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(lx->end - lx->p) >= n && memcmp(lx->p, lit, n) == 0;
}

static void skip_line(struct lexer *lx)
{
    while (lx->p < lx->end && *lx->p != '\n' && *lx->p != '\r')
        lx->p++;
}

static void skip_space(struct lexer *lx)
{
    while (lx->p < lx->end) {
        unsigned char c = (unsigned char)*lx->p;
        if (is_space(c)) {
            if (c == '\n' || c == '\r')
                lx->line_start = true;
            lx->p++;
        } else if ((c == '/' || c == '<' || c == '-') && /* else no comment starts here */
                   (starts_with(lx, "//") || starts_with(lx, "<!--") ||
                    (lx->line_start && starts_with(lx, "-->")))) {
            skip_line(lx); /* the last two are HTML-style comments that browsers accept */
        } else if (c == '/' && starts_with(lx, "/*")) {
            const char *q = lx->p + 2;
            while (q + 1 < lx->end && !(q[0] == '*' && q[1] == '/')) {
                if (*q == '\n' || *q == '\r')
                    lx->line_start = true;
                q++;
            }
            lx->p = q + 1 < lx->end ? q + 2 : lx->end;
        } else {
            return;
        }
    }
}

static bool keyword_allows_regex(const struct tok *t)
{
    static const char *const words[] = {"return", "typeof", "instanceof", "in",    "of",
                                        "new",    "delete", "void",       "throw", "case",
                                        "do",     "else",   "yield",      "await"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == t->len && memcmp(words[i], t->s, t->len) == 0)
            return true;
    return false;
}

/* Scans a quoted string from lx->p (at the quote). False when it is unterminated: in
 * that case lx->p is left at the line break or the end. */
static bool scan_string(struct lexer *lx)
{
    char quote = *lx->p++;
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '\\') {
            if (lx->end - lx->p < 2) {
                lx->p = lx->end;
                return false;
            }
            lx->p += 2;
        } else if (c == quote) {
            lx->p++;
            return true;
        } else if ((c == '\n' || c == '\r') && quote != '`') {
            return false;
        } else {
            lx->p++;
        }
    }
    return false;
}

/* Scans /body/flags from lx->p (at the first '/'). False (and lx->p unchanged) when no
 * regular expression ends on this line. */
static bool scan_regex(struct lexer *lx)
{
    if (lx->p < lx->regex_fail_until)
        return false;
    const char *q = lx->p + 1;
    bool in_class = false;
    while (q < lx->end) {
        char c = *q;
        if (c == '\n' || c == '\r')
            break;
        if (c == '\\') {
            if (lx->end - q < 2) {
                q = lx->end;
                break;
            }
            q += 2;
            continue;
        }
        if (c == '[')
            in_class = true;
        else if (c == ']')
            in_class = false;
        else if (c == '/' && !in_class)
            break;
        q++;
    }
    if (q >= lx->end || *q != '/') {
        lx->regex_fail_until = q;
        return false;
    }
    q++;
    while (q < lx->end && is_ident_char((unsigned char)*q))
        q++;
    lx->p = q;
    return true;
}

static struct tok lex_next(struct lexer *lx)
{
    struct tok t = {TK_EOF, NULL, 0};
    skip_space(lx);
    if (lx->p >= lx->end) {
        t.s = lx->end;
        return t;
    }
    const char *start = lx->p;
    unsigned char c = (unsigned char)*lx->p;
    t.s = start;
    if (is_ident_start(c)) {
        while (lx->p < lx->end && is_ident_char((unsigned char)*lx->p))
            lx->p++;
        t.kind = TK_IDENT;
    } else if (is_digit(c) ||
               (c == '.' && lx->end - lx->p > 1 && is_digit((unsigned char)lx->p[1]))) {
        /* digits, letters, dots and exponent signs: validated when the value is read */
        while (lx->p < lx->end) {
            unsigned char d = (unsigned char)*lx->p;
            if (is_ident_char(d) || d == '.' ||
                ((d == '+' || d == '-') && ((lx->p[-1] | 0x20) == 'e') &&
                 !(lx->p - start >= 2 && start[0] == '0' && (start[1] | 0x20) == 'x')))
                lx->p++;
            else
                break;
        }
        t.kind = TK_NUM;
    } else if (c == '"' || c == '\'' || c == '`') {
        t.kind = scan_string(lx) ? TK_STR : TK_BAD;
    } else if (c == '/' && lx->regex_ok && scan_regex(lx)) {
        t.kind = TK_REGEX;
    } else {
        lx->p++;
        t.kind = TK_PUNCT;
    }
    t.len = (size_t)(lx->p - start);
    lx->line_start = false;
    switch (t.kind) {
    case TK_IDENT:
        lx->regex_ok = keyword_allows_regex(&t);
        break;
    case TK_PUNCT:
        lx->regex_ok = !(c == ')' || c == ']' || c == '}');
        break;
    default:
        lx->regex_ok = false;
    }
    return t;
}

static bool is_punct(const struct tok *t, char c)
{
    return t->kind == TK_PUNCT && t->s[0] == c;
}

static bool is_word(const struct tok *t, const char *w)
{
    return t->kind == TK_IDENT && strlen(w) == t->len && memcmp(t->s, w, t->len) == 0;
}

static bool is_decl_keyword(const struct tok *t)
{
    return is_word(t, "var") || is_word(t, "let") || is_word(t, "const");
}

/* ---- document storage --------------------------------------------------------------- */

struct parser {
    struct js_doc *d;
    struct lexer lx;
    const char *error; /* why the current value is not readable */
    bool oom;
};

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*buf, ncap * elem);
    if (!p)
        return false;
    *buf = p;
    *cap = ncap;
    return true;
}

static uint32_t new_node(struct parser *ps, enum js_type type)
{
    struct js_doc *d = ps->d;
    if (d->n_nodes >= JS_MAX_NODES) {
        ps->error = "too many values in the page";
        return 0;
    }
    if (!grow((void **)&d->nodes, &d->cap_nodes, d->n_nodes + 1, sizeof *d->nodes)) {
        ps->oom = true;
        ps->error = "out of memory";
        return 0;
    }
    uint32_t i = (uint32_t)d->n_nodes++;
    memset(&d->nodes[i], 0, sizeof d->nodes[i]);
    d->nodes[i].type = (uint8_t)type;
    return i;
}

/* Reserves room for n more pool bytes plus a NUL. */
static bool pool_reserve(struct parser *ps, size_t n)
{
    struct js_doc *d = ps->d;
    if (n > UINT32_MAX - 1 - d->pool_len) {
        ps->error = "page too large";
        return false;
    }
    if (!grow((void **)&d->pool, &d->pool_cap, d->pool_len + n + 1, 1)) {
        ps->oom = true;
        ps->error = "out of memory";
        return false;
    }
    return true;
}

static bool pool_add(struct parser *ps, const char *s, size_t n, uint32_t *off)
{
    if (!pool_reserve(ps, n))
        return false;
    *off = (uint32_t)ps->d->pool_len;
    memcpy(ps->d->pool + ps->d->pool_len, s, n);
    ps->d->pool_len += n;
    ps->d->pool[ps->d->pool_len++] = '\0';
    return true;
}

/* ---- literals ----------------------------------------------------------------------- */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads a number token's text. False when it is not a plain JS number literal. */
static bool read_number(const char *s, size_t len, uint64_t *num, uint8_t *flags)
{
    uint64_t v = 0;
    uint8_t f = 0;
    size_t i = 0;
    if (len > 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
        for (i = 2; i < len; i++) {
            int h = hex_value((unsigned char)s[i]);
            if (h < 0)
                return false;
            if (v > (UINT64_MAX >> 4))
                f |= JS_NUM_BIG;
            v = (v << 4) | (uint64_t)h;
        }
        *num = v;
        *flags = f;
        return true;
    }
    size_t int_digits = 0;
    for (; i < len && is_digit((unsigned char)s[i]); i++, int_digits++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            f |= JS_NUM_BIG;
        v = v * 10 + d;
    }
    if (int_digits > 1 && s[0] == '0')
        return false; /* legacy octal in sloppy JS: refuse rather than guess */
    size_t frac_digits = 0;
    if (i < len && s[i] == '.') {
        f |= JS_NUM_FRAC;
        for (i++; i < len && is_digit((unsigned char)s[i]); i++)
            frac_digits++;
    }
    if (int_digits == 0 && frac_digits == 0)
        return false;
    if (i < len && (s[i] | 0x20) == 'e') {
        f |= JS_NUM_FRAC;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        for (; i < len && is_digit((unsigned char)s[i]); i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    if (i != len)
        return false;
    *num = v;
    *flags = f;
    return true;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* n hex digits at s[*i] (bounded by len); -1 when they are not there. */
static long read_hex(const char *s, size_t len, size_t *i, size_t n)
{
    if (len - *i < n)
        return -1;
    long v = 0;
    for (size_t k = 0; k < n; k++) {
        int h = hex_value((unsigned char)s[*i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    *i += n;
    return v;
}

/* \u escape after the 'u': XXXX or {X…}; 0 on success. */
static int read_unicode_escape(const char *s, size_t len, size_t *i, uint32_t *cp)
{
    if (*i < len && s[*i] == '{') {
        size_t k = *i + 1;
        uint32_t v = 0;
        size_t digits = 0;
        while (k < len && s[k] != '}') {
            int h = hex_value((unsigned char)s[k]);
            if (h < 0 || ++digits > 6)
                return -1;
            v = v * 16 + (uint32_t)h;
            k++;
        }
        if (k >= len || digits == 0 || v > 0x10FFFF)
            return -1;
        *i = k + 1;
        *cp = v;
        return 0;
    }
    long v = read_hex(s, len, i, 4);
    if (v < 0)
        return -1;
    *cp = (uint32_t)v;
    /* a surrogate pair written as two escapes is one character */
    if (*cp >= 0xD800 && *cp <= 0xDBFF && len - *i >= 6 && s[*i] == '\\' && s[*i + 1] == 'u') {
        size_t k = *i + 2;
        long lo = read_hex(s, len, &k, 4);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
            *i = k;
        }
    }
    return 0;
}

/* Decodes a string token (with its quotes) into the pool. */
static bool decode_string(struct parser *ps, const struct tok *t, uint32_t *off, uint32_t *len)
{
    const char *s = t->s + 1;
    size_t n = t->len - 2;
    if (t->s[0] == '`') {
        for (size_t i = 0; i + 1 < n; i++) {
            if (s[i] == '\\') {
                i++;
            } else if (s[i] == '$' && s[i + 1] == '{') {
                ps->error = "template string with substitutions";
                return false;
            }
        }
    }
    /* decoding never makes a string longer, so this bounds the writes below */
    size_t room = n < JS_MAX_STRING + 4 ? n : JS_MAX_STRING + 4;
    if (!pool_reserve(ps, room))
        return false;
    char *out = ps->d->pool + ps->d->pool_len;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char tmp[4];
        size_t tn = 1;
        char c = s[i++];
        tmp[0] = c;
        if (c == '\\' && i < n) {
            char e = s[i++];
            uint32_t cp;
            switch (e) {
            case 'n':
                tmp[0] = '\n';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'v':
                tmp[0] = '\v';
                break;
            case '\r':
                if (i < n && s[i] == '\n')
                    i++;
                tn = 0; /* line continuation */
                break;
            case '\n':
                tn = 0;
                break;
            case 'x': {
                long v = read_hex(s, n, &i, 2);
                if (v < 0) {
                    ps->error = "bad \\x escape in a string";
                    return false;
                }
                tn = utf8_encode((uint32_t)v, tmp);
                break;
            }
            case 'u':
                if (read_unicode_escape(s, n, &i, &cp) != 0) {
                    ps->error = "bad \\u escape in a string";
                    return false;
                }
                tn = utf8_encode(cp, tmp);
                break;
            default:
                if (e >= '0' && e <= '7') {
                    /* \0 and legacy octal escapes, at most \377 */
                    unsigned v = (unsigned)(e - '0');
                    while (i < n && s[i] >= '0' && s[i] <= '7' &&
                           v * 8 + (unsigned)(s[i] - '0') <= 0377)
                        v = v * 8 + (unsigned)(s[i++] - '0');
                    tn = utf8_encode(v, tmp);
                } else {
                    tmp[0] = e;
                }
            }
        }
        if (o + tn > JS_MAX_STRING) {
            ps->error = "string too long";
            return false;
        }
        if (o + tn > room) { /* cannot happen (see above); keeps the bound local */
            ps->error = "string decoding overflow";
            return false;
        }
        memcpy(out + o, tmp, tn);
        o += tn;
    }
    out[o] = '\0';
    *off = (uint32_t)ps->d->pool_len;
    *len = (uint32_t)o;
    ps->d->pool_len += o + 1;
    return true;
}

static uint32_t parse_value(struct parser *ps, int depth);

static struct tok peek(const struct parser *ps)
{
    struct lexer copy = ps->lx;
    return lex_next(&copy);
}

/* Elements up to close (']' or ')'), after the opening bracket. */
static uint32_t parse_list(struct parser *ps, int depth, char close)
{
    if (depth >= JS_MAX_DEPTH) {
        ps->error = "values nested deeper than 8";
        return 0;
    }
    uint32_t arr = new_node(ps, JS_ARRAY);
    if (!arr)
        return 0;
    uint32_t last = 0;
    for (;;) {
        struct tok t = peek(ps);
        if (is_punct(&t, close)) {
            lex_next(&ps->lx);
            return arr;
        }
        if (ps->d->nodes[arr].count >= JS_MAX_ARRAY) {
            ps->error = "array longer than 1024 elements";
            return 0;
        }
        uint32_t el = parse_value(ps, depth + 1);
        if (!el)
            return 0;
        if (last)
            ps->d->nodes[last].next = el;
        else
            ps->d->nodes[arr].first = el;
        last = el;
        ps->d->nodes[arr].count++;
        t = lex_next(&ps->lx);
        if (is_punct(&t, close))
            return arr;
        if (!is_punct(&t, ',')) {
            ps->error = t.kind == TK_EOF ? "unterminated array" : "unexpected token in an array";
            return 0;
        }
    }
}

static uint32_t parse_object(struct parser *ps, int depth)
{
    if (depth >= JS_MAX_DEPTH) {
        ps->error = "values nested deeper than 8";
        return 0;
    }
    uint32_t obj = new_node(ps, JS_OBJECT);
    if (!obj)
        return 0;
    uint32_t last = 0;
    for (;;) {
        struct tok t = lex_next(&ps->lx);
        if (is_punct(&t, '}'))
            return obj;
        if (ps->d->nodes[obj].count >= JS_MAX_ARRAY) {
            ps->error = "object with more than 1024 members";
            return 0;
        }
        uint32_t key_off = 0, key_len = 0;
        if (t.kind == TK_IDENT || t.kind == TK_NUM) {
            if (t.len > JS_MAX_NAME) {
                ps->error = "object key too long";
                return 0;
            }
            if (!pool_add(ps, t.s, t.len, &key_off))
                return 0;
            key_len = (uint32_t)t.len;
        } else if (t.kind == TK_STR) {
            if (!decode_string(ps, &t, &key_off, &key_len))
                return 0;
            if (key_len > JS_MAX_NAME) {
                ps->error = "object key too long";
                return 0;
            }
        } else {
            ps->error = t.kind == TK_EOF ? "unterminated object" : "unexpected token in an object";
            return 0;
        }
        t = lex_next(&ps->lx);
        if (!is_punct(&t, ':')) {
            ps->error = t.kind == TK_EOF ? "unterminated object" : "expected ':' in an object";
            return 0;
        }
        uint32_t val = parse_value(ps, depth + 1);
        if (!val)
            return 0;
        ps->d->nodes[val].key_off = key_off;
        ps->d->nodes[val].key_len = key_len;
        if (last)
            ps->d->nodes[last].next = val;
        else
            ps->d->nodes[obj].first = val;
        last = val;
        ps->d->nodes[obj].count++;
        t = lex_next(&ps->lx);
        if (is_punct(&t, '}'))
            return obj;
        if (!is_punct(&t, ',')) {
            ps->error = t.kind == TK_EOF ? "unterminated object" : "unexpected token in an object";
            return 0;
        }
    }
}

static uint32_t number_node(struct parser *ps, const struct tok *t, bool negative)
{
    uint64_t v;
    uint8_t f;
    if (!read_number(t->s, t->len, &v, &f)) {
        ps->error = "malformed number";
        return 0;
    }
    uint32_t n = new_node(ps, JS_NUMBER);
    if (!n)
        return 0;
    if (negative && (v != 0 || (f & (JS_NUM_FRAC | JS_NUM_BIG))))
        f |= JS_NUM_NEG;
    ps->d->nodes[n].num = v;
    ps->d->nodes[n].flags = f;
    return n;
}

static uint32_t parse_value(struct parser *ps, int depth)
{
    struct tok t = lex_next(&ps->lx);
    if (t.kind == TK_PUNCT && (t.s[0] == '-' || t.s[0] == '+')) {
        struct tok num = lex_next(&ps->lx);
        if (num.kind != TK_NUM) {
            ps->error = "not a literal";
            return 0;
        }
        return number_node(ps, &num, t.s[0] == '-');
    }
    switch (t.kind) {
    case TK_NUM:
        return number_node(ps, &t, false);
    case TK_STR: {
        uint32_t off, len;
        if (!decode_string(ps, &t, &off, &len))
            return 0;
        uint32_t n = new_node(ps, JS_STRING);
        if (!n)
            return 0;
        ps->d->nodes[n].str_off = off;
        ps->d->nodes[n].str_len = len;
        return n;
    }
    case TK_PUNCT:
        if (t.s[0] == '[')
            return parse_list(ps, depth, ']');
        if (t.s[0] == '{')
            return parse_object(ps, depth);
        break;
    case TK_IDENT:
        if (is_word(&t, "true") || is_word(&t, "false")) {
            uint32_t n = new_node(ps, JS_BOOL);
            if (n)
                ps->d->nodes[n].num = is_word(&t, "true");
            return n;
        }
        if (is_word(&t, "null"))
            return new_node(ps, JS_NULL);
        if (is_word(&t, "new")) {
            struct tok a = lex_next(&ps->lx);
            struct tok paren = lex_next(&ps->lx);
            if (!is_word(&a, "Array") || !is_punct(&paren, '('))
                break;
            uint32_t arr = parse_list(ps, depth, ')');
            if (!arr)
                return 0;
            const struct js_node *node = &ps->d->nodes[arr];
            if (node->count == 1 && ps->d->nodes[node->first].type == JS_NUMBER) {
                /* new Array(n) is n empty slots, not [n] */
                ps->error = "new Array(length) holds no data";
                return 0;
            }
            return arr;
        }
        break;
    case TK_EOF:
        ps->error = "missing value";
        return 0;
    default:
        break;
    }
    ps->error = "not a literal";
    return 0;
}

/* True when the token after a literal ends it (so the literal is the whole initializer).
 * An operator means the literal is part of an expression. */
static bool literal_complete(const struct parser *ps)
{
    struct tok t = peek(ps);
    if (t.kind != TK_PUNCT)
        return true; /* end, or a new statement by automatic semicolon insertion */
    return strchr(",;)]}", t.s[0]) != NULL;
}

/* Skips an initializer that is not a literal: to the ',' or ';' that ends it, a closing
 * bracket of the enclosing code, or a new declaration. */
static void skip_expression(struct parser *ps)
{
    size_t depth = 0;
    for (;;) {
        struct lexer save = ps->lx;
        struct tok t = lex_next(&ps->lx);
        if (t.kind == TK_EOF)
            return;
        if (depth == 0 && (is_punct(&t, ',') || is_punct(&t, ';') || is_punct(&t, ')') ||
                           is_punct(&t, ']') || is_punct(&t, '}') || is_decl_keyword(&t))) {
            ps->lx = save;
            return;
        }
        if (t.kind == TK_PUNCT && strchr("([{", t.s[0]))
            depth++;
        else if (t.kind == TK_PUNCT && strchr(")]}", t.s[0]) && depth > 0)
            depth--;
    }
}

static bool is_reserved(const struct tok *t)
{
    static const char *const words[] = {"var",  "let",   "const", "function", "new",
                                        "if",   "for",   "while", "return",   "this",
                                        "true", "false", "null",  "typeof",   "in"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (is_word(t, words[i]))
            return true;
    return false;
}

static void add_var(struct parser *ps, const struct tok *name, uint32_t node, const char *error,
                    unsigned script)
{
    struct js_doc *d = ps->d;
    if (d->n_vars >= JS_MAX_VARS) {
        d->truncated = true;
        return;
    }
    if (!grow((void **)&d->vars, &d->cap_vars, d->n_vars + 1, sizeof *d->vars)) {
        ps->oom = true;
        return;
    }
    uint32_t off;
    if (!pool_add(ps, name->s, name->len, &off))
        return;
    struct js_var *v = &d->vars[d->n_vars++];
    v->name_off = off;
    v->name_len = (uint32_t)name->len;
    v->node = node;
    v->error = node ? NULL : error;
    v->script = script;
}

/* After `var`: NAME [= VALUE] {, NAME [= VALUE]} */
static void parse_declarations(struct parser *ps, unsigned script)
{
    for (;;) {
        struct lexer save = ps->lx;
        struct tok name = lex_next(&ps->lx);
        if (name.kind != TK_IDENT || is_reserved(&name) || name.len > JS_MAX_NAME) {
            ps->lx = save;
            return;
        }
        save = ps->lx;
        struct tok t = lex_next(&ps->lx);
        if (is_punct(&t, '=')) {
            struct lexer value_start = ps->lx;
            size_t nodes_before = ps->d->n_nodes, pool_before = ps->d->pool_len;
            ps->error = NULL;
            uint32_t node = parse_value(ps, 0);
            if (node && !literal_complete(ps)) {
                node = 0;
                ps->error = "not a literal";
            }
            if (ps->oom)
                return;
            if (!node) {
                /* drop what the failed value allocated, then skip it as plain code */
                ps->d->n_nodes = nodes_before;
                ps->d->pool_len = pool_before;
                ps->lx = value_start;
                skip_expression(ps);
            }
            add_var(ps, &name, node, ps->error ? ps->error : "not a literal", script);
            if (ps->oom)
                return;
        } else {
            ps->lx = save; /* declared without a value: nothing to record */
        }
        save = ps->lx;
        t = lex_next(&ps->lx);
        if (is_punct(&t, ','))
            continue;
        if (!is_punct(&t, ';'))
            ps->lx = save;
        return;
    }
}

/* ---- public ------------------------------------------------------------------------- */

void js_doc_init(struct js_doc *d)
{
    memset(d, 0, sizeof *d);
}

void js_doc_free(struct js_doc *d)
{
    free(d->nodes);
    free(d->pool);
    free(d->vars);
    js_doc_init(d);
}

int js_doc_add_script(struct js_doc *d, const char *src, size_t len, unsigned script)
{
    struct parser ps = {.d = d};
    if (d->n_nodes == 0) {
        ps.error = NULL;
        new_node(&ps, JS_NONE); /* the placeholder at index 0 */
        if (d->n_nodes == 0)
            return -1;
    }
    ps.lx.p = src;
    ps.lx.end = src + len;
    ps.lx.regex_ok = true;
    ps.lx.line_start = true;
    ps.lx.regex_fail_until = src;
    size_t depth = 0;
    for (;;) {
        struct tok t = lex_next(&ps.lx);
        if (t.kind == TK_EOF)
            break;
        if (t.kind == TK_PUNCT && strchr("([{", t.s[0])) {
            depth++;
        } else if (t.kind == TK_PUNCT && strchr(")]}", t.s[0])) {
            if (depth > 0)
                depth--;
        } else if (depth == 0 && is_decl_keyword(&t)) {
            parse_declarations(&ps, script);
            if (ps.oom)
                return -1;
        }
    }
    return 0;
}

bool js_may_assign(const char *src, size_t len, const char *const *names)
{
    const char *end = src + len;
    for (const char *p = src; p < end;) {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return false;
        p = eq + 1;
        /* back over what skip_space skips: a line break may end a line comment, and a
         * '/' may end a block comment, between a name and its '=' */
        const char *q = eq;
        while (q > src && is_space((unsigned char)q[-1])) {
            if (q[-1] == '\n' || q[-1] == '\r')
                return true;
            q--;
        }
        if (q == src)
            continue;
        if (q[-1] == '/')
            return true;
        const char *b = q;
        while (b > src && is_ident_char((unsigned char)b[-1]))
            b--;
        /* tokens never end inside a run of identifier bytes, so the run is the token */
        size_t k = (size_t)(q - b);
        for (const char *const *n = names; k && *n; n++)
            if (strlen(*n) == k && memcmp(*n, b, k) == 0)
                return true;
    }
    return false;
}

const struct js_var *js_find_var(const struct js_doc *d, const char *name, int script)
{
    size_t n = strlen(name);
    for (size_t i = d->n_vars; i-- > 0;) {
        const struct js_var *v = &d->vars[i];
        if (script >= 0 && v->script != (unsigned)script)
            continue;
        if (v->name_len == n && memcmp(d->pool + v->name_off, name, n) == 0)
            return v;
    }
    return NULL;
}

const struct js_node *js_node(const struct js_doc *d, uint32_t index)
{
    if (index == 0 || index >= d->n_nodes)
        return NULL;
    return &d->nodes[index];
}

const struct js_node *js_first(const struct js_doc *d, const struct js_node *n)
{
    if (!n || (n->type != JS_ARRAY && n->type != JS_OBJECT))
        return NULL;
    return js_node(d, n->first);
}

const struct js_node *js_next(const struct js_doc *d, const struct js_node *n)
{
    return n ? js_node(d, n->next) : NULL;
}

const struct js_node *js_at(const struct js_doc *d, const struct js_node *arr, size_t i)
{
    if (!arr || arr->type != JS_ARRAY || i >= arr->count)
        return NULL;
    const struct js_node *c = js_first(d, arr);
    while (c && i-- > 0)
        c = js_next(d, c);
    return c;
}

const struct js_node *js_member(const struct js_doc *d, const struct js_node *obj, const char *key)
{
    if (!obj || obj->type != JS_OBJECT)
        return NULL;
    size_t n = strlen(key);
    const struct js_node *found = NULL;
    for (const struct js_node *c = js_first(d, obj); c; c = js_next(d, c))
        if (c->key_len == n && memcmp(d->pool + c->key_off, key, n) == 0)
            found = c;
    return found;
}

const char *js_string(const struct js_doc *d, const struct js_node *n, size_t *len)
{
    if (!n || n->type != JS_STRING)
        return NULL;
    *len = n->str_len;
    return d->pool + n->str_off;
}

bool js_uint(const struct js_node *n, uint64_t max, uint64_t *out)
{
    if (!n || n->type != JS_NUMBER || n->flags != 0 || n->num > max)
        return false;
    *out = n->num;
    return true;
}
