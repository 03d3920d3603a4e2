/* agentvm compat: <pwd.h>, which wasi-libc lacks (src/user.c). Records come from
   the VM's /etc/passwd through host_user; each call overwrites the last record. */
#ifndef AGENTVM_COMPAT_PWD_H
#define AGENTVM_COMPAT_PWD_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct passwd {
	char *pw_name;
	char *pw_passwd;
	uid_t pw_uid;
	gid_t pw_gid;
	char *pw_gecos;
	char *pw_dir;
	char *pw_shell;
};

struct passwd *getpwnam(const char *);
struct passwd *getpwuid(uid_t);

#ifdef __cplusplus
}
#endif
#endif
