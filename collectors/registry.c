#include "collectors/collector.h"

#include <stddef.h>

const struct collector *const collectors[] = {&plug_collector, &switch_collector, NULL};

const char *poll_status_reason(enum poll_status st)
{
    static const char *const reasons[POLL_STATUS_COUNT] = {
        [POLL_OK] = "",
        [POLL_ERR_TIMEOUT] = "timeout",
        [POLL_ERR_CONNECT] = "connect",
        [POLL_ERR_PROTOCOL] = "protocol",
        [POLL_ERR_DEVICE] = "device",
        [POLL_ERR_AUTH] = "auth",
    };
    return (unsigned)st < POLL_STATUS_COUNT ? reasons[st] : "unknown";
}
