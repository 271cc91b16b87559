"""Plot the recorded benchmark results (docs/benchmarks.json) as docs/benchmarks.svg.

    .venv/bin/python bench/plot.py

Each entry is one measured quantity with its target: {"group", "label", "value", "target",
"unit", "lower_is_better"}. The bars are measured values scaled against their target, so one
chart holds seconds, milliseconds and speed-up factors: a bar left of the target line meets a
lower-is-better bar, right of it meets a higher-is-better one. Plain SVG, no plotting library.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "benchmarks.json"
OUT = ROOT / "docs" / "benchmarks.svg"

ROW, BAR, LEFT, WIDTH, RIGHT = 26, 16, 330, 380, 150
OK, MISS, TARGET = "#3a9a5b", "#d0673a", "#333333"


def meets(entry: dict) -> bool:
    if entry["lower_is_better"]:
        return entry["value"] <= entry["target"]
    return entry["value"] >= entry["target"]


def render(entries: list[dict], title: str) -> str:
    scale_max = max(2.0, max(e["value"] / e["target"] for e in entries) * 1.05)
    px = WIDTH / scale_max
    height = 60 + ROW * (len(entries) + len({e["group"] for e in entries})) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + RIGHT}" '
        f'height="{height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="22" font-size="15" font-weight="bold">{html.escape(title)}</text>',
        '<text x="10" y="40" fill="#555">bar = measured / target; the line is the target; '
        "green meets it, orange does not</text>",
    ]
    y, group = 55, None
    for entry in entries:
        if entry["group"] != group:
            group = entry["group"]
            y += 6
            out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{html.escape(group)}</text>')
            y += ROW - 6
        ratio = entry["value"] / entry["target"]
        colour = OK if meets(entry) else MISS
        unit = entry["unit"]
        out += [
            f'<text x="24" y="{y + 12}">{html.escape(entry["label"])}</text>',
            f'<rect x="{LEFT}" y="{y}" width="{ratio * px:.1f}" height="{BAR}" fill="{colour}"/>',
            f'<text x="{LEFT + ratio * px + 6:.1f}" y="{y + 12}">'
            f"{entry['value']:g} {unit} (target {'&lt;=' if entry['lower_is_better'] else '&gt;='}"
            f" {entry['target']:g})</text>",
        ]
        y += ROW
    out.append(
        f'<line x1="{LEFT + px:.1f}" y1="50" x2="{LEFT + px:.1f}" y2="{y}" stroke="{TARGET}" '
        'stroke-dasharray="4 3"/>'
    )
    out.append("</svg>\n")
    return "\n".join(out)


def main() -> None:
    data = json.loads(DATA.read_text())
    OUT.write_text(render(data["results"], data["title"]))
    print(f"wrote {OUT.relative_to(ROOT)} ({len(data['results'])} results)")


if __name__ == "__main__":
    main()
