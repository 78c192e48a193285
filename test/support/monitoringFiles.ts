import { parse } from 'yaml';
import { readRepoFile } from './deployFiles.js';

/**
 * Readers of the monitoring files under deploy/ (the Grafana dashboard, the Prometheus rules), for
 * the static compose test and the live-Prometheus test.
 */

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr: string; datasource?: { uid?: string } }>;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
}

export function readDashboard(): Dashboard {
  return JSON.parse(readRepoFile('deploy/grafana/dashboards/aggregator.json')) as Dashboard;
}

/** Every PromQL expression of the dashboard's panels. */
export function dashboardExpressions(): string[] {
  return readDashboard().panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
}

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
}

/** The rules of deploy/prometheus/alerts.yml, recording rules and alerts. */
export function readRules(): Rule[] {
  const file = parse(readRepoFile('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> };
  return file.groups.flatMap((group) => group.rules);
}

/**
 * The metric names an expression reads: `aggregator_…` (a histogram's `_bucket`, `_sum` and
 * `_count` series named by their histogram) and recorded series `aggregator:…`.
 */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  for (const [name = ''] of expr.matchAll(/\baggregator[_:][a-zA-Z0-9_:]+/g)) {
    names.add(name.includes(':') ? name : name.replace(/_(bucket|sum|count)$/, ''));
  }
  return [...names];
}
