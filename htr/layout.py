"""Lines into blocks and blocks into reading order: pure functions of line polygons.

Lines that overlap horizontally and follow each other closely form a block (a paragraph, a column, a
marginal note, a letterhead); blocks whose boxes overlap by half (a salutation or an insertion cut off from
the text around it) are one block. A narrow block beside a wider one, overlapping it vertically but not
horizontally, is a marginal note: it is read beside the line it sits next to (a note in the left margin
before that line, one in the right margin after it; one right of the block's first line only, a folio or
page number, after the block). The other blocks are ordered by a recursive X-Y cut that prefers column
gaps: where a vertical gap runs through every block of a group, the group is read column by column, left to
right; otherwise it is cut horizontally and read top to bottom (so a letterhead or heading spanning the
columns comes first); else it is cut vertically where parts side by side each span half its height (two
pages with a narrow gutter); else its blocks are read by their top lines' rows. Within a block, lines side
by side whose vertical centres nearly coincide form a row, read left to right, so a right-aligned date or
signature stays in place; stacked lines never share a row, however much their boxes overlap.
"""
from __future__ import annotations

import cv2
import numpy as np

from htr.document import Block, Line, hull_polygon

MARGIN_SHARE = 0.4  # a side group narrower than this share of the widest group beside it is a marginal note


def _boxes(lines: list[Line]) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1 of each line's polygon."""
    return np.array([line.bbox for line in lines], np.float64).reshape(-1, 4)


def line_height(lines: list[Line]) -> float:
    """The median height of the lines' bounding boxes (1 when there are none)."""
    boxes = _boxes(lines)
    return float(np.median(boxes[:, 3] - boxes[:, 1])) if len(boxes) else 1.0


def _components(n: int, links: np.ndarray) -> list[list[int]]:
    """Connected components (lists of indices, in index order) of an (n, n) boolean link matrix."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(links, 1))):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _stacked(boxes: np.ndarray, overlap: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """(N, N) whether two boxes are stacked (their x-ranges overlap by ``overlap`` of the narrower one), and
    their x-overlaps (negative: the gap between them)."""
    x0, x1 = boxes[:, 0], boxes[:, 2]
    x_overlap = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    narrower = np.maximum(1.0, np.minimum((x1 - x0)[:, None], (x1 - x0)[None]))
    return x_overlap >= overlap * narrower, x_overlap


def group_blocks(lines: list[Line], gap: float = 1.0, overlap: float = 0.2) -> list[list[int]]:
    """Indices of lines per block: lines are linked when their x-ranges overlap by ``overlap`` of the
    narrower one and the vertical gap between them is under ``gap`` median line heights. A line with two
    side-by-side lines below (or above) it within three line heights spans columns, like a heading: it is
    not linked that way, so it does not join the columns into one block."""
    boxes = _boxes(lines)
    h = line_height(lines)
    y0, y1 = boxes[:, 1], boxes[:, 3]
    stacked, x_overlap = _stacked(boxes, overlap)
    y_gap = np.maximum(y0[:, None], y0[None]) - np.minimum(y1[:, None], y1[None])
    links = stacked & (y_gap < gap * h)
    np.fill_diagonal(links, False)
    centre = (y0 + y1) / 2
    disjoint = x_overlap <= 0
    for i in range(len(lines)):
        for side in (centre > centre[i], centre < centre[i]):
            near = np.nonzero(stacked[i] & side & (y_gap[i] < 3 * h))[0]  # columns may start a little apart
            if disjoint[np.ix_(near, near)].any():
                links[i, near] = links[near, i] = False
    return _components(len(lines), links)


def merge_tables(lines: list[Line], blocks: list[list[int]], share: float = 0.7, narrow: float = 0.3,
                 label: float = 0.08) -> list[list[int]]:
    """Side-by-side blocks of short lines whose rows line up (a table, a form of labels and values) merged
    into one block, so that it is read row by row: two blocks merge when ``share`` of the lines of the
    smaller one sit on a row of the other and the lines of both are narrower than ``narrow`` of the span of
    all lines (two columns of running text are wider), or when one is a column of labels narrower than
    ``label`` of the span, every one of them on a row of the other (list labels beside their items)."""
    boxes = _boxes(lines)
    h = line_height(lines)
    span = boxes[:, 2].max() - boxes[:, 0].min()
    centre = (boxes[:, 1] + boxes[:, 3]) / 2
    width = [float(np.median(boxes[b, 2] - boxes[b, 0])) for b in blocks]
    links = np.zeros((len(blocks), len(blocks)), bool)
    for a in range(len(blocks)):
        for b in range(a + 1, len(blocks)):
            small, big = sorted((blocks[a], blocks[b]), key=len)
            aligned = sum(np.abs(centre[big] - centre[i]).min() < 0.5 * h for i in small) / len(small)
            if len(small) < 2 or aligned < share:
                continue
            tabular = max(width[a], width[b]) < narrow * span
            labels = min(width[a], width[b]) < label * span and aligned == 1.0  # list labels beside items
            links[a, b] = links[b, a] = tabular or labels
    return [sorted(i for k in group for i in blocks[k]) for group in _components(len(blocks), links)]


def _rows(boxes: np.ndarray, h: float, row_share: float = 0.5) -> list[int]:
    """Indices of boxes top to bottom by vertical centre; boxes side by side (not stacked) whose centres lie
    within ``row_share`` of ``h`` of each other form a row, read left to right. Stacked boxes never share a
    row, however much they overlap vertically (tall boxes of closely spaced lines)."""
    centres = (boxes[:, 1] + boxes[:, 3]) / 2
    stacked = _stacked(boxes)[0]
    rows: list[list[int]] = []
    for i in map(int, np.argsort(centres, kind="stable")):
        row = rows[-1] if rows else []
        if row and centres[i] - np.mean(centres[row]) < row_share * h and not stacked[i, row].any():
            row.append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda k: boxes[k, 0])]


def row_order(lines: list[Line], row_share: float = 0.5) -> list[int]:
    """Indices of a block's lines top to bottom, lines side by side on a row left to right (``_rows``)."""
    return _rows(_boxes(lines), line_height(lines), row_share) if lines else []


def _block_boxes(lines: list[Line], blocks: list[list[int]]) -> np.ndarray:
    """(N, 4) the box around each block's lines."""
    boxes = [_boxes([lines[i] for i in b]) for b in blocks]
    return np.array([[*b[:, :2].min(0), *b[:, 2:].max(0)] for b in boxes]).reshape(-1, 4)


def merge_nested(lines: list[Line], blocks: list[list[int]], share: float = 0.5) -> list[list[int]]:
    """Blocks whose boxes overlap by ``share`` of the smaller box merged into one: no cut separates them (a
    salutation or an insertion cut off from the text around it), so their lines are read row by row."""
    x0, y0, x1, y1 = _block_boxes(lines, blocks).T
    w = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
    h = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
    area = (x1 - x0) * (y1 - y0)
    links = w * h >= share * np.maximum(1.0, np.minimum(area[:, None], area[None]))
    return [sorted(i for k in group for i in blocks[k]) for group in _components(len(blocks), links)]


def _gaps(starts: np.ndarray, ends: np.ndarray, min_gap: float) -> list[float]:
    """Cut positions in the empty stretches (at least ``min_gap`` wide) of the union of intervals."""
    cuts, reach = [], None
    for s, e in sorted(zip(starts, ends)):
        if reach is not None and s - reach >= min_gap:
            cuts.append((reach + s) / 2)
        reach = e if reach is None else max(reach, e)
    return cuts


def _split(boxes: np.ndarray, idx: list[int], axis: int, min_gap: float) -> list[list[int]]:
    """The items of ``idx`` split at the gaps along ``axis`` (0: x, columns; 1: y, bands), in order."""
    cuts = _gaps(boxes[idx, axis], boxes[idx, axis + 2], min_gap)
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in idx:
        parts[int(np.searchsorted(cuts, (boxes[i, axis] + boxes[i, axis + 2]) / 2))].append(i)
    return [p for p in parts if p]


def _columns(line_boxes: list[np.ndarray], idx: list[int], min_gap: float) -> list[list[int]]:
    """Blocks ``idx`` split into columns at the x-gaps between their long lines (a quarter of the group's
    width or more): a stamp or a word between two columns, even joined to a block, does not bridge them.
    A block goes to the column its long lines (else all its lines) are centred in."""
    every = np.concatenate([line_boxes[i] for i in idx])
    width = every[:, 2].max() - every[:, 0].min()
    long = {i: b[b[:, 2] - b[:, 0] >= width / 4] for i, b in ((i, line_boxes[i]) for i in idx)}
    frame = np.concatenate([b for b in long.values()] + [np.zeros((0, 4))])
    cuts = _gaps(frame[:, 0], frame[:, 2], min_gap) if len(frame) else []
    parts: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in idx:
        b = long[i] if len(long[i]) else line_boxes[i]
        parts[int(np.searchsorted(cuts, float(np.median((b[:, 0] + b[:, 2]) / 2))))].append(i)
    return [p for p in parts if p]


def marginal_notes(boxes: np.ndarray, near: float) -> dict[int, int]:
    """Marginal note -> the block it sits beside: a block narrower than MARGIN_SHARE of a block that it
    overlaps vertically but not horizontally (the most overlapping such block), and with no wider block
    above or below it within ``near`` pixels (else it is a short block of a column, such as a heading)."""
    widths = boxes[:, 2] - boxes[:, 0]
    x_overlap = np.minimum(boxes[:, None, 2], boxes[None, :, 2]) > np.maximum(boxes[:, None, 0], boxes[None, :, 0])
    y_overlap = np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1])
    notes = {}
    for i in range(len(boxes)):
        stacked = x_overlap[i] & (widths > widths[i]) & (y_overlap[i] > -near)
        stacked[i] = False
        beside = ~x_overlap[i] & (widths * MARGIN_SHARE > widths[i]) & (y_overlap[i] > 0)
        if beside.any() and not stacked.any():
            notes[i] = int(np.argmax(np.where(beside, y_overlap[i], -np.inf)))
    return {i: j for i, j in notes.items() if j not in notes}


def order_blocks(boxes: np.ndarray, line_boxes: list[np.ndarray], idx: list[int] | None = None,
                 line_h: float = 20.0) -> list[int]:
    """Block indices in reading order by a recursive X-Y cut: column gaps between long lines first, then
    horizontal bands, then parts side by side that each span half the height, else by the rows of the blocks'
    top lines. ``boxes`` (N, 4) are the blocks' boxes, ``line_boxes`` the boxes of each block's lines."""
    idx = list(range(len(boxes))) if idx is None else idx
    if len(idx) <= 1:
        return idx
    columns = _columns(line_boxes, idx, 0.5 * line_h)
    if len(columns) > 1:
        return [i for col in columns for i in order_blocks(boxes, line_boxes, col, line_h)]
    bands = _split(boxes, idx, 1, 0.0)
    if len(bands) > 1:
        return [i for band in bands for i in order_blocks(boxes, line_boxes, band, line_h)]
    parts = _split(boxes, idx, 0, 0.0)  # side by side, each over half the height: pages, a narrow gutter
    height = boxes[idx, 3].max() - boxes[idx, 1].min()
    if len(parts) > 1 and all(boxes[p, 3].max() - boxes[p, 1].min() >= height / 2 for p in parts):
        return [i for part in parts for i in order_blocks(boxes, line_boxes, part, line_h)]
    tops = np.array([b[np.argmin(b[:, 1] + b[:, 3])] for b in (line_boxes[i] for i in idx)])
    return [idx[k] for k in _rows(tops, line_h)]  # by their top lines: those on one row left to right


def _reads_before(a, b, h: float) -> bool:
    """Whether box ``a`` (x0, y0, x1, y1) reads before box ``b``: on one row (centres within half of ``h``,
    side by side) when it is further left, else when its centre is higher."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ca, cb = (a[1] + a[3]) / 2, (b[1] + b[3]) / 2
    if abs(ca - cb) < 0.5 * h and not _stacked(np.stack([a, b]))[0][0, 1]:
        return bool(a[0] < b[0])
    return bool(ca < cb)


def note_places(anchor: np.ndarray, tops: list[np.ndarray], h: float) -> list[int]:
    """Where each marginal note comes among its anchor block's lines (``anchor``: their boxes, in reading
    order; ``tops``: each note's top line box): before the first line it reads before, so beside the line it
    sits next to; a note right of the block's first line only (a folio or page number) after the block."""
    places = []
    for top in tops:
        k = next((k for k, box in enumerate(anchor) if _reads_before(top, box, h)), len(anchor))
        places.append(len(anchor) if k == 1 and top[0] > anchor[:, 2].max() else k)
    return places


def skew_angle(lines: list[Line]) -> float:
    """The page's skew, radians: the median direction of the long axis of the lines clearly wider than tall."""
    angles = []
    for line in lines:
        if len(line.polygon) < 3:
            continue
        (_, _), (w, h), a = cv2.minAreaRect(line.polygon.astype(np.float32))
        if w < h:
            w, h, a = h, w, a - 90
        if w > 3 * h:
            angles.append((a + 90) % 180 - 90)
    return float(np.deg2rad(np.median(angles))) if angles else 0.0


def deskewed(lines: list[Line]) -> list[Line]:
    """Stand-ins for the lines with their polygons turned by minus the page's skew (for ordering only)."""
    angle = skew_angle(lines)
    c, s = np.cos(-angle), np.sin(-angle)
    turn = np.array([[c, s], [-s, c]], np.float32)  # row vectors times this turn them by -angle
    return [Line(polygon=ln.polygon @ turn) for ln in lines]


def layout(lines: list[Line]) -> list[Block]:
    """The page's blocks in reading order, each with its lines in reading order; ids b1.., l1.. follow it.
    Blocks and order are worked out on the deskewed page."""
    if not lines:
        return []
    upright = deskewed(lines)
    h = line_height(upright)
    groups = merge_nested(upright, merge_tables(upright, group_blocks(upright)))
    groups = [[g[k] for k in row_order([upright[i] for i in g])] for g in groups]
    boxes = _block_boxes(upright, groups)
    notes = marginal_notes(boxes, 3 * h)
    line_boxes = [_boxes([upright[i] for i in g]) for g in groups]
    main = order_blocks(boxes, line_boxes, [i for i in range(len(groups)) if i not in notes], h)
    segments = []  # the blocks' lines in reading order, an anchor block split where its notes come in
    for b in main:
        beside = sorted((i for i, anchor in notes.items() if anchor == b), key=lambda i: boxes[i, 1])
        at = note_places(line_boxes[b], [line_boxes[n][0] for n in beside], h)
        cuts = sorted({0, *at})
        for start, end in zip(cuts, [*cuts[1:], len(groups[b])]):
            segments += [groups[n] for n, k in zip(beside, at) if k == start] + [groups[b][start:end]]
    out, n = [], 0
    for k, segment in enumerate(s for s in segments if s):
        block_lines = [lines[i] for i in segment]
        for line in block_lines:
            n += 1
            line.id = f"l{n}"
        out.append(Block(polygon=hull_polygon([ln.polygon for ln in block_lines]), lines=block_lines,
                         id=f"b{k + 1}"))
    return out
