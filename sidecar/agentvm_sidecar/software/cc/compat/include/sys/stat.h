/* agentvm compat: wasi-libc's <sys/stat.h> plus umask() (src/process.c). */
#include_next <sys/stat.h>

#ifndef AGENTVM_COMPAT_SYS_STAT_H
#define AGENTVM_COMPAT_SYS_STAT_H
#ifdef __cplusplus
extern "C" {
#endif
mode_t umask(mode_t);
#ifdef __cplusplus
}
#endif
#endif
