// The watch page: hls.js with a quality menu; processing progress until the video is
// ready; the refusal of a gated video with what would grant access; and, for the owner
// (or an admin), the details, visibility and access-policy editors.

import { ApiError, api, authorization, currentUser, events, mayManage, send } from './api.js';
import { conditionsOf, policyForm, refusalPanel } from './policy.js';
import { errorBox, field, formatBytes, formatDuration, formatEta, h, replace, statusBadge, tagsFromText, toast } from './ui.js';
import { shortAddress } from './wallet.js';

let hlsModule = null;
// hls.js is 600 KB: loaded on the first watch page, not with the app.
async function loadHls() {
  if (!hlsModule) hlsModule = import('/assets/hls.mjs').then((m) => m.default);
  return hlsModule;
}

function ownerLabel(owner) {
  if (owner === 'admin') return 'an admin';
  const address = owner.split(':').pop();
  return /^0x[0-9a-fA-F]{40}$/.test(address) ? shortAddress(address) : owner;
}

function levelLabel(level) {
  const kbps = Math.round((level.bitrate || 0) / 1000);
  return `${level.height ? level.height + 'p' : 'audio'}${kbps ? ` · ${kbps >= 1000 ? (kbps / 1000).toFixed(1) + ' Mb/s' : kbps + ' kb/s'}` : ''}`;
}

export function renderWatch(main, { params, navigate }) {
  const id = params[0];
  const stop = new AbortController();
  let hls = null;
  const user = currentUser();

  const stage = h('div', { class: 'stage' });
  const video = h('video', { controls: true, playsinline: true, preload: 'metadata', 'aria-label': 'Video player' });
  const quality = h('select', { id: 'quality', disabled: true }, h('option', { value: '-1' }, 'Auto'));
  const qualityNow = h('span', { class: 'muted quality-now', 'aria-live': 'polite' });
  const info = h('section', { class: 'info', 'aria-label': 'About this video' });
  const owner = h('section', { class: 'owner-tools' });
  const heading = h('h1', { class: 'watch-title' }, '\u00a0');

  replace(main, h('article', { class: 'watch' },
    h('div', { class: 'player-box' }, stage),
    h('div', { class: 'player-bar' },
      h('label', { for: 'quality' }, 'Quality'), quality, qualityNow,
      h('button', { type: 'button', class: 'button secondary small share', onclick: share }, 'Copy link')),
    heading, info, owner));

  async function share() {
    const url = `${location.origin}/watch/${id}`;
    try {
      await navigator.clipboard.writeText(url);
      toast('Link copied.');
    } catch {
      toast(url);
    }
  }

  function showInStage(...children) {
    if (hls) {
      hls.destroy();
      hls = null;
    }
    replace(stage, h('div', { class: 'stage-message' }, ...children));
  }

  async function explainRefusal(error) {
    const details = error.details && error.details.unmet_conditions;
    if (error.status === 403 && details) {
      showInStage(refusalPanel(details, { signedInAs: user && user.address ? shortAddress(user.address) : 'you use' }));
      return;
    }
    if (error.status === 401) {
      // Anonymous: say what the policy asks for, so a viewer knows which wallet to use.
      let conditions = [];
      let mode = 'any';
      try {
        const policy = await api(`/api/v1/content/${id}/policy`, { signal: stop.signal });
        conditions = conditionsOf(policy);
        mode = policy.all ? 'all' : 'any';
      } catch {
        // the explanation still works without the list
      }
      showInStage(refusalPanel(conditions, { policyMode: mode }),
        h('a', { class: 'button', href: `/account?next=/watch/${id}` }, 'Sign in with a wallet'));
      return;
    }
    if (error.status === 503) {
      showInStage(errorBox(error, 'Access could not be checked right now (a chain did not answer); try again shortly'));
      return;
    }
    showInStage(errorBox(error, 'Cannot play this video'));
  }

  async function play(content) {
    const manifest = `/api/v1/streaming/${id}/manifest.m3u8`;
    // Asked first with fetch, so a refusal's explanation (the JSON body) can be shown.
    const probe = await send(manifest, { signal: stop.signal });
    if (!probe.ok) {
      let error;
      try {
        const body = await probe.json();
        error = new ApiError(probe.status, body.error.code, body.error.message, body.error.details);
      } catch {
        error = new ApiError(probe.status, 'http', `HTTP ${probe.status}`);
      }
      await explainRefusal(error);
      return;
    }
    const Hls = await loadHls();
    if (stop.signal.aborted) return;
    replace(stage, video);
    if (content.poster_url && content.visibility !== 'private') video.poster = content.poster_url;
    if (!Hls.isSupported()) {
      if (video.canPlayType('application/vnd.apple.mpegurl')) {
        video.src = manifest; // Safari's own HLS (public videos: it cannot send our header)
        return;
      }
      showInStage(errorBox('This browser cannot play HLS (no Media Source Extensions).'));
      return;
    }
    // Only the master manifest needs the Authorization header: the URIs in it carry a
    // playback token when the video is gated or private.
    const auth = await authorization();
    hls = new Hls({
      // The ES-module build does not inline its transmuxer worker: it is served beside it.
      workerPath: '/assets/hls.worker.js',
      xhrSetup: (xhr, url) => {
        if (auth && new URL(url, location.href).pathname === manifest) xhr.setRequestHeader('Authorization', auth);
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      replace(quality, h('option', { value: '-1' }, 'Auto'),
        data.levels.map((level, i) => ({ level, i }))
          .sort((a, b) => (b.level.height || 0) - (a.level.height || 0))
          .map(({ level, i }) => h('option', { value: String(i) }, levelLabel(level))));
      quality.disabled = data.levels.length < 2;
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      qualityNow.textContent = level ? `playing ${level.height}p` : '';
      video.dataset.level = String(data.level);
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        hls.startLoad();
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        showInStage(errorBox(`${data.details}`, 'Playback failed'));
      }
    });
    hls.loadSource(manifest);
    hls.attachMedia(video);
  }

  quality.addEventListener('change', () => {
    if (!hls) return;
    // nextLevel switches at the next fragment without a stall; Auto hands back to ABR.
    hls.nextLevel = Number(quality.value);
    if (quality.value === '-1') hls.currentLevel = -1;
  });

  function waitUntilReady(content) {
    const bar = h('progress', { max: 100, value: 0, 'aria-label': 'Transcoding progress' });
    const text = h('p', {}, content.status === 'uploaded' ? 'Queued for transcoding…' : 'Transcoding…');
    showInStage(h('p', { class: 'stage-title' }, 'This video is being prepared'), bar, text);
    events(`/api/v1/content/${id}/events`, ({ event, data }) => {
      if (event === 'progress') {
        bar.value = data.percent;
        text.textContent = `${Math.floor(data.percent)} %${data.eta_seconds !== null ? ' · ' + formatEta(data.eta_seconds) : ''}`;
      } else if (event === 'status') {
        if (data.status === 'ready') {
          load();
          return true;
        }
        if (data.status === 'failed') {
          showInStage(errorBox(data.reason || 'transcoding failed', 'Transcoding failed'));
          return true;
        }
        if (data.reason) text.textContent = data.reason;
      }
      return false;
    }, stop.signal).catch((error) => showInStage(errorBox(error, 'Lost the progress stream')));
  }

  function renderInfo(content) {
    document.title = `${content.title || 'Untitled'} · StreamGate`;
    heading.textContent = content.title || content.filename || 'Untitled';
    const duration = formatDuration(content.duration_seconds);
    replace(info,
      h('p', { class: 'meta' },
        statusBadge(content),
        content.gated ? h('span', { class: 'badge badge-gated' }, 'Token-gated') : null,
        content.visibility !== 'public' ? h('span', { class: 'badge badge-muted' }, content.visibility) : null,
        h('span', {}, `by ${ownerLabel(content.owner)}`),
        duration ? h('span', {}, duration) : null,
        content.width ? h('span', {}, `${content.width}×${content.height}`) : null,
        h('span', {}, formatBytes(content.size))),
      content.status === 'failed' && content.status_reason ? errorBox(content.status_reason, 'Transcoding failed') : null,
      content.description ? h('p', { class: 'description' }, content.description) : null,
      content.tags.length ? h('ul', { class: 'tags', 'aria-label': 'tags' },
        content.tags.map((tag) => h('li', {}, h('a', { class: 'tag', href: `/?tag=${encodeURIComponent(tag)}` }, `#${tag}`)))) : null);
  }

  async function renderOwnerTools(content) {
    if (!mayManage(user, content)) {
      owner.replaceChildren();
      return;
    }
    const title = h('input', { type: 'text', value: content.title, maxlength: 500 });
    const description = h('textarea', { rows: 3, maxlength: 10000 }, content.description);
    const tags = h('input', { type: 'text', value: content.tags.join(', ') });
    const visibility = h('select', {},
      ['public', 'unlisted', 'private'].map((v) => h('option', { value: v, selected: v === content.visibility }, v)));
    const status = h('div', { 'aria-live': 'polite' });
    const details = h('form', { class: 'panel' },
      h('h2', {}, 'Details'),
      field('Title', title), field('Description', description),
      field('Tags', tags, 'Comma-separated.'),
      field('Visibility', visibility, 'Unlisted: reachable by link, never listed. Private: only you and admins.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Save details')),
      status);
    details.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const updated = await api(`/api/v1/content/${id}`, {
          method: 'PATCH',
          body: { title: title.value.trim(), description: description.value.trim(), tags: tagsFromText(tags.value), visibility: visibility.value },
        });
        renderInfo(updated);
        replace(status, h('p', { class: 'success' }, 'Details saved.'));
      } catch (error) {
        replace(status, h('p', { class: 'alert', role: 'alert' }, error.message));
      }
    });
    const remove = h('button', { type: 'button', class: 'button danger' }, 'Delete this video');
    remove.addEventListener('click', async () => {
      if (!confirm('Delete this video and all its renditions? This cannot be undone.')) return;
      try {
        await api(`/api/v1/content/${id}`, { method: 'DELETE' });
        toast('Video deleted.');
        navigate('/');
      } catch (error) {
        toast(error.message, 'error');
      }
    });
    const [policy, chains] = await Promise.all([
      api(`/api/v1/content/${id}/policy`, { signal: stop.signal }),
      api('/api/v1/chains', { signal: stop.signal }).then((r) => r.chains.map((c) => c.id)).catch(() => []),
    ]);
    replace(owner,
      h('h2', { class: 'visually-hidden' }, 'Manage this video'),
      details,
      policyForm(policy, chains, async (next) => {
        await api(`/api/v1/content/${id}/policy`, { method: 'PUT', body: next });
        const updated = await api(`/api/v1/content/${id}`);
        renderInfo(updated);
      }),
      h('div', { class: 'panel danger-zone' }, h('h2', {}, 'Delete'), remove));
  }

  async function load() {
    let content;
    try {
      content = await api(`/api/v1/content/${id}`, { signal: stop.signal });
    } catch (error) {
      if (stop.signal.aborted) return;
      heading.textContent = error.status === 404 ? 'Video not found' : 'Could not load this video';
      showInStage(errorBox(error));
      return;
    }
    renderInfo(content);
    renderOwnerTools(content).catch((error) => replace(owner, errorBox(error, 'Could not load the owner tools')));
    if (content.status === 'ready') {
      play(content).catch((error) => showInStage(errorBox(error, 'Cannot play this video')));
    } else if (content.status === 'failed') {
      showInStage(errorBox(content.status_reason || 'transcoding failed', 'This video could not be transcoded'));
    } else {
      waitUntilReady(content);
    }
  }

  showInStage(h('p', { class: 'muted' }, 'Loading…'));
  load();
  return () => {
    stop.abort();
    if (hls) hls.destroy();
  };
}
