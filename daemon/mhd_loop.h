/* Drives a libmicrohttpd daemon (started with MHD_USE_EPOLL and no internal thread) from
 * a libev loop: one ev_io on MHD's epoll fd, and a timer re-armed from MHD_get_timeout
 * before the loop sleeps. Handlers then run on the loop thread: no locks. */
#ifndef TPLINK_MHD_LOOP_H
#define TPLINK_MHD_LOOP_H

#include <ev.h>
#include <microhttpd.h>

#if MHD_VERSION >= 0x00097002
#define MHD_RESULT enum MHD_Result
#else
#define MHD_RESULT int
#endif

struct mhd_loop;

/* Returns NULL if the daemon has no epoll fd (not started with MHD_USE_EPOLL). */
struct mhd_loop *mhd_loop_attach(struct ev_loop *loop, struct MHD_Daemon *daemon);
/* Stops the watchers; the caller stops the MHD daemon afterwards. */
void mhd_loop_detach(struct mhd_loop *ml);

#endif
