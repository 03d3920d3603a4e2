/* poll_oneoff with N fd_read subscriptions on one pipe nobody writes (the write
 * end stays open): `pollbomb N`. Prints "poll errno=E nevents=K" when the call
 * returns (an error, or an event); otherwise blocks until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

__attribute__((import_module("host_process"), import_name("fd_pipe")))
int host_fd_pipe(int *read_fd, int *write_fd);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pollbomb N\n");
        return 2;
    }
    size_t n = strtoul(argv[1], NULL, 10);
    int r, w;
    if (host_fd_pipe(&r, &w) != 0) {
        printf("pipe failed\n");
        return 1;
    }
    __wasi_subscription_t *subs = calloc(n, sizeof *subs);
    __wasi_event_t *events = calloc(n, sizeof *events);
    if (subs == NULL || events == NULL) {
        printf("calloc failed\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        subs[i].userdata = i;
        subs[i].u.tag = __WASI_EVENTTYPE_FD_READ;
        subs[i].u.u.fd_read.file_descriptor = r;
    }
    printf("polling\n");
    fflush(stdout);
    __wasi_size_t got = 0;
    __wasi_errno_t err = __wasi_poll_oneoff(subs, events, n, &got);
    printf("poll errno=%d nevents=%u\n", (int)err, (unsigned)got);
    return 0;
}
