#!/usr/bin/python3
"""Draws the plots a paper declares in its results.json, as PNG and SVG.

    /usr/bin/python3 papers/common/plot.py OUT/results.json --out OUT/plots

Each entry of results.json's "plots" is a spec (papers/common/README.md,
"Plots"); values come from "metrics" (mean, with the standard deviation over
seeds as error bars) or, for heatmaps, from the spec itself:

  {"id": "own_task", "kind": "bar", "title": ..., "ylabel": ...,
   "categories": ["held-in", "held-out"],
   "series": [{"label": "base", "metrics": ["base/in", "base/out"]}, ...]}
  {"id": "merge_curve", "kind": "line", "x": [2, 5, 10], "xlabel": ...,
   "series": [{"label": "sparse", "metrics": ["m/2", "m/5", "m/10"],
               "band": ["s/2", "s/5", null]}]}   # optional shaded ± band
  {"id": "similarity", "kind": "heatmap", "matrix": [[...]],
   "row_labels": [...], "col_labels": [...], "vmin": -1, "vmax": 1}

Uses Debian's python3-matplotlib only (Agg backend, no display).
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Fixed SVG ids and no date, so the same results draw the same files.
plt.rcParams["svg.hashsalt"] = "libra"
plt.rcParams["svg.fonttype"] = "none"


class SpecError(Exception):
    pass


def metric_stat(metrics, name, plot_id):
    if name is None:
        return math.nan, 0.0
    if name not in metrics:
        raise SpecError(f'plot "{plot_id}": unknown metric "{name}"')
    m = metrics[name]
    return float(m["mean"]), float(m.get("std", 0.0))


def series_values(spec, metrics, n):
    out = []
    for s in spec.get("series", []):
        names = s.get("metrics", [])
        if len(names) != n:
            raise SpecError(
                f'plot "{spec["id"]}": series "{s.get("label", "?")}" has '
                f"{len(names)} metrics, expected {n}")
        stats = [metric_stat(metrics, name, spec["id"]) for name in names]
        out.append((s.get("label", ""), [m for m, _ in stats], [d for _, d in stats]))
    return out


def draw_bar(ax, spec, metrics):
    cats = spec.get("categories", [""])
    series = series_values(spec, metrics, len(cats))
    width = 0.8 / max(len(series), 1)
    for i, (label, means, stds) in enumerate(series):
        xs = [c + (i - (len(series) - 1) / 2) * width for c in range(len(cats))]
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=label)
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels(cats, rotation=spec.get("xrotation", 0))
    if "ylim" in spec:
        ax.set_ylim(*spec["ylim"])
    if len(series) > 1:
        ax.legend(fontsize="small")


def band_values(spec, series, metrics, n):
    """A series' optional "band": one metric per x whose mean is the band's
    half-width (a second spread, such as over task subsets); null for none."""
    names = series.get("band")
    if names is None:
        return None
    if len(names) != n:
        raise SpecError(
            f'plot "{spec["id"]}": series "{series.get("label", "?")}" has a band of '
            f"{len(names)} metrics, expected {n}")
    return [0.0 if name is None else metric_stat(metrics, name, spec["id"])[0] for name in names]


def draw_line(ax, spec, metrics):
    xs = spec.get("x", [])
    values = series_values(spec, metrics, len(xs))
    for s, (label, means, stds) in zip(spec.get("series", []), values):
        line = ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
        band = band_values(spec, s, metrics, len(xs))
        if band is not None:
            ax.fill_between(xs, [m - b for m, b in zip(means, band)],
                            [m + b for m, b in zip(means, band)],
                            color=line[0].get_color(), alpha=0.15, linewidth=0)
    if spec.get("xlog"):
        ax.set_xscale("log")
    if "ylim" in spec:
        ax.set_ylim(*spec["ylim"])
    ax.legend(fontsize="small")


def draw_heatmap(fig, ax, spec, _metrics):
    matrix = spec.get("matrix")
    if not matrix or any(len(r) != len(matrix[0]) for r in matrix):
        raise SpecError(f'plot "{spec["id"]}": "matrix" must be a non-empty rectangle')
    im = ax.imshow(matrix, vmin=spec.get("vmin"), vmax=spec.get("vmax"),
                   cmap=spec.get("cmap", "viridis"), aspect="auto")
    fig.colorbar(im, ax=ax)
    rows, cols = spec.get("row_labels"), spec.get("col_labels")
    if rows:
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows, fontsize="x-small")
    if cols:
        ax.set_xticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=90, fontsize="x-small")
    if spec.get("annotate"):
        for i, row in enumerate(matrix):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="xx-small",
                        color="white")


def draw(spec, metrics, out_dir):
    kind = spec.get("kind")
    size = spec.get("size", [7, 4.5] if kind != "heatmap" else [7, 6])
    fig, ax = plt.subplots(figsize=size)
    try:
        if kind == "bar":
            draw_bar(ax, spec, metrics)
        elif kind == "line":
            draw_line(ax, spec, metrics)
        elif kind == "heatmap":
            draw_heatmap(fig, ax, spec, metrics)
        else:
            raise SpecError(f'plot "{spec.get("id")}": unknown kind "{kind}" '
                            "(expected bar, line or heatmap)")
        ax.set_title(spec.get("title", spec["id"]))
        ax.set_xlabel(spec.get("xlabel", ""))
        ax.set_ylabel(spec.get("ylabel", ""))
        fig.tight_layout()
        paths = []
        for ext in ("png", "svg"):
            path = os.path.join(out_dir, f'{spec["id"]}.{ext}')
            tmp = path + ".tmp"
            fig.savefig(tmp, format=ext, dpi=120, metadata={"Date": None} if ext == "svg" else None)
            os.replace(tmp, path)
            paths.append(path)
        return paths
    finally:
        plt.close(fig)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--out", help="folder for the images (default: RESULTS_DIR/plots)")
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"plot.py: error: {args.results}: {e}", file=sys.stderr)
        return 1
    out_dir = args.out or os.path.join(os.path.dirname(os.path.abspath(args.results)), "plots")
    os.makedirs(out_dir, exist_ok=True)
    metrics = doc.get("metrics", {})
    status = 0
    for spec in doc.get("plots", []):
        if "id" not in spec:
            print(f"plot.py: error: {args.results}: a plot has no \"id\"", file=sys.stderr)
            status = 1
            continue
        try:
            for path in draw(spec, metrics, out_dir):
                print(path)
        except SpecError as e:
            print(f"plot.py: error: {args.results}: {e}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
