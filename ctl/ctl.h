/* tplinkctl subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status. */
#ifndef TPLINK_CTL_H
#define TPLINK_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

int ctl_plug_main(int argc, char **argv);
int ctl_switch_main(int argc, char **argv);
int ctl_discover_main(int argc, char **argv);

/* Splits a HOST[:PORT] argument, the one rule of every subcommand: "HOST", "HOST:PORT",
 * "[V6]", "[V6]:PORT", and a bare IPv6 literal (more than one colon, no brackets), which is
 * all host: its port is then def, as when none is given. PORT is 1-65535 in decimal digits
 * only. The host must fit hostlen with its NUL. 0, or -1 if the text breaks the rule. */
int ctl_split_target(const char *target, char *host, size_t hostlen, uint16_t *port, uint16_t def);

/* Parses seconds for -T: a number above 0 and at most 3600. 0 or -1. */
int ctl_parse_seconds(const char *text, double *out);

/* One Kasa request over UDP to a broadcast or unicast address, and the replies that come
 * back within the wait. */
struct ctl_udp_query {
    const char *host;     /* numeric address or name */
    uint16_t port;        /* where to send */
    uint16_t accept_port; /* replies must come from this port */
    const char *source;   /* address to bind before sending, or NULL */
    const char *json;     /* the plaintext request */
    double wait;          /* seconds to listen */
    int sends;            /* how often to send, spread over the first half of the wait */
    bool unicast;         /* one device: connected socket, first reply ends the wait */
    size_t max;           /* replies kept at most */
    /* A second request beside it on the same socket (the new-firmware discovery probe):
     * raw2 sent as is to port2 of the same host, and replies from port2 kept as they came
     * (not XOR). port2 0: none. Not with unicast. */
    uint16_t port2;
    const uint8_t *raw2;
    size_t raw2_len;
};

struct ctl_reply {
    struct sockaddr_storage addr;
    char host[64]; /* numeric */
    uint16_t port;
    char *body; /* decrypted, NUL-terminated (from port2: the bytes as sent, NUL added) */
    size_t len;
    bool from_port2;
};

/* Returns the replies (one per source address and port, in arrival order) in *out, or -1
 * with one line in err (resolution, socket, send errors; unicast: "Connection refused"). */
int ctl_udp_collect(const struct ctl_udp_query *q, struct ctl_reply **out, size_t *n, char *err,
                    size_t errlen);
void ctl_replies_free(struct ctl_reply *r, size_t n);
/* Sorts replies by address family, address and port. */
void ctl_replies_sort(struct ctl_reply *r, size_t n);

#endif
