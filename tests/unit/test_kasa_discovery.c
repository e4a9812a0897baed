/* Discovery replies -> found devices -> inventory YAML, which must load as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collectors/kasa/discovery.h"
#include "config/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kasa_found parse_ok(const char *json)
{
    struct kasa_found f;
    char err[200] = "";
    memset(&f, 0, sizeof f);
    if (kasa_found_parse(json, strlen(json), &f, err, sizeof err) != 0)
        fail_msg("rejected %s: %s", json, err);
    return f;
}

static void test_parse_plugs(void **state)
{
    struct kasa_found f = parse_ok(
        "{\"system\":{\"get_sysinfo\":{\"model\":\"HS110(EU)\",\"hw_ver\":\"4.0\","
        "\"sw_ver\":\"1.0.4 Build 191111 Rel.143500\",\"mac\":\"50:C7:BF:00:00:01\","
        "\"alias\":\"Kitchen\",\"deviceId\":\"8006AB\",\"feature\":\"TIM:ENE\",\"relay_state\":1,"
        "\"err_code\":0}},\"emeter\":{\"get_realtime\":{\"power_mw\":1000,\"err_code\":0}}}");
    assert_string_equal(f.model, "HS110(EU)");
    assert_string_equal(f.hw_ver, "4.0");
    assert_string_equal(f.sw_ver, "1.0.4 Build 191111 Rel.143500");
    assert_string_equal(f.mac, "50:C7:BF:00:00:01");
    assert_string_equal(f.alias, "Kitchen");
    assert_string_equal(f.device_id, "8006AB");
    assert_true(f.meter);
    assert_int_equal(f.relay, 1);
    assert_int_equal(f.outlets, 0);

    /* No meter: the emeter part is an error at method level, or at module level. */
    f = parse_ok("{\"system\":{\"get_sysinfo\":{\"model\":\"HS100(US)\",\"feature\":\"TIM\","
                 "\"relay_state\":0}},\"emeter\":{\"get_realtime\":{\"err_code\":-1,"
                 "\"err_msg\":\"module not support\"}}}");
    assert_false(f.meter);
    assert_int_equal(f.relay, 0);
    f = parse_ok("{\"system\":{\"get_sysinfo\":{\"feature\":\"TIM\"}},"
                 "\"emeter\":{\"err_code\":-1,\"err_msg\":\"module not support\"}}");
    assert_false(f.meter);
    assert_int_equal(f.relay, -1);
    assert_string_equal(f.model, "");

    /* A meter announced by feature alone (the emeter part missing). */
    f = parse_ok(
        "{\"system\":{\"get_sysinfo\":{\"feature\":\"TIM:ENE\",\"mic_mac\":\"50C7BF000002\"}}}");
    assert_true(f.meter);
    assert_string_equal(f.mac, "50C7BF000002");

    /* A strip: outlets, no relay of its own. */
    f = parse_ok("{\"system\":{\"get_sysinfo\":{\"model\":\"HS300(US)\",\"child_num\":6,"
                 "\"children\":[{\"id\":\"00\",\"state\":1},{\"id\":\"01\",\"state\":0},{},{},{},"
                 "{}]}}}");
    assert_int_equal(f.outlets, 6);
    assert_int_equal(f.relay, -1);
    f = parse_ok("{\"system\":{\"get_sysinfo\":{\"child_num\":3,\"relay_state\":1}}}");
    assert_int_equal(f.outlets, 3);
    assert_int_equal(f.relay, -1);
}

static void test_parse_hostile(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "not json",
        "{\"system\":{}}",
        "{\"system\":{\"get_sysinfo\":[]}}",
        "{\"system\":{\"get_sysinfo\":{\"err_code\":-1}}}",
        "{\"system\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct kasa_found f;
        char err[200] = "";
        memset(&f, 0, sizeof f);
        assert_int_equal(kasa_found_parse(bad[i], strlen(bad[i]), &f, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* Wrong types are ignored; long strings are cut at a character boundary; a NUL inside a
     * string ends it. */
    char json[1024];
    char alias[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(alias, "\xc3\xa9"); /* é: two bytes each */
    snprintf(json, sizeof json,
             "{\"system\":{\"get_sysinfo\":{\"model\":7,\"alias\":\"%s\",\"mac\":\"ab\\u0000cd\","
             "\"relay_state\":\"on\",\"child_num\":1000000,\"children\":{}}}}",
             alias);
    struct kasa_found f = parse_ok(json);
    assert_string_equal(f.model, "");
    assert_string_equal(f.mac, "ab");
    assert_int_equal(strlen(f.alias), 126); /* 127 would split a character */
    assert_int_equal(f.outlets, 99);
    assert_int_equal(f.relay, -1);
}

static void test_escape(void **state)
{
    char out[128];
    assert_string_equal(kasa_escape("plain text", true, out, sizeof out), "plain text");
    assert_string_equal(kasa_escape("vid\xc3\xa9oprojecteur", true, out, sizeof out),
                        "vid\xc3\xa9oprojecteur");
    assert_string_equal(kasa_escape("a\"b\\c", true, out, sizeof out), "a\\\"b\\\\c");
    assert_string_equal(kasa_escape("a\"b\\c", false, out, sizeof out), "a\"b\\c");
    assert_string_equal(kasa_escape("l1\nl2\r\t\x1b[31m", true, out, sizeof out),
                        "l1\\x0Al2\\x0D\\x09\\x1B[31m");
    /* NEL, LS, PS break YAML lines; RLO reorders a terminal; a lone byte is not UTF-8. */
    assert_string_equal(kasa_escape("a\xc2\x85"
                                    "b\xe2\x80\xa8"
                                    "c\xe2\x80\xae"
                                    "d\xff"
                                    "e",
                                    true, out, sizeof out),
                        "a\\x85b\\u2028c\\u202Ed\\uFFFDe");
    /* Overlong and surrogate encodings are invalid too. */
    assert_string_equal(kasa_escape("\xc0\xaf\xed\xa0\x80", true, out, sizeof out),
                        "\\uFFFD\\uFFFD\\uFFFD\\uFFFD\\uFFFD");
    /* Truncation keeps whole characters and whole escapes. */
    assert_string_equal(kasa_escape("ab\xc3\xa9", true, out, 4), "ab");
    assert_string_equal(kasa_escape("a\n", true, out, 5), "a");
    assert_string_equal(kasa_escape(NULL, true, out, sizeof out), "");
    assert_int_equal(kasa_text_width("vid\xc3\xa9o"), 5);
}

static void test_names(void **state)
{
    struct kasa_found f[9];
    memset(f, 0, sizeof f);
    strcpy(f[0].alias, "Living Room Lamp");
    strcpy(f[1].alias, "Living Room Lamp");
    strcpy(f[2].alias, "  Caf\xc3\xa9 / bar!! ");
    strcpy(f[3].alias, "");
    strcpy(f[3].mac, "50:C7:BF:0A:0B:0C");
    strcpy(f[4].alias, "\xe2\x80\xae\xe2\x80\xae");
    strcpy(f[5].alias, "Living-Room-Lamp-2"); /* collides with the second one's name */
    memset(f[6].alias, 'x', 127);
    memset(f[7].alias, 'x', 127);
    strcpy(f[8].alias, "rack:1_a.b");
    char names[9][KASA_NAME_SIZE];
    kasa_found_names(f, 9, names);
    assert_string_equal(names[0], "Living-Room-Lamp");
    assert_string_equal(names[1], "Living-Room-Lamp-2");
    assert_string_equal(names[2], "Cafe-bar");
    assert_string_equal(names[3], "plug-50c7bf0a0b0c");
    assert_string_equal(names[4], "plug");
    assert_string_equal(names[5], "Living-Room-Lamp-2-2");
    assert_int_equal(strlen(names[6]), 64);
    assert_int_equal(strlen(names[7]), 64);
    assert_string_equal(names[7] + 62, "-2");
    assert_string_equal(names[8], "rack:1_a.b");
    for (size_t i = 0; i < 9; i++)
        for (size_t j = i + 1; j < 9; j++)
            assert_string_not_equal(names[i], names[j]);
}

/* Many devices with one alias: unique names, quickly. */
static void test_names_many(void **state)
{
    enum { N = 1000 };
    struct kasa_found *f = calloc(N, sizeof *f);
    char(*names)[KASA_NAME_SIZE] = calloc(N, sizeof *names);
    assert_non_null(f);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++)
        strcpy(f[i].alias, "Empty");
    kasa_found_names(f, N, names);
    assert_string_equal(names[0], "Empty");
    assert_string_equal(names[N - 1], "Empty-1000");
    struct inventory inv;
    struct strbuf b;
    strbuf_init(&b, 0);
    for (size_t i = 0; i < N; i++)
        snprintf(f[i].host, sizeof f[i].host, "10.0.%zu.%zu", i / 250, i % 250);
    for (size_t i = 0; i < N; i++)
        f[i].port = 9999;
    assert_true(kasa_found_inventory(f, N, &b));
    char err[300];
    if (inventory_load_string(b.data, b.len, "found.yml", NULL, &inv, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(inv.n_devices, N);
    inventory_free(&inv);
    strbuf_free(&b);
    free(names);
    free(f);
}

/* The YAML loads unchanged, hostile aliases and all, with names, hosts and ports intact. */
static void test_inventory_roundtrip(void **state)
{
    struct kasa_found f[4];
    memset(f, 0, sizeof f);
    strcpy(f[0].host, "192.0.2.10");
    f[0].port = 9999;
    strcpy(f[0].alias, "fridge");
    strcpy(f[0].model, "HS110(EU)");
    f[0].meter = true;
    strcpy(f[1].host, "127.0.0.2");
    f[1].port = 19321;
    strcpy(f[1].alias, "evil\"\n- name: injected\n  host: x # \\ \xe2\x80\xa8 ]}");
    strcpy(f[1].sw_ver, "1.0\nplugs: []");
    strcpy(f[1].mac, "\x1b]0;title\x07");
    strcpy(f[2].host, "::1");
    f[2].port = 1;
    strcpy(f[2].alias, "true");
    f[2].outlets = 6;
    strcpy(f[3].host, "127.0.0.3");
    f[3].port = 9999;
    strcpy(f[3].alias, "123");
    struct strbuf b;
    strbuf_init(&b, 0);
    assert_true(kasa_found_inventory(f, 4, &b));
    /* Every device-provided text stays on its comment line. */
    size_t lines = 0;
    for (const char *p = b.data; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1 + 4 * 3 + 2); /* plugs:, 4 x (comment, name, host), 2 ports */
    assert_null(strstr(b.data, "port: 9999"));
    assert_non_null(strstr(b.data, "    port: 19321\n"));
    assert_non_null(strstr(b.data, "\\x0A- name: injected"));

    struct inventory inv;
    char err[300];
    if (inventory_load_string(b.data, b.len, "found.yml", NULL, &inv, err, sizeof err) != 0)
        fail_msg("%s\n%s", err, b.data);
    assert_int_equal(inv.n_devices, 4);
    assert_string_equal(inv.devices[0].name, "fridge");
    assert_string_equal(inv.devices[0].host, "192.0.2.10");
    assert_int_equal(inv.devices[0].port, 9999);
    assert_int_equal(inv.devices[0].kind, DEVICE_PLUG);
    assert_string_equal(inv.devices[1].name, "evil-name:-injected-host:-x");
    assert_string_equal(inv.devices[1].host, "127.0.0.2");
    assert_int_equal(inv.devices[1].port, 19321);
    assert_string_equal(inv.devices[2].name, "true");
    assert_string_equal(inv.devices[2].host, "::1");
    assert_int_equal(inv.devices[2].port, 1);
    assert_string_equal(inv.devices[3].name, "123");
    inventory_free(&inv);
    strbuf_free(&b);

    strbuf_init(&b, 0);
    assert_true(kasa_found_inventory(f, 0, &b));
    assert_string_equal(b.data, "plugs: []\n");
    assert_int_equal(inventory_load_string(b.data, b.len, "none.yml", NULL, &inv, err, sizeof err),
                     0);
    assert_int_equal(inv.n_devices, 0);
    inventory_free(&inv);
    strbuf_free(&b);

    /* A bounded buffer that overflows says so. */
    strbuf_init(&b, 64);
    assert_false(kasa_found_inventory(f, 4, &b));
    strbuf_free(&b);
}

/* Newer firmware found by the 20002 probe: protocol and http_port (not 80) reach the
 * inventory, which loads with them; a credentials_file line is left to fill in. */
static void test_inventory_new_firmware(void **state)
{
    (void)state;
    struct kasa_found f[2];
    memset(f, 0, sizeof f);
    strcpy(f[0].host, "192.0.2.20");
    f[0].port = 9999;
    strcpy(f[0].model, "P110");
    strcpy(f[0].mac, "3C:52:A1:00:00:01");
    strcpy(f[0].protocol, "klap");
    f[0].http_port = 8080;
    f[0].partial = true;
    strcpy(f[1].host, "192.0.2.21");
    f[1].port = 9999;
    strcpy(f[1].protocol, "aes");
    f[1].http_port = 80;
    struct strbuf b;
    strbuf_init(&b, 0);
    assert_true(kasa_found_inventory(f, 2, &b));
    assert_non_null(strstr(b.data, "    protocol: klap\n    http_port: 8080\n"));
    assert_non_null(strstr(b.data, "    protocol: aes\n    # credentials_file:"));
    assert_null(strstr(b.data, "http_port: 80\n"));
    struct inventory inv;
    char err[300];
    if (inventory_load_string(b.data, b.len, "found.yml", NULL, &inv, err, sizeof err) != 0)
        fail_msg("%s\n%s", err, b.data);
    assert_int_equal(inv.n_devices, 2);
    assert_string_equal(inv.devices[0].name, "plug-3c52a1000001");
    assert_int_equal(inv.devices[0].protocol, PLUG_PROTOCOL_KLAP);
    assert_int_equal(inv.devices[0].http_port, 8080);
    assert_int_equal(inv.devices[1].protocol, PLUG_PROTOCOL_AES);
    assert_int_equal(inv.devices[1].http_port, 80);
    inventory_free(&inv);
    strbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plugs),
        cmocka_unit_test(test_parse_hostile),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_names_many),
        cmocka_unit_test(test_inventory_roundtrip),
        cmocka_unit_test(test_inventory_new_firmware),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
