import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureHelm, REPO_ROOT } from '@tessera/testkit';

/** What the chart tests share: helm (built by the testkit), rendering, and finding things in a render. */

export const CHART = join(REPO_ROOT, 'deploy/helm/tessera');
/** The values files of the chart's ci/ folder, each a complete install. */
export const GOOD = ['minimal', 'production', 'existing-secrets', 'optional-off'] as const;
export type GoodValues = (typeof GOOD)[number];
export const RELEASE = 'tessera';
/** Prefix of the release's resource names (the release is named like the chart). */
export const FULLNAME = 'tessera';
/** Where the pods read the ConfigMap's configuration. */
export const CONFIG_PATH = '/etc/tessera/tessera.yaml';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly [key: string]: unknown;
}

export interface Container {
  readonly name: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env?: { name: string; value?: string; valueFrom?: unknown }[];
}

export const run = promisify(execFile);
let helm: string | undefined;

/** Builds helm if needed (minutes the first time on a machine); call in beforeAll. */
export async function setUpHelm(): Promise<void> {
  helm = await ensureHelm();
}

/** Runs helm; resolves with its exit code and output whatever the code. */
export async function helmRun(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (helm === undefined) throw new Error('setUpHelm() first');
  try {
    const { stdout, stderr } = await run(helm, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : 1, stdout, stderr };
  }
}

export const valuesFile = (name: GoodValues): string => join(CHART, 'ci', `${name}-values.yaml`);

/** The values of a ci values file, as YAML gives them. */
export function valuesOf(name: GoodValues): Record<string, unknown> {
  return parseAllDocuments(readFileSync(valuesFile(name), 'utf8'))[0]!.toJS() as Record<string, unknown>;
}

/** `helm template` of the chart with these values files; throws with helm's message when it fails. */
export async function template(files: readonly string[], extra: readonly string[] = []): Promise<Manifest[]> {
  const result = await helmRun(['template', RELEASE, CHART, ...files.flatMap((f) => ['-f', f]), ...extra]);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((doc): doc is Manifest => doc !== null);
}

const rendered = new Map<string, Promise<Manifest[]>>();

/** The render of a ci values file, made once per test file. */
export function renderGood(name: GoodValues): Promise<Manifest[]> {
  let manifests = rendered.get(name);
  if (manifests === undefined) {
    manifests = template([valuesFile(name)]);
    rendered.set(name, manifests);
  }
  return manifests;
}

export function find(manifests: readonly Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => m.kind).join(', ')}`);
  return found;
}

/** One key of a rendered ConfigMap. */
export function configMapFile(manifests: readonly Manifest[], name: string, key: string): string {
  const data = find(manifests, 'ConfigMap', name)['data'] as Record<string, string>;
  const text = data[key];
  if (text === undefined) throw new Error(`ConfigMap ${name} has no ${key}`);
  return text;
}

/** Every container (init containers included) of every workload. */
export function containersOf(manifests: readonly Manifest[]): Container[] {
  return manifests.flatMap((m) => {
    const spec = (m['spec'] as { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } })
      ?.template?.spec;
    return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
  });
}
