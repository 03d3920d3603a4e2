/* The working directory of a compat program.

   wasi-libc keeps the cwd inside the program (__wasilibc_cwd): chdir() never
   reaches the kernel, and once chdir is linked in every relative path is resolved
   against that string, which starts as "/". agentvm's kernel starts every process
   with $PWD naming its real cwd, canonical (wasm/spawn.py, and proc_exec for an
   exec), so a constructor sets the libc's cwd to it before main(), without
   chdir's stat of a directory the kernel just named (a host call at every
   start). chdir and __wasilibc_cwd are weak references: a program
   that never calls chdir keeps resolving relative paths through the "." preopen
   and its children simply inherit the kernel's cwd (an empty spawn cwd).

   agentvm-cc links this object into every program (the archive goes in whole). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host_process.h"

extern int chdir(const char *) __attribute__((weak));
extern char *__wasilibc_cwd __attribute__((weak));

__attribute__((constructor))
void __agentvm_cwd_init(void) {
	const char *pwd = getenv("PWD");
	if (pwd == NULL || pwd[0] != '/')
		return;
	if (&__wasilibc_cwd != NULL) {
		/* without chdir linked only getcwd() reads it: make it tell the truth too */
		char *copy = strdup(pwd);
		if (copy != NULL)
			__wasilibc_cwd = copy;
	}
}

const char *__agentvm_child_cwd(void) {
	if (&chdir == NULL || &__wasilibc_cwd == NULL || __wasilibc_cwd == NULL)
		return "";
	return __wasilibc_cwd;
}
