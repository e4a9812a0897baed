/* A reader for the data literals in Easy Smart page scripts.
 *
 * It tokenizes JavaScript (strings with escapes, comments, regular expression literals,
 * brackets) well enough to find top-level `var|let|const NAME = VALUE` declarations and
 * read VALUE when it is a literal: numbers, strings, [..], {key: ..} and new Array(..),
 * nested, with trailing commas. Any other initializer (a call, an expression) is recorded
 * as "not a literal" and skipped. Declarations inside functions or blocks are ignored.
 *
 * Every read is bounded by the script's length (which may contain NULs or end anywhere),
 * and every structure by the caps below; a value that exceeds a cap is recorded with the
 * reason and no value. Pure: no I/O, no global state. */
#ifndef TPLINK_EASYSMART_JS_H
#define TPLINK_EASYSMART_JS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JS_MAX_ARRAY 1024   /* elements of one array or members of one object */
#define JS_MAX_STRING 16384 /* decoded bytes of one string */
#define JS_MAX_DEPTH 8      /* nesting of arrays and objects */
#define JS_MAX_NODES 65536  /* values per document */
#define JS_MAX_VARS 4096    /* declarations with a literal or not, per document */
#define JS_MAX_NAME 128     /* bytes of a variable name or object key */

enum js_type { JS_NONE, JS_NUMBER, JS_STRING, JS_ARRAY, JS_OBJECT, JS_BOOL, JS_NULL };

/* Number flags. A number without flags is an unsigned integer that fits in num. */
#define JS_NUM_NEG 1u  /* had a leading '-' and is not zero */
#define JS_NUM_FRAC 2u /* had a fraction or exponent: num holds the integer part only */
#define JS_NUM_BIG 4u  /* above UINT64_MAX: num is meaningless */

struct js_node {
    uint8_t type; /* enum js_type */
    uint8_t flags;
    uint32_t count;   /* JS_ARRAY, JS_OBJECT: number of children */
    uint32_t first;   /* index of the first child, 0 = none */
    uint32_t next;    /* index of the next sibling, 0 = none */
    uint32_t key_off; /* object member: its key in the pool */
    uint32_t key_len;
    uint32_t str_off; /* JS_STRING: decoded bytes in the pool (may contain NUL) */
    uint32_t str_len;
    uint64_t num; /* JS_NUMBER: magnitude; JS_BOOL: 0/1 */
};

struct js_var {
    uint32_t name_off, name_len;
    uint32_t node;     /* its value, 0 when the initializer is not a readable literal */
    const char *error; /* why not, when node is 0 (static text) */
    unsigned script;   /* index of the script that declared it */
};

struct js_doc {
    struct js_node *nodes; /* nodes[0] is a placeholder so index 0 can mean "none" */
    size_t n_nodes, cap_nodes;
    char *pool;
    size_t pool_len, pool_cap;
    struct js_var *vars;
    size_t n_vars, cap_vars;
    bool truncated; /* a document cap was reached: later declarations were dropped */
};

void js_doc_init(struct js_doc *d);
void js_doc_free(struct js_doc *d);

/* Reads the top-level declarations of one script. Returns 0, or -1 when out of memory. */
int js_doc_add_script(struct js_doc *d, const char *src, size_t len, unsigned script);

/* False only when src certainly assigns none of names (NULL-terminated) in a way
 * js_doc_add_script would record (`NAME = …`): every '=' is looked at, and the identifier
 * before it compared; a line break or a '/' between them (a comment may sit there) counts
 * as a possible assignment. A byte search, several times faster than tokenizing, so that
 * scripts without the wanted variables (the large UI scripts) need not be read. */
bool js_may_assign(const char *src, size_t len, const char *const *names);

/* The last declaration of name that has an initializer (what the page's JavaScript would
 * see after running its top-level code), in any script (script < 0) or in one. NULL when
 * there is none. */
const struct js_var *js_find_var(const struct js_doc *d, const char *name, int script);

const struct js_node *js_node(const struct js_doc *d, uint32_t index);
/* Children of an array or object, in order; NULL at the end. */
const struct js_node *js_first(const struct js_doc *d, const struct js_node *n);
const struct js_node *js_next(const struct js_doc *d, const struct js_node *n);
/* The array element at i, or NULL. Linear in i. */
const struct js_node *js_at(const struct js_doc *d, const struct js_node *arr, size_t i);
/* The object's last member named key, or NULL. */
const struct js_node *js_member(const struct js_doc *d, const struct js_node *obj, const char *key);
/* A string's decoded bytes (not NUL-terminated in general; *len is authoritative). */
const char *js_string(const struct js_doc *d, const struct js_node *n, size_t *len);
/* An unsigned integer no larger than max: true and *out set, else false. */
bool js_uint(const struct js_node *n, uint64_t max, uint64_t *out);

#endif
