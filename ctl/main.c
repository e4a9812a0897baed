/* tplinkctl: one-shot tools for people at a shell. */
#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"plug", ctl_plug_main, "query or switch a Kasa smart plug"},
    {"discover", ctl_discover_main, "find Kasa plugs on the local network (UDP broadcast)"},
    {"switch", ctl_switch_main, "Easy Smart switch port statistics (essstat-compatible)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: tplinkctl COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'tplinkctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tplinkctl %s (revision %s)\n", TPLINK_VERSION, TPLINK_REVISION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tplinkctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
