/* agentvm compat: wasi-libc's <fcntl.h>, with open and openat redirected (asm
   labels, see sys/stat.h for why not macros) to src/open.c: on Linux O_RDONLY is
   0, so programs leave the access mode out ("O_DIRECTORY | O_NOFOLLOW"), while
   wasi-libc's O_RDONLY is a bit of its own and no bit at all is EINVAL. */
#include_next <fcntl.h>

#ifndef AGENTVM_COMPAT_FCNTL_H
#define AGENTVM_COMPAT_FCNTL_H
#ifndef AGENTVM_COMPAT_OPEN_INTERNAL
#ifdef __cplusplus
extern "C" {
#endif
int open(const char *, int, ...) __asm__("__agentvm_open");
int openat(int, const char *, int, ...) __asm__("__agentvm_openat");
#ifdef __cplusplus
}
#endif
#endif
#endif
