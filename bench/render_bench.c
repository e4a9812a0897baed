/* render_bench: how long the daemon takes to render /metrics from scratch.
 *
 * Builds a daemon through daemon_init_with and fake collectors that answer every poll after
 * 0.2 to 1.5 ms with readings shaped like the real ones: the plug and switch collectors' own metric
 * tables, the same samples and labels per device (10 plug readings; 8 per-port series plus
 * LAG and flow control per switch port, and a reset counter, as a TL-SG1024DE gives). One
 * round of polls runs on the loop; then the loop stands still (so every reading stays
 * fresh) and each iteration marks the data dirty and times daemon_exposition.
 *
 *   render_bench [--plugs N] [--switches M] [--ports P] [--iterations K] [--output FILE]
 *
 * Prints bytes, series and the cold render time (min, median, mean) in microseconds, and
 * the time of a scrape that finds the cache valid. --output writes one exposition to FILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"

struct fake {
    struct collector_env env;
    ev_timer answer; /* a poll takes 0.2 to 1.5 ms, as on loopback */
    const struct device_config *cfg;
    unsigned idx, ports;
    bool have_reading;
    char mac[32], alias[32];
};

/* Families of the real collectors, found by name so a renamed family fails loudly. */
enum {
    P_RELAY,
    P_ON_TIME,
    P_RSSI,
    P_POWER,
    P_VOLTAGE,
    P_CURRENT,
    P_ENERGY,
    P_LED,
    P_UPDATING,
    P_CLOUD,
    P_COUNT
};
static const char *const plug_names[P_COUNT] = {
    "tplink_plug_relay_on",
    "tplink_plug_on_time_seconds",
    "tplink_plug_wifi_rssi_dbm",
    "tplink_plug_power_watts",
    "tplink_plug_voltage_volts",
    "tplink_plug_current_amperes",
    "tplink_plug_energy_joules_total",
    "tplink_plug_led_on",
    "tplink_plug_firmware_updating",
    "tplink_plug_cloud_bound",
};
enum {
    S_ENABLED,
    S_LINK_UP,
    S_SPEED,
    S_DUPLEX,
    S_RX,
    S_TX,
    S_RX_ERR,
    S_TX_ERR,
    S_RESETS,
    S_LAG,
    S_FC,
    S_COUNT
};
static const char *const switch_names[S_COUNT] = {
    "tplink_switch_port_enabled",
    "tplink_switch_port_link_up",
    "tplink_switch_port_speed_bytes",
    "tplink_switch_port_full_duplex",
    "tplink_switch_port_receive_packets_total",
    "tplink_switch_port_transmit_packets_total",
    "tplink_switch_port_receive_errors_total",
    "tplink_switch_port_transmit_errors_total",
    "tplink_switch_statistics_resets_total",
    "tplink_switch_port_lag",
    "tplink_switch_port_flow_control_enabled",
};

static const struct metric_family *find_family(const struct metric_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->families[i].name, name) == 0)
            return &t->families[i];
    fprintf(stderr, "render_bench: family %s not found: update bench/render_bench.c\n", name);
    exit(1);
}

/* Resolved once in main (a benchmark program, not library code): a lookup per sample
 * would be cost the real collectors do not have. */
static const struct metric_family *plug_fam[P_COUNT], *switch_fam[S_COUNT];
static unsigned switch_ports = 24;

static void answer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct fake *f = w->data;
    f->have_reading = true;
    f->env.done(f->env.owner, POLL_OK, NULL);
}

static void *fake_create(const struct device_config *cfg, const struct collector_env *env,
                         char *err, size_t errlen)
{
    struct fake *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->env = *env;
    f->cfg = cfg;
    f->idx = (unsigned)strtoul(strchr(cfg->name, '-') + 1, NULL, 10);
    f->ports = switch_ports;
    snprintf(f->mac, sizeof f->mac, "50:C7:BF:%02X:%02X:%02X", (f->idx >> 16) & 255,
             (f->idx >> 8) & 255, f->idx & 255);
    snprintf(f->alias, sizeof f->alias, cfg->kind == DEVICE_PLUG ? "Plug %05u" : "rack %u", f->idx);
    ev_init(&f->answer, answer_cb);
    f->answer.data = f;
    return f;
}

static void fake_poll_start(void *state)
{
    struct fake *f = state;
    ev_timer_set(&f->answer, 0.0002 + (f->idx % 14) * 0.0001, 0.);
    ev_timer_start(f->env.loop, &f->answer);
}

static void fake_poll_cancel(void *state)
{
    struct fake *f = state;
    ev_timer_stop(f->env.loop, &f->answer);
}

static bool plug_info(const void *state, struct device_info *info)
{
    const struct fake *f = state;
    if (!f->have_reading)
        return false;
    snprintf(info->model, sizeof info->model, "HS110(EU)");
    snprintf(info->hw_version, sizeof info->hw_version, "2.0");
    snprintf(info->fw_version, sizeof info->fw_version, "1.5.4 Build 180815 Rel.121440");
    snprintf(info->mac, sizeof info->mac, "%s", f->mac);
    snprintf(info->alias, sizeof info->alias, "%s", f->alias);
    return true;
}

static void plug_emit(const void *state, const char *device, struct expo *e)
{
    const struct fake *f = state;
    if (!f->have_reading)
        return;
    /* v2 meters report integer mW, mV, mA and Wh: base units with three decimals. */
    unsigned k = f->idx;
    expo_sample_dev(e, plug_fam[P_RELAY], device, 1);
    expo_sample_dev(e, plug_fam[P_ON_TIME], device, 86400 + k);
    expo_sample_dev(e, plug_fam[P_RSSI], device, -40.0 - k % 30);
    expo_sample_dev(e, plug_fam[P_POWER], device, (12000 + k * 7 % 90000) / 1e3);
    expo_sample_dev(e, plug_fam[P_VOLTAGE], device, (229000 + k % 3000) / 1e3);
    expo_sample_dev(e, plug_fam[P_CURRENT], device, (50 + k % 400) / 1e3);
    expo_sample_dev(e, plug_fam[P_ENERGY], device, (1000.0 + k) * 3600.0);
    expo_sample_dev(e, plug_fam[P_LED], device, 1);
    expo_sample_dev(e, plug_fam[P_UPDATING], device, 0);
    expo_sample_dev(e, plug_fam[P_CLOUD], device, k % 2);
}

static bool switch_info(const void *state, struct device_info *info)
{
    const struct fake *f = state;
    if (!f->have_reading)
        return false;
    snprintf(info->model, sizeof info->model, "TL-SG1024DE");
    snprintf(info->hw_version, sizeof info->hw_version, "4.0");
    snprintf(info->fw_version, sizeof info->fw_version, "1.0.0 Build 20200908 Rel.48974");
    snprintf(info->mac, sizeof info->mac, "%s", f->mac);
    snprintf(info->alias, sizeof info->alias, "%s", f->alias);
    return true;
}

static void switch_emit(const void *state, const char *device, struct expo *e)
{
    const struct fake *f = state;
    if (!f->have_reading)
        return;
    char port[12];
    for (unsigned p = 0; p < f->ports; p++) {
        snprintf(port, sizeof port, "%u", p + 1);
        const struct label l[2] = {{"device", device}, {"port", port}};
        bool up = p % 3 != 2;
        uint64_t base = (uint64_t)f->idx * 1000003u + p * 7919u;
        expo_sample(e, switch_fam[S_ENABLED], l, 2, 1);
        expo_sample(e, switch_fam[S_LINK_UP], l, 2, up);
        expo_sample(e, switch_fam[S_SPEED], l, 2, up ? 125000000.0 : 0.0);
        expo_sample(e, switch_fam[S_DUPLEX], l, 2, up);
        expo_sample(e, switch_fam[S_RX], l, 2, (double)(base * 1013));
        expo_sample(e, switch_fam[S_TX], l, 2, (double)(base * 997));
        expo_sample(e, switch_fam[S_RX_ERR], l, 2, (double)(p % 5));
        expo_sample(e, switch_fam[S_TX_ERR], l, 2, 0);
    }
    expo_sample_dev(e, switch_fam[S_RESETS], device, 0);
    for (unsigned p = 0; p < f->ports; p++) {
        snprintf(port, sizeof port, "%u", p + 1);
        const struct label l[2] = {{"device", device}, {"port", port}};
        expo_sample(e, switch_fam[S_LAG], l, 2, 0);
        expo_sample(e, switch_fam[S_FC], l, 2, 0);
    }
}

static void fake_destroy(void *state)
{
    struct fake *f = state;
    ev_timer_stop(f->env.loop, &f->answer);
    free(f);
}

static const struct collector fake_plug = {
    .kind = "plug",
    .device_kind = DEVICE_PLUG,
    .create = fake_create,
    .poll_start = fake_poll_start,
    .poll_cancel = fake_poll_cancel,
    .info = plug_info,
    .emit = plug_emit,
    .destroy = fake_destroy,
};
static const struct collector fake_switch = {
    .kind = "switch",
    .device_kind = DEVICE_SWITCH,
    .create = fake_create,
    .poll_start = fake_poll_start,
    .poll_cancel = fake_poll_cancel,
    .info = switch_info,
    .emit = switch_emit,
    .destroy = fake_destroy,
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static bool parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = s ? strtoul(s, &end, 10) : 0;
    if (!s || !*s || *end || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    unsigned long plugs = 1000, switches = 10, ports = 24, iterations = 20;
    const char *output = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = false;
        if (strcmp(a, "--plugs") == 0)
            ok = parse_count(v, 100000, &plugs);
        else if (strcmp(a, "--switches") == 0)
            ok = parse_count(v, 10000, &switches);
        else if (strcmp(a, "--ports") == 0)
            ok = parse_count(v, 52, &ports) && ports > 0;
        else if (strcmp(a, "--iterations") == 0)
            ok = parse_count(v, 1000000, &iterations) && iterations > 0;
        else if (strcmp(a, "--output") == 0)
            ok = (output = v) != NULL;
        if (!ok) {
            fprintf(stderr, "usage: render_bench [--plugs N] [--switches M] [--ports P] "
                            "[--iterations K] [--output FILE]\n");
            return 2;
        }
        i++;
    }
    switch_ports = (unsigned)ports;
    for (int i = 0; i < P_COUNT; i++)
        plug_fam[i] = find_family(&plug_collector.metrics, plug_names[i]);
    for (int i = 0; i < S_COUNT; i++)
        switch_fam[i] = find_family(&switch_collector.metrics, switch_names[i]);

    /* The fakes report through the real collectors' tables, in the registry's order. */
    struct collector plug_col = fake_plug, switch_col = fake_switch;
    plug_col.metrics = plug_collector.metrics;
    switch_col.metrics = switch_collector.metrics;
    const struct collector *const registry[] = {&plug_col, &switch_col, NULL};

    struct inventory inv = {0};
    inv.n_devices = plugs + switches;
    inv.devices = calloc(inv.n_devices ? inv.n_devices : 1, sizeof *inv.devices);
    if (!inv.devices)
        return 1;
    for (size_t i = 0; i < inv.n_devices; i++) {
        struct device_config *c = &inv.devices[i];
        char name[32], host[32];
        bool plug = i < plugs;
        size_t k = plug ? i + 1 : i - plugs + 1;
        snprintf(name, sizeof name, plug ? "plug-%05zu" : "switch-%03zu", k);
        snprintf(host, sizeof host, "127.%u.%zu.%zu", plug ? 10u : 20u, k / 250, k % 250 + 1);
        c->name = strdup(name);
        c->host = strdup(host);
        c->kind = plug ? DEVICE_PLUG : DEVICE_SWITCH;
        c->port = plug ? 9999 : 80;
        /* A short interval gets every first poll done within a second of loop time. */
        c->interval_s = 1;
        c->timeout_s = 0.5;
    }

    struct ev_loop *loop = ev_default_loop(0);
    struct daemon d;
    char err[256];
    if (daemon_init_with(&d, loop, &inv, registry, err, sizeof err) < 0) {
        fprintf(stderr, "render_bench: %s\n", err);
        return 1;
    }
    d.min_render_interval_s = 0; /* every iteration is a cold render */
    daemon_start_polling(&d);
    ev_timer stop;
    ev_timer_init(&stop, stop_cb, 1.05, 0.);
    ev_timer_start(loop, &stop);
    ev_run(loop, 0);
    for (size_t i = 0; i < d.n_devices; i++)
        ev_timer_stop(loop, &d.devices[i].tick);

    double *t = calloc(iterations, sizeof *t), *c = calloc(iterations, sizeof *c);
    if (!t || !c)
        return 1;
    size_t bytes = 0;
    for (unsigned long i = 0; i < iterations; i++) {
        d.dirty = true;
        double t1 = mono(), c1 = cpu_now();
        const struct scrape_body *b = daemon_exposition(&d);
        c[i] = cpu_now() - c1;
        t[i] = mono() - t1;
        if (!b)
            return 1;
        bytes = b->text_len;
    }
    const struct scrape_body *b = daemon_exposition(&d);
    unsigned long long series = 0;
    for (size_t i = 0; i < b->text_len; i++)
        if (b->text[i] != '#' && (i == 0 || b->text[i - 1] == '\n'))
            series++;
    uint64_t renders = d.renders;
    double c1 = mono();
    for (int i = 0; i < 100; i++)
        daemon_exposition(&d);
    double cached = (mono() - c1) / 100;
    if (d.renders != renders) {
        fprintf(stderr, "render_bench: a scrape without new data rendered again\n");
        return 1;
    }
    if (output) {
        FILE *o = fopen(output, "w");
        if (!o || fwrite(b->text, 1, b->text_len, o) != b->text_len || fclose(o) != 0) {
            fprintf(stderr, "render_bench: cannot write %s\n", output);
            return 1;
        }
    }
    /* Baseline: copying the rendered bytes into fresh memory, the least any renderer pays
     * for output of this size. */
    double *base = calloc(iterations, sizeof *base);
    if (!base)
        return 1;
    for (unsigned long i = 0; i < iterations; i++) {
        double t1 = mono();
        char *copy = malloc(b->text_len);
        if (!copy)
            return 1;
        memcpy(copy, b->text, b->text_len);
        __asm__ volatile("" : : "r"(copy) : "memory"); /* the copy must happen */
        base[i] = mono() - t1;
        free(copy);
    }
    qsort(t, iterations, sizeof *t, cmp_double);
    qsort(c, iterations, sizeof *c, cmp_double);
    qsort(base, iterations, sizeof *base, cmp_double);
    double median = t[iterations / 2], base_median = base[iterations / 2];
    /* Wall time suffers from other load on the machine; CPU time much less. */
    printf("render_bench: plugs=%lu switches=%lu ports=%lu bytes=%zu series=%llu iterations=%lu\n"
           "  cold render   wall us: min %.0f median %.0f   cpu us: min %.0f median %.0f\n"
           "  baseline      copy of the same bytes into fresh memory: median %.0f us\n"
           "  ratio         render / copy (medians): %.1f\n"
           "  cached        scrape without new data: %.2f us, no render (render count "
           "unchanged)\n",
           plugs, switches, ports, bytes, series, iterations, t[0] * 1e6, median * 1e6, c[0] * 1e6,
           c[iterations / 2] * 1e6, base_median * 1e6, base_median > 0 ? median / base_median : 0.0,
           cached * 1e6);
    free(t);
    free(c);
    free(base);
    daemon_free(&d);
    ev_loop_destroy(loop);
    return 0;
}
