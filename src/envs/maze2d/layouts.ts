/**
 * D4RL's maze strings (d4rl/pointmaze/maze_model.py), one string per row.
 * '#' wall, 'O' empty, 'G' the fixed evaluation goal (also free).
 * Indexing is [row][col]; row maps to qpos x and column to qpos y (D4RL's convention).
 */

export type Cell = readonly [row: number, col: number];

export const MAZE_STRINGS = {
  open: ['#######', '#OOOOO#', '#OOGOO#', '#OOOOO#', '#######'],
  umaze: ['#####', '#GOO#', '###O#', '#OOO#', '#####'],
  medium: ['########', '#OO##OO#', '#OO#OOO#', '##OOO###', '#OO#OOO#', '#O#OO#O#', '#OOO#OG#', '########'],
  large: [
    '############',
    '#OOOO#OOOOO#',
    '#O##O#O#O#O#',
    '#OOOOOO#OOO#',
    '#O####O###O#',
    '#OO#O#OOOOO#',
    '##O#O#O#O###',
    '#OO#OOO#OGO#',
    '############',
  ],
  'umaze-eval': ['#####', '#OOG#', '#O###', '#OOO#', '#####'],
  'medium-eval': ['########', '#OOOOOG#', '#O#O##O#', '#OOOO#O#', '###OO###', '#OOOOOO#', '#OO##OO#', '########'],
  'large-eval': [
    '############',
    '#OO#OOO#OGO#',
    '##O###O#O#O#',
    '#OO#O#OOOOO#',
    '#O##O#OO##O#',
    '#OOOOOO#OOO#',
    '#O##O#O#O###',
    '#OOOO#OOOOO#',
    '############',
  ],
} as const satisfies Record<string, readonly string[]>;

export type MazeName = keyof typeof MAZE_STRINGS;

export interface MazeLayout {
  readonly name: string;
  readonly rows: readonly string[];
  readonly height: number;
  readonly width: number;
  /** the fixed evaluation goal: the G cell, or the first empty cell when there is none (as D4RL) */
  readonly goal: Cell;
  /** D4RL's reset and random-target cells: empty cells in sorted (row-major) order, then the G cell */
  readonly emptyAndGoalCells: readonly Cell[];
  isWall(row: number, col: number): boolean;
}

export function parseMaze(name: string, rows: readonly string[]): MazeLayout {
  const height = rows.length;
  const width = rows[0]?.length ?? 0;
  if (height === 0 || width === 0) throw new RangeError(`maze ${name} is empty`);
  const empty: Cell[] = [];
  const goals: Cell[] = [];
  rows.forEach((row, i) => {
    if (row.length !== width) throw new RangeError(`maze ${name}: row ${i} has ${row.length} cells, expected ${width}`);
    [...row].forEach((symbol, j) => {
      if (symbol === 'O') empty.push([i, j]);
      else if (symbol === 'G') goals.push([i, j]);
      else if (symbol !== '#') throw new RangeError(`maze ${name}: unknown symbol '${symbol}' at row ${i}, column ${j}`);
    });
  });
  if (goals.length > 1) throw new RangeError(`maze ${name} has ${goals.length} goal cells; at most one is allowed`);
  const goal = goals[0] ?? empty[0];
  if (goal === undefined) throw new RangeError(`maze ${name} has no free cell`);
  return {
    name,
    rows,
    height,
    width,
    goal,
    emptyAndGoalCells: [...empty, ...goals],
    isWall: (row, col) => row < 0 || row >= height || col < 0 || col >= width || rows[row]?.[col] === '#',
  };
}

export function mazeLayout(name: MazeName): MazeLayout {
  return parseMaze(name, MAZE_STRINGS[name]);
}
