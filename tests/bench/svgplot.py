# SPDX-License-Identifier: GPL-2.0
"""Plots for the benchmark runner as plain SVG (no plotting library on
the hosts): a grouped horizontal bar chart of ratios, one group per job,
one bar per series, with the 1.0 line drawn (blk, net); a line chart
with linear or log axes (balloon over time, hypercall and PV MMU by
batch size).  Kept small on purpose."""

import math

from xml.sax.saxutils import escape

# a colour per series, in order (colour-blind friendly, Okabe-Ito)
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
           "#D55E00", "#F0E442", "#000000")
BAR = 12        # px per bar
GAP = 10        # px between groups
LEFT = 150      # px for the job names
WIDTH = 460     # px of the plotting area
TOP = 40        # px for the title and the legend


def ratio_bars(title, groups, series, values, path, xlabel="ratio"):
    """Write an SVG to path: for each group g (in order) a bar per series
    s with values[(g, s)] when present; the axis runs from 0 to the
    largest value (at least 1.5), with a dashed line at 1.0."""
    vmax = max([1.5] + [v for v in values.values() if v is not None])
    scale = WIDTH / vmax
    rows = []
    y = TOP
    for g in groups:
        present = [s for s in series if values.get((g, s)) is not None]
        if not present:
            continue
        h = BAR * len(present)
        rows.append(f'<text x="{LEFT - 6}" y="{y + h / 2 + 4:.0f}" '
                    f'text-anchor="end">{escape(g)}</text>')
        for s in present:
            v = values[(g, s)]
            c = COLOURS[series.index(s) % len(COLOURS)]
            rows.append(f'<rect x="{LEFT}" y="{y}" width="{v * scale:.1f}" '
                        f'height="{BAR - 2}" fill="{c}"/>')
            rows.append(f'<text x="{LEFT + v * scale + 3:.1f}" '
                        f'y="{y + BAR - 3}" font-size="9">{v:.2f}</text>')
            y += BAR
        y += GAP
    height = y + 30
    one = LEFT + scale
    legend = []
    for i, s in enumerate(series):
        x = LEFT + i * 95
        legend.append(f'<rect x="{x}" y="22" width="10" height="10" '
                      f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                      f'<text x="{x + 14}" y="31" font-size="10">'
                      f'{escape(s)}</text>')
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 60}"'
           f' height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{LEFT}" y="14" font-weight="bold">{escape(title)}</text>',
           *legend, *rows,
           f'<line x1="{one:.1f}" y1="{TOP - 4}" x2="{one:.1f}" '
           f'y2="{y}" stroke="#444" stroke-dasharray="4 3"/>',
           f'<line x1="{LEFT}" y1="{y}" x2="{LEFT + WIDTH}" y2="{y}" '
           f'stroke="#444"/>',
           f'<text x="{LEFT + WIDTH / 2}" y="{y + 20}" '
           f'text-anchor="middle">{escape(xlabel)}</text>',
           '</svg>']
    with open(path, "w") as f:
        f.write("\n".join(svg) + "\n")


def _ticks(lo, hi, log, pow2=False):
    """Axis ticks: on a log axis powers of 2 (pow2) or 1, 2, 5 times
    the powers of 10 in [lo, hi]; on a linear one about 5 round steps."""
    if log:
        t = []
        for e in range(math.floor(math.log10(lo)) - 1,
                       math.ceil(math.log10(hi)) + 1):
            if pow2:
                cand = [2 ** k for k in range(max(0, math.floor(
                    e * math.log2(10))), math.floor((e + 1) * math.log2(10)))]
            else:
                cand = [m * 10 ** e for m in (1, 2, 5)]
            t += [v for v in cand if lo / 1.0001 <= v <= hi * 1.0001]
        return sorted(set(t))
    span = hi - lo or 1
    step = 10 ** math.floor(math.log10(span / 5))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= 6:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v):
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e4:
        return f"{v / 1e3:.3g}k"
    return f"{v:.4g}"


def lines(title, series, path, xlabel, ylabel, logx=False, logy=False,
          height=300):
    """Write an SVG line chart to path: series is a list of (name,
    [(x, y), ...]) drawn in order, each with its points marked when it
    has few (40 or fewer); log axes take positive values only.  The y
    axis starts at 0 on a linear scale."""
    pts = [(x, y) for _, p in series for x, y in p
           if (x > 0 or not logx) and (y > 0 or not logy)]
    if not pts:
        raise ValueError("nothing to plot")
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    x0, x1 = min(xs), max(xs)
    # a margin above (and below, on a log axis) the extreme points
    y0, y1 = (min(ys) / 1.2, max(ys) * 1.2) if logy else (0, max(ys) * 1.05)
    if x1 == x0:
        x1 = x0 * 2 if logx else x0 + 1
    if y1 == y0:
        y1 = y0 * 2 if logy else y0 + 1
    left, right, top, bottom = 70, 20, TOP + 10, 45
    w, h = WIDTH, height - top - bottom

    def sx(x):
        if logx:
            return left + w * math.log(x / x0) / math.log(x1 / x0)
        return left + w * (x - x0) / (x1 - x0)

    def sy(y):
        if logy:
            return top + h - h * math.log(y / y0) / math.log(y1 / y0)
        return top + h - h * (y - y0) / (y1 - y0)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" '
           f'width="{left + w + right}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="14" font-weight="bold">'
           f'{escape(title)}</text>']
    x = left
    for i, (name, _) in enumerate(series):
        out.append(f'<rect x="{x}" y="22" width="10" height="10" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{x + 14}" y="31" font-size="10">'
                   f'{escape(name)}</text>')
        x += 30 + 6 * len(name)
    for t in _ticks(x0, x1, logx, pow2=True):
        out.append(f'<line x1="{sx(t):.1f}" y1="{top}" x2="{sx(t):.1f}" '
                   f'y2="{top + h}" stroke="#ddd"/>'
                   f'<text x="{sx(t):.1f}" y="{top + h + 14}" '
                   f'text-anchor="middle">{_fmt(t)}</text>')
    for t in _ticks(y0, y1, logy):
        out.append(f'<line x1="{left}" y1="{sy(t):.1f}" x2="{left + w}" '
                   f'y2="{sy(t):.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{sy(t) + 4:.1f}" '
                   f'text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" '
               f'fill="none" stroke="#444"/>')
    for i, (name, p) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        p = [(x, y) for x, y in p
             if (x > 0 or not logx) and (y > 0 or not logy)]
        if not p:
            continue
        d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
        out.append(f'<polyline points="{d}" fill="none" stroke="{c}" '
                   f'stroke-width="1.5"/>')
        if len(p) <= 40:
            out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" '
                    f'fill="{c}"/>' for x, y in p]
    out += [f'<text x="{left + w / 2}" y="{height - 12}" '
            f'text-anchor="middle">{escape(xlabel)}</text>',
            f'<text x="14" y="{top + h / 2}" text-anchor="middle" '
            f'transform="rotate(-90 14 {top + h / 2})">'
            f'{escape(ylabel)}</text>',
            '</svg>']
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
