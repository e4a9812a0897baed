#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collectors/kasa/discovery20002.h"

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static void test_static_probe(void **state)
{
    uint8_t buf[64];
    char h[129];
    size_t n = disc20002_build_probe(NULL, 0, buf, sizeof buf);
    assert_int_equal(n, 16);
    hex(buf, n, h);
    /* The well-known probe older tools send verbatim: our CRC reproduces it. */
    assert_string_equal(h, "020000010000000000000000463cb5d3");
    assert_int_equal(disc20002_build_probe(NULL, 0, buf, 15), 0);
}

static void test_probe_with_key(void **state)
{
    const char *pem = "-----BEGIN PUBLIC KEY-----\nABC\n-----END PUBLIC KEY-----\n";
    const char *payload = "{\"params\":{\"rsa_key\":\"-----BEGIN PUBLIC KEY-----\\nABC\\n-----END "
                          "PUBLIC KEY-----\\n\"}}";
    uint8_t buf[256];
    char h[33];
    size_t n = disc20002_build_probe(pem, 0x01020304u, buf, sizeof buf);
    assert_int_equal(n, 16 + strlen(payload));
    assert_int_equal(strlen(payload), 84);
    /* Header computed independently (Python struct + zlib.crc32). */
    hex(buf, 16, h);
    assert_string_equal(h, "020000010054110001020304f4c70098");
    assert_memory_equal(buf + 16, payload, strlen(payload));
    /* Too small a buffer: nothing written, 0 returned. */
    assert_int_equal(disc20002_build_probe(pem, 1, buf, n - 1), 0);
    assert_int_equal(disc20002_build_probe(pem, 1, NULL, 0), 0);

    /* The serial changes the CRC. */
    uint8_t other[256];
    assert_int_equal(disc20002_build_probe(pem, 0x01020305u, other, sizeof other), n);
    assert_memory_not_equal(buf + 12, other + 12, 4);
}

static size_t datagram(const char *json, uint8_t *buf, size_t cap)
{
    size_t len = strlen(json);
    assert_true(16 + len <= cap);
    /* Replies carry the same kind of header; its contents are not relied on. */
    memset(buf, 0, 16);
    buf[0] = 2;
    buf[3] = 1;
    memcpy(buf + 16, json, len);
    return 16 + len;
}

static int parse(const char *json, struct disc20002_info *d, char *err)
{
    uint8_t buf[2048];
    size_t n = datagram(json, buf, sizeof buf);
    return disc20002_parse_reply(buf, n, d, err, 200);
}

static void test_parse_smart_klap(void **state)
{
    struct disc20002_info d;
    char err[200];
    assert_int_equal(
        parse("{\"error_code\":0,\"result\":{\"device_id\":\"abc123\",\"device_model\":\"KP125M(US)"
              "\","
              "\"device_type\":\"SMART.KASAPLUG\",\"factory_default\":false,\"ip\":\"127.0.0.9\","
              "\"is_support_iot_cloud\":true,\"mac\":\"AA-BB-CC-00-11-22\",\"mgt_encrypt_schm\":"
              "{\"encrypt_type\":\"KLAP\",\"http_port\":80,\"is_support_https\":false,\"lv\":2},"
              "\"obd_src\":\"tplink\",\"owner\":\"0f0f\"}}",
              &d, err),
        0);
    assert_string_equal(d.device_type, "SMART.KASAPLUG");
    assert_string_equal(d.model, "KP125M(US)");
    assert_string_equal(d.device_id, "abc123");
    assert_string_equal(d.ip, "127.0.0.9");
    assert_string_equal(d.mac, "AA-BB-CC-00-11-22");
    assert_string_equal(d.encrypt_type, "KLAP");
    assert_int_equal(d.http_port, 80);
    assert_int_equal(d.lv, 2);
    assert_int_equal(d.new_klap, 0);
    assert_false(d.is_support_https);
    assert_int_equal(d.transport, KASA_TRANSPORT_SMART_KLAP);
    assert_int_equal(d.klap_version, 2);
    assert_string_equal(kasa_transport_name(d.transport), "SMART.KLAP");
}

static void test_parse_transports(void **state)
{
    const struct {
        const char *type, *schm;
        enum kasa_transport transport;
        int klap, lv, port, new_klap;
    } cases[] = {
        /* HS100(UK) hw4.1 style: KLAP without lv -> v1 hashes. */
        {"IOT.SMARTPLUGSWITCH", "{\"encrypt_type\":\"KLAP\",\"http_port\":80}",
         KASA_TRANSPORT_IOT_KLAP, 1, 1, 80, 0},
        /* HS300 hw2 style: lv 2 -> v2 hashes. */
        {"IOT.SMARTPLUGSWITCH", "{\"encrypt_type\":\"KLAP\",\"lv\":2}", KASA_TRANSPORT_IOT_KLAP, 2,
         2, 80, 0},
        /* 2025 firmware: new_klap -> v2 hashes. */
        {"IOT.SMARTPLUGSWITCH", "{\"encrypt_type\":\"KLAP\",\"new_klap\":1}",
         KASA_TRANSPORT_IOT_KLAP, 2, 1, 80, 1},
        /* SMART over KLAP is always v2, whatever lv says. */
        {"SMART.TAPOPLUG", "{\"encrypt_type\":\"KLAP\"}", KASA_TRANSPORT_SMART_KLAP, 2, 1, 80, 0},
        {"SMART.KASAPLUG", "{\"encrypt_type\":\"AES\",\"lv\":2,\"http_port\":8080}",
         KASA_TRANSPORT_SMART_AES, 0, 2, 8080, 0},
        {"IOT.SMARTPLUGSWITCH", "{\"encrypt_type\":\"XOR\"}", KASA_TRANSPORT_IOT_XOR, 0, 1, 80, 0},
        {"IOT.SMARTPLUGSWITCH", "{\"encrypt_type\":\"AES\"}", KASA_TRANSPORT_UNKNOWN, 0, 1, 80, 0},
        {"SMART.KASAPLUG", "{}", KASA_TRANSPORT_UNKNOWN, 0, 1, 80, 0},
        {"FOO.BAR", "{\"encrypt_type\":\"KLAP\"}", KASA_TRANSPORT_UNKNOWN, 0, 1, 80, 0},
        /* Out-of-range or mistyped values fall back to defaults. */
        {"SMART.KASAPLUG", "{\"encrypt_type\":\"AES\",\"lv\":\"2\",\"http_port\":70000}",
         KASA_TRANSPORT_SMART_AES, 0, 1, 80, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512], err[200];
        struct disc20002_info d;
        snprintf(json, sizeof json,
                 "{\"error_code\":0,\"result\":{\"device_type\":\"%s\",\"device_model\":\"M\","
                 "\"mgt_encrypt_schm\":%s}}",
                 cases[i].type, cases[i].schm);
        assert_int_equal(parse(json, &d, err), 0);
        assert_int_equal(d.transport, cases[i].transport);
        assert_int_equal(d.klap_version, cases[i].klap);
        assert_int_equal(d.lv, cases[i].lv);
        assert_int_equal(d.http_port, cases[i].port);
        assert_int_equal(d.new_klap, cases[i].new_klap);
    }
    /* new_klap next to the scheme rather than inside it is honoured too. */
    struct disc20002_info d;
    char err[200];
    assert_int_equal(
        parse("{\"error_code\":0,\"result\":{\"device_type\":\"IOT.SMARTPLUGSWITCH\","
              "\"device_model\":\"HS103(US)\",\"new_klap\":1,"
              "\"mgt_encrypt_schm\":{\"encrypt_type\":\"KLAP\",\"is_support_https\":true}}}",
              &d, err),
        0);
    assert_int_equal(d.klap_version, 2);
    assert_true(d.is_support_https);
    assert_string_equal(kasa_transport_name(KASA_TRANSPORT_UNKNOWN), "unknown");
    assert_string_equal(kasa_transport_name(KASA_TRANSPORT_IOT_KLAP), "IOT.KLAP");
    assert_string_equal(kasa_transport_name(KASA_TRANSPORT_SMART_AES), "SMART.AES");
    assert_string_equal(kasa_transport_name(KASA_TRANSPORT_IOT_XOR), "IOT.XOR");
}

static void test_parse_errors(void **state)
{
    struct disc20002_info d;
    char err[200];
    uint8_t buf[64] = {2, 0, 0, 1};
    assert_int_equal(disc20002_parse_reply(buf, 0, &d, err, sizeof err), -1);
    assert_int_equal(disc20002_parse_reply(buf, 15, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "header"));
    assert_int_equal(disc20002_parse_reply(buf, 16, &d, err, sizeof err), -1);
    assert_int_equal(disc20002_parse_reply(NULL, 40, &d, err, sizeof err), -1);
    assert_int_equal(disc20002_parse_reply(buf, DISC20002_REPLY_MAX + 1, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));

    const char *bad[] = {
        "garbage",
        "[]",
        "{\"result\":{\"device_type\":\"SMART.KASAPLUG\",\"device_model\":\"M\"}}",
        "{\"error_code\":-1,\"result\":{\"device_type\":\"SMART.PLUG\",\"device_model\":\"M\"}}",
        "{\"error_code\":0}",
        "{\"error_code\":0,\"result\":\"x\"}",
        "{\"error_code\":0,\"result\":{\"device_model\":\"M\"}}",
        "{\"error_code\":0,\"result\":{\"device_type\":\"SMART.KASAPLUG\"}}",
        "{\"error_code\":0,\"result\":{\"device_type\":5,\"device_model\":\"M\"}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(parse(bad[i], &d, err), -1);
        assert_true(strlen(err) > 0);
    }
    /* A legacy XOR reply on this port is not JSON after the header. */
    uint8_t xor [40];
    memset(xor, 0xd0, sizeof xor);
    assert_int_equal(disc20002_parse_reply(xor, sizeof xor, &d, NULL, 0), -1);
}

static void test_long_fields_truncate(void **state)
{
    char model[300], json[600], err[200];
    memset(model, 'M', sizeof model - 1);
    model[sizeof model - 1] = '\0';
    snprintf(json, sizeof json,
             "{\"error_code\":0,\"result\":{\"device_type\":\"SMART.KASAPLUG\",\"device_model\":"
             "\"%s\",\"mgt_encrypt_schm\":{\"encrypt_type\":\"AESAESAESAESAESAESAES\"}}}",
             model);
    struct disc20002_info d;
    assert_int_equal(parse(json, &d, err), 0);
    assert_int_equal(strlen(d.model), sizeof d.model - 1);
    /* A truncated encrypt_type must not be mistaken for a known one. */
    assert_int_equal(d.transport, KASA_TRANSPORT_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_probe),     cmocka_unit_test(test_probe_with_key),
        cmocka_unit_test(test_parse_smart_klap), cmocka_unit_test(test_parse_transports),
        cmocka_unit_test(test_parse_errors),     cmocka_unit_test(test_long_fields_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
