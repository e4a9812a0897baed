/* A libcurl multi handle driven by a libev loop: one ev_io per socket curl asks about,
 * one ev_timer for curl's timeout. Transfers are easy handles the caller owns; each
 * added transfer ends with exactly one call of its done function unless the caller
 * removes it first.
 *
 * Two rules from libcurl's documentation shape this file: libcurl is never called from
 * inside its own timer callback (a zero timeout arms a 0-s ev_timer instead), and the
 * socket callback may run at any time, even inside curl_multi_cleanup, so socket records
 * live apart from transfers and are all freed here while the loop still exists. */
#ifndef TPLINK_EASYSMART_CURL_LOOP_H
#define TPLINK_EASYSMART_CURL_LOOP_H

#include <stdbool.h>
#include <curl/curl.h>
#include <ev.h>

struct curl_loop;
struct curl_xfer;

/* result is the transfer's CURLcode; the easy handle has already left the multi handle,
 * so the callback may reuse it (curl_loop_add again) or free it. */
typedef void (*curl_xfer_done_fn)(struct curl_xfer *x, CURLcode result);

/* Embedded in the caller's own struct; CURLOPT_PRIVATE of the easy handle points here. */
struct curl_xfer {
    CURL *easy;
    curl_xfer_done_fn done;
    void *arg; /* for the caller */
    bool active;
    struct curl_xfer *prev_, *next_; /* private to curl_loop.c */
};

/* Returns NULL when curl cannot make a multi handle (out of memory). */
struct curl_loop *curl_loop_new(struct ev_loop *loop);
/* Removes every active transfer (without calling done), then frees curl's sockets and
 * the multi handle. Safe to call from inside a done callback: the free then happens
 * when the callback returns. */
void curl_loop_free(struct curl_loop *cl);

/* Starts x->easy. Returns 0, or -1 when curl refuses the handle (then done is not
 * called). The transfer starts on the next loop iteration, not inside this call. */
int curl_loop_add(struct curl_loop *cl, struct curl_xfer *x);
/* Stops an active transfer without calling done; a no-op for an inactive one. */
void curl_loop_remove(struct curl_loop *cl, struct curl_xfer *x);

/* Number of sockets the loop is watching; for tests (0 once everything is closed). */
unsigned curl_loop_socket_count(const struct curl_loop *cl);

#endif
