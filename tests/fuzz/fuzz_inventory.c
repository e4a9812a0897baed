/* libFuzzer target: inventory_load_string, the YAML inventory from memory.
 *
 * Relative password_file and credentials_file paths resolve against an empty directory made once
 * per process, so they fail cleanly. Absolute paths are left alone: the loader opens them read-only
 * and non-blocking, takes regular files only, reads at most a few KiB and never puts the content in
 * a message, so a mutated path such as /etc/hostname is harmless (the input is only less
 * reproducible on another machine). */
#include <unistd.h>

#include "config/inventory.h"
#include "tests/fuzz/fuzz.h"

static char empty_dir[] = "/tmp/tplink-fuzz-inventory-XXXXXX";

static void remove_empty_dir(void)
{
    rmdir(empty_dir);
}

static const char *base_dir(void)
{
    static bool made; /* one directory per process, removed at exit */
    if (!made) {
        FUZZ_CHECK(mkdtemp(empty_dir) != NULL);
        atexit(remove_empty_dir);
        made = true;
    }
    return empty_dir;
}

static void check_device(const struct inventory *inv, const struct device_config *d)
{
    FUZZ_CHECK(d->name && strlen(d->name) >= 1 && strlen(d->name) <= INVENTORY_NAME_MAX);
    FUZZ_CHECK(d->host && strlen(d->host) >= 1 && strlen(d->host) <= INVENTORY_HOST_MAX);
    FUZZ_CHECK(d->kind == DEVICE_PLUG || d->kind == DEVICE_SWITCH);
    FUZZ_CHECK(device_kind_name(d->kind) != NULL);
    FUZZ_CHECK(d->port != 0);
    FUZZ_CHECK(d->interval_s >= 1);
    FUZZ_CHECK(d->timeout_s > 0 && d->timeout_s <= d->interval_s);
    FUZZ_CHECK(d->line >= 1);
    if (d->kind == DEVICE_SWITCH)
        FUZZ_CHECK(d->username && d->password.bytes && d->password.len >= 1);
    FUZZ_CHECK(d->transport == PLUG_TRANSPORT_TCP || d->transport == PLUG_TRANSPORT_UDP);
    FUZZ_CHECK(d->protocol >= PLUG_PROTOCOL_AUTO && d->protocol <= PLUG_PROTOCOL_AES);
    FUZZ_CHECK(d->klap_version >= 0 && d->klap_version <= 2);
    if (d->kind == DEVICE_PLUG)
        FUZZ_CHECK(d->http_port != 0);
    /* No credentials file can be read here (relative paths lead to an empty folder). */
    FUZZ_CHECK(d->account_user.len == 0 || d->credentials_file);
    FUZZ_CHECK(device_config_equal(d, d) == 1);
    (void)inv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inventory inv;
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = inventory_load_string((const char *)data, size, "fuzz.yml", base_dir(), &inv, err,
                                   sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc != 0) {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(strncmp(err, "fuzz.yml", 8) == 0);
        FUZZ_CHECK(inv.devices == NULL && inv.n_devices == 0 && inv.path == NULL);
        inventory_free(&inv);
        return 0;
    }
    FUZZ_CHECK(inv.path && strcmp(inv.path, "fuzz.yml") == 0);
    FUZZ_CHECK(inv.n_devices <= INVENTORY_MAX_DEVICES);
    FUZZ_CHECK(inv.n_devices == 0 || inv.devices != NULL);
    for (size_t i = 0; i < inv.n_devices; i++) {
        check_device(&inv, &inv.devices[i]);
        /* Names are unique, so no two entries are configured the same. */
        if (i > 0 && i < 64)
            FUZZ_CHECK(device_config_equal(&inv.devices[i - 1], &inv.devices[i]) == 0);
    }
    inventory_free(&inv);
    return 0;
}
