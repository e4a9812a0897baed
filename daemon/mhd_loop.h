/* Drives a libmicrohttpd daemon (started with MHD_USE_EPOLL and no internal thread) from
 * a libev loop: one ev_io on MHD's epoll fd, and a timer re-armed from MHD_get_timeout
 * before the loop sleeps. Handlers then run on the loop thread: no locks.
 *
 * In external-epoll mode MHD does not wake its epoll fd when a connection is resumed or
 * when a closed connection frees a slot under the connection limit (the listening socket
 * then waits for the next MHD_run). mhd_loop_kick schedules that extra run; pass
 * mhd_loop_notify_connection as MHD_OPTION_NOTIFY_CONNECTION to kick on every close. */
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

/* Create before MHD_start_daemon (its notify option needs the pointer), then attach. */
struct mhd_loop *mhd_loop_new(struct ev_loop *loop);
/* Returns -1 if the daemon has no epoll fd (not started with MHD_USE_EPOLL). */
int mhd_loop_attach(struct mhd_loop *ml, struct MHD_Daemon *daemon);
/* One more MHD_run on the next loop iteration (after a resume, for instance). */
void mhd_loop_kick(struct mhd_loop *ml);
void mhd_loop_notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe);
/* Stops the watchers and frees; call after MHD_stop_daemon, whose close notifications
 * still reach the loop glue. */
void mhd_loop_free(struct mhd_loop *ml);

#endif
