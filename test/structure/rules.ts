/**
 * The dependency rules of the workspace, checked on its package.json files and import statements
 * (what madge's cycle check does not see: which package may depend on which, and through what).
 * Reading is separated from checking so the rules can be shown to catch a violation on a made-up
 * workspace as well as to pass on the real one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';

/** One TypeScript file: its path from the repository root (posix) and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** A workspace package (under packages/ or services/) with its own dependencies and files. */
export interface WorkspacePackage {
  readonly name: string;
  /** Its folder from the repository root, e.g. `packages/online`. */
  readonly dir: string;
  /** Workspace packages it depends on at run time. */
  readonly dependencies: readonly string[];
  /** Workspace packages only its tests use. */
  readonly devDependencies: readonly string[];
  /** Files under its `src/` and `test/`. */
  readonly files: readonly SourceFile[];
  /**
   * Public entry points besides the main one: the subpaths its package.json `exports` names
   * (`basics` for `@tessera/core/basics`), each an index of its own (tRPC's one entry file per subpath).
   */
  readonly subpaths?: readonly string[];
}

export interface Workspace {
  readonly packages: readonly WorkspacePackage[];
  /** Files outside every package (test/, bench/): they may use any package, through its entry point. */
  readonly outside: readonly SourceFile[];
}

export interface StructurePolicy {
  /** The centre: depends on no workspace package. */
  readonly centre: string;
  /** Packages under packages/ that wire others together and so may depend on services. */
  readonly compositionRoots: ReadonlySet<string>;
  /** Adapters of core's ports: none depends on another at run time. */
  readonly adapters: ReadonlySet<string>;
  /** Run-time edges `from -> to` allowed despite the rules, each with why. */
  readonly allowedEdges: ReadonlyMap<string, string>;
  /** Longest source file (under src/) in lines. */
  readonly maxLines: number;
  /** Source files allowed to be longer, each with why. */
  readonly longFiles: ReadonlyMap<string, string>;
}

const SCOPE = '@tessera/';

/** Module specifiers of the static imports, re-exports and dynamic imports in `text`. */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern =
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\bimport\s+['"]([^'"]+)['"]/g;
  for (const match of text.matchAll(pattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier !== undefined) found.push(specifier);
  }
  return found;
}

/** Every broken rule, one line each naming the file or package and the rule. */
export function findViolations(workspace: Workspace, policy: StructurePolicy): string[] {
  const violations: string[] = [];
  const byName = new Map(workspace.packages.map((p) => [p.name, p]));
  const isService = (name: string): boolean => byName.get(name)?.dir.startsWith('services/') === true;
  const allowed = (from: string, to: string): boolean => policy.allowedEdges.has(`${from} -> ${to}`);

  const checkImports = (file: SourceFile, owner: WorkspacePackage | undefined): void => {
    const isTest = owner === undefined || !file.path.startsWith(`${owner.dir}/src/`);
    for (const specifier of importsOf(file.text)) {
      if (specifier.startsWith(SCOPE)) {
        const [scope, name, ...rest] = specifier.split('/');
        const target = `${scope}/${name}`;
        if (rest.length > 0 && !(byName.get(target)?.subpaths ?? []).includes(rest.join('/'))) {
          violations.push(`${file.path} imports ${specifier}: use the entry point ${target}`);
        }
        if (owner !== undefined && target !== owner.name && byName.has(target)) {
          const declared = isTest ? [...owner.dependencies, ...owner.devDependencies] : owner.dependencies;
          if (!declared.includes(target)) {
            violations.push(
              `${file.path} imports ${target}, which ${owner.name} does not declare in ${isTest ? 'its dependencies or devDependencies' : 'its dependencies'}`,
            );
          }
        }
      } else if (specifier.startsWith('.')) {
        const resolved = posix.normalize(posix.join(posix.dirname(file.path), specifier));
        const into = /^(packages|services)\/([^/]+)\/src\//.exec(resolved);
        if (into !== null && `${into[1]}/${into[2]}` !== owner?.dir) {
          violations.push(`${file.path} imports ${specifier}: another package's src/ (import its entry point)`);
        }
      }
    }
  };

  for (const pkg of workspace.packages) {
    for (const file of pkg.files) checkImports(file, pkg);
    const dependsOn = [...pkg.dependencies];
    if (pkg.name === policy.centre && dependsOn.length > 0) {
      violations.push(`${pkg.name} is the centre and depends on no workspace package, not ${dependsOn.join(', ')}`);
    }
    for (const to of dependsOn) {
      if (allowed(pkg.name, to)) continue;
      if (pkg.dir.startsWith('services/') && isService(to)) {
        violations.push(`${pkg.name} depends on ${to}: a service never depends on another service`);
      } else if (pkg.dir.startsWith('packages/') && isService(to) && !policy.compositionRoots.has(pkg.name)) {
        violations.push(`${pkg.name} depends on ${to}: a package never depends on a service`);
      } else if (policy.adapters.has(pkg.name) && policy.adapters.has(to)) {
        violations.push(`${pkg.name} depends on ${to}: adapters depend on core's ports, never on each other`);
      }
    }
    for (const to of pkg.devDependencies) {
      if (pkg.dir.startsWith('services/') && isService(to)) {
        violations.push(`${pkg.name} depends on ${to} for its tests: a service never depends on another service`);
      }
    }
    for (const file of pkg.files) {
      if (!file.path.startsWith(`${pkg.dir}/src/`) || policy.longFiles.has(file.path)) continue;
      if (file.text.startsWith('// Code generated')) continue;
      const lines = file.text.split('\n').length - (file.text.endsWith('\n') ? 1 : 0);
      if (lines > policy.maxLines) {
        violations.push(`${file.path} has ${lines} lines (over ${policy.maxLines}): split it by idea`);
      }
    }
  }
  for (const file of workspace.outside) checkImports(file, undefined);
  violations.push(...cycles(workspace.packages));
  violations.push(...staleExceptions(workspace, policy));
  return violations;
}

/** Exceptions that no longer apply: the rules only ever get stricter, so each is removed once unneeded. */
function staleExceptions(workspace: Workspace, policy: StructurePolicy): string[] {
  const stale: string[] = [];
  const edges = new Set(workspace.packages.flatMap((p) => p.dependencies.map((to) => `${p.name} -> ${to}`)));
  for (const edge of policy.allowedEdges.keys()) {
    if (!edges.has(edge)) stale.push(`allowed edge ${edge} is no longer a dependency: remove the exception`);
  }
  const lines = new Map(
    workspace.packages
      .flatMap((p) => p.files)
      .map((f) => [f.path, f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0)]),
  );
  for (const path of policy.longFiles.keys()) {
    const count = lines.get(path);
    if (count === undefined || count <= policy.maxLines) {
      stale.push(`long-file exception ${path} is ${count === undefined ? 'gone' : `${count} lines now`}: remove it`);
    }
  }
  return stale;
}

/** Run-time dependency cycles between packages (each reported once, from its first package). */
function cycles(packages: readonly WorkspacePackage[]): string[] {
  const deps = new Map(packages.map((p) => [p.name, p.dependencies.filter((d) => d.startsWith(SCOPE))]));
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') {
      found.push(`dependency cycle: ${[...path.slice(path.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    state.set(name, 'open');
    for (const next of deps.get(name) ?? []) if (deps.has(next)) visit(next, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of deps.keys()) visit(name, []);
  return found;
}

function listTypeScript(root: string, dir: string): SourceFile[] {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  const files: SourceFile[] = [];
  for (const entry of readdirSync(absolute)) {
    if (entry === 'node_modules' || entry === 'dist' || entry === 'results') continue;
    const path = join(absolute, entry);
    if (statSync(path).isDirectory()) files.push(...listTypeScript(root, join(dir, entry)));
    else if (entry.endsWith('.ts')) {
      files.push({ path: relative(root, path).split(sep).join('/'), text: readFileSync(path, 'utf8') });
    }
  }
  return files;
}

/** Reads the workspace at `root`: every package under packages/ and services/, and test/ and bench/. */
export function loadWorkspace(root: string): Workspace {
  const packages: WorkspacePackage[] = [];
  for (const group of ['packages', 'services']) {
    for (const entry of readdirSync(join(root, group))) {
      const dir = `${group}/${entry}`;
      const manifest = join(root, dir, 'package.json');
      if (!existsSync(manifest)) continue;
      const json = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name: string;
        dependencies?: Record<string, string>;
        devDependencies?: Record<string, string>;
        exports?: Record<string, unknown>;
      };
      const ours = (deps: Record<string, string> | undefined): string[] =>
        Object.keys(deps ?? {}).filter((name) => name.startsWith(SCOPE));
      packages.push({
        name: json.name,
        dir,
        dependencies: ours(json.dependencies),
        devDependencies: ours(json.devDependencies),
        files: [...listTypeScript(root, `${dir}/src`), ...listTypeScript(root, `${dir}/test`)],
        subpaths: Object.keys(json.exports ?? {})
          .filter((key) => key.startsWith('./'))
          .map((key) => key.slice(2)),
      });
    }
  }
  return { packages, outside: [...listTypeScript(root, 'test'), ...listTypeScript(root, 'bench')] };
}
