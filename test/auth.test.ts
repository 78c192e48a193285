import { expect } from 'chai';
import { requireTool } from './support/requireTool.js';
import { REDIS_SERVER } from './support/tools.js';
import { makeEvent, withStack } from './support/withStack.js';

const API_TOKEN = 'publish-secret-0123456789';
const READ_TOKEN = 'read-secret-0123456789abc';

describe('authentication', () => {
  before(requireTool(REDIS_SERVER));
  it('requires the API token on POST /publish when API_TOKEN is set', () =>
    withStack({ env: { API_TOKEN } }, async (stack) => {
      const body = JSON.stringify(makeEvent());
      const headers = { 'content-type': 'application/json' };
      for (const authorization of [
        undefined,
        'Bearer wrong-token-000000000',
        `Basic ${API_TOKEN}`,
        `Bearer ${API_TOKEN}x`,
      ]) {
        const res = await stack.request({
          method: 'POST',
          url: '/publish',
          headers: authorization ? { ...headers, authorization } : headers,
          payload: body,
        });
        expect(res.statusCode, String(authorization)).to.equal(401);
        expect(res.json().error.code).to.equal('unauthorized');
        expect(res.headers['www-authenticate']).to.equal('Bearer');
      }
      const ok = await stack.request({
        method: 'POST',
        url: '/publish',
        headers: { ...headers, authorization: `Bearer ${API_TOKEN}` },
        payload: body,
      });
      expect(ok.statusCode).to.equal(200);
      // Reads stay open unless READ_TOKEN is set.
      expect((await stack.request({ method: 'GET', url: '/stats' })).statusCode).to.equal(200);
    }));

  it('protects reads with READ_TOKEN, never the health endpoints', () =>
    withStack({ env: { READ_TOKEN } }, async (stack) => {
      for (const url of ['/events', '/topics', '/stats']) {
        expect((await stack.request({ method: 'GET', url })).statusCode, url).to.equal(401);
        const ok = await stack.request({ method: 'GET', url, headers: { authorization: `Bearer ${READ_TOKEN}` } });
        expect(ok.statusCode, url).to.equal(200);
      }
      for (const url of ['/healthz', '/readyz'])
        expect((await stack.request({ method: 'GET', url })).statusCode).to.equal(200);
    }));
});
