import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@aggregator/stack';
import { expect } from 'chai';
import { parse } from 'yaml';
import { readMergedCompose } from './support/composeMerge.js';
import { type ComposeService, environmentOf, mountsOf, readRepoFile } from './support/deployFiles.js';
import { dashboardExpressions, readDashboard, readRules } from './support/monitoringFiles.js';

/**
 * docker-compose.monitoring.yml over docker-compose.yml, checked statically (no Docker engine
 * here): Prometheus and Grafana load the rules and the dashboard from deploy/ as they are.
 */

const OVERRIDE = 'docker-compose.monitoring.yml';
const merged = readMergedCompose('docker-compose.yml', OVERRIDE);
const base = readMergedCompose('docker-compose.yml');

function service(name: string): ComposeService & Record<string, unknown> {
  const found = merged.services[name];
  if (!found) throw new Error(`the merged compose files have no service "${name}"`);
  return found as ComposeService & Record<string, unknown>;
}

/** Where a bind mount of a repository path lands in the container. */
function mountOf(s: ComposeService, repoPath: string): { target: string; readOnly: boolean } {
  const mount = mountsOf(s).find((m) => m.source === `./${repoPath}`);
  if (!mount) throw new Error(`./${repoPath} is not mounted`);
  return { target: mount.target, readOnly: mount.readOnly };
}

interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
}

describe('docker-compose.monitoring.yml (over docker-compose.yml)', () => {
  it('adds prometheus and grafana under the `monitoring` profile only, on pinned images, and changes nothing else', () => {
    for (const name of ['prometheus', 'grafana']) {
      expect(service(name).profiles, name).to.deep.equal(['monitoring']);
      expect(service(name).image, name).to.match(/:v?\d+\.\d+\.\d+$/);
    }
    expect(Object.keys(merged.services).sort()).to.deep.equal(
      [...Object.keys(base.services), 'prometheus', 'grafana'].sort(),
    );
    for (const [name, s] of Object.entries(base.services)) expect(merged.services[name], name).to.deep.equal(s);
  });

  it('hardens both like the other services: no capabilities, no new privileges, read-only root, a memory limit', () => {
    for (const name of ['prometheus', 'grafana']) {
      const s = service(name);
      expect(s.cap_drop, name).to.deep.equal(['ALL']);
      expect(s.security_opt, name).to.deep.equal(['no-new-privileges:true']);
      expect(s.read_only, name).to.equal(true);
      expect(String(s.mem_limit), name).to.match(/^\d+[mg]$/);
      // Data on named volumes (writable under a read-only root), config mounted read-only.
      for (const m of mountsOf(s)) {
        if (m.source.startsWith('./')) expect(m.readOnly, `${name} ${m.source}`).to.equal(true);
        else expect(merged.volumes, `${name} ${m.source}`).to.have.property(m.source);
      }
    }
  });

  it('publishes their UIs on the loopback only', () => {
    expect(service('prometheus').ports).to.deep.equal(['127.0.0.1:9090:9090']);
    expect(service('grafana').ports).to.deep.equal(['127.0.0.1:3000:3000']);
  });

  it('mounts the repository files it names, which exist', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const m of mountsOf(service(name))) {
        if (m.source.startsWith('./')) expect(existsSync(join(REPO_ROOT, m.source)), m.source).to.equal(true);
      }
    }
  });

  it('runs Prometheus on its mounted config, whose rule file is mounted beside it', () => {
    const prometheus = service('prometheus');
    const config = mountOf(prometheus, 'deploy/prometheus/prometheus.yml').target;
    expect(prometheus.command).to.include(`--config.file=${config}`);
    const parsed = parse(readRepoFile('deploy/prometheus/prometheus.yml')) as PrometheusConfig;
    const dir = config.slice(0, config.lastIndexOf('/'));
    expect(parsed.rule_files.map((f) => (f.startsWith('/') ? f : `${dir}/${f}`))).to.deep.equal([
      mountOf(prometheus, 'deploy/prometheus/alerts.yml').target,
    ]);
  });

  it('scrapes every replica of api on its port and of worker on METRICS_PORT, through DNS', () => {
    const parsed = parse(readRepoFile('deploy/prometheus/prometheus.yml')) as PrometheusConfig;
    const targets = Object.fromEntries(parsed.scrape_configs.map((job) => [job.job_name, job.dns_sd_configs?.[0]]));
    expect(targets['aggregator-api']).to.deep.include({ names: ['api'], port: 8080 });
    expect(service('api').expose).to.include('8080');
    expect(targets['aggregator-worker']).to.deep.include({ names: ['worker'], port: 9091 });
    expect(environmentOf(service('worker')).METRICS_PORT).to.equal('9091');
    expect(service('worker').expose).to.include('9091');
  });

  it("gives Grafana the Prometheus service as the data source the dashboard's panels name, and provisions the dashboard", () => {
    const grafana = service('grafana');
    const provisioning = mountOf(grafana, 'deploy/grafana/provisioning').target;
    expect(provisioning).to.equal('/etc/grafana/provisioning');
    const datasources = parse(readRepoFile('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    expect(datasources.datasources).to.have.length(1);
    const [source] = datasources.datasources;
    expect(source).to.include({ type: 'prometheus', url: 'http://prometheus:9090' });
    const dashboard = readDashboard();
    const uids = new Set(
      dashboard.panels.flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]),
    );
    uids.delete(undefined);
    expect([...uids]).to.deep.equal([source?.uid]);
    const providers = parse(readRepoFile('deploy/grafana/provisioning/dashboards/aggregator.yml')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.providers[0]?.options.path).to.equal(mountOf(grafana, 'deploy/grafana/dashboards').target);
  });

  it('has a dashboard whose every panel has a title and queries, with unique ids', () => {
    const dashboard = readDashboard();
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).to.equal(ids.length);
    expect(dashboard.uid).to.be.a('string');
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.title, `panel ${panel.id}`).to.be.a('string').and.not.equal('');
      expect(panel.targets, panel.title).to.be.an('array').that.is.not.empty;
    }
    // Throughput, latency, queue depth per partition, duplicates, workers, streams and the store.
    const all = dashboardExpressions().join('\n');
    for (const metric of [
      'aggregator_events_accepted_total',
      'aggregator_http_request_duration_seconds_bucket',
      'aggregator_queue_jobs',
      'outcome="duplicate"',
      'aggregator_workers',
      'aggregator_streams_open',
      'aggregator_sqlite_transaction_seconds_bucket',
    ]) {
      expect(all).to.include(metric);
    }
    expect(all).to.match(/by \(partition, state\) \(aggregator_queue_jobs/);
  });
});

describe('alert rules (deploy/prometheus/alerts.yml)', () => {
  const operating = readRepoFile('docs/operating.md');
  const alerts = readRules().filter((r) => r.alert) as Array<{
    alert: string;
    labels?: { severity?: string };
    annotations?: { summary?: string; runbook?: string };
  }>;

  it('covers queue depth, workers, failed jobs, Redis, the store, streams, publish errors and latency', () => {
    const exprs = alerts.map((a) => (a as unknown as { expr: string }).expr).join('\n');
    for (const signal of [
      'queue_waiting_jobs',
      'workers_live',
      'queue_failed_jobs',
      'redis_errors',
      'store_unavailable',
      'streams_fell_behind',
      'publish_errors',
      'publish_latency',
    ]) {
      expect(exprs, signal).to.include(signal);
    }
  });

  it('gives each alert a severity, a summary and a runbook line in docs/operating.md', () => {
    for (const alert of alerts) {
      expect(alert.labels?.severity, alert.alert).to.be.oneOf(['warning', 'critical']);
      expect(alert.annotations?.summary, alert.alert).to.be.a('string').and.not.equal('');
      expect(alert.annotations?.runbook, alert.alert).to.equal(`docs/operating.md#${alert.alert.toLowerCase()}`);
      const heading = operating.indexOf(`\n#### ${alert.alert}\n`);
      expect(heading, `docs/operating.md has no "#### ${alert.alert}"`).to.be.above(0);
      // The runbook text follows the heading.
      expect(operating.slice(heading).split('\n')[3], alert.alert).to.match(/\w/);
    }
  });

  it('is linked from docs/operating.md with the dashboard and the compose profile', () => {
    for (const link of [
      '../deploy/prometheus/alerts.yml',
      '../deploy/grafana/dashboards/aggregator.json',
      'docker-compose.monitoring.yml --profile monitoring',
    ]) {
      expect(operating, link).to.include(link);
    }
  });
});
