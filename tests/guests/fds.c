/* Opens /dev/null until open() fails, then creates pipes (agentOS host_process.fd_pipe)
   until that fails; prints both counts and errno names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

__attribute__((import_module("host_process"), import_name("fd_pipe")))
int host_fd_pipe(int *read_fd, int *write_fd);

static const char *name(int e) {
    switch (e) {
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: return strerror(e);
    }
}

int main(int argc, char **argv) {
    int opened = 0;
    if (argc > 1 && strcmp(argv[1], "pipes") == 0) {
        int r, w, err;
        while ((err = host_fd_pipe(&r, &w)) == 0) opened++;
        /* the host returns a WASI errno: 41 ENFILE, 33 EMFILE */
        printf("pipes=%d error=%s\n", opened, err == 41 ? "ENFILE" : err == 33 ? "EMFILE" : "other");
        return 0;
    }
    while (open("/dev/null", O_RDONLY) >= 0) opened++;
    printf("files=%d error=%s\n", opened, name(errno));
    return 0;
}
