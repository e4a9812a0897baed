/* The Easy Smart login rule without a network: each reply in, the next request out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/easysmart/session.h"

static void expect_action(const struct es_step *st, enum es_action a)
{
    if (st->action != a)
        fail_msg("action %d, expected %d (detail: %s)", st->action, a, st->detail);
}

/* Drives a fresh session through a clean login that ends with the data page. */
static void login_ok(struct es_session *s, double now)
{
    struct es_step st;
    es_session_begin(s, now, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
    es_session_reply(s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, now, &st);
    expect_action(&st, ES_ACT_POST_LOGON);
    es_session_reply(s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, now, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(s, ES_REQ_DATA, ES_PAGE_DATA, -1, now, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    assert_true(st.logged_in);
    assert_true(s->logged_in);
}

static void test_clean_login_then_steady_state(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    login_ok(&s, 100);
    /* Steady state: straight to the data page, and no login flag on the result. */
    for (int i = 0; i < 3; i++) {
        es_session_begin(&s, 115 + i * 15, &st);
        expect_action(&st, ES_ACT_GET_DATA);
        es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 115 + i * 15, &st);
        expect_action(&st, ES_ACT_DATA_OK);
        assert_false(st.logged_in);
    }
}

/* errType 1-4 after the POST: refused, back-off of at least five minutes, no retry. */
static void test_refusals_back_off(void **state)
{
    for (int et = 1; et <= 4; et++) {
        struct es_session s;
        struct es_step st;
        es_session_init(&s);
        es_session_begin(&s, 0, &st);
        es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
        expect_action(&st, ES_ACT_POST_LOGON);
        es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, et, 0, &st);
        expect_action(&st, ES_ACT_FAIL);
        assert_int_equal(st.status, POLL_ERR_AUTH);
        assert_true(st.login_refused);
        assert_true(st.backoff_s >= ES_BACKOFF_REFUSED_MIN_S);
        char want[32];
        snprintf(want, sizeof want, "(errType %d)", et);
        assert_non_null(strstr(st.detail, want));
        assert_false(s.logged_in);
        /* Within the back-off: fail at once, nothing sent, no new log-worthy refusal. */
        es_session_begin(&s, st.backoff_s - 1, &st);
        expect_action(&st, ES_ACT_FAIL);
        assert_int_equal(st.status, POLL_ERR_AUTH);
        assert_false(st.login_refused);
        assert_non_null(strstr(st.detail, "backed off"));
        /* After it: a new attempt from GET /. */
        es_session_begin(&s, ES_BACKOFF_REFUSED_MIN_S + 1, &st);
        expect_action(&st, ES_ACT_GET_ROOT);
    }
}

static void test_wrong_password_text(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 1, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_non_null(strstr(st.detail, "login refused: "));
    assert_non_null(strstr(st.detail, "wrong user name or password"));
    assert_true(st.backoff_s == ES_BACKOFF_REFUSED_MIN_S);
}

/* errType 6 on GET /: a POST would set the password. It must never come. */
static void test_factory_reset_never_posts(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    for (int attempt = 0; attempt < 4; attempt++) {
        double now = attempt * (ES_BACKOFF_MAX_S + 1);
        es_session_begin(&s, now, &st);
        expect_action(&st, ES_ACT_GET_ROOT);
        es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, ES_ERRTYPE_FACTORY_RESET, now, &st);
        assert_int_not_equal(st.action, ES_ACT_POST_LOGON);
        expect_action(&st, ES_ACT_FAIL);
        assert_int_equal(st.status, POLL_ERR_AUTH);
        assert_true(st.login_refused);
        assert_true(st.backoff_s == ES_BACKOFF_MAX_S);
        assert_non_null(strstr(st.detail, "factory-reset"));
        assert_non_null(strstr(st.detail, "(errType 6)"));
        /* Half-way through the back-off: still nothing sent. */
        es_session_begin(&s, now + ES_BACKOFF_MAX_S / 2, &st);
        expect_action(&st, ES_ACT_FAIL);
    }
}

/* errType 6 after a POST (the mode appeared meanwhile): refused, no second POST. */
static void test_factory_reset_after_post(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 6, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_true(st.backoff_s == ES_BACKOFF_MAX_S);
}

/* errType 5 ("session timeout, log in again"): one more login, not a loop. */
static void test_session_timeout_relogs_once(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 5, 0, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_POST_LOGON);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 5, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_AUTH);
    assert_true(st.login_refused);

    /* The same errType 5 followed by success. */
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 5, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 0, &st);
    expect_action(&st, ES_ACT_DATA_OK);
}

static void test_unknown_err_type_refused(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 9, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_AUTH);
    assert_true(st.backoff_s == ES_BACKOFF_MIN_S);
}

/* errType 0 can mean "POST ignored": the data GET decides, and a login page there is a
 * refusal with back-off, not another POST. */
static void test_ignored_post_not_accepted(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_AUTH);
    assert_true(st.login_refused);
    assert_non_null(strstr(st.detail, "not accepted"));
    assert_true(st.backoff_s == ES_BACKOFF_MIN_S);
}

/* A login page in place of the data (expired or stolen session): one re-login within the
 * poll, which then gets the data. */
static void test_lost_session_relogin_once(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    login_ok(&s, 0);
    es_session_begin(&s, 15, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 15, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
    assert_true(st.relogin);
    assert_false(s.logged_in);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 15, &st);
    expect_action(&st, ES_ACT_POST_LOGON);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 15, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 15, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    assert_true(st.logged_in);

    /* The next poll may re-login again (a new poll, a new allowance). */
    es_session_begin(&s, 30, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 30, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
}

/* Still the login page after the re-login: the poll fails with auth. */
static void test_lost_session_relogin_fails(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    login_ok(&s, 0);
    es_session_begin(&s, 15, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 15, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_AUTH);

    /* Re-login succeeded, then a second data page of the same poll shows the login page:
     * fail, no second re-login. */
    es_session_init(&s);
    login_ok(&s, 0);
    es_session_begin(&s, 15, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 15, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 15, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 15, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_AUTH);
    assert_false(st.login_refused);
}

static void test_backoff_growth(void **state)
{
    double prev = 0;
    for (unsigned n = 1; n <= 12; n++) {
        double b = es_backoff_seconds(n, -1);
        assert_true(b >= prev);
        assert_true(b <= ES_BACKOFF_MAX_S);
        if (n == 1)
            assert_true(b == ES_BACKOFF_MIN_S);
        if (n > 1 && prev < ES_BACKOFF_MAX_S)
            assert_true(b == (prev * 2 < ES_BACKOFF_MAX_S ? prev * 2 : ES_BACKOFF_MAX_S));
        prev = b;
    }
    assert_true(es_backoff_seconds(12, -1) == ES_BACKOFF_MAX_S);
    assert_true(es_backoff_seconds(1000000, -1) == ES_BACKOFF_MAX_S);
    assert_true(es_backoff_seconds(1, 1) == ES_BACKOFF_REFUSED_MIN_S);
    assert_true(es_backoff_seconds(5, 1) == 480);
    assert_true(es_backoff_seconds(1, 6) == ES_BACKOFF_MAX_S);

    /* Through the machine: consecutive unaccepted logins double the wait. */
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    double now = 0, expect = ES_BACKOFF_MIN_S;
    for (int i = 0; i < 8; i++) {
        es_session_begin(&s, now, &st);
        expect_action(&st, ES_ACT_GET_ROOT);
        es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, now, &st);
        es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, now, &st);
        es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, now, &st);
        expect_action(&st, ES_ACT_FAIL);
        assert_true(st.backoff_s == expect);
        now += st.backoff_s;
        expect = expect * 2 > ES_BACKOFF_MAX_S ? ES_BACKOFF_MAX_S : expect * 2;
    }
    /* A success clears it. */
    es_session_begin(&s, now, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, now, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, now, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, now, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    assert_int_equal(s.failures, 0);
    assert_false(es_session_backed_off(&s, now));
    es_session_forget(&s);
    es_session_begin(&s, now + 1, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, now + 1, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, now + 1, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, now + 1, &st);
    assert_true(st.backoff_s == ES_BACKOFF_MIN_S);
}

/* A reset instead of an answer to the POST: look, don't POST again. */
static void test_post_transport_error_verifies(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_transport_error(&s, ES_REQ_LOGON, POLL_ERR_CONNECT, "reset", &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 0, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    assert_true(st.logged_in);

    /* And when the data GET then shows the login page, that is a refusal. */
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_transport_error(&s, ES_REQ_LOGON, POLL_ERR_CONNECT, "reset", &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_true(st.login_refused);
}

/* No parsable logonInfo after the POST (reported on a TL-SG105PE V1): verify. */
static void test_unparsable_logon_reply_verifies(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, -1, 0, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_UNKNOWN, -1, 0, &st);
    expect_action(&st, ES_ACT_GET_DATA);
}

/* GET / without the login page (the frameset of an IP-bound session): no POST unless the
 * data GET asks for one. */
static void test_root_already_logged_in(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_UNKNOWN, -1, 0, &st);
    expect_action(&st, ES_ACT_GET_DATA);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 0, &st);
    expect_action(&st, ES_ACT_DATA_OK);
    assert_true(st.logged_in);

    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_UNKNOWN, -1, 0, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_LOGIN, 0, 0, &st);
    expect_action(&st, ES_ACT_POST_LOGON);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 0, &st);
    expect_action(&st, ES_ACT_DATA_OK);
}

static void test_transport_errors(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    login_ok(&s, 0);
    /* A failed data GET keeps the session: the next poll goes straight to the data. */
    es_session_begin(&s, 15, &st);
    es_session_transport_error(&s, ES_REQ_DATA, POLL_ERR_TIMEOUT, "GET: timed out", &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_TIMEOUT);
    assert_string_equal(st.detail, "GET: timed out");
    es_session_begin(&s, 30, &st);
    expect_action(&st, ES_ACT_GET_DATA);

    /* A failed GET / abandons the login without back-off. */
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_transport_error(&s, ES_REQ_ROOT, POLL_ERR_CONNECT, "refused", &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_CONNECT);
    assert_false(st.login_refused);
    es_session_begin(&s, 1, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
}

static void test_unknown_page_is_protocol(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    login_ok(&s, 0);
    es_session_begin(&s, 15, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_UNKNOWN, -1, 15, &st);
    expect_action(&st, ES_ACT_FAIL);
    assert_int_equal(st.status, POLL_ERR_PROTOCOL);
    assert_true(s.logged_in);
}

static void test_abort_mid_login(void **state)
{
    struct es_session s;
    struct es_step st;
    es_session_init(&s);
    es_session_begin(&s, 0, &st);
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 0, &st);
    es_session_abort(&s);
    es_session_begin(&s, 1, &st);
    expect_action(&st, ES_ACT_GET_ROOT);
    /* Aborting a steady-state poll keeps the session. */
    es_session_reply(&s, ES_REQ_ROOT, ES_PAGE_LOGIN, 0, 1, &st);
    es_session_reply(&s, ES_REQ_LOGON, ES_PAGE_LOGIN, 0, 1, &st);
    es_session_reply(&s, ES_REQ_DATA, ES_PAGE_DATA, -1, 1, &st);
    es_session_begin(&s, 2, &st);
    es_session_abort(&s);
    es_session_begin(&s, 3, &st);
    expect_action(&st, ES_ACT_GET_DATA);
}

static void test_url_encode_and_body(void **state)
{
    char out[128];
    assert_int_equal(es_url_encode(out, sizeof out, "aZ09-._~", 8), 8);
    assert_string_equal(out, "aZ09-._~");
    assert_int_equal(es_url_encode(out, sizeof out, "a b&c=d+%", 9), 19);
    assert_string_equal(out, "a%20b%26c%3Dd%2B%25");
    assert_int_equal(es_url_encode(out, sizeof out, "\xe4\x00z", 3), 7);
    assert_string_equal(out, "%E4%00z");
    /* Too small: -1 and nothing of the input left behind. */
    assert_int_equal(es_url_encode(out, 6, "secret", 6), -1);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(out[i], 0);

    struct secret pw = {.bytes = (char *)"p&ss w=rd", .len = 9};
    assert_true(es_logon_body(out, sizeof out, "admin", &pw) > 0);
    assert_string_equal(out, "username=admin&password=p%26ss%20w%3Drd&cpassword=&logon=Login");
    char small[40];
    memset(small, 'x', sizeof small);
    assert_int_equal(es_logon_body(small, sizeof small, "admin", &pw), -1);
    for (size_t i = 0; i < sizeof small; i++)
        assert_int_equal(small[i], 0);
}

static void test_base_url_and_pages(void **state)
{
    char url[64];
    assert_true(es_base_url(url, sizeof url, "127.0.0.1", 80) > 0);
    assert_string_equal(url, "http://127.0.0.1");
    assert_true(es_base_url(url, sizeof url, "127.0.0.1", 8080) > 0);
    assert_string_equal(url, "http://127.0.0.1:8080");
    assert_true(es_base_url(url, sizeof url, "::1", 8080) > 0);
    assert_string_equal(url, "http://[::1]:8080");
    assert_int_equal(es_base_url(url, 10, "localhost", 80), -1);
    assert_string_equal(es_page_path(ES_PAGE_STATS), "/PortStatisticsRpm.htm");
    assert_string_equal(es_page_path(ES_PAGE_POE), "/PoeConfigRpm.htm");
    assert_true(es_model_has_poe("TL-SG108PE"));
    assert_true(es_model_has_poe("TL-SG1016PE"));
    assert_false(es_model_has_poe("TL-SG108E"));
    assert_false(es_model_has_poe("TL-SE2106"));

    struct curl_slist *h = es_request_headers("http://127.0.0.1:8080");
    assert_non_null(h);
    bool referer = false, close = false, ua = false;
    for (struct curl_slist *p = h; p; p = p->next) {
        referer |= strcmp(p->data, "Referer: http://127.0.0.1:8080/") == 0;
        close |= strcmp(p->data, "Connection: close") == 0;
        ua |= strncmp(p->data, "User-Agent: Mozilla/", 20) == 0;
    }
    curl_slist_free_all(h);
    assert_true(referer && close && ua);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_login_then_steady_state),
        cmocka_unit_test(test_refusals_back_off),
        cmocka_unit_test(test_wrong_password_text),
        cmocka_unit_test(test_factory_reset_never_posts),
        cmocka_unit_test(test_factory_reset_after_post),
        cmocka_unit_test(test_session_timeout_relogs_once),
        cmocka_unit_test(test_unknown_err_type_refused),
        cmocka_unit_test(test_ignored_post_not_accepted),
        cmocka_unit_test(test_lost_session_relogin_once),
        cmocka_unit_test(test_lost_session_relogin_fails),
        cmocka_unit_test(test_backoff_growth),
        cmocka_unit_test(test_post_transport_error_verifies),
        cmocka_unit_test(test_unparsable_logon_reply_verifies),
        cmocka_unit_test(test_root_already_logged_in),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_unknown_page_is_protocol),
        cmocka_unit_test(test_abort_mid_login),
        cmocka_unit_test(test_url_encode_and_body),
        cmocka_unit_test(test_base_url_and_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
