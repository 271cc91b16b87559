// The HLS player: hls.js (vendored from npm) on a <video> or <audio> element, quality
// selection, resume from the watch history, position saving, and signed-URL renewal.
//
// Signed playback URLs are short-lived. Every request hls.js makes goes through xhrSetup,
// which re-signs the URL with the newest grant from GET /api/items/{id}/playback: the grant
// is renewed before it expires (timer), on demand when a request would carry an expired
// signature (a tab that slept), and after a 403. Local mode: nginx secure_link with the token
// and expiry in the path (/media/s/<token>/<expires>/hls/<id>/...), so the prefix is swapped;
// CloudFront mode: the signed query string is replaced.
import Hls from './vendor/hls/hls.min.mjs';
import { api } from './api.js';
import { el, fmtDuration } from './dom.js';

const SIGNED_PREFIX = /\/media\/s\/[A-Za-z0-9_-]{22}\/[0-9]{1,12}\//;
const CLOUDFRONT_PARAMS = new Set(['Policy', 'Signature', 'Key-Pair-Id', 'Expires']);
const SAVE_EVERY_MS = 5000;

function levelLabel(level, item) {
  const url = (level.url && level.url[0]) || level.uri || '';
  const path = url.split('?')[0];
  const rendition = item.renditions.find((r) => path.endsWith(`/${r.playlist}`));
  if (rendition) return rendition.kind === 'audio' ? `${rendition.audio_kbps} kbps` : rendition.name;
  if (level.height) return `${level.height}p`;
  return `${Math.round(level.bitrate / 1000)} kbps`;
}

function levelName(level, item) {
  const path = ((level.url && level.url[0]) || level.uri || '').split('?')[0];
  const rendition = item.renditions.find((r) => path.endsWith(`/${r.playlist}`));
  return rendition ? rendition.name : (level.height ? `${level.height}p` : '');
}

function preferredLevel(levels, item, preferred) {
  if (!preferred || preferred === 'auto') return -1;
  const exact = levels.findIndex((l) => levelName(l, item) === preferred);
  if (exact >= 0) return exact;
  const want = Number.parseInt(preferred, 10);
  if (!want || !levels.some((l) => l.height)) return -1;
  // The nearest rung at or below the preferred height, else the smallest one.
  let best = -1;
  levels.forEach((l, i) => {
    if (l.height && l.height <= want && (best < 0 || l.height > levels[best].height)) best = i;
  });
  if (best >= 0) return best;
  return levels.reduce((acc, l, i) => (acc < 0 || l.height < levels[acc].height ? i : acc), -1);
}

export async function mountPlayer(stage, item, prefs) {
  const audio = item.kind === 'audio';
  const media = el(audio ? 'audio' : 'video', {
    id: 'player', controls: true, preload: 'auto', playsinline: true,
    'aria-label': `${audio ? 'Audio' : 'Video'} player: ${item.title}`,
  });
  const quality = el('select', { id: 'quality', name: 'quality', disabled: true },
    el('option', { value: '-1' }, 'Auto'));
  const status = el('p', { class: 'player-status muted', role: 'status', 'aria-live': 'polite' });
  const resumeBox = el('p', { class: 'resume', hidden: true });
  const controls = el('div', { class: 'player-controls' },
    el('label', { for: 'quality' }, 'Quality'), quality, status);
  if (audio) {
    stage.append(el('div', { class: 'cover' }, item.thumbnail_url
      ? el('img', { src: item.thumbnail_url, alt: `Waveform of ${item.title}`, width: 800, height: 200 })
      : el('div', { class: 'thumb-placeholder', 'aria-hidden': 'true' }, '♪')));
  }
  stage.append(media, controls, resumeBox);
  stage.classList.add(audio ? 'stage-audio' : 'stage-video');

  // -- signed-URL grants ----------------------------------------------------------------
  let grant = null;
  let grants = 0;
  let pending = null;
  let timer = null;
  const secondsLeft = () => grant.expires_at - Date.now() / 1000;

  function setGrant(p) {
    const lifetime = Math.max(1, p.expires_at - Date.now() / 1000);
    grant = p;
    grants += 1;
    stage.dataset.grants = String(grants);
    stage.dataset.urlExpires = String(p.expires_at);
    // Renew when a quarter of the lifetime (at most a minute) is left.
    const margin = Math.min(60, Math.max(1, lifetime / 4));
    clearTimeout(timer);
    timer = setTimeout(() => { renew().catch(() => {}); }, Math.max(1, lifetime - margin) * 1000);
  }

  function renew() {
    if (!pending) {
      pending = api('GET', `/api/items/${item.id}/playback`)
        .then((p) => { setGrant(p); return p; })
        .finally(() => { pending = null; });
    }
    return pending;
  }

  function sign(url) {
    if (!grant) return url;
    if (grant.mode === 'cloudfront') {
      if (!grant.query) return url;
      const [base, query = ''] = url.split('?');
      const kept = query.split('&').filter((kv) => kv && !CLOUDFRONT_PARAMS.has(kv.split('=')[0]));
      return `${base}?${[...kept, grant.query].join('&')}`;
    }
    const current = grant.url.match(SIGNED_PREFIX);
    return current ? url.replace(SIGNED_PREFIX, current[0]) : url;
  }

  document.addEventListener('visibilitychange', () => {
    // Timers are throttled in background tabs: renew on return if the grant is nearly gone.
    if (document.visibilityState === 'visible' && grant && secondsLeft() < 5) renew().catch(() => {});
  });

  const first = await renew();
  const duration = item.duration_seconds || 0;
  let resume = first.resume_position_seconds || 0;
  if (duration && resume > duration - 2) resume = 0; // finished (or nearly): start over
  if (!audio && item.thumbnail_url) media.poster = item.thumbnail_url;

  // -- position saving ----------------------------------------------------------------
  let started = false;
  let lastSavedAt = 0;
  let lastSavedPos = -1;
  function save({ completed = false, keepalive = false } = {}) {
    if (!started) return; // never overwrite the saved position before playback began
    const pos = Math.min(media.currentTime, duration || media.currentTime);
    if (!Number.isFinite(pos) || (!completed && Math.abs(pos - lastSavedPos) < 0.25)) return;
    lastSavedPos = pos;
    lastSavedAt = Date.now();
    api('PUT', `/api/items/${item.id}/progress`, { position_seconds: pos, completed }, { keepalive })
      .catch(() => { lastSavedPos = -1; });
  }
  media.addEventListener('playing', () => { started = true; status.textContent = ''; });
  media.addEventListener('timeupdate', () => {
    if (started && !media.paused && Date.now() - lastSavedAt > SAVE_EVERY_MS) save();
  });
  media.addEventListener('pause', () => { if (!media.ended) save(); });
  media.addEventListener('seeked', () => save());
  media.addEventListener('ended', () => save({ completed: true }));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') save({ keepalive: true });
  });
  window.addEventListener('pagehide', () => save({ keepalive: true }));

  if (resume > 0) {
    const over = el('button', { type: 'button', class: 'link' }, 'Start over');
    resumeBox.append(`Resuming at ${fmtDuration(resume)}. `, over);
    resumeBox.hidden = false;
    over.addEventListener('click', () => { media.currentTime = 0; resumeBox.hidden = true; });
  }

  function autoplay() {
    if (!prefs.autoplay) return;
    media.play().catch(() => { status.textContent = 'Press play to start.'; });
  }

  // -- playback -----------------------------------------------------------------------
  if (!Hls.isSupported()) {
    if (media.canPlayType('application/vnd.apple.mpegurl')) {
      // Native HLS (Safari): relative URLs inherit the path token; renew on errors.
      media.src = first.url;
      media.addEventListener('loadedmetadata', () => { if (resume) media.currentTime = resume; autoplay(); }, { once: true });
      let nativeRetries = 0;
      media.addEventListener('error', async () => {
        nativeRetries += 1;
        if (nativeRetries > 3) {
          status.textContent = 'Playback failed. Reload the page to try again.';
          return;
        }
        const at = media.currentTime;
        const p = await renew();
        media.src = p.url;
        media.currentTime = at;
        media.play().catch(() => {});
      });
      quality.append(el('option', { disabled: true }, 'chosen by the browser'));
      return;
    }
    status.textContent = 'This browser cannot play HLS streams (no Media Source Extensions).';
    return;
  }

  // hls.js does not retry 4xx answers; a 403 here means the signature was refused (expired
  // in a tab whose timers slept, or a client clock behind the server's): renew the grant and
  // retry the same request, which xhrSetup re-signs once the renewal is in.
  const renewOn403 = (config, retryCount, isTimeout, response, retry) => {
    if (response && response.code === 403 && retryCount < 2) {
      renew().catch(() => {});
      return true;
    }
    return retry;
  };
  const policy = (firstByteMs, loadMs, timeoutRetries, errorRetries) => ({
    default: {
      maxTimeToFirstByteMs: firstByteMs,
      maxLoadTimeMs: loadMs,
      timeoutRetry: { maxNumRetry: timeoutRetries, retryDelayMs: 0, maxRetryDelayMs: 0 },
      errorRetry: { maxNumRetry: errorRetries, retryDelayMs: 500, maxRetryDelayMs: 8000, shouldRetry: renewOn403 },
    },
  });
  const hls = new Hls({
    workerPath: '/static/vendor/hls/hls.worker.js',
    startPosition: resume > 0 ? resume : -1,
    capLevelToPlayerSize: false,
    manifestLoadPolicy: policy(Infinity, 20000, 2, 1),
    playlistLoadPolicy: policy(10000, 20000, 2, 2),
    fragLoadPolicy: policy(10000, 120000, 4, 6),
    xhrSetup: async (xhr, url) => {
      if (pending) await pending;
      else if (secondsLeft() < 2) await renew();
      xhr.open('GET', sign(url), true);
    },
  });
  stage.hls = hls; // reachable from devtools for debugging; not a global

  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    const order = hls.levels.map((l, i) => i).sort((a, b) => hls.levels[b].bitrate - hls.levels[a].bitrate);
    order.forEach((i) => quality.append(el('option', { value: String(i) }, levelLabel(hls.levels[i], item))));
    quality.disabled = false;
    const want = preferredLevel(hls.levels, item, prefs.preferred_quality);
    if (want >= 0) {
      hls.currentLevel = want;
      quality.value = String(want);
    }
    autoplay();
  });
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
    const label = levelLabel(hls.levels[data.level], item);
    stage.dataset.level = label;
    quality.options[0].textContent = hls.autoLevelEnabled ? `Auto (${label})` : 'Auto';
  });
  quality.addEventListener('change', () => {
    const level = Number(quality.value);
    // -1: adaptive; otherwise lock to that rung now (the buffer ahead is replaced).
    hls.currentLevel = level;
    if (level < 0) quality.options[0].textContent = 'Auto';
  });

  let networkRetries = 0;
  hls.on(Hls.Events.ERROR, async (_, data) => {
    const code = data.response && data.response.code;
    if (code === 403) {
      // The signature was refused (expired in a sleeping tab, or clock skew): renew, go on.
      try {
        await renew();
        if (data.fatal) hls.startLoad(media.currentTime);
      } catch (err) {
        status.textContent = err.message;
      }
      return;
    }
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries < 5) {
      networkRetries += 1;
      status.textContent = 'Network problem; retrying…';
      setTimeout(() => hls.startLoad(media.currentTime), 1000 * networkRetries);
    } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && networkRetries < 5) {
      networkRetries += 1;
      hls.recoverMediaError();
    } else {
      status.textContent = `Playback failed (${data.details}). Reload the page to try again.`;
      hls.destroy();
    }
  });
  hls.on(Hls.Events.FRAG_LOADED, () => { networkRetries = 0; });

  hls.loadSource(first.url);
  hls.attachMedia(media);
}
