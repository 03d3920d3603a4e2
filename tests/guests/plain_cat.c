/* A plain wasi-libc program (no agentOS ABI, never calls chdir): prints each
 * argument's contents; an argument "fd:N" reads fd N instead of opening a path.
 * Exits 1 after "plain_cat: PATH: <strerror>" on stderr when an open fails.
 * tests/wasm/test_plain_wasi.py runs it with inherited fds and relative paths. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy(int fd) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        if (write(1, buf, (size_t)n) != n) return -1;
    }
    return n < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
    int status = 0;
    for (int i = 1; i < argc; i++) {
        int fd = strncmp(argv[i], "fd:", 3) == 0 ? atoi(argv[i] + 3) : open(argv[i], O_RDONLY);
        if (fd < 0 || copy(fd) != 0) {
            fprintf(stderr, "plain_cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
        }
    }
    return status;
}
