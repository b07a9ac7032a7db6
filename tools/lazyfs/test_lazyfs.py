"""Tests for lazyfs: each test mounts a fresh lazyfs over a temporary backing dir.

Run: python3 -m pytest -q tools/lazyfs/test_lazyfs.py   (as root; needs /dev/fuse)
"""

import ctypes
import errno
import fcntl
import json
import mmap
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
LAZYFS = os.path.join(HERE, "lazyfs.py")
LAZYFSCTL = os.path.join(HERE, "lazyfsctl.py")
sys.path.insert(0, HERE)
import lazyfsctl  # noqa: E402


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Mount:
    def __init__(self, base, args=()):
        self.backing = os.path.join(base, "backing")
        self.mnt = os.path.join(base, "mnt")
        self.logpath = os.path.join(base, "lazyfs.log")
        self.args = list(args)
        os.makedirs(self.backing, exist_ok=True)
        os.makedirs(self.mnt, exist_ok=True)
        self.proc = None

    def start(self):
        assert os.path.exists("/dev/fuse"), "/dev/fuse is missing: lazyfs cannot be tested here"
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, LAZYFS, self.backing, self.mnt] + self.args,
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("lazyfs exited with %s:\n%s" % (self.proc.returncode, self.logtext()))
            if is_mounted(self.mnt) and os.path.exists(self.p(".lazyfs-control")):
                return self
            time.sleep(0.05)
        self.proc.kill()
        pytest.fail("lazyfs did not mount within 20 s:\n" + self.logtext())

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.log.close()
        if is_mounted(self.mnt):
            subprocess.run(["umount", "-l", self.mnt], check=False)
            pytest.fail("lazyfs left %s mounted:\n%s" % (self.mnt, self.logtext()))
        assert proc.returncode == 0, "lazyfs exit status %s:\n%s" % (proc.returncode, self.logtext())
        text = self.logtext()
        assert "Traceback" not in text and "internal error" not in text, text

    def restart(self):
        self.stop()
        return self.start()

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def p(self, *parts):
        return os.path.join(self.mnt, *parts)

    def b(self, *parts):
        return os.path.join(self.backing, *parts)

    def cut(self):
        assert lazyfsctl.command(self.mnt, "cut")["ok"]

    def sync(self):
        assert lazyfsctl.command(self.mnt, "sync")["ok"]

    def status(self):
        return lazyfsctl.command(self.mnt, "status")


@pytest.fixture
def lazy(tmp_path):
    m = Mount(str(tmp_path)).start()
    try:
        yield m
    finally:
        m.stop()
    assert not os.path.exists(m.b(".lazyfs-orphans")), "orphan store left in the backing dir"


@pytest.fixture
def lazy_pc(tmp_path):
    m = Mount(str(tmp_path), ["--page-cache"]).start()
    try:
        yield m
    finally:
        m.stop()


# ---------------------------------------------------------------- helpers

def write(path, data, fsync=False, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, flags, 0o644)
    try:
        n = 0
        while n < len(data):
            n += os.write(fd, data[n:])
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read(path):
    """A fresh open + read (what a process started after the cut would see)."""
    with open(path, "rb") as f:
        return f.read()


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tree(root):
    """Everything under root, comparable: relpath -> description."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            r = os.path.normpath(os.path.join(rel, name))
            if r in (".lazyfs-control", ".lazyfs-orphans"):
                continue
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[r] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[r] = ("d", stat.S_IMODE(st.st_mode))
            else:
                out[r] = ("f", stat.S_IMODE(st.st_mode), read(p))
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


# ------------------------------------------------------------------ data

def test_write_then_cut_is_gone(lazy):
    write(lazy.p("old"), "durable")
    lazy.sync()  # setup: make it durable
    write(lazy.p("old"), "pending!!", flags=os.O_WRONLY)
    write(lazy.p("new"), "never synced")
    assert read(lazy.p("old")) == b"pending!!"
    assert os.path.getsize(lazy.p("old")) == 9
    assert read(lazy.p("new")) == b"never synced"
    # the backing directory (the disk) has not seen any of it
    assert read(lazy.b("old")) == b"durable"
    assert not os.path.exists(lazy.b("new"))
    st = lazy.status()
    assert st["pending_bytes"] == 9 + 12 and st["pending_files"] == 2 and st["pending_name_ops"] == 1
    lazy.cut()
    assert read(lazy.p("old")) == b"durable"
    assert os.stat(lazy.p("old")).st_size == 7
    assert not os.path.exists(lazy.p("new"))
    assert sorted(os.listdir(lazy.mnt)) == ["old"]
    st = lazy.status()
    assert st["pending_bytes"] == 0 and st["cuts"] == 1


def test_write_fsync_cut_survives(lazy):
    write(lazy.p("f"), "hello world", fsync=True)
    fsync_dir(lazy.mnt)
    write(lazy.p("f"), "HELLO", flags=os.O_WRONLY)  # overwrite prefix, not synced
    assert read(lazy.p("f")) == b"HELLO world"
    assert read(lazy.b("f")) == b"hello world"
    lazy.cut()
    assert read(lazy.p("f")) == b"hello world"
    # fdatasync counts as well
    fd = os.open(lazy.p("f"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"!")
    os.fdatasync(fd)
    os.close(fd)
    lazy.cut()
    assert read(lazy.p("f")) == b"hello world!"
    # and it is on the backing disk, and survives a restart of lazyfs
    assert read(lazy.b("f")) == b"hello world!"
    lazy.restart()
    assert read(lazy.p("f")) == b"hello world!"


def test_name_needs_dir_fsync_data_needs_file_fsync(lazy):
    # created + written + fsynced file, directory never fsynced: vanishes
    write(lazy.p("a"), "data a", fsync=True)
    lazy.cut()
    assert not os.path.exists(lazy.p("a"))
    # directory fsynced but not the file: the name survives, the data does not
    write(lazy.p("b"), "data b")
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert os.path.exists(lazy.p("b")) and read(lazy.p("b")) == b""
    # file fsynced first, directory fsynced later: both survive
    write(lazy.p("c"), "data c", fsync=True)
    write(lazy.p("other"), "x")
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert read(lazy.p("c")) == b"data c"
    assert read(lazy.p("other")) == b""
    assert sorted(os.listdir(lazy.mnt)) == ["b", "c", "other"]


def test_truncate_semantics(lazy):
    orig = bytes(range(100))
    write(lazy.p("t"), orig)
    lazy.sync()
    os.truncate(lazy.p("t"), 10)
    assert os.path.getsize(lazy.p("t")) == 10
    os.truncate(lazy.p("t"), 50)  # grows again: the gap must be zeros, not old data
    assert read(lazy.p("t")) == orig[:10] + bytes(40)
    lazy.cut()
    assert read(lazy.p("t")) == orig
    # shrink, write past the end (hole), fsync: exact content is durable
    fd = os.open(lazy.p("t"), os.O_RDWR)
    os.ftruncate(fd, 20)
    os.pwrite(fd, b"XY", 30)
    assert os.fstat(fd).st_size == 32
    os.fsync(fd)
    os.ftruncate(fd, 5)  # pending again
    os.close(fd)
    assert read(lazy.p("t")) == orig[:5]
    lazy.cut()
    assert read(lazy.p("t")) == orig[:20] + bytes(10) + b"XY"
    assert read(lazy.b("t")) == orig[:20] + bytes(10) + b"XY"
    # O_TRUNC is a pending truncation too
    write(lazy.p("t"), "short", flags=os.O_WRONLY | os.O_TRUNC)
    assert read(lazy.p("t")) == b"short"
    lazy.cut()
    assert os.path.getsize(lazy.p("t")) == 32


def test_big_file_offsets_partially_fsynced(lazy):
    rnd = random.Random(7)
    size = 24 << 20
    base = rnd.randbytes(size)
    for name in ("x", "y"):
        write(lazy.p(name), base, fsync=True)
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert read(lazy.p("x")) == base
    expect_x = bytearray(base)
    expect_y = bytearray(base)
    fdx = os.open(lazy.p("x"), os.O_RDWR)
    fdy = os.open(lazy.p("y"), os.O_RDWR)
    for i in range(300):
        off = rnd.randrange(0, size + 4096)
        chunk = rnd.randbytes(rnd.choice((1, 100, 4096, 70000)))
        for fd, exp in ((fdx, expect_x), (fdy, expect_y)):
            os.pwrite(fd, chunk, off)
            if off > len(exp):
                exp.extend(bytes(off - len(exp)))
            exp[off:off + len(chunk)] = chunk
        if i == 150:
            os.fsync(fdx)
            synced_x = bytes(expect_x)
    os.close(fdx)
    os.close(fdy)
    assert read(lazy.p("x")) == bytes(expect_x)
    assert read(lazy.p("y")) == bytes(expect_y)
    lazy.cut()
    assert read(lazy.p("x")) == synced_x  # exactly what the fsync saw
    assert read(lazy.p("y")) == base  # untouched


def test_sync_file_range_is_not_durable(lazy):
    """sync_file_range(2) never reaches the file system (no FUSE request): it is
    not a durability barrier (on ext4 neither: no metadata, no disk cache flush).
    sled 0.34 relies on it after each log write; only its periodic fsync counts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    write(lazy.p("log"), "", fsync=True)
    fsync_dir(lazy.mnt)
    fd = os.open(lazy.p("log"), os.O_RDWR)
    os.pwrite(fd, b"segment", 0)
    assert libc.sync_file_range(fd, 0, 7, 1 | 2 | 4) == 0, os.strerror(ctypes.get_errno())
    os.close(fd)
    assert lazy.status()["pending_bytes"] == 7
    lazy.cut()
    assert read(lazy.p("log")) == b""


def test_random_data_ops_against_model(lazy):
    """Random pwrite/truncate/fsync/cut on a few files, compared with a model."""
    rnd = random.Random(1234)
    names = ["m0", "m1", "m2"]
    for n in names:
        write(lazy.p(n), b"")
    fsync_dir(lazy.mnt)
    cur = {n: bytearray() for n in names}
    dur = {n: b"" for n in names}
    fds = {n: os.open(lazy.p(n), os.O_RDWR) for n in names}
    for step in range(1500):
        n = rnd.choice(names)
        op = rnd.random()
        if op < 0.6:
            off = rnd.randrange(0, 200000)
            data = rnd.randbytes(rnd.randrange(1, 9000))
            os.pwrite(fds[n], data, off)
            c = cur[n]
            if off > len(c):
                c.extend(bytes(off - len(c)))
            c[off:off + len(data)] = data
        elif op < 0.75:
            sz = rnd.randrange(0, 220000)
            os.ftruncate(fds[n], sz)
            c = cur[n]
            if sz < len(c):
                del c[sz:]
            else:
                c.extend(bytes(sz - len(c)))
        elif op < 0.9:
            os.fsync(fds[n])
            dur[n] = bytes(cur[n])
        elif op < 0.97:
            off = rnd.randrange(0, 220000)
            ln = rnd.randrange(1, 50000)
            assert os.pread(fds[n], ln, off) == bytes(cur[n][off:off + ln]), step
        else:
            for fd in fds.values():
                os.close(fd)
            lazy.cut()
            for m in names:
                assert read(lazy.p(m)) == dur[m], (step, m)
                cur[m] = bytearray(dur[m])
            fds = {m: os.open(lazy.p(m), os.O_RDWR) for m in names}
    for m in names:
        assert os.fstat(fds[m]).st_size == len(cur[m])
        assert read(lazy.p(m)) == bytes(cur[m])
        os.close(fds[m])
    lazy.cut()
    for m in names:
        assert read(lazy.p(m)) == dur[m]


# ----------------------------------------------------------------- names

def test_rename_needs_dir_fsync(lazy):
    write(lazy.p("a"), "old a", fsync=True)
    fsync_dir(lazy.mnt)
    # the classic atomic replace: write tmp, fsync tmp, rename over a
    write(lazy.p("a.tmp"), "new a", fsync=True)
    fsync_dir(lazy.mnt)
    os.rename(lazy.p("a.tmp"), lazy.p("a"))
    assert read(lazy.p("a")) == b"new a" and not os.path.exists(lazy.p("a.tmp"))
    lazy.cut()  # no fsync of the directory after the rename: undone
    assert read(lazy.p("a")) == b"old a"
    assert read(lazy.p("a.tmp")) == b"new a"
    os.rename(lazy.p("a.tmp"), lazy.p("a"))
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert read(lazy.p("a")) == b"new a"
    assert not os.path.exists(lazy.p("a.tmp"))
    assert os.listdir(lazy.backing) == ["a"]


def test_cross_directory_rename(lazy):
    os.mkdir(lazy.p("A"))
    os.mkdir(lazy.p("B"))
    write(lazy.p("A", "f"), "payload", fsync=True)
    os.mkdir(lazy.p("A", "sub"))
    write(lazy.p("A", "sub", "g"), "in sub", fsync=True)
    lazy.sync()
    assert lazy.status()["pending_dirs"] == 0
    # file: fsync of the destination only -> reachable under both names
    os.rename(lazy.p("A", "f"), lazy.p("B", "f"))
    fsync_dir(lazy.p("B"))
    lazy.cut()
    assert read(lazy.p("A", "f")) == b"payload" and read(lazy.p("B", "f")) == b"payload"
    assert os.stat(lazy.p("A", "f")).st_nlink == 2
    # file: fsync of the source only -> lost
    os.unlink(lazy.p("B", "f"))
    fsync_dir(lazy.p("B"))
    os.rename(lazy.p("A", "f"), lazy.p("B", "f"))
    fsync_dir(lazy.p("A"))
    lazy.cut()
    assert not os.path.exists(lazy.p("A", "f")) and not os.path.exists(lazy.p("B", "f"))
    # directory: fsync of the destination moves it (one name only)
    os.rename(lazy.p("A", "sub"), lazy.p("B", "sub2"))
    lazy.cut()
    assert read(lazy.p("A", "sub", "g")) == b"in sub" and not os.path.exists(lazy.p("B", "sub2"))
    os.rename(lazy.p("A", "sub"), lazy.p("B", "sub2"))
    fsync_dir(lazy.p("B"))
    lazy.cut()
    assert read(lazy.p("B", "sub2", "g")) == b"in sub"
    assert os.listdir(lazy.p("A")) == []


def test_rename_overwrite_and_exchange_rules(lazy):
    os.mkdir(lazy.p("d1"))
    os.mkdir(lazy.p("d2"))
    write(lazy.p("d2", "x"), "x")
    write(lazy.p("f"), "f")
    with pytest.raises(OSError) as e:
        os.rename(lazy.p("d1"), lazy.p("d2"))
    assert e.value.errno in (errno.ENOTEMPTY, errno.EEXIST)
    with pytest.raises(IsADirectoryError):
        os.rename(lazy.p("f"), lazy.p("d1"))
    with pytest.raises(NotADirectoryError):
        os.rename(lazy.p("d1"), lazy.p("f"))
    with pytest.raises(OSError) as e:
        os.rename(lazy.p("d1"), lazy.p("d1", "inside"))
    assert e.value.errno == errno.EINVAL
    os.unlink(lazy.p("d2", "x"))
    os.rename(lazy.p("d1"), lazy.p("d2"))  # over an empty directory
    assert sorted(os.listdir(lazy.mnt)) == ["d2", "f"]
    lazy.sync()
    lazy.cut()
    assert sorted(os.listdir(lazy.mnt)) == ["d2", "f"]
    assert sorted(os.listdir(lazy.backing)) == ["d2", "f"]


def test_exchange_and_inverted_directory_moves(lazy):
    libc = ctypes.CDLL(None, use_errno=True)
    RENAME_EXCHANGE = 2
    write(lazy.p("x"), "X", fsync=True)
    write(lazy.p("y"), "Y", fsync=True)
    os.makedirs(lazy.p("a", "b"))
    write(lazy.p("a", "b", "leaf"), "leaf", fsync=True)
    lazy.sync()
    assert libc.renameat2(-100, lazy.p("x").encode(), -100, lazy.p("y").encode(), RENAME_EXCHANGE) == 0, \
        os.strerror(ctypes.get_errno())
    assert read(lazy.p("x")) == b"Y" and read(lazy.p("y")) == b"X"
    lazy.cut()
    assert read(lazy.p("x")) == b"X"
    assert libc.renameat2(-100, lazy.p("x").encode(), -100, lazy.p("y").encode(), RENAME_EXCHANGE) == 0
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert read(lazy.p("x")) == b"Y" and read(lazy.p("y")) == b"X"
    # turn a/b inside out: b to the top, then a into b (durably b is still in a)
    os.rename(lazy.p("a", "b"), lazy.p("b"))
    os.rename(lazy.p("a"), lazy.p("b", "a"))
    fsync_dir(lazy.p("b"))  # needs a moved into b, whose durable place is inside a
    expected = tree(lazy.mnt)
    lazy.sync()
    assert tree(lazy.backing) == expected
    lazy.cut()
    assert tree(lazy.mnt) == expected
    assert read(lazy.p("b", "leaf")) == b"leaf" and os.path.isdir(lazy.p("b", "a"))


def test_open_handle_follows_renames(lazy):
    fd = os.open(lazy.p("f"), os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"one")
    os.mkdir(lazy.p("d"))
    os.rename(lazy.p("f"), lazy.p("d", "g"))
    os.write(fd, b"two")
    os.fsync(fd)
    os.close(fd)
    fsync_dir(lazy.p("d"))
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert os.listdir(lazy.mnt) == ["d"]
    assert read(lazy.p("d", "g")) == b"onetwo"


def test_mkdir_rmdir_unlink_need_parent_fsync(lazy):
    os.mkdir(lazy.p("d"))
    write(lazy.p("d", "f"), "in d", fsync=True)
    fsync_dir(lazy.p("d"))  # d's entries are durable, but d itself has no durable name
    lazy.cut()
    assert not os.path.exists(lazy.p("d"))
    os.mkdir(lazy.p("d"))
    write(lazy.p("d", "f"), "in d", fsync=True)
    fsync_dir(lazy.p("d"))
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert read(lazy.p("d", "f")) == b"in d"
    # mkdir made durable, but not the entry inside it
    os.mkdir(lazy.p("e"))
    write(lazy.p("e", "g"), "g", fsync=True)
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert os.path.isdir(lazy.p("e")) and os.listdir(lazy.p("e")) == []
    # unlink / rmdir without a directory fsync come back
    os.unlink(lazy.p("d", "f"))
    os.rmdir(lazy.p("e"))
    assert not os.path.exists(lazy.p("e"))
    lazy.cut()
    assert read(lazy.p("d", "f")) == b"in d" and os.path.isdir(lazy.p("e"))
    os.unlink(lazy.p("d", "f"))
    os.rmdir(lazy.p("d"))
    fsync_dir(lazy.mnt)  # d's removal durable (its durable content goes with it)
    lazy.cut()
    assert sorted(os.listdir(lazy.mnt)) == ["e"]
    assert sorted(os.listdir(lazy.backing)) == ["e"]
    with pytest.raises(OSError) as e:
        write(lazy.p("e", "h"), "h")
        os.rmdir(lazy.p("e"))
    assert e.value.errno == errno.ENOTEMPTY


def test_unlinked_open_file_keeps_working(lazy):
    write(lazy.p("f"), "abc", fsync=True)
    fsync_dir(lazy.mnt)
    fd = os.open(lazy.p("f"), os.O_RDWR)
    os.unlink(lazy.p("f"))
    os.pwrite(fd, b"XYZW", 1)
    assert os.pread(fd, 10, 0) == b"aXYZW"
    assert os.fstat(fd).st_nlink == 0
    os.fsync(fd)  # the durable name is still there (unlink not dir-synced)
    os.close(fd)
    assert not os.path.exists(lazy.p("f"))
    lazy.cut()
    assert read(lazy.p("f")) == b"aXYZW"


def test_links_symlinks_and_metadata(lazy):
    write(lazy.p("f"), "content", fsync=True)
    os.link(lazy.p("f"), lazy.p("hard"))
    os.symlink("f", lazy.p("sym"))
    assert os.stat(lazy.p("f")).st_nlink == 2
    assert os.readlink(lazy.p("sym")) == "f" and read(lazy.p("sym")) == b"content"
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert os.stat(lazy.p("hard")).st_ino == os.stat(lazy.p("f")).st_ino
    assert os.stat(lazy.b("hard")).st_ino == os.stat(lazy.b("f")).st_ino
    assert os.readlink(lazy.p("sym")) == "f"
    # a symlink and a hard link to it, renamed around, synced
    os.link(lazy.p("sym"), lazy.p("sym2"), follow_symlinks=False)
    os.rename(lazy.p("sym"), lazy.p("sym3"))
    fsync_dir(lazy.mnt)
    lazy.cut()
    assert os.readlink(lazy.p("sym2")) == "f" and os.readlink(lazy.p("sym3")) == "f"
    assert not os.path.lexists(lazy.p("sym"))
    # chmod / utime: pending until the file's fsync
    os.chmod(lazy.p("f"), 0o600)
    os.utime(lazy.p("f"), ns=(1_000_000_000, 2_000_000_000))
    st = os.stat(lazy.p("f"))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime_ns == 2_000_000_000
    lazy.cut()
    assert stat.S_IMODE(os.stat(lazy.p("f")).st_mode) == 0o644
    os.chmod(lazy.p("f"), 0o600)
    os.utime(lazy.p("f"), ns=(1_000_000_000, 2_000_000_000))
    fsync_path(lazy.p("f"))
    lazy.cut()
    st = os.stat(lazy.p("f"))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime_ns == 2_000_000_000
    sv = os.statvfs(lazy.mnt)
    bv = os.statvfs(lazy.backing)
    assert sv.f_blocks == bv.f_blocks and sv.f_bsize == bv.f_bsize and sv.f_namemax == 255


def test_locks_and_fallocate(lazy):
    write(lazy.p("db"), "x" * 10, fsync=True)
    fsync_dir(lazy.mnt)
    fd = os.open(lazy.p("db"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    probe = textwrap.dedent("""
        import fcntl, os, sys
        fd = os.open(sys.argv[1], os.O_RDWR)
        res = []
        for fn in (fcntl.flock, fcntl.lockf):
            try:
                fn(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); res.append("got")
            except OSError:
                res.append("busy")
        print(",".join(res))
    """)
    out = subprocess.run([sys.executable, "-c", probe, lazy.p("db")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "busy,busy"
    fcntl.flock(fd, fcntl.LOCK_UN)
    fcntl.lockf(fd, fcntl.LOCK_UN)
    out = subprocess.run([sys.executable, "-c", probe, lazy.p("db")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "got,got"
    # posix_fallocate: the kernel says EOPNOTSUPP, glibc falls back to writing
    os.posix_fallocate(fd, 0, 8192)
    assert os.fstat(fd).st_size == 8192
    assert os.pread(fd, 12, 0) == b"x" * 10 + bytes(2)
    os.close(fd)
    lazy.cut()
    assert os.path.getsize(lazy.p("db")) == 10


# -------------------------------------------------------- control, caching

def test_control_channel_and_stale_handles(lazy):
    assert ".lazyfs-control" not in os.listdir(lazy.mnt)
    st = json.loads(read(lazy.p(".lazyfs-control")))
    assert st["ok"] and st["pending_bytes"] == 0
    with pytest.raises(OSError) as e:
        write(lazy.p(".lazyfs-control"), "explode\n", flags=os.O_WRONLY)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError):
        os.mkdir(lazy.p(".lazyfs-orphans"))
    out = subprocess.run([sys.executable, LAZYFSCTL, lazy.mnt, "status"], capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["cmd"] == "status"
    write(lazy.p("f"), "durable", fsync=True)
    fsync_dir(lazy.mnt)
    fd = os.open(lazy.p("f"), os.O_RDWR)
    os.write(fd, b"DURABLE")
    dfd = os.open(lazy.mnt, os.O_RDONLY | os.O_DIRECTORY)
    out = subprocess.run([sys.executable, LAZYFSCTL, lazy.mnt, "cut"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for fn in (lambda: os.pread(fd, 10, 0), lambda: os.pwrite(fd, b"z", 0), lambda: os.fsync(fd),
               lambda: os.fsync(dfd)):
        with pytest.raises(OSError) as e:
            fn()
        assert e.value.errno == errno.EIO
    os.close(fd)  # close still works
    os.close(dfd)
    assert read(lazy.p("f")) == b"durable"
    # shell style control: echo cut > .lazyfs-control
    subprocess.run("echo status > %s/.lazyfs-control" % lazy.mnt, shell=True, check=True)
    out = subprocess.run([sys.executable, LAZYFSCTL, "/nonexistent", "status"], capture_output=True, text=True)
    assert out.returncode == 2


def test_fresh_open_after_cut_sees_dropped_state_page_cache_mode(lazy_pc):
    lazy = lazy_pc
    write(lazy.p("f"), b"A" * 8192, fsync=True)
    fsync_dir(lazy.mnt)
    with open(lazy.p("f"), "rb") as f:  # pull it into the page cache
        assert f.read() == b"A" * 8192
    write(lazy.p("f"), b"B" * 100, flags=os.O_WRONLY)
    assert read(lazy.p("f"))[:101] == b"B" * 100 + b"A"
    # shared writable mmap works in this mode, and is pending data too
    fd = os.open(lazy.p("f"), os.O_RDWR)
    mm = mmap.mmap(fd, 8192)
    mm[200:204] = b"MMAP"
    mm.close()
    os.close(fd)  # close writes the dirty pages back (to memory), no fsync
    assert read(lazy.p("f"))[200:204] == b"MMAP"
    assert read(lazy.b("f")) == b"A" * 8192
    lazy.cut()
    assert read(lazy.p("f")) == b"A" * 8192
    assert os.stat(lazy.p("f")).st_size == 8192
    # msync(MS_SYNC) reaches the file system as an fsync: durable
    fd = os.open(lazy.p("f"), os.O_RDWR)
    mm = mmap.mmap(fd, 8192)
    mm[0:4] = b"SYNC"
    mm.flush()
    mm.close()
    os.close(fd)
    lazy.cut()
    assert read(lazy.p("f")) == b"SYNC" + b"A" * 8188


def test_cut_is_not_hidden_by_kernel_caches(lazy):
    write(lazy.p("f"), b"D" * 5000, fsync=True)
    fsync_dir(lazy.mnt)
    with open(lazy.p("f"), "rb") as f:
        assert f.read() == b"D" * 5000
    write(lazy.p("f"), b"P" * 9000, flags=os.O_WRONLY)
    os.mkdir(lazy.p("newdir"))
    os.stat(lazy.p("f"))
    os.listdir(lazy.mnt)
    lazy.cut()
    # size, content, directory listing and lookups all show the dropped state
    assert os.stat(lazy.p("f")).st_size == 5000
    assert read(lazy.p("f")) == b"D" * 5000
    assert os.listdir(lazy.mnt) == ["f"]
    assert not os.path.exists(lazy.p("newdir"))
    with pytest.raises(OSError) as e:
        fd = os.open(lazy.p("f"), os.O_RDWR)
        try:
            mmap.mmap(fd, 4096)
        finally:
            os.close(fd)
    assert e.value.errno == errno.ENODEV  # documented: no shared mmap with direct_io


def test_sync_all_and_random_namespace_against_snapshot(lazy):
    rnd = random.Random(99)
    dirs = [""]
    files = []

    def rand_ops(n, with_fsync):
        for _ in range(n):
            r = rnd.random()
            d = rnd.choice(dirs)
            if r < 0.15 and len(dirs) < 12:
                nd = os.path.join(d, "d%d" % rnd.randrange(1000))
                if not os.path.exists(lazy.p(nd)):
                    os.mkdir(lazy.p(nd))
                    dirs.append(nd)
            elif r < 0.5:
                nf = os.path.join(d, "f%d" % rnd.randrange(1000))
                if not os.path.isdir(lazy.p(nf)):
                    write(lazy.p(nf), rnd.randbytes(rnd.randrange(0, 3000)),
                          fsync=with_fsync and rnd.random() < 0.5)
                    if nf not in files:
                        files.append(nf)
            elif r < 0.6 and files:
                f = rnd.choice(files)
                os.unlink(lazy.p(f))
                files.remove(f)
            elif r < 0.8 and files:
                f = rnd.choice(files)
                nf = os.path.join(rnd.choice(dirs), "r%d" % rnd.randrange(1000))
                if not os.path.isdir(lazy.p(nf)):
                    os.rename(lazy.p(f), lazy.p(nf))
                    files.remove(f)
                    if nf not in files:
                        files.append(nf)
            elif r < 0.9 and len(dirs) > 1:
                d = rnd.choice(dirs[1:])
                target = os.path.join(rnd.choice(dirs), "m%d" % rnd.randrange(1000))
                if not target.startswith(d + os.sep) and not os.path.exists(lazy.p(target)):
                    os.rename(lazy.p(d), lazy.p(target))
                    dirs[:] = [target + x[len(d):] if x == d or x.startswith(d + os.sep) else x for x in dirs]
                    files[:] = [target + x[len(d):] if x.startswith(d + os.sep) else x for x in files]
            elif with_fsync:
                fsync_dir(lazy.p(d))

    def reset_lists(t):
        dirs[:] = [""] + sorted(k for k, v in t.items() if v[0] == "d")
        files[:] = sorted(k for k, v in t.items() if v[0] == "f")

    write(lazy.p("seed"), "seed")
    for rnd_round in range(3):
        # A: anything, then sync: the disk becomes exactly the mount
        rand_ops(150, with_fsync=True)
        expected = tree(lazy.mnt)
        lazy.sync()
        st = lazy.status()
        assert st["pending_bytes"] == 0 and st["pending_dirs"] == 0 and st["pending_files"] == 0
        assert tree(lazy.backing) == expected, "after sync the disk is the mount"
        assert not os.path.exists(lazy.b(".lazyfs-orphans"))
        lazy.cut()
        assert tree(lazy.mnt) == expected
        reset_lists(expected)
        # B: no fsync of any kind, then cut: nothing of it survives
        rand_ops(150, with_fsync=False)
        assert tree(lazy.mnt) != expected
        lazy.cut()
        assert tree(lazy.mnt) == expected
        reset_lists(expected)
        # C: file and directory fsyncs mixed in, then cut: mount == disk, and a
        # restart of lazyfs serves the same
        rand_ops(150, with_fsync=True)
        lazy.cut()
        got = tree(lazy.mnt)
        assert tree(lazy.backing) == got
        if rnd_round == 1:
            lazy.restart()
            assert tree(lazy.mnt) == got
        reset_lists(got)


def test_unmount_drops_pending_unless_sync_on_exit(tmp_path):
    m = Mount(str(tmp_path)).start()
    try:
        write(m.p("kept"), "kept", fsync=True)
        fsync_dir(m.mnt)
        write(m.p("pending"), "pending")
        write(m.p("orphan"), "fsynced, no name", fsync=True)  # lives in the orphan store
        assert os.path.isdir(m.b(".lazyfs-orphans"))
        m.restart()  # SIGTERM: like a power cut
        assert sorted(os.listdir(m.mnt)) == ["kept"]
        assert sorted(os.listdir(m.backing)) == ["kept"]
    finally:
        m.stop()
    m = Mount(str(tmp_path), ["--sync-on-exit"]).start()
    try:
        os.mkdir(m.p("d"))
        write(m.p("d", "pending"), "pending")
    finally:
        m.stop()
    assert read(m.b("d", "pending")) == b"pending"
    assert sorted(os.listdir(m.backing)) == ["d", "kept"]


def test_append_log_with_fsync_pattern(lazy):
    """A write-ahead log: records appended, each fsynced before it is 'acknowledged'."""
    fsync_dir(lazy.mnt)
    fd = os.open(lazy.p("wal"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    fsync_dir(lazy.mnt)
    acked = []
    for i in range(200):
        rec = b"record %04d\n" % i
        os.write(fd, rec)
        if i < 120:
            os.fdatasync(fd)
            acked.append(rec)
    os.close(fd)
    lazy.cut()
    assert read(lazy.p("wal")) == b"".join(acked)


SQLITE_WRITER = textwrap.dedent("""
    import os, sqlite3, sys
    path, sync_mode, n, tail = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "tail"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=" + sync_mode)
    db.execute("PRAGMA cache_size=20")  # small cache: big transactions spill into the db file
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)")
    dfd = os.open(os.path.dirname(path), os.O_RDONLY); os.fsync(dfd); os.close(dfd)
    for i in range(n):
        db.execute("BEGIN")
        db.execute("INSERT INTO t (v) VALUES (?)", (os.urandom(3000),))
        db.execute("COMMIT")
    print("committed", flush=True)
    if tail:
        # a big transaction that never commits: the process dies in the middle
        db.execute("BEGIN")
        for i in range(2000):
            db.execute("INSERT INTO t (v) VALUES (?)", (os.urandom(3000),))
    os._exit(0)
""")


@pytest.mark.parametrize("sync_mode,tail", [("EXTRA", "tail"), ("FULL", "tail"), ("EXTRA", "none"), ("FULL", "none")])
def test_sqlite_crash_consistency(lazy, sync_mode, tail):
    os.mkdir(lazy.p("db"))
    fsync_dir(lazy.mnt)
    path = lazy.p("db", "test.sqlite")
    n = 30
    out = subprocess.run([sys.executable, "-c", SQLITE_WRITER, path, sync_mode, str(n), tail],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "committed" in out.stdout, out.stderr
    if tail == "tail":
        # the uncommitted transaction spilled into the db file, protected by a journal
        assert os.path.exists(lazy.p("db", "test.sqlite-journal"))
        assert os.path.getsize(path) > 3000 * (n + 100)
    else:
        assert not os.path.exists(lazy.p("db", "test.sqlite-journal"))
    lazy.cut()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    count = db.execute("SELECT count(*) FROM t").fetchone()[0]
    db.close()
    if sync_mode == "FULL" and tail == "none":
        # journal_mode=DELETE + synchronous=FULL does not fsync the directory after
        # deleting the journal at commit (SQLite documents this: only EXTRA does).
        # After the cut the last commit's journal is back and rolls that commit back.
        assert count == n - 1
    else:
        # EXTRA fsyncs the directory after deleting the journal; with a later
        # transaction, creating its journal fsyncs the directory too
        assert count == n
