/**
 * The policy player page: loads a Stitch policy file, builds its task on MuJoCo WebAssembly in the
 * page, and lets the policy drive it live, drawing the maze (or, for locomotion, the body's x
 * position) and the return still to collect, with controls for the target return, reset, pause and
 * speed. An episode runs exactly as `stitch eval RUN --episodes 1 --seed S` runs it (same reset
 * and policy seeds, same vectorized env of one, same batched policy), so the page reports the
 * return `stitch eval` prints.
 *
 * Bundled by esbuild (scripts/build-play.mjs) with the deploy module on the TypeScript kernels.
 * The result of each finished episode is also written to #result's data attributes, which the
 * browser tests read.
 */
import { policyFromBytes, type EvaluationCondition, type Policy, type SequencePolicy } from '../../deploy/index.js';
import { Rng } from '../../engine/rng.js';
import type { VectorEnv } from '../../envs/env.js';
import { envSpec, makeVectorEnv, type EnvSpec } from '../../envs/registry.js';
import { hasReferenceScores, normalizedScore } from '../../envs/scores.js';
import { PLAY_SETTINGS_FILE, POLICY_URL, PlaySettingsSchema, type PlaySettings } from '../settings.js';

/** the ball body's position in the point-maze MJCF (envs/maze2d/model.ts), added to qpos */
const BALL_BODY_OFFSET = 1.2;

const SPEEDS: Record<string, number> = { '1': 1, '4': 4, '16': 16, max: 1000 };

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the page has no #${id}`);
  return found as T;
}

function showError(message: string): void {
  const box = element<HTMLDivElement>('error');
  box.textContent = message;
  box.hidden = false;
  element<HTMLDivElement>('status').textContent = 'stopped';
  document.body.dataset.state = 'error';
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadSettings(): Promise<PlaySettings> {
  const response = await fetch(PLAY_SETTINGS_FILE);
  if (!response.ok) throw new Error(`${PLAY_SETTINGS_FILE}: HTTP ${response.status}`);
  const parsed = PlaySettingsSchema.safeParse(await response.json());
  if (!parsed.success) throw new Error(`${PLAY_SETTINGS_FILE}: not valid player settings`);
  return parsed.data;
}

interface Episode {
  env: VectorEnv;
  policy: SequencePolicy;
  observations: Float64Array;
  actions: Float32Array;
  active: Uint8Array;
  step: number;
  totalReturn: number;
  /** what the plot shows at each step: the return still to collect (reward units) */
  curve: number[];
  trail: number[];
  start: number | undefined;
  done: boolean;
}

class Player {
  private episode: Episode | undefined;
  private paused = false;
  private stepsPerFrame = 1;
  private readonly mazeCanvas = element<HTMLCanvasElement>('task');
  private readonly plotCanvas = element<HTMLCanvasElement>('plot');

  constructor(
    private readonly policyFile: Policy,
    private readonly spec: EnvSpec,
    private readonly settings: PlaySettings,
  ) {}

  /** the condition the target box asks for: a stored condition with that target, or a new one */
  private condition(): EvaluationCondition {
    const conditions = this.policyFile.conditions;
    const headline = conditions[0] as EvaluationCondition;
    if (headline.targetReturn === undefined) return headline;
    const typed = Number(element<HTMLInputElement>('target').value);
    if (!Number.isFinite(typed)) return headline;
    return conditions.find((condition) => condition.targetReturn === typed) ?? { label: `target ${typed}`, targetReturn: typed };
  }

  async reset(): Promise<void> {
    document.body.dataset.state = 'resetting';
    this.episode?.env.close();
    this.episode = undefined;
    const seed = this.settings.seed;
    // evaluatePolicy's seeds for its episode 0: the env's reset seed, then the policy's
    const seeds = new Rng(seed);
    const envSeed = seeds.nextUint32();
    const policySeed = seeds.nextUint32();
    const env = await makeVectorEnv(this.spec.id, 1);
    const policy = this.policyFile.createVectorPolicy(1, this.condition(), new Rng(seed));
    const observations = new Float64Array(this.spec.obsDim);
    observations.set(env.resetEnv(0, envSeed));
    policy.beginEpisode(0, 0, policySeed);
    const condition = this.condition();
    this.episode = {
      env, policy, observations, actions: new Float32Array(this.spec.actionDim), active: Uint8Array.of(1),
      step: 0, totalReturn: 0, curve: [], trail: [observations[0] as number, observations[1] as number],
      start: condition.targetReturn, done: false,
    };
    element<HTMLElement>('result').textContent = '';
    element<HTMLElement>('status').textContent = 'running';
    document.body.dataset.state = 'running';
    this.draw();
  }

  private stepOnce(episode: Episode): void {
    episode.policy.act(episode.observations, episode.active, episode.actions);
    const result = episode.env.step(episode.actions);
    episode.observations = result.observations;
    episode.policy.observeRewards?.(result.rewards, result.active);
    episode.totalReturn += result.rewards[0] as number;
    episode.step += 1;
    episode.start ??= episode.policy.firstPredictedReturn?.(0);
    if (episode.start !== undefined) episode.curve.push(episode.start - episode.totalReturn);
    episode.trail.push(episode.observations[0] as number, episode.observations[1] as number);
    if (result.terminated[0] === 1 || result.truncated[0] === 1) this.finish(episode);
  }

  private finish(episode: Episode): void {
    episode.done = true;
    const score = hasReferenceScores(this.spec.id) ? normalizedScore(this.spec.id, episode.totalReturn) : null;
    const result = element<HTMLElement>('result');
    result.dataset.return = String(episode.totalReturn);
    result.dataset.length = String(episode.step);
    result.dataset.normalizedScore = score === null ? '' : String(score);
    result.textContent = `episode over after ${episode.step} steps: return ${episode.totalReturn.toFixed(2)}` +
      (score === null ? '' : `, normalized score ${score.toFixed(1)}`);
    element<HTMLElement>('status').textContent = 'finished';
    document.body.dataset.state = 'finished';
  }

  frame(): void {
    const episode = this.episode;
    if (episode !== undefined && !episode.done && !this.paused) {
      try {
        for (let i = 0; i < this.stepsPerFrame && !episode.done; i++) this.stepOnce(episode);
      } catch (error) {
        episode.done = true;
        showError(`the episode stopped: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.draw();
    }
    requestAnimationFrame(() => this.frame());
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    element<HTMLButtonElement>('pause').textContent = paused ? 'resume' : 'pause';
    if (this.episode !== undefined && !this.episode.done) element<HTMLElement>('status').textContent = paused ? 'paused' : 'running';
  }

  togglePause(): void {
    this.setPaused(!this.paused);
  }

  setSpeed(name: string): void {
    this.stepsPerFrame = SPEEDS[name] ?? 1;
  }

  private draw(): void {
    const episode = this.episode;
    if (episode === undefined) return;
    element<HTMLElement>('step').textContent = `step ${episode.step} / ${this.spec.maxEpisodeSteps}, return ${episode.totalReturn.toFixed(2)}`;
    if (this.spec.maze !== undefined) this.drawMaze(episode);
    else this.drawBody(episode);
    this.drawPlot(episode);
  }

  private drawMaze(episode: Episode): void {
    const layout = this.spec.maze?.layout;
    const context = this.mazeCanvas.getContext('2d');
    if (layout === undefined || context === null) return;
    const cell = Math.floor(Math.min(this.mazeCanvas.width / layout.width, this.mazeCanvas.height / layout.height));
    // qpos x runs along rows and y along columns. In the MJCF (envs/maze2d/model.ts) wall (row, col)
    // is centred at (row + 1, col + 1) and the ball's body sits at (1.2, 1.2), so the ball is at
    // qpos + 1.2 in the walls' frame, where cell (row, col) spans [row + 0.5, row + 1.5).
    const toCanvas = (x: number, y: number): [number, number] => [(y + BALL_BODY_OFFSET - 0.5) * cell, (x + BALL_BODY_OFFSET - 0.5) * cell];
    context.fillStyle = '#f7f7f2';
    context.fillRect(0, 0, this.mazeCanvas.width, this.mazeCanvas.height);
    context.fillStyle = '#3b4252';
    for (let row = 0; row < layout.height; row++) for (let col = 0; col < layout.width; col++) if (layout.isWall(row, col)) context.fillRect(col * cell, row * cell, cell, cell);
    const [goalX, goalY] = toCanvas(layout.goal[0], layout.goal[1]);
    context.fillStyle = 'rgba(46, 160, 67, 0.35)';
    context.beginPath();
    context.arc(goalX, goalY, 0.5 * cell, 0, 2 * Math.PI);
    context.fill();
    context.strokeStyle = '#d08770';
    context.lineWidth = 2;
    context.beginPath();
    for (let i = 0; i < episode.trail.length; i += 2) {
      const [px, py] = toCanvas(episode.trail[i] as number, episode.trail[i + 1] as number);
      if (i === 0) context.moveTo(px, py);
      else context.lineTo(px, py);
    }
    context.stroke();
    const [ballX, ballY] = toCanvas(episode.observations[0] as number, episode.observations[1] as number);
    context.fillStyle = '#bf616a';
    context.beginPath();
    context.arc(ballX, ballY, 0.1 * cell, 0, 2 * Math.PI);
    context.fill();
  }

  /**
   * Hopper and Walker2d as stick figures from the observation (torso height, pitch, then thigh,
   * leg and foot angles per leg; the body's x is not observed, so the view follows it), the
   * segment lengths of gym's hopper.xml / walker2d.xml. HalfCheetah: a marker of the episode's progress.
   */
  private drawBody(episode: Episode): void {
    const context = this.mazeCanvas.getContext('2d');
    if (context === null) return;
    const { width, height } = this.mazeCanvas;
    const ground = height - 40;
    const scale = (ground - 20) / 1.8;
    context.fillStyle = '#f7f7f2';
    context.fillRect(0, 0, width, height);
    context.fillStyle = '#3b4252';
    context.fillRect(0, ground, width, height - ground);
    const name = this.spec.locomotion?.name;
    const o = episode.observations;
    if (name !== 'hopper' && name !== 'walker2d') {
      context.fillStyle = '#bf616a';
      context.fillRect((episode.step / this.spec.maxEpisodeSteps) * (width - 20), ground - 40, 20, 40);
      return;
    }
    // MuJoCo's rotation about +y by a (rooty); the leg hinges turn about -y, so they subtract
    const rotate = (a: number, x: number, z: number): [number, number] => [x * Math.cos(a) + z * Math.sin(a), -x * Math.sin(a) + z * Math.cos(a)];
    const toCanvas = ([x, z]: [number, number]): [number, number] => [width / 2 + x * scale, ground - z * scale];
    const add = (p: [number, number], d: [number, number]): [number, number] => [p[0] + d[0], p[1] + d[1]];
    const segment = (from: [number, number], to: [number, number], color: string, lineWidth: number): void => {
      context.strokeStyle = color;
      context.lineWidth = lineWidth;
      context.lineCap = 'round';
      context.beginPath();
      context.moveTo(...toCanvas(from));
      context.lineTo(...toCanvas(to));
      context.stroke();
    };
    const torso: [number, number] = [0, o[0] as number];
    const pitch = o[1] as number;
    const hip = add(torso, rotate(pitch, 0, -0.2));
    segment(add(torso, rotate(pitch, 0, 0.2)), hip, '#5e81ac', 8);
    const footSpan: [number, number] = name === 'hopper' ? [-0.13, 0.26] : [0, 0.2];
    const legs = name === 'hopper' ? [2] : [5, 2];
    legs.forEach((first, index) => {
      const color = index === legs.length - 1 ? '#bf616a' : '#d08770';
      const thighAngle = pitch - (o[first] as number);
      const knee = add(hip, rotate(thighAngle, 0, -0.45));
      const legAngle = thighAngle - (o[first + 1] as number);
      const ankle = add(knee, rotate(legAngle, 0, -0.5));
      const footAngle = legAngle - (o[first + 2] as number);
      segment(hip, knee, color, 7);
      segment(knee, ankle, color, 6);
      segment(add(ankle, rotate(footAngle, footSpan[0], 0)), add(ankle, rotate(footAngle, footSpan[1], 0)), color, 6);
    });
  }

  private drawPlot(episode: Episode): void {
    const context = this.plotCanvas.getContext('2d');
    if (context === null) return;
    const { width, height } = this.plotCanvas;
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    const values = episode.curve;
    const label = element<HTMLElement>('plot-label');
    label.textContent = episode.start === undefined ? 'no return to go: this policy has no target'
      : this.policyFile.conditions[0]?.targetReturn === undefined ? `Reinformer's predicted return (${episode.start.toFixed(1)}) minus the return collected`
        : `return-to-go: target ${episode.start.toFixed(1)} minus the return collected`;
    if (values.length === 0) return;
    const low = Math.min(0, ...values);
    const high = Math.max(episode.start ?? 1, ...values, low + 1e-6);
    const x = (i: number): number => 30 + (i / Math.max(1, this.spec.maxEpisodeSteps - 1)) * (width - 40);
    const y = (v: number): number => height - 20 - ((v - low) / (high - low)) * (height - 40);
    context.strokeStyle = '#cccccc';
    context.beginPath();
    context.moveTo(30, y(0));
    context.lineTo(width - 10, y(0));
    context.stroke();
    context.strokeStyle = '#1f77b4';
    context.lineWidth = 2;
    context.beginPath();
    values.forEach((value, i) => (i === 0 ? context.moveTo(x(i), y(value)) : context.lineTo(x(i), y(value))));
    context.stroke();
    context.fillStyle = '#333333';
    context.font = '12px sans-serif';
    context.fillText(high.toFixed(1), 2, 14);
    context.fillText(low.toFixed(1), 2, height - 22);
  }
}

async function start(): Promise<void> {
  const settings = await loadSettings();
  element<HTMLElement>('status').textContent = 'loading the policy';
  const bytes = await fetchBytes(POLICY_URL);
  const policy = policyFromBytes(bytes, {}, POLICY_URL);
  const spec = envSpec(policy.header.envId);
  element<HTMLElement>('title').textContent = `${policy.header.algo} on ${spec.id} (trained ${policy.header.step} steps, seed ${settings.seed})`;
  const target = element<HTMLInputElement>('target');
  const headline = policy.conditions[0];
  if (headline?.targetReturn === undefined) {
    target.disabled = true;
    target.placeholder = 'none (Reinformer predicts it)';
  } else {
    target.value = String(headline.targetReturn);
  }
  const player = new Player(policy, spec, settings);
  element<HTMLButtonElement>('reset').addEventListener('click', () => { void player.reset().catch((error: unknown) => showError(String(error))); });
  element<HTMLButtonElement>('pause').addEventListener('click', () => player.togglePause());
  const speed = element<HTMLSelectElement>('speed');
  speed.addEventListener('change', () => player.setSpeed(speed.value));
  const requested = new URLSearchParams(location.search).get('speed');
  if (requested !== null && requested in SPEEDS) speed.value = requested;
  player.setSpeed(speed.value);
  element<HTMLElement>('status').textContent = 'starting MuJoCo';
  await player.reset();
  player.frame();
}

start().catch((error: unknown) => {
  showError(`could not start the player: ${error instanceof Error ? error.message : String(error)}`);
});
