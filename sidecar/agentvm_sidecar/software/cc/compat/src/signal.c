/* kill, signal sets, masks and dispositions over host_process.

   The kernel delivers signals with their default action only: the host ABI has
   no way to run a guest handler. So masks are real (they reach the kernel, which
   holds blocked signals pending, and children inherit them) while sigaction only
   records the disposition in wasi-libc's signal() table (libwasi-emulated-signal),
   where raise() finds it. sigsuspend cannot wait for a handler that never runs:
   it reports ENOSYS. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "host_process.h"

#define VALID(sig) ((sig) >= 1 && (sig) <= 64)
#define BIT(sig) (1ULL << ((sig) - 1))

static int fail(uint32_t err) {
	errno = (int)err;
	return -1;
}

int kill(pid_t pid, int sig) {
	uint32_t err = __agentvm_proc_kill(pid, sig);
	return err ? fail(err) : 0;
}

int killpg(pid_t pgrp, int sig) {
	if (pgrp <= 1) return fail(EINVAL);
	return kill(-pgrp, sig);
}

int sigemptyset(sigset_t *set) {
	set->__bits = 0;
	return 0;
}

int sigfillset(sigset_t *set) {
	set->__bits = ~0ULL;
	return 0;
}

int sigaddset(sigset_t *set, int sig) {
	if (!VALID(sig)) return fail(EINVAL);
	set->__bits |= BIT(sig);
	return 0;
}

int sigdelset(sigset_t *set, int sig) {
	if (!VALID(sig)) return fail(EINVAL);
	set->__bits &= ~BIT(sig);
	return 0;
}

int sigismember(const sigset_t *set, int sig) {
	if (!VALID(sig)) return fail(EINVAL);
	return (set->__bits & BIT(sig)) != 0;
}

int sigprocmask(int how, const sigset_t *restrict set, sigset_t *restrict old) {
	uint32_t lo, hi;
	uint32_t err;
	if (set == NULL) {
		err = __agentvm_proc_signal_mask(AGENTVM_SPAWN_SIGMASK_QUERY, 0, 0, &lo, &hi);
	} else {
		if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return fail(EINVAL);
		err = __agentvm_proc_signal_mask((uint32_t)how, (uint32_t)set->__bits, (uint32_t)(set->__bits >> 32), &lo, &hi);
	}
	if (err) return fail(err);
	if (old) old->__bits = lo | (unsigned long long)hi << 32;
	return 0;
}

int pthread_sigmask(int how, const sigset_t *restrict set, sigset_t *restrict old) {
	return sigprocmask(how, set, old) < 0 ? errno : 0;
}

int sigpending(sigset_t *set) {
	/* XX: the host ABI cannot report pending signals; none are reported */
	set->__bits = 0;
	return 0;
}

int sigsuspend(const sigset_t *mask) {
	(void)mask;
	return fail(ENOSYS);
}

int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict old) {
	if (!VALID(sig) || ((sig == SIGKILL || sig == SIGSTOP) && act != NULL)) return fail(EINVAL);
	void (*previous)(int);
	if (act != NULL) {
		previous = signal(sig, act->sa_handler);
	} else {
		previous = signal(sig, SIG_DFL);
		if (previous != SIG_ERR) signal(sig, previous);
	}
	if (previous == SIG_ERR) {
		/* the emulation keeps no table for SIGKILL/SIGSTOP: their action is the default */
		if (sig != SIGKILL && sig != SIGSTOP) return -1;
		previous = SIG_DFL;
	}
	if (old) {
		memset(old, 0, sizeof *old);
		old->sa_handler = previous;
	}
	return 0;
}

int siginterrupt(int sig, int flag) {
	(void)flag;
	return VALID(sig) ? 0 : fail(EINVAL);
}
