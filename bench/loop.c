/* Syscall loop for `cargo xtask bench`: prints "<op> <ns per call>".
 * getppid makes no capability check (the cost of hooks on unrelated syscalls);
 * setuid(0) as root makes exactly one CAP_SETUID check per call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: loop getppid|setuid N\n");
        return 2;
    }
    long n = atol(argv[2]);
    int setuid_loop = !strcmp(argv[1], "setuid");
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        if (setuid_loop)
            setuid(0);
        else
            syscall(SYS_getppid);
    }
    printf("%s %.1f\n", argv[1], (now_ns() - t0) / n);
    return 0;
}
