/* libFuzzer target: kasa_iot_parse_reply, the legacy IOT JSON reply -> struct plug_reading.
 * The input is the decrypted reply body. */
#include "tests/fuzz/iot_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse_iot((const char *)data, size);
    return 0;
}
