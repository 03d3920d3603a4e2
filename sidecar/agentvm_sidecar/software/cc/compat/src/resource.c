/* getrlimit: the host ABI has no way to read the kernel's limits (the fd limit
   per process is a VM setting), so every resource reports RLIM_INFINITY, which
   POSIX defines as "no limit known"; a program that hits the kernel's limit
   still gets EMFILE. setrlimit is left out: nothing could enforce it. */
#include <errno.h>
#include <sys/resource.h>

int getrlimit(int resource, struct rlimit *limit) {
	if (resource < 0 || resource >= RLIMIT_NLIMITS) {
		errno = EINVAL;
		return -1;
	}
	limit->rlim_cur = RLIM_INFINITY;
	limit->rlim_max = RLIM_INFINITY;
	return 0;
}
