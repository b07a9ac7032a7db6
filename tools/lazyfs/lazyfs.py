#!/usr/bin/env python3
"""lazyfs: a FUSE pass-through filesystem that forgets everything not made durable.

It is a tool for power-cut tests, in the spirit of Jepsen's LazyFS. The mount
serves the contents of a backing directory, but every change made through the
mount lives only in this process's memory until the program makes it durable
with the right fsync. On the command ``cut`` all of those pending changes are
thrown away at once -- the state a disk is left in by a power cut -- and the
mount then serves exactly what survived, i.e. the backing directory.

Usage::

    python3 lazyfs.py BACKING_DIR MOUNTPOINT          # runs in the foreground
    echo cut    > MOUNTPOINT/.lazyfs-control          # simulate a power cut
    echo sync   > MOUNTPOINT/.lazyfs-control          # make everything durable
    cat           MOUNTPOINT/.lazyfs-control          # status (JSON)
    python3 lazyfsctl.py MOUNTPOINT cut|sync|status   # same, with a reply

SIGTERM / SIGINT unmount cleanly (pending changes are dropped, like a cut,
unless --sync-on-exit is given).

Durability model (the "strict" model: names need a directory fsync, data needs
a file fsync; nothing is made durable implicitly)
------------------------------------------------------------------------------

* File data and size. write(), pwrite(), truncate()/ftruncate() and O_TRUNC
  change the file only in memory (reads see the current state at once, like a
  page cache). fsync() or fdatasync() of the file writes the file's pending
  bytes, its size (including shrinking truncations) and its mode, owner and
  times to the backing file and fsyncs the backing file. fdatasync() is treated
  exactly like fsync(). chmod/chown/utimens are file metadata: durable with the
  next fsync of that file (for a directory: the next fsync of that directory).

* Names. create, mknod, mkdir, symlink, link, unlink, rmdir and rename change
  the namespace only in memory. They become durable when the directory that
  holds the name is fsynced (fsyncdir: ``fd = open(dir, O_RDONLY);
  fsync(fd)``). fsyncdir(D) makes D's durable entry list equal to its current
  entry list, all at once.

  - A file created in D whose D was never fsynced vanishes at a cut, even when
    the file itself was fsynced (ext4 in data=ordered mode would often keep it
    because fsync of a new file commits the journal; this model is deliberately
    stricter: it is the behaviour POSIX promises and storage engines must not
    rely on more than that).
  - Conversely a name made durable for a file whose data was never fsynced
    survives a cut as a file with the durable data only (a new file: empty).
  - A mkdir'ed directory needs an fsync of its parent to survive; the entries
    inside it need an fsync of the directory itself. Both are independent:
    fsyncdir of a directory that has no durable name yet is remembered and
    takes effect if the parent is fsynced later.
  - rename(a, b) within one directory: undone by a cut unless the directory was
    fsynced afterwards; the fsync makes the whole rename (including the
    replacement of an existing b) durable at once.
  - rename across directories A -> B (a *choice*, documented here): each
    directory's fsync makes its own side durable. fsync(B) adds the new name,
    fsync(A) removes the old one. For a regular file, fsync(B) alone leaves the
    file reachable under both names after a cut (like a hard link); fsync(A)
    alone removes it from A and it is not in B: the file is lost. A *directory*
    can only have one name: fsync(B) moves it (the removal from A becomes
    durable with it); fsync(A) alone loses it, as for a file.
  - Hard links (link) and symlinks follow the same rules; a symlink's target is
    part of its creation. Symlinks may lose hard-link identity with each other
    after a cut (they are re-created from their target; contents are equal).

* Cut. ``cut`` discards every pending byte, truncation, attribute change and
  name operation, and every file that had durable data but no durable name.
  The mount then shows the backing directory exactly. All file and directory
  handles opened before the cut are invalidated: any operation on them returns
  EIO (close() still succeeds). Processes that had files open should be killed
  before the cut; a process whose current directory is inside the mount may see
  ENOENT/ESTALE for ".".

* sync (``sync-all``). Makes everything durable: every pending file is fsynced
  and every changed directory is fsynced; afterwards the backing directory is
  exactly the mount's current content. Meant for setup.

* status. JSON with pending bytes, pending files/directories, counts of
  pending name operations, fsyncs and cuts.

Control channel
---------------

The file ``/.lazyfs-control`` at the mount root (hidden from readdir, present
for lookup). Write a command line (``cut``, ``sync`` or ``sync-all``,
``status``) to it; read the same open handle from offset 0 to get the reply
(JSON, one line). Reading a freshly opened handle without a command returns the
status. An unknown command fails the write with EINVAL. ``lazyfsctl.py`` wraps
this.

Kernel caching
--------------

The kernel must never answer from its own caches or a cut would be invisible:
files are opened with direct_io (every read/write reaches this process; no page
cache), all entry/attribute timeouts are 0 (every lookup and stat is asked
again) and the writeback cache is off. ``--page-cache`` opens files without
direct_io but with keep_cache=0, so that shared writable mmap works (the
kernel drops the file's page cache on every open; a file kept open across a cut
may then still see old pages -- its handle is invalid anyway).

Limits
------

* POSIX (fcntl) and flock locks are handled by the kernel locally (this file
  system does not implement the FUSE lock operations, so the kernel does the
  locking itself): they work between processes on this machine, and are not
  affected by a cut.
* sync_file_range(2) reaches no file system (the kernel sends no request), so
  it makes nothing durable -- as on a real disk, where it persists neither
  metadata nor the drive cache. msync(MS_SYNC) arrives as an fsync.
* FIFOs, sockets and device nodes can be created (mknod) and renamed, but
  opening them fails with ENXIO.
* fallocate is not implemented: the kernel returns EOPNOTSUPP, and
  posix_fallocate() in glibc falls back to writing zeros (which then is pending
  data like any other write).
* With the default direct_io mode, mmap(MAP_SHARED) fails with ENODEV (private
  mappings, e.g. executing a program, work). Use --page-cache if needed.
* No xattrs (ENOTSUP via ENOSYS); no ACLs; atime is not updated on reads.
* Pending data lives in this process's memory (a map of byte ranges per file);
  writing gigabytes without fsync needs that much RAM.
* Files that got durable data before getting a durable name are kept in
  ``BACKING/.lazyfs-orphans`` (hidden in the mount), which is emptied on a cut,
  at start and at exit; nothing else is ever added to the backing directory.
* The backing directory must not be changed by anyone else while mounted.
* Run as root (it opens every backing file read-write and uses allow_other).
"""

import argparse
import bisect
import errno
import functools
import json
import logging
import os
import resource
import signal
import stat
import sys
import time

try:
    import pyfuse3
    import trio
except ImportError as exc:  # pragma: no cover - reported to the user
    sys.stderr.write(
        "lazyfs needs the Python packages pyfuse3 and trio (and libfuse3): %s\n"
        "  apt-get install fuse3 libfuse3-dev pkg-config gcc && python3 -m pip install pyfuse3\n"
        % exc
    )
    sys.exit(2)

log = logging.getLogger("lazyfs")

CONTROL_NAME = b".lazyfs-control"
ORPHANS_NAME = b".lazyfs-orphans"
RESERVED = (CONTROL_NAME, ORPHANS_NAME)
ROOT_INO = pyfuse3.ROOT_INODE
CONTROL_INO = 2
FIRST_INO = 16

FuseError = pyfuse3.FUSEError


class Overlay:
    """Pending byte ranges of one file: non-overlapping, non-adjacent extents."""

    __slots__ = ("starts", "bufs")

    def __init__(self):
        self.starts = []  # sorted extent start offsets
        self.bufs = {}  # start -> bytearray

    def __len__(self):
        return len(self.starts)

    def nbytes(self):
        return sum(len(b) for b in self.bufs.values())

    def clear(self):
        self.starts = []
        self.bufs = {}

    def write(self, off, data):
        n = len(data)
        if n == 0:
            return
        end = off + n
        starts, bufs = self.starts, self.bufs
        lo = bisect.bisect_left(starts, off)
        if lo > 0:
            ps = starts[lo - 1]
            if ps + len(bufs[ps]) >= off:
                lo -= 1
        hi = bisect.bisect_right(starts, end)
        if lo == hi:  # touches nothing
            starts.insert(lo, off)
            bufs[off] = bytearray(data)
            return
        first = starts[lo]
        last = starts[hi - 1]
        last_buf = bufs[last]
        last_end = last + len(last_buf)
        if first <= off:
            buf = bufs[first]
            rel = off - first
            if rel + n <= len(buf):
                buf[rel:rel + n] = data
            else:
                del buf[rel:]
                buf += data
            if last is not first and last_end > end:
                buf += memoryview(last_buf)[end - last:]
            del_from = lo + 1
        else:
            buf = bytearray(data)
            if last_end > end:
                buf += memoryview(last_buf)[end - last:]
            del_from = lo
        for s in starts[del_from:hi]:
            del bufs[s]
        del starts[del_from:hi]
        if first > off:
            starts.insert(lo, off)
            bufs[off] = buf

    def read_into(self, out, off):
        """Copy the pending bytes overlapping [off, off+len(out)) into out."""
        end = off + len(out)
        starts, bufs = self.starts, self.bufs
        i = bisect.bisect_right(starts, off) - 1
        if i < 0:
            i = 0
        while i < len(starts):
            s = starts[i]
            if s >= end:
                break
            b = bufs[s]
            e = s + len(b)
            if e > off:
                a = max(s, off)
                z = min(e, end)
                out[a - off:z - off] = memoryview(b)[a - s:z - s]
            i += 1

    def truncate(self, size):
        starts, bufs = self.starts, self.bufs
        i = bisect.bisect_left(starts, size)
        for s in starts[i:]:
            del bufs[s]
        del starts[i:]
        if starts:
            s = starts[-1]
            b = bufs[s]
            if s + len(b) > size:
                del b[size - s:]

    def items(self):
        for s in self.starts:
            yield s, self.bufs[s]


class Node:
    """One inode of the current (in-memory) state."""

    __slots__ = (
        "ino", "kind", "mode", "uid", "gid", "rdev", "atime", "mtime", "ctime",
        "nlink", "dfd", "orphan", "size", "base_valid", "ov", "data_dirty",
        "meta_dirty", "entries", "parent", "dloc", "dirty_ops", "target", "opens",
        "dnlink_hint",
    )

    def __init__(self, ino, kind, mode):
        self.ino = ino
        self.kind = kind  # 'f' file, 'd' dir, 'l' symlink, 'o' other (fifo, dev, socket)
        self.mode = mode
        self.uid = 0
        self.gid = 0
        self.rdev = 0
        now = time.time_ns()
        self.atime = self.mtime = self.ctime = now
        self.nlink = 0  # names in the current state
        self.dfd = None  # fd of the durable representation in the backing dir
        self.orphan = False  # durable representation linked in the orphan store
        self.size = 0
        self.base_valid = 0  # prefix of the durable data still visible
        self.ov = None
        self.data_dirty = False
        self.meta_dirty = False
        self.entries = None  # dirs: name -> Node; None = not loaded yet
        self.parent = None  # dirs: current parent Node
        self.dloc = None  # dirs: (parent Node or ORPHANS, name) of the durable dir
        self.dirty_ops = 0  # dirs: name operations since the last fsyncdir
        self.target = None  # symlinks
        self.opens = 0
        self.dnlink_hint = 2


ORPHANS = "orphans"


def fuse_op(fn):
    """Map OSError to FUSEError and never let an exception kill the main loop."""

    @functools.wraps(fn)
    async def wrapper(self, *args):
        try:
            return fn(self, *args)
        except FuseError:
            raise
        except OSError as e:
            log.debug("%s%r: %s", fn.__name__, args[:2], e)
            raise FuseError(e.errno or errno.EIO)
        except Exception:
            log.exception("internal error in %s", fn.__name__)
            raise FuseError(errno.EIO)

    return wrapper


class Handle:
    __slots__ = ("node", "era", "kind", "reply", "listing", "flags")

    def __init__(self, node, era, kind, flags=0):
        self.node = node
        self.era = era
        self.kind = kind  # 'file', 'dir', 'ctl'
        self.reply = None
        self.listing = None
        self.flags = flags


class LazyFS(pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False
    enable_acl = False

    def __init__(self, backing, direct_io=True):
        super().__init__()
        self.backing = os.path.abspath(backing)
        self.direct_io = direct_io
        self.ino_of_key = {}  # (st_dev, st_ino) of backing objects -> fuse ino; kept across cuts
        self.next_ino = FIRST_INO
        self.handles = {}
        self.next_fh = 1
        self.era = 0
        self.stats = {"cuts": 0, "syncs": 0, "fsyncs": 0, "fsyncdirs": 0}
        self.control = Node(CONTROL_INO, "c", stat.S_IFREG | 0o666)
        self.control.nlink = 1
        self.orph_fd = None
        self.nodes = {}
        self.keys = {}
        self._reset_state()

    # ------------------------------------------------------------------ state

    def _alloc_ino(self, key=None):
        if key is not None:
            ino = self.ino_of_key.get(key)
            if ino is not None and ino not in self.nodes:
                return ino
        ino = self.next_ino
        self.next_ino += 1
        if key is not None:
            self.ino_of_key[key] = ino
        return ino

    def _register_key(self, node):
        st = os.fstat(node.dfd)
        key = (st.st_dev, st.st_ino)
        self.keys[key] = node
        self.ino_of_key[key] = node.ino

    def _close_all(self):
        for node in self.nodes.values():
            if node.dfd is not None:
                try:
                    os.close(node.dfd)
                except OSError:
                    pass
                node.dfd = None
        if self.orph_fd is not None:
            os.close(self.orph_fd)
            self.orph_fd = None

    def _purge_orphans(self):
        """Remove the orphan store: durable objects without a durable name."""
        path = os.path.join(os.fsencode(self.backing), ORPHANS_NAME)
        if not os.path.lexists(path):
            return
        for dirpath, dirnames, filenames in os.walk(path, topdown=False):
            for name in filenames + dirnames:
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                    self.ino_of_key.pop((st.st_dev, st.st_ino), None)
                    if stat.S_ISDIR(st.st_mode) and not os.path.islink(p):
                        os.rmdir(p)
                    else:
                        os.unlink(p)
                except OSError as e:
                    log.warning("cannot remove orphan %r: %s", p, e)
        os.rmdir(path)
        self._fsync_path(self.backing)

    @staticmethod
    def _fsync_path(path):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _reset_state(self):
        """Forget all in-memory state; the backing directory is the truth."""
        self._close_all()
        self._purge_orphans()
        self.nodes = {CONTROL_INO: self.control}
        self.keys = {}
        fd = os.open(self.backing, os.O_RDONLY | os.O_DIRECTORY)
        st = os.fstat(fd)
        root = Node(ROOT_INO, "d", st.st_mode)
        self._attrs_from_stat(root, st)
        root.dfd = fd
        root.nlink = 1
        root.dloc = (None, None)
        self.nodes[ROOT_INO] = root
        self.keys[(st.st_dev, st.st_ino)] = root
        self.root = root

    @staticmethod
    def _attrs_from_stat(node, st):
        node.mode = st.st_mode
        node.uid = st.st_uid
        node.gid = st.st_gid
        node.rdev = st.st_rdev
        node.atime = st.st_atime_ns
        node.mtime = st.st_mtime_ns
        node.ctime = st.st_ctime_ns
        node.size = st.st_size
        node.base_valid = st.st_size
        node.dnlink_hint = st.st_nlink

    def _node_from_backing(self, d, name, st):
        key = (st.st_dev, st.st_ino)
        node = self.keys.get(key)
        if node is not None:
            return node
        m = st.st_mode
        if stat.S_ISREG(m):
            kind = "f"
            flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        elif stat.S_ISDIR(m):
            kind = "d"
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        elif stat.S_ISLNK(m):
            kind = "l"
            flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
        else:
            kind = "o"
            flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
        node = Node(self._alloc_ino(key), kind, m)
        self._attrs_from_stat(node, st)
        node.nlink = st.st_nlink if kind != "d" else 1
        try:
            node.dfd = os.open(name, flags, dir_fd=d.dfd)
        except OSError as e:
            if kind != "f" or e.errno not in (errno.ETXTBSY, errno.EACCES, errno.EROFS, errno.EPERM):
                raise
            # e.g. a program running from this file: readable, its fsync will fail
            node.dfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d.dfd)
        if kind == "l":
            node.target = os.readlink(name, dir_fd=d.dfd)
            node.size = len(node.target)
        if kind == "d":
            node.parent = d
            node.dloc = (d, name)
        if kind == "f":
            node.ov = Overlay()
        self.nodes[node.ino] = node
        self.keys[key] = node
        return node

    def _load(self, d):
        """Populate the entries of a directory from its durable content."""
        if d.entries is not None:
            return d.entries
        entries = {}
        for sname in os.listdir(d.dfd):
            name = os.fsencode(sname)
            if d is self.root and name in RESERVED:
                continue
            st = os.stat(name, dir_fd=d.dfd, follow_symlinks=False)
            entries[name] = self._node_from_backing(d, name, st)
        d.entries = entries
        return entries

    def _new_node(self, kind, mode, ctx):
        node = Node(self._alloc_ino(), kind, mode)
        node.uid = ctx.uid
        node.gid = ctx.gid
        node.nlink = 1
        if kind == "f":
            node.ov = Overlay()
        if kind == "d":
            node.entries = {}
        node.meta_dirty = True
        self.nodes[node.ino] = node
        return node

    def _node(self, ino):
        node = self.nodes.get(ino)
        if node is None:
            raise FuseError(errno.ENOENT)
        return node

    def _dir(self, ino):
        node = self._node(ino)
        if node.kind != "d":
            raise FuseError(errno.ENOTDIR)
        self._load(node)
        return node

    def _attr(self, node):
        a = pyfuse3.EntryAttributes()
        a.st_ino = node.ino
        a.generation = 0
        a.entry_timeout = 0
        a.attr_timeout = 0
        a.st_mode = node.mode
        if node.kind == "d":
            if node.nlink == 0:
                a.st_nlink = 0
            elif node.entries is None:
                a.st_nlink = node.dnlink_hint
            else:
                a.st_nlink = 2 + sum(1 for c in node.entries.values() if c.kind == "d")
        else:
            a.st_nlink = node.nlink
        a.st_uid = node.uid
        a.st_gid = node.gid
        a.st_rdev = node.rdev
        size = node.size if node.kind != "c" else 0
        if node.kind == "d":
            size = 4096
        a.st_size = size
        a.st_blksize = 4096
        a.st_blocks = (size + 511) // 512
        a.st_atime_ns = node.atime
        a.st_mtime_ns = node.mtime
        a.st_ctime_ns = node.ctime
        return a

    def _handle(self, fh):
        h = self.handles.get(fh)
        if h is None:
            raise FuseError(errno.EBADF)
        if h.kind != "ctl" and h.era != self.era:
            raise FuseError(errno.EIO)
        return h

    def _new_handle(self, node, kind, flags=0):
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = Handle(node, self.era, kind, flags)
        node.opens += 1
        return fh

    @staticmethod
    def _touch_dir(d):
        now = time.time_ns()
        d.mtime = d.ctime = now
        d.dirty_ops += 1
        d.meta_dirty = True

    def _check_name(self, parent, name):
        if parent is self.root and name in RESERVED:
            raise FuseError(errno.EPERM)
        if len(name) > 255:
            raise FuseError(errno.ENAMETOOLONG)

    def _drop_name(self, node):
        node.nlink -= 1
        node.ctime = time.time_ns()
        if node.kind == "d":
            node.parent = None
            node.nlink = 0
        if node.nlink <= 0 and node.opens == 0 and node.ov is not None:
            node.ov.clear()

    # ------------------------------------------------------------ file data

    def _truncate(self, node, size):
        if size < node.size:
            node.ov.truncate(size)
            node.base_valid = min(node.base_valid, size)
        node.size = size
        node.data_dirty = True
        node.mtime = node.ctime = time.time_ns()

    def _read(self, node, off, size):
        end = min(off + size, node.size)
        if off >= end:
            return b""
        out = bytearray(end - off)
        bend = min(end, node.base_valid)
        if node.dfd is not None and off < bend:
            data = os.pread(node.dfd, bend - off, off)
            out[: len(data)] = data
        node.ov.read_into(out, off)
        return bytes(out)

    def _write(self, node, off, buf):
        node.ov.write(off, buf)
        if off + len(buf) > node.size:
            node.size = off + len(buf)
        node.data_dirty = True
        node.meta_dirty = True
        node.mtime = node.ctime = time.time_ns()
        return len(buf)

    def _ensure_orphans(self):
        if self.orph_fd is None:
            try:
                os.mkdir(ORPHANS_NAME, 0o700, dir_fd=self.root.dfd)
            except FileExistsError:
                pass
            self.orph_fd = os.open(ORPHANS_NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=self.root.dfd)
        return self.orph_fd

    def _materialize_orphan(self, node):
        """Give a node without any durable representation one in the orphan store."""
        ofd = self._ensure_orphans()
        name = str(node.ino).encode()
        try:
            os.unlink(name, dir_fd=ofd)
        except FileNotFoundError:
            pass
        if node.kind == "f":
            node.dfd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                               node.mode & 0o7777, dir_fd=ofd)
            node.base_valid = 0
        elif node.kind == "d":
            os.mkdir(name, node.mode & 0o7777, dir_fd=ofd)
            node.dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=ofd)
            node.dloc = (ORPHANS, name)
        else:
            raise FuseError(errno.EIO)
        node.orphan = True
        self._register_key(node)

    def _apply_meta(self, node):
        fd = node.dfd
        try:
            os.chown(fd, node.uid, node.gid)
        except OSError as e:
            log.debug("chown: %s", e)
        os.chmod(fd, node.mode & 0o7777)
        os.utime(fd, ns=(node.atime, node.mtime))
        node.meta_dirty = False

    def fsync_file(self, node):
        if node.kind != "f":
            return
        if node.dfd is None:
            if node.nlink <= 0:
                return  # unlinked and never durable: nothing can ever see it
            self._materialize_orphan(node)
        fd = node.dfd
        if node.data_dirty:
            dsize = os.fstat(fd).st_size
            if node.base_valid < dsize:
                os.ftruncate(fd, node.base_valid)
            for off, buf in node.ov.items():
                mv = memoryview(buf)
                done = 0
                while done < len(mv):
                    done += os.pwrite(fd, mv[done:], off + done)
            if os.fstat(fd).st_size != node.size:
                os.ftruncate(fd, node.size)
            node.ov.clear()
            node.base_valid = node.size
            node.data_dirty = False
        self._apply_meta(node)
        os.fsync(fd)
        self.stats["fsyncs"] += 1

    # ------------------------------------------------------------- names

    def _loc_fd(self, parent):
        return self.orph_fd if parent is ORPHANS else parent.dfd

    def _detach(self, d, name, y):
        """Remove the durable name d/name, which refers to node y (or None)."""
        if y is None:
            st = os.stat(name, dir_fd=d.dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                log.warning("leaving unknown backing directory %r alone", name)
                raise FuseError(errno.EIO)
            os.unlink(name, dir_fd=d.dfd)
            return
        alive = y.nlink > 0
        if y.kind == "d":
            if alive:
                ofd = self._ensure_orphans()
                oname = str(y.ino).encode()
                os.rename(name, oname, src_dir_fd=d.dfd, dst_dir_fd=ofd)
                y.dloc = (ORPHANS, oname)
                y.orphan = True
                return
            # a dead directory: its durable subtree goes too (what is still
            # alive elsewhere in the current state is kept in the orphan store)
            for sname in os.listdir(y.dfd):
                cname = os.fsencode(sname)
                st = os.stat(cname, dir_fd=y.dfd, follow_symlinks=False)
                self._detach(y, cname, self.keys.get((st.st_dev, st.st_ino)))
            os.rmdir(name, dir_fd=d.dfd)
            y.dloc = None
            return
        if alive and os.fstat(y.dfd).st_nlink == 1:
            ofd = self._ensure_orphans()
            oname = str(y.ino).encode()
            try:
                os.unlink(oname, dir_fd=ofd)
            except FileNotFoundError:
                pass
            os.rename(name, oname, src_dir_fd=d.dfd, dst_dir_fd=ofd)
            y.orphan = True
            return
        os.unlink(name, dir_fd=d.dfd)

    def _dir_to_orphans(self, d):
        p, pname = d.dloc
        if p is None or p is ORPHANS:
            raise FuseError(errno.EIO)
        ofd = self._ensure_orphans()
        oname = str(d.ino).encode()
        os.rename(pname, oname, src_dir_fd=p.dfd, dst_dir_fd=ofd)
        os.fsync(p.dfd)
        d.dloc = (ORPHANS, oname)
        d.orphan = True

    def _attach(self, d, name, x):
        """Create the durable name d/name for node x."""
        if x.kind == "d":
            if x.dfd is None:
                os.mkdir(name, x.mode & 0o7777, dir_fd=d.dfd)
                x.dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                dir_fd=d.dfd)
                self._register_key(x)
                try:
                    os.chown(x.dfd, x.uid, x.gid)
                except OSError:
                    pass
            else:
                p, pname = x.dloc
                if p is None or (p is not ORPHANS and p.dfd is None):
                    raise FuseError(errno.EIO)
                try:
                    os.rename(pname, name, src_dir_fd=self._loc_fd(p), dst_dir_fd=d.dfd)
                except OSError as e:
                    if e.errno != errno.EINVAL:
                        raise
                    # d's durable location lies inside x's durable subtree (the
                    # current state has moved them the other way round): move d
                    # out first, like any directory move made durable by its
                    # destination, then x into it
                    self._dir_to_orphans(d)
                    os.rename(pname, name, src_dir_fd=self._loc_fd(p), dst_dir_fd=d.dfd)
                if p is not ORPHANS:
                    os.fsync(p.dfd)
            x.dloc = (d, name)
            x.orphan = False
            return
        if x.dfd is None:
            if x.kind == "f":
                x.dfd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                                x.mode & 0o7777, dir_fd=d.dfd)
                x.base_valid = 0
            elif x.kind == "l":
                os.symlink(x.target, name, dir_fd=d.dfd)
                x.dfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d.dfd)
            else:
                os.mknod(name, x.mode, x.rdev, dir_fd=d.dfd)
                x.dfd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=d.dfd)
            self._register_key(x)
            try:
                os.chown(name, x.uid, x.gid, dir_fd=d.dfd, follow_symlinks=False)
            except OSError:
                pass
            return
        os.link("/proc/self/fd/%d" % x.dfd, name, dst_dir_fd=d.dfd, follow_symlinks=True)
        if x.orphan:
            try:
                os.unlink(str(x.ino).encode(), dir_fd=self.orph_fd)
            except FileNotFoundError:
                pass
            x.orphan = False

    def fsync_dir(self, d):
        """Make d's durable entry list equal to its current one (and its metadata)."""
        if d.dfd is None:
            if d.nlink <= 0 and d is not self.root:
                return  # removed and never durable: nothing can ever see it
            self._materialize_orphan(d)
        if d.entries is not None and d.dirty_ops:
            desired = d.entries
            actual = {}
            for sname in os.listdir(d.dfd):
                name = os.fsencode(sname)
                if d is self.root and name in RESERVED:
                    continue
                st = os.stat(name, dir_fd=d.dfd, follow_symlinks=False)
                actual[name] = self.keys.get((st.st_dev, st.st_ino))
            for name, y in actual.items():
                x = desired.get(name)
                if x is not y:
                    self._detach(d, name, y)
            for name, x in desired.items():
                if actual.get(name) is not x:
                    self._attach(d, name, x)
            d.dirty_ops = 0
            if self.orph_fd is not None:
                os.fsync(self.orph_fd)
        self._apply_meta(d)
        os.fsync(d.dfd)
        self.stats["fsyncdirs"] += 1

    def sync_all(self):
        for node in list(self.nodes.values()):
            if node.kind == "f" and node.nlink > 0 and (node.data_dirty or node.meta_dirty or node.dfd is None):
                self.fsync_file(node)
        dirs = [n for n in self.nodes.values()
                if n.kind == "d" and (n.nlink > 0 or n is self.root)
                and (n.dirty_ops or n.meta_dirty or n.dfd is None)]
        # parents first keeps the moves in the backing directory short
        dirs.sort(key=self._depth)
        for d in dirs:
            self.fsync_dir(d)
        for node in self.nodes.values():
            if node.kind == "d" and (node.nlink > 0 or node is self.root) and (node.dirty_ops or node.meta_dirty):
                self.fsync_dir(node)
        # orphans of dead nodes are garbage now
        if self.orph_fd is not None:
            for node in self.nodes.values():
                if node.orphan and node.nlink <= 0 and node.kind != "d":
                    try:
                        os.unlink(str(node.ino).encode(), dir_fd=self.orph_fd)
                    except FileNotFoundError:
                        pass
                    node.orphan = False
            if not os.listdir(self.orph_fd):
                os.close(self.orph_fd)
                self.orph_fd = None
                os.rmdir(ORPHANS_NAME, dir_fd=self.root.dfd)
                os.fsync(self.root.dfd)
        self.stats["syncs"] += 1

    def _depth(self, d):
        n = 0
        while d is not None and d is not self.root and n < 10000:
            d = d.parent
            n += 1
        return n

    def cut(self):
        self.era += 1
        known = [ino for ino, n in self.nodes.items() if n.kind in ("f", "d", "l")]
        self._reset_state()
        # The kernel keeps no attributes or dentries (timeouts are 0) and, with
        # direct_io, no file pages. With --page-cache it may hold pages of the
        # dropped state: a fresh open drops them (keep_cache=0), a handle kept
        # open would not, so tell the kernel explicitly as well.
        for ino in known:
            try:
                pyfuse3.invalidate_inode(ino, attr_only=False)
            except OSError:
                pass  # the kernel does not know this inode (ENOENT)
        for fh in [fh for fh, h in self.handles.items() if h.kind != "ctl"]:
            # handles stay known (so release() works) but are stale
            self.handles[fh].node = None
        self.stats["cuts"] += 1

    def status(self):
        pending_bytes = 0
        files = dirs = ops = 0
        for node in self.nodes.values():
            if node.kind == "f" and node.nlink > 0 and (node.data_dirty or node.meta_dirty):
                files += 1
                pending_bytes += node.ov.nbytes()
            elif node.kind == "d" and (node.nlink > 0 or node is self.root) and (node.dirty_ops or node.meta_dirty):
                dirs += 1
                ops += node.dirty_ops
        res = {
            "pending_bytes": pending_bytes,
            "pending_files": files,
            "pending_dirs": dirs,
            "pending_name_ops": ops,
            "open_handles": sum(1 for h in self.handles.values() if h.kind != "ctl"),
            "inodes_in_memory": len(self.nodes),
            "era": self.era,
        }
        res.update(self.stats)
        return res

    def control_command(self, text):
        replies = []
        for line in text.decode("utf-8", "replace").splitlines():
            cmd = line.strip().lower()
            if not cmd:
                continue
            if cmd == "cut":
                self.cut()
                log.info("cut: pending state dropped")
                replies.append({"ok": True, "cmd": "cut"})
            elif cmd in ("sync", "sync-all", "syncall"):
                self.sync_all()
                replies.append({"ok": True, "cmd": "sync"})
            elif cmd == "status":
                r = {"ok": True, "cmd": "status"}
                r.update(self.status())
                replies.append(r)
            else:
                raise FuseError(errno.EINVAL)
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in replies).encode()

    # ------------------------------------------------------ fuse operations

    @fuse_op
    def lookup(self, parent_inode, name, ctx=None):
        d = self._dir(parent_inode)
        if d is self.root and name == CONTROL_NAME:
            return self._attr(self.control)
        if name == b".":
            return self._attr(d)
        if name == b"..":
            return self._attr(d.parent or self.root)
        node = d.entries.get(name)
        if node is None:
            raise FuseError(errno.ENOENT)
        return self._attr(node)

    @fuse_op
    def getattr(self, inode, ctx=None):
        return self._attr(self._node(inode))

    @fuse_op
    def setattr(self, inode, attr, fields, fh, ctx):
        node = self._node(inode)
        if node is self.control:
            return self._attr(node)
        if fh is not None and fh in self.handles:
            self._handle(fh)
        now = time.time_ns()
        if fields.update_size:
            if node.kind != "f":
                raise FuseError(errno.EINVAL if node.kind != "d" else errno.EISDIR)
            self._truncate(node, attr.st_size)
            node.meta_dirty = True
        if fields.update_mode:
            node.mode = stat.S_IFMT(node.mode) | stat.S_IMODE(attr.st_mode)
        if fields.update_uid:
            node.uid = attr.st_uid
        if fields.update_gid:
            node.gid = attr.st_gid
        if fields.update_atime:
            node.atime = attr.st_atime_ns
        if fields.update_mtime:
            node.mtime = attr.st_mtime_ns
        node.ctime = now
        node.meta_dirty = True
        return self._attr(node)

    @fuse_op
    def readlink(self, inode, ctx):
        node = self._node(inode)
        if node.kind != "l":
            raise FuseError(errno.EINVAL)
        return node.target

    def _add(self, d, name, node):
        self._check_name(d, name)
        if name in d.entries:
            raise FuseError(errno.EEXIST)
        d.entries[name] = node
        if node.kind == "d":
            node.parent = d
        self._touch_dir(d)

    @fuse_op
    def mknod(self, parent_inode, name, mode, rdev, ctx):
        d = self._dir(parent_inode)
        self._check_name(d, name)
        mode = stat.S_IFMT(mode) | (stat.S_IMODE(mode) & ~ctx.umask)
        kind = "f" if stat.S_ISREG(mode) else "o"
        if stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
            raise FuseError(errno.EINVAL)
        node = self._new_node(kind, mode, ctx)
        node.rdev = rdev
        self._add(d, name, node)
        return self._attr(node)

    @fuse_op
    def mkdir(self, parent_inode, name, mode, ctx):
        d = self._dir(parent_inode)
        self._check_name(d, name)
        if name in d.entries:
            raise FuseError(errno.EEXIST)
        node = self._new_node("d", stat.S_IFDIR | (stat.S_IMODE(mode) & ~ctx.umask), ctx)
        self._add(d, name, node)
        return self._attr(node)

    @fuse_op
    def symlink(self, parent_inode, name, target, ctx):
        d = self._dir(parent_inode)
        self._check_name(d, name)
        if name in d.entries:
            raise FuseError(errno.EEXIST)
        node = self._new_node("l", stat.S_IFLNK | 0o777, ctx)
        node.target = bytes(target)
        node.size = len(node.target)
        self._add(d, name, node)
        return self._attr(node)

    @fuse_op
    def link(self, inode, new_parent_inode, new_name, ctx):
        node = self._node(inode)
        if node.kind == "d" or node is self.control:
            raise FuseError(errno.EPERM)
        if node.nlink <= 0:
            raise FuseError(errno.ENOENT)
        d = self._dir(new_parent_inode)
        self._add(d, new_name, node)
        node.nlink += 1
        node.ctime = time.time_ns()
        return self._attr(node)

    @fuse_op
    def unlink(self, parent_inode, name, ctx):
        d = self._dir(parent_inode)
        if d is self.root and name in RESERVED:
            raise FuseError(errno.EPERM)
        node = d.entries.get(name)
        if node is None:
            raise FuseError(errno.ENOENT)
        if node.kind == "d":
            raise FuseError(errno.EISDIR)
        del d.entries[name]
        self._touch_dir(d)
        self._drop_name(node)

    @fuse_op
    def rmdir(self, parent_inode, name, ctx):
        d = self._dir(parent_inode)
        node = d.entries.get(name)
        if node is None:
            raise FuseError(errno.ENOENT)
        if node.kind != "d":
            raise FuseError(errno.ENOTDIR)
        if self._load(node):
            raise FuseError(errno.ENOTEMPTY)
        del d.entries[name]
        self._touch_dir(d)
        self._drop_name(node)

    def _is_ancestor(self, a, d):
        """True if directory a is d or one of d's ancestors (current state)."""
        n = 0
        while d is not None and n < 100000:
            if d is a:
                return True
            d = d.parent
            n += 1
        return False

    @fuse_op
    def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        po = self._dir(parent_inode_old)
        pn = self._dir(parent_inode_new)
        for p, n in ((po, name_old), (pn, name_new)):
            if p is self.root and n in RESERVED:
                raise FuseError(errno.EPERM)
        if flags & ~(pyfuse3.RENAME_NOREPLACE | pyfuse3.RENAME_EXCHANGE):
            raise FuseError(errno.EINVAL)  # RENAME_WHITEOUT
        src = po.entries.get(name_old)
        if src is None:
            raise FuseError(errno.ENOENT)
        dst = pn.entries.get(name_new)
        if flags & pyfuse3.RENAME_NOREPLACE and dst is not None:
            raise FuseError(errno.EEXIST)
        if flags & pyfuse3.RENAME_EXCHANGE:
            if dst is None:
                raise FuseError(errno.ENOENT)
            if (src.kind == "d" and self._is_ancestor(src, pn)) or (dst.kind == "d" and self._is_ancestor(dst, po)):
                raise FuseError(errno.EINVAL)
            po.entries[name_old] = dst
            pn.entries[name_new] = src
            if src.kind == "d":
                src.parent = pn
            if dst.kind == "d":
                dst.parent = po
            self._touch_dir(po)
            if pn is not po:
                self._touch_dir(pn)
            src.ctime = dst.ctime = time.time_ns()
            return
        if src.kind == "d" and self._is_ancestor(src, pn):
            raise FuseError(errno.EINVAL)
        if dst is src:
            return
        if dst is not None:
            if dst.kind == "d":
                if src.kind != "d":
                    raise FuseError(errno.EISDIR)
                if self._load(dst):
                    raise FuseError(errno.ENOTEMPTY)
            elif src.kind == "d":
                raise FuseError(errno.ENOTDIR)
        del po.entries[name_old]
        if dst is not None:
            self._drop_name(dst)
        pn.entries[name_new] = src
        if src.kind == "d":
            src.parent = pn
        src.ctime = time.time_ns()
        self._touch_dir(po)
        if pn is not po:
            self._touch_dir(pn)

    def _fileinfo(self, fh, node):
        fi = pyfuse3.FileInfo(fh=fh)
        fi.keep_cache = False
        fi.direct_io = True if node is self.control else self.direct_io
        return fi

    @fuse_op
    def open(self, inode, flags, ctx):
        node = self._node(inode)
        if node is self.control:
            fh = self._new_handle(node, "ctl", flags)
            return self._fileinfo(fh, node)
        if node.kind == "d":
            raise FuseError(errno.EISDIR)
        if node.kind != "f":
            raise FuseError(errno.ENXIO)
        if flags & os.O_TRUNC and (flags & os.O_ACCMODE) != os.O_RDONLY:
            if node.size:
                self._truncate(node, 0)
            node.meta_dirty = True
        fh = self._new_handle(node, "file", flags)
        return self._fileinfo(fh, node)

    @fuse_op
    def create(self, parent_inode, name, mode, flags, ctx):
        d = self._dir(parent_inode)
        self._check_name(d, name)
        existing = d.entries.get(name)
        if existing is not None:
            raise FuseError(errno.EEXIST)
        node = self._new_node("f", stat.S_IFREG | (stat.S_IMODE(mode) & ~ctx.umask), ctx)
        self._add(d, name, node)
        fh = self._new_handle(node, "file", flags)
        return self._fileinfo(fh, node), self._attr(node)

    @fuse_op
    def read(self, fh, off, size):
        h = self._handle(fh)
        if h.kind == "ctl":
            if h.reply is None:
                h.reply = self.control_command(b"status")
            return h.reply[off:off + size]
        return self._read(h.node, off, size)

    @fuse_op
    def write(self, fh, off, buf):
        h = self._handle(fh)
        if h.kind == "ctl":
            h.reply = self.control_command(bytes(buf))
            return len(buf)
        return self._write(h.node, off, buf)

    @fuse_op
    def flush(self, fh):
        return None  # close() succeeds even on a handle made stale by a cut

    @fuse_op
    def release(self, fh):
        h = self.handles.pop(fh, None)
        if h is None or h.node is None:
            return
        node = h.node
        node.opens -= 1
        if node.opens <= 0 and node.nlink <= 0 and node.ov is not None:
            node.ov.clear()

    @fuse_op
    def fsync(self, fh, datasync):
        h = self._handle(fh)
        if h.kind == "ctl":
            return
        self.fsync_file(h.node)

    @fuse_op
    def opendir(self, inode, ctx):
        node = self._dir(inode)
        return self._new_handle(node, "dir")

    @fuse_op
    def readdir(self, fh, start_id, token):
        h = self._handle(fh)
        if start_id == 0 or h.listing is None:
            d = h.node
            h.listing = [(b".", d), (b"..", d.parent or self.root)] + sorted(self._load(d).items())
        listing = h.listing
        for i in range(start_id, len(listing)):
            name, node = listing[i]
            if not pyfuse3.readdir_reply(token, name, self._attr(node), i + 1):
                break

    @fuse_op
    def releasedir(self, fh):
        h = self.handles.pop(fh, None)
        if h is not None and h.node is not None:
            h.node.opens -= 1

    @fuse_op
    def fsyncdir(self, fh, datasync):
        h = self._handle(fh)
        self.fsync_dir(h.node)

    @fuse_op
    def statfs(self, ctx):
        sv = os.statvfs(self.backing)
        s = pyfuse3.StatvfsData()
        for f in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                  "f_files", "f_ffree", "f_favail", "f_namemax"):
            setattr(s, f, getattr(sv, f))
        return s

    @fuse_op
    def access(self, inode, mode, ctx):
        self._node(inode)
        return True

    @fuse_op
    def forget(self, inode_list):
        return None

    def shutdown(self, sync):
        if sync:
            try:
                self.sync_all()
            except Exception:
                log.exception("sync on exit failed")
        self._close_all()
        try:
            self._purge_orphans()
        except OSError as e:
            log.warning("cannot purge orphans: %s", e)


async def _run(fs):
    async with trio.open_nursery() as nursery:
        async def watch_signals():
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                async for sig in sigs:
                    log.info("signal %d: unmounting", sig)
                    pyfuse3.terminate()
                    return

        nursery.start_soon(watch_signals)
        await pyfuse3.main()
        nursery.cancel_scope.cancel()


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="lazyfs.py",
        description="FUSE pass-through filesystem that keeps un-fsynced changes in memory "
                    "and drops them on command (power-cut simulation).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  python3 lazyfs.py /var/lib/app-durable /mnt/app      # serve, foreground
  echo cut  > /mnt/app/.lazyfs-control                 # power cut: drop pending state
  echo sync > /mnt/app/.lazyfs-control                 # make everything durable
  cat /mnt/app/.lazyfs-control                         # status, JSON
  python3 lazyfsctl.py /mnt/app status                 # same via the helper
  kill -TERM <pid>                                     # unmount (pending state dropped)

durability: data needs fsync/fdatasync of the file; names (create, mkdir,
unlink, rmdir, rename, link, symlink) need fsync of the directory holding them.
See the module docstring (python3 -c 'import lazyfs; help(lazyfs)') for details.""",
    )
    ap.add_argument("backing", help="directory holding the durable state")
    ap.add_argument("mountpoint", help="where to mount")
    ap.add_argument("--page-cache", action="store_true",
                    help="open files without direct_io (keep_cache=0) so shared mmap works")
    ap.add_argument("--sync-on-exit", action="store_true",
                    help="make everything durable when unmounting (default: drop pending state)")
    ap.add_argument("--no-allow-other", action="store_true",
                    help="do not pass allow_other (only the mounting user may access the mount)")
    ap.add_argument("--debug", action="store_true", help="verbose logging (includes pyfuse3's)")
    args = ap.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="lazyfs %(asctime)s %(levelname)s %(message)s",
    )
    if not args.debug:
        logging.getLogger("pyfuse3").setLevel(logging.WARNING)
    if not os.path.isdir(args.backing):
        ap.error("backing directory %r does not exist" % args.backing)
    if not os.path.isdir(args.mountpoint):
        ap.error("mount point %r does not exist" % args.mountpoint)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (1 << 20, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            break
        except (ValueError, OSError):
            continue

    fs = LazyFS(args.backing, direct_io=not args.page_cache)
    options = set(pyfuse3.default_options)
    options.add("fsname=lazyfs")
    options.add("subtype=lazyfs")
    if not args.no_allow_other:
        options.add("allow_other")
    pyfuse3.init(fs, args.mountpoint, options)
    log.info("mounted %s on %s (direct_io=%s)", fs.backing, args.mountpoint, fs.direct_io)
    try:
        trio.run(_run, fs)
    except BaseException:
        pyfuse3.close(unmount=True)
        fs.shutdown(sync=False)
        raise
    pyfuse3.close(unmount=True)
    fs.shutdown(sync=args.sync_on_exit)
    log.info("unmounted %s", args.mountpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
