// The StreamGate web app: a small history-API router over four pages. The server answers
// index.html for each page path (src/plugins/gateway/static_site.cc keeps the same list).

import { currentUser, onSessionChange, signOut } from './api.js';
import { renderAccount } from './account.js';
import { renderLibrary } from './library.js';
import { h, replace } from './ui.js';
import { renderUpload } from './upload.js';
import { shortAddress } from './wallet.js';
import { renderWatch } from './watch.js';

const routes = [
  { pattern: /^\/$/, view: renderLibrary, title: 'Library', nav: 'library' },
  { pattern: /^\/upload$/, view: renderUpload, title: 'Upload', nav: 'upload' },
  { pattern: /^\/watch\/([A-Za-z0-9_-]{1,64})$/, view: renderWatch, title: 'Watch', nav: '' },
  { pattern: /^\/account$/, view: renderAccount, title: 'Account', nav: 'account' },
];

const main = document.getElementById('main');
let cleanup = () => {};

function renderHeader() {
  const box = document.getElementById('account');
  const user = currentUser();
  if (!user) {
    replace(box, h('a', { class: 'button small', href: '/account' }, 'Sign in'));
    return;
  }
  const label = user.kind === 'wallet' ? shortAddress(user.address) : 'Admin (API key)';
  replace(box,
    h('a', { class: 'who', href: '/account', title: user.kind === 'wallet' ? user.address : 'API key' }, label),
    h('button', { type: 'button', class: 'button small secondary', onclick: async () => { await signOut(); render(); } }, 'Sign out'));
}

function render({ focus = false } = {}) {
  cleanup();
  cleanup = () => {};
  const path = location.pathname;
  const route = routes.find((r) => r.pattern.test(path));
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (route && link.dataset.nav === route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!route) {
    document.title = 'Not found · StreamGate';
    replace(main, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Back to the library')));
    return;
  }
  document.title = `${route.title} · StreamGate`;
  const params = path.match(route.pattern).slice(1);
  cleanup = route.view(main, { params, navigate }) || (() => {});
  // After a navigation, screen readers and keyboards start at the new page's heading.
  if (focus) {
    const heading = main.querySelector('h1');
    (heading || main).setAttribute('tabindex', '-1');
    (heading || main).focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

export function navigate(to, { replace: replaceEntry = false } = {}) {
  if (replaceEntry) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  render({ focus: true });
}

// Same-origin links navigate in place; modified clicks (new tab) and downloads do not.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => render({ focus: true }));
onSessionChange(() => {
  renderHeader();
  // Pages show different things to different people: draw the current one again.
  render();
});

renderHeader();
render();
document.documentElement.dataset.ready = 'true';
