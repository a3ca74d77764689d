#ifndef RIGD_SHIMS_H
#define RIGD_SHIMS_H

#include <stdint.h>

/// prctl(PR_SET_TIMERSLACK, ns) for the calling thread; prctl is variadic, so Swift cannot call it.
/// Returns 0 on success, -1 with errno set.
int rigd_set_timerslack_ns(unsigned long ns);

/// The calling thread's kernel thread id (gettid), for logs and scheduling.
int rigd_gettid(void);

/// Sets SCHED_FIFO with the given priority on the calling thread. Returns 0 or an errno value.
int rigd_set_fifo(int priority);

/// Names the calling thread (at most 15 characters are kept by the kernel).
void rigd_set_thread_name(const char *name);

/// The git commit rigd was built from, as scripts/build-release wrote it into build_commit.h, or "unknown" for a build
/// made without it.
const char *rigd_git_commit(void);

#endif
