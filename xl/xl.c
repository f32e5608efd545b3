/* xl: the Xenon command line, with Xen's xl commands, messages, output
 * formats and exit codes (see docs/xl.md for what Xenon does differently). */
#include "xl.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xenon_paths paths;
int dryrun_only;

int main_help(int argc, char **argv)
{
    help(argc > 1 ? argv[1] : NULL);
    return 0;
}

void help(const char *command)
{
    if (!command || !strcmp(command, "help")) {
        printf("Usage xl [-vfNtT] <subcommand> [args]\n\n");
        printf("xl full list of subcommands:\n\n");
        bool missing = false;
        for (size_t i = 0; i < cmds_count; i++) {
            if (!strcmp(cmds[i].name, "help"))
                continue;
            if (!cmds[i].fn && !missing) {
                printf("\nNot implemented in Xenon yet:\n\n");
                missing = true;
            }
            /* " %-19s ", continued on a new line for longer names */
            size_t len = strlen(cmds[i].name);
            printf(" %s%*s ", cmds[i].name, len < 19 ? (int)(19 - len) : 0, "");
            if (len > 19)
                printf("\n%21s", "");
            printf("%s\n", cmds[i].desc);
        }
        return;
    }
    const struct cmd *c = lookup(command);
    if (!c) {
        printf("command \"%s\" not implemented\n", command);
        return;
    }
    if (!c->fn) {
        printf("xl %s: %s. Not implemented in Xenon yet.\n", c->name, c->desc);
        return;
    }
    printf("Usage: xl [-vtT%s] %s %s\n\n%s.\n\n", c->can_dryrun ? "N" : "",
           c->name, c->usage, c->desc);
    if (c->options)
        printf("Options:\n\n%s\n", c->options);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "+vftTN")) >= 0) {
        switch (opt) {
        case 'N': dryrun_only = 1; break;
        case 'v': case 'f': case 't': case 'T': break;
        default:
            fprintf(stderr, "unknown global option\n");
            exit(EXIT_FAILURE);
        }
    }
    const char *cmd = argv[optind];
    if (!cmd) {
        help(NULL);
        exit(EXIT_FAILURE);
    }
    xenon_paths_init(&paths);
    argv += optind;
    argc -= optind;
    optind = 1;
    opterr = 0;
    if (!strcmp(cmd, "help")) {
        help(argv[1]);
        return 0;
    }
    const struct cmd *c = lookup(cmd);
    if (!c) {
        fprintf(stderr, "command not implemented\n");
        return EXIT_FAILURE;
    }
    if (!c->fn) {
        fprintf(stderr, "xl %s: not implemented in Xenon yet\n", c->name);
        return EXIT_FAILURE;
    }
    if (dryrun_only && !c->can_dryrun) {
        fprintf(stderr, "command does not implement -N (dryrun) option\n");
        return EXIT_FAILURE;
    }
    return c->fn(argc, argv);
}
