/* A simulated answer to the UDP 20002 discovery probe of newer Kasa/Tapo firmware
 * (collectors/kasa/discovery20002.h): one socket on the device's loopback address and, when
 * given, one on a broadcast address (shared by every device on the port), answering each
 * probe from a sender on this host with a fixed reply. */
#ifndef TPLINK_SIM_DISC20002_SIM_H
#define TPLINK_SIM_DISC20002_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

struct disc20002_sim;

/* addr: the device's IPv4 loopback literal; bcast: a broadcast literal or NULL; port: where
 * probes arrive (20002 on a real network). reply_json: the JSON after the 16-byte header,
 * copied. NULL with one line in err on a socket error. */
struct disc20002_sim *disc20002_sim_start(struct ev_loop *loop, const char *addr, const char *bcast,
                                          uint16_t port, const char *reply_json, char *err,
                                          size_t errlen);
void disc20002_sim_stop(struct disc20002_sim *ds);

#endif
