/* Easy Smart web pages -> structs. Pure functions over a page's text: a bounded scanner
 * (html.h) finds the <script> bodies and forms, and a small tokenizer reads the JavaScript
 * assignments that carry the data (var x = 8; var o = {k:[…]}; new Array(…); strings),
 * in those scripts only that may assign a variable the codec reads (js_may_assign).
 * Tolerant of whitespace, order and extra variables; strict about bounds. */
#ifndef TPLINK_EASYSMART_PAGE_H
#define TPLINK_EASYSMART_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ES_MAX_PORTS 52
/* Larger bodies are refused before parsing (real pages are 3-11 KB). */
#define ES_PAGE_MAX_BYTES ((size_t)1 << 20) /* must not exceed ES_HTML_MAX_BYTES */

/* What a body is, decided from its scripts and forms, never by substring search of the
 * page (user strings are reflected into data pages). */
enum es_page_class {
    ES_PAGE_LOGIN,   /* the login page: logonInfo in the first script, or a logon.cgi form */
    ES_PAGE_DATA,    /* the expected anchor variable is present */
    ES_PAGE_UNKNOWN, /* anything else: a protocol error */
};

/* logonInfo[0] of a login page. */
enum es_err_type {
    ES_ERRTYPE_NONE = 0, /* success, ignored POST or plain GET: verify with a data GET */
    ES_ERRTYPE_BAD_CREDENTIALS = 1,
    ES_ERRTYPE_NOT_ALLOWED = 2,
    ES_ERRTYPE_USERS_FULL = 3,
    ES_ERRTYPE_SESSIONS_FULL = 4,
    ES_ERRTYPE_SESSION_TIMEOUT = 5,
    ES_ERRTYPE_FACTORY_RESET = 6, /* a POST would set the password: never POST */
};

/* anchor: the variable that marks the expected data page ("all_info", "tmp_info",
 * "info_ds", "portConfig"); NULL to only detect the login page (then the result is LOGIN
 * or UNKNOWN). err_type may be NULL; it is set for a login page (-1 when it carries no
 * parsable logonInfo) and to -1 otherwise. */
enum es_page_class es_classify_page(const char *text, size_t len, const char *anchor,
                                    int *err_type);
/* One line for users: the switch's own text for the code (refs §3.2), never NULL. */
const char *es_err_type_text(int err_type);

struct es_port_stat {
    bool enabled;        /* state: 1 Enabled */
    uint8_t link_status; /* link code, see es_link_decode */
    uint32_t tx_good, tx_bad, rx_good, rx_bad;
};

struct es_port_statistics {
    unsigned n_ports; /* max_port_num, 1..ES_MAX_PORTS */
    struct es_port_stat ports[ES_MAX_PORTS];
};

/* PortStatisticsRpm.htm, both the all_info format and the TL-SG1024DE tmp_info format.
 * Returns 0, or -1 with a one-line reason in err (err may be NULL). Every es_parse_*
 * refuses a login page ("login page instead of data") and any value out of range; none
 * of them puts page text into err, only names and numbers. */
int es_parse_port_statistics(const char *text, size_t len, struct es_port_statistics *out,
                             char *err, size_t errlen);

/* Strings are trimmed. The description is cut at a UTF-8 boundary when too long; any other
 * field that does not fit is an error. Absent descriStr/ipStr/netmaskStr/gatewayStr give "". */
struct es_system_info {
    char description[64]; /* descriStr: the user's name for the switch */
    char model[32];       /* hardwareStr before the last space */
    char hw_version[16];  /* hardwareStr after the last space when that part starts with a
                           * digit ("3.0"); "" otherwise (TL-SE2106) */
    char firmware[64];
    char mac[24];
    char ip[48];
    char netmask[48];
    char gateway[48];
};

int es_parse_system_info(const char *text, size_t len, struct es_system_info *out, char *err,
                         size_t errlen);

struct es_port_setting {
    bool enabled;
    uint8_t speed_cfg; /* same codes as link_status; 1 = Auto */
    uint8_t speed_act;
    bool fc_cfg, fc_act;
    uint8_t lag; /* trunk_info: 0 none, 1..8 */
};

struct es_port_settings {
    unsigned n_ports;
    struct es_port_setting ports[ES_MAX_PORTS];
};

int es_parse_port_settings(const char *text, size_t len, struct es_port_settings *out, char *err,
                           size_t errlen);

struct es_poe_port {
    bool enabled;
    uint8_t priority;       /* 0 high, 1 middle, 2 low */
    double power_watts;     /* power / 10 */
    double voltage_volts;   /* voltage / 10 */
    double current_amperes; /* current / 1000 */
    double limit_watts;     /* powerlimit / 10; 33.0 means auto */
    uint8_t status;         /* powerstatus code */
    int8_t pd_class;        /* pdclass 330/40/70/154/300 -> 0..4; -1 none or unknown ("--") */
};

/* poe_port_num 0 is a switch without PoE: success with n_ports 0 and no other data. */
struct es_poe {
    unsigned n_ports;    /* poe_port_num */
    double budget_watts; /* system_power_limit / 10 */
    double consumption_watts;
    double remaining_watts;
    struct es_poe_port ports[ES_MAX_PORTS];
};

int es_parse_poe(const char *text, size_t len, struct es_poe *out, char *err, size_t errlen);

/* The extraction underneath: the scanner, which every function above uses, or libxml2's
 * parser, the reference the tests and the differential fuzz target compare it with. The
 * *_via functions are the functions above with a chosen extraction. */
enum es_html_engine { ES_HTML_SCANNER, ES_HTML_LIBXML2 };

enum es_page_class es_classify_page_via(enum es_html_engine engine, const char *text, size_t len,
                                        const char *anchor, int *err_type);
int es_parse_port_statistics_via(enum es_html_engine engine, const char *text, size_t len,
                                 struct es_port_statistics *out, char *err, size_t errlen);
int es_parse_system_info_via(enum es_html_engine engine, const char *text, size_t len,
                             struct es_system_info *out, char *err, size_t errlen);
int es_parse_port_settings_via(enum es_html_engine engine, const char *text, size_t len,
                               struct es_port_settings *out, char *err, size_t errlen);
int es_parse_poe_via(enum es_html_engine engine, const char *text, size_t len, struct es_poe *out,
                     char *err, size_t errlen);

/* link_status code -> whether the link is up, speed in bytes/s (0 when down or unknown)
 * and duplex. Codes: 0 down, 1 auto, 2/3 10M half/full, 4/5 100M half/full, 6 1000M full,
 * 7 2.5G full, 8 10G full; unknown codes are "up, speed unknown". */
void es_link_decode(unsigned code, bool *up, uint64_t *speed_bytes, bool *full_duplex);
/* essstat's text for a code ("Link Down", "10M Half", …, "1000M Full"), corrected for 1, 4,
 * 7 and 8. */
const char *es_link_text(unsigned code);

#endif
