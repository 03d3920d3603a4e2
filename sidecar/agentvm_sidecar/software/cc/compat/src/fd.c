/* pipe, dup and friends over host_process: the kernel owns the fd table (pipes
   are kernel objects shared with children), wasi-libc only sees the numbers.
   New fds start without FD_CLOEXEC unless asked (O_CLOEXEC, see open.c). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "host_process.h"

static int fail(uint32_t err) {
	errno = (int)err;
	return -1;
}

int pipe(int fds[2]) {
	uint32_t r, w;
	uint32_t err = __agentvm_fd_pipe(&r, &w);
	if (err) return fail(err);
	fds[0] = (int)r;
	fds[1] = (int)w;
	__agentvm_note_cloexec(fds[0], 0);
	__agentvm_note_cloexec(fds[1], 0);
	return 0;
}

int pipe2(int fds[2], int flags) {
	if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return fail(EINVAL);
	if (pipe(fds) < 0) return -1;
	for (int i = 0; i < 2; i++) {
		int failed = (flags & O_CLOEXEC) && __agentvm_set_cloexec(fds[i], 1) < 0;
		if (!failed && (flags & O_NONBLOCK)) failed = fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0;
		if (failed) {
			int saved = errno;
			close(fds[0]);
			close(fds[1]);
			return fail((uint32_t)saved);
		}
	}
	return 0;
}

int dup(int fd) {
	uint32_t out;
	uint32_t err = __agentvm_fd_dup(fd, &out);
	if (err) return fail(err);
	__agentvm_note_cloexec((int)out, 0);
	return (int)out;
}

int dup2(int old_fd, int new_fd) {
	uint32_t err = __agentvm_fd_dup2(old_fd, new_fd);
	if (err) return fail(err);
	if (old_fd != new_fd) __agentvm_note_cloexec(new_fd, 0);  /* onto itself changes nothing */
	return new_fd;
}

int dup3(int old_fd, int new_fd, int flags) {
	if (old_fd == new_fd || (flags & ~O_CLOEXEC)) return fail(EINVAL);
	if (dup2(old_fd, new_fd) < 0) return -1;
	if ((flags & O_CLOEXEC) && __agentvm_set_cloexec(new_fd, 1) < 0) return -1;
	return new_fd;
}
