# SPDX-License-Identifier: GPL-2.0
"""Plots for the benchmark runner as plain SVG (no plotting library on
the hosts): a grouped horizontal bar chart of ratios, one group per job,
one bar per series, with the 1.0 line drawn.  Kept small on purpose."""

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
