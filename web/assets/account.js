// Sign in (wallet, or the admin API key), see who you are, sign out.

import { currentUser, signOut, useApiKey } from './api.js';
import { errorBox, field, h, replace } from './ui.js';
import { signInWithWallet, walletAvailable } from './wallet.js';

// Only same-site paths may be a destination after sign-in (no open redirect).
function nextPath() {
  const next = new URLSearchParams(location.search).get('next') || '/';
  return /^\/(?!\/)[\w\-/.?=&%]*$/.test(next) ? next : '/';
}

export function renderAccount(main, { navigate }) {
  const user = currentUser();
  if (user) {
    replace(main,
      h('div', { class: 'page-head' }, h('h1', {}, 'Account')),
      h('div', { class: 'panel' },
        user.kind === 'wallet'
          ? h('p', {}, 'Signed in with the wallet ', h('code', { class: 'address' }, user.address), '.')
          : h('p', {}, 'Signed in with the admin API key (this tab only).'),
        h('p', {}, 'Roles: ', user.roles.join(', ') || 'none'),
        h('p', { class: 'muted' }, user.kind === 'wallet' ? `Account id: ${user.id}` : ''),
        h('div', { class: 'actions' },
          h('a', { class: 'button secondary', href: `/?mine=1` }, 'My videos'),
          h('button', { type: 'button', class: 'button', onclick: async () => { await signOut(); navigate('/account'); } }, 'Sign out'))));
    return () => {};
  }

  const status = h('div', { 'aria-live': 'polite' });
  const walletButton = h('button', { type: 'button', class: 'button wide', id: 'wallet-sign-in' }, 'Sign in with a wallet');
  walletButton.addEventListener('click', async () => {
    walletButton.disabled = true;
    replace(status, h('p', { class: 'muted' }, 'Check your wallet: it asks you to sign a message (no transaction, no fee).'));
    try {
      await signInWithWallet();
      navigate(nextPath());
    } catch (error) {
      replace(status, errorBox(error, 'Sign-in failed'));
    } finally {
      walletButton.disabled = false;
    }
  });

  const key = h('input', { type: 'password', autocomplete: 'off', spellcheck: false });
  const keyStatus = h('div', { 'aria-live': 'polite' });
  const keyForm = h('form', { class: 'panel' },
    h('h2', {}, 'Admins: API key'),
    h('p', { class: 'muted' }, 'The key is in <data_dir>/api_key on the server. It stays in this tab only.'),
    field('API key', key),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button secondary' }, 'Use the API key')),
    keyStatus);
  keyForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await useApiKey(key.value.trim());
      navigate(nextPath());
    } catch (error) {
      replace(keyStatus, errorBox(error, 'Not accepted'));
    }
  });

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Sign in')),
    h('div', { class: 'panel' },
      h('h2', {}, 'With a wallet'),
      walletAvailable()
        ? h('p', {}, 'Your wallet signs a Sign-In with Ethereum message for this site. Holding the right tokens unlocks gated videos.')
        : h('p', { class: 'alert' }, 'No Ethereum wallet was found in this browser. Install one (MetaMask, Rabby, …) to sign in with it.'),
      walletButton,
      status),
    keyForm);
  walletButton.disabled = !walletAvailable();
  return () => {};
}
