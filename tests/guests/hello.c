/* The smallest guest: greets, echoes argv one per line, exits with argc. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from wasi\n");
    for (int i = 0; i < argc; i++) {
        printf("argv[%d]=%s\n", i, argv[i]);
    }
    return argc;
}
