import type { Rng } from '../../engine/rng.js';
import type { Cell, MazeLayout } from './layouts.js';

/**
 * D4RL's scripted navigator (d4rl/pointmaze/waypoint_controller.py with gridcraft and
 * q_iteration.py), reproduced step for step:
 * - a grid MDP over maze cells with actions no-op, up, down, left, right in D4RL's index order
 *   (up/down move the column, left/right the row; moves into walls are no-ops), reward 1 for being
 *   in the target cell; 50 sweeps of hard-max Q-iteration with discount 0.99;
 * - a greedy rollout of at most 100 cells (ties to the lowest action index) gives the waypoints,
 *   each intermediate one jittered by -U(0, 1) * 0.2 per axis, the last one the exact target cell;
 * - PD control 10 * (waypoint - position) - 1 * velocity, clipped to [-1, 1].
 */

const GRID_MOVES: readonly Cell[] = [
  [0, 0],
  [0, -1],
  [0, 1],
  [-1, 0],
  [1, 0],
];
const Q_ITERATIONS = 50;
const DISCOUNT = 0.99;
const MAX_WAYPOINTS = 100;
const WAYPOINT_JITTER = 0.2;
const SOLVE_THRESHOLD = 0.1;
const MOTION_THRESHOLD = 0.1;
const P_GAIN = 10;
const D_GAIN = -1;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** The grid cell a continuous position rounds to (D4RL's gridify_state). */
export function gridCell(x: number, y: number): Cell {
  return [roundHalfEven(x), roundHalfEven(y)];
}

/**
 * The cells of a greedy Q-iteration rollout from start to target (both included when reachable
 * within 100 moves and 50 sweeps, as in D4RL; the start itself is not part of the list).
 */
export function planCells(layout: MazeLayout, start: Cell, target: Cell): Cell[] {
  const { height, width } = layout;
  const cellCount = height * width;
  const index = (row: number, col: number): number => row * width + col;
  const next = new Int32Array(cellCount * GRID_MOVES.length);
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      GRID_MOVES.forEach(([dr, dc], a) => {
        const r = row + dr;
        const c = col + dc;
        next[index(row, col) * GRID_MOVES.length + a] = layout.isWall(r, c) ? index(row, col) : index(r, c);
      });
    }
  }
  const targetIndex = index(target[0], target[1]);
  let value = new Float64Array(cellCount);
  const q = new Float64Array(cellCount * GRID_MOVES.length);
  for (let sweep = 0; sweep < Q_ITERATIONS; sweep++) {
    const nextValue = new Float64Array(cellCount);
    for (let s = 0; s < cellCount; s++) {
      const reward = s === targetIndex ? 1 : 0;
      let best = -Infinity;
      for (let a = 0; a < GRID_MOVES.length; a++) {
        const qsa = reward + DISCOUNT * (value[next[s * GRID_MOVES.length + a] as number] as number);
        q[s * GRID_MOVES.length + a] = qsa;
        if (qsa > best) best = qsa;
      }
      nextValue[s] = best;
    }
    value = nextValue;
  }
  const cells: Cell[] = [];
  let s = index(start[0], start[1]);
  for (let step = 0; step < MAX_WAYPOINTS; step++) {
    let bestAction = 0;
    for (let a = 1; a < GRID_MOVES.length; a++) {
      if ((q[s * GRID_MOVES.length + a] as number) > (q[s * GRID_MOVES.length + bestAction] as number)) bestAction = a;
    }
    s = next[s * GRID_MOVES.length + bestAction] as number;
    cells.push([Math.floor(s / width), s % width]);
    if (s === targetIndex) break;
  }
  return cells;
}

export interface ControllerOutput {
  /** clipped to [-1, 1] */
  action: Float64Array;
  /** the position is within 0.1 of the target cell and has moved less than 0.1 since the last call */
  reachedTarget: boolean;
}

export class WaypointController {
  private targetCell: Cell = [-1000, -1000];
  private waypoints: Array<readonly [number, number]> = [];
  private waypointIndex = 0;
  private previousX = 0;
  private previousY = 0;

  constructor(
    private readonly layout: MazeLayout,
    private readonly jitterRng: Rng,
  ) {}

  /** The waypoints of the current plan (for drawing and tests). */
  get plan(): ReadonlyArray<readonly [number, number]> {
    return this.waypoints;
  }

  /**
   * D4RL's get_action(location, velocity, target): replans when the target's cell changes, aims at
   * the current waypoint, and advances to the next one once within 0.1 and nearly still. The
   * "still" test compares positions between calls, as D4RL does.
   */
  act(x: number, y: number, vx: number, vy: number, targetX: number, targetY: number): ControllerOutput {
    const [targetRow, targetCol] = gridCell(targetX, targetY);
    if (Math.hypot(this.targetCell[0] - targetRow, this.targetCell[1] - targetCol) > 1e-3) this.replan(x, y, [targetRow, targetCol]);
    const motion = Math.hypot(this.previousX - x, this.previousY - y);
    const notSolved = Math.hypot(x - targetRow, y - targetCol) >= SOLVE_THRESHOLD || motion >= MOTION_THRESHOLD;
    const waypoint = notSolved ? (this.waypoints[this.waypointIndex] as readonly [number, number]) : ([targetRow, targetCol] as const);
    const action = new Float64Array(2);
    action[0] = clip(P_GAIN * (waypoint[0] - x) + D_GAIN * vx);
    action[1] = clip(P_GAIN * (waypoint[1] - y) + D_GAIN * vy);
    // Never passes the last waypoint: it is the target cell, and being that close and still means solved.
    // (A route cut off at 100 cells could end elsewhere; the index then stays on its last cell.)
    if (notSolved && Math.hypot(x - waypoint[0], y - waypoint[1]) < SOLVE_THRESHOLD && motion < MOTION_THRESHOLD && this.waypointIndex < this.waypoints.length - 1) {
      this.waypointIndex++;
    }
    this.previousX = x;
    this.previousY = y;
    return { action, reachedTarget: !notSolved };
  }

  /**
   * Puts the controller in the state D4RL's reference-score script leaves it in after its first
   * episode (scripts/reference_scores/maze2d_controller.py builds one controller for all 100
   * episodes and the target never changes, so it never replans): the route is used up and the last
   * waypoint, the target cell itself, is the only aim — PD control straight at the goal, which
   * slides along walls and can stall behind them.
   */
  assumeRouteDone(targetX: number, targetY: number): void {
    const target = gridCell(targetX, targetY);
    this.targetCell = target;
    this.waypoints = [target];
    this.waypointIndex = 0;
    this.previousX = target[0];
    this.previousY = target[1];
  }

  private replan(x: number, y: number, target: Cell): void {
    const start = gridCell(x, y);
    const cells = planCells(this.layout, start, target);
    this.waypoints = cells.map(([row, col]) =>
      row === target[0] && col === target[1] ? ([row, col] as const) : ([row - this.jitterRng.uniform() * WAYPOINT_JITTER, col - this.jitterRng.uniform() * WAYPOINT_JITTER] as const),
    );
    this.waypointIndex = 0;
    // D4RL stores the rounded start cell here, not the position.
    this.previousX = start[0];
    this.previousY = start[1];
    this.targetCell = target;
  }
}

function clip(value: number): number {
  return value < -1 ? -1 : value > 1 ? 1 : value;
}
