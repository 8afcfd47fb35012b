// Access policies (src/plugins/auth/README.md "Policy format") as words and as a form.
// The form edits the common shape, one group of conditions under `any` or `all`; a policy
// with nested groups is edited as JSON instead, so nothing the form cannot show is lost.

import { h, field, replace } from './ui.js';

const STANDARDS = { erc721: 'ERC-721 (NFT)', erc1155: 'ERC-1155 (multi-token)', erc20: 'ERC-20 (fungible)' };

export function shortHex(text) {
  return text && text.length > 14 ? `${text.slice(0, 8)}…${text.slice(-6)}` : text;
}

/// One condition as a sentence: "at least 1 of ERC-721 0xabcd…1234 (ids 1, 2) on eip155:1".
export function describeCondition(c) {
  const ids = c.token_ids && c.token_ids.length ? ` with id ${c.token_ids.join(' or ')}` : '';
  const min = c.min_balance || '1';
  const what = c.standard === 'erc20' ? `${min} (smallest units) of` : `at least ${min} of`;
  return `${what} ${STANDARDS[c.standard] || c.standard} token ${c.contract}${ids} on ${c.chain}`;
}

/// Flattens a policy into its conditions, each with the path the server uses ("any[0]").
export function conditionsOf(policy, path = '') {
  if (!policy || policy.public) return [];
  const kind = policy.any ? 'any' : policy.all ? 'all' : null;
  if (!kind) return [{ ...policy, path }];
  return policy[kind].flatMap((child, i) => conditionsOf(child, `${path ? path + '.' : ''}${kind}[${i}]`));
}

/// The refusal: what the viewer lacks and what would grant access.
export function refusalPanel(unmet, { signedInAs = '', policyMode = 'any' } = {}) {
  const anyOne = unmet.length > 1 && unmet.every((c) => /(^|\.)any\[\d+\]$/.test(c.path));
  const mode = unmet.length <= 1 ? 'one' : anyOne ? 'any' : policyMode;
  return h('div', { class: 'refusal', role: 'alert' },
    h('h2', {}, 'This video is token-gated'),
    h('p', {}, signedInAs
      ? `The wallet ${signedInAs} does not hold what it needs.`
      : 'Sign in with a wallet that holds the token to watch it.'),
    h('p', {}, mode === 'any' ? 'Any one of these grants access:'
      : mode === 'all' ? 'All of these are needed:' : 'This grants access:'),
    h('ul', { class: 'conditions' }, unmet.map((c) => h('li', {},
      describeCondition(c),
      c.have !== undefined ? h('span', { class: 'muted' }, ` — you have ${c.have}`) : null))));
}

function isFlat(policy) {
  const kind = policy.any ? 'any' : policy.all ? 'all' : null;
  return Boolean(kind) && policy[kind].every((c) => !c.any && !c.all);
}

/// The policy editor. `chains` are the configured CAIP-2 ids; `onSave(policyObject)` must
/// return a promise (its error is shown).
export function policyForm(policy, chains, onSave) {
  const gated = !(policy && policy.public);
  const flat = !gated || isFlat(policy);
  const root = h('form', { class: 'panel policy-form', novalidate: true });
  const status = h('div', { 'aria-live': 'polite' });
  const open = h('input', { type: 'radio', name: 'who', value: 'open', checked: !gated });
  const holders = h('input', { type: 'radio', name: 'who', value: 'gated', checked: gated });
  const mode = h('select', { id: 'policy-mode' },
    h('option', { value: 'any', selected: gated && Boolean(policy.any) }, 'Any one of these conditions'),
    h('option', { value: 'all', selected: gated && Boolean(policy.all) }, 'All of these conditions'));
  const rows = h('ol', { class: 'condition-rows' });
  const json = h('textarea', { rows: 10, class: 'mono', spellcheck: false }, JSON.stringify(policy, null, 2));
  const gatedBox = h('fieldset', { class: 'gated-box' }, h('legend', {}, 'Conditions'));

  function row(c = {}) {
    const chain = h('select', { required: true },
      chains.map((id) => h('option', { value: id, selected: id === c.chain }, id)),
      c.chain && !chains.includes(c.chain) ? h('option', { value: c.chain, selected: true }, `${c.chain} (not configured)`) : null);
    const standard = h('select', {}, Object.entries(STANDARDS).map(([v, label]) =>
      h('option', { value: v, selected: v === (c.standard || 'erc721') }, label)));
    const contract = h('input', { type: 'text', value: c.contract || '', placeholder: '0x…', pattern: '0x[0-9a-fA-F]{40}', class: 'mono', autocomplete: 'off', spellcheck: false });
    const ids = h('input', { type: 'text', value: (c.token_ids || []).join(', '), placeholder: 'e.g. 1, 2', inputmode: 'numeric' });
    const min = h('input', { type: 'text', value: c.min_balance || '1', inputmode: 'numeric' });
    const remove = h('button', { type: 'button', class: 'button secondary small' }, 'Remove');
    const li = h('li', { class: 'condition-row' },
      field('Chain', chain), field('Standard', standard), field('Contract', contract),
      field('Token ids', ids, 'Comma-separated; needed for ERC-1155, optional for ERC-721.'),
      field('Minimum balance', min), remove);
    const syncIds = () => {
      ids.disabled = standard.value === 'erc20';
      if (ids.disabled) ids.value = '';
    };
    standard.addEventListener('change', syncIds);
    syncIds();
    remove.addEventListener('click', () => {
      li.remove();
      renumber();
    });
    li.read = () => {
      const out = { chain: chain.value, standard: standard.value, contract: contract.value.trim() };
      const list = ids.value.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length) out.token_ids = list;
      if (min.value.trim()) out.min_balance = min.value.trim();
      return out;
    };
    return li;
  }

  function renumber() {
    Array.from(rows.children).forEach((li, i) => li.setAttribute('aria-label', `Condition ${i + 1}`));
  }

  const add = h('button', { type: 'button', class: 'button secondary' }, 'Add a condition');
  add.addEventListener('click', () => {
    rows.append(row({ chain: chains[0] }));
    renumber();
    rows.lastElementChild.querySelector('select, input').focus();
  });

  if (flat) {
    const kind = gated ? (policy.any ? 'any' : 'all') : 'any';
    for (const c of gated ? policy[kind] : []) rows.append(row(c));
    if (!rows.children.length) rows.append(row({ chain: chains[0] }));
    renumber();
    gatedBox.append(field('Grant access when', mode), rows, add);
  } else {
    gatedBox.append(h('p', { class: 'muted' }, 'This policy has nested groups; edit it as JSON.'), field('Policy (JSON)', json));
  }
  if (!chains.length) {
    gatedBox.prepend(h('p', { class: 'alert' }, 'No chains are configured on this server, so no token condition can be checked. Add one under `chains:` in the config.'));
  }
  const sync = () => { gatedBox.hidden = !holders.checked; };
  open.addEventListener('change', sync);
  holders.addEventListener('change', sync);
  sync();

  const save = h('button', { type: 'submit', class: 'button' }, 'Save access');
  root.addEventListener('submit', async (e) => {
    e.preventDefault();
    let next;
    if (open.checked) {
      next = { public: true };
    } else if (flat) {
      next = { [mode.value]: Array.from(rows.children, (li) => li.read()) };
    } else {
      try {
        next = JSON.parse(json.value);
      } catch (error) {
        replace(status, h('p', { class: 'alert', role: 'alert' }, `Not JSON: ${error.message}`));
        return;
      }
    }
    save.disabled = true;
    try {
      await onSave(next);
      replace(status, h('p', { class: 'success' }, 'Access saved.'));
    } catch (error) {
      replace(status, h('p', { class: 'alert', role: 'alert' }, error.message));
    } finally {
      save.disabled = false;
    }
  });

  root.append(
    h('h2', {}, 'Who can watch'),
    h('fieldset', { class: 'radios' }, h('legend', { class: 'visually-hidden' }, 'Who can watch'),
      h('label', { class: 'check' }, open, 'Everyone who can see the video'),
      h('label', { class: 'check' }, holders, 'Only holders of tokens')),
    gatedBox,
    h('div', { class: 'actions' }, save),
    status);
  return root;
}
