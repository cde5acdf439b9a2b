import type { Rng } from '../../engine/rng.js';
import { GOAL_RADIUS } from './env.js';
import type { MazeLayout } from './layouts.js';

/** One path to draw: positions as interleaved [x0, y0, x1, y1, ...] in qpos coordinates. */
export interface MazePath {
  points: ArrayLike<number>;
  color?: string;
}

export interface MazeDrawing {
  paths: readonly MazePath[];
  title?: string;
  /** pixels per maze cell (default 60) */
  cellSize?: number;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

/**
 * Draws the maze as the layout string reads (row i downwards, column j to the right) with paths on
 * top. Positions are qpos, so a wall cell (i, j) covers [i-0.7, i+0.3] x [j-0.7, j+0.3] (D4RL's 0.2
 * offset between walls and the ball frame); the dashed circle is the sparse-reward radius.
 */
export function renderMazeSvg(layout: MazeLayout, drawing: MazeDrawing): string {
  const cell = drawing.cellSize ?? 60;
  const titleHeight = drawing.title === undefined ? 0 : 24;
  const width = layout.width * cell;
  const height = layout.height * cell + titleHeight;
  // qpos (x = row, y = column) to picture coordinates
  const px = (qy: number): number => (qy + 0.7) * cell;
  const py = (qx: number): number => (qx + 0.7) * cell + titleHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="${titleHeight}" width="${width}" height="${height - titleHeight}" fill="#f7f7f2"/>`,
  ];
  if (drawing.title !== undefined) parts.push(`<text x="6" y="17" font-family="sans-serif" font-size="14">${escapeXml(drawing.title)}</text>`);
  for (let i = 0; i < layout.height; i++) {
    for (let j = 0; j < layout.width; j++) {
      if (layout.isWall(i, j)) parts.push(`<rect x="${j * cell}" y="${i * cell + titleHeight}" width="${cell}" height="${cell}" fill="#3b3b3b"/>`);
    }
  }
  const [goalX, goalY] = layout.goal;
  parts.push(`<circle cx="${px(goalY)}" cy="${py(goalX)}" r="${GOAL_RADIUS * cell}" fill="#2ca02c" fill-opacity="0.15" stroke="#2ca02c" stroke-dasharray="4 3"/>`);
  drawing.paths.forEach((path, index) => {
    const color = path.color ?? PALETTE[index % PALETTE.length];
    const coords: string[] = [];
    for (let k = 0; k + 1 < path.points.length; k += 2) coords.push(`${round(px(path.points[k + 1] as number))},${round(py(path.points[k] as number))}`);
    if (coords.length === 0) return;
    parts.push(`<polyline points="${coords.join(' ')}" fill="none" stroke="${color}" stroke-width="2" stroke-opacity="0.8"/>`);
    const [startX, startY] = (coords[0] as string).split(',');
    parts.push(`<circle cx="${startX}" cy="${startY}" r="4" fill="${color}"/>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * Picks up to `count` dataset segments (rows between `timeouts`/`terminals` marks) at random and
 * returns their positions as paths, for drawing what the data cover.
 */
export function sampleDatasetSegments(
  data: { observations: Float32Array; obsDim: number; timeouts: Uint8Array; terminals: Uint8Array },
  count: number,
  rng: Rng,
): MazePath[] {
  const rows = data.timeouts.length;
  const starts: number[] = [0];
  for (let t = 0; t < rows - 1; t++) if (data.timeouts[t] === 1 || data.terminals[t] === 1) starts.push(t + 1);
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, starts.length)) chosen.add(rng.int(starts.length));
  return [...chosen].sort((a, b) => a - b).map((segment) => {
    const begin = starts[segment] as number;
    const end = (starts[segment + 1] as number | undefined) ?? rows;
    const points = new Float64Array((end - begin) * 2);
    for (let t = begin; t < end; t++) {
      points[(t - begin) * 2] = data.observations[t * data.obsDim] as number;
      points[(t - begin) * 2 + 1] = data.observations[t * data.obsDim + 1] as number;
    }
    return { points };
  });
}

/** [x, y, vx, vy, ...] rows of an episode to interleaved positions */
export function positionsOf(observations: Float64Array, obsDim: number): Float64Array {
  const steps = observations.length / obsDim;
  const points = new Float64Array(steps * 2);
  for (let t = 0; t < steps; t++) {
    points[t * 2] = observations[t * obsDim] as number;
    points[t * 2 + 1] = observations[t * obsDim + 1] as number;
  }
  return points;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}
