/* Starts a process whose argument and working directory are not valid UTF-8 (a
 * shell cannot: brush keeps strings as UTF-8), through agentOS's posix_spawn import,
 * for process.list's argvBytes/cwdBytes (tests/security/test_process_names.py):
 *   badargv          mkdir /tmp/d\xfe, spawn `badargv child\xff` in it, print
 *                    "spawned <pid>" or "FAIL <step> <errno>", then sleep
 *   badargv ARG      (the child) write ARG to /tmp/seen, then sleep
 * Both sleep 600 s: the test reads process.list while they run, then kills them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((import_module("host_process"), import_name("proc_spawn_v3")))
int proc_spawn_v3(const char *exec, int exec_len, const char *argv, int argv_len, const char *envp, int envp_len,
                  const void *actions, int actions_len, const char *cwd, int cwd_len, int attr_flags, int sigdef_lo,
                  int sigdef_hi, int sigmask_lo, int sigmask_hi, int pgroup, int *ret_pid);

int main(int argc, char **argv) {
    if (argc == 2) {
        int fd = open("/tmp/seen", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0 || write(fd, argv[1], strlen(argv[1])) < 0) return 1;
        close(fd);
        sleep(600);
        return 0;
    }
    if (mkdir("/tmp/d\xfe", 0755) != 0) {
        printf("FAIL mkdir 0\n");
        return 1;
    }
    static const char exec[] = "/usr/bin/badargv";
    static const char args[] = "badargv\0child\xff";  /* and the literal's final NUL */
    static const char cwd[] = "/tmp/d\xfe";
    int pid = 0;
    int err = proc_spawn_v3(exec, sizeof exec - 1, args, sizeof args, "", 0, 0, 0, cwd, sizeof cwd - 1, 0, 0, 0, 0, 0,
                            0, &pid);
    if (err != 0) {
        printf("FAIL spawn %d\n", err);
        return 1;
    }
    printf("spawned %d\n", pid);
    fflush(stdout);
    sleep(600);
    return 0;
}
