/*
 * LD_PRELOAD shim for tests/test_clock_shift.py: moves the wall clock (CLOCK_REALTIME,
 * gettimeofday, time) of a process and its children by WALLCLOCK_SHIFT_S seconds and
 * leaves the monotonic clock alone, so dates move while sleeps and lock timeouts (which
 * wait on the kernel's monotonic clock) keep their length.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long shift_s(void) {
    static long long shift = -1;
    if (shift < 0) {
        const char *value = getenv("WALLCLOCK_SHIFT_S");
        shift = value ? atoll(value) : 0;
    }
    return shift;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int result = real(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += shift_s();
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    static int (*real)(struct timeval *, void *);
    if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int result = real(tv, tz);
    if (result == 0 && tv) tv->tv_sec += shift_s();
    return result;
}

time_t time(time_t *out) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (out) *out = now.tv_sec;
    return now.tv_sec;
}
