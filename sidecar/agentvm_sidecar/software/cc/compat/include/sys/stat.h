/* agentvm compat: wasi-libc's <sys/stat.h> plus umask() (src/process.c), and
   stat/chmod calls redirected to src/stat.c, which adds the permission bits and
   owners WASI's filestat lacks. The redirection is an asm label on the
   declaration, not a macro (a gnulib wrapper may #define stat itself), and not
   a replacement definition (wasi-libc's startup already links the objects that
   define these, so a second definition would clash). */
#include_next <sys/stat.h>

#ifndef AGENTVM_COMPAT_SYS_STAT_H
#define AGENTVM_COMPAT_SYS_STAT_H
#ifdef __cplusplus
extern "C" {
#endif
mode_t umask(mode_t);
#ifndef AGENTVM_COMPAT_STAT_INTERNAL
int stat(const char *__restrict, struct stat *__restrict) __asm__("__agentvm_stat");
int lstat(const char *__restrict, struct stat *__restrict) __asm__("__agentvm_lstat");
int fstat(int, struct stat *) __asm__("__agentvm_fstat");
int fstatat(int, const char *__restrict, struct stat *__restrict, int) __asm__("__agentvm_fstatat");
int chmod(const char *, mode_t) __asm__("__agentvm_chmod");
int fchmodat(int, const char *, mode_t, int) __asm__("__agentvm_fchmodat");
#endif
#ifdef __cplusplus
}
#endif
#endif
