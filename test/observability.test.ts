import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildTestApp, closeTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from './helpers/dialects.js';

/**
 * The Grafana dashboard and Prometheus rules in deploy/ are checked against a running app: every gatehouse_*
 * series they name must be one the app serves on /metrics, and every label they filter or group on one that
 * metric has, so a renamed metric or label fails here instead of leaving an empty panel or a silent alert.
 */

const DASHBOARD_PATH = 'deploy/grafana/gatehouse-dashboard.json';
const RULES_PATH = 'deploy/prometheus/gatehouse-alerts.yml';
const dashboardText = readFileSync(DASHBOARD_PATH, 'utf8');
const rulesText = readFileSync(RULES_PATH, 'utf8');
const runbooks = readFileSync('docs/observability.md', 'utf8');
/** Grafana's reference to the dashboard's data source variable. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal.
const DATASOURCE_VARIABLE = '${datasource}';

interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}

interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: unknown; datasource?: { uid?: string } }[] };
}

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(dashboardText) as Dashboard;
const rules = parseYaml(rulesText) as { groups?: { name?: string; rules?: Rule[] }[] };

/** Row panels hold others when collapsed; everything else must query something. */
function queryPanels(panels: readonly Panel[] = []): Panel[] {
  return panels.flatMap((panel) => (panel.type === 'row' ? queryPanels(panel.panels) : [panel]));
}

const allRules = (rules.groups ?? []).flatMap((group) => group.rules ?? []);

/** Label names of the metric the Prometheus server adds to every series, and the histogram bucket bound. */
const TARGET_LABELS = ['instance', 'job'];

const METRIC_NAME = /\bgatehouse_[a-z0-9_]+/g;
const SELECTOR = /\b(gatehouse_[a-z0-9_]+)\s*\{([^}]*)\}/g;
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g;
const GROUPING = /\b(?:by|without)\s*\(([^)]*)\)/g;

const namesIn = (text: string) => [...new Set(text.match(METRIC_NAME) ?? [])].sort();

/** Strips a histogram's series suffix: the name the app registers. */
function baseName(series: string, histograms: ReadonlySet<string>): string {
  const match = /^(.*)_(bucket|count|sum)$/.exec(series);
  return match && histograms.has(match[1]!) ? match[1]! : series;
}

function balanced(expr: string): boolean {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const char of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('([{'.includes(char)) open.push(char);
    else if (char in pairs && open.pop() !== pairs[char]) return false;
  }
  return open.length === 0;
}

describe('the Grafana dashboard and Prometheus alert rules', () => {
  let database: TestDatabase;
  let harness: TestApp;
  /** What a scrape of /metrics shows: metric name and type. */
  const served = new Map<string, string>();
  /** Label names of each registered metric. */
  const labels = new Map<string, readonly string[]>();

  beforeAll(async () => {
    database = await createTestDatabase('sqlite');
    // With Redis, so gatehouse_redis_up (registered only when Redis is configured) is among the metrics.
    harness = await buildTestApp(database.url, {
      overrides: { redis: { url: TEST_REDIS_URL, keyPrefix: `gatehouse-observability-${randomUUID()}:` } },
    });
    const scrape = await harness.app.inject({ method: 'GET', url: '/metrics' });
    expect(scrape.statusCode).toBe(200);
    for (const [, name, type] of scrape.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) served.set(name!, type!);
    for (const metric of await harness.app.gatehouse.metrics.registry.getMetricsAsJSON()) {
      const registered = harness.app.gatehouse.metrics.registry.getSingleMetric(metric.name) as unknown as {
        labelNames?: readonly string[];
      };
      labels.set(metric.name, registered.labelNames ?? []);
    }
  });

  afterAll(async () => {
    await closeTestApp(harness);
    await database?.drop();
  });

  /** Every gatehouse_* series the text names, as the base metric it belongs to, with those /metrics lacks. */
  function unknownMetrics(text: string): { referenced: string[]; unknown: string[] } {
    const histograms = new Set([...served].filter(([, type]) => type === 'histogram').map(([name]) => name));
    const referenced = namesIn(text);
    const unknown = referenced.filter((series) => !served.has(baseName(series, histograms)));
    return { referenced, unknown };
  }

  /** Labels a PromQL expression filters or groups gatehouse_* metrics on that those metrics do not have. */
  function unknownLabels(expr: string): string[] {
    const histograms = new Set([...served].filter(([, type]) => type === 'histogram').map(([name]) => name));
    const problems: string[] = [];
    const known = new Set(TARGET_LABELS);
    for (const series of namesIn(expr)) {
      const name = baseName(series, histograms);
      for (const label of labels.get(name) ?? []) known.add(label);
      if (series.endsWith('_bucket')) known.add('le');
    }
    for (const [, series, matchers] of expr.matchAll(SELECTOR)) {
      const name = baseName(series!, histograms);
      const own = new Set([
        ...(labels.get(name) ?? []),
        ...TARGET_LABELS,
        ...(series !== name ? ['le'] : []),
      ]);
      for (const [, label] of matchers!.matchAll(MATCHER)) {
        if (!own.has(label!)) problems.push(`${series} has no label ${label}`);
      }
    }
    for (const [, list] of expr.matchAll(GROUPING)) {
      for (const label of list!
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)) {
        if (!known.has(label))
          problems.push(`no metric in the expression has the label ${label} it groups by`);
      }
    }
    return problems;
  }

  /** Labels the result of an expression carries: its grouping labels, or those of its series when none. */
  function resultLabels(expr: string): Set<string> {
    const grouped = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap(([, list]) =>
      list!.split(',').map((item) => item.trim()),
    );
    if (grouped.length > 0) return new Set(grouped);
    const histograms = new Set([...served].filter(([, type]) => type === 'histogram').map(([name]) => name));
    return new Set([
      ...TARGET_LABELS,
      ...namesIn(expr).flatMap((series) => labels.get(baseName(series, histograms)) ?? []),
    ]);
  }

  it('scrapes the metrics the files are checked against', () => {
    expect(served.get('gatehouse_http_request_duration_seconds')).toBe('histogram');
    expect(served.has('gatehouse_redis_up')).toBe(true);
    expect(labels.get('gatehouse_http_request_duration_seconds')).toEqual(['method', 'route', 'status_code']);
  });

  it('the dashboard is a Grafana dashboard over a Prometheus data source variable and an instance variable', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = dashboard.templating?.list ?? [];
    expect(variables.find((variable) => variable.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    expect(variables.find((variable) => variable.name === 'instance')).toMatchObject({
      type: 'query',
      datasource: { uid: DATASOURCE_VARIABLE },
    });

    const panels = queryPanels(dashboard.panels);
    expect(panels.length).toBeGreaterThan(20);
    const everyPanel = (list: readonly Panel[] = []): Panel[] =>
      list.flatMap((panel) => [panel, ...everyPanel(panel.panels)]);
    const ids = everyPanel(dashboard.panels).map((panel) => panel.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    for (const panel of panels) {
      const where = `panel "${panel.title}"`;
      expect(panel.title, where).toBeTruthy();
      expect(panel.datasource?.uid, where).toBe(DATASOURCE_VARIABLE);
      expect(panel.gridPos, where).toBeDefined();
      const { w, x } = panel.gridPos!;
      expect(w > 0 && x >= 0 && x + w <= 24, `${where} fits the 24-column grid`).toBe(true);
      expect(panel.targets?.length, `${where} has targets`).toBeGreaterThan(0);
      const refIds = panel.targets!.map((target) => target.refId);
      expect(new Set(refIds).size, `${where} has unique refIds`).toBe(refIds.length);
      for (const target of panel.targets!) {
        expect(
          typeof target.expr === 'string' && target.expr.trim().length > 0,
          `${where} target has an expr`,
        ).toBe(true);
        const expr = target.expr!;
        expect(balanced(expr), `${where}: ${expr} has balanced brackets`).toBe(true);
        expect(expr, `${where}: ${expr} follows the instance variable`).toContain('instance=~"$instance"');
        expect(unknownLabels(expr), `${where}: ${expr}`).toEqual([]);
        const available = resultLabels(expr);
        for (const [, label] of (target.legendFormat ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
          expect(available.has(label!), `${where}: legend {{${label}}} is a label of ${expr}`).toBe(true);
        }
      }
    }
  });

  it('every alert rule has a name, an expression, a duration, a severity, a summary, a description and a runbook', () => {
    expect(rules.groups?.length).toBeGreaterThan(0);
    const groupNames = (rules.groups ?? []).map((group) => group.name);
    expect(new Set(groupNames).size).toBe(groupNames.length);
    for (const group of rules.groups ?? [])
      expect(group.rules?.length, `group ${group.name}`).toBeGreaterThan(0);
    const alerts = allRules.map((rule) => rule.alert);
    expect(new Set(alerts).size, 'alert names are unique').toBe(alerts.length);
    for (const rule of allRules) {
      const where = `alert ${rule.alert}`;
      expect(rule.alert, 'every rule is an alert with a name').toMatch(/^Gatehouse[A-Za-z0-9]+$/);
      expect(typeof rule.expr === 'string' && rule.expr.trim().length > 0, `${where} has an expr`).toBe(true);
      expect(balanced(rule.expr!), `${where}: balanced brackets`).toBe(true);
      expect(rule.for, `${where} has for`).toMatch(/^\d+[smhdwy]$/);
      expect(['critical', 'warning', 'info'], `${where} severity`).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, `${where} summary`).toBeTruthy();
      expect(rule.annotations?.description, `${where} description`).toBeTruthy();
      const runbook = rule.annotations?.runbook_url ?? '';
      expect(runbook, `${where} runbook`).toMatch(/^docs\/observability\.md#[a-z0-9-]+$/);
      const anchor = runbook.split('#')[1]!;
      const headings = [...runbooks.matchAll(/^#+ (.+)$/gm)].map(([, heading]) =>
        heading!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replaceAll(' ', '-'),
      );
      expect(headings, `${where}: docs/observability.md has the runbook section #${anchor}`).toContain(
        anchor,
      );
      expect(unknownLabels(rule.expr!), `${where}: ${rule.expr}`).toEqual([]);
      const available = resultLabels(rule.expr!);
      for (const text of Object.values(rule.annotations ?? {})) {
        for (const [, label] of text.matchAll(/\$labels\.(\w+)/g)) {
          expect(available.has(label!), `${where}: $labels.${label} is a label of its result`).toBe(true);
        }
      }
    }
  });

  it('the rules cover what an operator must hear about', () => {
    const expressions = allRules.map((rule) => rule.expr ?? '').join('\n');
    for (const needed of [
      'up{', // a node down
      'status_code=~"5..', // 5xx rate
      'histogram_quantile(0.99', // p99 latency
      'auth.lockout',
      'gatehouse_audit_writer_failing',
      'gatehouse_audit_buffer',
      'gatehouse_circuit_state',
      'gatehouse_redis_up',
      'outcome="dead"',
    ]) {
      expect(expressions, `a rule uses ${needed}`).toContain(needed);
    }
  });

  it('names only metrics the running app serves', () => {
    const dashboardNames = unknownMetrics(dashboardText);
    const rulesNames = unknownMetrics(rulesText);
    expect(dashboardNames.referenced.length).toBeGreaterThan(30);
    expect(rulesNames.referenced.length).toBeGreaterThan(10);
    // Both files at once, so one run names every stale metric.
    expect(
      { [DASHBOARD_PATH]: dashboardNames.unknown, [RULES_PATH]: rulesNames.unknown },
      'gatehouse_ metrics that /metrics does not serve',
    ).toEqual({ [DASHBOARD_PATH]: [], [RULES_PATH]: [] });
  });
});
