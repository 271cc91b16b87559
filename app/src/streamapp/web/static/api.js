// The JSON API client: same-origin fetch with the session cookie; errors carry the API's
// {code, message} so pages can show the server's own explanation.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const FRIENDLY = {
  0: 'The server cannot be reached. Check your connection and try again.',
  502: 'The server is restarting; try again in a moment.',
  503: 'The service is temporarily unavailable; try again in a moment.',
  504: 'The server took too long to answer; try again.',
};

export async function api(method, path, body, { keepalive = false } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, keepalive };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network_error', FRIENDLY[0]);
  }
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    let message = data?.message || FRIENDLY[resp.status] || `Request failed (HTTP ${resp.status}).`;
    // Validation errors: name the first offending field in plain words.
    if (data?.code === 'validation_error' && Array.isArray(data.details?.errors) && data.details.errors[0]) {
      const first = data.details.errors[0];
      const where = Array.isArray(first.loc) ? first.loc.filter((p) => p !== 'body').join(' ') : '';
      if (first.msg) message = `${where ? `${where}: ` : ''}${first.msg}`;
    }
    throw new ApiError(resp.status, data?.code || 'error', message);
  }
  return data;
}
