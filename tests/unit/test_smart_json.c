#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/kasa/aes_passthrough.h"
#include "collectors/kasa/smart_json.h"

/* Replies written for these tests in the shapes SMART plugs send (values invented). */
#define DEVICE_INFO                                                                                \
    "{\"device_id\":\"8022AB\",\"fw_ver\":\"1.3.1 Build 250101 Rel.101010\",\"hw_ver\":\"1.0\","   \
    "\"type\":\"SMART.KASAPLUG\",\"model\":\"KP125M\",\"mac\":\"AA-BB-CC-01-02-03\","              \
    "\"nickname\":\"S8O8Y2hl\",\"device_on\":true,\"on_time\":3600,\"rssi\":-58,"                  \
    "\"signal_level\":3,\"avatar\":\"plug\"}"
#define ENERGY_USAGE                                                                               \
    "{\"current_power\":12345,\"month_energy\":2300,\"month_runtime\":9000,"                       \
    "\"today_energy\":150,\"today_runtime\":600,\"local_time\":\"2025-01-02 03:04:05\"}"
#define EMETER_DATA "{\"current_ma\":98,\"voltage_mv\":120500,\"power_mw\":11000,\"energy_wh\":777}"

static enum smart_status parse(const char *method, const char *json, struct smart_reading *r,
                               long long *code, char *err)
{
    memset(r, 0, sizeof *r);
    return smart_parse_reply(method, json, strlen(json), r, code, err, 200);
}

static void test_device_info(void **state)
{
    struct smart_reading r;
    long long code = -5;
    char err[200];
    assert_int_equal(
        parse("get_device_info", "{\"error_code\":0,\"result\":" DEVICE_INFO "}", &r, &code, err),
        SMART_OK);
    assert_int_equal(code, 0);
    assert_string_equal(r.plug.model, "KP125M");
    assert_string_equal(r.plug.hw_ver, "1.0");
    assert_string_equal(r.plug.sw_ver, "1.3.1 Build 250101 Rel.101010");
    assert_string_equal(r.plug.mac, "AA:BB:CC:01:02:03");
    assert_string_equal(r.plug.alias, "K\xc3\xbc"
                                      "che"); /* "Küche", base64-decoded */
    assert_string_equal(r.type, "SMART.KASAPLUG");
    assert_true(r.plug.has_relay && r.plug.relay_on);
    assert_true(r.plug.has_on_time);
    assert_float_equal(r.plug.on_time_s, 3600, 0);
    assert_true(r.plug.has_rssi);
    assert_float_equal(r.plug.rssi_dbm, -58, 0);
    assert_true(r.has_signal_level);
    assert_int_equal(r.signal_level, 3);
    assert_int_equal(r.got, SMART_GET_DEVICE_INFO);
    assert_int_equal(r.unsupported, 0);
    /* No energy was asked for: nothing is invented. */
    assert_false(r.plug.has_meter || r.plug.has_power || r.plug.has_energy);
    assert_false(r.has_today_energy || r.has_month_energy);

    assert_int_equal(parse("get_device_info",
                           "{\"error_code\":0,\"result\":{\"model\":\"EP25\",\"device_on\":false}}",
                           &r, &code, err),
                     SMART_OK);
    assert_true(r.plug.has_relay);
    assert_false(r.plug.relay_on);
    assert_false(r.plug.has_on_time || r.plug.has_rssi || r.has_signal_level);
}

static void test_energy_usage(void **state)
{
    struct smart_reading r;
    long long code;
    char err[200];
    assert_int_equal(
        parse("get_energy_usage", "{\"error_code\":0,\"result\":" ENERGY_USAGE "}", &r, &code, err),
        SMART_OK);
    assert_true(r.plug.has_meter);
    assert_true(r.plug.has_power);
    assert_float_equal(r.plug.power_w, 12.345, 1e-9);
    assert_true(r.has_today_energy && r.has_month_energy);
    assert_float_equal(r.today_energy_j, 150.0 * 3600, 1e-6);
    assert_float_equal(r.month_energy_j, 2300.0 * 3600, 1e-6);
    assert_false(r.plug.has_voltage || r.plug.has_current);
    assert_false(r.plug.has_energy); /* no lifetime total on SMART plugs */
    assert_int_equal(r.got, SMART_GET_ENERGY_USAGE);
}

static void test_emeter_data(void **state)
{
    struct smart_reading r;
    long long code;
    char err[200];
    assert_int_equal(
        parse("get_emeter_data", "{\"error_code\":0,\"result\":" EMETER_DATA "}", &r, &code, err),
        SMART_OK);
    assert_float_equal(r.plug.current_a, 0.098, 1e-9);
    assert_float_equal(r.plug.voltage_v, 120.5, 1e-9);
    assert_float_equal(r.plug.power_w, 11.0, 1e-9);
    assert_true(r.has_month_energy);
    assert_float_equal(r.month_energy_j, 777.0 * 3600, 1e-6);
    assert_int_equal(r.got, SMART_GET_EMETER_DATA);

    /* After get_energy_usage, energy_wh does not replace month_energy. */
    memset(&r, 0, sizeof r);
    const char *e = "{\"error_code\":0,\"result\":" ENERGY_USAGE "}";
    assert_int_equal(smart_parse_reply("get_energy_usage", e, strlen(e), &r, &code, err, 200),
                     SMART_OK);
    e = "{\"error_code\":0,\"result\":" EMETER_DATA "}";
    assert_int_equal(smart_parse_reply("get_emeter_data", e, strlen(e), &r, &code, err, 200),
                     SMART_OK);
    assert_float_equal(r.month_energy_j, 2300.0 * 3600, 1e-6);
    assert_float_equal(r.plug.power_w, 11.0, 1e-9); /* the finer reading wins when later */
    assert_int_equal(r.got, SMART_GET_ENERGY_USAGE | SMART_GET_EMETER_DATA);
}

static void test_multiple_request(void **state)
{
    struct smart_reading r;
    long long code = 1;
    char err[200];
    assert_int_equal(
        parse("multipleRequest",
              "{\"error_code\":0,\"result\":{\"responses\":["
              "{\"method\":\"get_device_info\",\"result\":" DEVICE_INFO ",\"error_code\":0},"
              "{\"method\":\"get_energy_usage\",\"result\":" ENERGY_USAGE ",\"error_code\":0},"
              "{\"method\":\"get_emeter_data\",\"error_code\":-1002},"
              "{\"method\":\"get_latest_fw\",\"result\":{\"need_to_upgrade\":false},"
              "\"error_code\":0},"
              "{\"result\":{},\"error_code\":0},7]}}",
              &r, &code, err),
        SMART_OK);
    assert_int_equal(code, 0);
    assert_int_equal(r.got, SMART_GET_DEVICE_INFO | SMART_GET_ENERGY_USAGE);
    assert_int_equal(r.unsupported, SMART_GET_EMETER_DATA);
    assert_string_equal(r.plug.model, "KP125M");
    assert_float_equal(r.plug.power_w, 12.345, 1e-9);
    assert_false(r.plug.has_voltage);
}

static void test_multiple_request_partial_failure(void **state)
{
    struct smart_reading r;
    long long code = 0;
    char err[200];
    assert_int_equal(parse("multipleRequest",
                           "{\"error_code\":0,\"result\":{\"responses\":["
                           "{\"method\":\"get_device_info\",\"result\":" DEVICE_INFO
                           ",\"error_code\":0},"
                           "{\"method\":\"get_energy_usage\",\"error_code\":-1008},"
                           "{\"method\":\"get_emeter_data\",\"error_code\":9999}]}}",
                           &r, &code, err),
                     SMART_DEVICE);
    /* The first failure is reported; what did arrive is still parsed. */
    assert_int_equal(code, -1008);
    assert_non_null(strstr(err, "get_energy_usage"));
    assert_non_null(strstr(err, "-1008"));
    assert_int_equal(r.got, SMART_GET_DEVICE_INFO);
    assert_string_equal(r.plug.model, "KP125M");

    assert_int_equal(parse("multipleRequest", "{\"error_code\":-1001}", &r, &code, err),
                     SMART_RETRY);
    assert_int_equal(code, -1001);
    assert_int_equal(parse("multipleRequest", "{\"error_code\":0,\"result\":{}}", &r, &code, err),
                     SMART_PROTOCOL);
    assert_int_equal(parse("multipleRequest", "{\"error_code\":0,\"result\":{\"responses\":{}}}",
                           &r, &code, err),
                     SMART_PROTOCOL);
}

static void test_error_codes(void **state)
{
    struct smart_reading r;
    long long code = 0;
    char err[200];
    const struct {
        const char *json;
        enum smart_status st;
        long long code;
    } cases[] = {
        {"{\"error_code\":-1501}", SMART_AUTH, -1501},
        {"{\"error_code\":1111}", SMART_AUTH, 1111},
        {"{\"error_code\":9999}", SMART_SESSION_EXPIRED, 9999},
        {"{\"error_code\":1002}", SMART_RETRY, 1002},
        {"{\"error_code\":-1008,\"msg\":\"params error\"}", SMART_DEVICE, -1008},
        {"{\"error_code\":-1002}", SMART_UNSUPPORTED, -1002},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse("get_emeter_data", cases[i].json, &r, &code, err), cases[i].st);
        assert_int_equal(code, cases[i].code);
        assert_non_null(strstr(err, "get_emeter_data"));
    }
    assert_int_equal(r.unsupported, SMART_GET_EMETER_DATA);
    assert_int_equal(r.got, 0);

    assert_int_equal(smart_classify(0), SMART_OK);
    assert_int_equal(smart_classify(-1005), SMART_AUTH);
    assert_int_equal(smart_classify(1100), SMART_AUTH);
    assert_int_equal(smart_classify(1003), SMART_AUTH);
    assert_int_equal(smart_classify(1112), SMART_RETRY);
    assert_int_equal(smart_classify(-1001), SMART_RETRY);
    assert_int_equal(smart_classify(-1), SMART_DEVICE);
    assert_int_equal(smart_classify(123456789), SMART_DEVICE);
    assert_string_equal(smart_status_str(SMART_SESSION_EXPIRED), "session expired");
}

static void test_protocol_errors(void **state)
{
    struct smart_reading r;
    long long code = 0;
    char err[200];
    const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"result\":{\"model\":\"X\"}}",
        "{\"error_code\":\"0\",\"result\":{\"model\":\"X\"}}",
        "{\"error_code\":0}",
        "{\"error_code\":0,\"result\":[]}",
        "{\"error_code\":0,\"result\":{\"device_on\":true}}", /* no model */
        "{\"error_code\":0,\"result\":{\"model\":7}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse("get_device_info", bad[i], &r, &code, err), SMART_PROTOCOL);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(smart_parse_reply(NULL, "{}", 2, &r, &code, err, sizeof err), SMART_PROTOCOL);
    assert_int_equal(
        smart_parse_reply("get_device_info", "{}", (size_t)1 << 30, &r, &code, err, sizeof err),
        SMART_PROTOCOL);
    /* Wrong types are left out, not turned into zeros. */
    assert_int_equal(parse("get_energy_usage",
                           "{\"error_code\":0,\"result\":{\"current_power\":\"12\","
                           "\"today_energy\":null,\"month_energy\":true}}",
                           &r, &code, err),
                     SMART_OK);
    assert_false(r.plug.has_power || r.has_today_energy || r.has_month_energy);
    /* A method this codec does not read is accepted and ignored. */
    assert_int_equal(parse("get_latest_fw", "{\"error_code\":0,\"result\":{}}", &r, &code, err),
                     SMART_OK);
    assert_int_equal(r.got, 0);
    /* err may be omitted. */
    assert_int_equal(smart_parse_reply("get_device_info", "x", 1, &r, NULL, NULL, 0),
                     SMART_PROTOCOL);
}

static void nickname_reply(const char *nick, char *out, size_t cap)
{
    snprintf(out, cap, "{\"error_code\":0,\"result\":{\"model\":\"P110\",\"nickname\":\"%s\"}}",
             nick);
}

static void test_nickname(void **state)
{
    struct smart_reading r;
    long long code;
    char err[200], json[1024];
    /* Not base64: kept as sent. */
    nickname_reply("Living room", json, sizeof json);
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "Living room");
    /* Base64 of bytes that are not UTF-8 (0xff 0xfe): kept as sent. */
    nickname_reply("//4=", json, sizeof json);
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "//4=");
    /* Base64 with an embedded NUL ("a\0b"): kept as sent. */
    nickname_reply("YQBi", json, sizeof json);
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "YQBi");
    /* Empty nickname. */
    nickname_reply("", json, sizeof json);
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "");
    /* A long name of two-byte characters is cut on a character boundary. */
    char text[400];
    size_t n = 0;
    for (int i = 0; i < 150; i++) {
        text[n++] = (char)0xc3;
        text[n++] = (char)0xa9; /* é */
    }
    char *b64 = aes_b64_encode((const uint8_t *)text, n, NULL);
    nickname_reply(b64, json, sizeof json);
    free(b64);
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    size_t len = strlen(r.plug.alias);
    assert_true(len < sizeof r.plug.alias);
    assert_int_equal(len % 2, 0);
    assert_true(len >= sizeof r.plug.alias - 2);
    assert_memory_equal(r.plug.alias, text, len);
    /* Overlong encodings and surrogates are not UTF-8. */
    nickname_reply("wK8=", json, sizeof json); /* c0 af */
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "wK8=");
    nickname_reply("7aCA", json, sizeof json); /* ed a0 80 */
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "7aCA");
    nickname_reply("8J+UjA==", json, sizeof json); /* U+1F50C, four bytes */
    assert_int_equal(parse("get_device_info", json, &r, &code, err), SMART_OK);
    assert_string_equal(r.plug.alias, "\xf0\x9f\x94\x8c");
}

static void test_build_request(void **state)
{
    const char *one[] = {"get_device_info"};
    size_t len = 0;
    char *s = smart_build_request(one, 1, 1700000000000LL, "dGVybWluYWw=", &len);
    assert_string_equal(s, "{\"method\":\"get_device_info\",\"request_time_milis\":1700000000000,"
                           "\"terminal_uuid\":\"dGVybWluYWw=\"}");
    assert_int_equal(len, strlen(s));
    free(s);

    const char *three[] = {"get_device_info", "get_energy_usage", "get_emeter_data"};
    s = smart_build_request(three, 3, 42, "u", &len);
    assert_string_equal(s, "{\"method\":\"multipleRequest\",\"request_time_milis\":42,"
                           "\"terminal_uuid\":\"u\",\"params\":{\"requests\":["
                           "{\"method\":\"get_device_info\"},{\"method\":\"get_energy_usage\"},"
                           "{\"method\":\"get_emeter_data\"}]}}");
    free(s);

    s = smart_build_request(one, 1, 1, NULL, NULL);
    assert_string_equal(s, "{\"method\":\"get_device_info\",\"request_time_milis\":1}");
    free(s);

    const char *six[] = {"a", "b", "c", "d", "e", "f"};
    assert_null(smart_build_request(six, 6, 0, "u", &len));
    assert_null(smart_build_request(six, 0, 0, "u", &len));
    assert_null(smart_build_request(NULL, 1, 0, "u", &len));
    const char *holes[] = {"a", NULL};
    assert_null(smart_build_request(holes, 2, 0, "u", &len));
    const char *empty[] = {""};
    assert_null(smart_build_request(empty, 1, 0, "u", &len));
    s = smart_build_request(six, SMART_MULTI_MAX, 0, "u", &len);
    assert_non_null(s);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_info),
        cmocka_unit_test(test_energy_usage),
        cmocka_unit_test(test_emeter_data),
        cmocka_unit_test(test_multiple_request),
        cmocka_unit_test(test_multiple_request_partial_failure),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_nickname),
        cmocka_unit_test(test_build_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
