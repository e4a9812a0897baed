/* tplinkctl switch: port statistics of an Easy Smart switch, as a drop-in for psmode's
 * essstat.py (same options, same output formats), on the exporter's own page codecs and
 * login rule. Synchronous: one switch, one shot.
 *
 * The password can come from -p (as essstat takes it; the copy in argv is overwritten
 * once read, but it is visible in `ps` until then), --password-file or TPLINK_PASSWORD. */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/easysmart/page.h"
#include "collectors/easysmart/session.h"
#include "config/secret.h"
#include "ctl/ctl.h"
#include "daemon/strbuf.h"

#define PROG "tplinkctl switch"
#define BODY_LIMIT ((size_t)256 * 1024)
#define GET_TIMEOUT_MS 6000L /* essstat: 6 s for GETs, 5 s for the POST */
#define POST_TIMEOUT_MS 5000L
#define LOGOUT_TIMEOUT_MS 2000L
#define MAX_STEPS 16

struct opts {
    bool oneline, debug, info, json, lld, statsonly;
    const char *username;
    const char *password_file;
    int port; /* -P: 0 = all */
    const char *metric;
    const char *target;
};

struct client {
    const struct opts *o;
    char host[256];
    uint16_t webport;
    char base[300];
    CURL *easy;
    struct curl_slist *headers;
    struct strbuf body;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " [-h] [-1] [-d] [-i] [-j] [-l] [-s] [-u USER]\n"
            "                        (-p PASS | --password-file FILE) [-P PORT -M METRIC] [-v]\n"
            "                        HOST[:WEBPORT]\n\n"
            "TP-Link Easy Smart switch port statistics (essstat-compatible output).\n\n"
            "  HOST[:WEBPORT]          the switch's web UI (port 80 unless given; [v6]:port)\n"
            "  -h, --help              show this help and exit\n"
            "  -1, --1line             output on a single line (CSV)\n"
            "  -d, --debug             show each request and reply on stderr\n"
            "  -i, --info              system info instead of port statistics\n"
            "  -j, --json              output as JSON\n"
            "  -l, --lld               output in Zabbix LLD JSON format\n"
            "  -s, --statsonly         per-port statistics only (one line per port)\n"
            "  -u, --username USER     user name (default admin)\n"
            "  -p, --password PASS     password; visible in `ps` while the command starts:\n"
            "                          prefer --password-file or TPLINK_PASSWORD\n"
            "      --password-file F   read the password from the first line of F\n"
            "  -P, --port PORT         one port (with -M); -n is accepted too\n"
            "  -M, --metric METRIC     state, link_status, TxGoodPkt, TxBadPkt, RxGoodPkt\n"
            "                          or RxBadPkt of that port\n"
            "  -v, --version           show the version and exit\n\n"
            "Exit status: 0 ok, 1 the switch could not be read (login refused, network,\n"
            "unexpected page), 2 usage.\n");
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_password_file(const char *path, struct secret *out)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, PROG ": %s: cannot open the password file\n", path);
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool more = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    int rc = 0;
    if (more && len == n) {
        fprintf(stderr, PROG ": %s: the password line is too long\n", path);
        rc = -1;
    } else if (len == 0) {
        fprintf(stderr, PROG ": %s: the first line is empty\n", path);
        rc = -1;
    } else if (secret_set(out, buf, len) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = -1;
    }
    explicit_bzero(buf, sizeof buf);
    return rc;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct client *c = ud;
    size_t n = size * nmemb;
    if (!strbuf_append(&c->body, ptr, n)) {
        c->too_big = true;
        return 0;
    }
    return n;
}

static const char *class_name(enum es_page_class cls)
{
    switch (cls) {
    case ES_PAGE_LOGIN:
        return "login page";
    case ES_PAGE_DATA:
        return "data page";
    case ES_PAGE_UNKNOWN:
        break;
    }
    return "unrecognised page";
}

/* One request. Returns POLL_OK with the body in c->body, or the failure with a one-line
 * reason in why. */
static enum poll_status request(struct client *c, const char *path, const char *post,
                                size_t post_len, long timeout_ms, char *why, size_t whylen)
{
    char url[400];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    strbuf_reset(&c->body);
    c->too_big = false;
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (post) {
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)post_len);
    } else {
        curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    }
    CURLcode rc = curl_easy_perform(c->easy);
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (c->o->debug)
        fprintf(stderr, "%s %s -> %s, HTTP %ld, %zu bytes\n", post ? "POST" : "GET", path,
                rc == CURLE_OK ? "ok" : curl_easy_strerror(rc), code, c->body.len);
    if (c->too_big) {
        snprintf(why, whylen, "%s: reply larger than %zu KiB", path, BODY_LIMIT / 1024);
        return POLL_ERR_PROTOCOL;
    }
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s: %.200s", path,
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return rc == CURLE_OPERATION_TIMEDOUT ? POLL_ERR_TIMEOUT : POLL_ERR_CONNECT;
    }
    if (c->o->debug && c->body.len) {
        fprintf(stderr, "--- reply body (first 4 KiB) ---\n%.4096s\n--- end ---\n", c->body.data);
    }
    return POLL_OK;
}

/* Logs in as needed and fetches page; on success the page is in c->body. */
static int fetch(struct client *c, struct es_session *ses, enum es_page page, const char *username,
                 const struct secret *password, char *why, size_t whylen)
{
    struct es_step step;
    char logon[512];
    es_session_begin(ses, mono_now(), &step);
    for (int i = 0; i < MAX_STEPS; i++) {
        enum es_req req;
        enum poll_status rc;
        switch (step.action) {
        case ES_ACT_DATA_OK:
            return 0;
        case ES_ACT_FAIL:
            snprintf(why, whylen, "%s", step.detail);
            return -1;
        case ES_ACT_GET_ROOT:
            req = ES_REQ_ROOT;
            curl_easy_setopt(c->easy, CURLOPT_COOKIELIST, "ALL");
            rc = request(c, "/", NULL, 0, GET_TIMEOUT_MS, why, whylen);
            break;
        case ES_ACT_POST_LOGON: {
            req = ES_REQ_LOGON;
            int n = es_logon_body(logon, sizeof logon, username, password);
            if (n < 0) {
                snprintf(why, whylen, "user name or password too long for the login form");
                return -1;
            }
            rc = request(c, "/logon.cgi", logon, (size_t)n, POST_TIMEOUT_MS, why, whylen);
            explicit_bzero(logon, sizeof logon);
            break;
        }
        case ES_ACT_GET_DATA:
        default:
            req = ES_REQ_DATA;
            rc = request(c, es_page_path(page), NULL, 0, GET_TIMEOUT_MS, why, whylen);
            break;
        }
        if (rc != POLL_OK) {
            es_session_transport_error(ses, req, rc, why, &step);
            continue;
        }
        int err_type = -1;
        const char *text = c->body.data ? c->body.data : "";
        enum es_page_class cls = req == ES_REQ_DATA
                                     ? es_classify_reply(page, text, c->body.len, &err_type)
                                     : es_classify_page(text, c->body.len, NULL, &err_type);
        if (c->o->debug)
            fprintf(stderr, "  classified: %s (errType %d)\n", class_name(cls), err_type);
        es_session_reply(ses, req, cls, err_type, mono_now(), &step);
    }
    snprintf(why, whylen, "login did not settle after %d requests", MAX_STEPS);
    return -1;
}

static void timestamp(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static int print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (!s) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}

/* The Zabbix low-level discovery form: {"data": [{"{#KEY}": value, …}, …]}. */
static json_t *lld_entry(json_t *obj)
{
    json_t *e = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char macro[80];
        size_t n = 0;
        macro[n++] = '{';
        macro[n++] = '#';
        /* k itself is the iterator: walk a copy */
        for (const char *c = k; *c && n < sizeof macro - 2; c++)
            macro[n++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        macro[n++] = '}';
        macro[n] = '\0';
        json_object_set(e, macro, v);
    }
    return e;
}

static const char *const metric_names[] = {"state",    "link_status", "TxGoodPkt",
                                           "TxBadPkt", "RxGoodPkt",   "RxBadPkt"};

static unsigned long long metric_value(const struct es_port_stat *p, size_t m)
{
    switch (m) {
    case 0:
        return p->enabled;
    case 1:
        return p->link_status;
    case 2:
        return p->tx_good;
    case 3:
        return p->tx_bad;
    case 4:
        return p->rx_good;
    default:
        return p->rx_bad;
    }
}

static json_t *port_object(const struct es_port_stat *p, unsigned port, bool port_as_string)
{
    json_t *o = json_object();
    if (port_as_string) {
        char s[12];
        snprintf(s, sizeof s, "%u", port);
        json_object_set_new(o, "port", json_string(s));
    } else {
        json_object_set_new(o, "port", json_integer(port));
    }
    for (size_t m = 0; m < sizeof metric_names / sizeof metric_names[0]; m++)
        json_object_set_new(o, metric_names[m], json_integer((json_int_t)metric_value(p, m)));
    return o;
}

static int output_stats(const struct opts *o, const struct es_port_statistics *st)
{
    char ts[32];
    if (o->lld) {
        json_t *data = json_array();
        for (unsigned p = 0; p < st->n_ports; p++) {
            json_t *po = port_object(&st->ports[p], p + 1, true);
            json_array_append_new(data, lld_entry(po));
            json_decref(po);
        }
        json_t *root = json_object();
        json_object_set_new(root, "data", data);
        return print_json(root);
    }
    if (o->port && o->metric) {
        size_t m;
        for (m = 0; m < sizeof metric_names / sizeof metric_names[0]; m++)
            if (strcmp(o->metric, metric_names[m]) == 0)
                break;
        if (o->port < 1 || (unsigned)o->port > st->n_ports) {
            fprintf(stderr, PROG ": invalid port number %d: the switch has ports 1 to %u\n",
                    o->port, st->n_ports);
            return 1;
        }
        if (m == sizeof metric_names / sizeof metric_names[0]) {
            fprintf(stderr, PROG ": invalid metric name '%s'\n", o->metric);
            return 1;
        }
        printf("%llu\n", metric_value(&st->ports[o->port - 1], m));
        return 0;
    }
    if (o->json) {
        json_t *arr = json_array();
        for (unsigned p = 0; p < st->n_ports; p++)
            json_array_append_new(arr, port_object(&st->ports[p], p + 1, false));
        return print_json(arr);
    }
    timestamp(ts, sizeof ts);
    if (o->oneline) {
        printf("%s,%u,", ts, st->n_ports);
        for (unsigned p = 0; p < st->n_ports; p++) {
            const struct es_port_stat *ps = &st->ports[p];
            printf("%u,%d,%u,%lu,%lu,%lu,%lu%c", p + 1, ps->enabled ? 1 : 0,
                   (unsigned)ps->link_status, (unsigned long)ps->tx_good, (unsigned long)ps->tx_bad,
                   (unsigned long)ps->rx_good, (unsigned long)ps->rx_bad,
                   p + 1 == st->n_ports ? '\n' : ',');
        }
        if (st->n_ports == 0)
            putchar('\n');
        return 0;
    }
    if (!o->statsonly) {
        printf("%s\n", ts);
        printf("max_port_num=%u\n", st->n_ports);
    }
    for (unsigned p = 0; p < st->n_ports; p++) {
        const struct es_port_stat *ps = &st->ports[p];
        printf("%u;%s;%s;%lu,%lu,%lu,%lu\n", p + 1, ps->enabled ? "Enabled" : "Disabled",
               es_link_text(ps->link_status), (unsigned long)ps->tx_good, (unsigned long)ps->tx_bad,
               (unsigned long)ps->rx_good, (unsigned long)ps->rx_bad);
    }
    return 0;
}

/* A JSON string of page text; bytes that are not UTF-8 (gb2312 pages) become '?'. */
static json_t *json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    char buf[128];
    size_t n = 0;
    for (; *s && n < sizeof buf - 1; s++)
        buf[n++] = (unsigned char)*s < 0x80 ? *s : '?';
    buf[n] = '\0';
    return json_string(buf);
}

static int output_info(const struct opts *o, const struct es_system_info *si)
{
    char hw[64];
    if (si->hw_version[0])
        snprintf(hw, sizeof hw, "%s %s", si->model, si->hw_version);
    else
        snprintf(hw, sizeof hw, "%s", si->model);
    /* essstat's keys are the page's own variable names. */
    const char *const keys[] = {"descriStr",  "macStr",      "ipStr",      "netmaskStr",
                                "gatewayStr", "firmwareStr", "hardwareStr"};
    const char *const vals[] = {si->description, si->mac,      si->ip, si->netmask,
                                si->gateway,     si->firmware, hw};
    const size_t n = sizeof keys / sizeof keys[0];
    if (o->lld || o->json) {
        json_t *obj = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(obj, keys[i], json_text(vals[i]));
        if (!o->lld)
            return print_json(obj);
        json_t *data = json_array();
        json_array_append_new(data, lld_entry(obj));
        json_decref(obj);
        json_t *root = json_object();
        json_object_set_new(root, "data", data);
        return print_json(root);
    }
    if (o->oneline) {
        char ts[32];
        timestamp(ts, sizeof ts);
        printf("%s", ts);
        for (size_t i = 0; i < n; i++)
            printf(",%s=%s", keys[i], vals[i]);
        putchar('\n');
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s: %s\n", keys[i], vals[i]);
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o, struct secret *password)
{
    enum { OPT_PASSWORD_FILE = 256 };
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"1line", no_argument, NULL, '1'},
        {"debug", no_argument, NULL, 'd'},
        {"info", no_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"lld", no_argument, NULL, 'l'},
        {"statsonly", no_argument, NULL, 's'},
        {"username", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
        {"port", required_argument, NULL, 'P'},
        {"metric", required_argument, NULL, 'M'},
        {"version", no_argument, NULL, 'v'},
        {"Version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0; /* full re-initialisation: the dispatcher (or a test) may have used getopt */
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h1dijlsu:p:P:n:M:v", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return 0;
        case '1':
            o->oneline = true;
            break;
        case 'd':
            o->debug = true;
            break;
        case 'i':
            o->info = true;
            break;
        case 'j':
            o->json = true;
            break;
        case 'l':
            o->lld = true;
            break;
        case 's':
            o->statsonly = true;
            break;
        case 'u':
            o->username = optarg;
            break;
        case 'p': {
            size_t len = strlen(optarg);
            secret_clear(password);
            if (secret_set(password, optarg, len) != 0) {
                fprintf(stderr, PROG ": out of memory\n");
                return 1;
            }
            /* Shortens the window in which other users see it in /proc/PID/cmdline. */
            explicit_bzero(optarg, len);
            break;
        }
        case OPT_PASSWORD_FILE:
            o->password_file = optarg;
            break;
        case 'P':
        case 'n': {
            char *e;
            long v = strtol(optarg, &e, 10);
            if (*optarg == '\0' || *e || v < 1 || v > ES_MAX_PORTS) {
                fprintf(stderr, PROG ": invalid port number '%s'\n", optarg);
                return 2;
            }
            o->port = (int)v;
            break;
        }
        case 'M':
            o->metric = optarg;
            break;
        case 'v':
            printf("tplinkctl switch %s (essstat-compatible)\n", TPLINK_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, PROG ": exactly one HOST[:WEBPORT] is needed\n");
        usage(stderr);
        return 2;
    }
    o->target = argv[optind];
    if ((o->port != 0) != (o->metric != NULL)) {
        fprintf(stderr, PROG ": -P PORT and -M METRIC go together\n");
        return 2;
    }
    return -1; /* go on */
}

static int get_password(const struct opts *o, struct secret *password)
{
    if (password->bytes)
        return 0;
    if (o->password_file)
        return read_password_file(o->password_file, password) == 0 ? 0 : 2;
    const char *env = getenv("TPLINK_PASSWORD");
    if (env && *env)
        return secret_set(password, env, strlen(env)) == 0 ? 0 : 1;
    fprintf(stderr, PROG ": a password is needed: -p PASS, --password-file FILE or the "
                         "TPLINK_PASSWORD environment variable\n");
    return 2;
}

static void logout(struct client *c)
{
    char why[256];
    request(c, "/Logout.htm", NULL, 0, LOGOUT_TIMEOUT_MS, why, sizeof why);
}

int ctl_switch_main(int argc, char **argv)
{
    struct opts o = {.username = "admin"};
    struct secret password = {0};
    struct client c = {.o = &o};
    int rc = parse_args(argc, argv, &o, &password);
    if (rc >= 0)
        goto out_nocurl;
    rc = get_password(&o, &password);
    if (rc != 0)
        goto out_nocurl;
    if (ctl_split_target(o.target, c.host, sizeof c.host, &c.webport, 80) != 0 ||
        es_base_url(c.base, sizeof c.base, c.host, c.webport) < 0) {
        fprintf(stderr, PROG ": bad HOST[:WEBPORT] '%s'\n", o.target);
        rc = 2;
        goto out_nocurl;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, PROG ": cannot initialise libcurl\n");
        rc = 1;
        goto out_nocurl;
    }
    strbuf_init(&c.body, BODY_LIMIT);
    c.headers = es_request_headers(c.base);
    c.easy = curl_easy_init();
    if (!c.headers || !c.easy) {
        fprintf(stderr, PROG ": out of memory\n");
        rc = 1;
        goto out;
    }
    es_curl_defaults(c.easy, c.headers);
    curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(c.easy, CURLOPT_ERRORBUFFER, c.errbuf);
    curl_easy_setopt(c.easy, CURLOPT_MAXFILESIZE, (long)BODY_LIMIT);
    curl_easy_setopt(c.easy, CURLOPT_CONNECTTIMEOUT_MS, POST_TIMEOUT_MS);

    struct es_session ses;
    es_session_init(&ses);
    char why[256], perr[160];
    enum es_page page = o.info ? ES_PAGE_SYSINFO : ES_PAGE_STATS;
    if (fetch(&c, &ses, page, o.username, &password, why, sizeof why) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", o.target, why);
        rc = 1;
    } else if (o.info) {
        struct es_system_info si;
        if (es_parse_system_info(c.body.data ? c.body.data : "", c.body.len, &si, perr,
                                 sizeof perr) != 0) {
            fprintf(stderr, PROG ": %s: SystemInfoRpm.htm: %s\n", o.target, perr);
            rc = 1;
        } else {
            rc = output_info(&o, &si);
        }
    } else {
        struct es_port_statistics st;
        if (es_parse_port_statistics(c.body.data ? c.body.data : "", c.body.len, &st, perr,
                                     sizeof perr) != 0) {
            fprintf(stderr, PROG ": %s: PortStatisticsRpm.htm: %s\n", o.target, perr);
            rc = 1;
        } else {
            rc = output_stats(&o, &st);
        }
    }
    if (ses.logged_in)
        logout(&c);
    fflush(stdout);
out:
    if (c.easy)
        curl_easy_cleanup(c.easy);
    curl_slist_free_all(c.headers);
    strbuf_free(&c.body);
    curl_global_cleanup();
out_nocurl:
    secret_clear(&password);
    return rc;
}
