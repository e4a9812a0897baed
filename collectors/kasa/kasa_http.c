#include "collectors/kasa/kasa_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "collectors/easysmart/curl_loop.h"
#include "daemon/strbuf.h"

struct kasa_http {
    struct ev_loop *loop;
    struct curl_loop *cl;
    CURL *easy;
    struct curl_slist *hdr_binary, *hdr_json;
    struct curl_xfer xfer;
    char base[300]; /* http://host:port */
    long timeout_ms;
    char path[160]; /* without the query, for messages */
    struct strbuf body;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
    char session[KASA_HTTP_COOKIE_MAX];
    unsigned timeout_cookie;
    kasa_http_done_fn cb;
    void *ctx;
};

/* RFC 6265 cookie-octet, minus nothing: what a session id can be. */
static bool cookie_text(const char *s, size_t len)
{
    if (len == 0 || len >= KASA_HTTP_COOKIE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

static unsigned parse_timeout(const char *s, size_t len)
{
    unsigned long v = 0;
    if (len == 0 || len > 8)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return v >= 1 && v <= 10000000ul ? (unsigned)v : 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r' ||
                    (*s)[*len - 1] == '\n'))
        (*len)--;
}

/* Devices send "TP_SESSIONID=..;TIMEOUT=86400" in one header, where TIMEOUT sits in the
 * attribute position; so every name=value pair of the header is looked at. */
void kasa_http_parse_set_cookie(struct kasa_http *h, const char *value, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && value[j] != ';')
            j++;
        const char *pair = value + i;
        size_t plen = j - i;
        trim(&pair, &plen);
        const char *eq = memchr(pair, '=', plen);
        if (eq) {
            size_t nlen = (size_t)(eq - pair);
            const char *v = eq + 1;
            size_t vlen = plen - nlen - 1;
            trim(&v, &vlen);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            bool tp = nlen == 12 && !memcmp(pair, "TP_SESSIONID", 12);
            bool plain = nlen == 9 && !memcmp(pair, "SESSIONID", 9);
            if ((tp || (plain && !h->session[0])) && cookie_text(v, vlen)) {
                memcpy(h->session, v, vlen);
                h->session[vlen] = '\0';
            } else if (nlen == 7 && !memcmp(pair, "TIMEOUT", 7)) {
                h->timeout_cookie = parse_timeout(v, vlen);
            }
        }
        i = j + 1;
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct kasa_http *h = ud;
    size_t len = size * n;
    static const char name[] = "set-cookie:";
    if (len > sizeof name - 1 && !strncasecmp(buf, name, sizeof name - 1))
        kasa_http_parse_set_cookie(h, buf + sizeof name - 1, len - (sizeof name - 1));
    return len;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    struct kasa_http *h = ud;
    size_t len = size * n;
    if (!strbuf_append(&h->body, ptr, len)) {
        h->too_big = true;
        return 0; /* aborts the transfer */
    }
    return len;
}

static enum poll_status curl_status(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return POLL_ERR_TIMEOUT;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return POLL_ERR_PROTOCOL;
    default:
        return POLL_ERR_CONNECT;
    }
}

static void xfer_done(struct curl_xfer *x, CURLcode rc)
{
    struct kasa_http *h = x->arg;
    kasa_http_done_fn cb = h->cb;
    void *ctx = h->ctx;
    h->cb = NULL;
    struct kasa_http_result r = {.st = POLL_OK};
    char detail[CURL_ERROR_SIZE + 200];
    if (h->too_big) {
        r.st = POLL_ERR_PROTOCOL;
        snprintf(detail, sizeof detail, "POST %s: answer longer than %u bytes", h->path,
                 KASA_HTTP_BODY_MAX);
        r.detail = detail;
    } else if (rc != CURLE_OK) {
        r.st = curl_status(rc);
        snprintf(detail, sizeof detail, "POST %s: %s", h->path,
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        r.detail = detail;
    } else {
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r.status);
        r.body = (const uint8_t *)(h->body.data ? h->body.data : "");
        r.len = h->body.len;
    }
    /* Last: the callback may post again or free everything. */
    if (cb)
        cb(ctx, &r);
}

struct kasa_http *kasa_http_new(struct ev_loop *loop, const char *host, uint16_t port,
                                double timeout_s, char *err, size_t errlen)
{
    struct kasa_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->loop = loop;
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(h->base, sizeof h->base, v6 ? "http://[%s]:%u" : "http://%s:%u", host,
                     (unsigned)port);
    if (n < 0 || (size_t)n >= sizeof h->base) {
        snprintf(err, errlen, "host name too long");
        free(h);
        return NULL;
    }
    double ms = timeout_s * 1000.0;
    h->timeout_ms = ms < 1.0 ? 1 : ms > 3600000.0 ? 3600000 : (long)ms;
    strbuf_init(&h->body, KASA_HTTP_BODY_MAX);
    h->cl = curl_loop_new(loop);
    h->easy = curl_easy_init();
    static const char *const common[] = {"Expect:", "Accept-Encoding:"};
    for (size_t i = 0; i < 2; i++) {
        h->hdr_binary = curl_slist_append(h->hdr_binary, common[i]);
        h->hdr_json = curl_slist_append(h->hdr_json, common[i]);
    }
    h->hdr_binary = curl_slist_append(h->hdr_binary, "Content-Type: application/octet-stream");
    h->hdr_json = curl_slist_append(h->hdr_json, "Content-Type: application/json");
    h->hdr_json = curl_slist_append(h->hdr_json, "Accept: application/json");
    h->hdr_json = curl_slist_append(h->hdr_json, "requestByApp: true");
    if (!h->cl || !h->easy || !h->hdr_binary || !h->hdr_json) {
        snprintf(err, errlen, "out of memory");
        kasa_http_free(h);
        return NULL;
    }
    CURL *e = h->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L); /* plugs serve few connections */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");     /* the session must not leave the LAN */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE, (long)KASA_HTTP_BODY_MAX);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    h->xfer.easy = e;
    h->xfer.done = xfer_done;
    h->xfer.arg = h;
    return h;
}

void kasa_http_free(struct kasa_http *h)
{
    if (!h)
        return;
    if (h->cl)
        curl_loop_free(h->cl); /* removes the transfer in flight, without its callback */
    if (h->easy)
        curl_easy_cleanup(h->easy);
    curl_slist_free_all(h->hdr_binary);
    curl_slist_free_all(h->hdr_json);
    strbuf_free(&h->body);
    explicit_bzero(h->session, sizeof h->session);
    free(h);
}

int kasa_http_post(struct kasa_http *h, const char *path, const void *body, size_t len,
                   enum kasa_http_kind kind, const char *cookie, kasa_http_done_fn cb, void *ctx)
{
    if (h->xfer.active || len > (size_t)KASA_HTTP_BODY_MAX)
        return -1;
    char url[sizeof h->base + 400];
    int n = snprintf(url, sizeof url, "%s%s", h->base, path);
    if (n < 0 || (size_t)n >= sizeof url)
        return -1;
    size_t plen = strcspn(path, "?");
    snprintf(h->path, sizeof h->path, "%.*s", (int)(plen < 150 ? plen : 150), path);
    char cookie_hdr[KASA_HTTP_COOKIE_MAX + 16];
    if (cookie)
        snprintf(cookie_hdr, sizeof cookie_hdr, "TP_SESSIONID=%s", cookie);
    strbuf_reset(&h->body);
    h->too_big = false;
    h->errbuf[0] = '\0';
    h->session[0] = '\0';
    h->timeout_cookie = 0;
    CURL *e = h->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, kind == KASA_HTTP_JSON ? h->hdr_json : h->hdr_binary);
    /* curl copies the cookie string; NULL sends none. */
    curl_easy_setopt(e, CURLOPT_COOKIE, cookie ? cookie_hdr : NULL);
    explicit_bzero(cookie_hdr, sizeof cookie_hdr);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)len);
    h->cb = cb;
    h->ctx = ctx;
    if (curl_loop_add(h->cl, &h->xfer) < 0) {
        h->cb = NULL;
        return -1;
    }
    return 0;
}

void kasa_http_cancel(struct kasa_http *h)
{
    if (!h)
        return;
    curl_loop_remove(h->cl, &h->xfer);
    h->cb = NULL;
}

bool kasa_http_busy(const struct kasa_http *h)
{
    return h->xfer.active;
}

const char *kasa_http_session_cookie(const struct kasa_http *h)
{
    return h->session[0] ? h->session : NULL;
}

unsigned kasa_http_timeout_cookie(const struct kasa_http *h)
{
    return h->timeout_cookie;
}
