/* libFuzzer target: smart_parse_reply, the SMART JSON protocol's replies (after KLAP or AES
 * decryption), and on the same reply the plug collector's smart_plug_parse and
 * smart_plug_reply_shape. Byte 0 picks the method the reply answers (one this codec reads,
 * a multipleRequest, or one it ignores); the rest is the reply. */
#include "collectors/kasa/smart_json.h"
#include "collectors/kasa/smart_plug.h"
#include "tests/fuzz/iot_check.h"

static const char *const methods[] = {"get_device_info", "get_energy_usage", "get_emeter_data",
                                      "multipleRequest", "get_device_time"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    struct smart_reading r;
    memset(&r, 0, sizeof r);
    long long code = 12345;
    char err[256];
    memset(err, 'x', sizeof err);
    enum smart_status st =
        smart_parse_reply(method, (const char *)data + 1, size - 1, &r, &code, err, sizeof err);
    FUZZ_CHECK(st >= SMART_OK && st <= SMART_DEVICE);
    FUZZ_CHECK(smart_status_str(st) != NULL);
    fuzz_check_err(err, sizeof err);
    FUZZ_CHECK(err[0] != '\0');
    /* A device error carries its code; success and protocol errors carry none. */
    if (st == SMART_OK || st == SMART_PROTOCOL)
        FUZZ_CHECK(code == 0);
    else
        FUZZ_CHECK(smart_classify(code) == st);
    fuzz_check_reading(&r.plug);
    FUZZ_CHECK_STR(r.type);
    FUZZ_CHECK(!r.has_signal_level || (r.signal_level >= 0 && r.signal_level <= 100));
    FUZZ_CHECK(!r.has_today_energy || isfinite(r.today_energy_j));
    FUZZ_CHECK(!r.has_month_energy || isfinite(r.month_energy_j));
    const unsigned all = SMART_GET_DEVICE_INFO | SMART_GET_ENERGY_USAGE | SMART_GET_EMETER_DATA;
    FUZZ_CHECK((r.got & ~all) == 0 && (r.unsupported & ~all) == 0);

    struct smart_plug sp = {.unsupported = 0, .terminal_uuid = "00"};
    struct smart_reading pr;
    char detail[256];
    memset(detail, 'x', sizeof detail);
    enum poll_status ps =
        smart_plug_parse(&sp, method, (const char *)data + 1, size - 1, &pr, detail, sizeof detail);
    FUZZ_CHECK(ps >= POLL_OK && ps < POLL_STATUS_COUNT);
    fuzz_check_err(detail, sizeof detail);
    FUZZ_CHECK(ps != POLL_OK || (pr.got & SMART_GET_DEVICE_INFO));
    FUZZ_CHECK((sp.unsupported & SMART_GET_DEVICE_INFO) == 0); /* never forgotten */
    FUZZ_CHECK(ps != POLL_OK || st == SMART_OK || st == SMART_UNSUPPORTED);
    bool shape = smart_plug_reply_shape((const char *)data + 1, size - 1);
    /* A reply without the SMART shape never parses as one. */
    FUZZ_CHECK(shape || ps != POLL_OK);
    return 0;
}
