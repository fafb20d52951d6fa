"""Charts drawn on the server as SVG (no chart library, no script; presentation attributes only, since the CSP
allows no inline style). Each function takes figures as the services give them and returns markup."""

from markupsafe import Markup, escape

BLUE, GREEN, ORANGE, RED, GREY = "#0b6bcb", "#1b7f3b", "#b45309", "#c62828", "#9fb3c8"
LABEL_WIDTH, BAR_HEIGHT, GAP, WIDTH = 150, 18, 8, 640


def _svg(height: float, title: str, body: list[str], width: int = WIDTH) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height:.0f}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text, anchor: str = "start", fill: str = "#1f2933") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'


def bars(title: str, rows: list[tuple[str, float | None]], *, percent: bool = False) -> Markup:
    """Horizontal bars, one per (label, value); a missing value (no denominator) is drawn as "—"."""
    if not rows:
        return _svg(30, title, [_text(WIDTH / 2, 20, "暂无数据", "middle", GREY)])
    top = 1.0 if percent else max((value or 0) for _, value in rows) or 1
    span = WIDTH - LABEL_WIDTH - 70
    body = []
    for index, (label, value) in enumerate(rows):
        y = GAP + index * (BAR_HEIGHT + GAP)
        body.append(_text(LABEL_WIDTH - 8, y + BAR_HEIGHT - 5, label[:12], "end"))
        body.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{span}" height="{BAR_HEIGHT}" fill="#eef2f6"/>')
        if value is None:
            body.append(_text(LABEL_WIDTH + 6, y + BAR_HEIGHT - 5, "—", fill=GREY))
            continue
        length = span * min(value / top, 1)
        colour = (GREEN if value >= 0.9 else ORANGE if value >= 0.7 else RED) if percent else BLUE
        shown = f"{value * 100:.1f}%" if percent else f"{value:g}"
        body.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{colour}"/>')
        body.append(_text(LABEL_WIDTH + length + 6, y + BAR_HEIGHT - 5, shown))
    return _svg(GAP + len(rows) * (BAR_HEIGHT + GAP), title, body)


def lines(title: str, days: list[str], series: list[tuple[str, str, list[int]]], width: int = 1200) -> Markup:
    """A daily series: x = the days (labels MM-DD, a few of them), one polyline per (name, colour, values)."""
    height, left, right, top, bottom = 240, 40, width - 30, 28, 200
    peak = max([max(values, default=0) for _, _, values in series], default=0) or 1
    step = (right - left) / max(len(days) - 1, 1)

    def point(index: int, value: int) -> str:
        return f"{left + index * step:.1f},{bottom - (bottom - top) * value / peak:.1f}"

    body = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{GREY}"/>']
    for fraction in (0.5, 1):
        y = bottom - (bottom - top) * fraction
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e4e9ef"/>')
        body.append(_text(left - 6, y + 4, f"{peak * fraction:g}", "end", GREY))
    every = max(1, len(days) // 15)
    for index, day in enumerate(days):
        if index % every == 0 or index == len(days) - 1:
            body.append(_text(left + index * step, bottom + 16, day[5:], "middle", GREY))
    for number, (name, colour, values) in enumerate(series):
        points = " ".join(point(index, value) for index, value in enumerate(values))
        body.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        x = left + number * 120
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 16, 16, f"{name}（{sum(values)}）"))
    return _svg(height, title, body, width)
