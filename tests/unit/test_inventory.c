#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/inventory.h"

/* A password that must never appear in an error message or a log line. */
#define SECRET "Tr0ub4dor&3-never-print"

static char tmpdir[256];

static void write_file(const char *rel, const char *content, size_t len, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void write_text(const char *rel, const char *content)
{
    write_file(rel, content, strlen(content), 0600);
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/tplink-inv-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    if (mkdir(sub, 0700) < 0)
        return -1;
    write_text("core.pass", "s3cret\n");
    write_text("crlf.pass", "pw\r\n");
    write_text("two.pass", "a\n\n");
    write_text("bare.pass", "plain");
    write_text("empty.pass", "");
    write_text("newline.pass", "\n");
    write_text("sub/edge.pass", "edgepw\n");
    write_text("secret.pass", SECRET "\n");
    write_text("core.password", "example\n"); /* named by config/examples/inventory.yml */
    char big[5000];
    memset(big, 'x', sizeof big);
    memcpy(big, SECRET, strlen(SECRET));
    write_file("big.pass", big, sizeof big, 0600);
    char exact[4097];
    memset(exact, 'y', 4096);
    exact[4096] = '\n';
    write_file("exact.pass", exact, sizeof exact, 0600);
    write_file("nul.pass", "ab\0cd", 5, 0600);
    write_text("kasa.cred", "owner@example.com\n" SECRET "\n");
    write_text("crlf.cred", "owner@example.com\r\npw\r\n");
    write_text("bare.cred", "owner@example.com\npw");
    write_text("one.cred", "owner@example.com\n");
    write_text("three.cred", "owner@example.com\n" SECRET "\nmore\n");
    write_text("nouser.cred", "\n" SECRET "\n");
    return 0;
}

/* Removes the test folder: files and one level of subfolders is all the tests make. */
static int remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[768];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && depth < 2)
            remove_tree(path, depth + 1);
        else
            unlink(path);
    }
    closedir(d);
    return rmdir(dir);
}

static int teardown(void **state)
{
    return remove_tree(tmpdir, 0);
}

static int load(const char *text, struct inventory *inv, char *err, size_t errlen)
{
    return inventory_load_string(text, strlen(text), "inv.yml", tmpdir, inv, err, errlen);
}

static void assert_empty(const struct inventory *inv)
{
    assert_null(inv->devices);
    assert_int_equal(inv->n_devices, 0);
    assert_null(inv->path);
}

/* Loads text that must fail; the message must start with prefix ("inv.yml:LINE:COL:"),
 * contain every needle, be one line and never show the test password. */
static void expect_error_at(const char *text, const char *prefix, const char *needle,
                            const char *needle2)
{
    struct inventory inv;
    char err[512];
    memset(&inv, 0x5a, sizeof inv);
    int rc = load(text, &inv, err, sizeof err);
    if (rc != -1)
        fail_msg("accepted:\n%s", text);
    assert_empty(&inv);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, prefix);
    if (needle && !strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle);
    if (needle2 && !strstr(err, needle2))
        fail_msg("error \"%s\" lacks \"%s\"", err, needle2);
    assert_null(strchr(err, '\n'));
    assert_null(strstr(err, SECRET));
    assert_null(strstr(err, "s3cret"));
}

static void expect_error(const char *text, const char *prefix, const char *needle)
{
    expect_error_at(text, prefix, needle, NULL);
}

static const struct device_config *find(const struct inventory *inv, const char *name)
{
    for (size_t i = 0; i < inv->n_devices; i++)
        if (!strcmp(inv->devices[i].name, name))
            return &inv->devices[i];
    fail_msg("no device %s", name);
    return NULL;
}

static void test_good_inventory(void **state)
{
    static const char text[] =
        "defaults:\n"
        "  interval: 30s\n"
        "  timeout: 5s\n"
        "plugs:\n"
        "  - { name: fridge, host: 192.168.1.50 }\n"
        "  - name: tv\n"
        "    host: tv.lan\n"
        "    port: 10000\n"
        "    interval: 1m\n"
        "    timeout: 500ms\n"
        "switches:\n"
        "  - { name: core, host: 192.168.1.2, password_file: core.pass }\n"
        "  - name: edge\n"
        "    host: 'fe80::1'\n"
        "    port: 8080\n"
        "    username: operator\n"
        "    password: \"" SECRET "\"\n"
        "    interval: 1h30m\n"
        "  - {name: sub, host: h, password_file: sub/edge.pass, timeout: 30s}\n";
    struct inventory inv;
    char err[512] = "";
    if (load(text, &inv, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_string_equal(inv.path, "inv.yml");
    assert_true(inv.default_interval_s == 30);
    assert_true(inv.default_timeout_s == 5);
    assert_int_equal(inv.n_devices, 5);

    const struct device_config *d = &inv.devices[0];
    assert_string_equal(d->name, "fridge");
    assert_int_equal(d->kind, DEVICE_PLUG);
    assert_string_equal(d->host, "192.168.1.50");
    assert_int_equal(d->port, 9999);
    assert_true(d->interval_s == 30);
    assert_true(d->timeout_s == 5);
    assert_null(d->username);
    assert_null(d->password.bytes);
    assert_null(d->password_file);
    assert_int_equal(d->line, 5);

    d = &inv.devices[1];
    assert_string_equal(d->name, "tv");
    assert_int_equal(d->kind, DEVICE_PLUG);
    assert_string_equal(d->host, "tv.lan");
    assert_int_equal(d->port, 10000);
    assert_true(d->interval_s == 60);
    assert_true(d->timeout_s == 0.5);
    assert_int_equal(d->line, 6);

    d = &inv.devices[2];
    char path[600];
    snprintf(path, sizeof path, "%s/core.pass", tmpdir);
    assert_string_equal(d->name, "core");
    assert_int_equal(d->kind, DEVICE_SWITCH);
    assert_string_equal(d->host, "192.168.1.2");
    assert_int_equal(d->port, 80);
    assert_string_equal(d->username, "admin");
    assert_string_equal(d->password_file, path);
    assert_int_equal(d->password.len, 6);
    assert_memory_equal(d->password.bytes, "s3cret", 7);
    assert_true(d->interval_s == 30);
    assert_true(d->timeout_s == 5);
    assert_int_equal(d->line, 12);

    d = &inv.devices[3];
    assert_string_equal(d->name, "edge");
    assert_string_equal(d->host, "fe80::1");
    assert_int_equal(d->port, 8080);
    assert_string_equal(d->username, "operator");
    assert_null(d->password_file);
    assert_int_equal(d->password.len, strlen(SECRET));
    assert_string_equal(d->password.bytes, SECRET);
    assert_true(d->interval_s == 5400);
    assert_true(d->timeout_s == 5);

    d = &inv.devices[4];
    snprintf(path, sizeof path, "%s/sub/edge.pass", tmpdir);
    assert_string_equal(d->password_file, path);
    assert_string_equal(d->password.bytes, "edgepw");
    assert_true(d->interval_s == 30);
    assert_true(d->timeout_s == 30); /* equal to the interval is allowed */

    assert_int_equal(find(&inv, "tv")->port, 10000);
    assert_string_equal(device_kind_name(DEVICE_PLUG), "plug");
    assert_string_equal(device_kind_name(DEVICE_SWITCH), "switch");
    inventory_free(&inv);
    assert_empty(&inv);
}

static void test_builtin_defaults(void **state)
{
    /* defaults after the devices still apply to them. */
    static const char text[] = "plugs: [ {name: a, host: h} ]\n"
                               "switches:\n"
                               "- {name: b, host: h, password: x, interval: 2s, timeout: 1s}\n";
    struct inventory inv;
    char err[512];
    assert_int_equal(load(text, &inv, err, sizeof err), 0);
    assert_true(inv.default_interval_s == 15);
    assert_true(inv.default_timeout_s == 3);
    assert_true(inv.devices[0].interval_s == 15);
    assert_true(inv.devices[0].timeout_s == 3);
    assert_true(inv.devices[1].interval_s == 2);
    assert_true(inv.devices[1].timeout_s == 1);
    inventory_free(&inv);

    static const char late[] = "plugs:\n- {name: a, host: h}\n- {name: b, host: h, timeout: 1s}\n"
                               "defaults: {interval: 1m, timeout: 10s}\n";
    assert_int_equal(load(late, &inv, err, sizeof err), 0);
    assert_true(inv.devices[0].interval_s == 60);
    assert_true(inv.devices[0].timeout_s == 10);
    assert_true(inv.devices[1].interval_s == 60);
    assert_true(inv.devices[1].timeout_s == 1);
    inventory_free(&inv);
}

static void test_empty_inventories(void **state)
{
    static const char *const texts[] = {
        "",
        "{}",
        "---\n",
        "# only a comment\n",
        "plugs:\n",
        "plugs: []\nswitches: []\n",
        "defaults: {}\n",
        "~\n",
        "---\n{}\n...\n",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct inventory inv;
        char err[512] = "";
        if (load(texts[i], &inv, err, sizeof err) != 0)
            fail_msg("\"%s\" refused: %s", texts[i], err);
        assert_int_equal(inv.n_devices, 0);
        assert_string_equal(inv.path, "inv.yml");
        assert_true(inv.default_interval_s == 15);
        inventory_free(&inv);
    }
}

static void test_duplicate_name(void **state)
{
    expect_error("plugs:\n"
                 "  - name: fridge\n"
                 "    host: a\n"
                 "  - name: tv\n"
                 "    host: b\n"
                 "switches:\n"
                 "  - name: fridge\n"
                 "    host: c\n"
                 "    password: " SECRET "\n",
                 "inv.yml:7:11:", "duplicate device name \"fridge\" (first defined at line 2)");
    /* Flow style; the first duplicate in file order is reported. */
    expect_error("plugs:\n"
                 "- {name: a, host: h}\n"
                 "- {name: b, host: h}\n"
                 "- {name: b, host: h}\n"
                 "- {name: a, host: h}\n",
                 "inv.yml:4:10:", "duplicate device name \"b\" (first defined at line 3)");
}

static void test_unknown_keys(void **state)
{
    expect_error_at("plugs: []\nsensors: []\n", "inv.yml:2:1:", "unknown key \"sensors\"",
                    "defaults, plugs, switches");
    expect_error_at("plugs:\n  - {name: a, host: h, colour: red}\n",
                    "inv.yml:2:24:", "unknown key \"colour\"",
                    "name, host, port, interval, timeout, transport, protocol, http_port, "
                    "klap_version, credentials_file)");
    /* A switch key in a plug is unknown there. */
    expect_error_at("plugs:\n  - name: a\n    host: h\n    username: x\n",
                    "inv.yml:4:5:", "unknown key \"username\"",
                    "(allowed: name, host, port, interval, timeout, transport, protocol, "
                    "http_port, klap_version, credentials_file)");
    expect_error_at("switches:\n  - {name: a, host: h, password: x, pasword: y}\n",
                    "inv.yml:2:37:", "unknown key \"pasword\"", "password_file");
    expect_error("defaults: {interval: 1m, retries: 3}\n", "inv.yml:1:26:",
                 "unknown key \"retries\" in defaults (allowed: interval, timeout)");
    /* Control characters in a key are escaped, so the message stays one line. */
    expect_error("plugs:\n  - {name: a, host: h, \"x\\ny\": 1}\n",
                 "inv.yml:2:24:", "unknown key \"x\\x0ay\"");
}

static void test_wrong_types(void **state)
{
    expect_error("hello\n", "inv.yml:1:1:", "expected a mapping");
    expect_error("- a\n- b\n", "inv.yml:1:1:", "expected a mapping");
    expect_error("plugs: {name: a}\n", "inv.yml:1:8:", "plugs: expected a sequence, got a mapping");
    expect_error("switches: x\n", "inv.yml:1:11:", "expected a sequence");
    expect_error("plugs:\n  - fridge\n", "inv.yml:2:5:", "expected a mapping, got a string");
    expect_error("plugs:\n  - [a]\n", "inv.yml:2:5:", "expected a mapping, got a sequence");
    expect_error("defaults: 15s\n", "inv.yml:1:11:", "defaults: expected a mapping");
    expect_error("plugs:\n  - name: [a]\n    host: h\n",
                 "inv.yml:2:11:", "name: expected a string, got a sequence");
    expect_error("plugs:\n  - name: a\n    host: {x: 1}\n",
                 "inv.yml:3:11:", "host: expected a string, got a mapping");
    expect_error("plugs:\n  - name: a\n    host:\n",
                 "inv.yml:3:10:", "host: expected a string, got null");
    expect_error("plugs:\n  - {name: ~, host: h}\n", "inv.yml:2:12:", "expected a string");
    expect_error("plugs:\n  - {? [a] : b}\n", "inv.yml:2:8:", "expected a string as key");
    expect_error("switches:\n  - {name: a, host: h, password: [" SECRET "]}\n",
                 "inv.yml:2:34:", "password: expected a string, got a sequence");
    expect_error("plugs:\n  - {name: a, host: \"h\\0x\"}\n",
                 "inv.yml:2:21:", "contains a NUL character");
}

static void test_missing_keys(void **state)
{
    expect_error("plugs:\n  - {name: a}\n", "inv.yml:2:5:", "missing key \"host\" in plug \"a\"");
    expect_error("plugs:\n  - {}\n", "inv.yml:2:5:", "missing key \"name\" in plug entry");
    expect_error("switches:\n\n  - host: h\n    password: x\n",
                 "inv.yml:3:5:", "missing key \"name\" in switch entry");
    expect_error("switches:\n  - {name: sw, host: h}\n",
                 "inv.yml:2:5:", "switch \"sw\" needs password_file (or password)");
    expect_error("switches:\n  - name: sw\n    host: h\n    password: " SECRET
                 "\n    password_file: core.pass\n",
                 "inv.yml:5:5:", "both password and password_file");
    expect_error("switches:\n  - {name: sw, host: h, password_file: core.pass, password: " SECRET
                 "}\n",
                 "inv.yml:2:51:", "both password and password_file");
}

static void test_bad_durations(void **state)
{
    expect_error("plugs:\n  - {name: a, host: h, interval: 5x}\n",
                 "inv.yml:2:34:", "invalid interval \"5x\": expected a duration");
    expect_error("plugs:\n  - {name: a, host: h, interval: 15}\n",
                 "inv.yml:2:34:", "invalid interval \"15\"");
    expect_error("plugs:\n  - {name: a, host: h, timeout: 1.5s}\n",
                 "inv.yml:2:33:", "invalid timeout \"1.5s\"");
    expect_error("plugs:\n  - {name: a, host: h, timeout: 0s}\n",
                 "inv.yml:2:33:", "invalid timeout \"0s\"");
    expect_error("plugs:\n  - {name: a, host: h, timeout: -1s}\n",
                 "inv.yml:2:33:", "invalid timeout");
    expect_error("defaults:\n  interval: 500ms\n",
                 "inv.yml:2:13:", "interval \"500ms\" is too short: at least 1s");
    expect_error("plugs:\n  - {name: a, host: h, interval: [1s]}\n",
                 "inv.yml:2:34:", "interval: expected a duration, got a sequence");
    /* timeout above interval: at the device's timeout... */
    expect_error("plugs:\n  - name: a\n    host: h\n    interval: 2s\n    timeout: 5s\n",
                 "inv.yml:5:14:", "timeout (5s) must not exceed interval (2s)");
    /* ...at its interval when the timeout is inherited... */
    expect_error("defaults: {timeout: 10s}\nplugs:\n  - {name: a, host: h, interval: 5s}\n",
                 "inv.yml:3:34:", "timeout (10s) must not exceed interval (5s)");
    expect_error("plugs:\n  - {name: a, host: h, interval: 2500ms}\n",
                 "inv.yml:2:34:", "timeout (3s) must not exceed interval (2500ms)");
    /* ...and in the defaults themselves. */
    expect_error("defaults:\n  interval: 10s\n  timeout: 20s\n", "inv.yml:3:12:",
                 "default timeout (20s) must not exceed the default interval (10s)");
    expect_error("defaults:\n  interval: 2s\n",
                 "inv.yml:2:13:", "default timeout (3s) must not exceed the default interval (2s)");
}

static void test_bad_ports(void **state)
{
    static const char *const bad[] = {"80x",    "-1",   "0",    "65536", "99999999", "1.5",
                                      "\"80\"", "'80'", "0x50", "+80",   "8 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "plugs:\n  - name: a\n    host: h\n    port: %s\n", bad[i]);
        expect_error(text, "inv.yml:4:11:", "expected an integer from 1 to 65535");
    }
    expect_error("plugs:\n  - {name: a, host: h, port: 80x}\n",
                 "inv.yml:2:30:", "invalid port \"80x\"");
    expect_error("plugs:\n  - {name: a, host: h, port: {}}\n",
                 "inv.yml:2:30:", "port: expected an integer, got a mapping");

    struct inventory inv;
    char err[512];
    assert_int_equal(load("plugs: [{name: a, host: h, port: 65535}, {name: b, host: h, port: 1}]",
                          &inv, err, sizeof err),
                     0);
    assert_int_equal(inv.devices[0].port, 65535);
    assert_int_equal(inv.devices[1].port, 1);
    inventory_free(&inv);
}

static void test_transport(void **state)
{
    struct inventory inv;
    char err[512];
    assert_int_equal(load("plugs:\n"
                          "  - {name: a, host: h}\n"
                          "  - {name: b, host: h, transport: udp}\n"
                          "  - {name: c, host: h, transport: \"tcp\"}\n",
                          &inv, err, sizeof err),
                     0);
    assert_int_equal(find(&inv, "a")->transport, PLUG_TRANSPORT_TCP);
    assert_int_equal(find(&inv, "b")->transport, PLUG_TRANSPORT_UDP);
    assert_int_equal(find(&inv, "c")->transport, PLUG_TRANSPORT_TCP);
    /* Writing the default out is the same device; switching transport is not. */
    struct inventory same, other;
    assert_int_equal(load("plugs: [{name: a, host: h, transport: tcp}]\n", &same, err, sizeof err),
                     0);
    assert_int_equal(load("plugs: [{name: a, host: h, transport: udp}]\n", &other, err, sizeof err),
                     0);
    assert_true(device_config_equal(find(&inv, "a"), &same.devices[0]));
    assert_false(device_config_equal(find(&inv, "a"), &other.devices[0]));
    inventory_free(&inv);
    inventory_free(&same);
    inventory_free(&other);

    expect_error("plugs:\n  - name: a\n    host: h\n    transport: UDP\n",
                 "inv.yml:4:16:", "invalid transport \"UDP\": expected tcp or udp");
    expect_error("plugs:\n  - {name: a, host: h, transport: klap}\n",
                 "inv.yml:2:35:", "invalid transport \"klap\": expected tcp or udp");
    expect_error("plugs:\n  - {name: a, host: h, transport: \"\"}\n",
                 "inv.yml:2:35:", "invalid transport \"\"");
    expect_error("plugs:\n  - {name: a, host: h, transport: [udp]}\n",
                 "inv.yml:2:35:", "transport: expected a string, got a sequence");
    expect_error("plugs:\n  - {name: a, host: h, transport: ~}\n",
                 "inv.yml:2:35:", "transport: expected a string, got null");
    expect_error("plugs:\n  - {name: a, host: h, transport: udp, transport: tcp}\n",
                 "inv.yml:2:40:", "duplicate key \"transport\"");
    /* A plug key: switches speak HTTP. */
    expect_error("switches:\n  - {name: s, host: h, password: x, transport: udp}\n",
                 "inv.yml:2:37:", "unknown key \"transport\"");
}

/* protocol, http_port, klap_version and credentials_file: defaults, rules, the account. */
static void test_protocol_keys(void **state)
{
    struct inventory inv;
    char err[512];
    if (load("plugs:\n"
             "  - {name: a, host: h}\n"
             "  - {name: b, host: h, transport: udp}\n"
             "  - {name: c, host: h, protocol: klap, http_port: 8080, klap_version: 1,"
             " credentials_file: kasa.cred}\n"
             "  - {name: d, host: h, protocol: aes, credentials_file: crlf.cred}\n"
             "  - {name: e, host: h, protocol: legacy, transport: udp, credentials_file: "
             "bare.cred}\n",
             &inv, err, sizeof err) != 0)
        fail_msg("%s", err);
    const struct device_config *a = find(&inv, "a"), *b = find(&inv, "b"), *c = find(&inv, "c"),
                               *d = find(&inv, "d"), *e = find(&inv, "e");
    assert_int_equal(a->protocol, PLUG_PROTOCOL_AUTO);
    assert_int_equal(a->http_port, 80);
    assert_int_equal(a->klap_version, 0);
    assert_null(a->account_user.bytes);
    assert_null(a->account_password.bytes);
    assert_int_equal(b->protocol, PLUG_PROTOCOL_LEGACY); /* udp has no KLAP fallback */
    assert_int_equal(c->protocol, PLUG_PROTOCOL_KLAP);
    assert_int_equal(c->http_port, 8080);
    assert_int_equal(c->klap_version, 1);
    assert_string_equal(c->account_user.bytes, "owner@example.com");
    assert_string_equal(c->account_password.bytes, SECRET);
    assert_int_equal(d->protocol, PLUG_PROTOCOL_AES);
    assert_string_equal(d->account_user.bytes, "owner@example.com");
    assert_string_equal(d->account_password.bytes, "pw");
    assert_string_equal(e->account_password.bytes, "pw");
    /* The same file again is the same device; another port or version is not. */
    struct inventory same, other;
    assert_int_equal(load("plugs: [{name: c, host: h, protocol: klap, http_port: 8080,"
                          " klap_version: 1, credentials_file: kasa.cred}]\n",
                          &same, err, sizeof err),
                     0);
    assert_int_equal(load("plugs: [{name: c, host: h, protocol: klap, http_port: 8080,"
                          " klap_version: 2, credentials_file: kasa.cred}]\n",
                          &other, err, sizeof err),
                     0);
    assert_true(device_config_equal(c, &same.devices[0]));
    assert_false(device_config_equal(c, &other.devices[0]));
    inventory_free(&same);
    inventory_free(&other);
    inventory_free(&inv);

    expect_error("plugs: [{name: a, host: h, protocol: KLAP}]\n",
                 "inv.yml:1:38:", "invalid protocol \"KLAP\": expected auto, legacy, klap or aes");
    expect_error("plugs: [{name: a, host: h, protocol: klap, transport: udp}]\n", "inv.yml:1:38:",
                 "protocol klap runs on TCP; transport: udp needs protocol: legacy");
    expect_error("plugs: [{name: a, host: h, protocol: auto, transport: udp}]\n",
                 "inv.yml:1:38:", "protocol auto runs on TCP");
    expect_error("plugs: [{name: a, host: h, klap_version: 3}]\n",
                 "inv.yml:1:42:", "invalid klap_version \"3\": expected 1 or 2");
    expect_error("plugs: [{name: a, host: h, klap_version: \"2\"}]\n",
                 "inv.yml:1:42:", "invalid klap_version");
    expect_error("plugs: [{name: a, host: h, klap_version: ~}]\n",
                 "inv.yml:1:42:", "klap_version: expected an integer, got null");
    expect_error("plugs: [{name: a, host: h, http_port: 0}]\n",
                 "inv.yml:1:39:", "invalid http_port \"0\"");
    expect_error("switches: [{name: s, host: h, password: x, protocol: klap}]\n",
                 "inv.yml:1:44:", "unknown key \"protocol\"");
    static const char *const bad[] = {"one.cred", "three.cred", "nouser.cred", "empty.pass",
                                      "nul.pass"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "plugs:\n  - name: a\n    host: h\n    credentials_file: %s\n",
                 bad[i]);
        expect_error(text, "inv.yml:4:5:", "credentials file");
    }
    char want[600];
    snprintf(want, sizeof want, "cannot read credentials file \"%s/missing.cred\"", tmpdir);
    expect_error_at("plugs: [{name: a, host: h, credentials_file: missing.cred}]\n",
                    "inv.yml:1:28:", want, "No such file");
}

static void test_names_and_hosts(void **state)
{
    char name64[65], name65[66], text[700];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    memset(name65, 'n', 65);
    name65[65] = '\0';

    struct inventory inv;
    char err[512];
    snprintf(text, sizeof text, "plugs: [{name: \"%s\", host: h}, {name: A-z_0.9:x, host: h}]",
             name64);
    assert_int_equal(load(text, &inv, err, sizeof err), 0);
    assert_string_equal(inv.devices[0].name, name64);
    assert_string_equal(inv.devices[1].name, "A-z_0.9:x");
    inventory_free(&inv);

    snprintf(text, sizeof text, "plugs: [{name: %s, host: h}]", name65);
    expect_error(text, "inv.yml:1:16:", "invalid device name");
    expect_error("plugs: [{name: \"two words\", host: h}]",
                 "inv.yml:1:16:", "invalid device name \"two words\"");
    expect_error("plugs: [{name: \"a/b\", host: h}]", "inv.yml:1:16:", "invalid device name");
    expect_error("plugs: [{name: \"\", host: h}]", "inv.yml:1:16:", "invalid device name \"\"");
    expect_error("plugs: [{name: \"caf\xc3\xa9\", host: h}]",
                 "inv.yml:1:16:", "invalid device name");

    expect_error("plugs: [{name: a, host: \"a b\"}]", "inv.yml:1:25:", "invalid host \"a b\"");
    expect_error("plugs: [{name: a, host: \"a\\tb\"}]",
                 "inv.yml:1:25:", "invalid host \"a\\x09b\"");
    expect_error("plugs: [{name: a, host: \"\"}]", "inv.yml:1:25:", "invalid host");
    char host256[257];
    memset(host256, 'h', 256);
    host256[256] = '\0';
    snprintf(text, sizeof text, "plugs: [{name: a, host: %s}]", host256);
    expect_error(text, "inv.yml:1:25:", "invalid host");
    host256[255] = '\0';
    snprintf(text, sizeof text, "plugs: [{name: a, host: %s}]", host256);
    assert_int_equal(load(text, &inv, err, sizeof err), 0);
    assert_int_equal(strlen(inv.devices[0].host), 255);
    inventory_free(&inv);

    expect_error("switches: [{name: a, host: h, password: x, username: \"\"}]",
                 "inv.yml:1:54:", "invalid username");
}

static void test_duplicate_keys(void **state)
{
    expect_error("plugs:\n  - name: a\n    host: h\n    host: i\n",
                 "inv.yml:4:5:", "duplicate key \"host\" in plugs entry (first at line 3)");
    expect_error("plugs: []\nswitches: []\nplugs: []\n",
                 "inv.yml:3:1:", "duplicate key \"plugs\" in the inventory (first at line 1)");
    expect_error("defaults: {timeout: 1s, timeout: 2s}\n",
                 "inv.yml:1:25:", "duplicate key \"timeout\"");
}

static void test_yaml_errors(void **state)
{
    /* libyaml's own problem text at its mark */
    expect_error("plugs: [\n  {name: a, host: h}\n", "inv.yml:3:1:", "invalid YAML");
    expect_error("plugs:\n  - name: a\n   host: h\n", "inv.yml:3:", "invalid YAML");
    expect_error("plugs:\n\t- {name: a, host: h}\n", "inv.yml:2:", "invalid YAML");
    expect_error("a: b: c\n", "inv.yml:1:5:", "invalid YAML: mapping values are not allowed");
    expect_error("plugs: []\n\"unterminated\n", "inv.yml:", "invalid YAML");
    /* bad UTF-8 is a reader error with only an offset; the position is still right */
    expect_error("plugs: []\nswitches: []\n# \xff\n", "inv.yml:3:3:", "invalid YAML");
    expect_error("plugs:\n  - &dev {name: a, host: h}\n  - *dev\n",
                 "inv.yml:3:5:", "YAML aliases are not supported");
    expect_error("plugs: []\n---\nplugs: []\n", "inv.yml:2:1:", "expected a single YAML document");
}

static void test_password_files(void **state)
{
    static const struct {
        const char *file, *want;
    } good[] = {
        {"core.pass", "s3cret"}, {"crlf.pass", "pw"},           {"two.pass", "a\n"},
        {"bare.pass", "plain"},  {"./sub/edge.pass", "edgepw"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[256];
        struct inventory inv;
        char err[512] = "";
        snprintf(text, sizeof text, "switches: [{name: s, host: h, password_file: %s}]",
                 good[i].file);
        if (load(text, &inv, err, sizeof err) != 0)
            fail_msg("%s: %s", good[i].file, err);
        assert_int_equal(inv.devices[0].password.len, strlen(good[i].want));
        assert_string_equal(inv.devices[0].password.bytes, good[i].want);
        inventory_free(&inv);
    }

    /* exactly 4096 bytes plus the newline is the largest accepted */
    struct inventory inv;
    char err[512], text[1024];
    assert_int_equal(
        load("switches: [{name: s, host: h, password_file: exact.pass}]", &inv, err, sizeof err),
        0);
    assert_int_equal(inv.devices[0].password.len, 4096);
    inventory_free(&inv);

    /* an absolute path ignores the base folder */
    snprintf(text, sizeof text, "switches: [{name: s, host: h, password_file: %s/core.pass}]",
             tmpdir);
    assert_int_equal(
        inventory_load_string(text, strlen(text), "x.yml", "/nonexistent", &inv, err, sizeof err),
        0);
    assert_string_equal(inv.devices[0].password.bytes, "s3cret");
    inventory_free(&inv);

    /* errors at the password_file key, naming the path, never the content */
    char want[600];
    snprintf(want, sizeof want, "cannot read password file \"%s/missing.pass\"", tmpdir);
    expect_error_at("switches:\n  - name: s\n    host: h\n    password_file: missing.pass\n",
                    "inv.yml:4:5:", want, "No such file");
    expect_error("switches: [{name: s, host: h, password_file: empty.pass}]",
                 "inv.yml:1:31:", "empty.pass\" is empty");
    expect_error("switches: [{name: s, host: h, password_file: newline.pass}]",
                 "inv.yml:1:31:", "is empty");
    expect_error("switches: [{name: s, host: h, password_file: big.pass}]",
                 "inv.yml:1:31:", "big.pass\" is longer than 4096 bytes");
    expect_error("switches: [{name: s, host: h, password_file: nul.pass}]",
                 "inv.yml:1:31:", "contains a NUL byte");
    expect_error("switches: [{name: s, host: h, password_file: sub}]",
                 "inv.yml:1:31:", "not a regular file");
    /* a later error in a device whose password was read does not show it */
    expect_error("switches:\n- {name: s, host: h, password_file: secret.pass}\n- {name: s, host: "
                 "h, password: " SECRET "}\n",
                 "inv.yml:3:10:", "duplicate device name");

    if (geteuid() != 0) { /* root reads a mode 000 file anyway */
        write_file("locked.pass", "pw\n", 3, 0);
        expect_error("switches: [{name: s, host: h, password_file: locked.pass}]",
                     "inv.yml:1:31:", "Permission denied");
    }
}

/* Runs inventory_load_file with stderr captured; returns what was logged. */
static int load_file_capture(const char *path, struct inventory *inv, char *err, size_t errlen,
                             char *log, size_t loglen)
{
    char logpath[600];
    snprintf(logpath, sizeof logpath, "%s/stderr.log", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    int rc = inventory_load_file(path, inv, err, errlen);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(logpath, "r");
    assert_non_null(f);
    size_t n = fread(log, 1, loglen - 1, f);
    log[n] = '\0';
    fclose(f);
    return rc;
}

static void test_load_file(void **state)
{
    static const char text[] = "switches:\n"
                               "  - {name: core, host: h, password_file: sub/edge.pass}\n"
                               "  - {name: lab, host: h, password: \"" SECRET "\"}\n";
    char path[600], err[512], log[4096];
    struct inventory inv;

    /* password_file resolves against the inventory's own folder, not the cwd */
    write_file("sub/inv.yml", "switches: [{name: s, host: h, password_file: edge.pass}]\n", 56,
               0600);
    snprintf(path, sizeof path, "%s/sub/inv.yml", tmpdir);
    assert_int_equal(inventory_load_file(path, &inv, err, sizeof err), 0);
    assert_string_equal(inv.path, path);
    assert_string_equal(inv.devices[0].password.bytes, "edgepw");
    inventory_free(&inv);

    /* inline password in a group/world-readable file: one warning per device, no secret */
    write_file("exposed.yml", text, strlen(text), 0644);
    snprintf(path, sizeof path, "%s/exposed.yml", tmpdir);
    assert_int_equal(load_file_capture(path, &inv, err, sizeof err, log, sizeof log), 0);
    assert_int_equal(inv.n_devices, 2);
    assert_string_equal(inv.devices[1].password.bytes, SECRET);
    inventory_free(&inv);
    assert_non_null(strstr(log, "level=warn"));
    assert_non_null(strstr(log, "device=\"lab\""));
    assert_non_null(strstr(log, "inline password"));
    assert_null(strstr(log, "device=\"core\""));
    assert_null(strstr(log, SECRET));
    assert_null(strstr(log, "edgepw"));

    /* the same file at mode 0600: silent */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(load_file_capture(path, &inv, err, sizeof err, log, sizeof log), 0);
    inventory_free(&inv);
    assert_string_equal(log, "");

    /* a bad file: error names the path with line and column, nothing is logged or kept */
    write_file("bad.yml", "plugs:\n  - {name: a}\n", 21, 0644);
    snprintf(path, sizeof path, "%s/bad.yml", tmpdir);
    memset(&inv, 0x5a, sizeof inv);
    assert_int_equal(load_file_capture(path, &inv, err, sizeof err, log, sizeof log), -1);
    assert_empty(&inv);
    char want[700];
    snprintf(want, sizeof want, "%s:2:5: missing key \"host\"", path);
    assert_non_null(strstr(err, want));
    assert_true(strncmp(err, path, strlen(path)) == 0);

    snprintf(path, sizeof path, "%s/nonexistent.yml", tmpdir);
    assert_int_equal(inventory_load_file(path, &inv, err, sizeof err), -1);
    assert_empty(&inv);
    snprintf(want, sizeof want, "%s: cannot open: No such file", path);
    assert_true(strncmp(err, want, strlen(want)) == 0);

    assert_int_equal(inventory_load_file(tmpdir, &inv, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

static void test_example_inventory(void **state)
{
    /* The documented example must stay valid; its password file lives in tmpdir. */
    FILE *f = fopen(TEST_SOURCE_DIR "/config/examples/inventory.yml", "r");
    assert_non_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    assert_true(n < sizeof text);
    struct inventory inv;
    char err[512] = "";
    if (inventory_load_string(text, n, "inventory.yml", tmpdir, &inv, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(inv.n_devices >= 3);
    assert_string_equal(find(&inv, "core")->password.bytes, "example");
    inventory_free(&inv);
}

static void test_device_config_equal(void **state)
{
    static const char a_text[] = "plugs: [{name: p, host: h}]\n"
                                 "switches: [{name: s, host: h, password: one}]\n";
    /* the same devices on other lines are still equal */
    static const char b_text[] =
        "\n\nplugs:\n  - {name: p, host: h}\n"
        "switches:\n  - {name: s, host: h, password: one, username: admin}\n";
    static const char c_text[] = "plugs: [{name: p, host: h, port: 9998}]\n"
                                 "switches: [{name: s, host: h, password: two}]\n";
    static const char d_text[] = "plugs: [{name: p, host: h, timeout: 2s}]\n"
                                 "switches: [{name: s, host: h, password_file: bare.pass}]\n";
    struct inventory a, b, c, d;
    char err[512];
    assert_int_equal(load(a_text, &a, err, sizeof err), 0);
    assert_int_equal(load(b_text, &b, err, sizeof err), 0);
    assert_int_equal(load(c_text, &c, err, sizeof err), 0);
    assert_int_equal(load(d_text, &d, err, sizeof err), 0);
    for (size_t i = 0; i < 2; i++) {
        assert_true(device_config_equal(&a.devices[i], &b.devices[i]));
        assert_false(device_config_equal(&a.devices[i], &c.devices[i]));
        assert_false(device_config_equal(&a.devices[i], &d.devices[i]));
        assert_true(device_config_equal(&d.devices[i], &d.devices[i]));
    }
    assert_false(device_config_equal(&a.devices[0], &a.devices[1]));
    inventory_free(&a);
    inventory_free(&b);
    inventory_free(&c);
    inventory_free(&d);
}

static void test_secret(void **state)
{
    struct secret a = {0}, b = {0}, empty = {0};
    assert_int_equal(secret_set(&a, "abc", 3), 0);
    assert_int_equal(secret_set(&b, "abd", 3), 0);
    assert_false(secret_equal(&a, &b));
    assert_int_equal(secret_set(&b, "abc", 3), 0); /* replaces the old value */
    assert_true(secret_equal(&a, &b));
    assert_int_equal(secret_set(&b, "ab", 2), 0);
    assert_false(secret_equal(&a, &b));
    assert_false(secret_equal(&a, &empty));
    assert_true(secret_equal(&empty, &empty));
    assert_int_equal(secret_set(&b, "a\0c", 3), 0); /* bytes, not a C string */
    assert_int_equal(b.len, 3);
    assert_int_equal(b.bytes[3], '\0');
    assert_false(secret_equal(&a, &b));
    secret_clear(&a);
    secret_clear(&b);
    assert_null(a.bytes);
    assert_int_equal(a.len, 0);
    secret_clear(&a); /* idempotent */
}

static char *many_devices(size_t n, bool duplicate_last)
{
    size_t cap = 16 + n * 48;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t off = (size_t)snprintf(text, cap, "plugs:\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, cap - off, "- {name: p%zu, host: 10.0.%zu.%zu}\n",
                                duplicate_last && i == n - 1 ? (size_t)17 : i, i / 256, i % 256);
    return text;
}

static void test_limits(void **state)
{
    struct inventory inv;
    char err[512];
    char *text = many_devices(INVENTORY_MAX_DEVICES, false);
    assert_int_equal(load(text, &inv, err, sizeof err), 0);
    assert_int_equal(inv.n_devices, INVENTORY_MAX_DEVICES);
    assert_string_equal(inv.devices[INVENTORY_MAX_DEVICES - 1].name, "p99999");
    inventory_free(&inv);
    free(text);

    text = many_devices(INVENTORY_MAX_DEVICES, true);
    expect_error(text,
                 "inv.yml:100001:10:", "duplicate device name \"p17\" (first defined at line 19)");
    free(text);

    text = many_devices(INVENTORY_MAX_DEVICES + 1, false);
    expect_error(text, "inv.yml:100002:3:", "too many devices (at most 100000)");
    free(text);
}

static void test_null_err_buffer(void **state)
{
    struct inventory inv;
    assert_int_equal(inventory_load_string("x: 1", 4, NULL, NULL, &inv, NULL, 0), -1);
    assert_empty(&inv);
    char err[16];
    assert_int_equal(inventory_load_string("x: 1", 4, "a-rather-long-file-name.yml", NULL, &inv,
                                           err, sizeof err),
                     -1);
    assert_int_equal(strlen(err), sizeof err - 1); /* truncated, terminated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_inventory),
        cmocka_unit_test(test_builtin_defaults),
        cmocka_unit_test(test_empty_inventories),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_bad_durations),
        cmocka_unit_test(test_bad_ports),
        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_protocol_keys),
        cmocka_unit_test(test_names_and_hosts),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_password_files),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_example_inventory),
        cmocka_unit_test(test_device_config_equal),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_null_err_buffer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
