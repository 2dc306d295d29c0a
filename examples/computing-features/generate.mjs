#!/usr/bin/env node
// Generates the computing-features example's events into examples/computing-features/data/ (one CSV
// per event view, loaded live by `tessera serve --load`) and the entity rows of a training set
// (data/training/customers.csv). Values are seeded; event times are whole seconds before the moment
// of generation and at most 6 days old, so every event is within the views' 7-day allowed_lateness
// when loaded, inside every 7-day and 30-day window for a day after, and on the same UTC day relative
// to generation (each event is d days and under a minute before it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'data');
const CUSTOMERS = 20;
const PRODUCTS = 12;
const SECOND = 1000;
const DAY = 86_400_000;
const base = Math.floor(Date.now() / SECOND) * SECOND;

let seed = 17;
/** mulberry32: small, fast, deterministic. */
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(random() * n);
const iso = (ms) => new Date(ms).toISOString();
const csv = (rows) => {
  const header = Object.keys(rows[0]);
  return (
    [header.join(','), ...rows.map((r) => header.map((h) => (r[h] === null ? '' : String(r[h]))).join(','))].join(
      '\n',
    ) + '\n'
  );
};
/** `count` distinct moments of one entity: d days (0–6) and 1–59 seconds before generation. */
function moments(count) {
  const seen = new Set();
  while (seen.size < count) seen.add(int(7) * DAY + (1 + int(59)) * SECOND);
  return [...seen].sort((a, b) => b - a).map((ago) => base - ago);
}

const categories = ['audio', 'books', 'garden', 'kitchen'];
const products = Array.from({ length: PRODUCTS }, (_, i) => `p-${String(i + 1).padStart(3, '0')}`);
const categoryOf = new Map(products.map((p, i) => [p, categories[i % categories.length]]));

// Customer 1020 never buys: its windows are empty (count and sum 0, mean null).
const purchases = [];
for (let i = 0; i < CUSTOMERS - 1; i++) {
  for (const ts of moments(1 + int(8))) {
    const product = products[int(PRODUCTS)];
    // Quarters: sums of them are exact in binary, online and offline alike.
    purchases.push({
      customer_id: 1001 + i,
      event_ts: iso(ts),
      amount: (20 + int(400)) / 4,
      category: categoryOf.get(product),
      product_id: product,
    });
  }
}
// Product p-012 is never reviewed: last_5_ratings is [] and avg_last_5_reviews null.
const reviews = [];
for (const product of products.slice(0, -1)) {
  for (const ts of moments(int(9))) reviews.push({ product_id: product, event_ts: iso(ts), rating: 1 + int(5) });
}
// Training rows: five customers now and three days ago, with the cart they were checking out.
const training = [];
for (const back of [0, 3]) {
  for (let i = 0; i < 5; i++) {
    training.push({ customer_id: 1001 + i, event_ts: iso(base - back * DAY), cart_total: (40 + int(200)) / 4 });
  }
}

mkdirSync(join(out, 'training'), { recursive: true });
purchases.sort((a, b) => a.event_ts.localeCompare(b.event_ts));
reviews.sort((a, b) => a.event_ts.localeCompare(b.event_ts));
writeFileSync(join(out, 'purchases.csv'), csv(purchases));
writeFileSync(join(out, 'reviews.csv'), csv(reviews));
writeFileSync(join(out, 'training', 'customers.csv'), csv(training));
console.log(
  `wrote ${purchases.length} purchases, ${reviews.length} reviews, ${training.length} training rows to ${out}`,
);
