"""The /chart picture: revenue per currency and paid orders per day, week or month, as a PNG.

matplotlib is drawn in a short-lived child process (`python -m bot.admin.chart`, the figures as JSON
on stdin, the PNG on stdout): its tens of megabytes never join the bot's resident memory, and
the seconds of drawing never hold up the event loop.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from datetime import date
from io import BytesIO
from typing import Any

CHART_TIMEOUT_SECONDS = 60
# One colour per currency, readable on white and by the colour-blind (Okabe-Ito).
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_ORDERS_COLOUR = "#555555"


class ChartError(Exception):
    """The chart could not be drawn."""


@dataclass(frozen=True, slots=True)
class CurrencySeries:
    currency: str  # upper-case ISO code, as shown on the axis
    symbol: str  # as the admin's locale writes it, for the axis labels
    amounts: list[float]  # per bar, in major units (only drawn, never summed into a figure)


@dataclass(frozen=True, slots=True)
class ChartData:
    title: str
    starts: list[str]  # ISO date of each bar's first day
    lengths: list[int]  # days in each bar: 1, up to 7 (weeks), up to 31 (months)
    revenue: list[CurrencySeries]
    orders: list[int]  # paid orders per bar, every currency together


async def draw(data: ChartData) -> bytes:
    """The PNG for `data`, drawn in a child process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.admin.chart",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(CHART_TIMEOUT_SECONDS):
            png, errors = await process.communicate(json.dumps(asdict(data)).encode())
    except TimeoutError:
        raise ChartError(f"drawing took longer than {CHART_TIMEOUT_SECONDS} s") from None
    finally:
        if process.returncode is None:  # timed out, or the handler was cancelled (a stop)
            process.kill()
            await process.wait()
    if process.returncode != 0 or not png:
        raise ChartError(errors.decode(errors="replace").strip()[-500:] or "no picture drawn")
    return png


def render_png(data: ChartData) -> bytes:
    """Draw the chart with matplotlib (imported here: only the child process pays for it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    starts = [date.fromisoformat(day) for day in data.starts]
    rows = len(data.revenue) + 1
    figure, axes = plt.subplots(
        rows,
        1,
        sharex=True,
        figsize=(10, 2.3 * rows + 1),
        dpi=120,
        gridspec_kw={"height_ratios": [3] * len(data.revenue) + [2]},
        squeeze=False,
    )
    # In days, the date axis's unit: each bar stands from its first day, a gap after it. The
    # first and last week or month of a period may be short.
    width = [0.8 * length for length in data.lengths]
    for index, series in enumerate(data.revenue):
        ax = axes[index][0]
        colour = _COLOURS[index % len(_COLOURS)]
        ax.bar(starts, series.amounts, width=width, align="edge", color=colour)
        ax.set_ylabel(f"Revenue, {series.currency}")
        ax.yaxis.set_major_formatter(FuncFormatter(_amount_formatter(series.symbol)))
        _tidy(ax, MaxNLocator)
    ax = axes[-1][0]
    ax.bar(starts, data.orders, width=width, align="edge", color=_ORDERS_COLOUR)
    ax.set_ylabel("Paid orders")
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    _tidy(ax, None)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes[0][0].set_title(data.title, loc="left", fontsize=13, fontweight="bold", pad=12)
    figure.align_ylabels([row[0] for row in axes])
    figure.tight_layout()
    out = BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return out.getvalue()


def _amount_formatter(symbol: str) -> Any:
    def format_tick(value: float, _position: int) -> str:
        if abs(value) >= 1_000_000:
            return f"{symbol}{value / 1_000_000:g}M"
        if abs(value) >= 100_000:
            return f"{symbol}{value / 1_000:g}k"
        return f"{symbol}{value:,.0f}" if value == int(value) else f"{symbol}{value:,.2f}"

    return format_tick


def _tidy(ax: Any, locator: Any) -> None:
    if locator is not None:
        ax.yaxis.set_major_locator(locator(nbins=5))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def main() -> None:
    """The child process: figures as JSON on stdin, the PNG on stdout."""
    raw = json.load(sys.stdin)
    data = ChartData(
        title=raw["title"],
        starts=raw["starts"],
        lengths=raw["lengths"],
        revenue=[CurrencySeries(**series) for series in raw["revenue"]],
        orders=raw["orders"],
    )
    sys.stdout.buffer.write(render_png(data))


if __name__ == "__main__":
    main()
