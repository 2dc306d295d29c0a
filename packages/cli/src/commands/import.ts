/**
 * `tessera import feast <feature_repo>`: reads a Feast repository with Feast's own parser (in the
 * Python that has Feast installed: --python, TESSERA_FEAST_PYTHON, or python3) and writes Tessera
 * definitions, reporting every Feast field it could not carry over and every object it could not
 * translate (on-demand views among them). Only this command needs Python.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { TesseraError, formatProblems } from '@tessera/core/basics';
import { FEAST_EXPORT_SCRIPT } from '../feast/feast-export-script.js';
import type { FeastExport } from '../feast/feast-import.js';

/** Feast's parser imports every Python file of the repository; a repository is not expected to take longer. */
const EXPORT_TIMEOUT_MILLIS = 120_000;
const MAX_EXPORT_BYTES = 64 * 1024 * 1024;

/** Registers `import` (with its one source, `feast`) on the program. */
export function registerImportCommand(program: Command): void {
  const importCommand = program.command('import').description('write Tessera definitions from another feature store');
  importCommand
    .command('feast')
    .description('translate a Feast feature repository (entities, sources, views, services) into Tessera YAML')
    .argument('<feature_repo>', 'folder of the Feast repository (with feature_store.yaml)')
    .option('--out <dir>', 'write <dir>/<project>.yaml instead of printing the YAML')
    .option('--python <path>', 'Python with Feast installed (default $TESSERA_FEAST_PYTHON or python3)')
    .action(async (repo: string, opts: { out?: string; python?: string }) => {
      const python = opts.python ?? process.env['TESSERA_FEAST_PYTHON'] ?? 'python3';
      // The export runs in the repository's folder: a relative path (`.venv/bin/python`) means the
      // one from here, a bare name (`python3`) is looked up on PATH.
      const exported = await exportFeastRepo(python.includes(sep) ? resolve(python) : python, repo);
      // The YAML writer and the definitions parser load for this command only, not for every `tessera` call.
      const [{ stringify }, { parseRepository }, { translateFeastRepo }] = await Promise.all([
        import('yaml'),
        import('@tessera/core'),
        import('../feast/feast-import.js'),
      ]);
      const { repo: document, notCarried, untranslated } = translateFeastRepo(exported);
      const yamlText =
        `# Imported from the Feast repository ${repo} by \`tessera import feast\`.\n` + stringify(document);
      const parsed = parseRepository([{ path: `${document.project}.yaml`, text: yamlText }]);
      if (parsed.problems.length > 0) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `the translated definitions do not validate:\n${formatProblems(parsed.problems)}`,
          { details: parsed.problems },
        );
      }
      if (opts.out === undefined) {
        process.stdout.write(yamlText);
      } else {
        await mkdir(opts.out, { recursive: true });
        const file = join(opts.out, `${document.project}.yaml`);
        await writeFile(file, yamlText);
        console.error(`tessera: wrote ${file}`);
      }
      console.error(
        `tessera: imported ${document.entities.length} entities, ${document.feature_views.length} feature views, ${document.feature_services.length} feature services`,
      );
      for (const line of untranslated) console.error(`tessera: not translated: ${line}`);
      for (const line of notCarried) console.error(`tessera: not carried over: ${line}`);
    });
}

/** Runs the export script in `python`; its stdout is one JSON object. */
function exportFeastRepo(python: string, repo: string): Promise<FeastExport> {
  return new Promise((done, reject) => {
    const child = execFile(
      python,
      ['-', resolve(repo)],
      // Feast's parser names modules by their path from the working directory.
      { cwd: resolve(repo), timeout: EXPORT_TIMEOUT_MILLIS, maxBuffer: MAX_EXPORT_BYTES },
      (error, stdout, stderr) => {
        if (error) {
          const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
          reject(
            new TesseraError(
              'FAILED_PRECONDITION',
              missing
                ? `${python} not found: pass --python (or set TESSERA_FEAST_PYTHON) to a Python with Feast installed`
                : `reading the Feast repository ${repo} with ${python} failed: ${stderr.trim().split('\n').slice(-8).join('\n') || error.message}`,
            ),
          );
          return;
        }
        try {
          done(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as FeastExport);
        } catch {
          reject(new TesseraError('INTERNAL', `the Feast export printed no JSON:\n${stdout.slice(-2_000)}`));
        }
      },
    );
    child.stdin?.end(FEAST_EXPORT_SCRIPT);
  });
}
