/* agentvm compat: wasi-libc's <stdio.h> plus popen/pclose (src/popen.c) and the
   stream locks of a single-threaded program (src/stdio.c). Its
   tmpfile() declaration stays (deprecated): src/tempfile.c defines it. */
#include_next <stdio.h>

#ifndef AGENTVM_COMPAT_STDIO_H
#define AGENTVM_COMPAT_STDIO_H
#ifdef __cplusplus
extern "C" {
#endif
FILE *popen(const char *, const char *);
int pclose(FILE *);
void flockfile(FILE *);
int ftrylockfile(FILE *);
void funlockfile(FILE *);
#ifdef __cplusplus
}
#endif
#endif
