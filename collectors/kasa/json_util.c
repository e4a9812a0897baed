#include "collectors/kasa/json_util.h"

#include <math.h>
#include <string.h>

void kasa_json_copy_str(char *dst, size_t cap, json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || cap == 0)
        return;
    size_t len = strlen(s); /* an embedded \u0000 ends it, as with printf */
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

bool kasa_json_number(json_t *obj, const char *key, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

const char *kasa_json_err_text(json_error_t *e)
{
    for (char *p = e->text; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    return e->text;
}
