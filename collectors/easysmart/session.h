/* The Easy Smart login and session rule, apart from any I/O.
 *
 * A poll asks for one data page. The machine answers each reply (or transport error)
 * with the next request:
 *
 *   logged in:  GET data ─► data page: done
 *                        └► login page: session lost ─► log in once more within the poll
 *   logged out: GET / ─► errType 6: fail, never POST (a POST would set the password)
 *                     └► POST /logon.cgi ─► errType 1-4, 6, other: refused, back off
 *                                        └► errType 0 / unparsable / no reply: GET data to
 *                                           verify (errType 0 also means "POST ignored")
 *               GET data after the POST ─► login page: "login not accepted", back off
 *
 * Refused logins back off exponentially (30 s doubling to 30 min; at least 5 min for
 * wrong credentials, "not allowed" and full session tables, 30 min for factory-reset
 * mode), and while backed off a poll fails at once without touching the switch, so a
 * wrong password cannot lock the switch or fill its session table.
 *
 * The second half of this header holds the request shapes shared by the collector and
 * tplinkctl: URL, browser-like headers, the url-encoded login body. */
#ifndef TPLINK_EASYSMART_SESSION_H
#define TPLINK_EASYSMART_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "collectors/collector.h"
#include "collectors/easysmart/page.h"
#include "config/secret.h"

#define ES_BACKOFF_MIN_S 30.0
#define ES_BACKOFF_MAX_S 1800.0
#define ES_BACKOFF_REFUSED_MIN_S 300.0 /* errType 1-4: never hammer a refusing switch */

/* Which request a reply answers. */
enum es_req { ES_REQ_ROOT, ES_REQ_LOGON, ES_REQ_DATA };

enum es_action {
    ES_ACT_GET_ROOT,   /* forget cookies, GET / */
    ES_ACT_POST_LOGON, /* POST /logon.cgi */
    ES_ACT_GET_DATA,   /* GET the data page the poll wants (again) */
    ES_ACT_DATA_OK,    /* the data page is in hand: decode it */
    ES_ACT_FAIL,       /* the poll fails: status and detail say why */
};

struct es_step {
    enum es_action action;
    enum poll_status status; /* ES_ACT_FAIL only */
    char detail[224];        /* ES_ACT_FAIL only: one line, never a secret */
    bool login_refused;      /* this step started a back-off of backoff_s: worth a log line */
    double backoff_s;
    bool logged_in; /* this step completed a login: re-read what is read once per login */
    bool relogin;   /* this step starts a login because the session was lost */
};

struct es_session {
    bool logged_in;
    /* The current login attempt. */
    bool in_login;
    bool posted;
    /* The current poll. */
    bool relogged;
    /* Back-off after refusals. */
    unsigned failures;
    double backoff_until;
    double backoff_s;
    int last_err_type; /* -1: not an errType refusal */
    char last_reason[160];
};

void es_session_init(struct es_session *s);
/* A poll starts at time now (monotonic seconds): GET_ROOT, GET_DATA or FAIL (backed off). */
void es_session_begin(struct es_session *s, double now, struct es_step *out);
/* A reply arrived and was classified (err_type as es_classify_page reports it). */
void es_session_reply(struct es_session *s, enum es_req req, enum es_page_class cls, int err_type,
                      double now, struct es_step *out);
/* A request failed below HTTP (st: connect/timeout/protocol, detail: one line). */
void es_session_transport_error(struct es_session *s, enum es_req req, enum poll_status st,
                                const char *detail, struct es_step *out);
/* The poll was cancelled mid-way: a half-done login counts as not logged in. */
void es_session_abort(struct es_session *s);
/* After a logout (or when the session is known to be gone). */
void es_session_forget(struct es_session *s);
/* A short reason for a refused login, for logs and users ("wrong user name or password"). */
const char *es_refusal_text(int err_type);
/* Seconds of back-off after the n-th consecutive refusal (n >= 1) with this errType. */
double es_backoff_seconds(unsigned n, int err_type);
bool es_session_backed_off(const struct es_session *s, double now);

/* ---- Request shapes ---- */

enum es_page {
    ES_PAGE_STATS,    /* PortStatisticsRpm.htm */
    ES_PAGE_SYSINFO,  /* SystemInfoRpm.htm */
    ES_PAGE_SETTINGS, /* PortSettingRpm.htm */
    ES_PAGE_POE,      /* PoeConfigRpm.htm */
};

const char *es_page_path(enum es_page p); /* "/PortStatisticsRpm.htm", … */
/* Classifies a reply to a GET of page p (the statistics page has two formats). */
enum es_page_class es_classify_reply(enum es_page p, const char *text, size_t len, int *err_type);
/* PoE pages exist on the PoE models only: their model names contain "PE". */
bool es_model_has_poe(const char *model);

/* "http://host" or "http://host:port" (IPv6 literals in brackets). -1 if it does not fit. */
int es_base_url(char *out, size_t cap, const char *host, uint16_t port);
/* application/x-www-form-urlencoded: unreserved bytes as they are, the rest %XX. Returns
 * the length, or -1 if it does not fit (out is then wiped). */
int es_url_encode(char *out, size_t cap, const char *in, size_t len);
/* "username=…&password=…&cpassword=&logon=Login". Returns the length or -1 (out wiped).
 * The caller wipes out after the request. */
int es_logon_body(char *out, size_t cap, const char *username, const struct secret *password);
/* The headers a browser sends (Referer, User-Agent, Accept, Upgrade-Insecure-Requests,
 * Connection: close). NULL on allocation failure; free with curl_slist_free_all. */
struct curl_slist *es_request_headers(const char *base_url);
/* Options every request of one switch shares: http only, no redirects, no signals, the
 * cookie engine on, the headers above. */
void es_curl_defaults(CURL *easy, struct curl_slist *headers);

#endif
