/** Methods that only read: a cross-site request of these cannot change anything. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What `crossSiteRequest` reads of a request. */
export interface RequestOrigin {
  method: string;
  /** `Sec-Fetch-Site`, sent by every current browser on every request; '' when absent. */
  secFetchSite: string;
  /** `Origin`, sent by browsers on every POST, PUT, PATCH and DELETE; '' when absent. */
  origin: string;
  /** The host the request was sent to (`Host`, or `X-Forwarded-Host` behind the proxy). */
  host: string;
}

/**
 * Why a state-changing request must be refused as cross-site, or undefined when it may go on. A
 * browser sends HTTP Basic credentials with any request to the site, whichever page made it, so a
 * page on another origin could auto-submit a form to the queue UI (cross-site request forgery).
 *
 * - `Sec-Fetch-Site`, when present, must be `same-origin`: the browser itself says where the
 *   request comes from, and no page can forge it.
 * - Otherwise `Origin`, when present, must name this host (schemes are not compared: behind a
 *   TLS-terminating proxy the API sees http while the browser is on https). `null` is refused.
 * - A request with neither is not from a browser (curl, a script with the Bearer token), which
 *   sends no ambient credentials: nothing to forge.
 */
export function crossSiteRequest(request: RequestOrigin): string | undefined {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return undefined;
  if (request.secFetchSite !== '') {
    return request.secFetchSite === 'same-origin'
      ? undefined
      : `Sec-Fetch-Site is "${request.secFetchSite}"; the queue UI takes changes only from its own pages`;
  }
  if (request.origin === '') return undefined;
  let originHost: string;
  try {
    originHost = new URL(request.origin).host;
  } catch {
    return `Origin "${request.origin}" is not this site; the queue UI takes changes only from its own pages`;
  }
  return originHost.toLowerCase() === request.host.toLowerCase()
    ? undefined
    : `Origin "${request.origin}" is not this site (${request.host}); the queue UI takes changes only from its own pages`;
}
