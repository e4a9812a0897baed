/* tplink_exporter: polls TP-Link switches and plugs in the background on one libev loop
 * and serves their latest readings on /metrics. */
#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "daemon/demo.h"
#include "daemon/http.h"
#include "daemon/log.h"

struct options {
    const char *config_file;
    const char *listen;
    double min_render_interval_s;
    bool demo;
    bool check_config;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tplink_exporter [FLAGS]\n\n"
                 "Prometheus exporter for TP-Link Easy Smart switches and Kasa smart plugs.\n\n"
                 "  --config.file=FILE          inventory of devices (YAML)\n"
                 "  --web.listen-address=ADDR   where to serve /metrics (default :9321)\n"
                 "  --web.min-render-interval=DURATION\n"
                 "                              render /metrics at most once per DURATION;\n"
                 "                              scrapes meanwhile get the cached text (default\n"
                 "                              1s; 0 renders on every change of data)\n"
                 "  --log.level=LEVEL           error, warn, info or debug (default info)\n"
                 "  --demo                      poll built-in simulated devices on loopback\n"
                 "  --check-config              validate --config.file and exit 0 or 1\n"
                 "  --version                   print the version and exit\n"
                 "  --help                      print this help and exit\n");
}

/* Accepts "--name=value" and "--name value". Returns the value or NULL if arg is another
 * flag; *i advances past a separate value. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *matched)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    *matched = false;
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=') {
        *matched = true;
        return arg + n + 1;
    }
    if (arg[n] == '\0') {
        *matched = true;
        if (*i + 1 < argc)
            return argv[++*i];
        fprintf(stderr, "tplink_exporter: flag %s needs a value\n", name);
        exit(2);
    }
    return NULL;
}

/* A Prometheus duration, or zero ("0", "0s", "0ms" …), which duration_parse refuses. */
static int parse_interval(const char *v, double *seconds)
{
    if (!v)
        return -1;
    if (duration_parse(v, seconds) == 0)
        return 0;
    size_t zeros = strspn(v, "0");
    static const char *const units[] = {"", "ms", "s", "m", "h", "d", "w", "y"};
    for (size_t i = 0; zeros && i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(v + zeros, units[i]) == 0) {
            *seconds = 0;
            return 0;
        }
    }
    return -1;
}

static int parse_flags(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool m;
        if ((v = flag_value(argc, argv, &i, "--config.file", &m)) || m) {
            o->config_file = v;
        } else if ((v = flag_value(argc, argv, &i, "--web.listen-address", &m)) || m) {
            o->listen = v;
        } else if ((v = flag_value(argc, argv, &i, "--web.min-render-interval", &m)) || m) {
            if (parse_interval(v, &o->min_render_interval_s) < 0) {
                fprintf(stderr,
                        "tplink_exporter: --web.min-render-interval must be a duration such "
                        "as 1s or 500ms, or 0, not \"%s\"\n",
                        v);
                return 2;
            }
        } else if ((v = flag_value(argc, argv, &i, "--log.level", &m)) || m) {
            enum log_level level;
            if (!log_parse_level(v, &level)) {
                fprintf(stderr,
                        "tplink_exporter: --log.level must be error, warn, info or "
                        "debug, not \"%s\"\n",
                        v);
                return 2;
            }
            log_set_level(level);
        } else if (strcmp(arg, "--demo") == 0) {
            o->demo = true;
        } else if (strcmp(arg, "--check-config") == 0) {
            o->check_config = true;
        } else if (strcmp(arg, "--version") == 0) {
            printf("tplink_exporter %s (revision %s)\n", TPLINK_VERSION, TPLINK_REVISION);
            exit(0);
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "tplink_exporter: unknown flag \"%s\" (see --help)\n", arg);
            return 2;
        }
    }
    return 0;
}

static int check_config(const char *path)
{
    struct inventory inv;
    char err[512];
    if (inventory_load_file(path, &inv, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    size_t plugs = 0, switches = 0;
    for (size_t i = 0; i < inv.n_devices; i++)
        inv.devices[i].kind == DEVICE_PLUG ? plugs++ : switches++;
    printf("%s: ok (%zu plugs, %zu switches)\n", path, plugs, switches);
    inventory_free(&inv);
    return 0;
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    log_msg(LOG_INFO, NULL, "received signal %d, shutting down", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    log_msg(LOG_WARN, NULL, "SIGHUP: live reload is not implemented yet; restart to reload");
}

static void grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* Gives collectors a bounded moment to end their sessions (a switch logout frees the only
 * admin session for people). */
static void end_sessions(struct daemon *d)
{
    bool any = false;
    for (size_t i = 0; i < d->n_devices; i++)
        any |= d->devices[i].col->shutdown != NULL;
    daemon_shutdown_sessions(d);
    if (!any)
        return;
    ev_timer grace;
    ev_timer_init(&grace, grace_cb, 1.0, 0.);
    ev_timer_start(d->loop, &grace);
    ev_run(d->loop, 0);
    ev_timer_stop(d->loop, &grace);
}

int main(int argc, char **argv)
{
    struct options o = {.listen = ":9321", .min_render_interval_s = DAEMON_MIN_RENDER_INTERVAL_S};
    int rc = parse_flags(argc, argv, &o);
    if (rc)
        return rc;
    if (o.check_config) {
        if (!o.config_file) {
            fprintf(stderr, "tplink_exporter: --check-config needs --config.file\n");
            return 2;
        }
        return check_config(o.config_file);
    }
    if (!o.config_file && !o.demo) {
        fprintf(stderr, "tplink_exporter: give --config.file=FILE, or --demo to try it on "
                        "simulated devices\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "tplink_exporter: libcurl failed to initialise\n");
        return 1;
    }

    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    struct inventory inv = {0};
    struct demo *demo = NULL;
    char err[512];
    if (o.demo) {
        demo = demo_start(loop, &inv, err, sizeof err);
        if (!demo) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
    } else if (inventory_load_file(o.config_file, &inv, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    struct daemon d;
    rc = daemon_init(&d, loop, &inv, err, sizeof err);
    d.min_render_interval_s = o.min_render_interval_s;
    struct http_server *http = rc == 0 ? http_start(&d, o.listen, err, sizeof err) : NULL;
    if (!http) {
        fprintf(stderr, "tplink_exporter: %s\n", err);
        daemon_free(&d);
        demo_stop(demo);
        return 1;
    }
    log_msg(LOG_INFO, NULL, "listening on %s (port %u), polling %zu devices%s", o.listen,
            http_port(http), d.n_devices, demo ? " (demo)" : "");
    daemon_start_polling(&d);

    ev_signal sigterm, sigint, sighup;
    ev_signal_init(&sigterm, stop_cb, SIGTERM);
    ev_signal_init(&sigint, stop_cb, SIGINT);
    ev_signal_init(&sighup, hup_cb, SIGHUP);
    ev_signal_start(loop, &sigterm);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sighup);

    ev_run(loop, 0);

    http_stop(http);
    end_sessions(&d);
    ev_signal_stop(loop, &sigterm);
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sighup);
    daemon_free(&d);
    demo_stop(demo);
    ev_loop_destroy(loop);
    curl_global_cleanup();
    return 0;
}
