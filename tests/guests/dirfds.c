/* Holds many directory streams open at once, each having read one entry (so the
 * kernel took a listing of the whole directory for it): `dirfds DIR N`.
 * Prints "held=H enomem=M other=O": streams that read an entry, opens or reads
 * refused with ENOMEM (wasi-libc's opendir already reads the first entries), and
 * any other failure. Exit status 0. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: dirfds DIR N\n");
        return 2;
    }
    int n = atoi(argv[2]), held = 0, enomem = 0, other = 0;
    for (int i = 0; i < n; i++) {
        errno = 0;
        DIR *d = opendir(argv[1]);
        if (d == NULL) {
            if (errno == ENOMEM)
                enomem++;
            else
                other++;
            continue;
        }
        errno = 0;
        if (readdir(d) != NULL)
            held++;
        else if (errno == ENOMEM)
            enomem++;
        else
            other++;
    }
    printf("held=%d enomem=%d other=%d\n", held, enomem, other);
    return 0;
}
