/* Test trigger: makes one kind of privileged call, for the capability tests.
 * Built statically by the test harness so that it runs in a busybox container.
 * Prints "<name> rc=<rc> errno=<errno>" so that tests can tell what the kernel answered. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int report(const char *name, int rc) {
    printf("%s rc=%d errno=%d\n", name, rc, rc < 0 ? errno : 0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: trigger raw-socket|nice|unshare-mount|mount [N]|chroot|sethostname|setns-uts|setuid-loop N\n");
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "raw-socket"))
        return report(what, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    if (!strcmp(what, "nice"))
        return report(what, setpriority(PRIO_PROCESS, 0, -5));
    if (!strcmp(what, "unshare-mount"))
        return report(what, unshare(CLONE_NEWNS));
    if (!strcmp(what, "mount")) {
        /* mount [N]: N times mount a tmpfs on /mnt and unmount it again. */
        long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1;
        int rc = 0;
        for (long i = 0; i < n && rc == 0; i++) {
            rc = mount("none", "/mnt", "tmpfs", MS_NOSUID, NULL);
            if (rc == 0 && n > 1)
                rc = umount2("/mnt", 0);
        }
        return report(what, rc);
    }
    if (!strcmp(what, "chroot"))
        return report(what, chroot("/tmp"));
    if (!strcmp(what, "sethostname"))
        return report(what, sethostname("escaped", 7));
    if (!strcmp(what, "setns-uts")) {
        /* Re-join its own UTS namespace: a CAP_SYS_ADMIN check on an fd kept open. */
        int fd = open("/proc/self/ns/uts", O_RDONLY);
        int rc = fd < 0 ? fd : setns(fd, CLONE_NEWUTS);
        report(what, rc);
        /* Keep the fd open a while: privmon reads which namespace it is from /proc. */
        sleep(1);
        return 0;
    }
    if (!strcmp(what, "setuid-loop")) {
        long n = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
        long ok = 0;
        for (long i = 0; i < n; i++)
            ok += setuid(0) == 0;
        printf("setuid-loop calls=%ld ok=%ld\n", n, ok);
        fflush(stdout);
        return ok == n ? 0 : 1;
    }
    fprintf(stderr, "unknown trigger %s\n", what);
    return 2;
}
