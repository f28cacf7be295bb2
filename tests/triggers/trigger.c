/* Test trigger: makes one kind of privileged call, for the capability tests (and the
 * syscall loops and the check storm of privmon-bench).
 * Built statically by the test harness so that it runs in a busybox container.
 * Prints "<name> rc=<rc> errno=<errno>" so that tests can tell what the kernel answered. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

/* bench getppid|setuid|mount N: N calls in a loop, in 5 repetitions of N/5; prints the
 * fastest repetition's time per call (the least disturbed by the rest of the machine) and
 * the mean. getppid makes no capability check (the cost of hooks on syscalls privmon does
 * not watch), setuid(0) as root makes one CAP_SETUID check, a tmpfs mount and unmount on
 * /mnt makes CAP_SYS_ADMIN checks and is on privmon's sensitive list (one event each). */
static int bench(const char *op, long n) {
    const int reps = 5;
    long per = n / reps > 0 ? n / reps : 1, ok = 0;
    double best = 0, total = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (long i = 0; i < per; i++) {
            if (!strcmp(op, "getppid"))
                ok += syscall(SYS_getppid) >= 0; /* 0 for a pid namespace's init */
            else if (!strcmp(op, "setuid"))
                ok += setuid(0) == 0;
            else if (!strcmp(op, "mount"))
                ok += mount("none", "/mnt", "tmpfs", MS_NOSUID, NULL) == 0 && umount2("/mnt", 0) == 0;
            else
                return 2;
        }
        double ns = (now_ns() - t0) / per;
        total += ns;
        if (r == 0 || ns < best)
            best = ns;
    }
    printf("bench %s calls=%ld ok=%ld ns=%.1f mean=%.1f\n", op, per * reps, ok, best, total / reps);
    fflush(stdout);
    return ok == per * reps ? 0 : 1;
}

/* storm SECONDS RATE: for SECONDS, fork children that each make a batch of setuid(0)
 * checks and exit, paced to RATE checks per second; prints how many checks were made. */
static int storm(double seconds, double rate) {
    const long batch = 100;
    long checks = 0, ok = 0, forks = 0;
    double t0 = now_ns();
    for (;;) {
        double elapsed = (now_ns() - t0) / 1e9;
        if (elapsed >= seconds)
            break;
        double ahead = checks / rate - elapsed;
        if (ahead > 0) {
            struct timespec d = {(time_t)ahead, (long)((ahead - (time_t)ahead) * 1e9)};
            nanosleep(&d, NULL);
            continue;
        }
        int fds[2];
        if (pipe(fds))
            return 1;
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            long n = 0;
            for (long i = 0; i < batch; i++)
                n += setuid(0) == 0;
            (void)!write(fds[1], &n, sizeof n);
            _exit(0);
        }
        long n = 0;
        close(fds[1]);
        (void)!read(fds[0], &n, sizeof n);
        close(fds[0]);
        waitpid(pid, NULL, 0);
        forks++;
        checks += batch;
        ok += n;
    }
    printf("storm checks=%ld ok=%ld forks=%ld seconds=%.1f\n", checks, ok, forks,
           (now_ns() - t0) / 1e9);
    fflush(stdout);
    return ok == checks ? 0 : 1;
}

/* One request submitted through io_uring with IOSQE_ASYNC, so that an io_uring worker
   thread (iou-wrk-*) runs it, not the submitting syscall; returns the completion's result
   (a negative errno), or -1000 - errno when io_uring cannot be used. */
static int io_uring_one(const struct io_uring_sqe *request)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = (int)syscall(SYS_io_uring_setup, 4, &p);
    if (fd < 0)
        return -1000 - errno;
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_SQ_RING);
    char *cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes =
        mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
        return -1000 - errno;
    unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
    unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    unsigned index = *tail & mask;
    struct io_uring_sqe *sqe = &sqes[index];
    *sqe = *request;
    sqe->flags |= IOSQE_ASYNC;
    array[index] = index;
    __atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);
    if (syscall(SYS_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
        return -1000 - errno;
    unsigned *head = (unsigned *)(cq + p.cq_off.head);
    struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    unsigned cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    int res = cqes[*head & cq_mask].res;
    __atomic_store_n(head, *head + 1, __ATOMIC_RELEASE);
    close(fd);
    return res;
}

/* An openat of PATH (O_RDONLY) through io_uring. */
static int io_uring_openat(const char *path)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_OPENAT;
    sqe.fd = AT_FDCWD;
    sqe.addr = (unsigned long)path;
    sqe.open_flags = O_RDONLY;
    return io_uring_one(&sqe);
}

/* A write of LEN bytes of BUF to FD at OFF (-1: the file's position) through io_uring;
   returns the bytes written or a negative errno, like write(2) and errno. */
static int io_uring_write(int fd, const char *buf, size_t len, long long off)
{
    struct io_uring_sqe sqe;
    memset(&sqe, 0, sizeof sqe);
    sqe.opcode = IORING_OP_WRITE;
    sqe.fd = fd;
    sqe.addr = (unsigned long)buf;
    sqe.len = (unsigned)len;
    sqe.off = (unsigned long long)off;
    int res = io_uring_one(&sqe);
    if (res < 0) {
        errno = res <= -1000 ? -(res + 1000) : -res;
        return -1;
    }
    return res;
}

/* A unix stream socket's address: PATH, or an abstract name for "@NAME". */
static socklen_t unix_address(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t len = strlen(path);
    if (len >= sizeof a->sun_path)
        len = sizeof a->sun_path - 1;
    memcpy(a->sun_path, path, len);
    if (path[0] == '@')
        a->sun_path[0] = 0;
    else
        len++;
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

static int report(const char *name, int rc) {
    printf("%s rc=%d errno=%d\n", name, rc, rc < 0 ? errno : 0);
    fflush(stdout);
    return 0;
}

/* setuid32 through the ia32 entry (int 0x80), as a 32-bit binary makes it: ia32's 213 is
   x86_64's epoll_create. Sets errno from the kernel's return like libc. */
static int ia32_setuid(unsigned uid) {
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(213L), "b"((long)uid) : "memory");
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return (int)ret;
#else
    (void)uid;
    errno = ENOSYS;
    return -1;
#endif
}

/* Opens /proc/<pid>/<file> of a child that runs as another user, reads it, and reports. */
static int open_other(const char *what, const char *file)
{
    int ready[2], done[2];
    if (pipe(ready) != 0 || pipe(done) != 0)
        return report("pipe", -1);
    pid_t child = fork();
    if (child == 0) {
        if (setuid(1000) != 0)
            _exit(1);
        close(done[1]);
        (void)!write(ready[1], "x", 1);
        /* Until the parent is done (no CAP_KILL to signal another user). */
        char c;
        (void)!read(done[0], &c, 1);
        _exit(0);
    }
    close(done[0]);
    char c, path[64], buf[1024];
    if (read(ready[0], &c, 1) != 1)
        return report("child", -1);
    snprintf(path, sizeof path, "/proc/%d/%s", child, file);
    int fd = open(path, O_RDONLY);
    int rc = fd < 0 ? fd : (strcmp(file, "mem") ? (int)read(fd, buf, sizeof buf) : 0);
    report(what, rc < 0 ? rc : 0);
    if (fd >= 0)
        close(fd);
    close(done[1]);
    waitpid(child, NULL, 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: trigger raw-socket|nice|fork-nice|unshare-mount|mount [N]|chroot|sethostname|setns-uts|setuid-loop N|open-by-handle|bpf-map|ptrace-other|userns|reboot-bad-magic|ids|release-agent|setns-pid-uts PID|module FILE NAME|kexec-unload|proc-stat-other|bench getppid|setuid|mount N|storm SECONDS RATE|setuid-to UID|setgid-to GID|setresuid R E S|userns-only|clone3-userns|ptrace-child|core-pattern|memfd-exec|setgroups G...|setfsuid UID|capset-drop CAP|capset-inherit CAP|io-uring-open PATH|sysctl-rewrite NAME|PATH [io-uring]|chroot-to PATH|append FILE LINE [io-uring]|ia32-setuid UID|chown FILE UID|read PATH|block-open PATH MAJOR MINOR|connect-unix PATH|io-uring-connect PATH\n");
        return 2;
    }
    const char *what = argv[1];
    if (!strcmp(what, "bench") && argc > 3)
        return bench(argv[2], strtol(argv[3], NULL, 10));
    if (!strcmp(what, "storm") && argc > 3)
        return storm(strtod(argv[2], NULL), strtod(argv[3], NULL));
    if (!strcmp(what, "raw-socket"))
        return report(what, socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    if (!strcmp(what, "nice"))
        return report(what, setpriority(PRIO_PROCESS, 0, -5));
    if (!strcmp(what, "fork-nice")) {
        /* A child that never execs (a busybox applet, a subshell, a server's worker) makes
           the check and exits at once; the parent waits for it. */
        pid_t child = fork();
        if (child == 0)
            _exit(report(what, setpriority(PRIO_PROCESS, 0, -5)));
        int status;
        waitpid(child, &status, 0);
        return 0;
    }
    if (!strcmp(what, "unshare-mount"))
        return report(what, unshare(CLONE_NEWNS));
    if (!strcmp(what, "clone-newns")) {
        /* A child in a new mount namespace: clone's own memory accounting asks for
         * CAP_SYS_ADMIN without auditing, CLONE_NEWNS asks for it audited. */
        long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid((pid_t)pid, NULL, 0);
        return report(what, pid < 0 ? -1 : 0);
    }
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
    if (!strcmp(what, "append") && argc > 3) {
        /* Appends a line to a file (echo LINE >> FILE, as a shell does). */
        int fd = open(argv[2], O_WRONLY | O_APPEND);
        if (fd < 0)
            return report(what, -1);
        /* append FILE LINE io-uring: the same write through io_uring (IORING_OP_WRITE). */
        int rc = argc > 4 && !strcmp(argv[4], "io-uring")
                     ? io_uring_write(fd, argv[3], strlen(argv[3]), -1)
                     : (int)write(fd, argv[3], strlen(argv[3]));
        close(fd);
        return report(what, rc < 0 ? -1 : 0);
    }
    if (!strcmp(what, "chown") && argc > 3)
        /* chown FILE UID: a root-owned file given away needs CAP_CHOWN (audited). The line
         * it prints comes after the call: a process killed at the check prints none. */
        return report(what, chown(argv[2], (uid_t)strtol(argv[3], NULL, 10), (gid_t)-1));
    if (!strcmp(what, "block-open") && argc > 4) {
        /* block-open PATH MAJOR MINOR: makes a block device node and opens it (the device
           cgroup may refuse the open: the attempt is what counts) */
        dev_t dev = makedev((unsigned)strtol(argv[3], NULL, 10), (unsigned)strtol(argv[4], NULL, 10));
        if (mknod(argv[2], S_IFBLK | 0600, dev) != 0 && errno != EEXIST)
            return report(what, -1);
        int fd = open(argv[2], O_RDONLY);
        if (fd >= 0)
            close(fd);
        return report(what, fd < 0 ? -1 : 0);
    }
    if (!strcmp(what, "read") && argc > 2) {
        /* read PATH: opens it and reads a little (another process's /proc/PID/mem reads at
           an address; environ from its start) */
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0)
            return report(what, -1);
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        /* mem at offset 0 is unmapped: EIO, the open is what counts */
        return report(what, n < 0 && errno != EIO ? -1 : 0);
    }
    if (!strcmp(what, "connect-unix") && argc > 2) {
        /* connect PATH (a runtime's socket, "@NAME" for an abstract one) */
        struct sockaddr_un a;
        socklen_t len = unix_address(&a, argv[2]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        return report(what, s < 0 ? -1 : connect(s, (struct sockaddr *)&a, len));
    }
    if (!strcmp(what, "io-uring-connect") && argc > 2) {
        /* the same connect through io_uring (IORING_OP_CONNECT, run by a worker) */
        struct sockaddr_un a;
        socklen_t len = unix_address(&a, argv[2]);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0)
            return report(what, -1);
        struct io_uring_sqe sqe;
        memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_CONNECT;
        sqe.fd = s;
        sqe.addr = (unsigned long)&a;
        sqe.off = len;
        int res = io_uring_one(&sqe);
        printf("%s res=%d\n", what, res);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(what, "chroot-to") && argc > 2)
        return report(what, chroot(argv[2]));
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
    if (!strcmp(what, "setns-pid-uts") && argc > 2) {
        /* Join the UTS namespace of process PID (a host process, in a host-pid container). */
        char path[64];
        snprintf(path, sizeof path, "/proc/%s/ns/uts", argv[2]);
        int fd = open(path, O_RDONLY);
        int rc = fd < 0 ? fd : setns(fd, CLONE_NEWUTS);
        report(what, rc);
        sleep(1);
        return 0;
    }
    if (!strcmp(what, "release-agent")) {
        /* Mount a named cgroup v1 hierarchy and set its release_agent (a CAP_SYS_ADMIN
         * check in write()), then go at once, as `echo /x > release_agent` in a shell
         * does: the file is gone from /proc before privmon reads the record. */
        int rc = mount("cgroup", "/mnt", "cgroup", 0, "none,name=privmontest");
        if (rc == 0) {
            int fd = open("/mnt/release_agent", O_WRONLY);
            rc = fd < 0 ? fd : (int)write(fd, "/x\n", 3);
            report(what, rc);
            if (fd >= 0)
                close(fd);
            umount("/mnt");
            return 0;
        }
        return report(what, rc);
    }
    if (!strcmp(what, "sysctl-rewrite") && argc > 2) {
        /* Writes a sysctl's current value back (the host keeps its setting): the write is
           what an escape through /proc/sys makes, whatever value it writes. NAME is under
           /proc/sys, or a path of its own (a bind mount of the host's /proc/sys/kernel). */
        char path[256], value[512];
        snprintf(path, sizeof path, argv[2][0] == '/' ? "%s" : "/proc/sys/%s", argv[2]);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return report(what, -1);
        ssize_t n = read(fd, value, sizeof value - 1);
        close(fd);
        if (n < 0)
            return report(what, -1);
        value[n] = 0;
        printf("sysctl-value %s", value);
        fd = open(path, O_WRONLY);
        if (fd < 0)
            return report(what, -1);
        /* sysctl-rewrite NAME io-uring: the same write through io_uring (IORING_OP_WRITE). */
        int rc = argc > 3 && !strcmp(argv[3], "io-uring") ? io_uring_write(fd, value, (size_t)n, 0)
                                                           : (int)write(fd, value, (size_t)n);
        close(fd);
        return report(what, rc < 0 ? -1 : 0);
    }
    if (!strcmp(what, "io-uring-open") && argc > 2) {
        /* A file no one may read (mode 000, root's): without CAP_DAC_OVERRIDE and
           CAP_DAC_READ_SEARCH the worker's open is refused. */
        int made = open(argv[2], O_CREAT | O_WRONLY, 0);
        if (made < 0 || fchmod(made, 0) != 0)
            return report(what, -1);
        close(made);
        int res = io_uring_openat(argv[2]);
        printf("%s res=%d\n", what, res);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(what, "ia32-setuid") && argc > 2)
        return report(what, ia32_setuid((unsigned)strtol(argv[2], NULL, 10)));
    if (!strcmp(what, "setuid-to") && argc > 2)
        return report(what, setuid((uid_t)strtol(argv[2], NULL, 10)));
    if (!strcmp(what, "setgid-to") && argc > 2)
        return report(what, setgid((gid_t)strtol(argv[2], NULL, 10)));
    if (!strcmp(what, "setresuid") && argc > 4)
        return report(what, setresuid((uid_t)strtol(argv[2], NULL, 10),
                                      (uid_t)strtol(argv[3], NULL, 10),
                                      (uid_t)strtol(argv[4], NULL, 10)));
    if (!strcmp(what, "ids")) {
        printf("ids uid=%d euid=%d gid=%d egid=%d\n", (int)getuid(), (int)geteuid(),
               (int)getgid(), (int)getegid());
        fflush(stdout);
        return 0;
    }
    if (!strcmp(what, "setgroups")) {
        gid_t groups[32];
        int n = 0;
        for (int i = 2; i < argc && n < 32; i++)
            groups[n++] = (gid_t)strtol(argv[i], NULL, 10);
        return report(what, (int)syscall(SYS_setgroups, n, groups));
    }
    if (!strcmp(what, "setfsuid") && argc > 2) {
        /* setfsuid answers with the previous fsuid, never an error: ask again to see. */
        int before = (int)syscall(SYS_setfsuid, (uid_t)strtol(argv[2], NULL, 10));
        int now = (int)syscall(SYS_setfsuid, -1);
        printf("setfsuid before=%d now=%d\n", before, now);
        fflush(stdout);
        return 0;
    }
    if (!strcmp(what, "capset-drop") && argc > 2) {
        /* Drops one capability from the effective and permitted sets (version 3 data). */
        struct { unsigned int version; int pid; } hdr = {0x20080522, 0};
        struct { unsigned int effective, permitted, inheritable; } data[2];
        if (syscall(SYS_capget, &hdr, data) != 0)
            return report("capget", -1);
        int cap = (int)strtol(argv[2], NULL, 10);
        data[cap / 32].effective &= ~(1u << (cap % 32));
        data[cap / 32].permitted &= ~(1u << (cap % 32));
        return report(what, (int)syscall(SYS_capset, &hdr, data));
    }
    if (!strcmp(what, "capset-inherit") && argc > 2) {
        /* Adds one capability to the inheritable set: refused (EPERM) unless it is in the
         * permitted set or the caller has CAP_SETPCAP. */
        struct { unsigned int version; int pid; } hdr = {0x20080522, 0};
        struct { unsigned int effective, permitted, inheritable; } data[2];
        if (syscall(SYS_capget, &hdr, data) != 0)
            return report("capget", -1);
        int cap = (int)strtol(argv[2], NULL, 10);
        data[cap / 32].inheritable |= 1u << (cap % 32);
        return report(what, (int)syscall(SYS_capset, &hdr, data));
    }
    if (!strcmp(what, "open-by-handle")) {
        /* A well-formed but bogus handle: the kernel checks CAP_DAC_READ_SEARCH first. */
        struct { unsigned int bytes; int type; unsigned char f[8]; } h = {8, 1, {0}};
        return report(what, (int)syscall(SYS_open_by_handle_at, AT_FDCWD, &h, O_RDONLY));
    }
    if (!strcmp(what, "bpf-map")) {
        /* BPF_MAP_CREATE of a one-entry array: needs CAP_BPF when unprivileged bpf is off. */
        union { struct { unsigned int type, key, value, max, flags; } a; char pad[128]; } attr;
        memset(&attr, 0, sizeof attr);
        attr.a.type = 2; /* BPF_MAP_TYPE_ARRAY */
        attr.a.key = 4;
        attr.a.value = 4;
        attr.a.max = 1;
        return report(what, (int)syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, &attr, sizeof attr));
    }
    if (!strcmp(what, "ptrace-other")) {
        /* Attach to a child that runs as another user: a CAP_SYS_PTRACE check. */
        pid_t child = fork();
        if (child == 0) {
            if (setuid(1000) != 0)
                _exit(1);
            pause();
            _exit(0);
        }
        usleep(200000);
        int rc = (int)ptrace(PTRACE_ATTACH, child, NULL, NULL);
        report(what, rc);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
    }
    if (!strcmp(what, "proc-stat-other"))
        /* /proc/<pid>/stat of another user's process: the kernel asks, without auditing,
         * for CAP_SYS_PTRACE to decide how much to show (a probe). */
        return open_other(what, "stat");
    if (!strcmp(what, "proc-mem-other"))
        /* /proc/<pid>/mem of another user's process: mm_access() asks for CAP_SYS_PTRACE,
         * audited (a use: reading another process's memory). */
        return open_other(what, "mem");
    if (!strcmp(what, "userns"))
        return report(what, unshare(CLONE_NEWUSER | CLONE_NEWNS));
    if (!strcmp(what, "userns-only"))
        /* A user namespace alone: no capability check (unprivileged user namespaces). */
        return report(what, unshare(CLONE_NEWUSER));
    if (!strcmp(what, "clone3-userns")) {
        /* clone3 with CLONE_NEWUSER: the flags are in memory, not in a register. */
        struct { unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack,
                 stack_size, tls; } args;
        memset(&args, 0, sizeof args);
        args.flags = CLONE_NEWUSER;
        args.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid == 0)
            _exit(0);
        if (pid > 0)
            waitpid((pid_t)pid, NULL, 0);
        return report(what, pid < 0 ? -1 : 0);
    }
    if (!strcmp(what, "ptrace-child")) {
        /* Attach to a child of the same user with the same capabilities: no capability
         * check at all (Yama, where present, lets a parent trace its child). */
        pid_t child = fork();
        if (child == 0) {
            pause();
            _exit(0);
        }
        usleep(100000);
        int rc = (int)ptrace(PTRACE_ATTACH, child, NULL, NULL);
        report(what, rc);
        sleep(1); /* the daemon finds the target's container meanwhile */
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
    }
    if (!strcmp(what, "memfd-exec")) {
        /* Copy this program into a memfd and run it from there (fileless execution): the
         * copy prints its ids and exits. */
        int in = open("/proc/self/exe", O_RDONLY);
        int mfd = (int)syscall(SYS_memfd_create, "payload", 0);
        if (in < 0 || mfd < 0)
            return report(what, -1);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(mfd, buf, (size_t)n) != n)
                return report(what, -1);
        char *args[] = {"trigger", "ids", NULL};
        char *env[] = {"PATH=/bin", NULL};
        fexecve(mfd, args, env);
        return report(what, -1);
    }
    if (!strcmp(what, "core-pattern")) {
        /* Open the host's core_pattern for writing (root needs no capability for it) and
         * close it unwritten: the open is what gives the escape away. */
        int fd = open("/proc/sys/kernel/core_pattern", O_WRONLY);
        report(what, fd);
        if (fd >= 0) {
            sleep(1); /* the daemon names the file from /proc/<pid>/fd meanwhile */
            close(fd);
        }
        return 0;
    }
    if (!strcmp(what, "reboot-bad-magic"))
        /* The CAP_SYS_BOOT check comes before the magic numbers, which are wrong: EINVAL
         * at best, nothing is rebooted. */
        return report(what, (int)syscall(SYS_reboot, 0x1234, 0x5678, 0, NULL));
    if (!strcmp(what, "module") && argc > 3) {
        /* Loads the module file argv[2] (xz-compressed if it ends in .xz: the kernel
         * decompresses it) and unloads it by name, argv[3]. */
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return report("open", fd);
        int flags = strstr(argv[2], ".xz") ? 4 /* MODULE_INIT_COMPRESSED_FILE */ : 0;
        report("finit_module", (int)syscall(SYS_finit_module, fd, "", flags));
        report("delete_module", (int)syscall(SYS_delete_module, argv[3], O_NONBLOCK));
        /* privmon names the module file from /proc/<pid>/fd while the process lives: keep
         * it open a while (a loader that exits at once is reported with a null path). */
        sleep(2);
        return 0;
    }
    if (!strcmp(what, "kexec-unload"))
        /* No segments: unloads the (absent) crash-free kexec image; harmless with
         * CAP_SYS_BOOT, EPERM without. */
        return report(what, (int)syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
    fprintf(stderr, "unknown trigger %s\n", what);
    return 2;
}
