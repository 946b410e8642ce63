"""Making the horse factory cheap to fork: fewer page-table entries to copy and to tear down.

Each ``fork()`` copies one page-table entry per resident anonymous page of the forking process,
and each horse's exit removes them again; for a worker of some 30 MB that is most of a horse's
system time. Before the factory starts forking, it:

- hands the C allocator's free memory back to the system (``malloc_trim``): a worker that built
  many objects before it started (enqueued jobs, say) keeps their freed pages resident;
- asks the kernel to back its anonymous memory with huge pages where it can (``MADV_COLLAPSE``,
  Linux 6.1+): a 2 MB huge page is one entry to copy instead of 512. A horse that writes to one
  splits it back into small pages in its own copy only, as copy-on-write always does.

Both are best effort: on other systems, or when the kernel declines, nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20
_THP_SETTING = '/sys/kernel/mm/transparent_hugepage/enabled'


def compact() -> None:
    """Trim the allocator and collapse anonymous memory into huge pages (Linux only)."""
    if not sys.platform.startswith('linux'):
        return
    libc = _libc()
    if libc is None:
        return
    try:
        libc.malloc_trim(0)
    except AttributeError:  # (not glibc)
        pass
    if _huge_pages_allowed():
        for start, length in _anonymous_ranges():
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(length), MADV_COLLAPSE)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library('c')
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _huge_pages_allowed() -> bool:
    try:
        with open(_THP_SETTING, encoding='ascii') as setting:
            return '[never]' not in setting.read()
    except OSError:
        return False


def _anonymous_ranges(maps: str = '/proc/self/maps') -> list[tuple[int, int]]:
    """The huge-page-aligned parts of this process's private writable anonymous mappings (the
    heap included), as (start, length)."""
    ranges = []
    try:
        with open(maps, encoding='utf-8', errors='replace') as lines:
            for line in lines:
                fields = line.split()
                anonymous = len(fields) < 6 or fields[5] == '[heap]'
                if not anonymous or not fields[1].startswith('rw') or fields[1][3] != 'p':
                    continue
                low, high = (int(bound, 16) for bound in fields[0].split('-'))
                start = -(-low // HUGE_PAGE) * HUGE_PAGE
                end = high // HUGE_PAGE * HUGE_PAGE
                if end > start:
                    ranges.append((start, end - start))
    except OSError:
        return []
    return ranges
