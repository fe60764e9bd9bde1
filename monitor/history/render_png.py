"""``report --out F.png`` (and the picture inside the HTML): the nights as bar charts.

Top: coughs per night (bouts written on each bar). Middle: coughs per hour of
the night, one row per night, all rows on the same scale so nights compare at
a glance (more than :data:`MAX_NIGHT_ROWS` nights: one heat-map row per night
instead). Bottom: the average night, hour by hour, the busiest hour in red and
the quietest in green.

matplotlib is the ``[report]`` extra; without it this is one clear error.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Final

from monitor.errors import CoughwatchError
from monitor.history.analysis import CoughReport, Night

MISSING_MATPLOTLIB: Final = (
    "PNG and HTML reports need matplotlib: pip install 'coughwatch[report]' "
    "(or write --out F.csv, which needs nothing more)"
)
MAX_NIGHT_ROWS: Final = 14
FIG_WIDTH_IN: Final = 11.0
NIGHT_ROW_IN: Final = 0.85
PANEL_IN: Final = 2.4
BAR_COLOUR: Final = "#3b6ea5"
LOUD_COLOUR: Final = "#c0392b"
QUIET_COLOUR: Final = "#27ae60"
RUNNING_COLOUR: Final = "#9db7d5"


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend; :class:`CoughwatchError` when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CoughwatchError(MISSING_MATPLOTLIB) from None
    return plt


def png_bytes(report: CoughReport, dpi: int = 100) -> bytes:
    """The report's figure as PNG bytes."""
    plt = pyplot()
    fig = _figure(plt, report)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def write_png(report: CoughReport, path: Path) -> None:
    """Write the figure to ``path``."""
    data = png_bytes(report)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise CoughwatchError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _figure(plt: Any, report: CoughReport) -> Any:
    n_nights = len(report.nights)
    small_multiples = 0 < n_nights <= MAX_NIGHT_ROWS
    middle = [NIGHT_ROW_IN] * n_nights if small_multiples else [max(PANEL_IN, 0.25 * n_nights)]
    heights = [PANEL_IN, *middle, PANEL_IN]
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(FIG_WIDTH_IN, sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights}, squeeze=False, layout="constrained",
    )  # fmt: skip
    axes = axes[:, 0]
    fig.suptitle(_title(report), fontsize=12, x=0.01, ha="left")
    _per_night(axes[0], report)
    if small_multiples:
        _hourly_rows(axes[1:-1], report)
    else:
        _heatmap(fig, axes[1], report)
    _profile(axes[-1], report)
    return fig


def _title(report: CoughReport) -> str:
    if not report.nights:
        return "No nights in the chosen period"
    first, last = report.nights[0].night, report.nights[-1].night
    devices = ", ".join(report.devices) or "no events"
    return (f"Coughs at night ({report.window}), {first:%a %d %b} to {last:%a %d %b %Y}: "
            f"{report.coughs} coughs in {report.bouts} bouts over {len(report.nights)} "
            f"night(s) - {devices}")


def _per_night(ax: Any, report: CoughReport) -> None:
    labels = [n.night.strftime("%a\n%d %b") for n in report.nights]
    totals = [n.coughs for n in report.nights]
    colours = [RUNNING_COLOUR if n.running else BAR_COLOUR for n in report.nights]
    bars = ax.bar(range(len(totals)), totals, color=colours, width=0.7)
    few = len(totals) <= MAX_NIGHT_ROWS
    for bar, night in zip(bars, report.nights, strict=True):
        text = f"{night.coughs}\n{len(night.bouts)} bouts" if few and night.coughs else str(night.coughs)
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8 if few else 6, xytext=(0, 2),
                    textcoords="offset points", rotation=0 if few else 90)  # fmt: skip
    step = max(1, -(-len(totals) // MAX_NIGHT_ROWS))  # at most ~14 date labels
    ax.set_xticks(range(0, len(totals), step), labels[::step], fontsize=8)
    ax.set_ylabel("coughs")
    ax.set_ylim(0, max([*totals, 1]) * 1.35)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Coughs per night" + (" (light bar: night still running)"
                 if any(n.running for n in report.nights) else ""),
                 fontsize=10, loc="left")  # fmt: skip
    _tidy(ax)


def _hourly_rows(axes: Any, report: CoughReport) -> None:
    top = max([max(n.hourly, default=0) for n in report.nights] + [1])
    hours = range(report.window.hours)
    for ax, night in zip(axes, report.nights, strict=True):
        ax.bar(hours, night.hourly, color=RUNNING_COLOUR if night.running else BAR_COLOUR,
               width=0.85, align="edge")  # fmt: skip
        ax.set_ylim(0, top * 1.15)
        ax.set_xlim(0, report.window.hours)
        ax.set_yticks([0, top])
        ax.tick_params(labelsize=7)
        ax.text(-0.01, 0.5, f"{night.night:%a %d %b}\n{night.coughs} coughs",
                transform=ax.transAxes, ha="right", va="center", fontsize=8)
        ax.set_xticks(list(hours), [])
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        _tidy(ax)
    axes[0].set_title("Coughs per hour, night by night (same scale on every row)", fontsize=10,
                      loc="left")  # fmt: skip
    axes[-1].set_xticks(list(hours), [report.hour_label(i) for i in hours], fontsize=8)


def _heatmap(fig: Any, ax: Any, report: CoughReport) -> None:
    grid = [list(n.hourly) for n in report.nights] or [[0] * report.window.hours]
    rows = len(grid)
    image = ax.imshow(grid, aspect="auto", cmap="Blues", interpolation="nearest",
                      extent=(0, report.window.hours, rows, 0))  # hour ticks on cell edges
    ax.set_yticks([i + 0.5 for i in range(len(report.nights))],
                  [f"{n.night:%a %d %b}" for n in report.nights], fontsize=7)  # fmt: skip
    hours = range(report.window.hours)
    ax.set_xticks(list(hours), [report.hour_label(i) for i in hours], fontsize=8)
    ax.set_title("Coughs per hour, night by night", fontsize=10, loc="left")
    fig.colorbar(image, ax=ax, label="coughs", shrink=0.8)


def _profile(ax: Any, report: CoughReport) -> None:
    profile = report.hour_profile()
    loud = {h.index for h in report.loudest_hours()[:1]}
    quiet = {h.index for h in report.quietest_hours()}
    colours = [LOUD_COLOUR if h.index in loud else QUIET_COLOUR if h.index in quiet
               else BAR_COLOUR for h in profile]  # fmt: skip
    ax.bar([h.index for h in profile], [h.mean for h in profile], color=colours, width=0.85,
           align="edge")  # fmt: skip
    top = max([h.mean for h in profile] + [0.1])
    for hour in profile:
        word = "busiest" if hour.index in loud else "quietest" if hour.index in quiet else ""
        if word:
            ax.annotate(word, (hour.index + 0.425, hour.mean), ha="center", va="bottom",
                        xytext=(0, 2), textcoords="offset points", fontsize=8,
                        color=LOUD_COLOUR if word == "busiest" else QUIET_COLOUR)  # fmt: skip
    ax.set_ylim(0, top * 1.25)
    ax.set_xlim(0, report.window.hours)
    ax.set_xticks([h.index for h in profile], [h.label for h in profile], fontsize=8)
    ax.set_ylabel("coughs / night")
    ax.set_title("The average night: busiest hour red, quietest green", fontsize=10, loc="left")
    _tidy(ax)


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def night_label(night: Night) -> str:
    """``Mon 05 Jan`` (and ``(running)`` for the night in progress)."""
    return f"{night.night:%a %d %b}" + (" (running)" if night.running else "")
