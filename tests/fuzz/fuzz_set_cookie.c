/* libFuzzer target: kasa_http_parse_set_cookie, the Set-Cookie values of a KLAP or AES
 * device's HTTP answers. The input is one answer's headers' values, one per line (as curl
 * hands them over, after "Set-Cookie:"), parsed into a fresh struct kasa_http, as each
 * answer starts from scratch. What may come out: a session id of plain cookie text and a
 * TIMEOUT in 1..10^7 s (or 0). The event loop and curl handle are never run. */
#include <ev.h>

#include "collectors/kasa/kasa_http.h"
#include "tests/fuzz/fuzz.h"

static struct ev_loop *loop(void)
{
    static struct ev_loop *l; /* one per process; nothing ever runs on it */
    if (!l)
        l = ev_loop_new(EVFLAG_AUTO);
    FUZZ_CHECK(l != NULL);
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    struct kasa_http *h = kasa_http_new(loop(), "127.0.0.1", 80, 1.0, err, sizeof err);
    FUZZ_CHECK(h != NULL);
    const char *p = (const char *)data, *end = p + size;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end; /* the line break stays, as curl passes it */
        kasa_http_parse_set_cookie(h, p, (size_t)(stop - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    const char *session = kasa_http_session_cookie(h);
    if (session) {
        size_t n = strlen(session);
        FUZZ_CHECK(n >= 1 && n < KASA_HTTP_COOKIE_MAX);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)session[i];
            FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\');
        }
    }
    unsigned t = kasa_http_timeout_cookie(h);
    FUZZ_CHECK(t == 0 || (t >= 1 && t <= 10000000));
    kasa_http_free(h);
    return 0;
}
