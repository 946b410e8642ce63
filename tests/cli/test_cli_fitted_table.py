"""The table layout behind every ``rq`` view, drawn on rich consoles of given widths: ids whole,
other columns narrowed, then dropped by rank."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rq.cli._fitted_table import FittedTable

JOB_ID = '5a5b0c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b'
CALL = 'reports.export_invoices(customer=4711, month="2026-11", fmt="pdf")'


def sample() -> FittedTable:
    table = FittedTable('Jobs (2)')
    table.add_column('Job')
    table.add_column('Call', 'anywhere', drop_rank=2, min_width=12)
    table.add_column('Queues', 'between_words', drop_rank=1)
    table.add_column('Runs', drop_rank=3, justify='right')
    table.add_row(JOB_ID, CALL, 'high, default', '12')
    table.add_row('short-id', 'f()', 'low', '3')
    return table


def draw(table: FittedTable, width: int) -> list[str]:
    buffer = io.StringIO()
    Console(width=width, file=buffer, color_system=None).print(table, crop=False)
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize('width', (20, 40, 60, 80, 120, 200))
def test_ids_stay_whole_and_the_table_fits_when_it_can(width: int) -> None:
    lines = draw(sample(), width)
    assert any(JOB_ID in line for line in lines), lines
    assert '…' not in ''.join(lines)
    assert max(len(line) for line in lines) <= max(width, len(JOB_ID))
    if 'Queues' in lines[1]:  # a list of ids wraps between them only
        assert any('high,' in line for line in lines) and any('default' in line for line in lines)


def test_columns_are_narrowed_then_dropped_highest_rank_first() -> None:
    table = sample()
    everything = table.layout(200)
    assert everything.shown == [0, 1, 2, 3] and everything.widths[1] == len(CALL)
    narrowed = table.layout(90)
    assert narrowed.shown == [0, 1, 2, 3] and narrowed.widths[1] < len(CALL) and narrowed.total_width <= 90
    assert table.layout(64).shown == [0, 1, 2]  # Runs (rank 3) goes first
    assert table.layout(55).shown == [0, 2]  # then Call
    assert table.layout(20).shown == [0]  # the id column is never dropped ...
    assert table.layout(20).widths[0] == len(JOB_ID)  # ... nor narrowed
    assert table.required_width() == len(JOB_ID)


def test_dropped_columns_are_named() -> None:
    lines = draw(sample(), 64)
    assert lines[-1] == '(not shown at this width: Runs)'
    assert not any(line.startswith('(not shown') for line in draw(sample(), 200))


def test_a_long_title_is_never_wrapped() -> None:
    table = FittedTable('Failed jobs in ' + 'q' * 50)
    table.add_column('Job')
    table.add_row('a')
    assert draw(table, 30)[0] == 'Failed jobs in ' + 'q' * 50
