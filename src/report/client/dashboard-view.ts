/**
 * The live dashboard: the run list (polled), the selected run (pushed over server-sent events),
 * or, with two or more runs ticked, those runs overlaid on the same plots.
 */
import type { RunListing } from '../../dashboard/server.js';
import type { RunSnapshot } from '../run-data.js';
import { destroyPlots } from './charts.js';
import { el } from './dom.js';
import { renderOverlay } from './overlay-view.js';
import { renderRun } from './run-view.js';

export function renderDashboard(app: HTMLElement): void {
  const list = document.getElementById('run-list') as HTMLElement;
  let selected: string | null = null;
  let source: EventSource | null = null;
  /** runs ticked for the overlay, in the order ticked */
  const overlaid: string[] = [];
  let showingOverlay = false;

  const markActive = (): void => {
    for (const a of Array.from(list.querySelectorAll('a'))) a.classList.toggle('active', !showingOverlay && a.getAttribute('data-run') === selected);
  };
  const select = (name: string): void => {
    source?.close();
    selected = name;
    showingOverlay = false;
    markActive();
    app.textContent = '';
    app.appendChild(el('p', { class: 'note', text: `loading ${name}…` }));
    source = new EventSource(`/api/runs/${encodeURIComponent(name)}/events`);
    source.addEventListener('snapshot', (event) => {
      const run = JSON.parse((event as MessageEvent<string>).data) as RunSnapshot;
      renderRun(app, run, run.hasReport ? { reportLink: `/files/${encodeURIComponent(name)}/report.html` } : {});
    });
    source.addEventListener('gone', () => {
      destroyPlots();
      app.textContent = '';
      app.appendChild(el('p', { class: 'warning', id: 'run-gone', text: `${name}: the run directory is gone` }));
    });
  };
  const showOverlay = (): void => {
    source?.close();
    source = null;
    showingOverlay = true;
    markActive();
    const names = overlaid.slice();
    Promise.all(names.map((name) => fetch(`/api/runs/${encodeURIComponent(name)}`).then((response) => (response.ok ? response.json() as Promise<RunSnapshot> : null))))
      .then((snapshots) => {
        // the selection may have changed while the runs were fetched
        if (!showingOverlay || names.join('\0') !== overlaid.join('\0')) return;
        renderOverlay(app, snapshots.filter((run): run is RunSnapshot => run !== null));
      })
      .catch(() => { /* the server is restarting; the next refresh tries again */ });
  };
  const toggleOverlay = (name: string, on: boolean): void => {
    const at = overlaid.indexOf(name);
    if (on && at < 0) overlaid.push(name);
    if (!on && at >= 0) overlaid.splice(at, 1);
    if (overlaid.length >= 2) showOverlay();
    else if (showingOverlay) {
      showingOverlay = false;
      const back = selected ?? overlaid[0];
      if (back !== undefined) select(back);
    }
  };
  const refresh = (): void => {
    fetch('/api/runs').then((response) => response.json() as Promise<RunListing[]>).then((runs) => {
      list.textContent = '';
      for (const r of runs) {
        const link = el('a', { href: `#${encodeURIComponent(r.name)}`, 'data-run': r.name }, [
          el('span', { class: 'name', text: r.name }),
          el('span', { class: `status status-${r.status.replace(/ /g, '-')}`, text: `${r.status} · ${r.step}/${r.steps === null ? '?' : r.steps}` }),
        ]);
        if (r.name === selected && !showingOverlay) link.classList.add('active');
        const pick = el('input', { type: 'checkbox', class: 'overlay-pick', 'data-run': r.name, title: 'overlay this run with the others ticked', 'aria-label': `overlay ${r.name}` });
        pick.checked = overlaid.includes(r.name);
        pick.addEventListener('change', () => toggleOverlay(r.name, pick.checked));
        list.appendChild(el('li', {}, [pick, link]));
      }
      if (showingOverlay) {
        showOverlay();
        return;
      }
      const wanted = decodeURIComponent(location.hash.slice(1));
      // a run asked for by the address may appear only once its training writes config.json
      if (wanted && wanted !== selected && runs.some((r) => r.name === wanted)) select(wanted);
      else if (selected === null && runs.length > 0) {
        const first = runs.find((r) => r.name === wanted) ?? runs.find((r) => r.status === 'in progress') ?? runs[0] as RunListing;
        select(first.name);
      }
    }).catch(() => { /* the server is restarting; the next refresh tries again */ });
  };
  window.addEventListener('hashchange', () => {
    const name = decodeURIComponent(location.hash.slice(1));
    if (name && (name !== selected || showingOverlay)) select(name);
  });
  refresh();
  setInterval(refresh, 3000);
}
