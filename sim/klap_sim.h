/* A simulated Kasa/Tapo device on HTTP (kasa-protocol.md §11, §12): the transport a plug
 * with newer firmware speaks on port 80, served by libmicrohttpd on the caller's libev
 * loop. What it carries is somebody else's: a handler turns one request JSON into one reply
 * JSON (the IOT plug of sim.h, or the SMART plug of smart_sim.h).
 *
 * KLAP (v1 or v2 hashes):
 *   POST /app/handshake1  16-byte seed -> remote seed and the hash of the device's own
 *                         credentials; Set-Cookie "TP_SESSIONID=..;TIMEOUT=N"
 *   POST /app/handshake2  must carry the session cookie and the right hash, else 403
 *   POST /app/request?seq=N  the encrypted request; 403 for an unknown, expired or
 *                         unconfirmed session, or when the TIMEOUT cookie is sent back
 * AES securePassthrough (login v1 or v2):
 *   POST /app  {"method":"handshake"} -> the session key, RSA-encrypted to the client's key;
 *              {"method":"securePassthrough"} -> login_device (inner -1501 on wrong
 *              credentials) or, with ?token=T, a request for the handler. An unknown or
 *              expired session, or a wrong token, is answered error_code 9999.
 *
 * Credentials are the device's TP-Link account (NULL: blank, as a device never bound to the
 * cloud). Everything runs on the loop thread. */
#ifndef TPLINK_SIM_KLAP_SIM_H
#define TPLINK_SIM_KLAP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

enum klap_sim_kind { KLAP_SIM_KLAP, KLAP_SIM_AES };

/* One request JSON -> one reply JSON (malloc'd, NUL-terminated), or NULL to fail it. */
typedef char *(*klap_sim_handler)(void *ctx, const char *json, size_t len);

struct klap_sim_opts {
    enum klap_sim_kind kind;
    int version;          /* KLAP hash version / AES login version: 1 or 2 */
    const char *addr;     /* loopback literal; NULL = "127.0.0.1" */
    uint16_t port;        /* 0 picks a free port */
    const char *username; /* the device's account; NULL = blank */
    const char *password;
    unsigned session_timeout_s; /* the TIMEOUT cookie; 0 = 86400 */
    klap_sim_handler handler;
    void *handler_ctx;
    const char *name; /* for logs; NULL = "klapsim" */
};

struct klap_sim;

/* NULL with one line in err on a bad option or a socket error. */
struct klap_sim *klap_sim_start(struct ev_loop *loop, const struct klap_sim_opts *opts, char *err,
                                size_t errlen);
void klap_sim_stop(struct klap_sim *ks);
uint16_t klap_sim_port(const struct klap_sim *ks);
const char *klap_sim_addr(const struct klap_sim *ks);
/* Forgets every session, as a device does on reboot or when it decides a session is over:
 * the next request is answered 403 (KLAP) or 9999 (AES). */
void klap_sim_expire_sessions(struct klap_sim *ks);

struct klap_sim_stats {
    unsigned handshakes;      /* handshake1 / AES handshake answered */
    unsigned sessions;        /* handshake2 accepted / login_device accepted */
    unsigned auth_failures;   /* handshake2 hash refused / login_device refused */
    unsigned requests;        /* requests answered by the handler */
    unsigned forbidden;       /* KLAP 403 answers */
    unsigned expired;         /* AES 9999 answers */
    unsigned timeout_cookies; /* requests that sent the TIMEOUT cookie back */
    unsigned missing_length;  /* AES POSTs without Content-Length */
};
void klap_sim_get_stats(const struct klap_sim *ks, struct klap_sim_stats *out);

#endif
