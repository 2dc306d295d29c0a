/** Samples of a Prometheus text exposition: `name{labels}` (labels as exposed) → value. */
export type Samples = ReadonlyMap<string, number>;

/** Scrapes `/metrics` on loopback and parses its samples. */
export async function scrape(port: number): Promise<Samples> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseSamples(await response.text());
}

/** Parses the sample lines of a text exposition (comments skipped). */
export function parseSamples(text: string): Samples {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** A sample's value, 0 when absent (a counter not incremented yet). */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const entries = Object.entries(labels);
  const key = entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  return samples.get(key) ?? 0;
}

/** How much a sample moved between two scrapes. */
export function delta(before: Samples, after: Samples, name: string, labels: Record<string, string> = {}): number {
  return sample(after, name, labels) - sample(before, name, labels);
}

/** Metric names that have at least one sample (histograms by their base name as well). */
export function sampledNames(samples: Samples): Set<string> {
  const names = new Set<string>();
  for (const key of samples.keys()) {
    const name = key.split('{')[0]!;
    names.add(name);
    names.add(name.replace(/_(bucket|sum|count)$/, ''));
  }
  return names;
}
