/* agentvm's compiled hot path: pipe buffers, per-process fd mirrors, and the
 * native fast path of wasi fd_write / fd_read / fd_fdstat_get (see __init__.py
 * for why, and kernel/pipes.py for the pipe semantics this implements).
 *
 * Ownership: pipes, descriptions, mirrors and budgets are reference-counted. A
 * mirror entry holds a reference on its description, a pipe end's description
 * on its pipe, a pipe on its
 * budget, and a guest thread's state on its mirror, so C never touches a freed
 * object whatever order Python drops its wrappers in.
 *
 * The guest is hostile. Every guest pointer and length is checked against the
 * linear memory length this thread published (64-bit sums, the iovec count
 * bounded) before any copy. The native functions never answer an error
 * themselves: anything that is not the plain fast case (a range outside the
 * published length, an fd not mirrored or not a pipe, an empty or full pipe,
 * no reader, watchers, dropped rights, an fdstat Python has not published) calls the Python host function, which decides
 * exactly as it always did (EFAULT, blocking, EPIPE/SIGPIPE, EOF...). */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define AVM_MIRROR_FDS 64   /* fds at or beyond this take the Python path */
#define AVM_IOV_MAX 1024    /* Linux's IOV_MAX; longer iovec arrays fall back */
#define AVM_MAX_READ (16u << 20) /* wasi/fd_ops.py MAX_READ */
#define AVM_FDSTAT_BYTES 24
#define WASI_EBADF 8
#define MIN_ALLOC 4096

/* wasmtime_val_raw_t: a 16-byte union, i32 at offset 0 (the loader checks the size). */
typedef union {
    int32_t i32;
    int64_t i64;
    uint8_t bytes[16];
} avm_raw;

typedef void *(*avm_callback)(void *env, void *caller, avm_raw *args, size_t nargs);

/* A host directory entry as avm_list_dir writes it (the name follows), and as
 * avm_listing_fill reads it back. */
typedef struct __attribute__((packed)) {
    uint64_t d_ino, ino, nlink; /* getdents' inode, then the lstat's */
    int64_t size, atime_ns, mtime_ns, ctime_ns;
    uint32_t mode, uid, gid;
    uint16_t name_len;
    uint8_t d_type, stated;
} listed_dirent;

/* The record at *rec, before `end`: its header into *r, its name at *name, and
 * *rec moved past it. 1; 0 at the end; -1 when it runs past the end. */
static int next_record(const uint8_t **rec, const uint8_t *end, listed_dirent *r, const uint8_t **name) {
    if (*rec == end) return 0;
    if ((uint64_t)(end - *rec) < sizeof *r) return -1;
    memcpy(r, *rec, sizeof *r);
    *name = *rec + sizeof *r;
    if ((uint64_t)(end - *name) < r->name_len) return -1;
    *rec = *name + r->name_len;
    return 1;
}

static atomic_long live_pipes;
enum {
    F_WRITE, F_READ, F_FDSTAT, F_SEND, F_RECV, F_FILESTAT, F_MODE, F_MODE_CWD, F_SIZE,
    F_ARGS_SIZES, F_ARGS, F_ENV_SIZES, F_ENV, F_PRESTAT, F_PRESTAT_NAME, F_COUNT
};
static atomic_ulong native_calls[F_COUNT], fallback_calls[F_COUNT];

/* -- budget: bytes a VM's pipes may hold beyond their base capacity -------------- */
typedef struct {
    atomic_long refs;
    pthread_mutex_t mu;
    int64_t limit, used;
} avm_budget;

avm_budget *avm_budget_new(int64_t limit) {
    avm_budget *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    pthread_mutex_init(&b->mu, NULL);
    b->limit = limit;
    return b;
}

void avm_budget_unref(avm_budget *b) {
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        pthread_mutex_destroy(&b->mu);
        free(b);
    }
}

int64_t avm_budget_take(avm_budget *b, int64_t n) {
    pthread_mutex_lock(&b->mu);
    int64_t spare = b->limit - b->used;
    int64_t granted = n < spare ? n : spare;
    if (granted < 0) granted = 0;
    b->used += granted;
    pthread_mutex_unlock(&b->mu);
    return granted;
}

void avm_budget_give(avm_budget *b, int64_t n) {
    pthread_mutex_lock(&b->mu);
    b->used -= n;
    pthread_mutex_unlock(&b->mu);
}

int64_t avm_budget_used(avm_budget *b) {
    pthread_mutex_lock(&b->mu);
    int64_t used = b->used;
    pthread_mutex_unlock(&b->mu);
    return used;
}

static int budget_spare(avm_budget *b) {
    if (!b) return 1;
    pthread_mutex_lock(&b->mu);
    int spare = b->used < b->limit;
    pthread_mutex_unlock(&b->mu);
    return spare;
}

/* -- pipe: a ring buffer, one mutex, a condvar per side ----------------------------- */
typedef struct {
    atomic_long refs;
    pthread_mutex_t mu;
    pthread_cond_t readable, writable;
    uint8_t *buf;
    size_t alloc, head, len;
    size_t capacity, max_capacity, low_water, borrowed;
    int readers, writers, elastic, watched;
    uint64_t reads;
    uint64_t kicks; /* avm_pipe_kick calls: a waiter that saw another count never sleeps */
    avm_budget *budget;
} avm_pipe;

avm_pipe *avm_pipe_new(int64_t capacity, int64_t max_capacity, avm_budget *budget) {
    if (capacity < 0 || max_capacity < capacity) return NULL;
    avm_pipe *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->readable, &attr);
    pthread_cond_init(&p->writable, &attr);
    pthread_condattr_destroy(&attr);
    p->capacity = (size_t)capacity;
    p->max_capacity = (size_t)max_capacity;
    p->low_water = p->capacity / 2;
    p->readers = p->writers = 1;
    if (budget) atomic_fetch_add(&budget->refs, 1);
    p->budget = budget;
    atomic_fetch_add(&live_pipes, 1);
    return p;
}

static void pipe_unref(avm_pipe *p) {
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
    if (p->budget && p->borrowed) avm_budget_give(p->budget, (int64_t)p->borrowed);
    avm_budget_unref(p->budget);
    pthread_cond_destroy(&p->readable);
    pthread_cond_destroy(&p->writable);
    pthread_mutex_destroy(&p->mu);
    free(p->buf);
    free(p);
    atomic_fetch_sub(&live_pipes, 1);
}

void avm_pipe_unref(avm_pipe *p) { pipe_unref(p); }

long avm_live_pipes(void) { return atomic_load(&live_pipes); }

/* Give back what the buffer no longer holds beyond capacity (lock held). */
static void repay(avm_pipe *p) {
    size_t excess = p->len > p->capacity ? p->len - p->capacity : 0;
    if (p->borrowed > excess) {
        if (p->budget) avm_budget_give(p->budget, (int64_t)(p->borrowed - excess));
        p->borrowed = excess;
    }
}

/* Make room for `need` buffered bytes (lock held); 0 on allocation failure. */
static int reserve(avm_pipe *p, size_t need) {
    if (need <= p->alloc) return 1;
    size_t alloc = p->alloc ? p->alloc : MIN_ALLOC;
    while (alloc < need) alloc *= 2;
    if (alloc > p->max_capacity && need <= p->max_capacity) alloc = p->max_capacity;
    uint8_t *buf = malloc(alloc);
    if (!buf) return 0;
    size_t first = p->alloc - p->head < p->len ? p->alloc - p->head : p->len;
    if (p->len) {
        memcpy(buf, p->buf + p->head, first);
        memcpy(buf + first, p->buf, p->len - first);
    }
    free(p->buf);
    p->buf = buf;
    p->alloc = alloc;
    p->head = 0;
    return 1;
}

static void put(avm_pipe *p, const uint8_t *src, size_t n) {
    size_t tail = (p->head + p->len) % p->alloc;
    size_t first = p->alloc - tail < n ? p->alloc - tail : n;
    memcpy(p->buf + tail, src, first);
    memcpy(p->buf, src + first, n - first);
    p->len += n;
}

static void get(avm_pipe *p, uint8_t *dst, size_t n) {
    size_t first = p->alloc - p->head < n ? p->alloc - p->head : n;
    memcpy(dst, p->buf + p->head, first);
    memcpy(dst + first, p->buf, n - first);
    p->head = (p->head + n) % p->alloc;
    p->len -= n;
}

/* After taking bytes out (lock held): repay the budget, wake a blocked writer
 * once the pipe is down to half (or always while elastic), drop an emptied
 * buffer that grew beyond capacity. */
static void after_read(avm_pipe *p) {
    repay(p);
    p->reads++;
    if (p->len <= p->low_water || p->elastic) pthread_cond_broadcast(&p->writable);
    if (p->len == 0) {
        p->head = 0;
        if (p->alloc > p->capacity) {
            free(p->buf);
            p->buf = NULL;
            p->alloc = 0;
        }
    }
}

static size_t base_room(avm_pipe *p) { return p->capacity > p->len ? p->capacity - p->len : 0; }

/* Closes one end; returns 1 when both are now closed. */
int avm_pipe_close_end(avm_pipe *p, int is_write) {
    pthread_mutex_lock(&p->mu);
    if (is_write) {
        p->writers--;
    } else if (--p->readers == 0) {
        p->len = p->head = 0;
        free(p->buf);
        p->buf = NULL;
        p->alloc = 0;
        repay(p);
    }
    pthread_cond_broadcast(&p->readable);
    pthread_cond_broadcast(&p->writable);
    int destroyed = p->readers == 0 && p->writers == 0;
    pthread_mutex_unlock(&p->mu);
    return destroyed;
}

/* Appends up to n bytes without blocking: >0 bytes taken, 0 full, -EPIPE no
 * reader, -ENOMEM. Beyond capacity only while elastic, as the budget grants. */
int64_t avm_pipe_write(avm_pipe *p, const uint8_t *src, int64_t n) {
    if (n <= 0) return 0;
    pthread_mutex_lock(&p->mu);
    int64_t result;
    size_t room = base_room(p);
    if (p->readers == 0) {
        result = -EPIPE;
    } else {
        if (room == 0 && p->elastic && p->len < p->max_capacity) {
            size_t wanted = p->max_capacity - p->len < (size_t)n ? p->max_capacity - p->len : (size_t)n;
            room = p->budget ? (size_t)avm_budget_take(p->budget, (int64_t)wanted) : wanted;
            p->borrowed += room;
        }
        size_t chunk = room < (size_t)n ? room : (size_t)n;
        if (chunk && !reserve(p, p->len + chunk)) {
            repay(p);
            result = -ENOMEM;
        } else {
            int was_empty = p->len == 0;
            if (chunk) put(p, src, chunk);
            if (was_empty && chunk) pthread_cond_broadcast(&p->readable);
            result = (int64_t)chunk;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return result;
}

/* Takes up to n bytes without blocking: >0 bytes, 0 end of file (or n == 0),
 * -EAGAIN empty while a writer is open. */
int64_t avm_pipe_read(avm_pipe *p, uint8_t *dst, int64_t n) {
    if (n <= 0) return 0;
    pthread_mutex_lock(&p->mu);
    int64_t result;
    if (p->len == 0) {
        result = p->writers == 0 ? 0 : -EAGAIN;
    } else {
        size_t chunk = p->len < (size_t)n ? p->len : (size_t)n;
        get(p, dst, chunk);
        after_read(p);
        result = (int64_t)chunk;
    }
    pthread_mutex_unlock(&p->mu);
    return result;
}

static int readable(avm_pipe *p) { return p->len > 0 || p->writers == 0; }

static int writable(avm_pipe *p) {
    if (p->readers == 0 || p->len < p->capacity) return 1;
    return p->elastic && p->len < p->max_capacity && budget_spare(p->budget);
}

/* Sleeps up to timeout_ns while the pipe is not ready in that direction (a
 * writer is woken early only once the pipe drains to half) and nobody kicked it
 * since the caller read `kicks` (avm_pipe_kicks). Called through ctypes, which
 * releases the GIL. */
void avm_pipe_wait(avm_pipe *p, int for_write, int64_t timeout_ns, uint64_t kicks) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ns / 1000000000;
    deadline.tv_nsec += timeout_ns % 1000000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&p->mu);
    if (p->kicks == kicks && (for_write ? !writable(p) : !readable(p)))
        pthread_cond_timedwait(for_write ? &p->writable : &p->readable, &p->mu, &deadline);
    pthread_mutex_unlock(&p->mu);
}

uint64_t avm_pipe_kicks(avm_pipe *p) {
    pthread_mutex_lock(&p->mu);
    uint64_t kicks = p->kicks;
    pthread_mutex_unlock(&p->mu);
    return kicks;
}

/* Wakes every waiter of the pipe, ready or not (a waiter's process was killed). */
void avm_pipe_kick(avm_pipe *p) {
    pthread_mutex_lock(&p->mu);
    p->kicks++;
    pthread_cond_broadcast(&p->readable);
    pthread_cond_broadcast(&p->writable);
    pthread_mutex_unlock(&p->mu);
}

/* state[0..5] = buffered, readers, writers, elastic, reads, readable|writable<<1 */
void avm_pipe_state(avm_pipe *p, int64_t *state) {
    pthread_mutex_lock(&p->mu);
    state[0] = (int64_t)p->len;
    state[1] = p->readers;
    state[2] = p->writers;
    state[3] = p->elastic;
    state[4] = (int64_t)p->reads;
    state[5] = readable(p) | (writable(p) << 1);
    pthread_mutex_unlock(&p->mu);
}

/* What a read would find: the bytes buffered, or -1 at end of file (empty, no
 * writer left). Lets Python size its buffer, and skip it when there is nothing. */
int64_t avm_pipe_buffered(avm_pipe *p) {
    pthread_mutex_lock(&p->mu);
    int64_t buffered = p->len ? (int64_t)p->len : p->writers == 0 ? -1 : 0;
    pthread_mutex_unlock(&p->mu);
    return buffered;
}

void avm_pipe_set_elastic(avm_pipe *p) {
    pthread_mutex_lock(&p->mu);
    p->elastic = 1;
    pthread_mutex_unlock(&p->mu);
}

/* Watchers present (nonzero): the native fast path steps aside so their
 * callbacks run. */
void avm_pipe_set_watched(avm_pipe *p, int watched) {
    pthread_mutex_lock(&p->mu);
    p->watched = watched;
    pthread_mutex_unlock(&p->mu);
}

/* -- open file descriptions (a pipe end, or any other non-socket description) ---
 *
 * A description of a host regular file opened read-only may also hand C its host
 * fd and its file position (kernel/handle.py): fd_read then reads it here, and
 * every other use of that position (Python's reads, seek, tell) goes through
 * the functions below, under the description's mutex, so the position stays one
 * position whoever moves it. Python takes the fd back before it closes it, and
 * a read holds the mutex across its preadv, so C never reads a closed (or
 * reused) fd number. */
typedef struct {
    atomic_long refs;
    pthread_mutex_t mu;  /* guards fdstat, host_fd and pos */
    avm_pipe *pipe;      /* NULL: not a pipe end; only its fdstat (and a host file) is served */
    int is_write;
    atomic_int can_transfer; /* the description still has its fd_read/fd_write right */
    int fdstat_valid;        /* fdstat below is what fd_fdstat_get answers */
    uint8_t fdstat[AVM_FDSTAT_BYTES];
    int host_fd;             /* >= 0: the read-only host regular file this description reads */
    int64_t pos;             /* its position, while host_fd >= 0 */
    /* an exec's output (kernel/exec_stdio.py): its first `keep` bytes, under mu */
    int capture, truncated;
    uint8_t *buf;
    size_t len, alloc, keep;
} avm_desc;

avm_desc *avm_desc_new(avm_pipe *p, int is_write) {
    avm_desc *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    atomic_init(&d->refs, 1);
    pthread_mutex_init(&d->mu, NULL);
    if (p) atomic_fetch_add(&p->refs, 1);
    d->pipe = p;
    d->is_write = is_write;
    atomic_init(&d->can_transfer, 1);
    d->host_fd = -1;
    return d;
}

static void desc_unref(avm_desc *d) {
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        if (d->pipe) pipe_unref(d->pipe);
        pthread_mutex_destroy(&d->mu);
        free(d->buf);
        free(d);
    }
}

void avm_desc_unref(avm_desc *d) { desc_unref(d); }

/* An exec's output: keeps the first `keep` bytes written, counts the rest as
 * written (truncated), never blocks. */
avm_desc *avm_desc_new_capture(int64_t keep) {
    avm_desc *d = avm_desc_new(NULL, 1);
    if (!d) return NULL;
    d->capture = 1;
    d->keep = keep > 0 ? (size_t)keep : 0;
    return d;
}

/* Room for `n` more kept bytes (n <= keep - len): 0, or -ENOMEM. Under mu. */
static int capture_reserve(avm_desc *d, size_t n) {
    if (d->len + n <= d->alloc) return 0;
    size_t want = d->alloc ? d->alloc * 2 : 4096;
    if (want < d->len + n) want = d->len + n;
    if (want > d->keep) want = d->keep;
    uint8_t *buf = realloc(d->buf, want);
    if (!buf) return -ENOMEM;
    d->buf = buf;
    d->alloc = want;
    return 0;
}

/* Keep what fits of the `count` pieces (all or none of it): 0, or -ENOMEM. */
static int capture_put(avm_desc *d, const struct iovec *v, uint32_t count) {
    pthread_mutex_lock(&d->mu);
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) total += v[i].iov_len;
    size_t kept = total < d->keep - d->len ? (size_t)total : d->keep - d->len;
    int rc = capture_reserve(d, kept);
    if (rc == 0) {
        if (kept < total) d->truncated = 1;
        for (uint32_t i = 0; i < count && kept; i++) {
            size_t n = v[i].iov_len < kept ? v[i].iov_len : kept;
            memcpy(d->buf + d->len, v[i].iov_base, n);
            d->len += n;
            kept -= n;
        }
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

/* Python's writes to the capture: `n` bytes at `data`. n, or -ENOMEM. */
int64_t avm_desc_capture_write(avm_desc *d, const uint8_t *data, int64_t n) {
    struct iovec v = {(void *)data, (size_t)n};
    int rc = capture_put(d, &v, 1);
    return rc ? rc : n;
}

/* The bytes kept so far (copied to `dst` when `room` holds them all), and in
 * *truncated whether more was written. */
int64_t avm_desc_captured(avm_desc *d, uint8_t *dst, int64_t room, int *truncated) {
    pthread_mutex_lock(&d->mu);
    int64_t len = (int64_t)d->len;
    if (dst && room >= len && len) memcpy(dst, d->buf, d->len);
    *truncated = d->truncated;
    pthread_mutex_unlock(&d->mu);
    return len;
}

/* fdstat: the 24 bytes fd_fdstat_get answers, or NULL to forget them. */
void avm_desc_publish(avm_desc *d, const uint8_t *fdstat, int can_transfer) {
    pthread_mutex_lock(&d->mu);
    d->fdstat_valid = fdstat != NULL;
    if (fdstat) memcpy(d->fdstat, fdstat, AVM_FDSTAT_BYTES);
    pthread_mutex_unlock(&d->mu);
    atomic_store(&d->can_transfer, can_transfer);
}

/* From now on the description reads the host file open at fd (>= 0) from pos;
 * or (fd < 0) no longer: after this returns no native read uses the fd, which
 * Python may then close. Returns the position as it was. */
int64_t avm_desc_host_file(avm_desc *d, int fd, int64_t pos) {
    pthread_mutex_lock(&d->mu);
    int64_t was = d->pos;
    d->host_fd = fd < 0 ? -1 : fd;
    if (fd >= 0) d->pos = pos;
    pthread_mutex_unlock(&d->mu);
    return was;
}

/* preadv at the position, moving it on: bytes read, or -errno (-EBADF: no host file). */
static int64_t host_read(avm_desc *d, const struct iovec *v, int count) {
    pthread_mutex_lock(&d->mu);
    int64_t n = -EBADF;
    if (d->host_fd >= 0) {
        n = preadv(d->host_fd, v, count, d->pos);
        if (n < 0)
            n = -errno;
        else
            d->pos += n;
    }
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* Python's reads of a host file description (FileHandle.readinto). */
int64_t avm_desc_read(avm_desc *d, void *buf, int64_t len) {
    struct iovec v = {buf, (size_t)len};
    return len < 0 ? -EINVAL : host_read(d, &v, 1);
}

/* lseek on the position: whence 0 (set), 1 (cur) or 2 (end, `size` given); the
 * new position, or -EINVAL (negative, or no host file). */
int64_t avm_desc_seek(avm_desc *d, int64_t offset, int whence, int64_t size) {
    pthread_mutex_lock(&d->mu);
    int64_t base = whence == 1 ? d->pos : whence == 2 ? size : 0;
    int64_t pos = -EINVAL;
    if (d->host_fd >= 0 && whence >= 0 && whence <= 2 && !__builtin_add_overflow(base, offset, &pos) && pos >= 0)
        d->pos = pos;
    else
        pos = -EINVAL;
    pthread_mutex_unlock(&d->mu);
    return pos;
}

/* -- per-process fd mirror ------------------------------------------------------- */
typedef struct avm_memo avm_memo;
typedef struct avm_listing avm_listing;
#define AVM_LISTINGS 6 /* listed directories per process (tar nests them as deep as the tree) */

typedef struct {
    atomic_long refs;
    pthread_mutex_t mu;
    avm_desc *descs[AVM_MIRROR_FDS];
    atomic_ulong fd_gen; /* bumped by every change of the fd table (any fd) */
    avm_memo *memo;      /* the stat memo, made by its first fill (under mu) */
    avm_listing *listings[AVM_LISTINGS]; /* listed entries, each made by a first fill (under mu) */
    uint64_t listing_uses; /* the listings' LRU clock (under mu) */
    atomic_ulong served[F_COUNT]; /* calls of this process the native functions answered (tests read it) */
} avm_mirror;

avm_mirror *avm_mirror_new(void) {
    avm_mirror *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

static void mirror_unref(avm_mirror *m) {
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
    for (int i = 0; i < AVM_MIRROR_FDS; i++) desc_unref(m->descs[i]);
    free(m->memo);
    for (int i = 0; i < AVM_LISTINGS; i++) free(m->listings[i]);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void avm_mirror_unref(avm_mirror *m) { mirror_unref(m); }

/* fd now names `d` (NULL: nothing native). Fds beyond the mirror are not
 * mirrored, but every call (any fd) makes the stat memo's answers stale: a
 * memoized (dirfd, path) may have named another directory. */
void avm_mirror_set(avm_mirror *m, int64_t fd, avm_desc *d) {
    atomic_fetch_add(&m->fd_gen, 1);
    if (fd < 0 || fd >= AVM_MIRROR_FDS) return;
    if (d) atomic_fetch_add(&d->refs, 1);
    pthread_mutex_lock(&m->mu);
    avm_desc *old = m->descs[fd];
    m->descs[fd] = d;
    pthread_mutex_unlock(&m->mu);
    desc_unref(old);
}

static avm_desc *mirror_get(avm_mirror *m, uint32_t fd) {
    if (fd >= AVM_MIRROR_FDS) return NULL;
    pthread_mutex_lock(&m->mu);
    avm_desc *d = m->descs[fd];
    if (d) atomic_fetch_add(&d->refs, 1);
    pthread_mutex_unlock(&m->mu);
    return d;
}

/* -- the calling guest thread ---------------------------------------------------- */
/* A process's argv or environment as WASI hands it over: `count` NUL-terminated
 * entries, `size` bytes in all (Python owns the bytes for as long as they are
 * published: the image's life). */
typedef struct {
    const uint8_t *blob;
    uint32_t count, size;
} avm_strings;

typedef struct {
    avm_mirror *mirror;
    uint8_t *base;
    uint64_t len;
    uint32_t memo_hits; /* stat memo answers since this thread last went to Python */
    uint32_t preopens;  /* tagged preopen fds the process has: tag | (first + i), i < preopens */
    const void *counted; /* the mirror memo_hits counts for (compared, never used) */
    avm_strings args, env; /* published with the memory; cleared with the mirror */
    avm_strings plain;     /* a plain WASI program's preopens: records u32 fd, u32 name length, name */
} avm_thread;

static __thread avm_thread current;

/* Publish (or with mirror NULL, clear) this thread's process, linear memory and
 * number of tagged preopens. Another process starts its own run of memo answers:
 * it never inherits the count of the one before it on this thread (its first
 * Python fallback would come early, at a point that depends on what ran before). */
void avm_thread_set(avm_mirror *m, void *base, uint64_t len, uint32_t preopens) {
    if (m) atomic_fetch_add(&m->refs, 1);
    avm_mirror *old = current.mirror;
    current.mirror = m;
    current.base = m ? base : NULL;
    current.len = m ? len : 0;
    current.preopens = m ? preopens : 0;
    if (!m) current.args = current.env = current.plain = (avm_strings){0};
    if (m && m != current.counted) {
        current.memo_hits = 0;
        current.counted = m;
    }
    mirror_unref(old);
}

/* Publish this thread's process's argv and environment (each `count` entries,
 * NUL-terminated, `size` bytes; NULL: Python answers). They stay until the next
 * call or until avm_thread_set clears the thread. */
void avm_thread_strings(const uint8_t *args, uint32_t args_count, uint32_t args_size,
                        const uint8_t *env, uint32_t env_count, uint32_t env_size,
                        const uint8_t *preopens, uint32_t preopens_count, uint32_t preopens_size) {
    current.args = (avm_strings){args, args_count, args_size};
    current.env = (avm_strings){env, env_count, env_size};
    current.plain = (avm_strings){preopens, preopens_count, preopens_size};
}

/* The linear memory at `base` grew to `len` bytes (memory.grow runs on the
 * guest's own thread): when it is this thread's, the native host functions see
 * the new bytes at once. Else the first call naming them (a buffer the program
 * just allocated) would fall back to Python, which publishes the length again. */
void avm_thread_grown(void *base, uint64_t len) {
    if (current.mirror && current.base == base && len > current.len) current.len = len;
}

/* What fd_fdstat_get answers for every tagged preopen (the agentOS libc asks
 * before each open below one: 1,000 times per `tar cf`): published by Python
 * the first time it answers one, with the tag's layout. Set once, read without
 * a lock: `preopen_known` is stored last (release) and loaded first (acquire). */
static uint8_t preopen_fdstat[AVM_FDSTAT_BYTES];
static uint32_t preopen_tag, preopen_mask, preopen_first;
static atomic_int preopen_known;

void avm_preopen_publish(const uint8_t *fdstat, uint32_t tag, uint32_t mask, uint32_t first) {
    if (atomic_load_explicit(&preopen_known, memory_order_acquire)) return;
    memcpy(preopen_fdstat, fdstat, AVM_FDSTAT_BYTES);
    preopen_tag = tag;
    preopen_mask = mask;
    preopen_first = first;
    atomic_store_explicit(&preopen_known, 1, memory_order_release);
}

/* Whether `fd` is one of the calling process's tagged preopens (as
 * GuestContext.preopen_path decides). */
static int is_preopen(uint32_t fd) {
    if (!atomic_load_explicit(&preopen_known, memory_order_acquire) || !(fd & preopen_tag)) return 0;
    uint32_t low = fd & preopen_mask;
    return low >= preopen_first && low - preopen_first < current.preopens;
}

static inline int in_bounds(uint64_t ptr, uint64_t size) {
    return ptr <= current.len && size <= current.len - ptr;
}

static inline uint32_t load32(uint64_t ptr) {
    uint32_t v;
    memcpy(&v, current.base + ptr, 4);
    return v;
}

static inline void store32(uint64_t ptr, uint32_t v) { memcpy(current.base + ptr, &v, 4); }

typedef struct {
    uint32_t ptr, len;
} iovec32;

/* Copies the iovec array out of guest memory and checks every range; the total
 * in *total. 0 when anything is outside the published memory (or too many). */
static int load_iovecs(uint32_t iovs, uint32_t count, iovec32 *out, uint64_t *total) {
    if (count > AVM_IOV_MAX || !in_bounds(iovs, (uint64_t)count * 8)) return 0;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        out[i].ptr = load32((uint64_t)iovs + 8 * (uint64_t)i);
        out[i].len = load32((uint64_t)iovs + 8 * (uint64_t)i + 4);
        if (!in_bounds(out[i].ptr, out[i].len)) return 0;
        sum += out[i].len;
    }
    *total = sum;
    return 1;
}

static void *fallback(int which, void *env, void *caller, avm_raw *args, size_t nargs) {
    atomic_fetch_add_explicit(&fallback_calls[which], 1, memory_order_relaxed);
    return ((avm_callback)env)(NULL, caller, args, nargs);
}

/* A call native function `which` answered itself: counted sidecar-wide and per process. */
static void served(int which) {
    atomic_fetch_add_explicit(&native_calls[which], 1, memory_order_relaxed);
    if (current.mirror) atomic_fetch_add_explicit(&current.mirror->served[which], 1, memory_order_relaxed);
}

/* How many calls of the process `m` native function `which` answered itself. */
uint64_t avm_mirror_served(avm_mirror *m, int which) {
    return which >= 0 && which < F_COUNT ? atomic_load(&m->served[which]) : 0;
}

static void *done(int which, avm_raw *args, int32_t result) {
    served(which);
    args[0].i32 = result;
    return NULL;
}

/* For fd_write/fd_read(fd, iovs, iovs_len, *ret): the mirrored pipe end of fd that
 * may move bytes in that direction (for fd_read, or any description), with a reference, its iovecs loaded and checked
 * into iov/count/total and the result pointer checked; NULL: take the Python path. */
static avm_desc *transfer_end(avm_raw *args, size_t nargs, int is_write, iovec32 *iov,
                              uint32_t *count, uint64_t *total) {
    if (nargs < 4 || !current.mirror) return NULL;
    uint32_t fd = (uint32_t)args[0].i32, iovs = (uint32_t)args[1].i32;
    *count = (uint32_t)args[2].i32;
    if (!in_bounds((uint32_t)args[3].i32, 4) || !load_iovecs(iovs, *count, iov, total)) return NULL;
    avm_desc *e = mirror_get(current.mirror, fd);
    /* a pipe end that moves bytes this way, an exec's output for a write, or for
     * a read any other description (avm_fd_read reads it when it is a host file) */
    if (e && (!atomic_load(&e->can_transfer) ||
              (e->pipe ? !e->is_write != !is_write : e->capture ? !is_write : is_write))) {
        desc_unref(e);
        return NULL;
    }
    return e;
}

/* wasi fd_write(fd, iovs, iovs_len, *nwritten): all of it into a pipe with room. */
void *avm_fd_write(void *env, void *caller, avm_raw *args, size_t nargs) {
    iovec32 iov[AVM_IOV_MAX];
    uint32_t count;
    uint64_t total;
    avm_desc *e = transfer_end(args, nargs, 1, iov, &count, &total);
    if (!e) return fallback(F_WRITE, env, caller, args, nargs);
    uint32_t ret = (uint32_t)args[3].i32;
    if (e->capture) {
        struct iovec v[AVM_IOV_MAX];
        for (uint32_t i = 0; i < count; i++) v[i] = (struct iovec){current.base + iov[i].ptr, iov[i].len};
        int rc = capture_put(e, v, count);
        desc_unref(e);
        if (rc) return fallback(F_WRITE, env, caller, args, nargs);
        store32(ret, (uint32_t)total);
        return done(F_WRITE, args, 0);
    }
    avm_pipe *p = e->pipe;
    pthread_mutex_lock(&p->mu);
    int ok = p->readers > 0 && !p->watched && total <= base_room(p) &&
             (total == 0 || reserve(p, p->len + total));
    if (ok && total) {
        int was_empty = p->len == 0;
        for (uint32_t i = 0; i < count; i++)
            if (iov[i].len) put(p, current.base + iov[i].ptr, iov[i].len);
        if (was_empty) pthread_cond_broadcast(&p->readable);
    }
    pthread_mutex_unlock(&p->mu);
    desc_unref(e);
    if (!ok) return fallback(F_WRITE, env, caller, args, nargs);
    store32(ret, (uint32_t)total);
    return done(F_WRITE, args, 0);
}

/* wasi fd_read(fd, iovs, iovs_len, *nread): what is buffered, or end of file. */
/* avm_fd_read of a description that is no pipe end: a host file's bytes at its
 * position, when it is one (else Python decides). Drops the reference. */
static void *read_host_file(avm_desc *e, const iovec32 *iov, uint32_t count, uint64_t total, uint32_t ret,
                            void *env, void *caller, avm_raw *args, size_t nargs) {
    int64_t n = -EBADF;
    if (total <= AVM_MAX_READ) {
        struct iovec v[AVM_IOV_MAX];
        for (uint32_t i = 0; i < count; i++) v[i] = (struct iovec){current.base + iov[i].ptr, iov[i].len};
        n = host_read(e, v, (int)count);
    }
    desc_unref(e);
    if (n < 0) return fallback(F_READ, env, caller, args, nargs); /* no host file, a longer read, an error */
    store32(ret, (uint32_t)n);
    return done(F_READ, args, 0);
}

void *avm_fd_read(void *env, void *caller, avm_raw *args, size_t nargs) {
    iovec32 iov[AVM_IOV_MAX];
    uint32_t count;
    uint64_t total;
    avm_desc *e = transfer_end(args, nargs, 0, iov, &count, &total);
    if (!e) return fallback(F_READ, env, caller, args, nargs);
    uint32_t ret = (uint32_t)args[3].i32;
    if (!e->pipe) return read_host_file(e, iov, count, total, ret, env, caller, args, nargs);
    avm_pipe *p = e->pipe;
    uint64_t n = 0;
    pthread_mutex_lock(&p->mu);
    int ok = !p->watched && (p->len > 0 || p->writers == 0 || total == 0);
    if (ok && total && p->len) {
        n = total < p->len ? total : p->len;
        if (n > AVM_MAX_READ) n = AVM_MAX_READ;
        uint64_t left = n;
        for (uint32_t i = 0; i < count && left; i++) {
            uint64_t chunk = iov[i].len < left ? iov[i].len : left;
            get(p, current.base + iov[i].ptr, chunk);
            left -= chunk;
        }
        after_read(p);
    }
    pthread_mutex_unlock(&p->mu);
    desc_unref(e);
    if (!ok) return fallback(F_READ, env, caller, args, nargs);
    store32(ret, (uint32_t)n);
    return done(F_READ, args, 0);
}

/* wasi fd_fdstat_get(fd, *fdstat): the answer Python last published for the end. */
void *avm_fd_fdstat_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    if (nargs < 2 || !current.mirror) return fallback(F_FDSTAT, env, caller, args, nargs);
    uint32_t fd = (uint32_t)args[0].i32, ret = (uint32_t)args[1].i32;
    if (!in_bounds(ret, AVM_FDSTAT_BYTES)) return fallback(F_FDSTAT, env, caller, args, nargs);
    if (is_preopen(fd)) {
        memcpy(current.base + ret, preopen_fdstat, AVM_FDSTAT_BYTES);
        return done(F_FDSTAT, args, 0);
    }
    avm_desc *e = mirror_get(current.mirror, fd);
    if (!e) return fallback(F_FDSTAT, env, caller, args, nargs);
    pthread_mutex_lock(&e->mu);
    int ok = e->fdstat_valid;
    if (ok) memcpy(current.base + ret, e->fdstat, AVM_FDSTAT_BYTES);
    pthread_mutex_unlock(&e->mu);
    desc_unref(e);
    if (!ok) return fallback(F_FDSTAT, env, caller, args, nargs);
    return done(F_FDSTAT, args, 0);
}

/* wasi args_sizes_get / environ_sizes_get(*count, *size). */
static void *strings_sizes(int which, const avm_strings *s, void *env, void *caller, avm_raw *args, size_t nargs) {
    if (nargs < 2 || !current.mirror || !s->blob) return fallback(which, env, caller, args, nargs);
    uint32_t count = (uint32_t)args[0].i32, size = (uint32_t)args[1].i32;
    if (!in_bounds(count, 4) || !in_bounds(size, 4)) return fallback(which, env, caller, args, nargs);
    store32(count, s->count);
    store32(size, s->size);
    return done(which, args, 0);
}

/* wasi args_get / environ_get(*pointers, *buffer): the entries into the buffer,
 * and a pointer to each into the array. */
static void *strings_get(int which, const avm_strings *s, void *env, void *caller, avm_raw *args, size_t nargs) {
    if (nargs < 2 || !current.mirror || !s->blob) return fallback(which, env, caller, args, nargs);
    uint32_t array = (uint32_t)args[0].i32, buffer = (uint32_t)args[1].i32;
    if (!in_bounds(array, 4 * (uint64_t)s->count) || !in_bounds(buffer, s->size))
        return fallback(which, env, caller, args, nargs);
    memcpy(current.base + buffer, s->blob, s->size);
    uint32_t at = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        store32((uint64_t)array + 4 * (uint64_t)i, buffer + at);
        at += (uint32_t)strlen((const char *)s->blob + at) + 1;
    }
    return done(which, args, 0);
}

/* The name of plain preopen `fd` (its length in *len), or NULL: not one, or
 * nothing published. */
static const uint8_t *plain_preopen(uint32_t fd, uint32_t *len) {
    const uint8_t *at = current.plain.blob;
    if (!at) return NULL;
    const uint8_t *end = at + current.plain.size;
    while (end - at >= 8) {
        uint32_t f, n;
        memcpy(&f, at, 4);
        memcpy(&n, at + 4, 4);
        if ((uint64_t)(end - at - 8) < n) return NULL;
        if (f == fd) {
            *len = n;
            return at + 8;
        }
        at += 8 + n;
    }
    return NULL;
}

/* wasi fd_prestat_get(fd, *prestat) for a plain preopen: tag 0 (dir), its name's
 * length. Anything else (other fds: EBADF or not-a-preopen) is Python's. */
void *avm_fd_prestat_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    uint32_t len;
    if (nargs < 2 || !current.mirror || !plain_preopen((uint32_t)args[0].i32, &len) || !in_bounds((uint32_t)args[1].i32, 8))
        return fallback(F_PRESTAT, env, caller, args, nargs);
    uint8_t prestat[8] = {0};
    memcpy(prestat + 4, &len, 4);
    memcpy(current.base + (uint32_t)args[1].i32, prestat, 8);
    return done(F_PRESTAT, args, 0);
}

/* wasi fd_prestat_dir_name(fd, *path, path_len) for a plain preopen. */
void *avm_fd_prestat_dir_name(void *env, void *caller, avm_raw *args, size_t nargs) {
    uint32_t len;
    const uint8_t *name = nargs >= 3 && current.mirror ? plain_preopen((uint32_t)args[0].i32, &len) : NULL;
    uint32_t path = (uint32_t)args[1].i32, path_len = (uint32_t)args[2].i32;
    if (!name || !in_bounds(path, path_len) || path_len < len)
        return fallback(F_PRESTAT_NAME, env, caller, args, nargs);
    memcpy(current.base + path, name, len);
    return done(F_PRESTAT_NAME, args, 0);
}

void *avm_args_sizes_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    return strings_sizes(F_ARGS_SIZES, &current.args, env, caller, args, nargs);
}

void *avm_args_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    return strings_get(F_ARGS, &current.args, env, caller, args, nargs);
}

void *avm_environ_sizes_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    return strings_sizes(F_ENV_SIZES, &current.env, env, caller, args, nargs);
}

void *avm_environ_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    return strings_get(F_ENV, &current.env, env, caller, args, nargs);
}

/* host_net net_send / net_recv(fd, ...): the agentOS libc asks before every
 * write()/read() and falls back to fd_write/fd_read on EBADF; sockets are never
 * mirrored, so a mirrored fd answers EBADF here, as wasm/host/net.py does. */
static void *not_a_socket(int which, void *env, void *caller, avm_raw *args, size_t nargs) {
    if (nargs < 5 || !current.mirror) return fallback(which, env, caller, args, nargs);
    avm_desc *e = mirror_get(current.mirror, (uint32_t)args[0].i32);
    if (!e) return fallback(which, env, caller, args, nargs);
    desc_unref(e);
    return done(which, args, WASI_EBADF);
}

void *avm_net_send(void *env, void *caller, avm_raw *args, size_t nargs) {
    return not_a_socket(F_SEND, env, caller, args, nargs);
}

void *avm_net_recv(void *env, void *caller, avm_raw *args, size_t nargs) {
    return not_a_socket(F_RECV, env, caller, args, nargs);
}

/* -- the stat memo: recent successful stats of this process, answered in C -----
 *
 * `ls -R` asks four times about every entry (path_filestat_get, host_fs path_mode
 * twice, path_size) and tar five; each is a Python host call of 5-18 us even when
 * the attribute cache answers it. Python (wasm/stat_memo.py) fills an entry after
 * a stat that the host_dir attribute cache answered, keyed by what the guest
 * passed: (dirfd, path bytes, follow) and which call forms it answers (`kinds`:
 * the WASI path_filestat_get base and the host_fs base may differ for the same
 * fd). An entry answers only while all of these hold, else Python decides:
 *  - the sidecar-wide stat epoch is the one Python read before that stat
 *    (avm_stat_changed: any change through the sidecar that could change a stat
 *    answer), and the process has not forgotten its answers since
 *    (avm_memo_forget: its cwd, its cred, its own attribute cache changed);
 *  - the fd table is unchanged (fd_gen, bumped by every avm_mirror_set). A new
 *    program (exec) has the same fd table but other preopens: they follow the
 *    cwd, and exec bumps the epoch when it sets the cwd;
 *  - CLOCK_MONOTONIC is before the deadline of the attribute-cache entries the
 *    answer came from (so a change made on the host is seen no later than now);
 *  - for an answer from a memory filesystem, that filesystem's change count is
 *    the one Python read before the stat (avm_fs_changes below).
 * Errors are never filled. Direct-mapped, AVM_MEMO_SLOTS per process, paths up
 * to AVM_MEMO_PATH bytes; charged to the VM with the attribute cache. */
#define AVM_MEMO_SLOTS 32
#define AVM_MEMO_PATH 160
/* memo answers in a row before one goes to Python: ~0.15 ms of them (0.3 us
 * each), far below the scheduler's slice; at 64, ls -R sent a quarter of its
 * memoized stats' worth of time back through Python (1 in 16 entries) */
#define AVM_MEMO_RUN 512
#define AVM_FILESTAT_BYTES 64
enum { MEMO_WASI = 1, MEMO_HOSTFS = 2 };

typedef struct {
    uint64_t epoch, fd_gen; /* epoch 0: empty (the epoch starts at 1) */
    uint64_t fs_count;      /* with fs: see fs_unchanged */
    int64_t deadline_ns;
    uint32_t fs, fd, mode;
    int64_t size;
    uint16_t path_len;
    uint8_t follow, kinds;
    uint8_t filestat[AVM_FILESTAT_BYTES];
    uint8_t path[AVM_MEMO_PATH];
} memo_entry;

struct avm_memo {
    memo_entry slots[AVM_MEMO_SLOTS];
};

/* Exported so Python reads it without a call (an aligned 8-byte load); only
 * avm_stat_changed writes it. */
atomic_ulong avm_stat_epoch_now = 1;
#define stat_epoch avm_stat_epoch_now

/* Something a stat answer depends on changed: every memoized answer is stale. */
void avm_stat_changed(void) { atomic_fetch_add(&stat_epoch, 1); }

/* A memory filesystem's writes, truncations and access times change its files'
 * stats with no name changing. Bumping the stat epoch for each would drop every
 * process's answers, host_dir ones too, at every write to /tmp. So each memory
 * filesystem counts its own changes in one of these counters (Python's
 * kernel/memfs.py picks it; filesystems may share one: a needless miss, never a
 * stale answer), and an answer taken from it holds while that count is the one
 * Python read before the answer's stat. Exported for Python to read without a
 * call; only avm_fs_changed writes it. */
#define AVM_FS_COUNTERS 1024
#define AVM_NO_FS 0xFFFFFFFFu /* an answer no counter covers (host_dir: the epoch and the deadline do) */
atomic_ulong avm_fs_changes[AVM_FS_COUNTERS];

int avm_fs_counters(void) { return AVM_FS_COUNTERS; }

void avm_fs_changed(uint32_t fs) { atomic_fetch_add(&avm_fs_changes[fs % AVM_FS_COUNTERS], 1); }

static int fs_unchanged(uint32_t fs, uint64_t count) {
    return fs == AVM_NO_FS || atomic_load(&avm_fs_changes[fs % AVM_FS_COUNTERS]) == count;
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* "./x" names what "x" names from the same directory (walks key on it too,
 * vfs_core._walk_remembered): ls asks path_filestat_get about "dir/x" and
 * host_fs path_mode about "./dir/x". A "./" is dropped only when what follows is
 * a non-empty relative path ("./" alone and ".//x" stay as they are). */
static void strip_dot_slash(const uint8_t **path, uint32_t *len) {
    while (*len > 2 && (*path)[0] == '.' && (*path)[1] == '/' && (*path)[2] != '/') {
        *path += 2;
        *len -= 2;
    }
}

static uint32_t memo_slot(uint32_t fd, int follow, const uint8_t *path, uint32_t len) {
    uint32_t h = 2166136261u ^ fd ^ ((uint32_t)follow << 31); /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) h = (h ^ path[i]) * 16777619u;
    return h % AVM_MEMO_SLOTS;
}

/* -- listed entries: a listing's stats, for the stats that follow it ------------
 *
 * ls -R and tar list a directory they opened as "dir" (from the cwd), then stat
 * every entry as "dir/name" from the same fd: a first stat of each name, which
 * the memo above cannot answer. A host_dir listing already put every entry's
 * lstat in the process's attribute cache, from the records avm_list_dir wrote;
 * Python (wasm/stat_memo.py _fill) hands C those records, once it checked that a
 * stat of "dir/name" would answer from that cache (a memory filesystem's listing:
 * records Python packs the same way from its nodes), and C packs each name's
 * answer from its record as Python would (avm_listing_fill). It answers under
 * the memo's rules (stat epoch, deadline, call forms, a memory filesystem's
 * change count; the fd table too
 * unless fd is a tagged preopen, which no fd table change can rename), for
 * paths "dir/name" exactly ("./" prefixes dropped; a listing of "." answers bare
 * names), lstat always and stat for entries that are not symlinks. */
#define AVM_LISTED_MAX 128    /* entries of one listing; names past it take the Python path */
#define AVM_LISTED_NAMES 2048 /* name bytes of one listing, as well */
#define AVM_LISTED_INDEX 256  /* open addressing, a power of two above 2 * AVM_LISTED_MAX */

typedef struct {
    uint32_t mode;
    uint16_t name_off;
    uint8_t name_len, follow_ok;
    int64_t size;
    uint8_t filestat[AVM_FILESTAT_BYTES];
} listed_entry;

struct avm_listing {
    uint64_t epoch, fd_gen, used; /* epoch 0: empty */
    uint64_t fs_count;
    int64_t deadline_ns;
    uint32_t fs, fd;
    uint8_t kinds, any_fd_gen; /* any_fd_gen: a tagged preopen's listing ignores fd_gen */
    uint16_t prefix_len, count, names_len;
    uint8_t prefix[AVM_MEMO_PATH];
    uint16_t index[AVM_LISTED_INDEX]; /* entry number + 1; 0: free */
    listed_entry entries[AVM_LISTED_MAX];
    uint8_t names[AVM_LISTED_NAMES];
};

/* The most a process's memo and listings hold (charged with the attribute cache). */
int avm_memo_bytes(void) { return (int)(sizeof(avm_memo) + AVM_LISTINGS * sizeof(avm_listing)); }

static uint32_t name_hash(const uint8_t *name, uint32_t len) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++) h = (h ^ name[i]) * 16777619u;
    return h;
}

/* The entry named `name` (no '/') of listing l, or NULL. */
static listed_entry *listed_find(avm_listing *l, const uint8_t *name, uint32_t len) {
    for (uint32_t i = name_hash(name, len);; i++) {
        uint16_t n = l->index[i & (AVM_LISTED_INDEX - 1)];
        if (!n) return NULL;
        listed_entry *e = &l->entries[n - 1];
        if (e->name_len == len && memcmp(l->names + e->name_off, name, len) == 0) return e;
    }
}

/* memo_lookup's second chance, under m->mu: path (without "./") is the prefix of
 * a live listing from fd, a '/', and one of its names. */
static int listed_lookup(avm_mirror *m, uint32_t fd, int follow, int kind, const uint8_t *path, uint32_t len,
                         memo_entry *out) {
    uint64_t epoch = atomic_load(&stat_epoch), fd_gen = atomic_load(&m->fd_gen);
    for (int i = 0; i < AVM_LISTINGS; i++) {
        avm_listing *l = m->listings[i];
        if (!l || l->epoch != epoch || l->fd != fd || !(l->kinds & kind) || (!l->any_fd_gen && l->fd_gen != fd_gen) ||
            !fs_unchanged(l->fs, l->fs_count))
            continue;
        const uint8_t *name = path;
        uint32_t name_len = len;
        if (l->prefix_len) {
            if (len <= (uint32_t)l->prefix_len + 1 || path[l->prefix_len] != '/' ||
                memcmp(path, l->prefix, l->prefix_len) != 0)
                continue;
            name += l->prefix_len + 1;
            name_len -= l->prefix_len + 1;
        }
        if (name_len > 255 || memchr(name, '/', name_len)) continue;
        listed_entry *e = listed_find(l, name, name_len);
        if (!e || (follow && !e->follow_ok) || now_ns() >= l->deadline_ns) return 0;
        l->used = ++m->listing_uses;
        out->mode = e->mode;
        out->size = e->size;
        memcpy(out->filestat, e->filestat, AVM_FILESTAT_BYTES);
        return 1;
    }
    return 0;
}

/* What Python passes to avm_listing_fill (native/__init__.py _LISTING,
 * little-endian, no padding): this header, the prefix, the 16-byte tables
 * `filetypes` and `sizeless` (by S_IFMT >> 12: the WASI filetype, whether
 * path_size answers -1), the names a mount covers (each a length byte and the
 * name), then the listing's records as avm_list_dir wrote them. The lstat'd ones
 * (`stated` 2: what the attribute cache keeps) are the answers. */
typedef struct __attribute__((packed)) {
    uint64_t epoch;      /* the stat epoch read before the listing */
    int64_t deadline_ns; /* CLOCK_MONOTONIC */
    uint64_t dev;        /* the filesystem's st_dev, as Python's stats say it */
    uint32_t fd, records_len;
    uint8_t kinds, any_fd_gen;
    uint16_t prefix_len, covered;
    uint32_t fs;         /* a memory filesystem's counter, and its count read before the listing */
    uint64_t fs_count;
} listing_rec;

int avm_listing_rec_bytes(void) { return (int)sizeof(listing_rec); }

/* The 64-byte WASI filestat of a listed lstat (wasi/layouts.py pack_filestat):
 * eight little-endian u64s, the filetype one being its u8 and 7 bytes of padding. */
static void listed_filestat(uint8_t *out, const listed_dirent *r, uint64_t dev, uint8_t filetype) {
    uint64_t f[8] = {dev, r->ino, filetype, r->nlink, (uint64_t)r->size,
                     (uint64_t)r->atime_ns, (uint64_t)r->mtime_ns, (uint64_t)r->ctime_ns};
    memcpy(out, f, sizeof f);
}

/* Whether `name` is one of the `count` covered names at `covered` (length-prefixed). */
static int is_covered(const uint8_t *covered, uint32_t count, const uint8_t *name, uint32_t len) {
    for (uint32_t i = 0; i < count; i++, covered += 1 + covered[0])
        if (covered[0] == len && memcmp(covered + 1, name, len) == 0) return 1;
    return 0;
}

/* Whether listing l is of a directory above (fd, prefix): "." is above every
 * relative path from its fd, "a" above "a/b". */
static int listing_above(const avm_listing *l, uint32_t fd, const uint8_t *prefix, uint32_t prefix_len) {
    return l->fd == fd && l->prefix_len < prefix_len &&
           (l->prefix_len == 0 || (prefix[l->prefix_len] == '/' && memcmp(l->prefix, prefix, l->prefix_len) == 0));
}

/* The slot a listing of (fd, prefix) goes to: its own, a free one, else the least
 * recently used of those not above it. ls -R stats a directory's entries only as
 * it comes back to each from the subtree before it, so a walk deeper than the
 * slots evicted "." under plain LRU (a third of `ls -R`'s Python stats); the
 * listings above the new one are the walk's way back. */
static avm_listing **listing_slot(avm_mirror *m, uint32_t fd, const uint8_t *prefix, uint32_t prefix_len) {
    avm_listing **free_slot = NULL, **victim = NULL, **oldest = NULL;
    for (int i = 0; i < AVM_LISTINGS; i++) {
        avm_listing *l = m->listings[i];
        if (!l) {
            if (!free_slot) free_slot = &m->listings[i];
            continue;
        }
        if (l->fd == fd && l->prefix_len == prefix_len && memcmp(l->prefix, prefix, prefix_len) == 0)
            return &m->listings[i];
        if (!oldest || l->used < (*oldest)->used) oldest = &m->listings[i];
        if (!listing_above(l, fd, prefix, prefix_len) && (!victim || l->used < (*victim)->used))
            victim = &m->listings[i];
    }
    return free_slot ? free_slot : victim ? victim : oldest;
}

/* Remember a listing's answers (buf: `size` bytes as described above); the number
 * of names kept, -1 when the record is malformed or there is no memory. */
int avm_listing_fill(const uint8_t *buf, int64_t size) {
    avm_mirror *m = current.mirror;
    listing_rec h;
    if (!m || size < (int64_t)sizeof h) return -1;
    memcpy(&h, buf, sizeof h);
    const uint8_t *prefix = buf + sizeof h, *end = buf + size;
    uint32_t prefix_len = h.prefix_len;
    if ((uint64_t)(end - prefix) < (uint64_t)prefix_len + 32) return -1;
    const uint8_t *filetypes = prefix + prefix_len, *sizeless = filetypes + 16, *covered = filetypes + 32;
    const uint8_t *rec = covered;
    for (uint32_t i = 0; i < h.covered; i++) {
        if (rec >= end || (uint64_t)(end - rec) < 1u + rec[0]) return -1;
        rec += 1 + rec[0];
    }
    if ((uint64_t)(end - rec) != h.records_len) return -1;
    strip_dot_slash(&prefix, &prefix_len);
    if (prefix_len == 1 && prefix[0] == '.') prefix_len = 0; /* a listing of "." names its entries bare */
    while (prefix_len > 1 && prefix[prefix_len - 1] == '/') prefix_len--;
    if (prefix_len > AVM_MEMO_PATH || (prefix_len == 1 && prefix[0] == '/')) return -1;
    pthread_mutex_lock(&m->mu);
    avm_listing **slot = listing_slot(m, h.fd, prefix, prefix_len);
    if (!*slot) *slot = malloc(sizeof **slot);
    avm_listing *l = *slot;
    int kept = -1;
    if (l) {
        memset(l->index, 0, sizeof l->index);
        l->epoch = h.epoch;
        l->fd_gen = atomic_load(&m->fd_gen);
        l->used = ++m->listing_uses;
        l->deadline_ns = h.deadline_ns;
        l->fs = h.fs;
        l->fs_count = h.fs_count;
        l->fd = h.fd;
        l->kinds = h.kinds;
        l->any_fd_gen = h.any_fd_gen;
        l->prefix_len = (uint16_t)prefix_len;
        memcpy(l->prefix, prefix, prefix_len);
        l->count = l->names_len = 0;
        listed_dirent r;
        const uint8_t *name;
        while (next_record(&rec, end, &r, &name) == 1) {
            if (r.stated != 2 || l->count == AVM_LISTED_MAX || r.name_len > AVM_LISTED_NAMES - l->names_len ||
                !r.name_len || r.name_len > 255 || memchr(name, '/', r.name_len) ||
                is_covered(covered, h.covered, name, r.name_len) || listed_find(l, name, r.name_len))
                continue;
            listed_entry *e = &l->entries[l->count];
            uint32_t type = (r.mode >> 12) & 15;
            e->mode = r.mode;
            e->size = sizeless[type] ? -1 : r.size;
            e->follow_ok = (r.mode & S_IFMT) != S_IFLNK;
            e->name_off = l->names_len;
            e->name_len = (uint8_t)r.name_len;
            listed_filestat(e->filestat, &r, h.dev, filetypes[type]);
            memcpy(l->names + l->names_len, name, r.name_len);
            l->names_len += r.name_len;
            uint32_t j = name_hash(name, r.name_len);
            while (l->index[j & (AVM_LISTED_INDEX - 1)]) j++;
            l->index[j & (AVM_LISTED_INDEX - 1)] = ++l->count;
        }
        kept = l->count;
    }
    pthread_mutex_unlock(&m->mu);
    return kept;
}

/* The memoized answer for (fd, path in guest memory, follow) in call form `kind`
 * into *out; 0: none (take the Python path). */
static int memo_lookup(uint32_t fd, int follow, int kind, uint32_t path_ptr, uint32_t path_len, memo_entry *out) {
    avm_mirror *m = current.mirror;
    if (!m || path_len == 0 || !in_bounds(path_ptr, path_len)) return 0;
    /* Every AVM_MEMO_RUN-th ask goes to Python anyway: a host call's return is
     * where the guest thread reaches a safe point (kills, signals, its run slot:
     * wasm/scheduler.py lends the slot of a holder that shows no progress), and a
     * guest looping on one stat would otherwise never reach one. */
    if (++current.memo_hits >= AVM_MEMO_RUN) {
        current.memo_hits = 0;
        return 0;
    }
    const uint8_t *path = current.base + path_ptr;
    strip_dot_slash(&path, &path_len);
    if (path_len > AVM_MEMO_PATH) return 0;
    uint32_t slot = memo_slot(fd, follow, path, path_len);
    int hit = 0;
    pthread_mutex_lock(&m->mu);
    memo_entry *e = m->memo ? &m->memo->slots[slot] : NULL;
    if (e && e->epoch == atomic_load(&stat_epoch) && e->fd_gen == atomic_load(&m->fd_gen) &&
        (e->kinds & kind) && e->fd == fd && e->follow == follow && e->path_len == path_len &&
        memcmp(e->path, path, path_len) == 0 && now_ns() < e->deadline_ns && fs_unchanged(e->fs, e->fs_count)) {
        *out = *e;
        hit = 1;
    }
    if (!hit) hit = listed_lookup(m, fd, follow, kind, path, path_len, out);
    pthread_mutex_unlock(&m->mu);
    return hit;
}

/* What the calling thread's process's memoized answers rest on changed for it
 * alone (its cwd, its cred, an entry of its own attribute cache): forget them,
 * and leave every other process's. With no process published, everyone's. */
void avm_memo_forget(void) {
    avm_mirror *m = current.mirror;
    if (!m) {
        atomic_fetch_add(&stat_epoch, 1);
        return;
    }
    pthread_mutex_lock(&m->mu);
    if (m->memo)
        for (int i = 0; i < AVM_MEMO_SLOTS; i++) m->memo->slots[i].epoch = 0;
    for (int i = 0; i < AVM_LISTINGS; i++)
        if (m->listings[i]) m->listings[i]->epoch = 0;
    pthread_mutex_unlock(&m->mu);
}

/* What Python passes to avm_memo_fill, packed in one buffer (one ctypes
 * argument instead of ten: stat_memo.py's _FILL, little-endian, no padding). */
typedef struct __attribute__((packed)) {
    uint64_t epoch;      /* the stat epoch read before the stat */
    int64_t deadline_ns; /* CLOCK_MONOTONIC */
    uint32_t fd, path_ptr, path_len, mode;
    int64_t size;
    uint8_t follow, kinds, pad[2];
    uint32_t fs;         /* a memory filesystem's counter, and its count read before the stat */
    uint64_t fs_count;
    uint8_t filestat[AVM_FILESTAT_BYTES];
} memo_fill_rec;

int avm_memo_fill_bytes(void) { return (int)sizeof(memo_fill_rec); }

/* Remember a successful stat of (fd, the path at path_ptr in this thread's
 * guest memory, follow); 0 when not kept (no memory published, path too long). */
int avm_memo_fill(const memo_fill_rec *r) {
    avm_mirror *m = current.mirror;
    uint32_t path_len = r->path_len;
    if (!m || path_len == 0 || !in_bounds(r->path_ptr, path_len)) return 0;
    const uint8_t *path = current.base + r->path_ptr;
    strip_dot_slash(&path, &path_len);
    if (path_len > AVM_MEMO_PATH) return 0;
    int follow = r->follow != 0;
    pthread_mutex_lock(&m->mu);
    if (!m->memo) m->memo = calloc(1, sizeof *m->memo);
    if (m->memo) {
        memo_entry *e = &m->memo->slots[memo_slot(r->fd, follow, path, path_len)];
        e->epoch = r->epoch;
        e->fd_gen = atomic_load(&m->fd_gen);
        e->deadline_ns = r->deadline_ns;
        e->fs = r->fs;
        e->fs_count = r->fs_count;
        e->fd = r->fd;
        e->mode = r->mode;
        e->size = r->size;
        e->path_len = (uint16_t)path_len;
        e->follow = (uint8_t)follow;
        e->kinds = r->kinds;
        memcpy(e->filestat, r->filestat, AVM_FILESTAT_BYTES);
        memcpy(e->path, path, path_len);
    }
    int kept = m->memo != NULL;
    pthread_mutex_unlock(&m->mu);
    return kept;
}

/* wasi path_filestat_get(dirfd, lookupflags, path, path_len, *filestat) */
void *avm_path_filestat_get(void *env, void *caller, avm_raw *args, size_t nargs) {
    memo_entry e;
    if (nargs < 5 || !current.mirror || !in_bounds((uint32_t)args[4].i32, AVM_FILESTAT_BYTES) ||
        !memo_lookup((uint32_t)args[0].i32, args[1].i32 & 1, MEMO_WASI, (uint32_t)args[2].i32,
                     (uint32_t)args[3].i32, &e))
        return fallback(F_FILESTAT, env, caller, args, nargs);
    memcpy(current.base + (uint32_t)args[4].i32, e.filestat, AVM_FILESTAT_BYTES);
    return done(F_FILESTAT, args, 0);
}

/* host_fs path_mode(fd, path, path_len, follow) -> st_mode */
void *avm_path_mode(void *env, void *caller, avm_raw *args, size_t nargs) {
    memo_entry e;
    if (nargs < 4 || !memo_lookup((uint32_t)args[0].i32, args[3].i32 != 0, MEMO_HOSTFS, (uint32_t)args[1].i32,
                                  (uint32_t)args[2].i32, &e))
        return fallback(F_MODE, env, caller, args, nargs);
    return done(F_MODE, args, (int32_t)e.mode);
}

/* host_fs path_mode(path, path_len, follow), the older form: relative to the cwd,
 * which is fd 0xFFFFFFFF of the 4-argument form (wasm/host/fs.py). */
void *avm_path_mode_cwd(void *env, void *caller, avm_raw *args, size_t nargs) {
    memo_entry e;
    if (nargs < 3 || !memo_lookup(0xFFFFFFFFu, args[2].i32 != 0, MEMO_HOSTFS, (uint32_t)args[0].i32,
                                  (uint32_t)args[1].i32, &e))
        return fallback(F_MODE_CWD, env, caller, args, nargs);
    return done(F_MODE_CWD, args, (int32_t)e.mode);
}

/* host_fs path_size(fd, path, path_len, follow) -> i64 size */
void *avm_path_size(void *env, void *caller, avm_raw *args, size_t nargs) {
    memo_entry e;
    if (nargs < 4 || !memo_lookup((uint32_t)args[0].i32, args[3].i32 != 0, MEMO_HOSTFS, (uint32_t)args[1].i32,
                                  (uint32_t)args[2].i32, &e))
        return fallback(F_SIZE, env, caller, args, nargs);
    served(F_SIZE);
    args[0].i64 = e.size;
    return NULL;
}

/* -- host directory listings (kernel/hostfs.py _list) ------------------------------
 *
 * A host_dir listing is a getdents and, for most entries, an lstat (the
 * attribute cache keeps them: hostfs.py readdir). Through os.scandir each entry
 * costs ~7 us of Python objects (a DirEntry, a stat_result, their
 * attributes); here it is one record of plain fields that Python unpacks in one
 * struct call. The fd is the confined listing fd Python opened (hostfs.py rule
 * 2); names come from getdents (single components) and the lstats are fstatat
 * relative to that fd without following, so nothing here leaves the directory. */
#define AVM_DENTS_BUF 8192
/* A getdents entry with an L-byte name takes at least 20 + L bytes (24 at
 * least), its record 72 + L: under 4 times as much, so a full getdents buffer
 * always fits into this much room. */
#define AVM_LIST_ROOM (4 * AVM_DENTS_BUF)


int avm_listed_dirent_bytes(void) { return (int)sizeof(listed_dirent); }
int avm_list_room(void) { return AVM_LIST_ROOM; }

struct avm_linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int64_t stat_ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

/* Reads on from the directory offset of `fd` into `out` (`cap` bytes, at least
 * AVM_LIST_ROOM): per entry but "." and "..", a listed_dirent and its name;
 * *ended is set when the directory ended. An entry is lstat'd (`stated` 2)
 * while *index < stat_until (*index counts entries across calls): every entry
 * when `what` is 2, directories when it is 1; else (`stated` 1) when its type is
 * not a regular file, a directory or a symlink (the type needs it). An entry
 * that vanished before its lstat is left out. Returns the bytes written or
 * -errno. */
int64_t avm_list_dir(int fd, int what, int64_t *index, int64_t stat_until, uint8_t *out, int64_t cap, int *ended) {
    if (cap < AVM_LIST_ROOM) return -EINVAL;
    uint8_t dents[AVM_DENTS_BUF] __attribute__((aligned(8)));
    int64_t used = 0;
    *ended = 0;
    while (cap - used >= AVM_LIST_ROOM) {
        long n = syscall(SYS_getdents64, fd, dents, sizeof dents);
        if (n < 0) return used ? used : -errno;
        if (n == 0) {
            *ended = 1;
            break;
        }
        for (long off = 0; off < n;) {
            struct avm_linux_dirent64 *d = (struct avm_linux_dirent64 *)(dents + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            size_t len = strnlen(name, 256);
            if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.') || len > 255) continue;
            int typed = d->d_type == DT_REG || d->d_type == DT_DIR || d->d_type == DT_LNK;
            int cached = *index < stat_until && (what == 2 || (what == 1 && d->d_type == DT_DIR));
            (*index)++;
            listed_dirent r = {.d_ino = d->d_ino, .name_len = (uint16_t)len, .d_type = d->d_type};
            if (cached || !typed) {
                struct stat st;
                if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue; /* vanished meanwhile */
                r.ino = st.st_ino;
                r.nlink = st.st_nlink;
                r.size = st.st_size;
                r.atime_ns = stat_ns(st.st_atim);
                r.mtime_ns = stat_ns(st.st_mtim);
                r.ctime_ns = stat_ns(st.st_ctim);
                r.mode = st.st_mode;
                r.uid = st.st_uid;
                r.gid = st.st_gid;
                r.stated = cached ? 2 : 1;
            }
            memcpy(out + used, &r, sizeof r);
            memcpy(out + used + sizeof r, name, len);
            used += (int64_t)(sizeof r + len);
        }
    }
    return used;
}

/* One WASI dirent at `used` of `out`, cut off at `cap`; the bytes used after it. */
static int64_t put_dirent(uint8_t *out, int64_t cap, int64_t used, uint64_t index, uint64_t ino,
                          const uint8_t *name, uint32_t len, uint8_t filetype) {
    uint8_t head[24] = {0};
    uint64_t next = index + 1;
    memcpy(head, &next, 8);
    memcpy(head + 8, &ino, 8);
    memcpy(head + 16, &len, 4);
    head[20] = filetype;
    int64_t n = cap - used < 24 ? cap - used : 24;
    memcpy(out + used, head, (size_t)n);
    used += n;
    n = cap - used < (int64_t)len ? cap - used : (int64_t)len;
    memcpy(out + used, name, (size_t)n);
    return used + n;
}

/* WASI dirents (wasi/layouts.py pack_dirent: u64 d_next, u64 d_ino, u32 d_namlen,
 * u8 d_type, 3 bytes of padding, the name) of one piece of a host directory
 * snapshot (kernel/dir_snapshot.py), written to `out` (`cap` bytes, guest memory
 * Python checked): entry `index` on are the piece's records, and a snapshot's
 * first piece (index 0) starts with "." and ".." (inodes `dot`, `dotdot`), its
 * records from 2 on. Entries before `cookie` are skipped; the entry that does not
 * fit is cut off at `cap`, as fd_readdir fills a buffer completely when more
 * entries exist. A record's type number is its lstat's S_IFMT >> 12 when it has
 * one, else its getdents type (DT_x is S_IFx >> 12), and `filetypes` maps it to
 * the WASI filetype. *next_index: the index after the piece's last record (after
 * the last one written when `out` is full). Returns the bytes written, or -1 for
 * a malformed piece. */
int64_t avm_pack_dirents(const uint8_t *records, int64_t records_len, uint64_t index, uint64_t cookie,
                         uint64_t dot, uint64_t dotdot, const uint8_t *filetypes, uint8_t *out, int64_t cap,
                         uint64_t *next_index) {
    int64_t used = 0;
    if (index == 0) {
        if (cookie == 0 && used < cap) used = put_dirent(out, cap, used, 0, dot, (const uint8_t *)".", 1, filetypes[4]);
        if (cookie <= 1 && used < cap) used = put_dirent(out, cap, used, 1, dotdot, (const uint8_t *)"..", 2, filetypes[4]);
        index = 2;
    }
    const uint8_t *rec = records, *end = records + records_len;
    listed_dirent r;
    const uint8_t *name;
    while (used < cap) {
        int got = next_record(&rec, end, &r, &name);
        if (got <= 0) {
            if (got < 0) return -1;
            break;
        }
        if (index >= cookie) {
            uint32_t type = r.stated ? (r.mode >> 12) & 15 : r.d_type & 15;
            used = put_dirent(out, cap, used, index, r.d_ino, name, r.name_len, filetypes[type]);
        }
        index++;
    }
    *next_index = index;
    return used;
}

/* Whether a piece of listing records names `name`: 1 yes, 0 no, -1 malformed. */
int avm_records_have(const uint8_t *records, int64_t records_len, const uint8_t *name, int64_t name_len) {
    const uint8_t *rec = records, *end = records + records_len;
    listed_dirent r;
    const uint8_t *at;
    int got;
    while ((got = next_record(&rec, end, &r, &at)) == 1)
        if (r.name_len == name_len && memcmp(at, name, r.name_len) == 0) return 1;
    return got;
}

/* -- linear memories: a freed one made all zero again -----------------------------------
 * (wasm/memory_budget.py): the first `keep` bytes memset (they stay resident for
 * the next process), the rest dropped with MADV_DONTNEED; the protection stays.
 * One call, through CDLL, so the thread that zeroes takes the GIL back once
 * instead of between each step: a freed memory is zeroed while the next process
 * starts, and each GIL hand-off delayed that start. 0 or -errno. */
int avm_zero_memory(uint8_t *base, int64_t size, int64_t keep) {
    if (size < 0 || keep < 0) return -EINVAL;
    size_t resident = (size_t)(size < keep ? size : keep);
    memset(base, 0, resident);
    if ((size_t)size > resident && madvise(base + resident, (size_t)size - resident, MADV_DONTNEED) != 0)
        return -errno;
    return 0;
}

/* -- a linear memory as wasmtime asks for it (wasm/memory_budget.py) --------------
 * wasmtime asks a host-allocated memory for its base and size ~30 times per
 * process start (its data segments among them): answered here, from what Python
 * last set, instead of a Python callback each time. */
typedef struct {
    uint8_t *base;
    size_t size, maximum;
} avm_linear;

avm_linear *avm_linear_new(uint8_t *base, uint64_t size, uint64_t maximum) {
    avm_linear *m = malloc(sizeof *m);
    if (m) *m = (avm_linear){base, (size_t)size, (size_t)maximum};
    return m;
}

void avm_linear_set_size(avm_linear *m, uint64_t size) { m->size = (size_t)size; }

void avm_linear_free(avm_linear *m) { free(m); }

/* wasmtime_memory_get_callback_t */
uint8_t *avm_linear_get(void *env, size_t *byte_size, size_t *maximum_byte_size) {
    const avm_linear *m = env;
    *byte_size = m->size;
    *maximum_byte_size = m->maximum;
    return m->base;
}

/* counts[0..2*F_COUNT): native then fallback calls of each native host function. */
void avm_call_counts(uint64_t *counts) {
    for (int i = 0; i < F_COUNT; i++) {
        counts[i] = atomic_load(&native_calls[i]);
        counts[F_COUNT + i] = atomic_load(&fallback_calls[i]);
    }
}

int avm_call_kinds(void) { return F_COUNT; }

int avm_raw_size(void) { return (int)sizeof(avm_raw); }
int avm_mirror_fds(void) { return AVM_MIRROR_FDS; }
