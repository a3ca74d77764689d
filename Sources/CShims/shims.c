#define _GNU_SOURCE
#include "rigd_shims.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int rigd_set_timerslack_ns(unsigned long ns) {
    return prctl(PR_SET_TIMERSLACK, ns, 0, 0, 0);
}

int rigd_gettid(void) {
    return (int)syscall(SYS_gettid);
}

int rigd_set_fifo(int priority) {
    struct sched_param param;
    memset(&param, 0, sizeof(param));
    param.sched_priority = priority;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

void rigd_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = 0;
    pthread_setname_np(pthread_self(), buf);
}

// scripts/build-release writes build_commit.h (not in git) with the commit it builds; a debug build (SwiftPM defines
// DEBUG) does not take it, as it may be of another commit by then.
#if !defined(DEBUG) && __has_include("build_commit.h")
#include "build_commit.h"
#endif
#ifndef RIGD_GIT_COMMIT
#define RIGD_GIT_COMMIT "unknown"
#endif

const char *rigd_git_commit(void) {
    return RIGD_GIT_COMMIT;
}
