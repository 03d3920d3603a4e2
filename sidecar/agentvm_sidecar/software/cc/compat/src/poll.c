/* poll() and select() over host_net's net_poll, which waits on every kind of fd
   the kernel holds (sockets, pipes, files, the terminal) as one call, as the
   agentOS libc routes them. wasi-libc's own versions go through poll_oneoff,
   whose subscriptions cannot say "hung up" for a pipe or a socket. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/select.h>

#include "host_net.h"

_Static_assert(sizeof(struct pollfd) == 8, "net_poll reads {i32 fd, i16 events, i16 revents}");

int poll(struct pollfd fds[], nfds_t nfds, int timeout) {
	uint32_t ready;
	uint32_t err = __agentvm_net_poll(fds, (uint32_t)nfds, timeout < 0 ? -1 : timeout, &ready);
	if (err) {
		errno = (int)err;
		return -1;
	}
	return (int)ready;
}

static int timeout_ms(const struct timeval *timeout) {
	if (timeout == NULL) return -1;
	if (timeout->tv_sec < 0 || timeout->tv_usec < 0) return -2;
	long long ms = (long long)timeout->tv_sec * 1000 + (timeout->tv_usec + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int member(int fd, const fd_set *set) {
	return set != NULL && FD_ISSET(fd, set);
}

int select(int nfds, fd_set *__restrict readfds, fd_set *__restrict writefds, fd_set *__restrict exceptfds,
		struct timeval *__restrict timeout) {
	int wait = timeout_ms(timeout);
	if (nfds < 0 || nfds > FD_SETSIZE || wait == -2) {
		errno = EINVAL;
		return -1;
	}
	struct pollfd *fds = calloc(nfds ? (size_t)nfds : 1, sizeof *fds);
	if (fds == NULL) return -1;
	int count = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short events = (short)((member(fd, readfds) ? POLLIN : 0) | (member(fd, writefds) ? POLLOUT : 0));
		if (events || member(fd, exceptfds)) {
			fds[count].fd = fd;
			fds[count].events = events;
			count++;
		}
	}
	int result = poll(fds, (nfds_t)count, wait);
	if (result >= 0) {
		if (readfds) FD_ZERO(readfds);
		if (writefds) FD_ZERO(writefds);
		if (exceptfds) FD_ZERO(exceptfds);  /* the kernel reports no exceptional conditions */
		result = 0;
		for (int i = 0; i < count; i++) {
			short revents = fds[i].revents;
			if (revents & POLLNVAL) {
				errno = EBADF;
				result = -1;
				break;
			}
			if ((fds[i].events & POLLIN) && (revents & (POLLIN | POLLHUP | POLLERR))) {
				FD_SET(fds[i].fd, readfds);
				result++;
			}
			if ((fds[i].events & POLLOUT) && (revents & (POLLOUT | POLLERR))) {
				FD_SET(fds[i].fd, writefds);
				result++;
			}
		}
	}
	free(fds);
	return result;
}
