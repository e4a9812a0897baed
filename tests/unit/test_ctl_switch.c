/* tplinkctl switch against the switch simulator. The command is synchronous, so it runs
 * in a forked child while this process runs the simulator on its loop (127.0.0.1). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "collectors/easysmart/page.h"
#include "ctl/ctl.h"
#include "daemon/log.h"
#include "sim/switch_sim.h"

#define PASSWORD "ctl-S3cret"

struct fix {
    struct ev_loop *loop;
    struct switch_sim *sim;
    char target[64];
    char out[65536];
    char err[16384];
    int status;
    struct switch_sim_snapshot before, after;
};

struct waiter {
    pid_t pid;
    int status;
    bool exited;
};

static void reap_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct waiter *wt = w->data;
    if (waitpid(wt->pid, &wt->status, WNOHANG) == wt->pid)
        wt->exited = true;
}

static void slurp(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* Runs tplinkctl switch ARGS… TARGET in a child; the loop serves the simulator meanwhile.
 * args ends with NULL; run_ctl(f, env, "-s", target) builds it. */
static int run_ctl_argv(struct fix *f, const char *env_password, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"switch";
    for (; *args && argc < 30; args++)
        argv[argc++] = strdup(*args);
    argv[argc] = NULL;

    char outp[] = "/tmp/test_ctl_switch_out_XXXXXX", errp[] = "/tmp/test_ctl_switch_err_XXXXXX";
    int outfd = mkstemp(outp), errfd = mkstemp(errp);
    assert_true(outfd >= 0 && errfd >= 0);
    unlink(outp);
    unlink(errp);
    switch_sim_snapshot(f->sim, &f->before);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(outfd, STDOUT_FILENO);
        dup2(errfd, STDERR_FILENO);
        if (env_password)
            setenv("TPLINK_PASSWORD", env_password, 1);
        else
            unsetenv("TPLINK_PASSWORD");
        int rc = ctl_switch_main(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    struct waiter wt = {.pid = pid};
    ev_timer reap;
    ev_timer_init(&reap, reap_cb, 0.01, 0.01);
    reap.data = &wt;
    ev_timer_start(f->loop, &reap);
    ev_tstamp start = ev_now(f->loop);
    while (!wt.exited && ev_now(f->loop) - start < 30)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &reap);
    if (!wt.exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &wt.status, 0);
        fail_msg("tplinkctl switch did not finish");
    }
    switch_sim_snapshot(f->sim, &f->after);
    for (int i = 1; i < argc; i++)
        free(argv[i]);
    slurp(outfd, f->out, sizeof f->out);
    slurp(errfd, f->err, sizeof f->err);
    assert_true(WIFEXITED(wt.status));
    f->status = WEXITSTATUS(wt.status);
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "exit %d\n--- stdout\n%s--- stderr\n%s---\n", f->status, f->out, f->err);
    /* The password never shows, whatever happened. */
    assert_null(strstr(f->out, PASSWORD));
    assert_null(strstr(f->err, PASSWORD));
    return f->status;
}

#define run_ctl(f, env_password, ...)                                                              \
    run_ctl_argv((f), (env_password), (const char *const[]){__VA_ARGS__, NULL})

static struct fix *setup(const char *model)
{
    struct fix *f = calloc(1, sizeof *f);
    char err[256];
    f->loop = ev_loop_new(EVFLAG_AUTO);
    struct switch_sim_opts o = {.model = model,
                                .addr = "127.0.0.1",
                                .password = PASSWORD,
                                .seed = 11,
                                .description = "lab-switch"};
    f->sim = switch_sim_start(f->loop, &o, err, sizeof err);
    if (!f->sim)
        fail_msg("switch_sim_start: %s", err);
    snprintf(f->target, sizeof f->target, "127.0.0.1:%u", (unsigned)switch_sim_port(f->sim));
    return f;
}

static void teardown(struct fix *f)
{
    switch_sim_stop(f->sim);
    ev_loop_destroy(f->loop);
    free(f);
}

/* Splits f->out into lines (in place); returns the count. */
static int lines(char *text, char **line, int max)
{
    int n = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n < max;
         l = strtok_r(NULL, "\n", &save))
        line[n++] = l;
    return n;
}

static void check_counter(struct fix *f, unsigned port, enum switch_sim_counter k,
                          unsigned long long v)
{
    uint32_t lo = f->before.ports[port - 1].pkts[k], hi = f->after.ports[port - 1].pkts[k];
    if (v < lo || v > hi)
        fail_msg("port %u counter %d = %llu, simulator showed %u..%u", port, (int)k, v, lo, hi);
}

/* A whole decimal number from s up to end (or the NUL when end is NULL); fails the test
 * otherwise. */
static unsigned long long number(const char *s, const char **end)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || e == s || *s < '0' || *s > '9' || (!end && *e))
        fail_msg("not a number: '%s'", s);
    if (end)
        *end = e;
    return v;
}

/* "YYYY-MM-DD HH:MM:SS" */
static bool is_timestamp(const char *s)
{
    static const char shape[] = "0000-00-00 00:00:00";
    for (size_t i = 0; i < sizeof shape; i++) {
        if (shape[i] == '0' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return false;
    }
    return true;
}

/* PORT;STATE;LINK;TxGood,TxBad,RxGood,RxBad */
static void parse_port_line(const char *line, unsigned *port, char *state, size_t statelen,
                            char *link, size_t linklen, unsigned long long v[4])
{
    const char *p = line;
    *port = (unsigned)number(p, &p);
    const char *s1 = *p == ';' ? strchr(p + 1, ';') : NULL;
    const char *s2 = s1 ? strchr(s1 + 1, ';') : NULL;
    if (!s1 || !s2 || (size_t)(s1 - p - 1) >= statelen || (size_t)(s2 - s1 - 1) >= linklen)
        fail_msg("bad port line '%s'", line);
    snprintf(state, statelen, "%.*s", (int)(s1 - p - 1), p + 1);
    snprintf(link, linklen, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    p = s2 + 1;
    for (int k = 0; k < 4; k++) {
        v[k] = number(p, &p);
        if (*p != (k == 3 ? '\0' : ','))
            fail_msg("bad port line '%s'", line);
        p++;
    }
}

static void check_port_line(struct fix *f, const char *line)
{
    unsigned port;
    char state[16], link[32];
    unsigned long long v[4];
    parse_port_line(line, &port, state, sizeof state, link, sizeof link, v);
    unsigned long long tg = v[0], tb = v[1], rg = v[2], rb = v[3];
    assert_true(port >= 1 && port <= f->after.n_ports);
    const struct switch_sim_port_state *ps = &f->after.ports[port - 1];
    assert_string_equal(state, ps->enabled ? "Enabled" : "Disabled");
    assert_string_equal(link, es_link_text(ps->link));
    check_counter(f, port, SWITCH_SIM_TX_GOOD, tg);
    check_counter(f, port, SWITCH_SIM_TX_BAD, tb);
    check_counter(f, port, SWITCH_SIM_RX_GOOD, rg);
    check_counter(f, port, SWITCH_SIM_RX_BAD, rb);
}

static void test_default_and_statsonly(void **state)
{
    struct fix *f = setup("TL-SG108E");
    char *l[64];
    assert_int_equal(switch_sim_link(f->sim, 4, 0), 0);
    assert_int_equal(run_ctl(f, NULL, "-p", PASSWORD, f->target), 0);
    int n = lines(f->out, l, 64);
    assert_int_equal(n, 2 + 8);
    assert_true(is_timestamp(l[0]));
    assert_string_equal(l[1], "max_port_num=8");
    for (int i = 0; i < 8; i++) {
        check_port_line(f, l[2 + i]);
        const char *end;
        assert_int_equal(number(l[2 + i], &end), i + 1);
    }
    assert_non_null(strstr(l[2 + 3], ";Link Down;"));
    /* Logged out when done. */
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_LOGOUT), 1);
    assert_false(switch_sim_session_active(f->sim));

    assert_int_equal(run_ctl(f, PASSWORD, "-s", f->target), 0);
    n = lines(f->out, l, 64);
    assert_int_equal(n, 8);
    for (int i = 0; i < 8; i++)
        check_port_line(f, l[i]);
    teardown(f);
}

static void test_oneline(void **state)
{
    struct fix *f = setup("TL-SG105E");
    assert_int_equal(run_ctl(f, PASSWORD, "-1", f->target), 0);
    char *nl = strchr(f->out, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
    *nl = '\0';
    /* ts,max_port_num, then 7 fields per port */
    char *fields[64] = {NULL};
    int n = 0;
    for (char *save = NULL, *t = strtok_r(f->out, ",", &save); t && n < 64;
         t = strtok_r(NULL, ",", &save))
        fields[n++] = t;
    assert_int_equal(n, 2 + 7 * 5);
    assert_true(is_timestamp(fields[0]));
    assert_string_equal(fields[1], "5");
    for (unsigned p = 1; p <= 5; p++) {
        char **q = &fields[2 + 7 * (p - 1)];
        const struct switch_sim_port_state *ps = &f->after.ports[p - 1];
        assert_int_equal(number(q[0], NULL), p);
        assert_int_equal(number(q[1], NULL), ps->enabled);
        assert_int_equal(number(q[2], NULL), ps->link);
        check_counter(f, p, SWITCH_SIM_TX_GOOD, number(q[3], NULL));
        check_counter(f, p, SWITCH_SIM_TX_BAD, number(q[4], NULL));
        check_counter(f, p, SWITCH_SIM_RX_GOOD, number(q[5], NULL));
        check_counter(f, p, SWITCH_SIM_RX_BAD, number(q[6], NULL));
    }
    teardown(f);
}

static void test_json_and_lld(void **state)
{
    struct fix *f = setup("TL-SG1016DE");
    json_error_t jerr;
    assert_int_equal(run_ctl(f, PASSWORD, "-j", f->target), 0);
    json_t *arr = json_loads(f->out, 0, &jerr);
    if (!arr)
        fail_msg("-j output is not JSON: %s", jerr.text);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 16);
    for (size_t i = 0; i < 16; i++) {
        json_t *o = json_array_get(arr, i);
        const struct switch_sim_port_state *ps = &f->after.ports[i];
        assert_int_equal(json_integer_value(json_object_get(o, "port")), i + 1);
        assert_int_equal(json_integer_value(json_object_get(o, "state")), ps->enabled);
        assert_int_equal(json_integer_value(json_object_get(o, "link_status")), ps->link);
        check_counter(f, (unsigned)i + 1, SWITCH_SIM_TX_GOOD,
                      (unsigned long long)json_integer_value(json_object_get(o, "TxGoodPkt")));
        check_counter(f, (unsigned)i + 1, SWITCH_SIM_RX_BAD,
                      (unsigned long long)json_integer_value(json_object_get(o, "RxBadPkt")));
        assert_int_equal(json_object_size(o), 7);
    }
    json_decref(arr);
    /* Python's json.dumps(indent=2) layout, which essstat users may diff against. */
    assert_int_equal(strncmp(f->out, "[\n  {\n    \"port\": 1,\n    \"state\": ", 33), 0);

    assert_int_equal(run_ctl(f, PASSWORD, "-l", f->target), 0);
    json_t *root = json_loads(f->out, 0, &jerr);
    if (!root)
        fail_msg("-l output is not JSON: %s", jerr.text);
    json_t *data = json_object_get(root, "data");
    assert_int_equal(json_array_size(data), 16);
    json_t *e = json_array_get(data, 2);
    assert_string_equal(json_string_value(json_object_get(e, "{#PORT}")), "3");
    assert_true(json_is_integer(json_object_get(e, "{#STATE}")));
    assert_true(json_is_integer(json_object_get(e, "{#LINK_STATUS}")));
    assert_true(json_is_integer(json_object_get(e, "{#TXGOODPKT}")));
    assert_true(json_is_integer(json_object_get(e, "{#RXBADPKT}")));
    json_decref(root);
    teardown(f);
}

static void test_single_value(void **state)
{
    struct fix *f = setup("TL-SG108E");
    assert_int_equal(switch_sim_port_enable(f->sim, 5, false), 0);
    assert_int_equal(run_ctl(f, PASSWORD, "-P", "5", "-M", "state", f->target), 0);
    assert_string_equal(f->out, "0\n");
    assert_int_equal(run_ctl(f, PASSWORD, "-P", "1", "-M", "link_status", f->target), 0);
    char want[16];
    snprintf(want, sizeof want, "%u\n", (unsigned)f->after.ports[0].link);
    assert_string_equal(f->out, want);
    assert_int_equal(run_ctl(f, PASSWORD, "-P", "1", "-M", "RxGoodPkt", f->target), 0);
    const char *end;
    check_counter(f, 1, SWITCH_SIM_RX_GOOD, number(f->out, &end));
    assert_string_equal(end, "\n");
    assert_int_equal(run_ctl(f, PASSWORD, "--port", "9", "--metric", "state", f->target), 1);
    assert_non_null(strstr(f->err, "invalid port number"));
    assert_int_equal(run_ctl(f, PASSWORD, "-P", "1", "-M", "bytes", f->target), 1);
    assert_non_null(strstr(f->err, "invalid metric"));
    assert_int_equal(run_ctl(f, PASSWORD, "-P", "1", f->target), 2);
    teardown(f);
}

static void test_info(void **state)
{
    struct fix *f = setup("TL-SG108PE");
    char *l[16];
    assert_int_equal(run_ctl(f, PASSWORD, "-i", f->target), 0);
    int n = lines(f->out, l, 16);
    assert_int_equal(n, 7);
    assert_string_equal(l[0], "descriStr: lab-switch");
    assert_int_equal(strncmp(l[1], "macStr: ", 8), 0);
    assert_string_equal(l[2], "ipStr: 127.0.0.1");
    assert_string_equal(l[3], "netmaskStr: 255.255.255.0");
    assert_string_equal(l[4], "gatewayStr: 0.0.0.0");
    assert_int_equal(strncmp(l[5], "firmwareStr: ", 13), 0);
    assert_int_equal(strncmp(l[6], "hardwareStr: TL-SG108PE ", 24), 0);
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_PORT_STATISTICS), 0);
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_SYSTEM_INFO), 1);

    assert_int_equal(run_ctl(f, PASSWORD, "-i", "-j", f->target), 0);
    json_t *o = json_loads(f->out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "descriStr")), "lab-switch");
    assert_string_equal(json_string_value(json_object_get(o, "netmaskStr")), "255.255.255.0");
    assert_string_equal(json_string_value(json_object_get(o, "gatewayStr")), "0.0.0.0");
    assert_int_equal(json_object_size(o), 7);
    json_decref(o);
    teardown(f);
}

static void test_login_refused(void **state)
{
    struct fix *f = setup("TL-SG108E");
    assert_int_equal(run_ctl(f, "wrong-password", f->target), 1);
    assert_string_equal(f->out, "");
    assert_non_null(strstr(f->err, "login refused: "));
    assert_non_null(strstr(f->err, "wrong user name or password"));
    assert_non_null(strstr(f->err, "(errType 1)"));
    assert_null(strstr(f->err, "wrong-password"));
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_LOGON), 1);

    switch_sim_set_fault(f->sim, SWITCH_SIM_FAULT_ERRTYPE6);
    assert_int_equal(run_ctl(f, PASSWORD, f->target), 1);
    assert_non_null(strstr(f->err, "factory-reset"));
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_LOGON), 1);
    teardown(f);
}

static void test_password_sources(void **state)
{
    struct fix *f = setup("TL-SG108E");
    char path[] = "/tmp/test_ctl_switch_pw_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, PASSWORD "\n", strlen(PASSWORD) + 1), (ssize_t)strlen(PASSWORD) + 1);
    close(fd);
    assert_int_equal(run_ctl(f, NULL, "-s", "--password-file", path, f->target), 0);
    unlink(path);
    assert_int_equal(run_ctl(f, NULL, "-s", "--password-file", path, f->target), 2);
    assert_int_equal(run_ctl(f, NULL, "-s", f->target), 2);
    assert_non_null(strstr(f->err, "TPLINK_PASSWORD"));
    assert_int_equal(run_ctl(f, PASSWORD, "-s", "-u", "root", f->target), 1);
    teardown(f);
}

static void test_connect_refused(void **state)
{
    struct fix *f = setup("TL-SG108E");
    struct switch_sim_opts o = {.model = "TL-SG108E", .addr = "127.0.0.1"};
    char err[200];
    /* A second simulator for run_ctl's snapshots, started first so it cannot take the
     * port that the target names; then the target goes away. */
    struct switch_sim *other = switch_sim_start(f->loop, &o, err, sizeof err);
    assert_non_null(other);
    switch_sim_stop(f->sim);
    f->sim = other;
    assert_int_equal(run_ctl(f, PASSWORD, f->target), 1);
    assert_non_null(strstr(f->err, f->target));
    assert_int_equal(switch_sim_requests(f->sim, SWITCH_SIM_PAGE_ALL), 0);
    teardown(f);
}

/* In process, no network: -p is copied and argv's copy overwritten; usage errors exit 2. */
static void test_argv_password_wiped(void **state)
{
    char pw[] = "argv-secret";
    char *argv[] = {"switch", "-p", pw, "--no-such-option", "127.0.0.1", NULL};
    assert_int_equal(ctl_switch_main(5, argv), 2);
    for (size_t i = 0; i < sizeof pw - 1; i++)
        assert_int_equal(pw[i], 0);
    char x2[] = "x", x3[] = "x";
    char *argv2[] = {"switch", "-p", x2, "[::1", NULL};
    assert_int_equal(ctl_switch_main(4, argv2), 2);
    char *argv3[] = {"switch", "-p", x3, NULL};
    assert_int_equal(ctl_switch_main(3, argv3), 2);
    char *argv4[] = {"switch", "-h", NULL};
    assert_int_equal(ctl_switch_main(2, argv4), 0);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_password_wiped),
        cmocka_unit_test(test_default_and_statsonly),
        cmocka_unit_test(test_oneline),
        cmocka_unit_test(test_json_and_lld),
        cmocka_unit_test(test_single_value),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_login_refused),
        cmocka_unit_test(test_password_sources),
        cmocka_unit_test(test_connect_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
