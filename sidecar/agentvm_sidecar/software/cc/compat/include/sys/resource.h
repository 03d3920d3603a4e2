/* agentvm compat: wasi-libc's <sys/resource.h> plus struct rlimit, the RLIMIT_*
   numbers (Linux's) and getrlimit (src/resource.c). */
#ifndef _WASI_EMULATED_PROCESS_CLOCKS
#define _WASI_EMULATED_PROCESS_CLOCKS 1
#endif
#include_next <sys/resource.h>

#ifndef AGENTVM_COMPAT_SYS_RESOURCE_H
#define AGENTVM_COMPAT_SYS_RESOURCE_H
#ifdef __cplusplus
extern "C" {
#endif
typedef unsigned long long rlim_t;
struct rlimit {
	rlim_t rlim_cur;
	rlim_t rlim_max;
};
#ifndef RLIM_INFINITY
#define RLIM_INFINITY (~0ULL)
#define RLIM_SAVED_CUR RLIM_INFINITY
#define RLIM_SAVED_MAX RLIM_INFINITY
#define RLIMIT_CPU     0
#define RLIMIT_FSIZE   1
#define RLIMIT_DATA    2
#define RLIMIT_STACK   3
#define RLIMIT_CORE    4
#define RLIMIT_RSS     5
#define RLIMIT_NPROC   6
#define RLIMIT_NOFILE  7
#define RLIMIT_MEMLOCK 8
#define RLIMIT_AS      9
#define RLIMIT_NLIMITS 16
#endif
int getrlimit(int, struct rlimit *);
#ifdef __cplusplus
}
#endif
#endif
