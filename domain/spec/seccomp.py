"""Seccomp: the runtime's default profile (RuntimeDefault) and the node's own (Localhost).

The default profile follows containerd's and Docker's: every syscall not listed fails with
EPERM; the allow list covers what ordinary programs use, and each capability a container
holds unlocks the syscalls that capability guards (CAP_SYS_ADMIN: mount, unshare, setns,
namespace-creating clone; CAP_SYS_PTRACE: ptrace; ...). Without CAP_SYS_ADMIN, `clone3`
fails with ENOSYS, so that libc falls back to `clone`, whose namespace flags are filtered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.errors import InvalidArgument
from domain.model import LOCALHOST, RUNTIME_DEFAULT, UNCONFINED, SecurityProfile
from domain.spec.pipeline import Spec, Step, linux, process
from domain.validation.text import quote

EPERM = 1
ENOSYS = 38

# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
# | CLONE_NEWNET: the flags `clone` may not carry without CAP_SYS_ADMIN.
CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NAMESPACE_FLAGS |= 0x20000000 | 0x40000000

ARCHITECTURES = {
    "amd64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "arm64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}
ARCH_SYSCALLS = {"amd64": ("arch_prctl", "modify_ldt"), "arm64": ()}

ALLOWED = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir",
    "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
    "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
    "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
    "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
    "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
    "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom",
    "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
    "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
)  # fmt: skip

# Syscalls a capability in the bounding set unlocks.
BY_CAPABILITY: Mapping[str, tuple[str, ...]] = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": (
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
        "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
        "setns", "syslog", "umount", "umount2", "unshare",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": (
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
        "ptrace",
    ),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy"),
    "CAP_SYSLOG": ("syslog",),
}  # fmt: skip

# personality(2) personas a container may switch to: PER_LINUX, PER_LINUX32, query.
PERSONAS = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)


def _allow(names: Sequence[str], *args: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": list(names), "action": "SCMP_ACT_ALLOW"}
    if args:
        rule["args"] = list(args)
    return rule


def default_profile(bounding: Sequence[str], arch: str) -> dict[str, Any]:
    """The RuntimeDefault profile for a process whose bounding set is `bounding`."""
    rules = [_allow([*ALLOWED, *ARCH_SYSCALLS.get(arch, ())])]
    rules += [
        _allow(["personality"], {"index": 0, "value": persona, "op": "SCMP_CMP_EQ"})
        for persona in PERSONAS
    ]
    unlocked = sorted({name for cap in bounding for name in BY_CAPABILITY.get(cap, ())})
    if unlocked:
        rules.append(_allow(unlocked))
    if "CAP_SYS_ADMIN" not in bounding:
        flags = {"index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0}
        rules.append(_allow(["clone"], {**flags, "op": "SCMP_CMP_MASKED_EQ"}))
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "architectures": list(ARCHITECTURES.get(arch, ())),
        "syscalls": rules,
    }


def check_profile(profile: SecurityProfile) -> None:
    """InvalidArgument for a profile type the runtime does not know, or a misplaced ref."""
    if profile.kind not in (RUNTIME_DEFAULT, UNCONFINED, LOCALHOST):
        raise InvalidArgument(f"unknown seccomp profile type {quote(profile.kind)}")
    if profile.kind != LOCALHOST and profile.localhost_ref:
        raise InvalidArgument("seccomp localhost_ref must only be set for a Localhost profile")
    if profile.kind == LOCALHOST and not profile.localhost_ref.startswith("/"):
        raise InvalidArgument(
            f"seccomp Localhost profile path {quote(profile.localhost_ref)} must be absolute"
        )


def with_unconfined_seccomp(spec: Spec) -> None:
    linux(spec).pop("seccomp", None)


def with_seccomp(
    profile: SecurityProfile,
    privileged: bool,
    arch: str,
    localhost: Mapping[str, Any] | None = None,
) -> Step:
    """The seccomp profile the CRI asks for, as containerd's CRI applies it.

    Privileged and Unconfined run without seccomp; RuntimeDefault gets `default_profile` for
    the capabilities the spec holds when this step runs (so it comes after them);
    Localhost gets `localhost`, the node's profile file as read by the caller.
    """
    check_profile(profile)
    if privileged or profile.kind == UNCONFINED:
        return with_unconfined_seccomp
    if profile.kind == LOCALHOST:
        if localhost is None:
            raise InvalidArgument(f"seccomp profile {quote(profile.localhost_ref)} was not loaded")
        loaded = dict(localhost)

        def step_localhost(spec: Spec) -> None:
            linux(spec)["seccomp"] = loaded

        return step_localhost

    def step_default(spec: Spec) -> None:
        bounding = process(spec).get("capabilities", {}).get("bounding", [])
        linux(spec)["seccomp"] = default_profile(bounding, arch)

    return step_default
