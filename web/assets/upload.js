// Upload: pick or drop a file, describe it, send it with tus (resumable, in chunks, with
// bytes / speed / time left), then follow its transcoding live until it is ready.
// Resuming after a reload or a lost connection: tus-js-client remembers each unfinished
// upload by the file's fingerprint in localStorage; picking the same file again continues
// where the server's offset says (browsers do not let a page reopen a file by itself).

import { authorization, currentUser, events, hasRole } from './api.js';
import { errorBox, field, formatBytes, formatEta, h, replace, tagsFromText, toast } from './ui.js';

const CHUNK_BYTES = 8 * 1024 * 1024;

// Bytes per second over the last few seconds, so the speed and time left follow changes in
// the connection instead of averaging over the whole upload.
class SpeedMeter {
  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
    this.samples = [];
  }
  add(bytes, at = performance.now()) {
    this.samples.push([at, bytes]);
    while (this.samples.length > 2 && at - this.samples[0][0] > this.windowMs) this.samples.shift();
  }
  rate() {
    if (this.samples.length < 2) return NaN;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : NaN;
  }
}

function tusError(error) {
  // A refusal from the server carries our JSON error envelope: show its message.
  const response = error && error.originalResponse;
  if (response) {
    try {
      const body = JSON.parse(response.getBody());
      if (body && body.error && body.error.message) return new Error(body.error.message);
    } catch {
      // not JSON
    }
    return new Error(`upload refused (HTTP ${response.getStatus()})`);
  }
  return new Error(error && error.message ? error.message.split('\n')[0] : String(error));
}

function progressBlock(label) {
  const bar = h('progress', { max: 100, value: 0, 'aria-label': label });
  const text = h('p', { class: 'progress-text', 'aria-live': 'off' }, '\u00a0');
  return { bar, text, el: h('div', { class: 'progress-block' }, h('p', { class: 'progress-label' }, label), bar, text) };
}

// The uploads this browser started and did not finish, as the server still has them: one
// the server no longer knows (expired, refused as not a video, deleted) is forgotten here.
async function unfinishedUploads() {
  if (!window.tus || !window.tus.defaultOptions.urlStorage) return [];
  const storage = window.tus.defaultOptions.urlStorage;
  let list = [];
  try {
    list = await storage.findAllUploads();
  } catch {
    return [];
  }
  const auth = await authorization();
  const alive = await Promise.all(list.map(async (p) => {
    if (!p.uploadUrl) return true;
    try {
      const reply = await fetch(p.uploadUrl, {
        method: 'HEAD',
        headers: { 'Tus-Resumable': '1.0.0', ...(auth ? { Authorization: auth } : {}) },
      });
      if (reply.status === 404 || reply.status === 410) {
        await storage.removeUpload(p.urlStorageKey).catch(() => {});
        return false;
      }
    } catch {
      // offline: keep it listed
    }
    return true;
  }));
  return list.filter((_, i) => alive[i]);
}

export function renderUpload(main) {
  const user = currentUser();
  if (!user || !(hasRole(user, 'creator') || hasRole(user, 'admin'))) {
    replace(main,
      h('div', { class: 'page-head' }, h('h1', {}, 'Upload')),
      h('div', { class: 'panel' },
        h('p', {}, user ? 'Your account may watch but not upload: the server only lets creators upload.'
          : 'Sign in to upload videos.'),
        user ? null : h('a', { class: 'button', href: '/account' }, 'Sign in')));
    return () => {};
  }
  const stop = new AbortController();
  let upload = null;
  let file = null;

  const input = h('input', { type: 'file', id: 'file', accept: 'video/*,.mkv,.mov,.mp4,.webm,.avi', class: 'visually-hidden' });
  const chosen = h('span', { class: 'chosen' }, 'No file chosen');
  const drop = h('label', { for: 'file', class: 'dropzone', tabindex: '-1' },
    h('strong', {}, 'Choose a video'), h('span', {}, ' or drop it here'), h('br'), chosen);
  const title = h('input', { type: 'text', maxlength: 500, required: true });
  const description = h('textarea', { rows: 3, maxlength: 10000 });
  const tags = h('input', { type: 'text', placeholder: 'travel, drone, 4k' });
  const visibility = h('select', {},
    h('option', { value: 'public' }, 'Public: listed and searchable'),
    h('option', { value: 'unlisted' }, 'Unlisted: anyone with the link'),
    h('option', { value: 'private' }, 'Private: only you'));
  const start = h('button', { type: 'submit', class: 'button', disabled: true }, 'Upload');
  const pause = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Pause');
  const cancel = h('button', { type: 'button', class: 'button danger', hidden: true }, 'Cancel');
  const sending = progressBlock('Upload');
  const transcoding = progressBlock('Transcoding');
  sending.el.hidden = true;
  transcoding.el.hidden = true;
  const message = h('div', { class: 'upload-message' });
  const pending = h('div', { class: 'pending' });

  function choose(f) {
    if (!f) return;
    file = f;
    chosen.textContent = `${f.name} (${formatBytes(f.size)})`;
    if (!title.value) title.value = f.name.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ');
    start.disabled = false;
    replace(message);
  }
  input.addEventListener('change', () => choose(input.files[0]));
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    choose(e.dataTransfer.files[0]);
  });

  const form = h('form', { class: 'panel upload-form', onsubmit: (e) => { e.preventDefault(); begin(); } },
    drop, input,
    field('Title', title),
    field('Description', description),
    field('Tags', tags, 'Comma-separated.'),
    field('Visibility', visibility, 'Token gating is set on the video page once it is uploaded.'),
    h('div', { class: 'actions' }, start, pause, cancel),
    sending.el, transcoding.el, message);

  async function showPending() {
    const list = await unfinishedUploads();
    if (!list.length) {
      replace(pending);
      return;
    }
    replace(pending, h('div', { class: 'panel' },
      h('h2', {}, 'Unfinished uploads'),
      h('p', { class: 'muted' }, 'Choose the same file again to continue where it stopped.'),
      h('ul', { class: 'pending-list' }, list.map((p) => {
        const name = p.metadata.title || p.metadata.filename || 'untitled';
        // Discard: the server drops what it has (tus termination), the browser forgets it.
        const discard = h('button', { type: 'button', class: 'button secondary small', 'aria-label': `Discard the unfinished upload of ${name}` }, 'Discard');
        discard.addEventListener('click', async () => {
          discard.disabled = true;
          if (p.uploadUrl) {
            const auth = await authorization();
            await window.tus.Upload.terminate(p.uploadUrl, { headers: auth ? { Authorization: auth } : {} }).catch(() => {});
          }
          await window.tus.defaultOptions.urlStorage.removeUpload(p.urlStorageKey).catch(() => {});
          showPending();
        });
        return h('li', {},
          h('span', {}, `${name} — ${p.metadata.filename || ''} (${formatBytes(p.size)}), started ${new Date(p.creationTime).toLocaleString()}`),
          discard);
      }))));
  }

  async function begin() {
    if (!file || upload) return;
    if (!window.tus || !window.tus.isSupported) {
      replace(message, errorBox('This browser cannot upload resumably (tus-js-client unsupported).'));
      return;
    }
    const meter = new SpeedMeter();
    let resuming = false;
    let resumedFrom = null; // the server's offset when this upload continued an earlier one
    start.disabled = true;
    pause.hidden = false;
    cancel.hidden = false;
    sending.el.hidden = false;
    sending.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    replace(message);
    const chosenVisibility = visibility.value;
    upload = new window.tus.Upload(file, {
      endpoint: '/api/v1/tus',
      chunkSize: CHUNK_BYTES,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      metadata: {
        filename: file.name,
        filetype: file.type || 'application/octet-stream',
        title: title.value.trim(),
        description: description.value.trim(),
        tags: tagsFromText(tags.value).join(','),
        visibility: chosenVisibility,
      },
      // Each request asks for the current token: a long upload outlives an access token.
      onBeforeRequest: async (req) => {
        const auth = await authorization();
        if (auth) req.setHeader('Authorization', auth);
      },
      onProgress: (sent, total) => {
        if (resumedFrom === null) resumedFrom = resuming ? sent : 0;
        meter.add(sent);
        const speed = meter.rate();
        sending.bar.value = total ? (sent / total) * 100 : 0;
        sending.bar.setAttribute('aria-valuetext', `${Math.floor(sending.bar.value)} percent`);
        sending.text.textContent = `${formatBytes(sent)} of ${formatBytes(total)}` +
          (Number.isFinite(speed) && speed > 0 ? ` · ${formatBytes(speed)}/s · ${formatEta((total - sent) / speed)}` : '') +
          (resumedFrom ? ` · resumed at ${formatBytes(resumedFrom)}` : '');
      },
      onError: (error) => {
        pause.hidden = true;
        cancel.hidden = true;
        start.disabled = false;
        upload = null;
        replace(message, errorBox(tusError(error), 'Upload failed'),
          h('p', { class: 'muted' }, 'What reached the server is kept: choose the same file and press Upload to continue.'));
        showPending();
      },
      onSuccess: ({ lastResponse }) => {
        pause.hidden = true;
        cancel.hidden = true;
        sending.bar.value = 100;
        const id = lastResponse.getHeader('Streamgate-Content-Id');
        upload = null;
        showPending();
        if (!id) {
          replace(message, errorBox('The server did not say which video was created.'));
          return;
        }
        follow(id);
      },
    });
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      resuming = true;
      toast('Resuming the earlier upload of this file.');
    }
    upload.start();
  }

  let paused = false;
  pause.addEventListener('click', async () => {
    if (!upload) return;
    if (paused) {
      upload.start();
      pause.textContent = 'Pause';
    } else {
      await upload.abort();
      pause.textContent = 'Resume';
      sending.text.textContent += ' · paused';
    }
    paused = !paused;
  });
  cancel.addEventListener('click', async () => {
    if (!upload) return;
    const current = upload;
    upload = null;
    await current.abort(true).catch(() => {});
    pause.hidden = true;
    cancel.hidden = true;
    start.disabled = false;
    sending.el.hidden = true;
    replace(message, h('p', {}, 'Upload cancelled; nothing was kept.'));
    showPending();
  });

  // Live transcoding progress until ready or failed.
  function follow(id) {
    transcoding.el.hidden = false;
    transcoding.text.textContent = 'Waiting for a worker…';
    const watch = h('a', { href: `/watch/${id}`, class: 'button secondary' }, 'Open the video page');
    replace(message, h('p', {}, 'Uploaded. ', watch));
    events(`/api/v1/content/${id}/events`, ({ event, data }) => {
      if (event === 'progress') {
        transcoding.bar.value = data.percent;
        transcoding.text.textContent = `${Math.floor(data.percent)} %` +
          (data.eta_seconds !== null ? ` · ${formatEta(data.eta_seconds)}` : '');
      } else if (event === 'status') {
        if (data.status === 'ready') {
          transcoding.bar.value = 100;
          transcoding.text.textContent = 'Ready';
          replace(message, h('p', { class: 'success' }, 'Your video is ready. ',
            h('a', { href: `/watch/${id}`, class: 'button' }, 'Watch it')));
          toast('Your video is ready.');
          return true;
        }
        if (data.status === 'failed') {
          transcoding.text.textContent = 'Failed';
          replace(message, errorBox(data.reason || 'transcoding failed', 'Transcoding failed'));
          return true;
        }
        transcoding.text.textContent = data.reason || (data.status === 'processing' ? 'Transcoding…' : 'Queued…');
      }
      return false;
    }, stop.signal).catch((error) => replace(message, errorBox(error, 'Lost the progress stream')));
  }

  replace(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Upload')),
    pending,
    form);
  showPending();
  return () => {
    stop.abort();
    // Leaving the page pauses the upload; it resumes when the same file is chosen again.
    if (upload) upload.abort();
  };
}
