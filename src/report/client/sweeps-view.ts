/**
 * The dashboard's sweep view (`/sweeps`): every sweep under the runs directory with its job
 * counts, ETA, results table and jobs, polled from `/api/sweeps` every two seconds. Sweep paths,
 * names, job errors and run names come from files that may have been copied in, so the view is
 * built element by element with text nodes only (never markup).
 */
import type { SweepView } from '../../dashboard/sweeps.js';
import type { ResultRow } from '../../sweep/results.js';
import { el } from './dom.js';

const POLL_MS = 2000;

const fixed = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : 'n/a');

/** the CLI's `formatDuration` (src/sweep/status.ts), which the browser bundle cannot import */
function duration(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function row(cells: readonly string[], attrs: Record<string, string> = {}, header = false): HTMLTableRowElement {
  return el('tr', attrs, cells.map((text) => el(header ? 'th' : 'td', { text })));
}

function resultsTable(rows: readonly ResultRow[]): HTMLTableElement {
  return el('table', { class: 'results' }, [
    row(['dataset', 'algorithm', 'seeds', 'last mean ± std', 'last IQM [95% CI]', 'best mean ± std'], {}, true),
    ...rows.map((r) => row([r.dataset, r.algorithm, String(r.seeds.length), `${fixed(r.last.mean)} ± ${fixed(r.last.std)}`,
      `${fixed(r.last.iqm)} [${fixed(r.last.iqmLow)}, ${fixed(r.last.iqmHigh)}]`, `${fixed(r.best.mean)} ± ${fixed(r.best.std)}`])),
  ]);
}

function sweepSection(view: SweepView): HTMLElement {
  const { status, results, problems } = view;
  const children: Array<Node | null> = [
    el('h2', {}, [document.createTextNode(`${status?.name ?? view.path} `), el('small', { text: `(${view.path})` })]),
  ];
  if (status !== null) {
    const c = status.counts;
    children.push(el('p', { class: 'counts', text: `${c.done}/${status.total} done, ${c.running} running, ${c.failed} failed, ${c.queued} queued; ETA ${duration(status.etaSeconds)}` }));
  }
  for (const problem of problems) children.push(el('p', { class: 'warning problem', text: problem }));
  if (results !== null) children.push(resultsTable(results.rows));
  if (status !== null) {
    children.push(el('table', { class: 'jobs' }, [
      row(['job', 'status', 'step', 'host', 'error'], {}, true),
      ...status.jobs.map((job) => row([job.name, job.status, job.step === null ? '' : String(job.step), job.host ?? '', job.error ?? job.note ?? ''], { class: job.status })),
    ]));
  }
  return el('section', { class: 'sweep' }, children);
}

export function renderSweeps(): void {
  const target = document.getElementById('sweeps') as HTMLElement;
  const show = (sweeps: readonly SweepView[]): void => {
    target.textContent = '';
    if (sweeps.length === 0) target.appendChild(el('p', { class: 'empty', text: 'No sweeps in this runs directory (stitch sweep writes them to runs/sweeps/NAME).' }));
    for (const sweep of sweeps) target.appendChild(sweepSection(sweep));
  };
  const refresh = (): void => {
    fetch('/api/sweeps')
      .then((response) => response.json() as Promise<SweepView[]>)
      .then(show)
      .catch((error: unknown) => {
        target.textContent = `the dashboard is not reachable: ${String(error)}`;
      });
  };
  refresh();
  setInterval(refresh, POLL_MS);
}
