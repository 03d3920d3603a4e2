/* Burns CPU forever: used to test the CPU-time limit (exit 124) and process.kill. */
#include <stdio.h>

int main(void) {
    volatile unsigned long n = 0;
    printf("spinning\n");
    fflush(stdout);
    for (;;) n++;
    return 0;
}
