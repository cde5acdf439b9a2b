/** Building the page: elements from data (text only, never markup) and the maze drawings. */

type Attributes = Record<string, string>;

/** an element with attributes (`text` sets its text) and children; nothing is parsed as HTML */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attributes = {}, children: ReadonlyArray<Node | null> = []): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

export function section(parent: HTMLElement, title: string): HTMLDivElement {
  const body = el('div', { class: 'grid' });
  parent.appendChild(el('section', {}, [el('h2', { text: title }), body]));
  return body;
}

export function table(rows: ReadonlyArray<ReadonlyArray<unknown>>, header?: readonly string[]): HTMLTableElement {
  const head = header ? el('thead', {}, [el('tr', {}, header.map((h) => el('th', { text: h })))]) : null;
  const body = el('tbody', {}, rows.map((row) => el('tr', {}, row.map((cell) => el('td', { text: String(cell) })))));
  return el('table', {}, [head, body]);
}

export interface Figure { fig: HTMLElement; body: HTMLDivElement }

/** a `figure.chart` with `data-points` (values drawn), which the browser tests read */
export function figure(parent: HTMLElement, id: string, title: string, caption?: string): Figure {
  const fig = el('figure', { class: 'chart', 'data-chart': id, 'data-points': '0' });
  fig.appendChild(el('figcaption', { text: title }));
  const body = el('div', { class: 'plot' });
  fig.appendChild(body);
  if (caption) fig.appendChild(el('p', { class: 'note', text: caption }));
  parent.appendChild(fig);
  return { fig, body };
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_ELEMENTS = ['svg', 'g', 'rect', 'circle', 'polyline', 'line', 'text'];
const SVG_ATTRIBUTES = ['width', 'height', 'viewBox', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'points', 'fill', 'fill-opacity',
  'stroke', 'stroke-width', 'stroke-opacity', 'stroke-dasharray', 'font-family', 'font-size'];
/** numbers, colours and plain words: no url(), quotes, colons or parentheses */
const SAFE_SVG_VALUE = /^[#a-zA-Z0-9.,\s-]*$/;

function copySvg(source: Element): SVGElement {
  const copy = document.createElementNS(SVG_NS, source.localName);
  for (const attribute of Array.from(source.attributes)) {
    if (attribute.namespaceURI === null && SVG_ATTRIBUTES.includes(attribute.name) && SAFE_SVG_VALUE.test(attribute.value)) {
      copy.setAttribute(attribute.name, attribute.value);
    }
  }
  for (const child of Array.from(source.childNodes)) {
    if (child instanceof Element && child.namespaceURI === SVG_NS && SVG_ELEMENTS.includes(child.localName)) copy.appendChild(copySvg(child));
    else if (child.nodeType === Node.TEXT_NODE && source.localName === 'text') copy.appendChild(document.createTextNode(child.nodeValue ?? ''));
  }
  return copy;
}

/**
 * The maze drawings of report-data.json, rebuilt element by element from an inert parse: only
 * drawing elements and plain attributes are copied, so a crafted file cannot add scripts,
 * event handlers, links or foreign content (it is never inserted as markup).
 */
export function safeSvg(markup: unknown): SVGSVGElement {
  const root = new DOMParser().parseFromString(typeof markup === 'string' ? markup : '', 'image/svg+xml').documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== 'svg') return document.createElementNS(SVG_NS, 'svg');
  return copySvg(root) as SVGSVGElement;
}
