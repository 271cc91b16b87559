// Tiny DOM helpers: elements are built with properties and text nodes, never innerHTML, so
// titles and descriptions from users cannot inject markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'hidden') node.hidden = Boolean(value);
    else if (name === 'value' && 'value' in node) node.value = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function fmtWhen(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function statusLabel(item) {
  switch (item.status) {
    case 'queued': return 'Queued for transcoding…';
    case 'processing': return `Transcoding… ${Math.round((item.progress || 0) * 100)} %`;
    case 'ready': return 'Ready';
    case 'failed': return `Failed: ${item.failure_reason || 'unknown reason'}`;
    default: return item.status;
  }
}
