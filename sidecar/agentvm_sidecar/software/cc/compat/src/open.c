/* open and openat with Linux's reading of a missing access mode: read-only
   (see include/fcntl.h). Everything else is wasi-libc's. */
#define AGENTVM_COMPAT_OPEN_INTERNAL 1  /* the plain names below are wasi-libc's */
#include <fcntl.h>
#include <stdarg.h>

static int access_mode(int flags) {
	return (flags & (O_RDONLY | O_WRONLY | O_EXEC | O_SEARCH)) ? flags : flags | O_RDONLY;
}

int __agentvm_openat(int dirfd, const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return openat(dirfd, path, access_mode(flags), mode);
}

int __agentvm_open(const char *path, int flags, ...) {
	mode_t mode = 0;
	if (flags & O_CREAT) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return open(path, access_mode(flags), mode);
}
