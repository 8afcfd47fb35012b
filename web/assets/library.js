// The library: full-text search, a tag filter, "only what I can watch", "only mine", and a
// grid of cards with posters, durations and status badges. Filters live in the URL
// (?q=&tag=&playable=1&mine=1) so a search can be shared and survives reloads.

import { api, currentUser, send } from './api.js';
import { errorBox, formatDuration, h, replace, statusBadge } from './ui.js';

const PAGE = 24;

// Posters of private videos need the Authorization header, which <img> cannot send: those
// are fetched and shown from a blob URL. Public and unlisted posters load directly.
function poster(content, signal, blobs) {
  const img = h('img', { alt: '', loading: 'lazy', decoding: 'async', width: 320, height: 180 });
  if (!content.poster_url) {
    return h('div', { class: 'poster poster-none', 'aria-hidden': 'true' }, '▶');
  }
  if (content.visibility !== 'private') {
    img.src = content.poster_url;
  } else {
    send(content.poster_url, { signal })
      .then((reply) => (reply.ok ? reply.blob() : null))
      .then((blob) => {
        if (blob && !signal.aborted) {
          img.src = URL.createObjectURL(blob);
          blobs.push(img.src); // revoked when the page goes away
        }
      })
      .catch(() => {});
  }
  return h('div', { class: 'poster' }, img);
}

function card(content, signal, blobs, onTag) {
  const duration = formatDuration(content.duration_seconds);
  return h('li', { class: 'card' },
    h('a', { href: `/watch/${content.id}`, class: 'card-link' },
      h('div', { class: 'card-media' },
        poster(content, signal, blobs),
        duration ? h('span', { class: 'duration', 'aria-label': `duration ${duration}` }, duration) : null,
        content.gated ? h('span', { class: 'lock', title: 'Token-gated' }, 'Gated') : null),
      h('span', { class: 'card-title' }, content.title || content.filename || 'Untitled')),
    h('div', { class: 'card-meta' },
      statusBadge(content),
      content.visibility !== 'public' ? h('span', { class: 'badge badge-muted' }, content.visibility) : null,
      content.status === 'failed' && content.status_reason
        ? h('span', { class: 'reason' }, content.status_reason) : null),
    content.tags.length
      ? h('ul', { class: 'tags', 'aria-label': 'tags' },
        content.tags.map((tag) => h('li', {}, h('button', { type: 'button', class: 'tag', onclick: () => onTag(tag) }, `#${tag}`))))
      : null);
}

function skeletons(n) {
  return Array.from({ length: n }, () => h('li', { class: 'card skeleton', 'aria-hidden': 'true' },
    h('div', { class: 'card-media' }, h('div', { class: 'poster' })),
    h('span', { class: 'card-title' }, '\u00a0'),
    h('div', { class: 'card-meta' }, '\u00a0')));
}

export function renderLibrary(main) {
  const params = new URLSearchParams(location.search);
  const state = {
    q: params.get('q') || '',
    tag: params.get('tag') || '',
    playable: params.get('playable') === '1',
    mine: params.get('mine') === '1',
  };
  const user = currentUser();
  let controller = new AbortController();
  let cursor = null;
  const blobs = [];

  const search = h('input', { type: 'search', id: 'search', value: state.q, placeholder: 'Search titles, descriptions, tags', autocomplete: 'off' });
  const playable = h('input', { type: 'checkbox', id: 'playable', checked: state.playable });
  const mine = h('input', { type: 'checkbox', id: 'mine', checked: state.mine, disabled: !user || user.kind !== 'wallet' });
  const tagBox = h('div', { class: 'active-tag' });
  const grid = h('ul', { class: 'grid', 'aria-live': 'polite', 'aria-busy': 'true' });
  const status = h('p', { class: 'muted result-count' }, '\u00a0');
  const more = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Load more');

  function syncUrl() {
    const next = new URLSearchParams();
    if (state.q) next.set('q', state.q);
    if (state.tag) next.set('tag', state.tag);
    if (state.playable) next.set('playable', '1');
    if (state.mine) next.set('mine', '1');
    const query = next.toString();
    history.replaceState(history.state, '', query ? `/?${query}` : '/');
  }

  function renderTag() {
    replace(tagBox, state.tag
      ? h('button', { type: 'button', class: 'tag tag-active', 'aria-label': `Remove tag filter ${state.tag}`, onclick: () => setTag('') }, `#${state.tag} ×`)
      : null);
  }

  function setTag(tag) {
    state.tag = tag;
    renderTag();
    load(true);
  }

  async function load(reset) {
    if (reset) {
      controller.abort();
      controller = new AbortController();
      cursor = null;
      syncUrl();
      replace(grid, skeletons(8));
      grid.setAttribute('aria-busy', 'true');
      more.hidden = true;
    }
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (state.q) query.set('q', state.q);
    if (state.tag) query.set('tag', state.tag);
    if (state.playable) query.set('playable', 'true');
    if (state.mine && user) query.set('owner', user.id);
    if (cursor) query.set('cursor', cursor);
    const signal = controller.signal;
    try {
      const page = await api(`/api/v1/content?${query}`, { signal });
      if (reset) grid.replaceChildren();
      grid.append(...page.items.map((item) => card(item, signal, blobs, setTag)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const count = grid.children.length;
      status.textContent = count === 0
        ? (state.q || state.tag ? 'Nothing matches.' : 'No videos yet.')
        : `${count}${cursor ? '+' : ''} video${count === 1 ? '' : 's'}`;
    } catch (error) {
      if (signal.aborted) return;
      replace(grid, h('li', { class: 'wide' }, errorBox(error, 'Could not load the library')));
      status.textContent = '\u00a0';
    } finally {
      if (!signal.aborted) grid.setAttribute('aria-busy', 'false');
    }
  }

  let debounce = 0;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.q = search.value.trim();
      load(true);
    }, 250);
  });
  playable.addEventListener('change', () => { state.playable = playable.checked; load(true); });
  mine.addEventListener('change', () => { state.mine = mine.checked; load(true); });
  more.addEventListener('click', () => load(false));

  replace(main,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Library'),
      h('a', { href: '/upload', class: 'button' }, 'Upload')),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); state.q = search.value.trim(); load(true); } },
      h('label', { for: 'search', class: 'visually-hidden' }, 'Search videos'),
      search,
      h('label', { class: 'check' }, playable, 'Only what I can watch'),
      h('label', { class: 'check', title: user && user.kind === 'wallet' ? null : 'Sign in with a wallet to see your own videos' }, mine, 'Only mine'),
      tagBox),
    status,
    grid,
    h('div', { class: 'more' }, more));
  renderTag();
  load(true);
  return () => {
    controller.abort();
    blobs.forEach((url) => URL.revokeObjectURL(url));
  };
}
