#include "daemon/mhd_loop.h"

#include <stdlib.h>

struct mhd_loop {
    struct ev_loop *loop;
    struct MHD_Daemon *daemon;
    ev_io io;
    ev_timer timer;
    ev_timer kick;
    ev_prepare prepare;
};

static void run_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mhd_loop *ml = w->data;
    if (ml->daemon)
        MHD_run(ml->daemon);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct mhd_loop *ml = w->data;
    MHD_run(ml->daemon);
}

/* MHD keeps its own timeouts (idle connections, queued responses); ask before every sleep
 * so that a connection is never left hanging for lack of a wake-up. */
static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct mhd_loop *ml = w->data;
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(loop, &ml->timer);
    if (MHD_get_timeout(ml->daemon, &ms) == MHD_YES) {
        ev_timer_set(&ml->timer, (double)ms / 1000.0, 0.);
        ev_timer_start(loop, &ml->timer);
    }
}

struct mhd_loop *mhd_loop_new(struct ev_loop *loop)
{
    struct mhd_loop *ml = calloc(1, sizeof *ml);
    if (!ml)
        return NULL;
    ml->loop = loop;
    ev_init(&ml->timer, run_cb);
    ml->timer.data = ml;
    ev_timer_init(&ml->kick, run_cb, 0., 0.);
    ml->kick.data = ml;
    ev_prepare_init(&ml->prepare, prepare_cb);
    ml->prepare.data = ml;
    return ml;
}

int mhd_loop_attach(struct mhd_loop *ml, struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || info->epoll_fd < 0)
        return -1;
    ml->daemon = daemon;
    ev_io_init(&ml->io, io_cb, info->epoll_fd, EV_READ);
    ml->io.data = ml;
    ev_io_start(ml->loop, &ml->io);
    ev_prepare_start(ml->loop, &ml->prepare);
    return 0;
}

void mhd_loop_kick(struct mhd_loop *ml)
{
    if (ml->daemon && !ev_is_active(&ml->kick))
        ev_timer_start(ml->loop, &ml->kick);
}

void mhd_loop_notify_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        mhd_loop_kick(cls);
}

void mhd_loop_free(struct mhd_loop *ml)
{
    if (!ml)
        return;
    ev_io_stop(ml->loop, &ml->io);
    ev_timer_stop(ml->loop, &ml->timer);
    ev_timer_stop(ml->loop, &ml->kick);
    ev_prepare_stop(ml->loop, &ml->prepare);
    ml->daemon = NULL;
    free(ml);
}
