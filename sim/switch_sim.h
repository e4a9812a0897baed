/* A simulated TP-Link Easy Smart switch web UI (classic firmware) on a loopback socket,
 * served by libmicrohttpd in external-epoll mode on the caller's libev loop.
 *
 * What it models (facts from the Easy Smart web reference):
 * - pages: GET / (login page or frameset), POST /logon.cgi, GET /Logout.htm,
 *   /PortStatisticsRpm.htm (all_info, or the tmp_info strings on TL-SG1024DE),
 *   /SystemInfoRpm.htm, /PortSettingRpm.htm, /PoeConfigRpm.htm (PoE models only);
 *   unknown or wrong-case paths get the connection closed with no response;
 *   every response carries Connection: close; one connection at a time by default.
 * - one admin session, bound to the client IP (and, in cookie mode, to the H_P_SSID cookie
 *   issued on GET); idle expiry; a login from another client evicts the holder (the field
 *   report "once the next scrape runs, the user is logged out from the browser") unless
 *   conflict = SWITCH_SIM_CONFLICT_FULL, which answers errType 4 instead.
 * - uint32 packet counters that advance with loop time and wrap at 2^32.
 * - optionally, saved real pages served in place of the generated ones (pages_dir).
 *
 * Everything runs on the loop thread: call every function from that thread. */
#ifndef TPLINK_SWITCH_SIM_H
#define TPLINK_SWITCH_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "daemon/strbuf.h"

#define SWITCH_SIM_MAX_PORTS 24

enum switch_sim_session {
    SWITCH_SIM_SESSION_IP,     /* classic firmware: the client address is the session */
    SWITCH_SIM_SESSION_COOKIE, /* also needs H_P_SSID from a prior GET; POSTs without it are
                                  silently ignored (errType 0, no session) */
};

/* A login while another client holds the live admin session. */
enum switch_sim_conflict {
    SWITCH_SIM_CONFLICT_EVICT, /* the new login wins; the old holder is logged out */
    SWITCH_SIM_CONFLICT_FULL,  /* the new login gets errType 4 until the holder expires */
};

enum switch_sim_fault {
    SWITCH_SIM_FAULT_NONE,
    SWITCH_SIM_FAULT_HTTP500,       /* every known page answers 500 */
    SWITCH_SIM_FAULT_ENDLESS_LOGIN, /* every known page is the login page, logins are ignored */
    SWITCH_SIM_FAULT_SLOW,          /* every answer is delayed by slow_seconds (loop not blocked) */
    SWITCH_SIM_FAULT_USERS_FULL,    /* logon.cgi answers errType 3 */
    SWITCH_SIM_FAULT_ERRTYPE6,      /* every known page is the login page with errType 6 */
    SWITCH_SIM_FAULT_POST_RESET,    /* logon.cgi takes effect, then the connection is closed
                                       with no reply (seen on some TL-SG108E builds) */
    SWITCH_SIM_FAULT_WRONG_CREDENTIALS, /* the password was changed: the session ends and
                                           logon.cgi answers errType 1 */
    SWITCH_SIM_FAULT_COUNT
};

const char *switch_sim_fault_name(enum switch_sim_fault f);
int switch_sim_fault_parse(const char *name, enum switch_sim_fault *out); /* 0 or -1 */

/* Model names the simulator knows, NULL-terminated: TL-SG105E, TL-SG108E, TL-SG1016DE,
 * TL-SG1024DE, TL-SG108PE, TL-SG1016PE. */
extern const char *const switch_sim_models[];

struct switch_sim_opts {
    const char *model;    /* one of switch_sim_models (case-insensitive); required */
    const char *addr;     /* IPv4/IPv6 loopback literal; NULL = "127.0.0.1" */
    uint16_t port;        /* 0 picks a free port */
    const char *username; /* NULL = "admin" */
    const char *password; /* NULL = "admin" */
    enum switch_sim_session session;
    enum switch_sim_conflict conflict;
    double session_timeout_s; /* idle expiry; 0 = 60 s (IP mode) or 600 s (cookie mode) */
    /* 0: realistic rates (hundreds to thousands of packets/s) from a random offset.
     * > 0: the good counters start 25-75% of wrap_seconds' worth of packets below 2^32, so
     * link-up ports wrap within wrap_seconds; the rate is 2^32 / wrap_seconds capped at 90%
     * of the link's minimum-frame packet rate so that the counter stays physically
     * possible (the later wraps then come every 2^32 / rate seconds: ~53 min at 1G). */
    double wrap_seconds;
    double slow_seconds;    /* delay of SWITCH_SIM_FAULT_SLOW; 0 = 10 s */
    unsigned unauth_status; /* status of the login page on an unauthenticated data GET;
                               0 = 200 (401 was reported on one TL-SG105E) */
    /* 0 = 1, like the real switch: others wait in the backlog (a client that connects and
     * stays silent holds the slot for up to 15 s) */
    unsigned max_connections;
    /* port layout, rates, MAC, cookies; mixed with the model and the requested port */
    uint64_t seed;
    const char *description; /* descriStr; NULL = the model name; at most 32 bytes */
    /* NULL, or a folder of saved pages: a file named like a data page (PortStatisticsRpm.htm,
     * SystemInfoRpm.htm, PortSettingRpm.htm, PoeConfigRpm.htm) is served, as it is, instead
     * of the generated page whenever that page is served to a logged-in client. Read once
     * at start; at most 256 KiB each. Login, sessions and faults work as without it. */
    const char *pages_dir;
};

struct switch_sim;

/* Returns NULL with a one-line reason in err on a bad option or a socket error. */
struct switch_sim *switch_sim_start(struct ev_loop *loop, const struct switch_sim_opts *opts,
                                    char *err, size_t errlen);
/* Closes the socket, ends pending (slow) requests and frees everything. NULL is a no-op. */
void switch_sim_stop(struct switch_sim *sim);
uint16_t switch_sim_port(const struct switch_sim *sim);
const char *switch_sim_model(const struct switch_sim *sim);
const char *switch_sim_addr(const struct switch_sim *sim);
unsigned switch_sim_port_count(const struct switch_sim *sim);

void switch_sim_set_fault(struct switch_sim *sim, enum switch_sim_fault fault);
/* Zeroes the page counters (the 64-bit totals go on) and drops the session and cookies. */
void switch_sim_reboot(struct switch_sim *sim);
/* port is 1-based. code: 0 link down, 2..6 as link_status (10Half … 1000Full).
 * Returns 0, or -1 for a bad port or code. */
int switch_sim_link(struct switch_sim *sim, unsigned port, unsigned code);
/* Admin state; disabling takes the link down, enabling brings it back at its usual speed. */
int switch_sim_port_enable(struct switch_sim *sim, unsigned port, bool enabled);
/* Whether a client holds a live (not expired) admin session. */
bool switch_sim_session_active(struct switch_sim *sim);

enum switch_sim_counter {
    SWITCH_SIM_TX_GOOD,
    SWITCH_SIM_TX_BAD,
    SWITCH_SIM_RX_GOOD,
    SWITCH_SIM_RX_BAD
};

struct switch_sim_port_state {
    bool enabled;          /* state: 1 Enabled */
    uint8_t link;          /* link_status code */
    uint32_t pkts[4];      /* as the page shows them, by enum switch_sim_counter */
    uint64_t total[4];     /* packets since start: not reset by reboot, never wraps */
    uint16_t poe_power_dw; /* PoE power in tenths of a watt (0: none or not a PoE port) */
};

struct switch_sim_snapshot {
    double time; /* loop time the values are for */
    unsigned n_ports;
    unsigned n_poe_ports;
    struct switch_sim_port_state ports[SWITCH_SIM_MAX_PORTS]; /* ports[0] is port 1 */
    /* The last generated PortStatisticsRpm.htm served with data: how many so far, when,
     * what it showed and the true totals then (by enum switch_sim_counter). Lets a test
     * compare a collector's output with the exact page it read. */
    unsigned long stats_served;
    double stats_time;
    uint32_t stats_pkts[SWITCH_SIM_MAX_PORTS][4];
    uint64_t stats_total[SWITCH_SIM_MAX_PORTS][4];
};

/* The state a generated page served at this loop time would show (saved pages from
 * pages_dir show what they were saved with). */
void switch_sim_snapshot(struct switch_sim *sim, struct switch_sim_snapshot *out);

enum switch_sim_page {
    SWITCH_SIM_PAGE_ALL, /* every request, including closed ones */
    SWITCH_SIM_PAGE_ROOT,
    SWITCH_SIM_PAGE_LOGON,
    SWITCH_SIM_PAGE_LOGOUT,
    SWITCH_SIM_PAGE_PORT_STATISTICS,
    SWITCH_SIM_PAGE_SYSTEM_INFO,
    SWITCH_SIM_PAGE_PORT_SETTING,
    SWITCH_SIM_PAGE_POE,
    SWITCH_SIM_PAGE_OTHER, /* unknown path or method: closed without a response */
    SWITCH_SIM_PAGE_COUNT
};

unsigned long switch_sim_requests(const struct switch_sim *sim, enum switch_sim_page page);
/* A short name for page counts: "all", "root", "logon", "logout", "PortStatisticsRpm",
 * "SystemInfoRpm", "PortSettingRpm", "PoeConfigRpm", "other". */
const char *switch_sim_page_name(enum switch_sim_page page);

/* One line of JSON (no newline) with a snapshot and the request counts, for tplinksim's
 * "switch INDEX snapshot":
 *   {"model":M,"time":T,"session":B,"ports":[{"port":1,"enabled":B,"link":N,
 *    "pkts":{"TxGoodPkt":N,"TxBadPkt":N,"RxGoodPkt":N,"RxBadPkt":N},
 *    "total":{…the same keys: 64-bit packets since start…},"poe_power_watts":W}, …],
 *    "requests":{"all":N,"root":N,…by switch_sim_page_name},
 *    "stats_served":{"n":N,"time":T,"pkts":[[TxGood,TxBad,RxGood,RxBad],…],"total":[[…],…]}}
 * pkts are the uint32 values a page shows now; poe_power_watts only on PoE ports;
 * stats_served is the last statistics page served (see struct switch_sim_snapshot).
 * Returns false when out overflowed. */
bool switch_sim_snapshot_json(struct switch_sim *sim, struct strbuf *out);

/* Command-line form, for tplinksim:
 *   MODEL@ADDR:PORT[,user=U][,password=P][,session=ip|cookie][,conflict=evict|full]
 *   [,wrap=SECONDS][,timeout=SECONDS][,seed=N][,description=D][,fault=NAME][,pages=DIR]
 * ADDR may be [v6] in brackets; values cannot contain ','. The strings point into
 * spec->buf (switch_sim_start copies what it keeps). Returns 0, or -1 with a one-line
 * reason in err (never echoing the password). */
struct switch_sim_spec {
    struct switch_sim_opts opts;
    enum switch_sim_fault fault;
    char buf[1024];
};
int switch_sim_spec_parse(const char *text, struct switch_sim_spec *spec, char *err, size_t errlen);

#endif
