"""The tables of bench/enqueue_speed.py: one per measurement, with jobs/s (median over the rounds and
each round's rate), the ratios ours/peer of the medians and the targets, met or NOT met."""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import dataclass

#: The targets: ours/upstream in one enqueue_many call; bytes per job at the larger memory size over
#: the smaller ("about flat"); asyncio/sync enqueue one at a time; ours/peer with 100 coroutines.
BULK_TARGET = 3.0
MEMORY_GROWTH_LIMIT = 1.25
ASYNC_TARGET = 0.8
CONCURRENT_TARGET = 1.0


@dataclass(frozen=True)
class Result:
    """One driver run: its figures, or why there are none (``missing``: the driver said it cannot run,
    or it failed)."""

    jobs: int = 0
    seconds: float = 0.0
    version: str = ''
    #: Peak traced memory of the memory mode's ``enqueue_many`` call.
    peak_bytes: int = 0
    #: Said after the rate (a queue that does not hold what was enqueued).
    note: str = ''
    missing: str = ''

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds > 0 else 0.0

    @property
    def bytes_per_job(self) -> float:
        return self.peak_bytes / self.jobs if self.jobs else 0.0


Results = dict[tuple[str, str], list[Result]]


def median_rate(results: Results, measurement: str, label: str) -> float | None:
    """The median jobs/s of ``label``'s runs, or None where it has none."""
    runs = [run for run in results.get((measurement, label), []) if not run.missing]
    return statistics.median(run.rate for run in runs) if runs else None


def why_missing(results: Results, measurement: str, label: str) -> str:
    runs = results.get((measurement, label), [])
    missing = next((run.missing for run in runs if run.missing), 'not run')
    return missing.strip().splitlines()[-1][:110]  # (a failure was printed in full as it ended)


def table(results: Results, measurement: str, labels: tuple[str, ...]) -> dict[str, float | None]:
    """Print one row per implementation; return the medians."""
    medians = {}
    print(f'  {"impl":<12}{"jobs/s":>9}   round by round')
    for label in labels:
        medians[label] = median = median_rate(results, measurement, label)
        if median is None:
            print(f'  {label}: {why_missing(results, measurement, label)}')
            continue
        runs = [run for run in results[(measurement, label)] if not run.missing]
        notes = ''.join(sorted({run.note for run in runs}))
        print(f'  {label:<12}{median:>9.0f}   {" ".join(f"{run.rate:.0f}" for run in runs)}{notes}')
    return medians


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def verdict(value: float | None, met: bool) -> str:
    return 'n/a' if value is None else ('met' if met else 'NOT met')


def ratios_line(title: str, ours: float | None, medians: dict[str, float | None], peers: tuple[str, ...]) -> None:
    shown = []
    for peer in peers:
        value = ratio(ours, medians[peer])
        shown.append(f'{peer} {value:.2f}x' if value is not None else f'{peer} -')
    print(f'  {title}: {", ".join(shown)}')


def versions(results: Results, memory: dict[tuple[str, int], Result]) -> None:
    seen: dict[str, str] = {}
    for (_, label), runs in results.items():
        for run in runs:
            if run.version and label.split()[0] not in seen:
                seen[label.split()[0]] = run.version
    for (label, _), run in memory.items():
        if run.version:
            seen.setdefault(label, run.version)
    print(f'versions (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs):')
    for label, version in seen.items():
        print(f'  {label:<10}{version}')


def memory_growth(memory: dict[tuple[str, int], Result], label: str, sizes: tuple[int, ...]) -> str | float:
    """Bytes per job at the larger size over the smaller, or why there is no such figure."""
    runs = [memory.get((label, size)) or Result(missing='not run') for size in sizes]
    missing = next((run.missing for run in runs if run.missing), '')
    if missing:
        return missing.strip().splitlines()[-1][:110]
    return runs[1].bytes_per_job / runs[0].bytes_per_job if runs[0].bytes_per_job else 0.0


def memory_table(memory: dict[tuple[str, int], Result], sizes: tuple[int, ...]) -> None:
    small, large = sizes
    print('\n3. bulk memory: peak traced memory (tracemalloc) during one enqueue_many call, bytes per job')
    print(f'  {"impl":<12}{f"{small} jobs":>14}{f"{large} jobs":>14}{"growth":>9}')
    for label in ('ours', 'upstream'):
        growth = memory_growth(memory, label, sizes)
        if isinstance(growth, str):
            print(f'  {label}: {growth}')
            continue
        first, second = (memory[(label, size)].bytes_per_job for size in sizes)
        print(f'  {label:<12}{first:>14,.0f}{second:>14,.0f}{growth:>8.2f}x')
    growth = memory_growth(memory, 'ours', sizes)
    value = growth if isinstance(growth, float) else None
    met = value is not None and value <= MEMORY_GROWTH_LIMIT
    limit = f'bytes/job at {large} <= {MEMORY_GROWTH_LIMIT}x at {small}'
    print(f'  target (ours about flat, {limit}): {verdict(value, met)}')


def report(
    results: Results, memory: dict[tuple[str, int], Result], jobs: int, rounds: int, sizes: tuple[int, ...]
) -> None:
    """Print the five tables (the memory one only when it ran), then the versions used."""
    median_text = f'median of {rounds} round{"s" if rounds > 1 else ""}'
    print(f'\n1. single: {jobs} no-op jobs enqueued one call at a time, jobs/s ({median_text})')
    single = table(results, 'single', ('ours', 'upstream', 'huey', 'saq', 'dramatiq', 'arq'))
    ratios_line('ours/peer', single['ours'], single, ('upstream', 'huey', 'saq', 'dramatiq', 'arq'))

    print(f'\n2. bulk: {jobs} jobs in one enqueue_many([Queue.prepare_data(noop), ...]) call ({median_text})')
    bulk = table(results, 'bulk', ('ours', 'upstream'))
    value = ratio(bulk['ours'], bulk['upstream'])
    shown = f'{value:.2f}x' if value is not None else '-'
    print(f'  ours/upstream: {shown} (target >= {BULK_TARGET:.0f}x: {verdict(value, (value or 0) >= BULK_TARGET)})')
    print('  saq: no bulk row: saq 0.26.4 has no bulk enqueue (Queue.map gathers single enqueues, then waits)')

    if memory:
        memory_table(memory, sizes)

    print(f'\n4. asyncio single: {jobs} jobs, one coroutine awaiting each enqueue ({median_text})')
    single_async = table(results, 'single', ('ours async', 'ours', 'saq', 'arq'))
    value = ratio(single_async['ours async'], single_async['ours'])
    shown = f'{value:.2f}' if value is not None else '-'
    met = (value or 0) >= ASYNC_TARGET
    print(f'  ours async/ours sync: {shown} (target >= {ASYNC_TARGET}: {verdict(value, met)})')
    ratios_line('ours async/peer', single_async['ours async'], single_async, ('saq', 'arq'))

    print(f'\n5. asyncio concurrent: {jobs} jobs, 100 coroutines sharing one client, each enqueuing in turn')
    concurrent = table(results, 'concurrent', ('ours async', 'arq', 'saq'))
    for peer in ('arq', 'saq'):
        value = ratio(concurrent['ours async'], concurrent[peer])
        shown = f'{value:.2f}x' if value is not None else '-'
        met = (value or 0) > CONCURRENT_TARGET
        print(f'  ours/{peer}: {shown} (target > {CONCURRENT_TARGET:.0f}x, ahead: {verdict(value, met)})')
    print('  arq: one ArqRedis pool, each enqueue a WATCH/EXISTS/MULTI..EXEC exchange; saq: one Queue, whose')
    print('  default max_concurrent_ops=20 lets 20 of its Redis operations run at once (kept, as a user has it)')

    print()
    versions(results, memory)
