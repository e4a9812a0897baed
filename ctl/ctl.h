/* tplinkctl subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand) and returns the process exit status. */
#ifndef TPLINK_CTL_H
#define TPLINK_CTL_H

int ctl_plug_main(int argc, char **argv);
int ctl_switch_main(int argc, char **argv);

#endif
