"""The board as a file to print at true scale (PNG with its DPI recorded, or PDF), with its
parameters written under it so the printout says which flags it needs."""
from __future__ import annotations

from pathlib import Path

from interhand_ros.calibration.board import BoardError, BoardSpec

INCH_M = 0.0254
MARGIN_M = 0.015      # white paper around the board, and room for the caption
CAPTION_M = 0.012


def print_board(spec: BoardSpec, path: Path, dpi: int = 300) -> str:
    """Write the board to path (.png or .pdf); returns the caption printed on it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if path.suffix.lower() not in ('.png', '.pdf'):
        raise BoardError(f'--print-board writes .png or .pdf, got {path.name}')
    width, height = spec.size_m
    paper_w, paper_h = width + 2 * MARGIN_M, height + 2 * MARGIN_M + CAPTION_M
    caption = (f'--board {spec.squares_x}x{spec.squares_y} --square {spec.square_m:g} '
               f'--marker {spec.marker_m:g} --dictionary {spec.dictionary}   '
               f'(print at 100 %, no scaling; measure a square: {spec.square_m * 1000:g} mm)')
    figure = plt.figure(figsize=(paper_w / INCH_M, paper_h / INCH_M))
    axes = figure.add_axes((MARGIN_M / paper_w, (MARGIN_M + CAPTION_M) / paper_h,
                            width / paper_w, height / paper_h))
    axes.imshow(spec.image(dpi / INCH_M), cmap='gray', vmin=0, vmax=255,
                interpolation='nearest', extent=(0, width, height, 0))
    axes.set_axis_off()
    figure.text(MARGIN_M / paper_w, MARGIN_M / paper_h, caption, fontsize=7,
                va='bottom', ha='left')
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return caption
