#!/usr/bin/env python3
"""lazyfsctl: send a command to a mounted lazyfs (see lazyfs.py).

    python3 lazyfsctl.py MOUNTPOINT cut      # drop every pending (un-fsynced) change
    python3 lazyfsctl.py MOUNTPOINT sync     # make everything durable (alias: sync-all)
    python3 lazyfsctl.py MOUNTPOINT status   # JSON: pending bytes, files, dirs, name ops

The command is written to MOUNTPOINT/.lazyfs-control and the reply (one JSON
line) is read back from the same handle and printed. Exit status 0 on success,
1 if the mount refused the command, 2 if MOUNTPOINT is not a lazyfs mount.
Usable as a module: ``lazyfsctl.command(mountpoint, "cut") -> dict``.
"""

import argparse
import errno
import json
import os
import sys

CONTROL_NAME = ".lazyfs-control"
COMMANDS = ("cut", "sync", "sync-all", "status")


def command(mountpoint, cmd):
    """Send one command, return the reply as a dict."""
    path = os.path.join(mountpoint, CONTROL_NAME)
    fd = os.open(path, os.O_RDWR)
    try:
        os.write(fd, cmd.encode() + b"\n")
        chunks = []
        off = 0
        while True:
            b = os.pread(fd, 65536, off)
            if not b:
                break
            chunks.append(b)
            off += len(b)
    finally:
        os.close(fd)
    return json.loads(b"".join(chunks).decode().strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="lazyfsctl.py",
        description="Control a lazyfs mount: cut (power cut), sync (flush all), status.",
        epilog="example: python3 lazyfsctl.py /mnt/app cut && python3 lazyfsctl.py /mnt/app status",
    )
    ap.add_argument("mountpoint")
    ap.add_argument("command", choices=COMMANDS)
    args = ap.parse_args(argv)
    if not os.path.exists(os.path.join(args.mountpoint, CONTROL_NAME)):
        sys.stderr.write("lazyfsctl: %s is not a lazyfs mount (no %s)\n" % (args.mountpoint, CONTROL_NAME))
        return 2
    try:
        reply = command(args.mountpoint, args.command)
    except OSError as e:
        sys.stderr.write("lazyfsctl: %s failed: %s\n" % (args.command, os.strerror(e.errno or errno.EIO)))
        return 1
    print(json.dumps(reply, sort_keys=True))
    return 0 if reply.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
