/* The HOST[:PORT] argument of tplinkctl's subcommands, one rule for all of them (ctl.h). */
#include <string.h>

#include "ctl/ctl.h"

/* 1..65535 in at most five decimal digits: no sign, no space, nothing after. */
static int parse_port(const char *d, uint16_t *port)
{
    size_t n = strlen(d);
    if (n == 0 || n > 5)
        return -1;
    unsigned long v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        v = v * 10 + (unsigned long)(*d - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int ctl_split_target(const char *target, char *host, size_t hostlen, uint16_t *port, uint16_t def)
{
    const char *p = target, *end, *colon = NULL;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end)
            return -1;
        p++;
        if (end[1] == ':')
            colon = end + 1;
        else if (end[1] != '\0')
            return -1;
    } else {
        colon = strchr(p, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* more than one colon: a bare IPv6 literal, no port */
        end = colon ? colon : p + strlen(p);
    }
    size_t hl = (size_t)(end - p);
    if (hl == 0 || hl >= hostlen)
        return -1;
    if (colon && parse_port(colon + 1, port) < 0)
        return -1;
    if (!colon)
        *port = def;
    memcpy(host, p, hl);
    host[hl] = '\0';
    return 0;
}
