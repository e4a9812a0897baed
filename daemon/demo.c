#include "daemon/demo.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "daemon/strbuf.h"
#include "sim/klap_sim.h"
#include "sim/sim.h"
#include "sim/smart_sim.h"
#include "sim/switch_sim.h"

struct demo {
    struct sim *sim;
    struct switch_sim *sw;
    struct smart_sim *smart;
    struct klap_sim *klap;
};

/* Not a secret: it only opens the simulated switch that this process itself runs. */
#define DEMO_SWITCH_PASSWORD "demo-password"
/* Not secrets either: the account of the simulated KLAP plug this process runs. They go
 * straight into the inventory's account fields, never through text that is logged. */
#define DEMO_KASA_USER "demo@example.invalid"
#define DEMO_KASA_PASSWORD "demo-kasa-password"
/* The KLAP plug: a Tapo P110 speaking the SMART dialect, as newer firmware does. */
#define DEMO_KLAP_NAME "demo-tapo"
#define DEMO_KLAP_PROFILE "p110"

/* The simulated KLAP plug and its inventory entry. */
static int start_klap(struct demo *demo, struct ev_loop *loop, struct strbuf *yaml, char *err,
                      size_t errlen)
{
    char serr[256];
    demo->smart = smart_sim_new(DEMO_KLAP_PROFILE, 4, serr, sizeof serr);
    if (!demo->smart) {
        snprintf(err, errlen, "demo: %s", serr);
        return -1;
    }
    struct klap_sim_opts o = {
        .kind = KLAP_SIM_KLAP,
        .version = 2,
        .addr = "127.0.0.1",
        .username = DEMO_KASA_USER,
        .password = DEMO_KASA_PASSWORD,
        .handler = smart_sim_handle,
        .handler_ctx = demo->smart,
        .name = DEMO_KLAP_NAME,
    };
    demo->klap = klap_sim_start(loop, &o, serr, sizeof serr);
    if (!demo->klap) {
        snprintf(err, errlen, "demo: %s", serr);
        return -1;
    }
    strbuf_printf(yaml,
                  "  - { name: " DEMO_KLAP_NAME ", host: 127.0.0.1, protocol: klap, "
                  "http_port: %u }\n",
                  (unsigned)klap_sim_port(demo->klap));
    return 0;
}

/* The inventory has no inline account (only credentials_file): set it on the entry. */
static int set_klap_account(struct inventory *inv)
{
    for (size_t i = 0; i < inv->n_devices; i++) {
        struct device_config *d = &inv->devices[i];
        if (strcmp(d->name, DEMO_KLAP_NAME) != 0)
            continue;
        if (secret_set(&d->account_user, DEMO_KASA_USER, strlen(DEMO_KASA_USER)) < 0 ||
            secret_set(&d->account_password, DEMO_KASA_PASSWORD, strlen(DEMO_KASA_PASSWORD)) < 0)
            return -1;
        return 0;
    }
    return -1;
}

static const struct {
    const char *name, *profile, *alias;
} demo_plugs[] = {
    {"demo-kettle", "hs110v1", "Kitchen kettle"},
    {"demo-fridge", "hs110v2", "Fridge"},
    {"demo-lamp", "hs100", "Desk \"lamp\""},
};

struct demo *demo_start(struct ev_loop *loop, struct inventory *inv, char *err, size_t errlen)
{
    struct demo *demo = calloc(1, sizeof *demo);
    if (!demo || !(demo->sim = sim_new(loop))) {
        snprintf(err, errlen, "demo: out of memory");
        free(demo);
        return NULL;
    }
    struct strbuf yaml;
    strbuf_init(&yaml, 1 << 16);
    strbuf_puts(&yaml, "defaults: { interval: 5s, timeout: 2s }\nplugs:\n");
    for (size_t i = 0; i < sizeof demo_plugs / sizeof demo_plugs[0]; i++) {
        char serr[256];
        int idx = sim_add_plug(demo->sim, demo_plugs[i].profile, "127.0.0.1", 0,
                               demo_plugs[i].alias, serr, sizeof serr);
        if (idx < 0) {
            snprintf(err, errlen, "demo: %s", serr);
            strbuf_free(&yaml);
            demo_stop(demo);
            return NULL;
        }
        strbuf_printf(&yaml, "  - { name: %s, host: 127.0.0.1, port: %u }\n", demo_plugs[i].name,
                      (unsigned)sim_device_port(demo->sim, idx));
    }
    if (start_klap(demo, loop, &yaml, err, errlen) < 0) {
        strbuf_free(&yaml);
        demo_stop(demo);
        return NULL;
    }
    struct switch_sim_opts sw = {
        .model = "TL-SG108E",
        .addr = "127.0.0.1",
        .username = "admin",
        .password = DEMO_SWITCH_PASSWORD,
        .description = "demo-core",
        .seed = 1,
    };
    demo->sw = switch_sim_start(loop, &sw, err, errlen);
    if (!demo->sw) {
        strbuf_free(&yaml);
        demo_stop(demo);
        return NULL;
    }
    strbuf_printf(&yaml,
                  "switches:\n  - { name: demo-switch, host: 127.0.0.1, port: %u, username: admin, "
                  "password: " DEMO_SWITCH_PASSWORD " }\n",
                  (unsigned)switch_sim_port(demo->sw));
    int rc = inventory_load_string(yaml.data, yaml.len, "<demo>", NULL, inv, err, errlen);
    strbuf_free(&yaml);
    if (rc < 0) {
        demo_stop(demo);
        return NULL;
    }
    if (set_klap_account(inv) < 0) {
        snprintf(err, errlen, "demo: out of memory");
        inventory_free(inv);
        demo_stop(demo);
        return NULL;
    }
    return demo;
}

void demo_stop(struct demo *demo)
{
    if (!demo)
        return;
    switch_sim_stop(demo->sw);
    klap_sim_stop(demo->klap);
    smart_sim_free(demo->smart);
    sim_free(demo->sim);
    free(demo);
}
