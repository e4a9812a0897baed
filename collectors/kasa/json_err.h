/* jansson's error text quotes the input near the error ("invalid escape near '"\u<LF>'"),
 * and that input is the device's bytes: made printable ASCII here before it goes into a
 * one-line message. */
#ifndef TPLINK_KASA_JSON_ERR_H
#define TPLINK_KASA_JSON_ERR_H

#include <jansson.h>

/* Replaces control and non-ASCII bytes of e->text with '?' in place; returns e->text. */
static inline const char *kasa_json_err_text(json_error_t *e)
{
    for (char *p = e->text; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return e->text;
}

#endif
