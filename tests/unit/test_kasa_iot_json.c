#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/kasa/iot_json.h"

static enum kasa_parse_status parse(const char *json, struct plug_reading *r, char *err)
{
    memset(r, 0, sizeof *r);
    return kasa_iot_parse_reply(json, strlen(json), r, err, 200);
}

/* Shapes as real HS110 hardware 1 sends them: v1 floats in A, V, W, kWh. */
static void test_emeter_v1_floats(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(
        parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS110(EU)\",\"hw_ver\":\"1.0\","
              "\"sw_ver\":\"1.2.5 Build 171213 Rel.101523\",\"mac\":\"50:C7:BF:01:02:03\","
              "\"alias\":\"Kettle\",\"feature\":\"TIM:ENE\",\"relay_state\":1,\"on_time\":42,"
              "\"rssi\":-61,\"err_code\":0}},"
              "\"emeter\":{\"get_realtime\":{\"current\":0.014937,\"power\":0.928511,"
              "\"total\":55.139,\"voltage\":231.067823,\"err_code\":0}}}",
              &r, err),
        KASA_PARSE_OK);
    assert_string_equal(r.model, "HS110(EU)");
    assert_string_equal(r.hw_ver, "1.0");
    assert_string_equal(r.mac, "50:C7:BF:01:02:03");
    assert_string_equal(r.alias, "Kettle");
    assert_true(r.has_meter);
    assert_true(r.has_relay && r.relay_on);
    assert_true(r.has_on_time);
    assert_float_equal(r.on_time_s, 42, 0);
    assert_float_equal(r.rssi_dbm, -61, 0);
    assert_true(r.has_power && r.has_voltage && r.has_current && r.has_energy);
    assert_float_equal(r.power_w, 0.928511, 1e-9);
    assert_float_equal(r.voltage_v, 231.067823, 1e-9);
    assert_float_equal(r.current_a, 0.014937, 1e-9);
    assert_float_equal(r.energy_j, 55.139 * 3.6e6, 1e-3);
}

/* HS110 hardware 2 and later: integers in mA, mV, mW, Wh. */
static void test_emeter_v2_milli_units(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse("{\"emeter\":{\"get_realtime\":{\"current_ma\":451,\"power_mw\":61753,"
                           "\"total_wh\":16323,\"voltage_mv\":230837,\"err_code\":0}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_float_equal(r.power_w, 61.753, 1e-9);
    assert_float_equal(r.voltage_v, 230.837, 1e-9);
    assert_float_equal(r.current_a, 0.451, 1e-9);
    assert_float_equal(r.energy_j, 16323.0 * 3600, 1e-6);
}

/* Per field, not per device: a reply mixing both generations takes each field as it is. */
static void test_emeter_mixed_fields(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse("{\"emeter\":{\"get_realtime\":{\"power\":3.5,\"voltage_mv\":120000,"
                           "\"err_code\":0}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_float_equal(r.power_w, 3.5, 1e-12);
    assert_float_equal(r.voltage_v, 120.0, 1e-12);
    assert_false(r.has_current);
    assert_false(r.has_energy);
}

/* A plug without a meter answers at method level (HS100 hw2, HS105) or module level
 * (HS100 hw1): both mean "no readings", not a failed poll. */
static void test_emeter_not_supported_both_levels(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(US)\","
                           "\"feature\":\"TIM\",\"relay_state\":0,\"err_code\":0}},"
                           "\"emeter\":{\"get_realtime\":{\"err_code\":-1,"
                           "\"err_msg\":\"module not support\"}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_false(r.has_meter);
    assert_true(r.has_relay);
    assert_false(r.relay_on);
    assert_false(r.has_power || r.has_voltage || r.has_current || r.has_energy);

    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(US)\",\"err_code\":0}},"
                           "\"emeter\":{\"err_code\":-1,\"err_msg\":\"module not support\"}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_false(r.has_power);
    assert_int_equal(parse("{\"emeter\":{\"get_realtime\":{\"err_code\":-2,"
                           "\"err_msg\":\"member not support\"}}}",
                           &r, err),
                     KASA_PARSE_OK);
}

static void test_device_errors(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"err_code\":-3,"
                           "\"err_msg\":\"invalid argument\"}}}",
                           &r, err),
                     KASA_PARSE_DEVICE);
    assert_non_null(strstr(err, "-3"));
    assert_int_equal(parse("{\"emeter\":{\"get_realtime\":{\"err_code\":-7}}}", &r, err),
                     KASA_PARSE_DEVICE);
}

static void test_protocol_errors(void **state)
{
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse("", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"system\":", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("[1,2]", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{}", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"system\":[]}", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":\"x\"}}", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"alias\":\"no model\"}}}", &r, err),
                     KASA_PARSE_PROTOCOL);
    /* a string where a number belongs is absent, not zero */
    assert_int_equal(
        parse("{\"emeter\":{\"get_realtime\":{\"power\":\"5\",\"err_code\":0}}}", &r, err),
        KASA_PARSE_OK);
    assert_false(r.has_power);
}

static void test_long_strings_truncate(void **state)
{
    char json[2048];
    char alias[600];
    memset(alias, 'a', sizeof alias - 1);
    alias[sizeof alias - 1] = '\0';
    snprintf(json, sizeof json,
             "{\"system\":{\"get_sysinfo\":{\"model\":\"HS100\",\"alias\":\"%s\"}}}", alias);
    struct plug_reading r;
    char err[200];
    assert_int_equal(parse(json, &r, err), KASA_PARSE_OK);
    assert_int_equal(strlen(r.alias), sizeof r.alias - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emeter_v1_floats),
        cmocka_unit_test(test_emeter_v2_milli_units),
        cmocka_unit_test(test_emeter_mixed_fields),
        cmocka_unit_test(test_emeter_not_supported_both_levels),
        cmocka_unit_test(test_device_errors),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_long_strings_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
