/* pipe, dup and friends over host_process: the kernel owns the fd table (pipes
   are kernel objects shared with children), wasi-libc only sees the numbers. */
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
	return 0;
}

int pipe2(int fds[2], int flags) {
	if (flags & ~(O_CLOEXEC | O_NONBLOCK)) return fail(EINVAL);
	if (pipe(fds) < 0) return -1;
	for (int i = 0; i < 2; i++) {
		uint32_t err = 0;
		if (flags & O_CLOEXEC) err = __agentvm_fd_setfd(fds[i], FD_CLOEXEC);
		if (!err && (flags & O_NONBLOCK) && fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0) err = (uint32_t)errno;
		if (err) {
			close(fds[0]);
			close(fds[1]);
			return fail(err);
		}
	}
	return 0;
}

int dup(int fd) {
	uint32_t out;
	uint32_t err = __agentvm_fd_dup(fd, &out);
	return err ? fail(err) : (int)out;
}

int dup2(int old_fd, int new_fd) {
	uint32_t err = __agentvm_fd_dup2(old_fd, new_fd);
	return err ? fail(err) : new_fd;
}

int dup3(int old_fd, int new_fd, int flags) {
	if (old_fd == new_fd || (flags & ~O_CLOEXEC)) return fail(EINVAL);
	if (dup2(old_fd, new_fd) < 0) return -1;
	if (flags & O_CLOEXEC) {
		uint32_t err = __agentvm_fd_setfd(new_fd, FD_CLOEXEC);
		if (err) return fail(err);
	}
	return new_fd;
}
