#include "collectors/easysmart/curl_loop.h"

#include <stdlib.h>

#include "daemon/log.h"

/* One per socket curl asked us to watch; owned here, never by a transfer, because curl
 * reports sockets of its own (resolver, connection cache) that belong to no transfer. */
struct sock_rec {
    ev_io io;
    struct curl_loop *cl;
    curl_socket_t fd;
    int events;
    struct sock_rec *prev, *next;
};

struct curl_loop {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer;
    struct sock_rec *socks;
    unsigned nsocks;
    struct curl_xfer *xfers; /* active transfers, so free can remove them */
    unsigned depth;          /* > 0 while done callbacks run */
    bool free_pending;
};

static void sock_free(struct curl_loop *cl, struct sock_rec *s)
{
    ev_io_stop(cl->loop, &s->io);
    if (s->prev)
        s->prev->next = s->next;
    else
        cl->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    cl->nsocks--;
    free(s);
}

static void really_free(struct curl_loop *cl)
{
    while (cl->xfers) {
        struct curl_xfer *x = cl->xfers;
        cl->xfers = x->next_;
        curl_multi_remove_handle(cl->multi, x->easy);
        x->active = false;
        x->prev_ = x->next_ = NULL;
    }
    /* The cleanup may still report sockets as removed: cl must be alive for that. */
    curl_multi_cleanup(cl->multi);
    ev_timer_stop(cl->loop, &cl->timer);
    while (cl->socks)             /* sock_free unlinks the head before freeing it */
        sock_free(cl, cl->socks); // NOLINT(clang-analyzer-unix.Malloc)
    free(cl);
}

static void xfer_unlink(struct curl_loop *cl, struct curl_xfer *x)
{
    if (x->prev_)
        x->prev_->next_ = x->next_;
    else
        cl->xfers = x->next_;
    if (x->next_)
        x->next_->prev_ = x->prev_;
    x->prev_ = x->next_ = NULL;
}

/* Hands finished transfers to their owners. A done callback may add or remove transfers
 * or free the whole loop; the loop's memory is released only after the last callback. */
static void drain(struct curl_loop *cl)
{
    CURLMsg *m;
    int left;
    cl->depth++;
    while (!cl->free_pending && (m = curl_multi_info_read(cl->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result; /* m is invalid after remove_handle */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(cl->multi, easy);
        struct curl_xfer *x = (struct curl_xfer *)(void *)priv;
        if (!x)
            continue;
        xfer_unlink(cl, x);
        x->active = false;
        x->done(x, res);
    }
    cl->depth--;
    if (cl->depth == 0 && cl->free_pending)
        really_free(cl);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct sock_rec *s = (struct sock_rec *)w;
    struct curl_loop *cl = s->cl; /* s may be freed inside socket_action */
    int flags = 0, running;
    if (revents & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (revents & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    if (revents & EV_ERROR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(cl->multi, s->fd, flags, &running);
    drain(cl);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct curl_loop *cl = w->data;
    int running;
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(cl);
}

static int socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct curl_loop *cl = userp;
    struct sock_rec *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_free(cl, s);
        return 0;
    }
    int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1; /* curl fails the transfer */
        s->cl = cl;
        s->fd = fd;
        s->next = cl->socks;
        if (cl->socks)
            cl->socks->prev = s;
        cl->socks = s;
        cl->nsocks++;
        curl_multi_assign(cl->multi, fd, s);
        ev_io_init(&s->io, io_cb, fd, events);
        s->events = events;
        if (events)
            ev_io_start(cl->loop, &s->io);
        return 0;
    }
    if (events != s->events) {
        ev_io_stop(cl->loop, &s->io);
        ev_io_set(&s->io, fd, events);
        s->events = events;
        if (events)
            ev_io_start(cl->loop, &s->io);
    }
    return 0;
}

/* Only (re)arms the ev_timer: calling libcurl from here is forbidden, so even a zero
 * timeout goes through the loop. Whole milliseconds over 1000.0, not 1000: an integer
 * division would turn 999 ms into an immediate busy timer. */
static int timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    struct curl_loop *cl = userp;
    ev_timer_stop(cl->loop, &cl->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&cl->timer, (double)timeout_ms / 1000.0, 0.0);
        ev_timer_start(cl->loop, &cl->timer);
    }
    return 0;
}

struct curl_loop *curl_loop_new(struct ev_loop *loop)
{
    struct curl_loop *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->loop = loop;
    cl->multi = curl_multi_init();
    if (!cl->multi) {
        free(cl);
        return NULL;
    }
    ev_timer_init(&cl->timer, timer_cb, 0.0, 0.0);
    cl->timer.data = cl;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, socket_fn);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    return cl;
}

void curl_loop_free(struct curl_loop *cl)
{
    if (!cl)
        return;
    if (cl->depth > 0) {
        cl->free_pending = true;
        return;
    }
    really_free(cl);
}

int curl_loop_add(struct curl_loop *cl, struct curl_xfer *x)
{
    if (x->active || cl->free_pending)
        return -1;
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (void *)x);
    CURLMcode rc = curl_multi_add_handle(cl->multi, x->easy);
    if (rc != CURLM_OK) {
        log_msg(LOG_ERROR, NULL, "curl_multi_add_handle: %s", curl_multi_strerror(rc));
        return -1;
    }
    x->active = true;
    x->prev_ = NULL;
    x->next_ = cl->xfers;
    if (cl->xfers)
        cl->xfers->prev_ = x;
    cl->xfers = x;
    return 0;
}

void curl_loop_remove(struct curl_loop *cl, struct curl_xfer *x)
{
    if (!x->active)
        return;
    curl_multi_remove_handle(cl->multi, x->easy);
    xfer_unlink(cl, x);
    x->active = false;
}

unsigned curl_loop_socket_count(const struct curl_loop *cl)
{
    return cl->nsocks;
}
