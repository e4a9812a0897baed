/* The SMART dialect of the plug collector (KP125M, EP25 hw2.6, Tapo P110/P115 over KLAP or
 * AES): what one poll asks and how the answer becomes a reading. No I/O.
 *
 * A poll is one multipleRequest of get_device_info, get_energy_usage and get_emeter_data.
 * A method the device answers -1002 (unknown) is remembered and not asked again: a plug
 * without a meter simply has no readings of it, and only the KP125M family has
 * get_emeter_data (voltage and current). */
#ifndef TPLINK_KASA_SMART_PLUG_H
#define TPLINK_KASA_SMART_PLUG_H

#include <stdbool.h>
#include <stddef.h>

#include "collectors/collector.h"
#include "collectors/kasa/smart_json.h"

struct smart_plug {
    unsigned unsupported;   /* smart_method bits answered -1002 */
    char terminal_uuid[40]; /* random per device, as the app sends one */
};

/* Draws the terminal_uuid. */
void smart_plug_init(struct smart_plug *sp);

/* The poll's request (malloc'd, NUL-terminated, length in *len) and, in *method, the name
 * its reply is parsed by ("multipleRequest", or the one method left). NULL on allocation
 * failure. */
char *smart_plug_request(const struct smart_plug *sp, long long now_ms, size_t *len,
                         const char **method);

/* Parses the reply to smart_plug_request's request into *out (zeroed here) and learns
 * unsupported methods. POLL_OK needs get_device_info; a failure's reason goes to detail. */
enum poll_status smart_plug_parse(struct smart_plug *sp, const char *method, const char *body,
                                  size_t len, struct smart_reading *out, char *detail,
                                  size_t detlen);

/* True when a reply has the SMART shape (an integer error_code at the top), which an IOT
 * reply never has: how a KLAP device that answered an IOT request tells it speaks SMART. */
bool smart_plug_reply_shape(const char *json, size_t len);

#endif
