/* agentvm compat: wasi-libc's <fcntl.h> with what processes need from it.

   - open and openat are redirected (asm labels, see sys/stat.h for why not
     macros) to src/open.c: on Linux O_RDONLY is 0, so programs leave the access
     mode out ("O_DIRECTORY | O_NOFOLLOW"), while wasi-libc's O_RDONLY is a bit of
     its own and no bit at all is EINVAL.
   - O_CLOEXEC is a real flag (wasi-libc defines it as 0: "WASI has no exec"),
     which open, openat, pipe2, dup3 and mkostemp turn into the kernel's
     FD_CLOEXEC (host_process.fd_setfd) so spawned children do not inherit the fd.
   - fcntl is redirected too: F_SETFD reaches the kernel, F_DUPFD and
     F_DUPFD_CLOEXEC work; every other command is wasi-libc's. */
#include_next <fcntl.h>

#ifndef AGENTVM_COMPAT_FCNTL_H
#define AGENTVM_COMPAT_FCNTL_H

#undef O_CLOEXEC
#define O_CLOEXEC 0x40000000  /* a bit no WASI flag uses; stripped before wasi-libc sees it */
#ifndef F_DUPFD
#define F_DUPFD 0
#endif
#ifndef F_DUPFD_CLOEXEC
#define F_DUPFD_CLOEXEC 1030
#endif

#ifndef AGENTVM_COMPAT_OPEN_INTERNAL
#ifdef __cplusplus
extern "C" {
#endif
int open(const char *, int, ...) __asm__("__agentvm_open");
int openat(int, const char *, int, ...) __asm__("__agentvm_openat");
int fcntl(int, int, ...) __asm__("__agentvm_fcntl");
#ifdef __cplusplus
}
#endif
#endif
#endif
