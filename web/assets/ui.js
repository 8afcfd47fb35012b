// Small DOM helpers shared by the views. Text is always set as text (never innerHTML), so
// titles and server messages cannot inject markup.

/// h('a', {href: '/x', class: 'y', onclick: fn}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (name in el && typeof value !== 'string') {
      el[name] = value; // properties such as checked, value, disabled
    } else {
      el.setAttribute(name, value === true ? '' : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/// Replaces an element's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return '';
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/// "about 2 min left"-style text for an ETA in seconds.
export function formatEta(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return 'estimating…';
  if (seconds < 1) return 'almost done';
  if (seconds < 60) return `${Math.ceil(seconds)} s left`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min left`;
  return `${(seconds / 3600).toFixed(1)} h left`;
}

export function statusBadge(content) {
  const labels = { uploaded: 'Queued', processing: 'Processing', ready: 'Ready', failed: 'Failed' };
  return h('span', {
    class: `badge badge-${content.status}`,
    title: content.status === 'failed' && content.status_reason ? content.status_reason : null,
  }, labels[content.status] || content.status);
}

let toastTimer = 0;
/// A short message in the polite live region (screen readers announce it).
export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  replace(box, h('p', { class: `toast toast-${kind}` }, message));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.replaceChildren(), 6000);
}

/// An error as a visible alert block.
export function errorBox(error, prefix = '') {
  const text = error && error.message ? error.message : String(error);
  return h('div', { class: 'alert', role: 'alert' }, prefix ? `${prefix}: ${text}` : text);
}

/// Labeled form field: h('label') around the text and the control, plus an optional hint.
export function field(label, control, hint = '') {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintEl = hint ? h('small', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

export function tagsFromText(text) {
  return text.split(',').map((t) => t.trim()).filter(Boolean);
}
