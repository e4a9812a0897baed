#include "daemon/demo.h"

#include <stdio.h>
#include <stdlib.h>

#include "daemon/strbuf.h"
#include "sim/sim.h"
#include "sim/switch_sim.h"

struct demo {
    struct sim *sim;
    struct switch_sim *sw;
};

/* Not a secret: it only opens the simulated switch that this process itself runs. */
#define DEMO_SWITCH_PASSWORD "demo-password"

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
    return demo;
}

void demo_stop(struct demo *demo)
{
    if (!demo)
        return;
    switch_sim_stop(demo->sw);
    sim_free(demo->sim);
    free(demo);
}
