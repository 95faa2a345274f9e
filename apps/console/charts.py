"""Small bar charts drawn on the server as inline SVG: no script, nothing fetched by the page."""

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from .dashboard import DayTotals

PASSED_COLOUR = "#3a9a5b"
ATTACK_COLOUR = "#c8413b"
OTHER_COLOUR = "#a8a8a8"


def _px(value: float) -> str:
    # format_html escapes its arguments into strings first, so numbers are formatted here.
    return f"{value:.1f}"


def stacked_bars_svg(bars: list[DayTotals], *, title: str, width: int = 560,
                     height: int = 160) -> SafeString:
    """One bar per day, its height the day's calls, stacked passed / attack / other from the
    bottom; the tallest bar fills the plot. Each bar's <title> gives its figures on hover."""
    margin_top, margin_bottom = 18, 20
    plot_height = height - margin_top - margin_bottom
    tallest = max((bar.calls for bar in bars), default=0) or 1
    slot = width / max(len(bars), 1)
    bar_width = max(slot * 0.7, 1.0)
    parts = [format_html('<text x="0" y="12" font-size="12">{} (calls per day, max {})</text>',
                         title, tallest)]
    for n, bar in enumerate(bars):
        x = n * slot + (slot - bar_width) / 2
        bottom = float(margin_top + plot_height)
        segments = [(bar.passed, PASSED_COLOUR), (bar.attacks, ATTACK_COLOUR),
                    (bar.other, OTHER_COLOUR)]
        rects = []
        for value, colour in segments:
            if value <= 0:
                continue
            h = plot_height * value / tallest
            bottom -= h
            rects.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                _px(x), _px(bottom), _px(bar_width), _px(h), colour))
        label = format_html("{}: {} calls, {} passed, {} attacks, {} other",
                            bar.day.isoformat(), bar.calls, bar.passed, bar.attacks, bar.other)
        parts.append(format_html("<g><title>{}</title>{}</g>", label, mark_safe("".join(rects))))
        if len(bars) <= 16 or n % 2 == 0:
            parts.append(format_html(
                '<text x="{}" y="{}" font-size="9" text-anchor="middle">{}</text>',
                _px(x + bar_width / 2), height - 6, bar.day.strftime("%m-%d")))
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}">{}</svg>',
        width, height, width, height, escape(title), mark_safe("".join(parts)))
