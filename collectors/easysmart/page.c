/* Easy Smart pages -> structs: html.c finds the scripts, js.c reads their literals, and
 * this file checks every value against what the page format allows (refs §4-§7).
 *
 * Only scripts that may assign one of the variables a codec reads are tokenized (each codec
 * names them; logonInfo always). A variable is found exactly as if every script had been
 * read, except that the document caps of js.h (JS_MAX_NODES, JS_MAX_VARS) now count the
 * values of those scripts only. */
#include "collectors/easysmart/page.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collectors/easysmart/html.h"
#include "collectors/easysmart/js.h"

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct page {
    struct es_html html;
    struct js_doc js;
};

static void page_free(struct page *pg)
{
    es_html_free(&pg->html);
    js_doc_free(&pg->js);
}

/* Every codec also reads logonInfo (the login page check). */
#define MAX_NAMES 6

static int page_load(enum es_html_engine engine, const char *text, size_t len,
                     const char *const *names, struct page *pg, char *err, size_t errlen)
{
    pg->html.arena = NULL;
    pg->html.n_scripts = 0;
    js_doc_init(&pg->js);
    if (len > ES_PAGE_MAX_BYTES) {
        set_err(err, errlen, "page larger than %zu bytes", ES_PAGE_MAX_BYTES);
        return -1;
    }
    int rc = engine == ES_HTML_LIBXML2 ? es_html_parse_libxml2(text, len, &pg->html, err, errlen)
                                       : es_html_scan(text, len, &pg->html, err, errlen);
    if (rc != 0)
        return -1;
    const char *wanted[MAX_NAMES + 2] = {"logonInfo"};
    size_t n_wanted = 1;
    for (; *names && n_wanted <= MAX_NAMES; names++)
        wanted[n_wanted++] = *names;
    for (size_t i = 0; i < pg->html.n_scripts; i++) {
        if (!js_may_assign(pg->html.scripts[i].text, pg->html.scripts[i].len, wanted))
            continue;
        if (js_doc_add_script(&pg->js, pg->html.scripts[i].text, pg->html.scripts[i].len,
                              (unsigned)i) != 0) {
            page_free(pg);
            set_err(err, errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

/* logonInfo[0], or -1 when it is not a small unsigned integer. */
static int logon_err_type(const struct js_doc *js, const struct js_var *v)
{
    uint64_t e;
    if (!v || !v->node || !js_uint(js_at(js, js_node(js, v->node), 0), INT_MAX, &e))
        return -1;
    return (int)e;
}

/* refs §3.6: logonInfo declared in the first script, or a form posting to logon.cgi. */
static bool page_is_login(const struct page *pg, int *err_type)
{
    const struct js_var *v = js_find_var(&pg->js, "logonInfo", 0);
    if (!v && !pg->html.logon_form)
        return false;
    if (!v)
        v = js_find_var(&pg->js, "logonInfo", -1);
    *err_type = logon_err_type(&pg->js, v);
    return true;
}

/* Loads a data page; a login page is an error of its own. */
static int load_data_page(enum es_html_engine engine, const char *text, size_t len,
                          const char *const *names, struct page *pg, char *err, size_t errlen)
{
    if (page_load(engine, text, len, names, pg, err, errlen) != 0)
        return -1;
    int et;
    if (page_is_login(pg, &et)) {
        set_err(err, errlen, "login page instead of data (errType %d)", et);
        page_free(pg);
        return -1;
    }
    return 0;
}

static const char *describe_bad_number(const struct js_node *n)
{
    if (!n || n->type != JS_NUMBER)
        return "is not a number";
    if (n->flags & JS_NUM_NEG)
        return "is negative";
    if (n->flags & JS_NUM_FRAC)
        return "is not an integer";
    return "is out of range";
}

/* A top-level variable that must hold an unsigned integer in [min, max]. */
static int read_var_uint(const struct js_doc *js, const char *name, uint64_t min, uint64_t max,
                         uint64_t *out, char *err, size_t errlen)
{
    const struct js_var *v = js_find_var(js, name, -1);
    if (!v) {
        set_err(err, errlen, "%s missing", name);
        return -1;
    }
    const struct js_node *n = js_node(js, v->node);
    if (!n) {
        set_err(err, errlen, "%s: %s", name, v->error);
        return -1;
    }
    if (!js_uint(n, max, out) || *out < min) {
        set_err(err, errlen, "%s %s (allowed %llu..%llu)", name,
                js_uint(n, UINT64_MAX, out) ? "is out of range" : describe_bad_number(n),
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* A top-level variable that must hold an object. */
static const struct js_node *read_var_object(const struct js_doc *js, const char *name, char *err,
                                             size_t errlen)
{
    const struct js_var *v = js_find_var(js, name, -1);
    if (!v) {
        set_err(err, errlen, "%s missing", name);
        return NULL;
    }
    const struct js_node *n = js_node(js, v->node);
    if (!n) {
        set_err(err, errlen, "%s: %s", name, v->error);
        return NULL;
    }
    if (n->type != JS_OBJECT) {
        set_err(err, errlen, "%s is not an object", name);
        return NULL;
    }
    return n;
}

/* The first `need` entries of obj.key, each an unsigned integer no larger than max. */
static int read_uint_array(const struct js_doc *js, const struct js_node *obj, const char *var,
                           const char *key, size_t need, uint64_t max, uint64_t *out, char *err,
                           size_t errlen)
{
    const struct js_node *arr = js_member(js, obj, key);
    if (!arr) {
        set_err(err, errlen, "%s.%s missing", var, key);
        return -1;
    }
    if (arr->type != JS_ARRAY) {
        set_err(err, errlen, "%s.%s is not an array", var, key);
        return -1;
    }
    if (arr->count < need) {
        set_err(err, errlen, "%s.%s has %u entries, %zu needed", var, key, (unsigned)arr->count,
                need);
        return -1;
    }
    const struct js_node *el = js_first(js, arr);
    for (size_t i = 0; i < need; i++, el = js_next(js, el)) {
        if (!js_uint(el, max, &out[i])) {
            uint64_t big;
            if (js_uint(el, UINT64_MAX, &big))
                set_err(err, errlen, "%s.%s[%zu] = %llu is above %llu", var, key, i,
                        (unsigned long long)big, (unsigned long long)max);
            else
                set_err(err, errlen, "%s.%s[%zu] %s", var, key, i, describe_bad_number(el));
            return -1;
        }
    }
    return 0;
}

static int read_port_count(const struct js_doc *js, const char *name, unsigned min, unsigned *n,
                           char *err, size_t errlen)
{
    uint64_t v;
    if (read_var_uint(js, name, min, ES_MAX_PORTS, &v, err, errlen) != 0)
        return -1;
    *n = (unsigned)v;
    return 0;
}

/* ---- classification ----------------------------------------------------------------- */

enum es_page_class es_classify_page_via(enum es_html_engine engine, const char *text, size_t len,
                                        const char *anchor, int *err_type)
{
    int et = -1;
    if (err_type)
        *err_type = -1;
    struct page pg;
    const char *const names[] = {anchor, NULL};
    if (page_load(engine, text, len, anchor ? names : names + 1, &pg, NULL, 0) != 0)
        return ES_PAGE_UNKNOWN;
    enum es_page_class cls = ES_PAGE_UNKNOWN;
    if (page_is_login(&pg, &et)) {
        cls = ES_PAGE_LOGIN;
        if (err_type)
            *err_type = et;
    } else if (anchor && js_find_var(&pg.js, anchor, -1)) {
        cls = ES_PAGE_DATA;
    }
    page_free(&pg);
    return cls;
}

enum es_page_class es_classify_page(const char *text, size_t len, const char *anchor, int *err_type)
{
    return es_classify_page_via(ES_HTML_SCANNER, text, len, anchor, err_type);
}

const char *es_err_type_text(int err_type)
{
    switch (err_type) {
    case ES_ERRTYPE_NONE:
        return "no error reported (login accepted, ignored, or not attempted)";
    case ES_ERRTYPE_BAD_CREDENTIALS:
        return "The user name or the password is wrong.";
    case ES_ERRTYPE_NOT_ALLOWED:
        return "The user is not allowed to login.";
    case ES_ERRTYPE_USERS_FULL:
        return "The number of the user that allowed to login has been full.";
    case ES_ERRTYPE_SESSIONS_FULL:
        return "The number of the login user has been full,it is allowed 16 people to login at "
               "the same time.";
    case ES_ERRTYPE_SESSION_TIMEOUT:
        return "The session is timeout. Please login again.";
    case ES_ERRTYPE_FACTORY_RESET:
        return "please change your password (restored account: a login would set it)";
    default:
        return err_type < 0 ? "login page without a readable logonInfo" : "Unkonwn error";
    }
}

/* ---- PortStatisticsRpm.htm ---------------------------------------------------------- */

static int stats_all_info(const struct js_doc *js, unsigned n, struct es_port_statistics *out,
                          char *err, size_t errlen)
{
    const struct js_node *obj = read_var_object(js, "all_info", err, errlen);
    if (!obj)
        return -1;
    uint64_t state[ES_MAX_PORTS], link[ES_MAX_PORTS], pkts[4 * ES_MAX_PORTS];
    if (read_uint_array(js, obj, "all_info", "state", n, 1, state, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "link_status", n, UINT8_MAX, link, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "pkts", 4 * (size_t)n, UINT32_MAX, pkts, err,
                        errlen) != 0)
        return -1;
    for (unsigned p = 0; p < n; p++) {
        struct es_port_stat *s = &out->ports[p];
        s->enabled = state[p] == 1;
        s->link_status = (uint8_t)link[p];
        s->tx_good = (uint32_t)pkts[4 * p + 0];
        s->tx_bad = (uint32_t)pkts[4 * p + 1];
        s->rx_good = (uint32_t)pkts[4 * p + 2];
        s->rx_bad = (uint32_t)pkts[4 * p + 3];
    }
    return 0;
}

/* A string variable; NULL (and err set) when absent or not a string. */
static const char *read_var_string(const struct js_doc *js, const char *name, size_t *len,
                                   char *err, size_t errlen)
{
    const struct js_var *v = js_find_var(js, name, -1);
    if (!v) {
        set_err(err, errlen, "%s missing", name);
        return NULL;
    }
    const struct js_node *n = js_node(js, v->node);
    if (!n) {
        set_err(err, errlen, "%s: %s", name, v->error);
        return NULL;
    }
    const char *s = js_string(js, n, len);
    if (!s)
        set_err(err, errlen, "%s is not a string", name);
    return s;
}

static bool is_field_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* NUL too: the scanner passes page bytes through, and a NUL used to reach here as a space */
static bool is_number_space(char c)
{
    return is_field_space(c) || c == '\0';
}

/* refs §4.2: tmp_info + " " + tmp_info2, 6 decimal integers per port: state, link,
 * TxGood, TxBad, RxGood, RxBad. Numbers after the last port are ignored. */
static int stats_tmp_info(const struct js_doc *js, unsigned n, struct es_port_statistics *out,
                          char *err, size_t errlen)
{
    const char *part[2];
    size_t part_len[2] = {0, 0};
    part[0] = read_var_string(js, "tmp_info", &part_len[0], err, errlen);
    if (!part[0])
        return -1;
    part[1] = "";
    if (js_find_var(js, "tmp_info2", -1)) {
        part[1] = read_var_string(js, "tmp_info2", &part_len[1], err, errlen);
        if (!part[1])
            return -1;
    }
    static const char *const field[6] = {"state",    "link status", "TxGoodPkt",
                                         "TxBadPkt", "RxGoodPkt",   "RxBadPkt"};
    static const uint64_t field_max[6] = {1,          UINT8_MAX,  UINT32_MAX,
                                          UINT32_MAX, UINT32_MAX, UINT32_MAX};
    uint64_t vals[6 * ES_MAX_PORTS] = {0};
    size_t need = 6 * (size_t)n, got = 0;
    for (int k = 0; k < 2 && got < need; k++) {
        const char *s = part[k];
        size_t len = part_len[k], i = 0;
        while (got < need) {
            while (i < len && is_number_space(s[i]))
                i++;
            if (i >= len)
                break;
            uint64_t v = 0;
            size_t digits = 0;
            bool over = false;
            for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
                v = v * 10 + (uint64_t)(s[i] - '0');
                if (v > UINT32_MAX) {
                    over = true;
                    v = (uint64_t)UINT32_MAX + 1; /* stays bounded; any excess is an error */
                }
            }
            unsigned port = (unsigned)(got / 6) + 1;
            const char *what = field[got % 6];
            if (digits == 0 || (i < len && !is_number_space(s[i]))) {
                set_err(err, errlen, "tmp_info: port %u %s is not a decimal number", port, what);
                return -1;
            }
            if (over || v > field_max[got % 6]) {
                set_err(err, errlen, "tmp_info: port %u %s is above %llu", port, what,
                        (unsigned long long)field_max[got % 6]);
                return -1;
            }
            vals[got++] = v;
        }
    }
    if (got < need) {
        set_err(err, errlen, "tmp_info has %zu numbers, %zu needed for %u ports", got, need, n);
        return -1;
    }
    for (unsigned p = 0; p < n; p++) {
        const uint64_t *v = &vals[6 * p];
        struct es_port_stat *s = &out->ports[p];
        s->enabled = v[0] == 1;
        s->link_status = (uint8_t)v[1];
        s->tx_good = (uint32_t)v[2];
        s->tx_bad = (uint32_t)v[3];
        s->rx_good = (uint32_t)v[4];
        s->rx_bad = (uint32_t)v[5];
    }
    return 0;
}

int es_parse_port_statistics_via(enum es_html_engine engine, const char *text, size_t len,
                                 struct es_port_statistics *out, char *err, size_t errlen)
{
    static const char *const names[] = {"max_port_num", "all_info", "tmp_info", "tmp_info2", NULL};
    memset(out, 0, sizeof *out);
    struct page pg;
    if (load_data_page(engine, text, len, names, &pg, err, errlen) != 0)
        return -1;
    unsigned n;
    int rc = read_port_count(&pg.js, "max_port_num", 1, &n, err, errlen);
    if (rc == 0) {
        if (js_find_var(&pg.js, "all_info", -1))
            rc = stats_all_info(&pg.js, n, out, err, errlen);
        else if (js_find_var(&pg.js, "tmp_info", -1))
            rc = stats_tmp_info(&pg.js, n, out, err, errlen);
        else {
            set_err(err, errlen, "neither all_info nor tmp_info found");
            rc = -1;
        }
    }
    page_free(&pg);
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->n_ports = n;
    return 0;
}

int es_parse_port_statistics(const char *text, size_t len, struct es_port_statistics *out,
                             char *err, size_t errlen)
{
    return es_parse_port_statistics_via(ES_HTML_SCANNER, text, len, out, err, errlen);
}

/* ---- SystemInfoRpm.htm -------------------------------------------------------------- */

/* info_ds.key: a one-element string array (or a bare string), trimmed. NULL with *len 0
 * when the member is absent or an empty array; NULL with err set when malformed. */
static const char *info_string(const struct js_doc *js, const struct js_node *obj, const char *key,
                               size_t *len, bool *bad, char *err, size_t errlen)
{
    *len = 0;
    *bad = false;
    const struct js_node *m = js_member(js, obj, key);
    if (m && m->type == JS_ARRAY)
        m = js_first(js, m);
    if (!m)
        return NULL;
    const char *s = js_string(js, m, len);
    if (!s) {
        set_err(err, errlen, "info_ds.%s is not a string", key);
        *bad = true;
        return NULL;
    }
    if (memchr(s, '\0', *len)) {
        set_err(err, errlen, "info_ds.%s contains a NUL byte", key);
        *bad = true;
        return NULL;
    }
    while (*len > 0 && is_field_space(s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_field_space(s[*len - 1]))
        (*len)--;
    return s;
}

/* Copies a field that must fit. */
static int copy_field(char *dst, size_t cap, const char *s, size_t len, const char *key, char *err,
                      size_t errlen)
{
    if (len >= cap) {
        set_err(err, errlen, "info_ds.%s longer than %zu bytes", key, cap - 1);
        return -1;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

/* Copies at most cap-1 bytes without splitting a UTF-8 sequence. */
static void copy_utf8_cut(char *dst, size_t cap, const char *s, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        /* back up to the lead byte of a sequence the cut may have split */
        size_t k = len;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        len = k;
    }
    memcpy(dst, s, len);
    dst[len] = '\0';
}

static int system_info(const struct js_doc *js, struct es_system_info *out, char *err,
                       size_t errlen)
{
    const struct js_node *obj = read_var_object(js, "info_ds", err, errlen);
    if (!obj)
        return -1;
    static const struct {
        const char *key;
        size_t off, cap;
        bool required;
    } fields[] = {
        {"macStr", offsetof(struct es_system_info, mac), sizeof out->mac, true},
        {"firmwareStr", offsetof(struct es_system_info, firmware), sizeof out->firmware, true},
        {"ipStr", offsetof(struct es_system_info, ip), sizeof out->ip, false},
        {"netmaskStr", offsetof(struct es_system_info, netmask), sizeof out->netmask, false},
        {"gatewayStr", offsetof(struct es_system_info, gateway), sizeof out->gateway, false},
    };
    size_t len;
    bool bad;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *s = info_string(js, obj, fields[i].key, &len, &bad, err, errlen);
        if (bad)
            return -1;
        if (!s && fields[i].required) {
            set_err(err, errlen, "info_ds.%s missing", fields[i].key);
            return -1;
        }
        if (s && copy_field((char *)out + fields[i].off, fields[i].cap, s, len, fields[i].key, err,
                            errlen) != 0)
            return -1;
    }

    const char *d = info_string(js, obj, "descriStr", &len, &bad, err, errlen);
    if (bad)
        return -1;
    if (d)
        copy_utf8_cut(out->description, sizeof out->description, d, len);

    /* refs §5: "<model> <hw-rev>", split at the last space; TL-SE2106 has no revision */
    const char *h = info_string(js, obj, "hardwareStr", &len, &bad, err, errlen);
    if (bad)
        return -1;
    if (!h || len == 0) {
        set_err(err, errlen, "info_ds.hardwareStr missing");
        return -1;
    }
    size_t model_len = len;
    const char *rev = NULL;
    size_t rev_len = 0;
    for (size_t i = len; i-- > 0;) {
        if (h[i] == ' ') {
            if (i + 1 < len && h[i + 1] >= '0' && h[i + 1] <= '9') {
                rev = h + i + 1;
                rev_len = len - i - 1;
                model_len = i;
                while (model_len > 0 && is_field_space(h[model_len - 1]))
                    model_len--;
            }
            break;
        }
    }
    if (copy_field(out->model, sizeof out->model, h, model_len, "hardwareStr", err, errlen) != 0 ||
        (rev && copy_field(out->hw_version, sizeof out->hw_version, rev, rev_len, "hardwareStr",
                           err, errlen) != 0))
        return -1;
    return 0;
}

int es_parse_system_info_via(enum es_html_engine engine, const char *text, size_t len,
                             struct es_system_info *out, char *err, size_t errlen)
{
    static const char *const names[] = {"info_ds", NULL};
    memset(out, 0, sizeof *out);
    struct page pg;
    if (load_data_page(engine, text, len, names, &pg, err, errlen) != 0)
        return -1;
    int rc = system_info(&pg.js, out, err, errlen);
    page_free(&pg);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int es_parse_system_info(const char *text, size_t len, struct es_system_info *out, char *err,
                         size_t errlen)
{
    return es_parse_system_info_via(ES_HTML_SCANNER, text, len, out, err, errlen);
}

/* ---- PortSettingRpm.htm ------------------------------------------------------------- */

static int port_settings(const struct js_doc *js, struct es_port_settings *out, char *err,
                         size_t errlen)
{
    unsigned n;
    if (read_port_count(js, "max_port_num", 1, &n, err, errlen) != 0)
        return -1;
    const struct js_node *obj = read_var_object(js, "all_info", err, errlen);
    if (!obj)
        return -1;
    uint64_t state[ES_MAX_PORTS], trunk[ES_MAX_PORTS], spd_cfg[ES_MAX_PORTS], spd_act[ES_MAX_PORTS],
        fc_cfg[ES_MAX_PORTS], fc_act[ES_MAX_PORTS];
    if (read_uint_array(js, obj, "all_info", "state", n, 1, state, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "trunk_info", n, UINT8_MAX, trunk, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "spd_cfg", n, UINT8_MAX, spd_cfg, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "spd_act", n, UINT8_MAX, spd_act, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "fc_cfg", n, 1, fc_cfg, err, errlen) != 0 ||
        read_uint_array(js, obj, "all_info", "fc_act", n, 1, fc_act, err, errlen) != 0)
        return -1;
    for (unsigned p = 0; p < n; p++) {
        struct es_port_setting *s = &out->ports[p];
        s->enabled = state[p] == 1;
        s->lag = (uint8_t)trunk[p];
        s->speed_cfg = (uint8_t)spd_cfg[p];
        s->speed_act = (uint8_t)spd_act[p];
        s->fc_cfg = fc_cfg[p] == 1;
        s->fc_act = fc_act[p] == 1;
    }
    out->n_ports = n;
    return 0;
}

int es_parse_port_settings_via(enum es_html_engine engine, const char *text, size_t len,
                               struct es_port_settings *out, char *err, size_t errlen)
{
    static const char *const names[] = {"max_port_num", "all_info", NULL};
    memset(out, 0, sizeof *out);
    struct page pg;
    if (load_data_page(engine, text, len, names, &pg, err, errlen) != 0)
        return -1;
    int rc = port_settings(&pg.js, out, err, errlen);
    page_free(&pg);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int es_parse_port_settings(const char *text, size_t len, struct es_port_settings *out, char *err,
                           size_t errlen)
{
    return es_parse_port_settings_via(ES_HTML_SCANNER, text, len, out, err, errlen);
}

/* ---- PoeConfigRpm.htm --------------------------------------------------------------- */

static int8_t pd_class_of(uint64_t code)
{
    switch (code) {
    case 330:
        return 0;
    case 40:
        return 1;
    case 70:
        return 2;
    case 154:
        return 3;
    case 300:
        return 4;
    default:
        return -1;
    }
}

static int global_tenths(const struct js_doc *js, const struct js_node *obj, const char *key,
                         double *out, char *err, size_t errlen)
{
    const struct js_node *m = js_member(js, obj, key);
    uint64_t v;
    if (!m) {
        set_err(err, errlen, "globalConfig.%s missing", key);
        return -1;
    }
    if (!js_uint(m, UINT32_MAX, &v)) {
        set_err(err, errlen, "globalConfig.%s %s", key, describe_bad_number(m));
        return -1;
    }
    *out = (double)v / 10.0;
    return 0;
}

static int poe(const struct js_doc *js, struct es_poe *out, char *err, size_t errlen)
{
    unsigned n;
    if (read_port_count(js, "poe_port_num", 0, &n, err, errlen) != 0)
        return -1;
    if (n == 0)
        return 0;
    const struct js_node *g = read_var_object(js, "globalConfig", err, errlen);
    if (!g || global_tenths(js, g, "system_power_limit", &out->budget_watts, err, errlen) != 0 ||
        global_tenths(js, g, "system_power_consumption", &out->consumption_watts, err, errlen) !=
            0 ||
        global_tenths(js, g, "system_power_remain", &out->remaining_watts, err, errlen) != 0)
        return -1;
    const struct js_node *pc = read_var_object(js, "portConfig", err, errlen);
    if (!pc)
        return -1;
    uint64_t state[ES_MAX_PORTS], prio[ES_MAX_PORTS], limit[ES_MAX_PORTS], power[ES_MAX_PORTS],
        current[ES_MAX_PORTS], voltage[ES_MAX_PORTS], status[ES_MAX_PORTS], pdclass[ES_MAX_PORTS];
    if (read_uint_array(js, pc, "portConfig", "state", n, 1, state, err, errlen) != 0 ||
        read_uint_array(js, pc, "portConfig", "priority", n, UINT8_MAX, prio, err, errlen) != 0 ||
        read_uint_array(js, pc, "portConfig", "powerlimit", n, UINT32_MAX, limit, err, errlen) !=
            0 ||
        read_uint_array(js, pc, "portConfig", "power", n, UINT32_MAX, power, err, errlen) != 0 ||
        read_uint_array(js, pc, "portConfig", "current", n, UINT32_MAX, current, err, errlen) !=
            0 ||
        read_uint_array(js, pc, "portConfig", "voltage", n, UINT32_MAX, voltage, err, errlen) !=
            0 ||
        read_uint_array(js, pc, "portConfig", "powerstatus", n, UINT8_MAX, status, err, errlen) !=
            0)
        return -1;
    bool have_class = js_member(js, pc, "pdclass") != NULL;
    if (have_class &&
        read_uint_array(js, pc, "portConfig", "pdclass", n, UINT32_MAX, pdclass, err, errlen) != 0)
        return -1;
    for (unsigned p = 0; p < n; p++) {
        struct es_poe_port *s = &out->ports[p];
        s->enabled = state[p] == 1;
        s->priority = (uint8_t)prio[p];
        s->limit_watts = (double)limit[p] / 10.0;
        s->power_watts = (double)power[p] / 10.0;
        s->current_amperes = (double)current[p] / 1000.0;
        s->voltage_volts = (double)voltage[p] / 10.0;
        s->status = (uint8_t)status[p];
        s->pd_class = have_class ? pd_class_of(pdclass[p]) : -1;
    }
    out->n_ports = n;
    return 0;
}

int es_parse_poe_via(enum es_html_engine engine, const char *text, size_t len, struct es_poe *out,
                     char *err, size_t errlen)
{
    static const char *const names[] = {"poe_port_num", "globalConfig", "portConfig", NULL};
    memset(out, 0, sizeof *out);
    struct page pg;
    if (load_data_page(engine, text, len, names, &pg, err, errlen) != 0)
        return -1;
    int rc = poe(&pg.js, out, err, errlen);
    page_free(&pg);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int es_parse_poe(const char *text, size_t len, struct es_poe *out, char *err, size_t errlen)
{
    return es_parse_poe_via(ES_HTML_SCANNER, text, len, out, err, errlen);
}

/* ---- link codes --------------------------------------------------------------------- */

void es_link_decode(unsigned code, bool *up, uint64_t *speed_bytes, bool *full_duplex)
{
    static const struct {
        uint64_t mbit;
        bool full;
    } codes[] = {
        [2] = {10, false},  [3] = {10, true},   [4] = {100, false},  [5] = {100, true},
        [6] = {1000, true}, [7] = {2500, true}, [8] = {10000, true},
    };
    *up = code != 0;
    *speed_bytes = 0;
    *full_duplex = false;
    if (code < sizeof codes / sizeof codes[0] && codes[code].mbit) {
        *speed_bytes = codes[code].mbit * 1000000 / 8;
        *full_duplex = codes[code].full;
    }
}

const char *es_link_text(unsigned code)
{
    static const char *const text[] = {"Link Down",  "Auto",      "10M Half",
                                       "10M Full",   "100M Half", "100M Full",
                                       "1000M Full", "2.5G Full", "10G Full"};
    return code < sizeof text / sizeof text[0] ? text[code] : "Unknown";
}
