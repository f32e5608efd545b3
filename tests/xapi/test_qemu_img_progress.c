/* qemu-img's -p figures read from chunks cut anywhere (qemu_img_progress.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_img_progress.h"

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                    \
            printf(__VA_ARGS__);                                                           \
            printf("\n");                                                                  \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* Feed text cut every `step` bytes; the figures seen, in order. */
static int figures(const char *text, size_t step, double *out, int max)
{
    struct qimg_progress st = { .ntail = 0 };
    int k = 0;
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step) {
        double p;
        size_t len = n - i < step ? n - i : step;
        if (qimg_progress_feed(&st, text + i, len, &p) && k < max)
            out[k++] = p;
    }
    return k;
}

int main(void)
{
    const char *run = "    (0.00/100%)\r    (1.01/100%)\r    (50.50/100%)\r    (100.00/100%)\r\n";
    for (size_t step = 1; step <= strlen(run); step++) {
        double f[8];
        int k = figures(run, step, f, 8);
        CHECK(k >= 1 && f[k - 1] == 100.0, "step %zu: last figure %g of %d", step,
              k ? f[k - 1] : -1, k);
        for (int i = 1; i < k; i++)
            CHECK(f[i] >= f[i - 1], "step %zu: figures go back: %g after %g", step, f[i],
                  f[i - 1]);
    }
    /* every figure once when fed whole lines */
    {
        double f[8];
        int k = figures(run, 16, f, 8);
        CHECK(k == 4 && f[0] == 0.0 && f[1] == 1.01 && f[2] == 50.5 && f[3] == 100.0,
              "line by line: %d figures", k);
    }
    const char *bad[] = {
        "(abc/100%)", "(-5/100%)", "(101/100%)", "(1e2/100%)", "(/100%)", "/100%)",
        "(12345678901234567890/100%)", "qemu-img: error: Could not open 'x': No such file",
        "(50.0/10%)", "50.0/100%)",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t step = 1; step <= strlen(bad[i]); step++) {
            double f[2];
            CHECK(figures(bad[i], step, f, 2) == 0, "\"%s\" cut every %zu: a figure", bad[i],
                  step);
        }
    }
    /* a figure after a long error text, and random bytes around one */
    {
        char buf[4096];
        memset(buf, 'x', sizeof(buf));
        srand(7);
        for (size_t i = 0; i < 3000; i++)
            buf[i] = rand() % 8 ? (char)(1 + rand() % 126) : (char)"(/%)1."[rand() % 5];
        memcpy(buf + 3000, "(42.5/100%)", 11);
        buf[3011] = 0;
        for (size_t step = 1; step < 64; step++) {
            double f[256];
            int k = figures(buf, step, f, 256);
            CHECK(k >= 1 && f[k - 1] == 42.5, "random prefix, step %zu: last %g", step,
                  k ? f[k - 1] : -1);
        }
    }
    printf(failures ? "%d failed\n" : "all passed\n", failures);
    return failures != 0;
}
