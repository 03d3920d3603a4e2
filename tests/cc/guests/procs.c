/* The compat library's process half, one scenario per argv[1]; each prints
   lines the tests compare (errno values by name). Built with agentvm-cc. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e) {
	switch (e) {
	case 0: return "OK";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case ECHILD: return "ECHILD";
	case EBADF: return "EBADF";
	default: return "other";
	}
}

static void status(const char *label, int st) {
	if (WIFEXITED(st)) printf("%s exited %d\n", label, WEXITSTATUS(st));
	else if (WIFSIGNALED(st)) printf("%s signalled %d\n", label, WTERMSIG(st));
	else printf("%s other %d\n", label, st);
}

static pid_t spawn_sh(const char *script, posix_spawn_file_actions_t *fa) {
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	pid_t pid;
	int err = posix_spawnp(&pid, "sh", fa, NULL, argv, environ);
	if (err) {
		printf("spawn %s\n", errname(err));
		exit(1);
	}
	return pid;
}

static void print_file(const char *path) {
	char buf[256];
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("open %s %s\n", path, errname(errno));
		return;
	}
	while (fgets(buf, sizeof buf, f)) printf("%s: %s", path, buf);
	fclose(f);
}

/* stdin from a file, stdout to a new file, stderr onto stdout, fd 5 closed */
static int redirect(void) {
	FILE *in = fopen("/tmp/cc-in.txt", "w");
	fputs("banana\napple\n", in);
	fclose(in);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/tmp/cc-in.txt", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/tmp/cc-out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid = spawn_sh("sort; echo to-stderr >&2", &fa);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	waitpid(pid, &st, 0);
	status("child", st);
	print_file("/tmp/cc-out.txt");
	return 0;
}

/* producer | consumer, both children, joined by a pipe the parent made */
static int pipeline(void) {
	int fds[2];
	if (pipe(fds) < 0) return 1;
	posix_spawn_file_actions_t producer, consumer;
	posix_spawn_file_actions_init(&producer);
	posix_spawn_file_actions_adddup2(&producer, fds[1], 1);
	posix_spawn_file_actions_addclose(&producer, fds[0]);
	posix_spawn_file_actions_addclose(&producer, fds[1]);
	posix_spawn_file_actions_init(&consumer);
	posix_spawn_file_actions_adddup2(&consumer, fds[0], 0);
	posix_spawn_file_actions_addclose(&consumer, fds[0]);
	posix_spawn_file_actions_addclose(&consumer, fds[1]);
	pid_t a = spawn_sh("echo one; echo two; exit 3", &producer);
	pid_t b = spawn_sh("tr a-z A-Z; exit 4", &consumer);
	close(fds[0]);
	close(fds[1]);
	int st;
	for (int i = 0; i < 2; i++) {
		pid_t done = wait(&st);
		status(done == a ? "producer" : done == b ? "consumer" : "unknown", st);
	}
	printf("wait again %d %s\n", wait(&st), errname(errno));
	return 0;
}

static int signals(void) {
	/* sleep itself, not a shell around it: a killed shell would leave its sleep
	   holding our stdout for the whole 30 s */
	char *argv[] = {"sleep", "30", NULL};
	pid_t pid;
	if (posix_spawnp(&pid, "sleep", NULL, NULL, argv, environ) != 0) return 1;
	printf("kill0 %d\n", kill(pid, 0));
	printf("kill %d\n", kill(pid, SIGTERM));
	int st;
	printf("reaped %d\n", waitpid(pid, &st, 0) == pid);
	status("sleeper", st);
	errno = 0;
	printf("kill reaped %d %s\n", kill(pid, 0), errname(errno));
	printf("nohang %d %s\n", waitpid(-1, &st, WNOHANG), errname(errno));
	return 0;
}

static int streams(void) {
	char buf[128];
	FILE *r = popen("echo from-child; exit 2", "r");
	while (fgets(buf, sizeof buf, r)) printf("read: %s", buf);
	status("popen r", pclose(r));
	FILE *w = popen("tr a-z A-Z > /tmp/cc-popen.txt", "w");
	fputs("shout\n", w);
	status("popen w", pclose(w));
	print_file("/tmp/cc-popen.txt");
	status("system", system("exit 5"));
	printf("system shell %d\n", system(NULL) != 0);
	return 0;
}

static int failures(void) {
	char *argv[] = {"no-such-program", NULL};
	pid_t pid;
	printf("spawnp missing %s\n", errname(posix_spawnp(&pid, "no-such-program", NULL, NULL, argv, environ)));
	printf("spawn bare %s\n", errname(posix_spawn(&pid, "sh", NULL, NULL, argv, environ)));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, 42, 1);
	printf("spawn bad fd %s\n", errname(posix_spawnp(&pid, "sh", &fa, NULL, argv, environ)));
	printf("dup2 bad %d %s\n", dup2(42, 7), errname(errno));
	int copy = dup(1);
	printf("dup %d\n", copy > 2);
	printf("waitpid none %d %s\n", waitpid(-1, NULL, 0), errname(errno));
	return 0;
}

/* the child knows its parent, inherits the blocked signals and the cwd */
static int family(const char *self) {
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	mkdir("/tmp/cc-sub", 0755);
	if (chdir("/tmp/cc-sub") != 0) return 1;
	char *argv[] = {(char *)self, "child", NULL};
	pid_t pid;
	int err = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (err) {
		printf("spawn self %s\n", errname(err));
		return 1;
	}
	printf("parent pid %d\n", (int)getpid());
	int st;
	waitpid(pid, &st, 0);
	status("child", st);
	return 0;
}

static int child(void) {
	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	char cwd[256];
	printf("child ppid %d\n", (int)getppid());
	printf("child usr1 blocked %d\n", sigismember(&mask, SIGUSR1));
	printf("child cwd %s\n", getcwd(cwd, sizeof cwd));
	return 0;
}

/* close-on-exec: set three ways, checked by a spawned copy of this program */
static int cloexec(const char *self) {
	int a = open("/tmp/cc-a.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int b = open("/tmp/cc-b.txt", O_WRONLY | O_CREAT, 0644);
	int fds[2];
	pipe2(fds, O_CLOEXEC);
	int c = dup(b);
	fcntl(c, F_SETFD, FD_CLOEXEC);
	int d = fcntl(b, F_DUPFD, 20);
	printf("getfd %d %d %d %d %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD), fcntl(fds[0], F_GETFD),
	       fcntl(c, F_GETFD), fcntl(d, F_GETFD));
	printf("dupfd %d\n", d);
	char fd_list[64];
	snprintf(fd_list, sizeof fd_list, "%d,%d,%d,%d,%d,%d", a, b, fds[0], fds[1], c, d);
	char *argv[] = {(char *)self, "fdcheck", fd_list, NULL};
	pid_t pid;
	int err = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (err) return 1;
	int st;
	waitpid(pid, &st, 0);
	status("checker", st);
	return 0;
}

static int fdcheck(char *list) {
	printf("child sees");
	for (char *fd = strtok(list, ","); fd; fd = strtok(NULL, ","))
		printf(" %s", fcntl(atoi(fd), F_GETFL) < 0 && errno == EBADF ? "closed" : "open");
	printf("\n");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);  /* children write to the same stdout */
	const char *mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "redirect")) return redirect();
	if (!strcmp(mode, "pipeline")) return pipeline();
	if (!strcmp(mode, "signals")) return signals();
	if (!strcmp(mode, "streams")) return streams();
	if (!strcmp(mode, "failures")) return failures();
	if (!strcmp(mode, "family")) return family(argv[0]);
	if (!strcmp(mode, "child")) return child();
	if (!strcmp(mode, "cloexec")) return cloexec(argv[0]);
	if (!strcmp(mode, "fdcheck") && argc > 2) return fdcheck(argv[2]);
	fprintf(stderr, "usage: procs redirect|pipeline|signals|streams|failures|family|cloexec\n");
	return 2;
}
