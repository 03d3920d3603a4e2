/* Builds a directory chain DIR/c/c/c/... DEPTH levels deep by renames, so that no
 * path it names is long (issue 8 row 5): `deepchain DIR DEPTH`.
 * Each step: mkdir DIR/n; rename DIR/c -> DIR/n/c; rename DIR/n -> DIR/c.
 * Prints "ok" and exits 0, or "FAIL <step> <i>" and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: deepchain DIR DEPTH\n");
        return 2;
    }
    char c[512], n[512], nc[512];
    snprintf(c, sizeof c, "%s/c", argv[1]);
    snprintf(n, sizeof n, "%s/n", argv[1]);
    snprintf(nc, sizeof nc, "%s/n/c", argv[1]);
    int depth = atoi(argv[2]);
    if (mkdir(argv[1], 0755) != 0 || mkdir(c, 0755) != 0) {
        printf("FAIL mkdir 0\n");
        return 1;
    }
    for (int i = 1; i < depth; i++) {
        if (mkdir(n, 0755) != 0) {
            printf("FAIL mkdir %d\n", i);
            return 1;
        }
        if (rename(c, nc) != 0 || rename(n, c) != 0) {
            printf("FAIL rename %d\n", i);
            return 1;
        }
    }
    printf("ok\n");
    return 0;
}
