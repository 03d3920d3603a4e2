/* flockfile and friends: wasi-libc leaves them out of its single-threaded build.
   A program built with agentvm-cc has one thread, so holding a stream's lock
   never waits for anyone: the lock is always free and taken at once. */
#include <stdio.h>

void flockfile(FILE *stream) {
	(void)stream;
}

int ftrylockfile(FILE *stream) {
	(void)stream;
	return 0;
}

void funlockfile(FILE *stream) {
	(void)stream;
}
