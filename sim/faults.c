#include "sim/sim.h"

#include <string.h>

static const char *const fault_names[SIM_FAULT_COUNT] = {
    [SIM_FAULT_NONE] = "none",           [SIM_FAULT_REFUSE] = "refuse",
    [SIM_FAULT_HANG] = "hang",           [SIM_FAULT_GARBAGE] = "garbage",
    [SIM_FAULT_CLOSE] = "close",         [SIM_FAULT_DRIP] = "drip",
    [SIM_FAULT_TRUNCATED] = "truncated", [SIM_FAULT_HUGE_LENGTH] = "huge_length",
    [SIM_FAULT_BAD_JSON] = "bad_json",   [SIM_FAULT_DEVICE_ERROR] = "device_error",
    [SIM_FAULT_RESET] = "reset",
};

const char *sim_fault_name(enum sim_fault f)
{
    if ((unsigned)f >= SIM_FAULT_COUNT)
        return "invalid";
    return fault_names[f];
}

int sim_fault_parse(const char *name, enum sim_fault *out)
{
    if (!name)
        return -1;
    for (int i = 0; i < SIM_FAULT_COUNT; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            *out = (enum sim_fault)i;
            return 0;
        }
    }
    return -1;
}
