// The console's only way to the API: the operator's credential from sessionStorage, errors with requestId.

const STORE_KEY = 'gatehouse.credential';

/** The API's base: the page lives at <base>/console, whatever stage prefix the URL has. */
export const base = location.pathname.replace(/\/console\/?$/, '');

export const credential = {
  get: () => sessionStorage.getItem(STORE_KEY),
  set: (value) => sessionStorage.setItem(STORE_KEY, value),
  clear: () => sessionStorage.removeItem(STORE_KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, requestId, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details || [];
  }
}

/** fetch + JSON; a non-2xx answer throws ApiError (its requestId from the body or X-Request-Id). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = credential.get();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(base + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store', referrerPolicy: 'no-referrer',
    });
  } catch (err) {
    throw new ApiError(0, 'NETWORK_ERROR', `The API could not be reached (${err.message}).`, null);
  }
  const requestId = response.headers.get('X-Request-Id') || response.headers.get('apigw-requestid');
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { raw: text }; }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const message = error.message || (data && data.message) || `HTTP ${response.status}`;
    const failure = new ApiError(response.status, error.code || `HTTP_${response.status}`, message,
      (data && data.requestId) || requestId, error.details);
    failure.data = data;
    throw failure;
  }
  return data;
}

export const q = (params) => {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') sp.set(k, v);
  const str = sp.toString();
  return str ? `?${str}` : '';
};

export const enc = encodeURIComponent;
