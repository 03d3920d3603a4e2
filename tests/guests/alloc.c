/* Allocates 1 MiB blocks until malloc fails; prints how many it got and exits 3.
   With a per-process memory limit the failure is a clean ENOMEM, never a host crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    unsigned long blocks = 0;
    static char *volatile keep[100000];
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 1, 1 << 20);
        keep[blocks++ % 100000] = p;  /* kept reachable so the allocation is real */
        if (blocks >= 100000) break;
    }
    printf("allocated %lu MiB before ENOMEM\n", blocks);
    return 3;
}
