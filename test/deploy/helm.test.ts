import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envName, loadConfiguration, SETTINGS, settingAt } from '@tessera/config';
import { parseRepository } from '@tessera/core';
import { ensurePythonVenv, REPO_ROOT } from '@tessera/testkit';
import {
  CHART,
  configMapFile,
  CONFIG_PATH,
  containersOf,
  find,
  FULLNAME,
  GOOD,
  helmRun,
  RELEASE,
  renderGood,
  run,
  setUpHelm,
  valuesFile,
  type Manifest,
} from './support/chart.js';

// The chart as CI checks it: helm lint and template over the values files in its ci/ folder, every
// rendered manifest validated offline (Kubernetes schemas of pinned versions, the vendored CRDs), bad
// values refused with their path, and the rendered configuration read by the services' own loader.
// helm-live.test.ts runs what the chart renders against real components.

const CRD_DIR = join(REPO_ROOT, 'deploy/helm/crd-schemas');
const BAD_VALUES_DIR = join(import.meta.dirname, 'bad-values');
const VALIDATOR = join(import.meta.dirname, 'validate_manifests.py');
/** The chart's kubeVersion floor and the newest release kubernetes-validate 1.37.0 knows. */
const KUBERNETES_VERSIONS = ['1.30.0', '1.37.0'];
/** Inline secrets of ci/production-values.yaml: never in a container's command line. */
const PRODUCTION_SECRETS = ['redis-s3cret', 'ch-s3cret'];
/** Values for the secret variables when the loader reads a rendered configuration. */
const SECRET_VALUES: Record<string, string> = {
  TESSERA_BACKEND_REDIS_PASSWORD: 'from-the-secret',
  TESSERA_BACKEND_CLICKHOUSE_URL: 'http://tessera:pw@clickhouse.example:8123',
};
const SETUP_TIMEOUT_MILLIS = 20 * 60_000;

let python = '';
let scratch = '';

/** The `# expect: <text>` lines of a bad values file: what helm's error must name. */
function expectations(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('# expect: '))
    .map((line) => line.slice('# expect: '.length));
}

/** A values.schema.json node, as far as listing its values needs. */
interface SchemaNode {
  readonly type?: string;
  readonly properties?: Record<string, SchemaNode>;
}

/**
 * Dotted paths of the values a user sets: leaves, and objects passed through whole (resources,
 * security contexts, probe timings), whose fields are Kubernetes' own.
 */
function leafPaths(node: SchemaNode, prefix = ''): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const passedThrough = /(^|\.)(resources|podSecurityContext|securityContext)$|probes\.\w+$/.test(path);
    return child.properties !== undefined && !passedThrough ? leafPaths(child, path) : [path];
  });
}

/** `Kind/name` of every ConfigMap, Secret and ServiceAccount a pod spec refers to. */
function referencesOf(podSpec: unknown): string[] {
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const object = node as Record<string, unknown>;
    const name = (value: unknown): string | undefined =>
      typeof value === 'object' && value !== null ? ((value as { name?: string }).name ?? undefined) : undefined;
    if (name(object['configMap']) !== undefined) found.add(`ConfigMap/${name(object['configMap'])}`);
    if (name(object['secretKeyRef']) !== undefined) found.add(`Secret/${name(object['secretKeyRef'])}`);
    if (typeof object['secretName'] === 'string') found.add(`Secret/${object['secretName']}`);
    if (typeof object['serviceAccountName'] === 'string') found.add(`ServiceAccount/${object['serviceAccountName']}`);
    Object.values(object).forEach(walk);
  };
  walk(podSpec);
  return [...found];
}

beforeAll(async () => {
  [, python] = await Promise.all([
    setUpHelm(),
    ensurePythonVenv({
      name: 'k8s-validate',
      requirements: readFileSync(join(import.meta.dirname, 'k8s-validate-requirements.txt'), 'utf8'),
    }),
  ]);
  scratch = mkdtempSync(join(tmpdir(), 'tessera-helm-'));
}, SETUP_TIMEOUT_MILLIS);

afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

describe('the vendored CRD schemas', () => {
  it('are the files the README names, unchanged', () => {
    const readme = readFileSync(join(CRD_DIR, 'README.md'), 'utf8');
    const rows = [
      ...readme.matchAll(/^\| `([^`]+\.yaml)`\s*\|\s*`([^`]+@v[^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*`([0-9a-f]{64})`/gm),
    ];
    expect(rows.map((row) => row[1]).sort()).toEqual(
      expect.arrayContaining([
        'keda.sh_scaledobjects.yaml',
        'keda.sh_triggerauthentications.yaml',
        'monitoring.coreos.com_servicemonitors.yaml',
      ]),
    );
    for (const [, file, , , digest] of rows) {
      // A missing file fails here rather than leaving its custom resources unvalidated.
      const text = readFileSync(join(CRD_DIR, file!));
      expect(createHash('sha256').update(text).digest('hex'), file).toBe(digest);
    }
  });
});

describe('helm lint and template over the ci values files', () => {
  it('passes helm lint --strict with each of them', async () => {
    const files = readdirSync(join(CHART, 'ci')).filter((f) => f.endsWith('-values.yaml'));
    expect(files.sort()).toEqual(GOOD.map((name) => `${name}-values.yaml`).sort());
    for (const file of files) {
      const result = await helmRun(['lint', '--strict', CHART, '-f', join(CHART, 'ci', file)]);
      expect(result.code, `${file}:\n${result.stdout}${result.stderr}`).toBe(0);
    }
  });

  it.each(GOOD)(
    'renders %s values into manifests that Kubernetes and the CRDs accept',
    async (name) => {
      const manifests = await renderGood(name);
      const file = join(scratch, `${name}.yaml`);
      writeFileSync(file, manifests.map((m) => JSON.stringify(m)).join('\n---\n'));
      for (const version of KUBERNETES_VERSIONS) {
        const { stdout } = await run(python, [VALIDATOR, file, version, CRD_DIR], { timeout: 120_000 }).catch(
          (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
        );
        const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
          validated: [string, string, string, string][];
          errors: string[];
        };
        expect(report.errors, `Kubernetes ${version}`).toEqual([]);
        // Every document was validated, custom resources against their CRD.
        expect(report.validated).toHaveLength(manifests.length);
        for (const [, kind, , validator] of report.validated) {
          const custom = ['ScaledObject', 'TriggerAuthentication', 'ServiceMonitor'].includes(kind);
          expect(validator, kind).toBe(custom ? 'crd-schema' : 'kubernetes-validate');
        }
      }
    },
    120_000,
  );

  it('renders what each values file turns on, and nothing it turns off', async () => {
    const kinds = async (name: (typeof GOOD)[number]): Promise<string[]> =>
      [...new Set((await renderGood(name)).map((m) => m.kind))].sort();
    expect(await kinds('production')).toEqual(
      expect.arrayContaining([
        'HorizontalPodAutoscaler',
        'Job',
        'ScaledObject',
        'ServiceMonitor',
        'TriggerAuthentication',
      ]),
    );
    expect(await kinds('optional-off')).toEqual(['ConfigMap', 'Deployment', 'Service']);
    const existing = await renderGood('existing-secrets');
    expect(existing.filter((m) => m.kind === 'Secret')).toEqual([]);
  });
});

describe('the chart README', () => {
  it('lists every value the schema allows', () => {
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as SchemaNode;
    const missing = leafPaths(schema).filter((path) => !readme.includes(`| \`${path}\``));
    expect(missing).toEqual([]);
  });
});

describe('the install commands of the READMEs', () => {
  /** `helm install|upgrade` commands of the ```shell blocks of a README section, as argument lists. */
  function helmCommands(file: string, heading: string): string[][] {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const start = text.indexOf(heading);
    const section = text.slice(start, text.indexOf('\n## ', start + heading.length));
    const lines = [...section.matchAll(/```shell\n([\s\S]*?)```/g)].flatMap((m) =>
      m[1]!.replace(/\\\n\s*/g, ' ').split('\n'),
    );
    return lines
      .filter((line) => /^helm (install|upgrade) /.test(line))
      .map((line) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!));
  }

  it.each([
    ['README.md', '## Install on Kubernetes'],
    ['deploy/helm/tessera/README.md', '## Install'],
  ])('%s: helm install as printed renders, with the names the other commands use', async (file, heading) => {
    const [install, ...upgrades] = helmCommands(file, heading);
    expect(install?.slice(0, 4)).toEqual(['helm', 'install', 'tessera', 'deploy/helm/tessera']);
    const sets = (args: readonly string[]): string[] =>
      args.flatMap((a, i) => (args[i - 1] === '--set' ? ['--set', a] : []));
    const render = async (args: readonly string[]): Promise<Manifest[]> => {
      const result = await helmRun(['template', 'tessera', CHART, '--namespace', 'tessera', ...args]);
      expect(result.stderr).toBe('');
      return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Manifest);
    };
    const manifests = await render(sets(install!));
    find(manifests, 'Deployment', 'tessera-server');
    expect(find(manifests, 'Service', 'tessera-server-headless')).toBeDefined();
    // An upgrade keeps the install's values (--reuse-values) and adds its own.
    expect(upgrades).toHaveLength(file === 'README.md' ? 1 : 0);
    for (const upgrade of upgrades) await render([...sets(install!), ...sets(upgrade)]);
  });
});

describe('values.schema.json and the chart checks', () => {
  const bad = readdirSync(BAD_VALUES_DIR).filter((f) => f.endsWith('.yaml'));

  it('has bad values files for every kind of mistake', () => {
    expect(bad.length).toBeGreaterThanOrEqual(10);
    for (const file of bad) expect(expectations(join(BAD_VALUES_DIR, file)), file).not.toEqual([]);
  });

  it.each(bad)('refuses %s, naming the offending path', async (file) => {
    // Over the minimal values, so the only mistake is the one the file makes.
    const result = await helmRun([
      'template',
      RELEASE,
      CHART,
      '-f',
      valuesFile('minimal'),
      '-f',
      join(BAD_VALUES_DIR, file),
    ]);
    expect(result.code, result.stdout).not.toBe(0);
    for (const expected of expectations(join(BAD_VALUES_DIR, file))) expect(result.stderr).toContain(expected);
  });
});

describe('the configuration the chart renders', () => {
  it.each(GOOD)("is read by the services' own loader with %s values", async (name) => {
    const manifests = await renderGood(name);
    const values = parseAllDocuments(readFileSync(valuesFile(name), 'utf8'))[0]!.toJS() as {
      config?: {
        server?: { shutdownGraceMillis?: number };
        feast?: { enabled: boolean; port: number; expired?: string };
      };
      redis: { nodes: { host: string; port: number }[] };
    };
    const variants = [[FULLNAME, 'service']];
    if (manifests.some((m) => m.kind === 'Job')) variants.push([`${FULLNAME}-apply`, 'apply']);
    for (const [configMap, variant] of variants) {
      const file = join(scratch, `${name}-${variant}.yaml`);
      writeFileSync(file, configMapFile(manifests, configMap!, 'tessera.yaml'));
      const { config } = loadConfiguration({ file, env: SECRET_VALUES });
      expect(config.backend.kind).toBe('redis-cluster');
      expect(config.backend.redis.nodes).toEqual(values.redis.nodes);
      expect(config.backend.redis.password).toBe(SECRET_VALUES['TESSERA_BACKEND_REDIS_PASSWORD']);
      expect(config.server.shutdownGraceMillis).toBe(values.config?.server?.shutdownGraceMillis ?? 10_000);
      // The apply Job's own server is for the pod alone.
      expect(config.server.host).toBe(variant === 'apply' ? '127.0.0.1' : '0.0.0.0');
      if (variant === 'apply') expect([config.auth.enabled, config.tls.certFile]).toEqual([false, undefined]);
      // Feast's endpoints on every server's pod address when asked for; never in the apply Job.
      const feast = values.config?.feast;
      expect(config.feast.enabled).toBe(variant === 'service' && feast?.enabled === true);
      if (config.feast.enabled) {
        expect([config.feast.host, config.feast.port, config.feast.expired]).toEqual([
          '0.0.0.0',
          feast?.port,
          feast?.expired ?? 'serve-stale',
        ]);
      }
    }
    // Its port is reachable: on the container, the Service and through the NetworkPolicy.
    const feastPort = values.config?.feast?.enabled === true ? values.config.feast.port : undefined;
    const serverContainer = containersOf(manifests).find((c) => c.name === 'server') as unknown as {
      ports: { name: string; containerPort: number }[];
    };
    expect(serverContainer.ports.find((p) => p.name === 'feast-http')?.containerPort).toBe(feastPort);
    const servicePorts = (
      find(manifests, 'Service', `${FULLNAME}-server`)['spec'] as { ports: { name: string; port: number }[] }
    ).ports;
    expect(servicePorts.find((p) => p.name === 'feast-http')?.port).toBe(feastPort);
    const policy = manifests.find((m) => m.kind === 'NetworkPolicy' && m.metadata.name === `${FULLNAME}-server`);
    if (policy !== undefined && feastPort !== undefined) {
      const ingress = (policy['spec'] as { ingress: { ports: { port: number }[] }[] }).ingress;
      expect(ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toContain(feastPort);
    }
    // Both services read the file where the ConfigMap is mounted.
    for (const container of containersOf(manifests).filter((c) => c.name === 'server' || c.name === 'writer')) {
      expect(container.args?.slice(-2)).toEqual(['--config', CONFIG_PATH]);
    }
    // The servers are given time to drain before the kubelet kills them.
    const server = find(manifests, 'Deployment', `${FULLNAME}-server`)['spec'] as {
      template: { spec: { terminationGracePeriodSeconds: number } };
    };
    const graceSeconds = (values.config?.server?.shutdownGraceMillis ?? 10_000) / 1000;
    expect(server.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(graceSeconds);
  });

  it('hands secrets to the pods only as variables the loader reads as secrets, never as arguments', async () => {
    const names = new Set<string>();
    for (const name of GOOD) {
      for (const container of containersOf(await renderGood(name))) {
        for (const variable of container.env ?? []) if (variable.name.startsWith('TESSERA_')) names.add(variable.name);
        const line = [...(container.command ?? []), ...(container.args ?? [])].join(' ');
        for (const secret of PRODUCTION_SECRETS) expect(line, container.name).not.toContain(secret);
      }
    }
    expect([...names].sort()).toEqual(Object.keys(SECRET_VALUES).sort());
    const byName = new Map(SETTINGS.map((setting) => [envName(setting.path), setting]));
    for (const variable of names) {
      expect(byName.get(variable)?.secret, variable).toBe(true);
      expect(settingAt(byName.get(variable)!.path)).toBeDefined();
    }
    const { config } = loadConfiguration({ env: { ...SECRET_VALUES, TESSERA_BACKEND_REDIS_NODES: '127.0.0.1:7000' } });
    expect(config.backend.clickhouseUrl).toBe(SECRET_VALUES['TESSERA_BACKEND_CLICKHOUSE_URL']);
    expect(config.backend.redis.password).toBe(SECRET_VALUES['TESSERA_BACKEND_REDIS_PASSWORD']);
  });

  it('carries a feature repository the apply Job can load', async () => {
    const manifests = await renderGood('production');
    const data = find(manifests, 'ConfigMap', `${FULLNAME}-apply-repo`)['data'] as Record<string, string>;
    const { definitions, problems } = parseRepository(Object.entries(data).map(([path, text]) => ({ path, text })));
    expect(problems).toEqual([]);
    expect(definitions?.featureViews.map((view) => view.name)).toEqual(['customer_stats']);
    const job = find(manifests, 'Job', `${FULLNAME}-apply`);
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
  });
});

describe('the chart and the image', () => {
  it('runs the CLI where the Dockerfile puts it, as the user the Dockerfile makes', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const values = parseAllDocuments(readFileSync(join(CHART, 'values.yaml'), 'utf8'))[0]!.toJS() as {
      cli: { command: string[]; path: string; workingDir: string };
      podSecurityContext: { runAsUser: number; runAsGroup: number };
    };
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toContain(`\nWORKDIR ${values.cli.workingDir}\n`);
    expect(runtime).toContain(
      `ENTRYPOINT ${JSON.stringify([...values.cli.command, join(values.cli.workingDir, values.cli.path)])}`.replaceAll(
        ',',
        ', ',
      ),
    );
    expect(runtime).toContain(
      `\nUSER ${values.podSecurityContext.runAsUser}:${values.podSecurityContext.runAsGroup}\n`,
    );
    expect(readFileSync(join(REPO_ROOT, values.cli.path), 'utf8')).toContain('main(process.argv)');
  });
});

describe('the registry apply hook', () => {
  it.each(['production', 'existing-secrets'] as const)(
    'needs only what exists before the release objects do (%s values)',
    async (name) => {
      const manifests = await renderGood(name);
      const isHook = (m: Manifest): boolean => m.metadata.annotations?.['helm.sh/hook'] !== undefined;
      const own = new Set(manifests.filter((m) => !isHook(m)).map((m) => `${m.kind}/${m.metadata.name}`));
      const hooks = new Set(manifests.filter(isHook).map((m) => `${m.kind}/${m.metadata.name}`));
      const pod = (find(manifests, 'Job', `${FULLNAME}-apply`)['spec'] as { template: { spec: unknown } }).template
        .spec;
      const needed = referencesOf(pod);
      expect(needed.length).toBeGreaterThan(0);
      // A pre-install hook runs before the release's own ConfigMaps, Secrets and ServiceAccount exist.
      for (const ref of needed) expect(own.has(ref), ref).toBe(false);
      expect(needed.filter((ref) => hooks.has(ref))).toContain(`ConfigMap/${FULLNAME}-apply-repo`);
    },
  );
});
