/* open, openat and fcntl as Linux programs expect them (see include/fcntl.h):
   a missing access mode is read-only, O_CLOEXEC and FD_CLOEXEC reach the
   kernel, F_DUPFD works.

   The kernel cannot be asked whether an fd is close-on-exec, so F_GETFD answers
   from what this library set or cleared: every fd a program inherits starts
   clear (close-on-exec fds never survive a spawn), and the calls here and in
   fd.c keep the table current. An fd that another libc call makes (opendir,
   accept) on a number that was close-on-exec before reports the old bit. */
#define AGENTVM_COMPAT_OPEN_INTERNAL 1  /* the plain names below are wasi-libc's */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>
#include <wasi/api.h>

#include "host_process.h"

#define TRACKED_FDS 4096
static uint32_t cloexec_bits[TRACKED_FDS / 32];

int __agentvm_set_cloexec(int fd, int on) {
	uint32_t err = __agentvm_fd_setfd(fd, on ? FD_CLOEXEC : 0);
	if (err) {
		errno = (int)err;
		return -1;
	}
	__agentvm_note_cloexec(fd, on);
	return 0;
}

void __agentvm_note_cloexec(int fd, int on) {
	if (fd < 0 || fd >= TRACKED_FDS) return;
	if (on) cloexec_bits[fd / 32] |= 1u << (fd % 32);
	else cloexec_bits[fd / 32] &= ~(1u << (fd % 32));
}

static int access_mode(int flags) {
	flags &= ~O_CLOEXEC;
	return (flags & (O_RDONLY | O_WRONLY | O_EXEC | O_SEARCH)) ? flags : flags | O_RDONLY;
}

static int opened(int fd, int flags) {
	if (fd < 0) return fd;
	if (flags & O_CLOEXEC) {
		if (__agentvm_set_cloexec(fd, 1) < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
	} else {
		__agentvm_note_cloexec(fd, 0);
	}
	return fd;
}

int __agentvm_openat(int dirfd, const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return opened(openat(dirfd, path, access_mode(flags), mode), flags);
}

int __agentvm_open(const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return opened(open(path, access_mode(flags), mode), flags);
}

/* The lowest free fd >= minimum, made a copy of fd (F_DUPFD). */
static int dup_at_least(int fd, int minimum) {
	__wasi_fdstat_t stat;
	if (minimum < 0) {
		errno = EINVAL;
		return -1;
	}
	if (__wasi_fd_fdstat_get(fd, &stat) != 0) {
		errno = EBADF;
		return -1;
	}
	for (int candidate = minimum; candidate < TRACKED_FDS; candidate++) {
		if (__wasi_fd_fdstat_get(candidate, &stat) == __WASI_ERRNO_BADF) {
			if (dup2(fd, candidate) < 0) return -1;
			return candidate;
		}
	}
	errno = EMFILE;
	return -1;
}

int __agentvm_fcntl(int fd, int cmd, ...) {
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);  /* what musl reads, whatever was passed */
	va_end(ap);
	switch (cmd) {
	case F_SETFD:
		return __agentvm_set_cloexec(fd, arg & FD_CLOEXEC);
	case F_GETFD: {
		__wasi_fdstat_t stat;
		if (__wasi_fd_fdstat_get(fd, &stat) != 0) {
			errno = EBADF;
			return -1;
		}
		return fd < TRACKED_FDS && (cloexec_bits[fd / 32] >> (fd % 32) & 1) ? FD_CLOEXEC : 0;
	}
	case F_DUPFD:
	case F_DUPFD_CLOEXEC: {
		int copy = dup_at_least(fd, (int)arg);
		if (copy >= 0 && __agentvm_set_cloexec(copy, cmd == F_DUPFD_CLOEXEC) < 0) {
			int saved = errno;
			close(copy);
			errno = saved;
			return -1;
		}
		return copy;
	}
	default:
		return fcntl(fd, cmd, arg);
	}
}
