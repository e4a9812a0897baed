/* The Easy Smart switch collector: the web UI scraped over libcurl's multi interface on
 * the daemon's loop, one request at a time per switch.
 *
 * A poll normally costs one GET of PortStatisticsRpm.htm; on PoE models a second one of
 * PoeConfigRpm.htm, because PoE power is a live reading that would go stale if read less
 * often. Logging in (GET /, POST /logon.cgi, the verifying statistics GET; see session.h)
 * also reads SystemInfoRpm and PortSettingRpm once, because those change only when someone
 * reconfigures the switch, and every extra request costs the switch's one-slot web server
 * time.
 *
 * Each switch has its own curl multi handle and one easy handle for its whole life: the
 * easy handle carries the switch's cookie jar, and a per-device multi keeps the collector
 * free of shared mutable state (a handful of switches, so the cost is small). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "collectors/easysmart/counters.h"
#include "collectors/easysmart/curl_loop.h"
#include "collectors/easysmart/page.h"
#include "collectors/easysmart/session.h"
#include "daemon/log.h"
#include "daemon/strbuf.h"

#define SW_BODY_LIMIT ((size_t)256 * 1024)
#define SW_LOGOUT_TIMEOUT_MS 1000L /* the core runs the loop about 1 s after shutdown */
#define SW_LOGON_MAX 512

enum {
    F_PORT_ENABLED,
    F_PORT_LINK_UP,
    F_PORT_SPEED,
    F_PORT_FULL_DUPLEX,
    F_PORT_RX_PACKETS,
    F_PORT_TX_PACKETS,
    F_PORT_RX_ERRORS,
    F_PORT_TX_ERRORS,
    F_STAT_RESETS,
    F_PORT_LAG,
    F_PORT_FLOW_CONTROL,
    F_POE_POWER,
    F_POE_VOLTAGE,
    F_POE_CURRENT,
    F_POE_STATUS,
    F_POE_BUDGET,
    F_POE_CONSUMPTION,
    F_COUNT
};

/* Names are an API: dashboards and alerts use them. */
static const struct metric_family sw_families[F_COUNT] = {
    [F_PORT_ENABLED] = {"tplink_switch_port_enabled", METRIC_GAUGE,
                        "1 if the port is administratively enabled (Port Statistics: Status)."},
    [F_PORT_LINK_UP] = {"tplink_switch_port_link_up", METRIC_GAUGE,
                        "1 if the port has a link (Port Statistics: Link Status)."},
    [F_PORT_SPEED] = {"tplink_switch_port_speed_bytes", METRIC_GAUGE,
                      "Negotiated link speed in bytes per second, 0 when down or unknown "
                      "(Port Statistics: Link Status)."},
    [F_PORT_FULL_DUPLEX] = {"tplink_switch_port_full_duplex", METRIC_GAUGE,
                            "1 if the link is full duplex (Port Statistics: Link Status)."},
    [F_PORT_RX_PACKETS] = {"tplink_switch_port_receive_packets_total", METRIC_COUNTER,
                           "Good packets received (Port Statistics: RxGoodPkt), widened from "
                           "the switch's 32-bit counter."},
    [F_PORT_TX_PACKETS] = {"tplink_switch_port_transmit_packets_total", METRIC_COUNTER,
                           "Good packets transmitted (Port Statistics: TxGoodPkt), widened from "
                           "the switch's 32-bit counter."},
    [F_PORT_RX_ERRORS] = {"tplink_switch_port_receive_errors_total", METRIC_COUNTER,
                          "Bad packets received (Port Statistics: RxBadPkt), widened from the "
                          "switch's 32-bit counter."},
    [F_PORT_TX_ERRORS] = {"tplink_switch_port_transmit_errors_total", METRIC_COUNTER,
                          "Bad packets transmitted (Port Statistics: TxBadPkt), widened from "
                          "the switch's 32-bit counter."},
    [F_STAT_RESETS] = {"tplink_switch_statistics_resets_total", METRIC_COUNTER,
                       "Times the switch's port counters went back to zero (reboot or Clear) "
                       "rather than wrapping; the _total counters continue across them."},
    [F_PORT_LAG] = {"tplink_switch_port_lag", METRIC_GAUGE,
                    "Link aggregation group of the port, 0 for none (Port Setting: "
                    "trunk_info), as read at login."},
    [F_PORT_FLOW_CONTROL] = {"tplink_switch_port_flow_control_enabled", METRIC_GAUGE,
                             "1 if flow control is configured on (Port Setting: Flow Control "
                             "Config), as read at login."},
    [F_POE_POWER] = {"tplink_switch_port_poe_power_watts", METRIC_GAUGE,
                     "Power delivered on the port in watts (PoE Config: Power), read every "
                     "poll."},
    [F_POE_VOLTAGE] = {"tplink_switch_port_poe_voltage_volts", METRIC_GAUGE,
                       "PoE voltage on the port in volts (PoE Config: Voltage), read every "
                       "poll."},
    [F_POE_CURRENT] = {"tplink_switch_port_poe_current_amperes", METRIC_GAUGE,
                       "PoE current on the port in amperes (PoE Config: Current), read every "
                       "poll."},
    [F_POE_STATUS] = {"tplink_switch_port_poe_status", METRIC_GAUGE,
                      "PoE power status code (PoE Config: Power Status): 0 off, 1 turning on, "
                      "2 on, 3 overload, 4 short, 5 non-standard PD, 6 voltage high, 7 voltage "
                      "low, 8 hardware fault, 9 overtemperature; read every poll."},
    [F_POE_BUDGET] = {"tplink_switch_poe_budget_watts", METRIC_GAUGE,
                      "PoE system power limit in watts (PoE Config: System Power Limit), read "
                      "every poll."},
    [F_POE_CONSUMPTION] = {"tplink_switch_poe_consumption_watts", METRIC_GAUGE,
                           "PoE system power consumption in watts (PoE Config: System Power "
                           "Consumption), read every poll."},
};

/* Counter slots per port, in the order of the families above. */
enum { C_RX_GOOD, C_TX_GOOD, C_RX_BAD, C_TX_BAD, C_COUNT };

/* Fields are grouped by size rather than by topic, so that the struct carries little
 * padding (it is mostly the per-port tables). */
struct sw {
    struct collector_env env;
    char *name;
    char *host;
    char *username;
    struct secret password;
    double timeout_s;

    struct curl_loop *cl;
    CURL *easy; /* one handle for the switch's life: it carries the cookie jar */
    struct curl_slist *headers;
    struct curl_xfer xfer;
    struct strbuf body;
    size_t logon_len;

    struct es_session sess;
    double deadline;
    ev_timer done_timer; /* delivers env->done from the loop, never inside poll_start */
    enum es_req req;
    enum es_page page;
    enum poll_status done_status;

    struct es_port_statistics stats;
    struct counter64 ctr[ES_MAX_PORTS][C_COUNT];
    uint64_t last_speed[ES_MAX_PORTS];
    uint64_t resets;
    struct es_port_settings settings;
    struct es_poe poe;

    uint16_t port;
    bool too_big;
    bool polling;
    bool logging_out;
    bool stats_this_poll;
    bool logged_in_before;
    bool extras_due;
    bool extras_warned;
    bool have_stats;
    bool have_sysinfo;
    bool have_settings;
    bool have_poe;
    bool last_up[ES_MAX_PORTS];

    char base_url[300];
    char errbuf[CURL_ERROR_SIZE];
    char logon[SW_LOGON_MAX]; /* the POST body while it is in flight, wiped after */
    char done_detail[256];
    struct es_system_info sys;
};

static void wipe_logon(struct sw *s)
{
    if (s->logon_len) {
        explicit_bzero(s->logon, sizeof s->logon);
        s->logon_len = 0;
    }
}

static void done_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct sw *s = w->data;
    enum poll_status st = s->done_status;
    char detail[sizeof s->done_detail];
    memcpy(detail, s->done_detail, sizeof detail);
    s->polling = false;
    /* Last: the owner may react to done by anything, even destroying this device. */
    s->env.done(s->env.owner, st, st == POLL_OK ? NULL : detail);
}

static void finish(struct sw *s, enum poll_status st, const char *detail)
{
    wipe_logon(s);
    s->done_status = st;
    snprintf(s->done_detail, sizeof s->done_detail, "%s", detail ? detail : "");
    ev_timer_set(&s->done_timer, 0.0, 0.0);
    ev_timer_start(s->env.loop, &s->done_timer);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sw *s = ud;
    size_t n = size * nmemb;
    if (!strbuf_append(&s->body, ptr, n)) {
        s->too_big = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

static const char *req_path(const struct sw *s, enum es_req req)
{
    switch (req) {
    case ES_REQ_ROOT:
        return "/";
    case ES_REQ_LOGON:
        return "/logon.cgi";
    case ES_REQ_DATA:
        return es_page_path(s->page);
    }
    return "/";
}

static void issue(struct sw *s, enum es_req req)
{
    char url[400], detail[160];
    const char *path = req_path(s, req);
    double remain = s->deadline - ev_now(s->env.loop);
    if (remain < 0.001) {
        snprintf(detail, sizeof detail, "no time left for %s %s",
                 req == ES_REQ_LOGON ? "POST" : "GET", path);
        es_session_abort(&s->sess);
        finish(s, POLL_ERR_TIMEOUT, detail);
        return;
    }
    long ms = (long)(remain * 1000.0);
    if (ms < 1)
        ms = 1;
    snprintf(url, sizeof url, "%s%s", s->base_url, path);
    strbuf_reset(&s->body);
    s->too_big = false;
    s->errbuf[0] = '\0';
    s->req = req;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (req == ES_REQ_ROOT) /* a login starts from no cookies: the switch issues a fresh one */
        curl_easy_setopt(s->easy, CURLOPT_COOKIELIST, "ALL");
    if (req == ES_REQ_LOGON) {
        int n = es_logon_body(s->logon, sizeof s->logon, s->username, &s->password);
        if (n < 0) {
            es_session_abort(&s->sess);
            finish(s, POLL_ERR_AUTH, "user name or password too long for the login form");
            return;
        }
        s->logon_len = (size_t)n;
        /* Not COPYPOSTFIELDS: curl would keep a copy we cannot wipe. */
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->logon);
        curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)s->logon_len);
    } else {
        curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    }
    if (curl_loop_add(s->cl, &s->xfer) < 0) {
        es_session_abort(&s->sess);
        finish(s, POLL_ERR_CONNECT, "cannot start an HTTP request");
    }
}

static enum poll_status curl_status(CURLcode rc, bool too_big)
{
    if (too_big)
        return POLL_ERR_PROTOCOL;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return POLL_ERR_TIMEOUT;
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_TOO_MANY_REDIRECTS:
        return POLL_ERR_PROTOCOL;
    default:
        return POLL_ERR_CONNECT;
    }
}

/* Two refinements of the line-rate rule of counters.c, from how the switch behaves:
 * - a port whose link was down at both polls carried next to nothing in between, so its
 *   counters cannot have wrapped (SW_IDLE_PPS rather than "speed unknown: 10 Gb/s");
 * - a reboot or Clear zeroes every port at once, so in a poll where one counter clearly
 *   reset, every counter that went down reset too, however plausible a wrap looked
 *   (re-run with SW_NO_WRAP_PPS; only counters within counters.c's slack of 2^32 could
 *   still pass as a wrap). */
#define SW_IDLE_PPS 1.0
#define SW_NO_WRAP_PPS 1e-9

static bool update_stats(struct sw *s, const struct es_port_statistics *st)
{
    double now = ev_now(s->env.loop);
    bool reset = false;
    struct counter64 before[ES_MAX_PORTS][C_COUNT];
    enum counter_event ev[ES_MAX_PORTS][C_COUNT];
    uint32_t raw[ES_MAX_PORTS][C_COUNT];
    bool had_stats = s->have_stats;
    if (s->have_stats && s->stats.n_ports != st->n_ports) {
        /* A different switch (or firmware) behind the address: start the counters over. */
        memset(s->ctr, 0, sizeof s->ctr);
        memset(s->last_speed, 0, sizeof s->last_speed);
        memset(s->last_up, 0, sizeof s->last_up);
        had_stats = false;
    }
    memcpy(before, s->ctr, sizeof before);
    for (unsigned p = 0; p < st->n_ports; p++) {
        const struct es_port_stat *ps = &st->ports[p];
        bool up, fd;
        uint64_t speed;
        es_link_decode(ps->link_status, &up, &speed, &fd);
        /* Traffic since the last poll ran at the faster of the two speeds seen. */
        uint64_t rate = speed > s->last_speed[p] ? speed : s->last_speed[p];
        double max_pps = rate ? counter_max_pps(rate) : 0.0;
        if (had_stats && !up && !s->last_up[p])
            max_pps = SW_IDLE_PPS;
        s->last_speed[p] = speed;
        s->last_up[p] = up;
        raw[p][C_RX_GOOD] = ps->rx_good;
        raw[p][C_TX_GOOD] = ps->tx_good;
        raw[p][C_RX_BAD] = ps->rx_bad;
        raw[p][C_TX_BAD] = ps->tx_bad;
        for (unsigned k = 0; k < C_COUNT; k++) {
            ev[p][k] = counter64_update(&s->ctr[p][k], raw[p][k], now, max_pps);
            if (ev[p][k] == COUNTER_RESET)
                reset = true;
        }
    }
    if (reset) {
        for (unsigned p = 0; p < st->n_ports; p++) {
            for (unsigned k = 0; k < C_COUNT; k++) {
                if (ev[p][k] != COUNTER_WRAP)
                    continue;
                s->ctr[p][k] = before[p][k];
                counter64_update(&s->ctr[p][k], raw[p][k], now, SW_NO_WRAP_PPS);
            }
        }
        s->resets++; /* one event per poll: a reboot zeroes every port at once */
        log_msg(LOG_INFO, s->name, "port counters went back to zero (reboot or Clear)");
    }
    s->stats = *st;
    s->have_stats = true;
    return reset;
}

static void extras_warn(struct sw *s, const char *page, const char *err)
{
    if (!s->extras_warned)
        log_msg(LOG_WARN, s->name, "%s unreadable: %s", page, err);
    s->extras_warned = true;
}

static bool is_poe_model(const struct sw *s)
{
    return s->have_sysinfo && es_model_has_poe(s->sys.model);
}

/* The poll's data page arrived: decode it, then either ask for the next page (the ones
 * read once per login, PoE on PoE models) or finish. */
static void on_data(struct sw *s)
{
    char err[160];
    const char *text = s->body.data ? s->body.data : "";
    size_t len = s->body.len;
    switch (s->page) {
    case ES_PAGE_STATS: {
        struct es_port_statistics st;
        if (es_parse_port_statistics(text, len, &st, err, sizeof err) != 0) {
            char d[220];
            snprintf(d, sizeof d, "PortStatisticsRpm.htm: %s", err);
            finish(s, POLL_ERR_PROTOCOL, d);
            return;
        }
        update_stats(s, &st);
        s->stats_this_poll = true;
        if (s->extras_due)
            s->page = ES_PAGE_SYSINFO;
        else if (is_poe_model(s))
            s->page = ES_PAGE_POE;
        else {
            finish(s, POLL_OK, NULL);
            return;
        }
        issue(s, ES_REQ_DATA);
        return;
    }
    case ES_PAGE_SYSINFO:
        if (es_parse_system_info(text, len, &s->sys, err, sizeof err) == 0)
            s->have_sysinfo = true;
        else
            extras_warn(s, "SystemInfoRpm.htm", err);
        s->page = ES_PAGE_SETTINGS;
        issue(s, ES_REQ_DATA);
        return;
    case ES_PAGE_SETTINGS:
        if (es_parse_port_settings(text, len, &s->settings, err, sizeof err) == 0)
            s->have_settings = true;
        else
            extras_warn(s, "PortSettingRpm.htm", err);
        s->extras_due = false;
        if (is_poe_model(s)) {
            s->page = ES_PAGE_POE;
            issue(s, ES_REQ_DATA);
            return;
        }
        s->have_poe = false;
        finish(s, POLL_OK, NULL);
        return;
    case ES_PAGE_POE:
        /* A live reading: when this poll's read fails, export none rather than stale ones. */
        if (es_parse_poe(text, len, &s->poe, err, sizeof err) == 0) {
            s->have_poe = s->poe.n_ports > 0; /* 0: a "PE" model without PoE after all */
        } else {
            s->have_poe = false;
            extras_warn(s, "PoeConfigRpm.htm", err);
        }
        finish(s, POLL_OK, NULL);
        return;
    }
}

static void run_step(struct sw *s, const struct es_step *step)
{
    switch (step->action) {
    case ES_ACT_GET_ROOT:
        if (step->relogin)
            log_msg(LOG_INFO, s->name,
                    "session lost (expired or taken by another client); "
                    "logging in again");
        issue(s, ES_REQ_ROOT);
        return;
    case ES_ACT_POST_LOGON:
        issue(s, ES_REQ_LOGON);
        return;
    case ES_ACT_GET_DATA:
        issue(s, ES_REQ_DATA);
        return;
    case ES_ACT_DATA_OK:
        if (step->logged_in) {
            if (!s->logged_in_before)
                log_msg(LOG_INFO, s->name, "logged in");
            s->logged_in_before = true;
            s->extras_due = true;
        }
        on_data(s);
        return;
    case ES_ACT_FAIL: {
        char detail[sizeof s->done_detail];
        snprintf(detail, sizeof detail, "%s", step->detail);
        if (step->login_refused) {
            s->logged_in_before = false; /* the next success is news again */
            snprintf(detail, sizeof detail, "%.200s; next attempt in %u s", step->detail,
                     (unsigned)(step->backoff_s + 0.5));
        }
        if (s->stats_this_poll) {
            /* The statistics are in, so the poll succeeds and the core logs nothing: say
             * here what went wrong. A page read once per login waits for the next poll;
             * PoE readings of this poll are missing, not stale. */
            if (s->page == ES_PAGE_POE)
                s->have_poe = false;
            log_msg(step->login_refused ? LOG_WARN : LOG_DEBUG, s->name, "%s not read: %s",
                    es_page_path(s->page) + 1, detail);
            finish(s, POLL_OK, NULL);
            return;
        }
        /* The core logs the failure with this detail: one line per refusal. */
        finish(s, step->status, detail);
        return;
    }
    }
}

static void xfer_done(struct curl_xfer *x, CURLcode rc)
{
    struct sw *s = x->arg;
    struct es_step step;
    if (s->logging_out) {
        s->logging_out = false;
        es_session_forget(&s->sess);
        return;
    }
    if (s->req == ES_REQ_LOGON)
        wipe_logon(s);
    if (!s->polling)
        return;
    const char *path = req_path(s, s->req);
    if (rc != CURLE_OK || s->too_big) {
        char d[sizeof step.detail];
        if (s->too_big)
            snprintf(d, sizeof d, "%s: reply larger than %zu KiB", path, SW_BODY_LIMIT / 1024);
        else
            snprintf(d, sizeof d, "%s: %.150s", path,
                     s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
        es_session_transport_error(&s->sess, s->req, curl_status(rc, s->too_big), d, &step);
        run_step(s, &step);
        return;
    }
    int err_type = -1;
    const char *text = s->body.data ? s->body.data : "";
    enum es_page_class cls = s->req == ES_REQ_DATA
                                 ? es_classify_reply(s->page, text, s->body.len, &err_type)
                                 : es_classify_page(text, s->body.len, NULL, &err_type);
    es_session_reply(&s->sess, s->req, cls, err_type, ev_now(s->env.loop), &step);
    if (step.action == ES_ACT_FAIL && step.status == POLL_ERR_PROTOCOL && !step.login_refused) {
        long code = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        snprintf(step.detail, sizeof step.detail,
                 "%s: unexpected page (HTTP %ld, %zu bytes): neither the login page nor the data",
                 path, code, s->body.len);
    }
    run_step(s, &step);
}

static void *sw_create(const struct device_config *cfg, const struct collector_env *env, char *err,
                       size_t errlen)
{
    if (!cfg->password.bytes || cfg->password.len == 0) {
        snprintf(err, errlen, "switch %s: no password configured", cfg->name);
        return NULL;
    }
    struct sw *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->env = *env;
    s->port = cfg->port ? cfg->port : 80;
    s->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 3.0;
    s->name = strdup(cfg->name);
    s->host = strdup(cfg->host);
    s->username = strdup(cfg->username ? cfg->username : "admin");
    if (!s->name || !s->host || !s->username)
        goto oom;
    if (secret_set(&s->password, cfg->password.bytes, cfg->password.len) != 0)
        goto oom;
    if (es_base_url(s->base_url, sizeof s->base_url, s->host, s->port) < 0) {
        snprintf(err, errlen, "switch %s: host name too long", cfg->name);
        goto fail;
    }
    strbuf_init(&s->body, SW_BODY_LIMIT);
    es_session_init(&s->sess);
    ev_timer_init(&s->done_timer, done_timer_cb, 0.0, 0.0);
    s->done_timer.data = s;
    s->headers = es_request_headers(s->base_url);
    s->easy = curl_easy_init();
    s->cl = curl_loop_new(env->loop);
    if (!s->headers || !s->easy || !s->cl)
        goto oom;
    es_curl_defaults(s->easy, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(s->easy, CURLOPT_MAXFILESIZE, (long)SW_BODY_LIMIT);
    s->xfer.easy = s->easy;
    s->xfer.done = xfer_done;
    s->xfer.arg = s;
    return s;
oom:
    snprintf(err, errlen, "switch %s: out of memory", cfg->name);
fail:
    if (s) {
        curl_loop_free(s->cl);
        if (s->easy)
            curl_easy_cleanup(s->easy);
        curl_slist_free_all(s->headers);
        strbuf_free(&s->body);
        secret_clear(&s->password);
        free(s->name);
        free(s->host);
        free(s->username);
        free(s);
    }
    return NULL;
}

static void sw_poll_start(void *state)
{
    struct sw *s = state;
    struct es_step step;
    if (s->polling)
        return; /* the core never overlaps polls; a second start would break "one done" */
    if (s->logging_out) {
        curl_loop_remove(s->cl, &s->xfer);
        s->logging_out = false;
        es_session_forget(&s->sess);
    }
    s->polling = true;
    s->stats_this_poll = false;
    s->page = ES_PAGE_STATS;
    s->deadline = ev_now(s->env.loop) + s->timeout_s;
    es_session_begin(&s->sess, ev_now(s->env.loop), &step);
    run_step(s, &step);
}

static void sw_poll_cancel(void *state)
{
    struct sw *s = state;
    if (!s->polling)
        return;
    ev_timer_stop(s->env.loop, &s->done_timer);
    if (!s->logging_out)
        curl_loop_remove(s->cl, &s->xfer);
    wipe_logon(s);
    es_session_abort(&s->sess);
    s->polling = false;
}

static bool sw_info(const void *state, struct device_info *info)
{
    const struct sw *s = state;
    if (!s->have_sysinfo)
        return false;
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "%s", s->sys.model);
    snprintf(info->hw_version, sizeof info->hw_version, "%s", s->sys.hw_version);
    snprintf(info->fw_version, sizeof info->fw_version, "%s", s->sys.firmware);
    snprintf(info->mac, sizeof info->mac, "%s", s->sys.mac);
    snprintf(info->alias, sizeof info->alias, "%s", s->sys.description);
    return true;
}

static void port_sample(struct expo *e, int fam, const char *device, const char *port, double v)
{
    const struct label l[2] = {{"device", device}, {"port", port}};
    expo_sample(e, &sw_families[fam], l, 2, v);
}

static void sw_emit(const void *state, const char *device, struct expo *e)
{
    const struct sw *s = state;
    char port[12];
    if (s->have_stats) {
        for (unsigned p = 0; p < s->stats.n_ports; p++) {
            const struct es_port_stat *ps = &s->stats.ports[p];
            bool up, fd;
            uint64_t speed;
            es_link_decode(ps->link_status, &up, &speed, &fd);
            snprintf(port, sizeof port, "%u", p + 1);
            port_sample(e, F_PORT_ENABLED, device, port, ps->enabled);
            port_sample(e, F_PORT_LINK_UP, device, port, up);
            port_sample(e, F_PORT_SPEED, device, port, up ? (double)speed : 0.0);
            port_sample(e, F_PORT_FULL_DUPLEX, device, port, up && fd);
            port_sample(e, F_PORT_RX_PACKETS, device, port, (double)s->ctr[p][C_RX_GOOD].total);
            port_sample(e, F_PORT_TX_PACKETS, device, port, (double)s->ctr[p][C_TX_GOOD].total);
            port_sample(e, F_PORT_RX_ERRORS, device, port, (double)s->ctr[p][C_RX_BAD].total);
            port_sample(e, F_PORT_TX_ERRORS, device, port, (double)s->ctr[p][C_TX_BAD].total);
        }
        expo_sample_dev(e, &sw_families[F_STAT_RESETS], device, (double)s->resets);
    }
    if (s->have_settings) {
        for (unsigned p = 0; p < s->settings.n_ports; p++) {
            snprintf(port, sizeof port, "%u", p + 1);
            port_sample(e, F_PORT_LAG, device, port, s->settings.ports[p].lag);
            port_sample(e, F_PORT_FLOW_CONTROL, device, port, s->settings.ports[p].fc_cfg);
        }
    }
    if (s->have_poe) {
        for (unsigned p = 0; p < s->poe.n_ports; p++) {
            const struct es_poe_port *pp = &s->poe.ports[p];
            snprintf(port, sizeof port, "%u", p + 1);
            port_sample(e, F_POE_POWER, device, port, pp->power_watts);
            port_sample(e, F_POE_VOLTAGE, device, port, pp->voltage_volts);
            port_sample(e, F_POE_CURRENT, device, port, pp->current_amperes);
            port_sample(e, F_POE_STATUS, device, port, pp->status);
        }
        expo_sample_dev(e, &sw_families[F_POE_BUDGET], device, s->poe.budget_watts);
        expo_sample_dev(e, &sw_families[F_POE_CONSUMPTION], device, s->poe.consumption_watts);
    }
}

/* Frees the switch's admin slot for people; started, not awaited. */
static void sw_shutdown(void *state)
{
    struct sw *s = state;
    char url[400];
    sw_poll_cancel(s);
    if (!s->sess.logged_in || s->logging_out)
        return;
    long ms = (long)(s->timeout_s * 1000.0);
    if (ms > SW_LOGOUT_TIMEOUT_MS)
        ms = SW_LOGOUT_TIMEOUT_MS;
    if (ms < 1)
        ms = 1;
    snprintf(url, sizeof url, "%s/Logout.htm", s->base_url);
    strbuf_reset(&s->body);
    s->too_big = false;
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
    if (curl_loop_add(s->cl, &s->xfer) == 0)
        s->logging_out = true;
}

static void sw_destroy(void *state)
{
    struct sw *s = state;
    if (!s)
        return;
    ev_timer_stop(s->env.loop, &s->done_timer);
    curl_loop_free(s->cl);
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->headers);
    strbuf_free(&s->body);
    wipe_logon(s);
    secret_clear(&s->password);
    free(s->name);
    free(s->host);
    free(s->username);
    free(s);
}

const struct collector switch_collector = {
    .kind = "switch",
    .device_kind = DEVICE_SWITCH,
    .metrics = {sw_families, F_COUNT},
    .create = sw_create,
    .poll_start = sw_poll_start,
    .poll_cancel = sw_poll_cancel,
    .info = sw_info,
    .emit = sw_emit,
    .shutdown = sw_shutdown,
    .destroy = sw_destroy,
};
