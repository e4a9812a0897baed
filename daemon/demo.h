/* --demo: simulated devices on loopback, in-process on the daemon's own loop, and an
 * inventory for them, so that a newcomer sees live metrics before owning a device. The
 * daemon polls them through the real collectors over real sockets. */
#ifndef TPLINK_DEMO_H
#define TPLINK_DEMO_H

#include <stddef.h>
#include <ev.h>

#include "config/inventory.h"

struct demo;

/* Starts the simulated devices and fills inv with an inventory that points at them.
 * Returns NULL with one line in err. */
struct demo *demo_start(struct ev_loop *loop, struct inventory *inv, char *err, size_t errlen);
void demo_stop(struct demo *demo);

#endif
