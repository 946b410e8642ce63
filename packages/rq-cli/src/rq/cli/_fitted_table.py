"""Tables that keep ids whole at any width.

rich shrinks every column of a table that is wider than the console, ids included, and crops what
still does not fit. A :class:`FittedTable` lays its columns out itself instead: an id is never
wrapped, cut or ellipsised; other columns are narrowed (their text wraps), then dropped, lowest
priority first, and a note names what was dropped. When even the columns that are never dropped are
wider than the console, the table is drawn at the width they need: its lines are longer than the
terminal, which soft-wraps them, so a copied id is still one piece (print it with ``crop=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: How a column's cells may be broken over lines: ``never`` (ids, numbers, states), ``between_words``
#: (lists of ids: a line break only between two of them), ``anywhere`` (free text, down to its minimum).
Wrap = Literal['never', 'between_words', 'anywhere']
Justify = Literal['left', 'right', 'center']

#: Cells between two columns: one of padding each side of the (blank) column divider.
COLUMN_GAP = 3


@dataclass(frozen=True)
class Column:
    header: str
    wrap: Wrap = 'never'
    #: 0: always shown; otherwise the column with the highest rank is dropped first.
    drop_rank: int = 0
    #: For ``anywhere`` columns: the narrowest they are squeezed to (never below a word of the header).
    min_width: int = 8
    justify: Justify = 'left'
    footer: str = ''


@dataclass(frozen=True)
class Layout:
    """Which columns are shown (their indexes, in order) and how wide each is."""

    shown: list[int]
    widths: dict[int, int]

    @property
    def total_width(self) -> int:
        return sum(self.widths[index] for index in self.shown) + COLUMN_GAP * max(0, len(self.shown) - 1)


def _lines_width(text: str) -> int:
    return max((cell_len(line) for line in text.split('\n')), default=0)


def _word_width(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


class FittedTable:
    """A titled table (header rule, no frame) whose id columns stay whole; see the module docstring."""

    def __init__(self, title: str, show_footer: bool = False) -> None:
        self.title = title
        self.show_footer = show_footer
        self.columns: list[Column] = []
        self.rows: list[list[Text]] = []

    def add_column(
        self,
        header: str,
        wrap: Wrap = 'never',
        *,
        drop_rank: int = 0,
        min_width: int = 8,
        justify: Justify = 'left',
        footer: str = '',
    ) -> None:
        self.columns.append(Column(header, wrap, drop_rank, min_width, justify, footer))

    def add_row(self, *cells: str | Text) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f'{len(cells)} cells for {len(self.columns)} columns')
        self.rows.append([cell if isinstance(cell, Text) else Text(cell) for cell in cells])

    # -- layout ---------------------------------------------------------------------------------

    def _texts(self, index: int) -> list[str]:
        column = self.columns[index]
        texts = [column.header, *(row[index].plain for row in self.rows)]
        return [*texts, column.footer] if self.show_footer else texts

    def natural_width(self, index: int) -> int:
        """The width at which no cell of the column wraps."""
        return max(_lines_width(text) for text in self._texts(index))

    def narrowest_width(self, index: int) -> int:
        """The width below which the column would break what must stay whole."""
        column = self.columns[index]
        natural = self.natural_width(index)
        if column.wrap == 'never':
            return natural
        words = max(_word_width(text) for text in self._texts(index))
        if column.wrap == 'between_words':
            return words
        return min(natural, max(column.min_width, _word_width(column.header)))

    def layout(self, width: int) -> Layout:
        """Narrow the wrapping columns, then drop columns by rank, until the table fits ``width``
        (or only the columns that are always shown are left); then widen columns towards their
        natural width with what room is left."""
        widths = {index: self.narrowest_width(index) for index in range(len(self.columns))}
        natural = {index: self.natural_width(index) for index in range(len(self.columns))}
        shown = list(range(len(self.columns)))
        while Layout(shown, widths).total_width > width:
            droppable = [index for index in shown if self.columns[index].drop_rank]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda index: (self.columns[index].drop_rank, index)))
        spare = width - Layout(shown, widths).total_width
        growing = [index for index in shown if widths[index] < natural[index]]
        while spare > 0 and growing:
            share = max(1, spare // len(growing))
            for index in growing:
                extra = min(share, natural[index] - widths[index], spare)
                widths[index] += extra
                spare -= extra
            growing = [index for index in growing if widths[index] < natural[index]]
        return Layout(shown, widths)

    def required_width(self) -> int:
        """The narrowest console this table is drawn on without a line overflowing it."""
        always = [index for index, column in enumerate(self.columns) if not column.drop_rank]
        table = Layout(always, {index: self.narrowest_width(index) for index in always}).total_width
        return max(table, cell_len(self.title))

    # -- rendering ------------------------------------------------------------------------------

    def to_rich(self, layout: Layout) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_footer=self.show_footer)
        for index in layout.shown:
            column = self.columns[index]
            table.add_column(
                column.header,
                footer=column.footer,
                justify=column.justify,
                width=layout.widths[index],
                no_wrap=column.wrap == 'never',
                overflow='fold',
            )
        for row in self.rows:
            table.add_row(*(row[index] for index in layout.shown))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        layout = self.layout(options.max_width)
        width = max(options.max_width, layout.total_width, cell_len(self.title))
        wide = options.update_width(width)
        yield from console.render(Text(self.title, style='table.title'), wide)
        yield from console.render(self.to_rich(layout), wide)
        dropped = [self.columns[index].header for index in range(len(self.columns)) if index not in layout.shown]
        if dropped:
            note = Text(f'(not shown at this width: {", ".join(dropped)})', style='dim')
            yield from console.render(note, options)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        indexes = range(len(self.columns))
        natural = Layout(list(indexes), {index: self.natural_width(index) for index in indexes}).total_width
        required = self.required_width()
        return Measurement(required, max(required, natural))


class AtLeast:
    """``renderable`` drawn no narrower than ``width`` cells, even on a narrower console (whose
    lines then overflow: print with ``crop=False``). For views that hold ids outside a table."""

    def __init__(self, renderable: RenderableType, width: int) -> None:
        self.renderable = renderable
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update_width(max(options.max_width, self.width)))


def required_width(parts: Sequence[RenderableType]) -> int:
    """The widest :meth:`FittedTable.required_width` among ``parts`` (0 when there is none)."""
    return max((part.required_width() for part in parts if isinstance(part, FittedTable)), default=0)
