#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/kasa/iot_json.h"

/* A fresh parse into *r, which is zeroed or holds an earlier reading. */
static enum kasa_parse_status parse(const char *json, struct plug_reading *r, char *err)
{
    kasa_plug_reading_free(r);
    memset(r, 0, sizeof *r);
    return kasa_iot_parse_reply(json, strlen(json), r, err, 200);
}

/* Shapes as real HS110 hardware 1 sends them: v1 floats in A, V, W, kWh. */
static void test_emeter_v1_floats(void **state)
{
    struct plug_reading r = {0};
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
    struct plug_reading r = {0};
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
    struct plug_reading r = {0};
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
    struct plug_reading r = {0};
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
    struct plug_reading r = {0};
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
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse("", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"system\":", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("[1,2]", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{}", &r, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse("{\"time\":{}}", &r, err), KASA_PARSE_PROTOCOL);
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
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse(json, &r, err), KASA_PARSE_OK);
    assert_int_equal(strlen(r.alias), sizeof r.alias - 1);
}

#define DEVID "8006AF35494E7DB13DDE9B8F40BF2E001E770319"

/* An HS300's sysinfo as its shape is documented (ids are deviceId + "00".."05"). */
/* Child ids are prefix + the index in width digits. */
static const char *strip_sysinfo(char *buf, size_t cap, const char *prefix, int width)
{
    char children[2048];
    size_t n = 0;
    static const char *const aliases[6] = {"TV", "Empty", "Lamp \\\"big\\\"", "Empty", "Fan", "Pi"};
    for (int i = 0; i < 6; i++) {
        char id[80];
        snprintf(id, sizeof id, "%s%0*d", prefix, width, i);
        n += (size_t)snprintf(children + n, sizeof children - n,
                              "%s{\"id\":\"%s\",\"state\":%d,\"alias\":\"%s\",\"on_time\":%d,"
                              "\"next_action\":{\"type\":-1}}",
                              i ? "," : "", id, i % 2 == 0, aliases[i], i % 2 == 0 ? 100 * i : 0);
    }
    snprintf(buf, cap,
             "{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"hw_ver\":\"2.0\","
             "\"deviceId\":\"" DEVID "\",\"feature\":\"TIM:ENE\",\"mic_type\":"
             "\"IOT.SMARTPLUGSWITCH\",\"alias\":\"Strip\",\"rssi\":-44,\"led_off\":0,"
             "\"updating\":0,\"child_num\":6,\"children\":[%s],\"err_code\":0}}}",
             children);
    return buf;
}

static void test_strip_children(void **state)
{
    char json[4096];
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse(strip_sysinfo(json, sizeof json, DEVID, 2), &r, err), KASA_PARSE_OK);
    assert_true(r.is_strip);
    assert_true(r.has_meter);
    assert_false(r.has_relay); /* the parent has no relay of its own */
    assert_false(r.has_on_time);
    assert_string_equal(r.device_id, DEVID);
    assert_int_equal(r.n_outlets, 6);
    for (unsigned i = 0; i < 6; i++) {
        const struct kasa_outlet *o = &r.outlets[i];
        char id[80];
        snprintf(id, sizeof id, DEVID "%02u", i);
        assert_string_equal(o->id, id);
        assert_int_equal(o->number, i + 1);
        assert_true(o->has_relay);
        assert_int_equal(o->relay_on, i % 2 == 0);
        assert_true(o->has_on_time);
        assert_float_equal(o->on_time_s, (i % 2 == 0 ? 100.0 * i : 0), 0);
        assert_false(o->meter.has_power);
    }
    assert_string_equal(r.outlets[1].alias, "Empty");
    assert_string_equal(r.outlets[3].alias, "Empty");
    assert_string_equal(r.outlets[2].alias, "Lamp \"big\"");
    assert_true(r.has_led && r.led_on);
    assert_true(r.has_updating && !r.updating);

    /* A plug is no strip, and a sysinfo without children clears an earlier outlet list. */
    const char *plug = "{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(US)\","
                       "\"relay_state\":1,\"led_off\":1}}}";
    assert_int_equal(kasa_iot_parse_reply(plug, strlen(plug), &r, err, sizeof err), KASA_PARSE_OK);
    assert_false(r.is_strip);
    assert_int_equal(r.n_outlets, 0);
    assert_null(r.outlets);
    assert_true(r.has_led && !r.led_on);
}

/* Outlet numbers come from the id suffix, so they stay put when the list is reordered;
 * ids that do not end in two distinct hex digits fall back to positions. */
static void test_strip_outlet_numbers(void **state)
{
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(
        parse("{\"system\":{\"get_sysinfo\":{\"model\":\"KP303(UK)\",\"deviceId\":\"AB\","
              "\"children\":[{\"id\":\"AB02\",\"state\":1},{\"id\":\"AB00\",\"state\":0},"
              "{\"id\":\"AB0a\"}]}}}",
              &r, err),
        KASA_PARSE_OK);
    assert_int_equal(r.outlets[0].number, 3);
    assert_int_equal(r.outlets[1].number, 1);
    assert_int_equal(r.outlets[2].number, 11);
    assert_false(r.outlets[2].has_relay); /* no state: absent, not off */
    assert_false(r.outlets[2].has_on_time);

    /* Scrubbed ids, as in published dumps. */
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"children\":["
                           "{\"id\":\"SCRUBBED_ID_1\"},{\"id\":\"SCRUBBED_ID_2\"}]}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_int_equal(r.outlets[0].number, 1);
    assert_int_equal(r.outlets[1].number, 2);
    /* Two ids with one suffix would make one label for two outlets: positions instead. */
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"children\":["
                           "{\"id\":\"AA05\"},{\"id\":\"BB05\"},{\"id\":\"CC01\"}]}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_int_equal(r.outlets[0].number, 1);
    assert_int_equal(r.outlets[1].number, 2);
    assert_int_equal(r.outlets[2].number, 3);
    kasa_plug_reading_free(&r);
}

/* Over UDP a strip sends the last two characters of each id (one on some firmware). */
static void test_strip_udp_short_ids(void **state)
{
    char json[4096];
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse(strip_sysinfo(json, sizeof json, "", 2), &r, err), KASA_PARSE_OK);
    assert_string_equal(r.outlets[0].id, DEVID "00");
    assert_string_equal(r.outlets[5].id, DEVID "05");
    assert_int_equal(r.outlets[5].number, 6);
    assert_int_equal(parse(strip_sysinfo(json, sizeof json, "", 1), &r, err), KASA_PARSE_OK);
    assert_string_equal(r.outlets[4].id, DEVID "04");
    assert_int_equal(r.outlets[4].number, 5);

    /* Without a deviceId the short ids stay as they are. */
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"children\":["
                           "{\"id\":\"00\"},{\"id\":\"01\"}]}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_string_equal(r.outlets[1].id, "01");
    assert_int_equal(r.outlets[1].number, 2);
    /* A deviceId too long to complete them with is refused rather than cut. */
    char did[80];
    memset(did, 'A', 63);
    did[63] = '\0';
    snprintf(json, sizeof json,
             "{\"system\":{\"get_sysinfo\":{\"model\":\"HS300\",\"deviceId\":\"%s\","
             "\"children\":[{\"id\":\"00\"}]}}}",
             did);
    assert_int_equal(parse(json, &r, err), KASA_PARSE_PROTOCOL);
    assert_non_null(strstr(err, "children[0]"));
    assert_int_equal(r.n_outlets, 0);
    assert_null(r.outlets);
}

static void expect_bad_children(const char *children, const char *needle)
{
    char json[4096];
    struct plug_reading r = {0};
    char err[200];
    snprintf(json, sizeof json,
             "{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\","
             "\"deviceId\":\"" DEVID "\",\"children\":%s}}}",
             children);
    assert_int_equal(parse(json, &r, err), KASA_PARSE_PROTOCOL);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
    assert_int_equal(r.n_outlets, 0);
    assert_null(r.outlets);
}

static void test_strip_bad_children(void **state)
{
    expect_bad_children("{}", "not an array");
    expect_bad_children("[1]", "children[0] is not an object");
    expect_bad_children("[{\"id\":\"00\"},{\"state\":1}]", "children[1].id");
    expect_bad_children("[{\"id\":5}]", "children[0].id");
    expect_bad_children("[{\"id\":\"\"}]", "children[0].id");
    expect_bad_children("[{\"id\":\"00\\\"]}\"}]", "children[0].id"); /* would break a request */
    expect_bad_children("[{\"id\":\"0 0\"}]", "children[0].id");
    char ids[1024], id65[70];
    memset(id65, 'a', 65);
    id65[65] = '\0';
    snprintf(ids, sizeof ids, "[{\"id\":\"%s\"}]", id65);
    expect_bad_children(ids, "at most 64");

    /* 16 outlets are accepted, 17 are not. */
    size_t n = 0;
    for (int i = 0; i < 17; i++) {
        n += (size_t)snprintf(ids + n, sizeof ids - n, "%s{\"id\":\"%02X\"}", i ? "," : "[", i);
        if (i == 15) {
            char ok[1100], json[2048];
            snprintf(ok, sizeof ok, "%s]", ids);
            snprintf(json, sizeof json,
                     "{\"system\":{\"get_sysinfo\":{\"model\":\"X\",\"children\":%s}}}", ok);
            struct plug_reading r = {0};
            char err[200];
            assert_int_equal(parse(json, &r, err), KASA_PARSE_OK);
            assert_int_equal(r.n_outlets, 16);
            assert_int_equal(r.outlets[15].number, 16);
            kasa_plug_reading_free(&r);
        }
    }
    snprintf(ids + n, sizeof ids - n, "]");
    expect_bad_children(ids, "more than 16");
}

static void test_outlet_meter_request(void **state)
{
    char buf[160];
    assert_true(kasa_iot_outlet_meter_request(DEVID "03", buf, sizeof buf));
    assert_string_equal(buf, "{\"context\":{\"child_ids\":[\"" DEVID
                             "03\"]},\"emeter\":{\"get_realtime\":{}}}");
    assert_false(kasa_iot_outlet_meter_request(DEVID "03", buf, 40)); /* does not fit */
    assert_false(kasa_iot_outlet_meter_request("a\"b", buf, sizeof buf));
    assert_false(kasa_iot_outlet_meter_request("", buf, sizeof buf));
    assert_false(kasa_iot_outlet_meter_request(NULL, buf, sizeof buf));
}

static enum kasa_parse_status parse_outlet(const char *json, struct kasa_meter *m, char *err)
{
    return kasa_iot_parse_outlet_meter(json, strlen(json), m, err, 200);
}

static void test_outlet_meter_replies(void **state)
{
    struct kasa_meter m;
    char err[200];
    assert_int_equal(parse_outlet("{\"emeter\":{\"get_realtime\":{\"current_ma\":708,"
                                  "\"power_mw\":85300,\"slot_id\":2,\"total_wh\":41230,"
                                  "\"voltage_mv\":120450,\"err_code\":0}}}",
                                  &m, err),
                     KASA_PARSE_OK);
    assert_true(m.has_power && m.has_voltage && m.has_current && m.has_energy);
    assert_float_equal(m.power_w, 85.3, 1e-9);
    assert_float_equal(m.voltage_v, 120.45, 1e-9);
    assert_float_equal(m.current_a, 0.708, 1e-9);
    assert_float_equal(m.energy_j, 41230.0 * 3600, 1e-6);

    /* A bad child id, and any other error: the device refused. */
    assert_int_equal(parse_outlet("{\"emeter\":{\"get_realtime\":{\"err_code\":-14,"
                                  "\"err_msg\":\"entry not exist\"}}}",
                                  &m, err),
                     KASA_PARSE_DEVICE);
    assert_non_null(strstr(err, "-14"));
    assert_non_null(strstr(err, "entry not exist"));
    assert_false(m.has_power);
    assert_int_equal(parse_outlet("{\"emeter\":{\"get_realtime\":{\"err_code\":-3,"
                                  "\"err_msg\":\"invalid\\nargument\\u0007\"}}}",
                                  &m, err),
                     KASA_PARSE_DEVICE);
    assert_null(strchr(err, '\n')); /* device text is kept to one printable line */
    assert_null(strchr(err, '\a'));
    assert_int_equal(parse_outlet("{\"emeter\":{\"err_code\":-1,\"err_msg\":\"module not "
                                  "support\"}}",
                                  &m, err),
                     KASA_PARSE_DEVICE);
    assert_int_equal(parse_outlet("{\"emeter\":{\"get_realtime\":{\"err_code\":-2}}}", &m, err),
                     KASA_PARSE_DEVICE);

    assert_int_equal(parse_outlet("{\"system\":{}}", &m, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse_outlet("{\"emeter\":[]}", &m, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse_outlet("{\"emeter\":{}}", &m, err), KASA_PARSE_PROTOCOL);
    assert_int_equal(parse_outlet("{\"emeter\":{\"get_realtime\":7}}", &m, err),
                     KASA_PARSE_PROTOCOL);
    assert_int_equal(parse_outlet("nope", &m, err), KASA_PARSE_PROTOCOL);
}

static void test_cloud_info(void **state)
{
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse("{\"cnCloud\":{\"get_info\":{\"username\":\"a@b.example\","
                           "\"server\":\"n-devs.tplinkcloud.com\",\"binded\":1,"
                           "\"cld_connection\":1,\"err_code\":0}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_true(r.has_cloud && r.cloud_bound);
    assert_false(r.cloud_unsupported);
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS100\"}},"
                           "\"cnCloud\":{\"get_info\":{\"binded\":0,\"err_code\":0}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_true(r.has_cloud && !r.cloud_bound);

    /* Not supported, at either level: unknown and never asked again; not a failed poll. */
    assert_int_equal(
        parse("{\"cnCloud\":{\"err_code\":-1,\"err_msg\":\"module not support\"}}", &r, err),
        KASA_PARSE_OK);
    assert_false(r.has_cloud);
    assert_true(r.cloud_unsupported);
    assert_int_equal(parse("{\"cnCloud\":{\"get_info\":{\"err_code\":-2}}}", &r, err),
                     KASA_PARSE_OK);
    assert_true(r.cloud_unsupported);
    /* Another error: unknown this time, asked again later. */
    assert_int_equal(parse("{\"cnCloud\":{\"get_info\":{\"err_code\":-7}}}", &r, err),
                     KASA_PARSE_OK);
    assert_false(r.has_cloud);
    assert_false(r.cloud_unsupported);
    /* No binded field, or not a number: unknown, not 0. */
    assert_int_equal(
        parse("{\"cnCloud\":{\"get_info\":{\"binded\":\"1\",\"err_code\":0}}}", &r, err),
        KASA_PARSE_OK);
    assert_false(r.has_cloud);
    assert_int_equal(parse("{\"cnCloud\":[]}", &r, err), KASA_PARSE_OK);
    assert_false(r.has_cloud);
}

/* led_off and updating are left out when the device does not send them. */
static void test_led_and_updating(void **state)
{
    struct plug_reading r = {0};
    char err[200];
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS110(EU)\",\"led_off\":0,"
                           "\"updating\":1}}}",
                           &r, err),
                     KASA_PARSE_OK);
    assert_true(r.has_led && r.led_on);
    assert_true(r.has_updating && r.updating);
    assert_int_equal(parse("{\"system\":{\"get_sysinfo\":{\"model\":\"HS110(EU)\"}}}", &r, err),
                     KASA_PARSE_OK);
    assert_false(r.has_led);
    assert_false(r.has_updating);
}

/* A copy owns its outlets: changing or freeing one leaves the other whole, and a later
 * sysinfo replaces the copy's list (the old one freed: ASan's leak check) while a reply
 * without sysinfo keeps it. */
static void test_reading_copy(void **state)
{
    char json[4096];
    struct plug_reading a = {0}, b;
    char err[200];
    assert_int_equal(parse(strip_sysinfo(json, sizeof json, DEVID, 2), &a, err), KASA_PARSE_OK);
    a.has_cloud = a.cloud_bound = true;
    assert_true(kasa_plug_reading_copy(&b, &a));
    assert_int_equal(b.n_outlets, 6);
    assert_ptr_not_equal(b.outlets, a.outlets);
    assert_string_equal(b.outlets[5].id, DEVID "05");
    assert_true(b.has_cloud && b.cloud_bound);
    b.outlets[0].alias[0] = 'X';
    assert_string_not_equal(a.outlets[0].alias, b.outlets[0].alias);

    const char *meter = "{\"emeter\":{\"get_realtime\":{\"power_mw\":1500}}}";
    assert_int_equal(kasa_iot_parse_reply(meter, strlen(meter), &b, err, sizeof err),
                     KASA_PARSE_OK);
    assert_int_equal(b.n_outlets, 6);
    const char *two = "{\"system\":{\"get_sysinfo\":{\"model\":\"KP303(UK)\",\"children\":["
                      "{\"id\":\"AB00\"},{\"id\":\"AB01\"}]}}}";
    assert_int_equal(kasa_iot_parse_reply(two, strlen(two), &b, err, sizeof err), KASA_PARSE_OK);
    assert_int_equal(b.n_outlets, 2);
    assert_true(b.has_cloud && b.cloud_bound); /* not in this reply: kept */
    kasa_plug_reading_free(&b);
    assert_null(b.outlets);
    assert_int_equal(b.n_outlets, 0);
    assert_int_equal(a.n_outlets, 6);
    assert_string_equal(a.outlets[5].id, DEVID "05");

    /* A plug's reading has nothing to copy. */
    const char *plug = "{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(US)\"}}}";
    assert_int_equal(parse(plug, &a, err), KASA_PARSE_OK);
    assert_true(kasa_plug_reading_copy(&b, &a));
    assert_null(b.outlets);
    assert_string_equal(b.model, "HS100(US)");
    kasa_plug_reading_free(&a);
    kasa_plug_reading_free(&b);
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
        cmocka_unit_test(test_strip_children),
        cmocka_unit_test(test_strip_outlet_numbers),
        cmocka_unit_test(test_strip_udp_short_ids),
        cmocka_unit_test(test_strip_bad_children),
        cmocka_unit_test(test_reading_copy),
        cmocka_unit_test(test_outlet_meter_request),
        cmocka_unit_test(test_outlet_meter_replies),
        cmocka_unit_test(test_cloud_info),
        cmocka_unit_test(test_led_and_updating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
