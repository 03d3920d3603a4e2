/* poll_oneoff and friends against agentvm's kernel, through <wasi/api.h>:
 * clock subscriptions (relative, absolute, already past), fd_read/fd_write readiness
 * on a kernel pipe (made with agentOS host_process.fd_pipe), hangup, EBADF events,
 * NONBLOCK reads, sched_yield, random_get, clock_res_get.
 * Exit status 0 when every line printed; on failure prints "FAIL <step> ..." and exits 1.
 *
 * Expected stdout (exactly):
 *   nsubs0 errno=28
 *   clock relative ok
 *   clock abstime ok
 *   clock past ok
 *   badfd event error=8 type=1
 *   empty pipe: clock fired
 *   nonblock read errno=6
 *   pipe ready nbytes=3 flags=0
 *   pipe write ready type=2
 *   pipe hangup nbytes=0 flags=1
 *   sched_yield 0
 *   random ok
 *   clock_res ok
 *   done
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

__attribute__((import_module("host_process"), import_name("fd_pipe")))
int host_fd_pipe(int *read_fd, int *write_fd);

static void check(const char *step, __wasi_errno_t err) {
    if (err != 0) {
        printf("FAIL %s errno=%d\n", step, (int)err);
        exit(1);
    }
}

static __wasi_timestamp_t now(__wasi_clockid_t id) {
    __wasi_timestamp_t t;
    check("clock_time_get", __wasi_clock_time_get(id, 1, &t));
    return t;
}

static __wasi_subscription_t clock_sub(__wasi_userdata_t ud, __wasi_clockid_t id, __wasi_timestamp_t timeout,
                                       __wasi_subclockflags_t flags) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = __WASI_EVENTTYPE_CLOCK;
    s.u.u.clock.id = id;
    s.u.u.clock.timeout = timeout;
    s.u.u.clock.flags = flags;
    return s;
}

static __wasi_subscription_t fd_sub(__wasi_userdata_t ud, __wasi_eventtype_t type, __wasi_fd_t fd) {
    __wasi_subscription_t s;
    memset(&s, 0, sizeof s);
    s.userdata = ud;
    s.u.tag = type;
    if (type == __WASI_EVENTTYPE_FD_READ)
        s.u.u.fd_read.file_descriptor = fd;
    else
        s.u.u.fd_write.file_descriptor = fd;
    return s;
}

static size_t poll(const char *step, const __wasi_subscription_t *subs, size_t n, __wasi_event_t *events) {
    size_t got;
    check(step, __wasi_poll_oneoff(subs, events, n, &got));
    return got;
}

int main(void) {
    __wasi_subscription_t subs[4];
    __wasi_event_t ev[4];
    size_t got;

    /* no subscriptions */
    printf("nsubs0 errno=%d\n", (int)__wasi_poll_oneoff(subs, ev, 0, &got));

    /* relative monotonic clock: sleeps at least the timeout */
    __wasi_timestamp_t t0 = now(__WASI_CLOCKID_MONOTONIC);
    subs[0] = clock_sub(7, __WASI_CLOCKID_MONOTONIC, 50000000ull, 0);
    got = poll("clock_rel", subs, 1, ev);
    __wasi_timestamp_t dt = now(__WASI_CLOCKID_MONOTONIC) - t0;
    if (got != 1 || ev[0].userdata != 7 || ev[0].type != __WASI_EVENTTYPE_CLOCK || ev[0].error != 0 ||
        dt < 50000000ull) {
        printf("FAIL clock_rel got=%zu dt=%llu\n", got, (unsigned long long)dt);
        return 1;
    }
    printf("clock relative ok\n");

    /* absolute realtime clock 30 ms ahead */
    t0 = now(__WASI_CLOCKID_MONOTONIC);
    subs[0] = clock_sub(8, __WASI_CLOCKID_REALTIME, now(__WASI_CLOCKID_REALTIME) + 30000000ull,
                        __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
    got = poll("clock_abs", subs, 1, ev);
    dt = now(__WASI_CLOCKID_MONOTONIC) - t0;
    if (got != 1 || ev[0].userdata != 8 || dt < 20000000ull) {
        printf("FAIL clock_abs got=%zu dt=%llu\n", got, (unsigned long long)dt);
        return 1;
    }
    printf("clock abstime ok\n");

    /* absolute monotonic deadline in the past: immediate */
    subs[0] = clock_sub(9, __WASI_CLOCKID_MONOTONIC, 1, __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME);
    got = poll("clock_past", subs, 1, ev);
    if (got != 1 || ev[0].userdata != 9) {
        printf("FAIL clock_past got=%zu\n", got);
        return 1;
    }
    printf("clock past ok\n");

    /* a bad fd is reported as an event, not as the call's error */
    subs[0] = fd_sub(10, __WASI_EVENTTYPE_FD_READ, 4321);
    subs[1] = clock_sub(11, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0);
    got = poll("badfd", subs, 2, ev);
    if (got != 1 || ev[0].userdata != 10) {
        printf("FAIL badfd got=%zu\n", got);
        return 1;
    }
    printf("badfd event error=%d type=%d\n", ev[0].error, ev[0].type);

    /* a kernel pipe */
    int r, w;
    check("fd_pipe", (__wasi_errno_t)host_fd_pipe(&r, &w));
    subs[0] = fd_sub(20, __WASI_EVENTTYPE_FD_READ, (__wasi_fd_t)r);
    subs[1] = clock_sub(21, __WASI_CLOCKID_MONOTONIC, 20000000ull, 0);
    got = poll("empty_pipe", subs, 2, ev);
    if (got != 1 || ev[0].userdata != 21) {
        printf("FAIL empty_pipe got=%zu ud=%llu\n", got, (unsigned long long)ev[0].userdata);
        return 1;
    }
    printf("empty pipe: clock fired\n");

    check("set_nonblock", __wasi_fd_fdstat_set_flags((__wasi_fd_t)r, __WASI_FDFLAGS_NONBLOCK));
    char buf[16];
    __wasi_iovec_t riov = {(uint8_t *)buf, sizeof buf};
    size_t n;
    printf("nonblock read errno=%d\n", (int)__wasi_fd_read((__wasi_fd_t)r, &riov, 1, &n));

    __wasi_ciovec_t wiov = {(const uint8_t *)"abc", 3};
    check("pipe_write", __wasi_fd_write((__wasi_fd_t)w, &wiov, 1, &n));
    subs[1] = clock_sub(21, __WASI_CLOCKID_MONOTONIC, 5000000000ull, 0);
    got = poll("pipe_ready", subs, 2, ev);
    if (got != 1 || ev[0].userdata != 20) {
        printf("FAIL pipe_ready got=%zu\n", got);
        return 1;
    }
    printf("pipe ready nbytes=%llu flags=%d\n", (unsigned long long)ev[0].fd_readwrite.nbytes,
           ev[0].fd_readwrite.flags);

    subs[2] = fd_sub(22, __WASI_EVENTTYPE_FD_WRITE, (__wasi_fd_t)w);
    got = poll("pipe_write_ready", &subs[2], 1, ev);
    if (got != 1 || ev[0].userdata != 22 || ev[0].error != 0) {
        printf("FAIL pipe_write_ready got=%zu\n", got);
        return 1;
    }
    printf("pipe write ready type=%d\n", ev[0].type);

    check("pipe_read", __wasi_fd_read((__wasi_fd_t)r, &riov, 1, &n));
    check("close_w", __wasi_fd_close((__wasi_fd_t)w));
    got = poll("hangup", subs, 2, ev);
    if (got != 1 || ev[0].userdata != 20) {
        printf("FAIL hangup got=%zu\n", got);
        return 1;
    }
    printf("pipe hangup nbytes=%llu flags=%d\n", (unsigned long long)ev[0].fd_readwrite.nbytes,
           ev[0].fd_readwrite.flags);
    check("close_r", __wasi_fd_close((__wasi_fd_t)r));

    printf("sched_yield %d\n", (int)__wasi_sched_yield());
    uint8_t rnd[32] = {0};
    check("random_get", __wasi_random_get(rnd, sizeof rnd));
    int nonzero = 0;
    for (size_t i = 0; i < sizeof rnd; i++) nonzero |= rnd[i];
    printf(nonzero ? "random ok\n" : "FAIL random\n");
    __wasi_timestamp_t res;
    check("clock_res", __wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res));
    printf(res > 0 && res <= 1000000000ull ? "clock_res ok\n" : "FAIL clock_res\n");
    printf("done\n");
    return 0;
}
