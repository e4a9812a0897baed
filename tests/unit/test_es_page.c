/* Easy Smart page codecs: real TL-SG108E v3 pages, normalized TL-SG108PE pages, synthetic
 * pages of the other documented shapes, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/easysmart/js.h"
#include "collectors/easysmart/page.h"

#define FIX TEST_FIXTURES "/easy-smart/"

#include "fixture_file.h"

/* ---- real TL-SG108E v3 pages -------------------------------------------------------- */

static void test_v3_port_statistics(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "sg108e-v3/PortStatisticsRpm.htm", &len);
    struct es_port_statistics st;
    char err[256] = "";
    assert_int_equal(es_parse_port_statistics(page, len, &st, err, sizeof err), 0);
    assert_int_equal(st.n_ports, 8);
    /* port 1: state 1, link 6 (1000M full), pkts 106, 0, 987, 0 */
    assert_true(st.ports[0].enabled);
    assert_int_equal(st.ports[0].link_status, 6);
    assert_int_equal(st.ports[0].tx_good, 106);
    assert_int_equal(st.ports[0].tx_bad, 0);
    assert_int_equal(st.ports[0].rx_good, 987);
    assert_int_equal(st.ports[0].rx_bad, 0);
    for (unsigned p = 1; p < 8; p++) {
        assert_true(st.ports[p].enabled);
        assert_int_equal(st.ports[p].link_status, 0);
        assert_int_equal(st.ports[p].tx_good, 0);
        assert_int_equal(st.ports[p].tx_bad, 0);
        assert_int_equal(st.ports[p].rx_good, 0);
        assert_int_equal(st.ports[p].rx_bad, 0);
    }
    /* the two padding entries are not ports */
    assert_int_equal(st.ports[8].link_status, 0);
    assert_false(st.ports[8].enabled);

    int et = 99;
    assert_int_equal(es_classify_page(page, len, "all_info", &et), ES_PAGE_DATA);
    assert_int_equal(et, -1);
    assert_int_equal(es_classify_page(page, len, "info_ds", &et), ES_PAGE_UNKNOWN);
    assert_int_equal(es_classify_page(page, len, NULL, &et), ES_PAGE_UNKNOWN);
    /* declared without a value in a later script: not an anchor */
    assert_int_equal(es_classify_page(page, len, "tmp_info2", NULL), ES_PAGE_UNKNOWN);
    free(page);
}

static void test_v3_system_info(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "sg108e-v3/SystemInfoRpm.htm", &len);
    struct es_system_info si;
    char err[256] = "";
    assert_int_equal(es_parse_system_info(page, len, &si, err, sizeof err), 0);
    /* the script data, not the static HTML placeholders (TL-SG105E 2.0, 00-0A-EB-00-13-01) */
    assert_string_equal(si.description, "TL-SG108E");
    assert_string_equal(si.model, "TL-SG108E");
    assert_string_equal(si.hw_version, "3.0");
    assert_string_equal(si.firmware, "1.0.0 Build 20160722 Rel.50167");
    assert_string_equal(si.mac, "B0:4E:26:37:E9:59");
    assert_string_equal(si.ip, "192.168.0.99");
    assert_string_equal(si.netmask, "255.255.255.0");
    assert_string_equal(si.gateway, "0.0.0.0");
    assert_int_equal(es_classify_page(page, len, "info_ds", NULL), ES_PAGE_DATA);

    /* a statistics parse of this page names what is missing */
    struct es_port_statistics st;
    assert_int_equal(es_parse_port_statistics(page, len, &st, err, sizeof err), -1);
    assert_string_equal(err, "max_port_num missing");
    free(page);
}

static void test_v3_port_settings(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "sg108e-v3/PortSettingRpm.htm", &len);
    struct es_port_settings ps;
    char err[256] = "";
    assert_int_equal(es_parse_port_settings(page, len, &ps, err, sizeof err), 0);
    assert_int_equal(ps.n_ports, 8);
    for (unsigned p = 0; p < 8; p++) {
        assert_true(ps.ports[p].enabled);
        assert_int_equal(ps.ports[p].lag, 0);
        assert_int_equal(ps.ports[p].speed_cfg, 1);
        assert_int_equal(ps.ports[p].speed_act, p == 0 ? 6 : 0);
        assert_false(ps.ports[p].fc_cfg);
        assert_false(ps.ports[p].fc_act);
    }
    /* the page's later `var trunk_info=new Array("", " (LAG1)", …)` labels are a
     * different variable from all_info.trunk_info and must not disturb it */
    assert_int_equal(es_classify_page(page, len, "all_info", NULL), ES_PAGE_DATA);
    /* not a statistics page: link_status is missing */
    struct es_port_statistics st;
    assert_int_equal(es_parse_port_statistics(page, len, &st, err, sizeof err), -1);
    assert_string_equal(err, "all_info.link_status missing");
    free(page);
}

static void test_v3_login_pages(void **state)
{
    (void)state;
    size_t len;
    char err[256] = "";
    int et = 99;

    char *bad = slurp(FIX "sg108e-v3/logon-bad-password.htm", &len);
    assert_int_equal(es_classify_page(bad, len, "all_info", &et), ES_PAGE_LOGIN);
    assert_int_equal(et, ES_ERRTYPE_BAD_CREDENTIALS);
    et = 99;
    assert_int_equal(es_classify_page(bad, len, NULL, &et), ES_PAGE_LOGIN);
    assert_int_equal(et, 1);
    struct es_port_statistics st;
    assert_int_equal(es_parse_port_statistics(bad, len, &st, err, sizeof err), -1);
    assert_string_equal(err, "login page instead of data (errType 1)");
    assert_int_equal(st.n_ports, 0);
    free(bad);

    char *out = slurp(FIX "sg108e-v3/logout.htm", &len);
    et = 99;
    assert_int_equal(es_classify_page(out, len, "all_info", &et), ES_PAGE_LOGIN);
    assert_int_equal(et, ES_ERRTYPE_NONE);
    struct es_system_info si;
    assert_int_equal(es_parse_system_info(out, len, &si, err, sizeof err), -1);
    assert_string_equal(err, "login page instead of data (errType 0)");
    free(out);
}

/* ---- normalized TL-SG108PE v2 pages ------------------------------------------------- */

static void test_sg108pe_pages(void **state)
{
    (void)state;
    size_t len;
    char err[256] = "";
    char *page = slurp(FIX "sg108pe-v2/SystemInfoRpm.html", &len);
    struct es_system_info si;
    assert_int_equal(es_parse_system_info(page, len, &si, err, sizeof err), 0);
    assert_string_equal(si.description, "TL-SG108PE");
    assert_string_equal(si.model, "TL-SG108PE");
    assert_string_equal(si.hw_version, "2.0");
    assert_string_equal(si.firmware, "1.0.1 Build 20191204 Rel.71847");
    assert_string_equal(si.mac, "74:DA:88:14:39:CB");
    assert_string_equal(si.ip, "10.0.2.1");
    assert_string_equal(si.netmask, "255.255.0.0");
    assert_string_equal(si.gateway, "10.0.0.1");
    free(page);

    page = slurp(FIX "sg108pe-v2/PortSettingRpm.html", &len);
    struct es_port_settings ps;
    assert_int_equal(es_parse_port_settings(page, len, &ps, err, sizeof err), 0);
    assert_int_equal(ps.n_ports, 8);
    static const uint8_t act[8] = {6, 0, 0, 0, 0, 6, 6, 6};
    for (unsigned p = 0; p < 8; p++) {
        assert_true(ps.ports[p].enabled);
        assert_int_equal(ps.ports[p].speed_cfg, 1);
        assert_int_equal(ps.ports[p].speed_act, act[p]);
        assert_int_equal(ps.ports[p].lag, 0);
        assert_false(ps.ports[p].fc_cfg || ps.ports[p].fc_act);
    }
    free(page);

    int et = 99;
    page = slurp(FIX "sg108pe-v2/login_success.html", &len);
    assert_int_equal(es_classify_page(page, len, "info_ds", &et), ES_PAGE_LOGIN);
    assert_int_equal(et, 0);
    free(page);
    page = slurp(FIX "sg108pe-v2/login_failure.html", &len);
    assert_int_equal(es_classify_page(page, len, "info_ds", &et), ES_PAGE_LOGIN);
    assert_int_equal(et, 1);
    free(page);
}

/* ---- synthetic pages of the other shapes -------------------------------------------- */

static void test_tmp_info_page(void **state)
{
    (void)state;
    static const uint32_t want[24][6] = {
        {1, 6, 4294967295u, 1u, 2077611819u, 6u},
        {1, 6, 1389201610u, 33u, 0u, 7u},
        {1, 5, 2203799909u, 23u, 4110025551u, 5u},
        {1, 0, 3181u, 0u, 786u, 0u},
        {1, 6, 3056606176u, 47u, 3753505684u, 2u},
        {1, 3, 3426884490u, 24u, 440334808u, 6u},
        {1, 0, 0u, 0u, 0u, 0u},
        {1, 6, 666998669u, 27u, 2036603297u, 7u},
        {1, 6, 3156854856u, 33u, 3622473163u, 5u},
        {1, 0, 4979u, 0u, 723u, 0u},
        {1, 0, 0u, 0u, 0u, 0u},
        {1, 6, 152039108u, 5u, 2734445541u, 1u},
        {0, 0, 0u, 0u, 0u, 0u},
        {1, 6, 440777834u, 23u, 2961290417u, 5u},
        {1, 4, 4151453317u, 0u, 1593532861u, 4u},
        {1, 2, 784690983u, 8u, 686606417u, 6u},
        {1, 6, 1228665198u, 10u, 3717362169u, 1u},
        {1, 0, 1876u, 0u, 4772u, 0u},
        {1, 6, 520654756u, 29u, 2929292743u, 8u},
        {1, 6, 102838541u, 44u, 4112804560u, 6u},
        {1, 0, 0u, 0u, 0u, 0u},
        {1, 0, 176u, 0u, 175u, 0u},
        {1, 6, 3910580278u, 15u, 3231328335u, 2u},
        {1, 6, 4031595964u, 21u, 1478581950u, 7u},
    };
    size_t len;
    char *page = slurp(FIX "synthetic/TL-SG1024DE_PortStatisticsRpm_tmp_info.htm", &len);
    struct es_port_statistics st;
    char err[256] = "";
    assert_int_equal(es_parse_port_statistics(page, len, &st, err, sizeof err), 0);
    assert_int_equal(st.n_ports, 24);
    for (unsigned p = 0; p < 24; p++) {
        assert_int_equal(st.ports[p].enabled, want[p][0] == 1);
        assert_int_equal(st.ports[p].link_status, want[p][1]);
        assert_int_equal(st.ports[p].tx_good, want[p][2]);
        assert_int_equal(st.ports[p].tx_bad, want[p][3]);
        assert_int_equal(st.ports[p].rx_good, want[p][4]);
        assert_int_equal(st.ports[p].rx_bad, want[p][5]);
    }
    assert_int_equal(es_classify_page(page, len, "tmp_info", NULL), ES_PAGE_DATA);
    assert_int_equal(es_classify_page(page, len, "all_info", NULL), ES_PAGE_UNKNOWN);
    free(page);
}

static void test_tmp_info_errors(void **state)
{
    (void)state;
    struct es_port_statistics st;
    char err[256];
    static const char two_ports[] = "<script>var max_port_num = 2;</script><body><script>"
                                    "var tmp_info = \"1 6 10 0 20 0\";"
                                    "var tmp_info2 = \"0 0 0 0 0 0 0 0\";</script>";
    assert_int_equal(es_parse_port_statistics(two_ports, strlen(two_ports), &st, err, sizeof err),
                     0);
    assert_int_equal(st.n_ports, 2);
    assert_int_equal(st.ports[0].tx_good, 10);
    assert_int_equal(st.ports[0].rx_good, 20);
    assert_false(st.ports[1].enabled);

    static const char *const bad[][2] = {
        {"<script>var max_port_num = 2; var tmp_info = \"1 6 10 0 20 0 1 0 0 0\";</script>",
         "tmp_info has 10 numbers, 12 needed for 2 ports"},
        {"<script>var max_port_num = 1; var tmp_info = \"1 6 4294967296 0 0 0\";</script>",
         "tmp_info: port 1 TxGoodPkt is above 4294967295"},
        {"<script>var max_port_num = 1; var tmp_info = \"1 6 99999999999999999999999 0 0 "
         "0\";</script>",
         "tmp_info: port 1 TxGoodPkt is above 4294967295"},
        {"<script>var max_port_num = 1; var tmp_info = \"1 6 1 0 -5 0\";</script>",
         "tmp_info: port 1 RxGoodPkt is not a decimal number"},
        {"<script>var max_port_num = 1; var tmp_info = \"1 6 1 0 5x 0\";</script>",
         "tmp_info: port 1 RxGoodPkt is not a decimal number"},
        {"<script>var max_port_num = 1; var tmp_info = \"2 6 1 0 5 0\";</script>",
         "tmp_info: port 1 state is above 1"},
        {"<script>var max_port_num = 1; var tmp_info = [1,6,1,0,5,0];</script>",
         "tmp_info is not a string"},
        {"<script>var max_port_num = 1; var tmp_info = \"1 6 1 0 5 0\"; var tmp_info2 = 7;"
         "</script>",
         "tmp_info2 is not a string"},
        {"<script>var max_port_num = 1;</script>", "neither all_info nor tmp_info found"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            es_parse_port_statistics(bad[i][0], strlen(bad[i][0]), &st, err, sizeof err), -1);
        assert_string_equal(err, bad[i][1]);
        assert_int_equal(st.n_ports, 0);
    }
}

static void test_poe_page(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "synthetic/TL-SG108PE_PoeConfigRpm.htm", &len);
    struct es_poe poe;
    char err[256] = "";
    assert_int_equal(es_parse_poe(page, len, &poe, err, sizeof err), 0);
    assert_int_equal(poe.n_ports, 8);
    assert_float_equal(poe.budget_watts, 64.0, 1e-9);
    assert_float_equal(poe.consumption_watts, 15.3, 1e-9);
    assert_float_equal(poe.remaining_watts, 48.7, 1e-9);
    static const struct {
        bool on;
        uint8_t prio;
        double limit, power, amps, volts;
        uint8_t status;
        int8_t cls;
    } want[8] = {
        {true, 0, 33.0, 4.2, 0.080, 53.1, 2, 4}, {true, 2, 30.0, 6.1, 0.116, 53.0, 2, 3},
        {true, 2, 15.4, 0.0, 0.0, 0.0, 0, -1},   {true, 1, 7.0, 0.0, 0.0, 0.0, 0, -1},
        {false, 2, 33.0, 0.0, 0.0, 0.0, 0, -1},  {true, 2, 4.0, 0.0, 0.0, 0.0, 0, -1},
        {true, 2, 33.0, 5.0, 0.095, 52.9, 2, 0}, {true, 2, 12.5, 0.0, 0.0, 0.0, 3, -1},
    };
    for (unsigned p = 0; p < 8; p++) {
        const struct es_poe_port *q = &poe.ports[p];
        assert_int_equal(q->enabled, want[p].on);
        assert_int_equal(q->priority, want[p].prio);
        assert_float_equal(q->limit_watts, want[p].limit, 1e-9);
        assert_float_equal(q->power_watts, want[p].power, 1e-9);
        assert_float_equal(q->current_amperes, want[p].amps, 1e-9);
        assert_float_equal(q->voltage_volts, want[p].volts, 1e-9);
        assert_int_equal(q->status, want[p].status);
        assert_int_equal(q->pd_class, want[p].cls);
    }
    assert_int_equal(es_classify_page(page, len, "portConfig", NULL), ES_PAGE_DATA);
    free(page);

    static const char none[] = "<script>var poe_port_num = 0;</script>";
    assert_int_equal(es_parse_poe(none, strlen(none), &poe, err, sizeof err), 0);
    assert_int_equal(poe.n_ports, 0);

    static const char short_arr[] =
        "<script>var poe_port_num = 2; var globalConfig = {system_power_limit:1500,"
        "system_power_consumption:0,system_power_remain:1500};var portConfig = {state:[1,1],"
        "priority:[0,0],powerlimit:[330,330],power:[0,0],current:[0,0],voltage:[0],"
        "powerstatus:[0,0]};</script>";
    assert_int_equal(es_parse_poe(short_arr, strlen(short_arr), &poe, err, sizeof err), -1);
    assert_string_equal(err, "portConfig.voltage has 1 entries, 2 needed");
    static const char no_global[] = "<script>var poe_port_num = 2;</script>";
    assert_int_equal(es_parse_poe(no_global, strlen(no_global), &poe, err, sizeof err), -1);
    assert_string_equal(err, "globalConfig missing");
}

static void test_se2106_main_page(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "synthetic/TL-SE2106_MainRpm.htm", &len);
    struct es_system_info si;
    char err[256] = "";
    assert_int_equal(es_parse_system_info(page, len, &si, err, sizeof err), 0);
    assert_string_equal(si.description,
                        "\xe6\x9c\xba\xe6\x88\xbf\xe4\xba\xa4\xe6\x8d\xa2\xe6\x9c\xba");
    assert_string_equal(si.model, "TL-SE2106");
    assert_string_equal(si.hw_version, "");
    assert_string_equal(si.firmware, "1.8.1 Build 20251128 Rel.57341");
    assert_string_equal(si.mac, "4C:10:D5:00:12:34");
    assert_string_equal(si.ip, "192.168.3.10");
    assert_string_equal(si.netmask, "255.255.255.0");
    assert_string_equal(si.gateway, "192.168.3.1");
    /* port_info is not all_info */
    struct es_port_settings ps;
    assert_int_equal(es_parse_port_settings(page, len, &ps, err, sizeof err), -1);
    assert_string_equal(err, "all_info missing");
    free(page);
}

/* ---- classification ----------------------------------------------------------------- */

static void test_classify(void **state)
{
    (void)state;
    int et = 99;
    /* a logon.cgi form alone makes a login page, without a readable errType */
    static const char form_only[] =
        "<html><body><form method=post action=\"/logon.cgi\"><input name=username></form>"
        "</body></html>";
    assert_int_equal(es_classify_page(form_only, strlen(form_only), "all_info", &et),
                     ES_PAGE_LOGIN);
    assert_int_equal(et, -1);
    static const char form_abs[] =
        "<form action='http://192.168.0.1/logon.cgi?x=1'></form><script>var info_ds={};</script>";
    assert_int_equal(es_classify_page(form_abs, strlen(form_abs), "info_ds", NULL), ES_PAGE_LOGIN);
    static const char form_other[] =
        "<form action=\"/notlogon.cgi\"></form><script>var info_ds={};</script>";
    assert_int_equal(es_classify_page(form_other, strlen(form_other), "info_ds", NULL),
                     ES_PAGE_DATA);

    /* logonInfo whose first element is not a number */
    static const char odd[] = "<script>var logonInfo = new Array(\"x\",0,0);</script>";
    assert_int_equal(es_classify_page(odd, strlen(odd), NULL, &et), ES_PAGE_LOGIN);
    assert_int_equal(et, -1);
    static const char six[] = "<script>var logonInfo = [6,0,0];</script>";
    assert_int_equal(es_classify_page(six, strlen(six), NULL, &et), ES_PAGE_LOGIN);
    assert_int_equal(et, ES_ERRTYPE_FACTORY_RESET);

    /* user strings reflected into a data page are data, not markup or code */
    static const char reflected[] =
        "<script>var info_ds = {descriStr:[\"var logonInfo = new Array(1,0,0);\"],"
        "macStr:[\"<form action=/logon.cgi>\"],firmwareStr:[\"f\"],hardwareStr:[\"M 1.0\"]};"
        "</script><html><body>var logonInfo = 1; action=\"/logon.cgi\"</body></html>";
    assert_int_equal(es_classify_page(reflected, strlen(reflected), "info_ds", &et), ES_PAGE_DATA);
    assert_int_equal(et, -1);
    /* logonInfo in a later script only, no form: not the login page's shape */
    static const char later[] = "<script>var all_info = {};</script><script>var logonInfo = "
                                "[1,0,0];</script>";
    assert_int_equal(es_classify_page(later, strlen(later), "all_info", NULL), ES_PAGE_DATA);
    /* logonInfo inside a function is not a top-level statement */
    static const char nested[] = "<script>function f(){ var logonInfo = [1]; }</script>";
    assert_int_equal(es_classify_page(nested, strlen(nested), "logonInfo", NULL), ES_PAGE_UNKNOWN);

    assert_int_equal(es_classify_page("", 0, "all_info", &et), ES_PAGE_UNKNOWN);
    assert_int_equal(et, -1);
    static const char junk[] = "\x01\x02 garbage < > & ; not html at all";
    assert_int_equal(es_classify_page(junk, sizeof junk - 1, "all_info", NULL), ES_PAGE_UNKNOWN);
}

static void test_err_type_text(void **state)
{
    (void)state;
    assert_string_equal(es_err_type_text(1), "The user name or the password is wrong.");
    assert_string_equal(es_err_type_text(2), "The user is not allowed to login.");
    assert_string_equal(es_err_type_text(3),
                        "The number of the user that allowed to login has been full.");
    assert_string_equal(es_err_type_text(4), "The number of the login user has been full,it is "
                                             "allowed 16 people to login at the same time.");
    assert_string_equal(es_err_type_text(5), "The session is timeout. Please login again.");
    assert_non_null(strstr(es_err_type_text(6), "change your password"));
    assert_non_null(strstr(es_err_type_text(0), "no error"));
    assert_string_equal(es_err_type_text(7), "Unkonwn error");
    assert_string_equal(es_err_type_text(12345), "Unkonwn error");
    assert_non_null(strstr(es_err_type_text(-1), "logonInfo"));
}

static void test_link_codes(void **state)
{
    (void)state;
    static const struct {
        unsigned code;
        bool up;
        uint64_t speed;
        bool full;
        const char *text;
    } want[] = {
        {0, false, 0, false, "Link Down"},        {1, true, 0, false, "Auto"},
        {2, true, 1250000, false, "10M Half"},    {3, true, 1250000, true, "10M Full"},
        {4, true, 12500000, false, "100M Half"},  {5, true, 12500000, true, "100M Full"},
        {6, true, 125000000, true, "1000M Full"}, {7, true, 312500000, true, "2.5G Full"},
        {8, true, 1250000000, true, "10G Full"},  {9, true, 0, false, "Unknown"},
        {255, true, 0, false, "Unknown"},         {4000000000u, true, 0, false, "Unknown"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool up = !want[i].up, full = !want[i].full;
        uint64_t speed = 77;
        es_link_decode(want[i].code, &up, &speed, &full);
        assert_int_equal(up, want[i].up);
        assert_int_equal(speed, want[i].speed);
        assert_int_equal(full, want[i].full);
        assert_string_equal(es_link_text(want[i].code), want[i].text);
    }
}

/* ---- JavaScript variants ------------------------------------------------------------ */

static void parse_stats_ok(const char *page, unsigned n, struct es_port_statistics *st)
{
    char err[256] = "";
    int rc = es_parse_port_statistics(page, strlen(page), st, err, sizeof err);
    if (rc != 0)
        fail_msg("unexpected error: %s", err);
    assert_int_equal(st->n_ports, n);
}

static void test_js_variants(void **state)
{
    (void)state;
    struct es_port_statistics st;

    /* new Array, hex, members in another order, trailing commas, comments, no ';', extra
     * variables, all on one line, max_port_num in a later script */
    parse_stats_ok("<script>/* data */ var tip = 'it\\'s'; var all_info = { pkts: new Array("
                   "1,2,3,4, 0x10,0,0X0a,0, ), // counters\n link_status : [5,0,], 'state':[1,0]"
                   ",}</script><p>x</p><script>var max_port_num=2</script>",
                   2, &st);
    assert_int_equal(st.ports[0].link_status, 5);
    assert_int_equal(st.ports[0].tx_good, 1);
    assert_int_equal(st.ports[0].tx_bad, 2);
    assert_int_equal(st.ports[0].rx_good, 3);
    assert_int_equal(st.ports[0].rx_bad, 4);
    assert_int_equal(st.ports[1].tx_good, 16);
    assert_int_equal(st.ports[1].rx_good, 10);
    assert_false(st.ports[1].enabled);

    /* code before the data that could derail a naive scanner: regex literals with quotes
     * and slashes, strings holding markup-like text and braces, division */
    parse_stats_ok("<script>var re = /[\"'{]+\\/x/g, half = 10 / 2 / 1; "
                   "function f(a){ var all_info = {state:[9]}; return a.replace(/'/g, \"}\"); }"
                   "var s = \"<\\/script> { [ '\"; var max_port_num = 1;\n"
                   "var all_info = {state:[1],link_status:[6],pkts:[4294967295,0,1,0]};"
                   "</script>",
                   1, &st);
    assert_int_equal(st.ports[0].tx_good, 4294967295u);
    assert_int_equal(st.ports[0].link_status, 6);

    /* a '/' after `return` or `typeof` starts a regular expression, whose quote must not
     * open a string that swallows the rest of the line */
    parse_stats_ok("<script>function g(x){ return /\"/.test(x) + typeof /'/ } var max_port_num "
                   "= 1; var all_info = {state:[1],link_status:[4],pkts:[1,2,3,4]};</script>",
                   1, &st);
    assert_int_equal(st.ports[0].link_status, 4);

    /* a later top-level declaration replaces an earlier one, as in the browser */
    parse_stats_ok("<script>var max_port_num = 1; var all_info = {state:[0],link_status:[0],"
                   "pkts:[0,0,0,0]};</script><script>var all_info = {state:[1],link_status:[3],"
                   "pkts:[7,0,0,0]}; var max_port_num;</script>",
                   1, &st);
    assert_int_equal(st.ports[0].tx_good, 7);
    assert_int_equal(st.ports[0].link_status, 3);

    /* whitespace everywhere, empty padding arrays written across lines */
    parse_stats_ok("<script>\n\tvar\n max_port_num\n=\n1\n;var pad=[\n\n];var all_info\n=\n"
                   "{\nstate\n:\n[\n1\n,\n0\n]\n,\nlink_status:[2],pkts:[\n1\n,\n2\n,\n3\n,\n4\n]"
                   "\n}\n</script>",
                   1, &st);
    assert_int_equal(st.ports[0].rx_bad, 4);

    /* a data block wrapped in HTML comments, as old pages do */
    parse_stats_ok("<script><!--\nvar max_port_num = 1;\nvar all_info = {state:[1],"
                   "link_status:[6],pkts:[1,1,1,1]};\n//--></script>",
                   1, &st);
}

static void test_js_strings_and_numbers(void **state)
{
    (void)state;
    struct js_doc d;
    js_doc_init(&d);
    static const char src[] =
        "var a = 'x\\'y\\\\z\\n', b = \"\\x41\\u00e9\\u{1F600}\\uD83D\\uDE00\\0\", "
        "c = -0, d = -1, e = 1.5, f = 18446744073709551615, g = 18446744073709551616,"
        "h = 0xFFFFFFFF, i = 1e3, j = 010, k = foo(1), l = [1, [2, [3]]], m = true, n = null,"
        "o = `tpl`, p = `a${b}`, q = 5 + 1, r = new Array(3), s = {\"k y\": 1, 2: 'two'};";
    assert_int_equal(js_doc_add_script(&d, src, sizeof src - 1, 0), 0);
    size_t len;
    const char *s;
    const struct js_var *v;
    uint64_t u;

    v = js_find_var(&d, "a", -1);
    s = js_string(&d, js_node(&d, v->node), &len);
    assert_int_equal(len, 6);
    assert_memory_equal(s, "x'y\\z\n", 6);
    v = js_find_var(&d, "b", -1);
    s = js_string(&d, js_node(&d, v->node), &len);
    assert_int_equal(len, 1 + 2 + 4 + 4 + 1);
    assert_memory_equal(s, "A\xc3\xa9\xf0\x9f\x98\x80\xf0\x9f\x98\x80\0", len);

    assert_true(js_uint(js_node(&d, js_find_var(&d, "c", -1)->node), 0, &u));
    assert_int_equal(u, 0);
    assert_false(js_uint(js_node(&d, js_find_var(&d, "d", -1)->node), UINT64_MAX, &u));
    assert_true(js_node(&d, js_find_var(&d, "d", -1)->node)->flags & JS_NUM_NEG);
    assert_false(js_uint(js_node(&d, js_find_var(&d, "e", -1)->node), UINT64_MAX, &u));
    assert_true(js_uint(js_node(&d, js_find_var(&d, "f", -1)->node), UINT64_MAX, &u));
    assert_true(u == UINT64_MAX);
    assert_true(js_node(&d, js_find_var(&d, "g", -1)->node)->flags & JS_NUM_BIG);
    assert_false(js_uint(js_node(&d, js_find_var(&d, "g", -1)->node), UINT64_MAX, &u));
    assert_true(js_uint(js_node(&d, js_find_var(&d, "h", -1)->node), UINT32_MAX, &u));
    assert_int_equal(u, 4294967295u);
    assert_false(js_uint(js_node(&d, js_find_var(&d, "i", -1)->node), UINT64_MAX, &u));
    /* legacy octal and anything that is not a literal: declared, but without a value */
    assert_int_equal(js_find_var(&d, "j", -1)->node, 0);
    assert_string_equal(js_find_var(&d, "j", -1)->error, "malformed number");
    assert_int_equal(js_find_var(&d, "k", -1)->node, 0);
    assert_int_equal(js_find_var(&d, "p", -1)->node, 0);
    assert_int_equal(js_find_var(&d, "q", -1)->node, 0);
    assert_int_equal(js_find_var(&d, "r", -1)->node, 0);

    const struct js_node *l = js_node(&d, js_find_var(&d, "l", -1)->node);
    assert_int_equal(l->count, 2);
    const struct js_node *l1 = js_at(&d, l, 1);
    assert_int_equal(l1->type, JS_ARRAY);
    assert_true(js_uint(js_at(&d, js_at(&d, l1, 1), 0), 9, &u));
    assert_int_equal(u, 3);
    assert_null(js_at(&d, l, 2));
    assert_int_equal(js_node(&d, js_find_var(&d, "m", -1)->node)->type, JS_BOOL);
    assert_int_equal(js_node(&d, js_find_var(&d, "n", -1)->node)->type, JS_NULL);
    s = js_string(&d, js_node(&d, js_find_var(&d, "o", -1)->node), &len);
    assert_int_equal(len, 3);
    const struct js_node *o = js_node(&d, js_find_var(&d, "s", -1)->node);
    assert_true(js_uint(js_member(&d, o, "k y"), 9, &u));
    assert_int_equal(u, 1);
    s = js_string(&d, js_member(&d, o, "2"), &len);
    assert_memory_equal(s, "two", 3);
    assert_null(js_find_var(&d, "zz", -1));
    js_doc_free(&d);
}

static void test_js_caps(void **state)
{
    (void)state;
    struct js_doc d;
    char *buf = malloc(200000);
    assert_non_null(buf);

    /* 1024 elements are fine, 1025 are not */
    for (int n = 1024; n <= 1025; n++) {
        js_doc_init(&d);
        size_t o = (size_t)sprintf(buf, "var a = [");
        for (int i = 0; i < n; i++)
            o += (size_t)sprintf(buf + o, "%d,", i);
        o += (size_t)sprintf(buf + o, "]; var after = 1;");
        assert_int_equal(js_doc_add_script(&d, buf, o, 0), 0);
        const struct js_var *v = js_find_var(&d, "a", -1);
        assert_non_null(v);
        if (n == 1024) {
            assert_int_equal(js_node(&d, v->node)->count, 1024);
        } else {
            assert_int_equal(v->node, 0);
            assert_string_equal(v->error, "array longer than 1024 elements");
        }
        /* the scan resumes after the oversized value */
        assert_non_null(js_find_var(&d, "after", -1));
        assert_int_equal(js_node(&d, js_find_var(&d, "after", -1)->node)->num, 1);
        js_doc_free(&d);
    }

    /* nesting: 8 levels are fine, 9 are not */
    for (int depth = 8; depth <= 9; depth++) {
        js_doc_init(&d);
        size_t o = 0;
        o += (size_t)sprintf(buf + o, "var a = ");
        for (int i = 0; i < depth; i++)
            buf[o++] = '[';
        for (int i = 0; i < depth; i++)
            buf[o++] = ']';
        assert_int_equal(js_doc_add_script(&d, buf, o, 0), 0);
        const struct js_var *v = js_find_var(&d, "a", -1);
        if (depth == 8)
            assert_int_not_equal(v->node, 0);
        else
            assert_string_equal(v->error, "values nested deeper than 8");
        js_doc_free(&d);
    }

    /* a string over the cap */
    js_doc_init(&d);
    size_t o = (size_t)sprintf(buf, "var s = \"");
    memset(buf + o, 'x', JS_MAX_STRING + 1);
    o += JS_MAX_STRING + 1;
    o += (size_t)sprintf(buf + o, "\"; var t = 'ok';");
    assert_int_equal(js_doc_add_script(&d, buf, o, 0), 0);
    assert_string_equal(js_find_var(&d, "s", -1)->error, "string too long");
    assert_non_null(js_string(&d, js_node(&d, js_find_var(&d, "t", -1)->node), &o));
    js_doc_free(&d);

    /* very many values: the document cap holds and the scan never fails */
    js_doc_init(&d);
    o = 0;
    for (int i = 0; i < 70; i++) {
        o += (size_t)sprintf(buf + o, "var v%d = [", i);
        for (int k = 0; k < 1000; k++) {
            buf[o++] = '1';
            buf[o++] = ',';
        }
        o += (size_t)sprintf(buf + o, "];");
    }
    assert_int_equal(js_doc_add_script(&d, buf, o, 0), 0);
    assert_true(d.n_nodes <= JS_MAX_NODES);
    assert_int_not_equal(js_find_var(&d, "v0", -1)->node, 0);
    assert_string_equal(js_find_var(&d, "v69", -1)->error, "too many values in the page");
    js_doc_free(&d);
    free(buf);
}

static void test_js_hostile_bytes(void **state)
{
    (void)state;
    /* unterminated constructs, NULs and bytes >= 0x80 anywhere: never read past the end */
    static const char *const srcs[] = {
        "var a = \"abc",
        "var a = 'abc\\",
        "var a = /* x",
        "var a = [1,2",
        "var a = {k:",
        "var a = {k",
        "var a = new Array(1,",
        "var a = new",
        "var a = -",
        "var a = 0x",
        "var a = 1e",
        "var a = /re",
        "var a = `x",
        "var",
        "var a",
        "var a =",
        "\\",
        "var a = \"\\u12",
        "var a = \"\\u{110000}\"",
        "var a = \"\\x4\"",
    };
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
        struct js_doc d;
        js_doc_init(&d);
        size_t n = strlen(srcs[i]);
        /* an exact-size heap copy, so a read past the end is caught by ASan */
        char *copy = malloc(n ? n : 1);
        memcpy(copy, srcs[i], n);
        assert_int_equal(js_doc_add_script(&d, copy, n, 0), 0);
        const struct js_var *v = js_find_var(&d, "a", -1);
        if (v)
            assert_int_equal(v->node, 0);
        js_doc_free(&d);
        free(copy);
    }

    static const char with_nul[] = "var a = \"x\0y\"; var b\0= 3; var c = [1,\0 2];";
    struct js_doc d;
    js_doc_init(&d);
    assert_int_equal(js_doc_add_script(&d, with_nul, sizeof with_nul - 1, 0), 0);
    size_t len;
    const char *s = js_string(&d, js_node(&d, js_find_var(&d, "a", -1)->node), &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "x\0y", 3);
    assert_int_equal(js_node(&d, js_find_var(&d, "b", -1)->node)->num, 3);
    assert_int_equal(js_node(&d, js_find_var(&d, "c", -1)->node)->count, 2);
    js_doc_free(&d);
}

/* ---- bounds and hostile pages ------------------------------------------------------- */

static void test_stats_bounds(void **state)
{
    (void)state;
    struct es_port_statistics st;
    char err[256];
    static const char *const bad[][2] = {
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
         "pkts:[4294967296,0,0,0]};</script>",
         "all_info.pkts[0] = 4294967296 is above 4294967295"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
         "pkts:[0,0,0,99999999999999999999999]};</script>",
         "all_info.pkts[3] is out of range"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
         "pkts:[0,-1,0,0]};</script>",
         "all_info.pkts[1] is negative"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
         "pkts:[0,0,1.5,0]};</script>",
         "all_info.pkts[2] is not an integer"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
         "pkts:[0,0,'1',0]};</script>",
         "all_info.pkts[2] is not a number"},
        {"<script>var max_port_num = 2;var all_info = {state:[1,1],link_status:[6,6],"
         "pkts:[0,0,0,0,0,0,0]};</script>",
         "all_info.pkts has 7 entries, 8 needed"},
        {"<script>var max_port_num = 2;var all_info = {state:[1],link_status:[6,6],"
         "pkts:[0,0,0,0,0,0,0,0]};</script>",
         "all_info.state has 1 entries, 2 needed"},
        {"<script>var max_port_num = 1;var all_info = {state:[2],link_status:[6],"
         "pkts:[0,0,0,0]};</script>",
         "all_info.state[0] = 2 is above 1"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:[256],"
         "pkts:[0,0,0,0]};</script>",
         "all_info.link_status[0] = 256 is above 255"},
        {"<script>var max_port_num = 1;var all_info = {state:[1],link_status:6,"
         "pkts:[0,0,0,0]};</script>",
         "all_info.link_status is not an array"},
        {"<script>var max_port_num = 1;var all_info = [1];</script>", "all_info is not an object"},
        {"<script>var max_port_num = 1;var all_info = get();</script>", "all_info: not a literal"},
        {"<script>var max_port_num = 0;var all_info = {};</script>",
         "max_port_num is out of range (allowed 1..52)"},
        {"<script>var max_port_num = 53;var all_info = {};</script>",
         "max_port_num is out of range (allowed 1..52)"},
        {"<script>var max_port_num = -8;var all_info = {};</script>",
         "max_port_num is negative (allowed 1..52)"},
        {"<script>var max_port_num = '8';var all_info = {};</script>",
         "max_port_num is not a number (allowed 1..52)"},
        {"<script>var max_port_num = 8 * 2;var all_info = {};</script>",
         "max_port_num: not a literal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            es_parse_port_statistics(bad[i][0], strlen(bad[i][0]), &st, err, sizeof err), -1);
        assert_string_equal(err, bad[i][1]);
        assert_int_equal(st.n_ports, 0);
    }
    /* errors need no buffer */
    assert_int_equal(es_parse_port_statistics(bad[0][0], strlen(bad[0][0]), &st, NULL, 0), -1);
}

static void test_oversized_arrays(void **state)
{
    (void)state;
    struct es_port_statistics st;
    char err[256];
    char *page = malloc(100000);
    assert_non_null(page);
    for (int n = 1024; n <= 1025; n++) {
        size_t o = (size_t)sprintf(page, "<script>var max_port_num = 8;var all_info = "
                                         "{state:[1,1,1,1,1,1,1,1],link_status:[0,0,0,0,0,0,0,0],"
                                         "pkts:[");
        for (int i = 0; i < n; i++)
            o += (size_t)sprintf(page + o, "%d,", i);
        o += (size_t)sprintf(page + o, "]};</script>");
        int rc = es_parse_port_statistics(page, o, &st, err, sizeof err);
        if (n == 1024) {
            assert_int_equal(rc, 0);
            assert_int_equal(st.ports[7].rx_bad, 31);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err, "all_info: array longer than 1024 elements");
        }
    }
    /* over the page cap */
    size_t big = ES_PAGE_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    assert_int_equal(es_parse_port_statistics(huge, big, &st, err, sizeof err), -1);
    assert_string_equal(err, "page larger than 1048576 bytes");
    assert_int_equal(es_classify_page(huge, big, "all_info", NULL), ES_PAGE_UNKNOWN);
    free(huge);
    free(page);
}

static void test_system_info_fields(void **state)
{
    (void)state;
    struct es_system_info si;
    char err[256];
    /* bare strings, padding, a description too long (cut on a UTF-8 boundary) */
    char page[1024];
    char desc[200] = "";
    for (int i = 0; i < 31; i++)
        strcat(desc, "\xc3\xa9"); /* 62 bytes */
    strcat(desc, "\xe6\x9c\xba"); /* bytes 63..65: only the first fits in 63 */
    snprintf(page, sizeof page,
             "<script>var info_ds = {descriStr:\"%s\", macStr:[\" AA:BB:CC:DD:EE:FF \"],"
             "firmwareStr:['1.0'], hardwareStr:['TL-SG105E  5.0 ']};</script>",
             desc);
    assert_int_equal(es_parse_system_info(page, strlen(page), &si, err, sizeof err), 0);
    assert_int_equal(strlen(si.description), 62);
    assert_memory_equal(si.description, desc, 62);
    assert_string_equal(si.mac, "AA:BB:CC:DD:EE:FF");
    assert_string_equal(si.model, "TL-SG105E");
    assert_string_equal(si.hw_version, "5.0");
    assert_string_equal(si.ip, "");
    assert_string_equal(si.netmask, "");
    assert_string_equal(si.gateway, "");

    /* a model name with spaces and no revision stays whole */
    static const char spaced[] = "<script>var info_ds = {macStr:['m'],firmwareStr:['f'],"
                                 "hardwareStr:['SE106 Pro']};</script>";
    assert_int_equal(es_parse_system_info(spaced, strlen(spaced), &si, err, sizeof err), 0);
    assert_string_equal(si.model, "SE106 Pro");
    assert_string_equal(si.hw_version, "");
    assert_string_equal(si.description, "");

    static const char *const bad[][2] = {
        {"<script>var info_ds = {macStr:['m'],firmwareStr:['f']};</script>",
         "info_ds.hardwareStr missing"},
        {"<script>var info_ds = {macStr:['m'],hardwareStr:['h']};</script>",
         "info_ds.firmwareStr missing"},
        {"<script>var info_ds = {macStr:[1],firmwareStr:['f'],hardwareStr:['h']};</script>",
         "info_ds.macStr is not a string"},
        {"<script>var info_ds = {macStr:['m\\0'],firmwareStr:['f'],hardwareStr:['h']};</script>",
         "info_ds.macStr contains a NUL byte"},
        {"<script>var info_ds = {macStr:['0123456789012345678901234'],firmwareStr:['f'],"
         "hardwareStr:['h']};</script>",
         "info_ds.macStr longer than 23 bytes"},
        {"<script>var info_ds = {macStr:['m'],firmwareStr:['f'],hardwareStr:['  ']};</script>",
         "info_ds.hardwareStr missing"},
        {"<script>var info_ds = 'x';</script>", "info_ds is not an object"},
        {"<script>var info_ds = {macStr:['m'],firmwareStr:['f'],hardwareStr:['h'],"
         "gatewayStr:[0]};</script>",
         "info_ds.gatewayStr is not a string"},
        {"<script>var info_ds = {macStr:['m'],firmwareStr:['f'],hardwareStr:['h'],"
         "netmaskStr:['0123456789012345678901234567890123456789012345678']};</script>",
         "info_ds.netmaskStr longer than 47 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(es_parse_system_info(bad[i][0], strlen(bad[i][0]), &si, err, sizeof err),
                         -1);
        assert_string_equal(err, bad[i][1]);
        assert_string_equal(si.model, "");
    }
}

static void test_nul_and_encoding(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "sg108e-v3/PortStatisticsRpm.htm", &len);
    struct es_port_statistics st;
    char err[256];

    /* a NUL first, one in the markup, one between tokens of the data script */
    char *copy = malloc(len + 2);
    memcpy(copy + 1, page, len);
    copy[0] = '\0';
    copy[len + 1] = '\0'; /* for strstr only: the parser gets len + 1 bytes */
    char *meta = strstr(copy + 1, "<meta");
    assert_non_null(meta);
    meta[1] = '\0';
    char *sp = strstr(copy + 1, "var port_middle_num  ");
    sp[3] = '\0';
    assert_int_equal(es_parse_port_statistics(copy, len + 1, &st, err, sizeof err), 0);
    assert_int_equal(st.ports[0].rx_good, 987);
    free(copy);

    /* bytes that are invalid in the declared gb2312 and in UTF-8 do not cut the script */
    static const char latin[] = "<meta charset=\"gb2312\"><script>var tip = \"\xff\xfe\x80\";"
                                "var max_port_num = 1;var all_info = {state:[1],link_status:[6],"
                                "pkts:[9,8,7,6]};</script>";
    assert_int_equal(es_parse_port_statistics(latin, sizeof latin - 1, &st, err, sizeof err), 0);
    assert_int_equal(st.ports[0].rx_bad, 6);
    free(page);
}

static bool same_stats(const struct es_port_statistics *a, const struct es_port_statistics *b)
{
    if (a->n_ports != b->n_ports)
        return false;
    for (unsigned p = 0; p < a->n_ports; p++) {
        const struct es_port_stat *x = &a->ports[p], *y = &b->ports[p];
        if (x->enabled != y->enabled || x->link_status != y->link_status ||
            x->tx_good != y->tx_good || x->tx_bad != y->tx_bad || x->rx_good != y->rx_good ||
            x->rx_bad != y->rx_bad)
            return false;
    }
    return true;
}

/* Every prefix of a page is an error or the full page's exact result, never a crash or a
 * partial reading. Each prefix is its own exact-size allocation so ASan sees overreads. */
static void check_stats_prefixes(const char *path)
{
    size_t len;
    char *page = slurp(path, &len);
    struct es_port_statistics full, st;
    char err[256];
    assert_int_equal(es_parse_port_statistics(page, len, &full, err, sizeof err), 0);
    size_t ok = 0;
    for (size_t n = 0; n <= len; n++) {
        char *pre = malloc(n ? n : 1);
        memcpy(pre, page, n);
        if (es_parse_port_statistics(pre, n, &st, err, sizeof err) == 0) {
            assert_true(same_stats(&st, &full));
            ok++;
        } else {
            assert_int_equal(st.n_ports, 0);
        }
        (void)es_classify_page(pre, n, "all_info", NULL);
        free(pre);
    }
    /* every prefix that holds the complete data script parses */
    assert_true(ok > 0);
    free(page);
}

static void test_truncation_stats(void **state)
{
    (void)state;
    check_stats_prefixes(FIX "sg108e-v3/PortStatisticsRpm.htm");
    check_stats_prefixes(FIX "synthetic/TL-SG1024DE_PortStatisticsRpm_tmp_info.htm");
}

static void test_truncation_other_pages(void **state)
{
    (void)state;
    size_t len;
    char err[256];

    char *page = slurp(FIX "sg108e-v3/SystemInfoRpm.htm", &len);
    struct es_system_info full_si, si;
    assert_int_equal(es_parse_system_info(page, len, &full_si, err, sizeof err), 0);
    for (size_t n = 0; n <= len; n++) {
        char *pre = malloc(n ? n : 1);
        memcpy(pre, page, n);
        if (es_parse_system_info(pre, n, &si, err, sizeof err) == 0)
            assert_memory_equal(&si, &full_si, sizeof si);
        free(pre);
    }
    free(page);

    page = slurp(FIX "sg108e-v3/PortSettingRpm.htm", &len);
    struct es_port_settings full_ps, ps;
    assert_int_equal(es_parse_port_settings(page, len, &full_ps, err, sizeof err), 0);
    for (size_t n = 0; n <= len; n++) {
        char *pre = malloc(n ? n : 1);
        memcpy(pre, page, n);
        if (es_parse_port_settings(pre, n, &ps, err, sizeof err) == 0)
            assert_memory_equal(&ps, &full_ps, sizeof ps);
        free(pre);
    }
    free(page);

    page = slurp(FIX "synthetic/TL-SG108PE_PoeConfigRpm.htm", &len);
    struct es_poe full_poe, poe;
    assert_int_equal(es_parse_poe(page, len, &full_poe, err, sizeof err), 0);
    for (size_t n = 0; n <= len; n++) {
        char *pre = malloc(n ? n : 1);
        memcpy(pre, page, n);
        if (es_parse_poe(pre, n, &poe, err, sizeof err) == 0)
            assert_memory_equal(&poe, &full_poe, sizeof poe);
        free(pre);
    }
    free(page);

    page = slurp(FIX "sg108e-v3/logon-bad-password.htm", &len);
    for (size_t n = 0; n <= len; n += 7) {
        char *pre = malloc(n ? n : 1);
        memcpy(pre, page, n);
        int et = 99;
        enum es_page_class c = es_classify_page(pre, n, "all_info", &et);
        /* once logonInfo is complete the class and errType are those of the whole page */
        if (c == ES_PAGE_LOGIN && et != -1)
            assert_int_equal(et, 1);
        free(pre);
    }
    free(page);
}

/* Inputs built to make a careless scanner quadratic or deep: each is about 1 MiB and must
 * finish well inside the test timeout, and the data after them must still be found. */
static void test_pathological_pages(void **state)
{
    (void)state;
    static const char *const units[] = {"(/", "[", "{", "\"x\n", "/*", "var a=[", "'\\", "<!--"};
    const size_t size = ES_PAGE_MAX_BYTES - 4096;
    char *page = malloc(ES_PAGE_MAX_BYTES);
    assert_non_null(page);
    static const char tail[] = "\n</script><script>var max_port_num = 1; var all_info = "
                               "{state:[1],link_status:[6],pkts:[5,6,7,8]};</script>";
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t o = (size_t)sprintf(page, "<script>");
        size_t ul = strlen(units[u]);
        while (o + ul < size) {
            memcpy(page + o, units[u], ul);
            o += ul;
        }
        memcpy(page + o, tail, sizeof tail - 1);
        o += sizeof tail - 1;
        struct es_port_statistics st;
        char err[256] = "";
        int rc = es_parse_port_statistics(page, o, &st, err, sizeof err);
        if (rc != 0)
            fail_msg("unit %zu: %s", u, err);
        assert_int_equal(st.ports[0].rx_bad, 8);
    }
    free(page);
}

/* Seeded random byte mutations of the real page: no crash, and a success is sane. */
static void test_mutations(void **state)
{
    (void)state;
    size_t len;
    char *page = slurp(FIX "sg108e-v3/PortStatisticsRpm.htm", &len);
    uint64_t s = 0x2545F4914F6CDD1Dull;
    static const char alphabet[] = "[]{}(),;:'\"\\/*-=0123456789x \n\0<>!";
    char *m = malloc(len);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(m, page, len);
        int edits = 1 + (int)(s % 4);
        for (int e = 0; e < edits; e++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t at = (size_t)(s % 300); /* mostly inside the data script */
            m[at] = alphabet[(s >> 32) % (sizeof alphabet - 1)];
        }
        struct es_port_statistics st;
        char err[256];
        if (es_parse_port_statistics(m, len, &st, err, sizeof err) == 0)
            assert_true(st.n_ports >= 1 && st.n_ports <= ES_MAX_PORTS);
        else
            assert_true(strlen(err) > 0 && strchr(err, '\n') == NULL);
    }
    free(m);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v3_port_statistics),
        cmocka_unit_test(test_v3_system_info),
        cmocka_unit_test(test_v3_port_settings),
        cmocka_unit_test(test_v3_login_pages),
        cmocka_unit_test(test_sg108pe_pages),
        cmocka_unit_test(test_tmp_info_page),
        cmocka_unit_test(test_tmp_info_errors),
        cmocka_unit_test(test_poe_page),
        cmocka_unit_test(test_se2106_main_page),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_err_type_text),
        cmocka_unit_test(test_link_codes),
        cmocka_unit_test(test_js_variants),
        cmocka_unit_test(test_js_strings_and_numbers),
        cmocka_unit_test(test_js_caps),
        cmocka_unit_test(test_js_hostile_bytes),
        cmocka_unit_test(test_stats_bounds),
        cmocka_unit_test(test_oversized_arrays),
        cmocka_unit_test(test_system_info_fields),
        cmocka_unit_test(test_nul_and_encoding),
        cmocka_unit_test(test_truncation_stats),
        cmocka_unit_test(test_truncation_other_pages),
        cmocka_unit_test(test_pathological_pages),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
