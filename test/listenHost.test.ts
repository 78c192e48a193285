import { exposureWarning, isLoopback, localUrl } from '@aggregator/stack';
import { expect } from 'chai';
import { effective, environmentOf, readCompose, readDockerfile } from './support/deployFiles.js';

/**
 * HOST defaults to loopback (common/src/config.ts, and the local stack's --host); the Docker
 * image opens it to every interface explicitly, since other containers must reach it.
 * test/startCli.test.ts runs the launcher on each address.
 */
describe('the listening address', () => {
  it('tells loopback from the rest, and reaches every address from this machine', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      expect(isLoopback(address), address).to.equal(true);
    }
    for (const address of ['0.0.0.0', '::', '192.168.1.5', 'fe80::1', '::ffff:10.0.0.1', '128.0.0.1']) {
      expect(isLoopback(address), address).to.equal(false);
    }
    expect(localUrl({ address: '0.0.0.0', port: 8080 })).to.equal('http://127.0.0.1:8080');
    expect(localUrl({ address: '::', port: 8080 })).to.equal('http://[::1]:8080');
    expect(localUrl({ address: '192.168.1.5', port: 80 })).to.equal('http://192.168.1.5:80');
    expect(localUrl({ address: 'fe80::1', port: 80 })).to.equal('http://[fe80::1]:80');
  });

  it('warns beyond loopback for each token that is missing, and only then', () => {
    const token = 'a-token-of-16-characters';
    const all = { address: '0.0.0.0', port: 8080 };
    expect(exposureWarning({ address: '127.0.0.1', port: 8080 }, {})).to.equal(undefined);
    expect(exposureWarning(all, { apiToken: token, readToken: token })).to.equal(undefined);
    expect(exposureWarning(all, {})).to.match(
      /0\.0\.0\.0:8080 \(every interface\) and API_TOKEN and READ_TOKEN are not set/,
    );
    expect(exposureWarning(all, { apiToken: token }))
      .to.match(/READ_TOKEN is not set: anyone .* can read/)
      .and.not.include('API_TOKEN');
    expect(exposureWarning({ address: '192.168.1.5', port: 80 }, { readToken: token }))
      .to.match(/192\.168\.1\.5:80 \(beyond loopback\) and API_TOKEN is not set: anyone .* can publish/)
      .and.not.include('READ_TOKEN');
  });

  it('is every interface in the Docker images, which compose leaves as it is', () => {
    const stages = readDockerfile();
    for (const target of ['api', 'worker']) {
      expect(effective(stages, target, 'ENV'), target).to.match(/(^|\s)HOST=0\.0\.0\.0(\s|$)/);
    }
    const built = Object.entries(readCompose().services).filter(([, service]) => service.build !== undefined);
    expect(built.length).to.be.at.least(2);
    for (const [name, service] of built) {
      expect(environmentOf(service).HOST ?? '0.0.0.0', `compose service ${name}`).to.equal('0.0.0.0');
    }
  });
});
