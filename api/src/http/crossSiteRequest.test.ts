import { expect } from 'chai';
import { crossSiteRequest, type RequestOrigin } from './crossSiteRequest.js';

const request = (over: Partial<RequestOrigin>): RequestOrigin => ({
  method: 'POST',
  secFetchSite: '',
  origin: '',
  host: 'agg.example:8080',
  ...over,
});

describe('crossSiteRequest', () => {
  it('refuses a change that the browser says comes from another site or origin', () => {
    for (const secFetchSite of ['cross-site', 'same-site', 'none']) {
      expect(crossSiteRequest(request({ secFetchSite })), secFetchSite).to.match(/Sec-Fetch-Site/);
    }
    // Sec-Fetch-Site wins over an Origin that names this host.
    expect(crossSiteRequest(request({ secFetchSite: 'cross-site', origin: 'http://agg.example:8080' }))).to.be.a(
      'string',
    );
  });

  it('refuses a change whose Origin is another host, another port, or null', () => {
    for (const origin of ['http://evil.example', 'http://agg.example:8081', 'null', 'http://agg.example.evil:8080']) {
      expect(crossSiteRequest(request({ origin })), origin).to.match(/Origin/);
    }
  });

  it('lets through same-origin changes, reads from anywhere, and clients that are not browsers', () => {
    expect(crossSiteRequest(request({ secFetchSite: 'same-origin' }))).to.equal(undefined);
    expect(crossSiteRequest(request({ origin: 'https://AGG.example:8080' }))).to.equal(undefined);
    expect(crossSiteRequest(request({}))).to.equal(undefined);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(crossSiteRequest(request({ method, secFetchSite: 'cross-site' }))).to.equal(undefined);
    }
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      expect(crossSiteRequest(request({ method, secFetchSite: 'cross-site' }))).to.be.a('string');
    }
  });
});
