"""OS-level confinement of a query worker: no network, and a ceiling on its memory.

A query worker that runs an operation without an allowlisted SERVICE or LOAD target is
confined before it opens the store, while it is still single-threaded:

* **its own network namespace** (``unshare(CLONE_NEWNET)``; as an unprivileged user together
  with a new user namespace). The namespace has only a loopback interface, and it is down: every
  connection fails, to 127.0.0.1 as to anywhere else, and so does every name lookup;
* **a seccomp filter** that lets ``socket(2)`` create Unix sockets only (the worker's pipe to
  the server is one); any other address family fails with EACCES. It holds where namespaces are
  not allowed (a container without CAP_SYS_ADMIN or user namespaces); x86-64 and AArch64.

Either control alone keeps the worker off the network. :func:`confine` applies what the OS
allows and then checks that a TCP connection to 127.0.0.1 fails; :func:`confined` reports it.
The memory ceiling is ``RLIMIT_DATA`` (heap, anonymous maps, thread stacks; not the store's
memory-mapped files): an allocation past it fails and the worker exits, never the server.
"""
from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import socket
import struct

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
# (AUDIT_ARCH_*, __NR_socket) per machine
ARCHES = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}
X32_SYSCALL_BIT = 0x40000000


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def enter_network_namespace() -> bool:
    """Move this (single-threaded) process into a new, empty network namespace."""
    libc = _libc()
    return libc.unshare(CLONE_NEWNET) == 0 or libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0


def _socket_filter(arch: int, socket_nr: int) -> list[tuple[int, int, int, int]]:
    """Classic BPF: socket(domain, …) with domain != AF_UNIX fails with EACCES; so does every
    call of another ABI (x32, 32-bit compat), which could reach socket() by another number."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    deny = SECCOMP_RET_ERRNO | errno.EACCES
    return [
        (ld_abs, 0, 0, 4),                      # A = seccomp_data.arch
        (jeq, 1, 0, arch),                      # native ABI? skip the deny
        (ret, 0, 0, deny),
        (ld_abs, 0, 0, 0),                      # A = seccomp_data.nr
        (jge, 5, 0, X32_SYSCALL_BIT),           # x32 numbers: deny
        (jeq, 0, 3, socket_nr),                 # not socket(): allow
        (ld_abs, 0, 0, 16),                     # A = low 32 bits of args[0], the domain
        (jeq, 1, 0, socket.AF_UNIX),
        (ret, 0, 0, deny),
        (ret, 0, 0, SECCOMP_RET_ALLOW),
        (ret, 0, 0, deny),
    ]


def deny_network_sockets() -> bool:
    """Install the seccomp filter on this process (inherited by threads started later)."""
    spec = ARCHES.get(platform.machine())
    if spec is None or struct.calcsize("P") != 8:
        return False
    program = _socket_filter(*spec)
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def network_reachable() -> bool:
    """Whether this process can open a TCP connection attempt to 127.0.0.1 at all (a refused
    connection counts as reachable: something answered)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            probe.connect(("127.0.0.1", 9))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return True


def confine() -> dict[str, bool]:
    """Apply every control the OS allows; report which held and whether the network is shut."""
    status = {"network_namespace": enter_network_namespace(), "seccomp": deny_network_sockets()}
    status["confined"] = not network_reachable()
    return status


def limit_memory(mebibytes: int) -> None:
    limit = mebibytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def physical_memory() -> int:
    """Bytes of RAM on this machine (0 when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def probe(timeout: float = 30.0) -> dict:
    """Confine a throwaway child process and report what held (the server's start-up check)."""
    from multiprocessing.connection import Pipe

    from .child import Child
    parent, child = Pipe()
    try:
        process = Child("tdkg-sandbox-probe", f"{__name__}:_probe_child", child)
    except OSError:
        parent.close()
        return {"confined": False}
    finally:
        child.close()
    try:
        return parent.recv() if parent.poll(timeout) else {"confined": False}
    except (EOFError, OSError):
        return {"confined": False}
    finally:
        process.kill()
        process.join(5)
        parent.close()


def _probe_child(conn) -> None:
    conn.send(confine())
