/* One HTTP POST at a time to a Kasa device's web port (/app...), over libcurl multi on the
 * loop (collectors/easysmart/curl_loop.h). Shared by the KLAP and AES transports.
 *
 * curl's cookie engine stays off: the transports pick the cookies themselves, because a
 * KLAP device must get TP_SESSIONID back and not TIMEOUT (kasa-protocol.md §11). Each
 * answer's TP_SESSIONID / SESSIONID and TIMEOUT values are kept until the next POST. */
#ifndef TPLINK_KASA_HTTP_H
#define TPLINK_KASA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "collectors/collector.h"

/* Far above any plug reply (a few KiB); a longer body fails the exchange. */
#define KASA_HTTP_BODY_MAX (256u * 1024u)
#define KASA_HTTP_COOKIE_MAX 128

enum kasa_http_kind {
    KASA_HTTP_BINARY, /* KLAP: raw bytes */
    KASA_HTTP_JSON,   /* AES: JSON with the headers the app sends (requestByApp) */
};

/* st is POLL_OK when an HTTP answer arrived, whatever its status code; then status is
 * that code and body (NUL-terminated, len bytes) the answer's body. Otherwise body is
 * NULL and detail says what failed (connect, timeout, oversized body). */
struct kasa_http_result {
    enum poll_status st;
    long status;
    const uint8_t *body;
    size_t len;
    const char *detail;
};

typedef void (*kasa_http_done_fn)(void *ctx, const struct kasa_http_result *r);

struct kasa_http;

/* host is a name or an IP literal (IPv6 without brackets); timeout_s bounds each POST. */
struct kasa_http *kasa_http_new(struct ev_loop *loop, const char *host, uint16_t port,
                                double timeout_s, char *err, size_t errlen);
/* Ends a POST in flight without calling its callback. NULL is a no-op. */
void kasa_http_free(struct kasa_http *h);

/* POSTs body (len bytes, kept by the caller until the callback) to path (with its query,
 * "/app/request?seq=5"). With cookie non-NULL, sends "Cookie: TP_SESSIONID=<cookie>".
 * The callback runs exactly once from the loop, never inside this call, unless
 * kasa_http_cancel or kasa_http_free comes first. Returns 0, or -1 when a POST is
 * already in flight or curl refuses (then no callback). */
int kasa_http_post(struct kasa_http *h, const char *path, const void *body, size_t len,
                   enum kasa_http_kind kind, const char *cookie, kasa_http_done_fn cb, void *ctx);
void kasa_http_cancel(struct kasa_http *h);
bool kasa_http_busy(const struct kasa_http *h);

/* From the last answer's Set-Cookie headers: the session id (TP_SESSIONID, else
 * SESSIONID) or NULL; the TIMEOUT value in seconds, or 0 when absent or not a number in
 * 1..10^7. Values that are not plain cookie text (at most KASA_HTTP_COOKIE_MAX - 1 bytes
 * of printable ASCII without space, '"', ',', ';', '\\') are ignored. */
const char *kasa_http_session_cookie(const struct kasa_http *h);
unsigned kasa_http_timeout_cookie(const struct kasa_http *h);

/* Parses one Set-Cookie header value into the fields above (exposed for tests). */
void kasa_http_parse_set_cookie(struct kasa_http *h, const char *value, size_t len);

#endif
