/** The live dashboard: the run list (polled) and the selected run (pushed over server-sent events). */
import type { RunListing } from '../../dashboard/server.js';
import type { RunSnapshot } from '../run-data.js';
import { destroyPlots } from './charts.js';
import { el } from './dom.js';
import { renderRun } from './run-view.js';

export function renderDashboard(app: HTMLElement): void {
  const list = document.getElementById('run-list') as HTMLElement;
  let selected: string | null = null;
  let source: EventSource | null = null;
  const select = (name: string): void => {
    source?.close();
    selected = name;
    for (const a of Array.from(list.querySelectorAll('a'))) a.classList.toggle('active', a.getAttribute('data-run') === name);
    app.textContent = '';
    app.appendChild(el('p', { class: 'note', text: `loading ${name}…` }));
    source = new EventSource(`/api/runs/${encodeURIComponent(name)}/events`);
    source.addEventListener('snapshot', (event) => {
      const run = JSON.parse((event as MessageEvent<string>).data) as RunSnapshot;
      renderRun(app, run);
      if (run.hasReport) app.insertBefore(el('p', {}, [el('a', { href: `/files/${encodeURIComponent(name)}/report.html`, text: 'open report.html' })]), app.children[1] ?? null);
    });
    source.addEventListener('gone', () => {
      destroyPlots();
      app.textContent = '';
      app.appendChild(el('p', { class: 'warning', id: 'run-gone', text: `${name}: the run directory is gone` }));
    });
  };
  const refresh = (): void => {
    fetch('/api/runs').then((response) => response.json() as Promise<RunListing[]>).then((runs) => {
      list.textContent = '';
      for (const r of runs) {
        const link = el('a', { href: `#${encodeURIComponent(r.name)}`, 'data-run': r.name }, [
          el('span', { class: 'name', text: r.name }),
          el('span', { class: `status status-${r.status.replace(/ /g, '-')}`, text: `${r.status} · ${r.step}/${r.steps === null ? '?' : r.steps}` }),
        ]);
        if (r.name === selected) link.classList.add('active');
        list.appendChild(el('li', {}, [link]));
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
    if (name && name !== selected) select(name);
  });
  refresh();
  setInterval(refresh, 3000);
}
