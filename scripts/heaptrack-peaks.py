#!/usr/bin/env python3
"""What a process held at its heap's peak, by part: the stacks of
`heaptrack_print -f hub.<pid>.zst --flamegraph-cost-type peak -F peak.stacks`, each summed under
the innermost frame of ours or of a crate (redb's page cache by itself). docs/performance.md,
"Memory", is this script's output for two builds.

    python3 scripts/heaptrack-peaks.py peak.stacks
"""
import collections
import re
import sys

PART = re.compile(
    r"(invoice_hub::[a-z_]+::[a-z_]+|lapin::[a-z_]+|amq_protocol[a-z_]*|redb::[a-z_]+"
    r"|rustls::[a-z_]+|hyper::[a-z_]+|tokio::[a-z_]+)"
)


def part_of(frames):
    if any("PagedCachedFile" in f for f in frames):
        return "redb PagedCachedFile (page cache, write buffer)"
    for f in reversed(frames):
        m = PART.search(f)
        if m:
            return m.group(1)
    return "other"


def main(path):
    total, parts = 0, collections.Counter()
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(" ")
            total += int(n)
            parts[part_of(stack.split(";"))] += int(n)
    print(f"at the peak, in all: {total / 2**20:.1f} MiB")
    for part, n in parts.most_common(15):
        print(f"{part:50s} {n / 2**20:7.2f} MiB {100 * n / total:5.1f} %")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
