/* The authenticated Kasa transports on the device's web port (kasa-protocol.md §11, §12):
 *
 *   klap  POST /app/handshake1, /app/handshake2, then /app/request?seq=N, AES-128-CBC with
 *         keys derived from both seeds and the account hash (v1 md5, v2 sha1/sha256);
 *         carries IOT or SMART JSON alike.
 *   aes   "securePassthrough": RSA handshake, login_device (v1 password, v2 password2),
 *         then /app?token=T; carries SMART JSON only.
 *
 * Both keep their session across polls (plugs hand out one for a day) and renew it before
 * the TIMEOUT cookie runs out (20 minutes early, as the app does), on HTTP 403, on SMART
 * error 9999, or when a reply stops decrypting; a request that hits one of those is sent
 * once more on the new session. Credentials never appear in a message. */
#ifndef TPLINK_KASA_HTTP_TRANSPORT_H
#define TPLINK_KASA_HTTP_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "collectors/kasa/transport.h"
#include "config/secret.h"

/* Seconds before the TIMEOUT cookie's end at which a session is renewed; a cookie of at
 * most twice this is used for half its time instead. */
#define KASA_SESSION_MARGIN_S 1200.0
#define KASA_SESSION_DEFAULT_S 86400u

struct kasa_http_opts {
    const char *device; /* the inventory name, for messages */
    const char *host;
    uint16_t port;    /* the device's HTTP port, 80 */
    double timeout_s; /* bounds each HTTP exchange */
    /* KLAP: hash version 1 or 2. AES: login version 1 (password) or 2 (password2).
     * 0 = either: KLAP checks both against the one handshake1 answer (no extra round
     * trip); AES logs in with 2 first, then 1. */
    int version;
    /* The TP-Link (Kasa/Tapo) account, or NULL/empty for none. Copied. */
    const struct secret *user, *pass;
};

/* Credential candidates, in order. KLAP checks them all against one handshake1 answer:
 * configured, the Kasa default account, the Tapo default account, blank. AES logs in with
 * the configured one (blank if none), then the Tapo default account (a new handshake each,
 * as devices want after a failed login). */
struct kasa_transport *kasa_klap_create(const struct kasa_http_opts *o, struct ev_loop *loop,
                                        char *err, size_t errlen);
struct kasa_transport *kasa_aes_create(const struct kasa_http_opts *o, struct ev_loop *loop,
                                       char *err, size_t errlen);

extern const struct kasa_transport_ops kasa_klap_transport;
extern const struct kasa_transport_ops kasa_aes_transport;

/* protocol: auto. Legacy XOR JSON over TCP on the plug's port; when that connection is
 * refused (newer firmware closed it), KLAP on http_port, and from then on KLAP first (TCP
 * again only when KLAP is refused). When both fail, the answer is the first one's, unless
 * the fallback reached a device of its protocol (a KLAP handshake answer): then it is the
 * fallback's (wrong credentials say auth, not connect). */
extern const struct kasa_transport_ops kasa_auto_transport;

/* True when the last request of a KLAP transport got an answer that only a KLAP device
 * gives (a well-formed handshake1, or an HTTP answer on a session). */
bool kasa_klap_spoke(const struct kasa_transport *t);

/* The options of the KLAP and AES transports from a plug's inventory entry (http_port,
 * klap_version, the account of credentials_file). Points into cfg. */
void kasa_http_opts_from_config(const struct device_config *cfg, struct kasa_http_opts *o);

/* Session lifetime for a TIMEOUT cookie of `cookie` seconds (0 = absent: one day). */
double kasa_session_lifetime(unsigned cookie);

/* The built-in default accounts (decoded from base64 at use, wiped after). which: 0 Kasa,
 * 1 Tapo. Returns 0, or -1 on allocation failure. */
int kasa_default_credentials(int which, struct secret *user, struct secret *pass);

#endif
