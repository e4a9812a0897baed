/* Small jansson helpers the Kasa codecs share. */
#ifndef TPLINK_KASA_JSON_UTIL_H
#define TPLINK_KASA_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Copies obj[key] into dst (cut to cap - 1 bytes) when it is a string; else leaves dst. */
void kasa_json_copy_str(char *dst, size_t cap, json_t *obj, const char *key);

/* obj[key] when it is a finite number. */
bool kasa_json_number(json_t *obj, const char *key, double *out);

/* jansson's error text quotes the input near the error ("invalid escape near '"\u<LF>'"),
 * and that input is the device's bytes: control and non-ASCII bytes of e->text become '?'
 * in place before it goes into a one-line message. Returns e->text. */
const char *kasa_json_err_text(json_error_t *e);

#endif
