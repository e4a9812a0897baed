/* Legacy Kasa discovery, the pure part: what one reply to the discovery broadcast says about
 * its device, and how a list of found devices becomes inventory YAML. No I/O.
 *
 * Replies come from anything on the network that answers on the port, so every field is
 * bounded, checked for its type and escaped wherever it is printed. */
#ifndef TPLINK_KASA_DISCOVERY_H
#define TPLINK_KASA_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/strbuf.h"

/* Asks sysinfo and the meter in one round trip; plugs without a meter answer the second
 * part with an error object. */
#define KASA_DISCOVERY_REQUEST "{\"system\":{\"get_sysinfo\":{}},\"emeter\":{\"get_realtime\":{}}}"
#define KASA_DEFAULT_PORT 9999
#define KASA_NAME_SIZE 65 /* an inventory name: at most 64 bytes and the NUL */

struct kasa_found {
    char host[64]; /* numeric address the reply came from (set by the caller) */
    uint16_t port; /* and its port */
    /* From system.get_sysinfo, cut at a UTF-8 character boundary; "" when absent. */
    char model[64];
    char hw_ver[32];
    char sw_ver[96];
    char mac[32];
    char alias[128];
    char device_id[96];
    bool meter;  /* "ENE" in feature, or the emeter part answered a reading */
    int relay;   /* 1 on, 0 off, -1 not reported (strips report per outlet) */
    int outlets; /* children of a strip, 0 for a single plug */
    /* Newer firmware, found by the UDP 20002 probe alone (discovery20002.h): */
    char protocol[8];   /* "klap" or "aes"; "" for a legacy plug */
    uint16_t http_port; /* where it speaks it; 0 = 80 */
    bool partial;       /* the probe tells no meter, relay, firmware or alias */
};

/* Fills *out (host and port left as they are) from one decrypted reply. Returns 0, or -1 with
 * one line in err when the reply is not JSON or has no system.get_sysinfo object. */
int kasa_found_parse(const char *json, size_t len, struct kasa_found *out, char *err,
                     size_t errlen);

/* Writes s as text safe for a terminal or the inside of a YAML/JSON-like double-quoted
 * string: valid UTF-8 is kept except control and line-breaking or direction-changing
 * characters, which become \xNN or \uNNNN; invalid bytes become \uFFFD; with quote, '"' and
 * '\' are escaped too. Stops at a character boundary when out is full; returns out. */
char *kasa_escape(const char *s, bool quote, char *out, size_t cap);

/* Characters of s as a terminal would count them (UTF-8 sequences count once). */
size_t kasa_text_width(const char *s);

/* An inventory name for each device, unique within the list: the alias reduced to
 * [A-Za-z0-9_.:-] (other runs become '-'), else "plug-" and the MAC's hex digits, else
 * "plug"; duplicates get "-2", "-3", ... All names are 1 to 64 bytes. */
void kasa_found_names(const struct kasa_found *found, size_t n, char (*names)[KASA_NAME_SIZE]);

/* Appends a "plugs:" list for the devices to out, ready for the inventory file: quoted
 * names and hosts, a port only when it is not 9999, and a comment with what the device said
 * about itself (escaped). A device of newer firmware gets its protocol, http_port (unless
 * 80) and a commented-out credentials_file line to fill in. false if out overflowed. */
bool kasa_found_inventory(const struct kasa_found *found, size_t n, struct strbuf *out);

#endif
