"""The day's equity curve (cumulative realised PnL, won) as inline SVG on the session clock:
a step line, no chart library, no script."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradefleet.console.html import esc, won

W, H, PAD = 760, 220, 56


def equity_svg(points: list[tuple[datetime, int]], open_at: datetime | None = None,
               close_at: datetime | None = None) -> str:
    """``points``: (session time, realised PnL of a closed trade), in time order."""
    if not points:
        return '<p class="empty">no closed trade yet: no equity curve</p>'
    times = [t for t, _ in points]
    start = open_at or times[0]
    end = max(close_at or times[-1], times[-1])
    span = max((end - start).total_seconds(), 1.0)
    total, curve = 0, [(start, 0)]
    for t, value in points:
        total += value
        curve.append((t, total))
    low, high = min(v for _, v in curve), max(v for _, v in curve)
    rng = max(high - low, 1)

    def x(t: datetime) -> float:
        return PAD + (W - 2 * PAD) * (t - start).total_seconds() / span

    def y(v: int) -> float:
        return H - PAD - (H - 2 * PAD) * (v - low) / rng

    steps, prev = [], curve[0][1]
    for t, v in curve:
        steps.append(f"{x(t):.1f},{y(prev):.1f} {x(t):.1f},{y(v):.1f}")
        prev = v
    steps.append(f"{x(end):.1f},{y(prev):.1f}")
    zero = (f'<line x1="{PAD}" x2="{W - PAD}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
            f'class="zero"/>' if low <= 0 <= high else "")
    hour = start.replace(minute=0, second=0, microsecond=0)
    ticks = []
    while hour <= end:
        if hour >= start:
            ticks.append(f'<text x="{x(hour):.1f}" y="{H - 10}" text-anchor="middle">'
                         f'{esc(hour.strftime("%H:%M"))}</text>')
        hour += timedelta(hours=1)
    labels = ("".join(ticks) + f'<text x="4" y="{y(high) + 4:.1f}">{won(high)}</text>'
              f'<text x="4" y="{y(low) + 4:.1f}">{won(low)}</text>')
    return (f'<svg id="equity" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
            f'aria-label="equity curve, final {won(total)} won">{zero}'
            f'<polyline points="{" ".join(steps)}" class="curve"/>{labels}</svg>')
