"""The horse factory's memory compaction: which ranges it asks the kernel to back with huge pages."""

from __future__ import annotations

from pathlib import Path

from rq.worker import compaction

MB = 1 << 20

MAPS = """\
55d0a0000000-55d0a0500000 rw-p 00000000 00:00 0                          [heap]
7f0000100000-7f0000700000 rw-p 00000000 00:00 0
7f0000800000-7f0000900000 rw-p 00000000 00:00 0
7f0000a00000-7f0000e00000 r--p 00000000 00:00 0
7f0001000000-7f0001400000 rw-s 00000000 00:05 1234                       /dev/shm/shared
7f0002000000-7f0002400000 rw-p 00001000 08:01 5678                       /usr/lib/libexample.so
7f0003000000-7f0003400000 rw-p 00000000 00:00 0                          [stack]
"""


def test_only_the_aligned_parts_of_private_writable_anonymous_memory_are_chosen(tmp_path: Path) -> None:
    maps = tmp_path / 'maps'
    maps.write_text(MAPS)
    ranges = compaction._anonymous_ranges(str(maps))
    assert ranges == [
        (0x55D0A0000000, 4 * MB),  # the heap: 5 MB from an aligned start, so two huge pages
        (0x7F0000200000, 4 * MB),  # 1 MB .. 7 MB: the aligned 2 MB .. 6 MB
    ]  # (too small, read-only, shared, file-backed and the stack are left alone)
    assert all(start % (2 * MB) == 0 and length % (2 * MB) == 0 for start, length in ranges)


def test_this_process_ranges_lie_inside_its_own_writable_mappings(tmp_path: Path) -> None:
    # (one snapshot for both readings: the process maps and merges memory between two reads of
    # /proc/self/maps, so that a range of the later one may span two mappings of the earlier one)
    snapshot = tmp_path / 'maps'
    snapshot.write_text(Path('/proc/self/maps').read_text())
    mappings = []
    for line in snapshot.read_text().splitlines():
        low, high = (int(bound, 16) for bound in line.split()[0].split('-'))
        mappings.append((low, high, line.split()[1]))
    ranges = compaction._anonymous_ranges(str(snapshot))
    assert ranges  # (the heap at least)
    for start, length in ranges:
        assert any(low <= start and start + length <= high and perm == 'rw-p' for low, high, perm in mappings)


def test_compacting_leaves_the_process_working() -> None:
    data = [bytes(range(256)) * 16 for _ in range(4096)]  # some heap to collapse
    compaction.compact()
    assert all(block == bytes(range(256)) * 16 for block in data)
