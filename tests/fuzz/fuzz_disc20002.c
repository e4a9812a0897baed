/* libFuzzer target: disc20002_parse_reply, a UDP 20002 discovery reply datagram (16-byte
 * header, then JSON). */
#include "collectors/kasa/discovery20002.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct disc20002_info info;
    char err[256];
    memset(err, 'x', sizeof err);
    err[sizeof err - 1] = '\0';
    int rc = disc20002_parse_reply(data, size, &info, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(kasa_transport_name(info.transport) != NULL);
    if (rc != 0) {
        fuzz_check_err(err, sizeof err);
        return 0;
    }
    FUZZ_CHECK_STR(info.device_type);
    FUZZ_CHECK_STR(info.model);
    FUZZ_CHECK_STR(info.device_id);
    FUZZ_CHECK_STR(info.ip);
    FUZZ_CHECK_STR(info.mac);
    FUZZ_CHECK_STR(info.encrypt_type);
    FUZZ_CHECK(info.device_type[0] && info.model[0]);
    FUZZ_CHECK(info.http_port >= 1 && info.http_port <= 65535);
    FUZZ_CHECK(info.lv >= 1 && info.lv <= 100);
    FUZZ_CHECK(info.new_klap >= 0 && info.new_klap <= 100);
    FUZZ_CHECK(info.transport >= KASA_TRANSPORT_UNKNOWN &&
               info.transport <= KASA_TRANSPORT_SMART_AES);
    bool klap =
        info.transport == KASA_TRANSPORT_IOT_KLAP || info.transport == KASA_TRANSPORT_SMART_KLAP;
    FUZZ_CHECK(klap ? (info.klap_version == 1 || info.klap_version == 2) : info.klap_version == 0);
    return 0;
}
