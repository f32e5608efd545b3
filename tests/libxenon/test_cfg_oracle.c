/* Differential oracle: every config in tests/libxenon/corpus is parsed by our
 * parser and by Debian's libxlutil; the verdicts, the messages (text and
 * line) and every key's value through every getter must be identical.
 * Files named ok-*.cfg must parse and bad-*.cfg must fail, so the corpus
 * also pins the verdict xl gives.
 *
 * The .cfg files in examples/ are compared too.
 *
 * Usage: test_cfg_oracle [FILE...]   (no argument: corpus and examples) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgdump.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n;

    *len = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = cap * 2 + 8192;
            buf = realloc(buf, cap);
            if (!buf)
                abort();
        }
        n = fread(buf + *len, 1, cap - *len, f);
        if (!n)
            break;
        *len += n;
    }
    fclose(f);
    return buf;
}

/* 0 on agreement. */
static int check(const char *path, int *n_ok, int *n_bad)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t len;
    char *data = slurp(path, &len), *ours, *ref;
    int rc = 0;

    if (!data) {
        printf("FAIL %s: cannot read\n", path);
        return 1;
    }
    ours = cfgdump_ours(base, data, len);
    ref = cfgdump_xlu(base, data, len);
    if (!ours || !ref || strcmp(ours, ref)) {
        printf("FAIL %s: differs from libxlutil\n--- libxlutil\n%s--- xenon\n%s",
               base, ref ? ref : "(null)\n", ours ? ours : "(null)\n");
        rc = 1;
    } else if (!strncmp(base, "ok-", 3) && !strstr(ref, "verdict: ok\n")) {
        printf("FAIL %s: expected to parse\n%s", base, ref);
        rc = 1;
    } else if (!strncmp(base, "bad-", 4) && !strstr(ref, "verdict: error\n")) {
        printf("FAIL %s: expected to fail\n%s", base, ref);
        rc = 1;
    } else {
        if (strstr(ref, "verdict: ok\n"))
            (*n_ok)++;
        else
            (*n_bad)++;
        if (getenv("ORACLE_VERBOSE"))
            printf("ok   %s\n%s", base, ours);
    }
    free(data);
    free(ours);
    free(ref);
    return rc;
}

int main(int argc, char **argv)
{
    int fails = 0, n_ok = 0, n_bad = 0;

    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            fails += check(argv[i], &n_ok, &n_bad);
    } else {
        static const char *const dirs[] = { "tests/libxenon/corpus",
                                            "examples" };
        const char *root = getenv("XENON_SOURCE_ROOT");

        for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
            char dir[4096], path[8192];
            struct dirent **ents;
            int n;

            snprintf(dir, sizeof(dir), "%s/%s", root ? root : ".", dirs[d]);
            n = scandir(dir, &ents, NULL, alphasort);
            if (n < 0) {
                perror(dir);
                return 1;
            }
            for (int i = 0; i < n; i++) {
                size_t l = strlen(ents[i]->d_name);

                if (l > 4 && !strcmp(ents[i]->d_name + l - 4, ".cfg")) {
                    snprintf(path, sizeof(path), "%s/%s", dir,
                             ents[i]->d_name);
                    fails += check(path, &n_ok, &n_bad);
                }
                free(ents[i]);
            }
            free(ents);
        }
    }
    printf("%d configs agree with libxlutil (%d valid, %d invalid), "
           "%d differ\n", n_ok + n_bad, n_ok, n_bad, fails);
    return fails ? 1 : 0;
}
