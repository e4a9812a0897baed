#include "collectors/easysmart/session.h"

#include <stdio.h>
#include <string.h>

static void step_init(struct es_step *out, enum es_action a)
{
    memset(out, 0, sizeof *out);
    out->action = a;
    out->status = POLL_OK;
}

static void step_fail(struct es_step *out, enum poll_status st, const char *detail)
{
    step_init(out, ES_ACT_FAIL);
    out->status = st;
    snprintf(out->detail, sizeof out->detail, "%s", detail ? detail : "");
}

void es_session_init(struct es_session *s)
{
    memset(s, 0, sizeof *s);
    s->last_err_type = -1;
}

double es_backoff_seconds(unsigned n, int err_type)
{
    double b = ES_BACKOFF_MIN_S;
    for (unsigned i = 1; i < n && b < ES_BACKOFF_MAX_S; i++)
        b *= 2.0;
    if (b > ES_BACKOFF_MAX_S)
        b = ES_BACKOFF_MAX_S;
    if (err_type == ES_ERRTYPE_FACTORY_RESET)
        b = ES_BACKOFF_MAX_S;
    else if (err_type >= ES_ERRTYPE_BAD_CREDENTIALS && err_type <= ES_ERRTYPE_SESSIONS_FULL &&
             b < ES_BACKOFF_REFUSED_MIN_S)
        b = ES_BACKOFF_REFUSED_MIN_S;
    return b;
}

bool es_session_backed_off(const struct es_session *s, double now)
{
    return s->failures > 0 && now < s->backoff_until;
}

/* A refused or unaccepted login: the session is gone and the next attempt waits. */
static void refuse(struct es_session *s, int err_type, const char *reason, double now,
                   struct es_step *out)
{
    s->logged_in = false;
    s->in_login = false;
    s->posted = false;
    s->failures++;
    s->backoff_s = es_backoff_seconds(s->failures, err_type);
    s->backoff_until = now + s->backoff_s;
    s->last_err_type = err_type;
    snprintf(s->last_reason, sizeof s->last_reason, "%s", reason);
    step_fail(out, POLL_ERR_AUTH, reason);
    out->login_refused = true;
    out->backoff_s = s->backoff_s;
}

const char *es_refusal_text(int err_type)
{
    switch (err_type) {
    case ES_ERRTYPE_BAD_CREDENTIALS:
        return "wrong user name or password";
    case ES_ERRTYPE_NOT_ALLOWED:
        return "this user is not allowed to log in";
    case ES_ERRTYPE_USERS_FULL:
        return "the switch's login slots are full";
    case ES_ERRTYPE_SESSIONS_FULL:
        return "the switch's sessions are full";
    case ES_ERRTYPE_SESSION_TIMEOUT:
        return "session timed out twice in a row";
    case ES_ERRTYPE_FACTORY_RESET:
        return "switch is in factory-reset mode: set its password in the web UI; a login "
               "would set it instead";
    default:
        return es_err_type_text(err_type);
    }
}

static void refuse_err_type(struct es_session *s, int err_type, double now, struct es_step *out)
{
    char reason[160];
    snprintf(reason, sizeof reason, "login refused: %s (errType %d)", es_refusal_text(err_type),
             err_type);
    refuse(s, err_type, reason, now, out);
}

static void start_login(struct es_session *s, struct es_step *out)
{
    s->logged_in = false;
    s->in_login = true;
    s->posted = false;
    step_init(out, ES_ACT_GET_ROOT);
}

void es_session_begin(struct es_session *s, double now, struct es_step *out)
{
    s->relogged = false;
    if (!s->logged_in && es_session_backed_off(s, now)) {
        char d[sizeof out->detail];
        snprintf(d, sizeof d, "login backed off after: %.160s; next attempt in %.0f s",
                 s->last_reason, s->backoff_until - now + 0.5);
        step_fail(out, POLL_ERR_AUTH, d);
        return;
    }
    if (s->logged_in) {
        step_init(out, ES_ACT_GET_DATA);
        return;
    }
    start_login(s, out);
}

static void reply_root(struct es_session *s, enum es_page_class cls, int err_type, double now,
                       struct es_step *out)
{
    if (cls == ES_PAGE_LOGIN && err_type == ES_ERRTYPE_FACTORY_RESET) {
        refuse_err_type(s, err_type, now, out);
        return;
    }
    if (cls == ES_PAGE_LOGIN) {
        s->posted = true;
        step_init(out, ES_ACT_POST_LOGON);
        return;
    }
    /* Not the login page: the frameset a logged-in client gets (IP-bound firmware). The
     * data GET tells; it falls back to the POST if the switch wants one after all. */
    step_init(out, ES_ACT_GET_DATA);
}

static void reply_logon(struct es_session *s, enum es_page_class cls, int err_type, double now,
                        struct es_step *out)
{
    if (cls != ES_PAGE_LOGIN || err_type == ES_ERRTYPE_NONE || err_type < 0) {
        /* errType 0 is also what an ignored POST returns; some firmware gives no
         * parsable logonInfo at all. Only a data page proves the login. */
        step_init(out, ES_ACT_GET_DATA);
        return;
    }
    if (err_type == ES_ERRTYPE_SESSION_TIMEOUT && !s->relogged) {
        s->relogged = true;
        start_login(s, out);
        return;
    }
    refuse_err_type(s, err_type, now, out);
}

static void reply_data(struct es_session *s, enum es_page_class cls, double now,
                       struct es_step *out)
{
    if (cls == ES_PAGE_DATA) {
        bool was_login = s->in_login;
        s->logged_in = true;
        s->in_login = false;
        s->posted = false;
        step_init(out, ES_ACT_DATA_OK);
        if (was_login) {
            s->failures = 0;
            s->backoff_until = 0;
            s->backoff_s = 0;
            s->last_err_type = -1;
            s->last_reason[0] = '\0';
            out->logged_in = true;
        }
        return;
    }
    if (cls != ES_PAGE_LOGIN) {
        step_fail(out, POLL_ERR_PROTOCOL, "unexpected page: neither the login page nor the data");
        return;
    }
    if (s->in_login && !s->posted) {
        s->posted = true;
        step_init(out, ES_ACT_POST_LOGON);
        return;
    }
    if (s->in_login) {
        refuse(s, -1,
               "login not accepted: the switch still shows the login page after logging in "
               "(errType 0)",
               now, out);
        return;
    }
    /* The session expired or another client took it. */
    if (!s->relogged) {
        s->relogged = true;
        start_login(s, out);
        out->relogin = true;
        return;
    }
    s->logged_in = false;
    step_fail(out, POLL_ERR_AUTH, "session lost again right after logging in");
}

void es_session_reply(struct es_session *s, enum es_req req, enum es_page_class cls, int err_type,
                      double now, struct es_step *out)
{
    switch (req) {
    case ES_REQ_ROOT:
        reply_root(s, cls, err_type, now, out);
        return;
    case ES_REQ_LOGON:
        reply_logon(s, cls, err_type, now, out);
        return;
    case ES_REQ_DATA:
        reply_data(s, cls, now, out);
        return;
    }
    step_fail(out, POLL_ERR_PROTOCOL, "internal: unknown request");
}

void es_session_transport_error(struct es_session *s, enum es_req req, enum poll_status st,
                                const char *detail, struct es_step *out)
{
    if (req == ES_REQ_LOGON) {
        /* Some builds reset the connection instead of answering a POST: the outcome is
         * unknown, so look rather than POST again. */
        step_init(out, ES_ACT_GET_DATA);
        return;
    }
    if (s->in_login) {
        s->in_login = false;
        s->posted = false;
        s->logged_in = false;
    }
    step_fail(out, st, detail);
}

void es_session_abort(struct es_session *s)
{
    if (s->in_login) {
        s->in_login = false;
        s->posted = false;
        s->logged_in = false;
    }
}

void es_session_forget(struct es_session *s)
{
    s->logged_in = false;
    s->in_login = false;
    s->posted = false;
}

/* ---- Request shapes ---- */

const char *es_page_path(enum es_page p)
{
    switch (p) {
    case ES_PAGE_STATS:
        return "/PortStatisticsRpm.htm";
    case ES_PAGE_SYSINFO:
        return "/SystemInfoRpm.htm";
    case ES_PAGE_SETTINGS:
        return "/PortSettingRpm.htm";
    case ES_PAGE_POE:
        return "/PoeConfigRpm.htm";
    }
    return "/";
}

enum es_page_class es_classify_reply(enum es_page p, const char *text, size_t len, int *err_type)
{
    switch (p) {
    case ES_PAGE_STATS: {
        enum es_page_class c = es_classify_page(text, len, "all_info", err_type);
        if (c == ES_PAGE_UNKNOWN)
            c = es_classify_page(text, len, "tmp_info", err_type);
        return c;
    }
    case ES_PAGE_SYSINFO:
        return es_classify_page(text, len, "info_ds", err_type);
    case ES_PAGE_SETTINGS:
        return es_classify_page(text, len, "all_info", err_type);
    case ES_PAGE_POE:
        return es_classify_page(text, len, "portConfig", err_type);
    }
    return ES_PAGE_UNKNOWN;
}

bool es_model_has_poe(const char *model)
{
    return strstr(model, "PE") != NULL;
}

int es_base_url(char *out, size_t cap, const char *host, uint16_t port)
{
    bool v6 = strchr(host, ':') != NULL;
    int n;
    if (port == 80)
        n = snprintf(out, cap, "http://%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
    else
        n = snprintf(out, cap, "http://%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                     (unsigned)port);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

static void wipe(void *p, size_t n)
{
    if (n)
        explicit_bzero(p, n);
}

int es_url_encode(char *out, size_t cap, const char *in, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (n + (plain ? 1 : 3) >= cap) {
            wipe(out, cap);
            return -1;
        }
        if (plain) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    if (n >= cap) {
        wipe(out, cap);
        return -1;
    }
    out[n] = '\0';
    return (int)n;
}

static bool put(char *out, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l >= cap)
        return false;
    memcpy(out + *n, s, l + 1);
    *n += l;
    return true;
}

int es_logon_body(char *out, size_t cap, const char *username, const struct secret *password)
{
    size_t n = 0;
    int k;
    if (!put(out, cap, &n, "username="))
        goto fail;
    k = es_url_encode(out + n, cap - n, username, strlen(username));
    if (k < 0)
        goto fail;
    n += (size_t)k;
    if (!put(out, cap, &n, "&password="))
        goto fail;
    k = es_url_encode(out + n, cap - n, password->bytes ? password->bytes : "", password->len);
    if (k < 0)
        goto fail;
    n += (size_t)k;
    if (!put(out, cap, &n, "&cpassword=&logon=Login"))
        goto fail;
    return (int)n;
fail:
    wipe(out, cap);
    return -1;
}

struct curl_slist *es_request_headers(const char *base_url)
{
    char referer[320];
    static const char *const fixed[] = {
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Upgrade-Insecure-Requests: 1",
        "Connection: close",
        "Expect:", /* never wait for 100-continue */
    };
    int n = snprintf(referer, sizeof referer, "Referer: %s/", base_url);
    if (n < 0 || (size_t)n >= sizeof referer)
        return NULL;
    struct curl_slist *h = curl_slist_append(NULL, referer);
    for (size_t i = 0; h && i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *t = curl_slist_append(h, fixed[i]);
        if (!t) {
            curl_slist_free_all(h);
            return NULL;
        }
        h = t;
    }
    return h;
}

void es_curl_defaults(CURL *easy, struct curl_slist *headers)
{
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_COOKIEFILE, ""); /* cookie engine on, no file */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L); /* the switch closes anyway */
    curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");     /* a proxy would see the password */
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, NULL);
}
