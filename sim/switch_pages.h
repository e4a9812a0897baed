/* Page bodies of the simulated Easy Smart switch, shaped like the TL-SG108E v3 captures:
 * the data sits in a <script> before <html> (or, for tmp_info, in the body), followed by
 * static HTML that the real UI uses to render it. Pure: state in, text out. */
#ifndef TPLINK_SWITCH_PAGES_H
#define TPLINK_SWITCH_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/strbuf.h"

struct swp_port {
    bool enabled;
    uint8_t link;
    uint32_t pkts[4]; /* TxGood, TxBad, RxGood, RxBad */
};

struct swp_system {
    const char *description, *mac, *ip, *netmask, *gateway, *firmware, *hardware;
};

struct swp_poe_port {
    bool enabled;
    uint8_t priority;  /* 0 high, 1 middle, 2 low */
    uint16_t limit_dw; /* 330 = auto */
    uint16_t power_dw;
    uint16_t current_ma;
    uint16_t voltage_dv;
    uint16_t pdclass; /* 40/70/154/300/330, 331 = none */
    uint8_t status;   /* 0 off, 2 on */
};

/* Every function appends to b and returns false when b overflowed. */
bool swp_login(struct strbuf *b, int err_type);
bool swp_frameset(struct strbuf *b, const char *title);
/* all_info format; n ports, arrays padded with 2 zero entries like the real page. */
bool swp_port_statistics(struct strbuf *b, const struct swp_port *p, unsigned n, unsigned middle);
/* TL-SG1024DE format: "state link txg txb rxg rxb" per port in tmp_info (ports up to
 * middle) and tmp_info2 (the rest). */
bool swp_port_statistics_tmp_info(struct strbuf *b, const struct swp_port *p, unsigned n,
                                  unsigned middle);
bool swp_system_info(struct strbuf *b, const struct swp_system *s);
bool swp_port_setting(struct strbuf *b, const struct swp_port *p, unsigned n, unsigned middle);
bool swp_poe(struct strbuf *b, const struct swp_poe_port *p, unsigned n, unsigned budget_dw);
bool swp_http500(struct strbuf *b);

#endif
