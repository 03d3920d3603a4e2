/* Ids and the account database over the agentOS host_user imports: getuid and
   friends, getgroups, getpwnam/getpwuid (records are /etc/passwd lines of the VM, parsed
   into one static struct passwd), getlogin ($LOGNAME, else the user's name). */
#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AGENTVM_HOST_USER(name) __attribute__((import_module("host_user"), import_name(#name)))

AGENTVM_HOST_USER(getuid) uint32_t __agentvm_getuid(uint32_t *ret);
AGENTVM_HOST_USER(geteuid) uint32_t __agentvm_geteuid(uint32_t *ret);
AGENTVM_HOST_USER(getgid) uint32_t __agentvm_getgid(uint32_t *ret);
AGENTVM_HOST_USER(getegid) uint32_t __agentvm_getegid(uint32_t *ret);
/* size 0: count only; fewer slots than groups: EINVAL */
AGENTVM_HOST_USER(getgroups) uint32_t __agentvm_getgroups(uint32_t size, uint32_t *groups, uint32_t *ret_count);
/* write the record ("name:pw:uid:gid:gecos:dir:shell") and its length; ERANGE
   when it does not fit (ret_len says how much is needed), ENOENT when absent */
AGENTVM_HOST_USER(getpwnam)
uint32_t __agentvm_getpwnam(const char *name, uint32_t name_len, char *buf, uint32_t cap, uint32_t *ret_len);
AGENTVM_HOST_USER(getpwuid)
uint32_t __agentvm_getpwuid(uint32_t uid, char *buf, uint32_t cap, uint32_t *ret_len);

static uint32_t id(uint32_t (*get)(uint32_t *)) {
	uint32_t value = 0;
	get(&value);
	return value;
}

uid_t getuid(void) { return id(__agentvm_getuid); }
uid_t geteuid(void) { return id(__agentvm_geteuid); }
gid_t getgid(void) { return id(__agentvm_getgid); }
gid_t getegid(void) { return id(__agentvm_getegid); }

int getgroups(int size, gid_t list[]) {
	uint32_t count = 0;
	if (size < 0) {
		errno = EINVAL;
		return -1;
	}
	uint32_t err = __agentvm_getgroups((uint32_t)size, (uint32_t *)list, &count);
	if (err) {
		errno = (int)err;
		return -1;
	}
	return (int)count;
}

static struct passwd entry;
static char record[1024];

/* Splits record[0..len) in place into entry; NULL with ENOENT if malformed. */
static struct passwd *parse(uint32_t len) {
	char *fields[7];
	char *p = record;
	record[len] = '\0';
	for (int i = 0; i < 7; i++) {
		fields[i] = p;
		char *colon = strchr(p, ':');
		if (i < 6) {
			if (colon == NULL) {
				errno = ENOENT;
				return NULL;
			}
			*colon = '\0';
			p = colon + 1;
		}
	}
	entry.pw_name = fields[0];
	entry.pw_passwd = fields[1];
	entry.pw_uid = (uid_t)strtoul(fields[2], NULL, 10);
	entry.pw_gid = (gid_t)strtoul(fields[3], NULL, 10);
	entry.pw_gecos = fields[4];
	entry.pw_dir = fields[5];
	entry.pw_shell = fields[6];
	return &entry;
}

static struct passwd *answer(uint32_t err, uint32_t len) {
	if (err) {
		/* POSIX: an absent entry is NULL with errno unchanged */
		if (err != ENOENT) errno = (int)err;
		return NULL;
	}
	return parse(len);
}

struct passwd *getpwnam(const char *name) {
	uint32_t len = 0;
	uint32_t err = __agentvm_getpwnam(name, (uint32_t)strlen(name), record, sizeof record - 1, &len);
	return answer(err, len);
}

struct passwd *getpwuid(uid_t uid) {
	uint32_t len = 0;
	uint32_t err = __agentvm_getpwuid(uid, record, sizeof record - 1, &len);
	return answer(err, len);
}

char *getlogin(void) {
	char *name = getenv("LOGNAME");
	if (name && *name) return name;
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : NULL;
}
