/* popen/pclose and system(): /bin/sh -c COMMAND started with posix_spawn.

   popen keeps the child's pid per stream in a small list so pclose can wait for
   the right child; other popen'd streams' fds are closed in each new child, as
   POSIX asks, and mode "re"/"we" makes our end close-on-exec for every other
   child too. system() neither blocks SIGCHLD nor ignores SIGINT/SIGQUIT as POSIX
   asks: no guest handler ever runs, so there is nothing to protect. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host_process.h"

extern char **environ;

#define SHELL "/bin/sh"

struct child {
	FILE *stream;
	pid_t pid;
	struct child *next;
};

static struct child *children;

FILE *popen(const char *command, const char *mode) {
	int reading = mode[0] == 'r';
	if ((mode[0] != 'r' && mode[0] != 'w') || (mode[1] != '\0' && mode[1] != 'e')) {
		errno = EINVAL;
		return NULL;
	}
	struct child *entry = malloc(sizeof *entry);
	if (entry == NULL) return NULL;
	int fds[2];
	if (pipe(fds) < 0) {
		free(entry);
		return NULL;
	}
	int ours = reading ? fds[0] : fds[1];
	int theirs = reading ? fds[1] : fds[0];
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	int err = posix_spawn_file_actions_adddup2(&fa, theirs, reading ? 1 : 0);
	if (!err) err = posix_spawn_file_actions_addclose(&fa, theirs);
	if (!err) err = posix_spawn_file_actions_addclose(&fa, ours);
	for (struct child *c = children; c && !err; c = c->next)
		err = posix_spawn_file_actions_addclose(&fa, fileno(c->stream));
	pid_t pid = -1;
	char *argv[] = {"sh", "-c", (char *)command, NULL};
	if (!err) err = posix_spawn(&pid, SHELL, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(theirs);
	if (!err && mode[1] == 'e' && __agentvm_set_cloexec(ours, 1) < 0) err = errno;
	FILE *stream = err ? NULL : fdopen(ours, reading ? "r" : "w");
	if (stream == NULL) {
		if (!err) err = errno;
		close(ours);
		if (pid > 0) waitpid(pid, NULL, 0);
		free(entry);
		errno = err;
		return NULL;
	}
	entry->stream = stream;
	entry->pid = pid;
	entry->next = children;
	children = entry;
	return stream;
}

int pclose(FILE *stream) {
	struct child **link = &children;
	while (*link && (*link)->stream != stream) link = &(*link)->next;
	struct child *entry = *link;
	if (entry == NULL) {
		errno = ECHILD;
		return -1;
	}
	*link = entry->next;
	pid_t pid = entry->pid;
	free(entry);
	fclose(stream);
	int status;
	if (waitpid(pid, &status, 0) < 0) return -1;
	return status;
}

int system(const char *command) {
	if (command == NULL) return access(SHELL, X_OK) == 0;
	char *argv[] = {"sh", "-c", (char *)command, NULL};
	pid_t pid;
	int err = posix_spawn(&pid, SHELL, NULL, NULL, argv, environ);
	if (err) {
		errno = err;
		return -1;
	}
	int status;
	if (waitpid(pid, &status, 0) < 0) return -1;
	return status;
}
