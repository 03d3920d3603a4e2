/* agentvm compat: wasi-libc's <stdlib.h> plus the temporary-file calls its WASI
   build leaves out (src/tempfile.c). */
#include_next <stdlib.h>

#ifndef AGENTVM_COMPAT_STDLIB_H
#define AGENTVM_COMPAT_STDLIB_H
#ifdef __cplusplus
extern "C" {
#endif
int mkstemp(char *);
int mkostemp(char *, int);
int mkstemps(char *, int);
int mkostemps(char *, int, int);
char *mkdtemp(char *);
#ifdef __cplusplus
}
#endif
#endif
