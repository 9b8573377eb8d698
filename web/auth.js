// Credentials for the server's API, when the deployer turned them on (an API key on the
// server). The page never holds the key: it uses a short-lived client token, taken
//   1. from its own URL (`?token=...`), put there by whoever sent the user the link, or
//   2. from a token endpoint the deployer names in index.html
//      (<meta name="omnivox-token-url" content="/my-backend/voice-token">): their
//      backend checks its user, calls POST /v1/tokens with the key and returns the JSON.
// With neither, no Authorization header is sent: a server without a key needs none.

let urlToken = null;
{
  const params = new URLSearchParams(location.search);
  urlToken = params.get('token');
  if (urlToken !== null) {
    // Out of the address bar, so it is not copied into a shared link or a screenshot.
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  }
}

function tokenUrl() {
  const meta = document.querySelector('meta[name="omnivox-token-url"]');
  const url = meta && meta.getAttribute('content');
  return url && url.trim() ? url.trim() : null;
}

/** A token from the deployer's endpoint: `{value}` (as POST /v1/tokens answers) or
 *  OpenAI's `{client_secret: {value}}`. */
async function fetchToken(url) {
  let resp;
  try {
    resp = await fetch(url, { method: 'POST', credentials: 'same-origin' });
  } catch (err) {
    throw new Error(`Could not reach the token endpoint: ${err.message}`);
  }
  if (!resp.ok) throw new Error(`The token endpoint refused (HTTP ${resp.status})`);
  const body = await resp.json().catch(() => null);
  const value = body && (body.value || (body.client_secret && body.client_secret.value));
  if (typeof value !== 'string' || !value) throw new Error('The token endpoint sent no token');
  return value;
}

/** Headers to add to an API request: `{Authorization: 'Bearer ...'}` or nothing. */
export async function authHeaders() {
  const url = tokenUrl();
  const token = url ? await fetchToken(url) : urlToken;
  return token ? { Authorization: `Bearer ${token}` } : {};
}
