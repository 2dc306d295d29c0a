#!/usr/bin/env node
// Generates realistic sample data for the example repository into examples/data/ (one CSV per
// view, named after it). Values are deterministic (seeded); event times are relative to now so the
// views' TTLs hold: every customer's stats are days old, except customer 1013's, which are 45 days
// old and so read as EXPIRED (customer_stats has a 30-day TTL).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'data');
const CUSTOMERS = 100;
const PRODUCTS = 50;
const DAY = 86_400_000;
const now = Date.now();

let seed = 42;
/** mulberry32: small, fast, deterministic. */
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (items) => items[Math.floor(random() * items.length)];
const round = (x, digits = 2) => Number(x.toFixed(digits));
const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString();
const csv = (rows) => {
  const header = Object.keys(rows[0]);
  const cell = (v) =>
    v === null ? '' : typeof v === 'string' && /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v);
  return [header.join(','), ...rows.map((r) => header.map((h) => cell(r[h])).join(','))].join('\n') + '\n';
};

const customerStats = [];
const customerProfile = [];
for (let i = 0; i < CUSTOMERS; i++) {
  const id = 1001 + i;
  const purchases = Math.floor(random() * 12);
  const basket = round(15 + random() * 120);
  const loyalty = round(Math.min(5, purchases * 0.35 + random() * 1.5), 1);
  const ageDays = id === 1013 ? 45 : 0.1 + random() * 5;
  const eventTs = now - ageDays * DAY;
  customerStats.push({
    customer_id: id,
    event_ts: iso(eventTs),
    purchase_value_30d: round(purchases * basket),
    purchases_30d: purchases,
    avg_basket_value: purchases ? basket : 0,
    loyalty_score: loyalty,
    segment: purchases === 0 ? 'new' : loyalty >= 3.5 ? 'vip' : 'regular',
    last_purchase_at: purchases ? iso(eventTs - random() * 3 * DAY) : null,
  });
  customerProfile.push({
    customer_id: id,
    event_ts: iso(now - (30 + random() * 300) * DAY),
    country: pick(['DE', 'FR', 'NL', 'ES', 'IT', 'PL', 'SE']),
    signup_at: iso(now - (60 + random() * 900) * DAY),
    is_premium: random() < 0.2,
  });
}

const categories = ['shoes', 'books', 'kitchen', 'garden', 'toys', 'audio'];
const words = ['eco', 'sale', 'new', 'bestseller', 'gift', 'premium', 'compact', 'classic'];
const productStats = [];
const productEmbedding = [];
for (let i = 0; i < PRODUCTS; i++) {
  const id = `p-${String(i + 1).padStart(3, '0')}`;
  const views = Math.floor(50 + random() * 5000);
  productStats.push({
    product_id: id,
    event_ts: iso(now - random() * 2 * DAY),
    price: round(5 + random() * 300),
    views_7d: views,
    conversion_rate: round(random() * 0.12, 4),
    category: pick(categories),
  });
  const vector = Array.from({ length: 8 }, () => round(random() * 2 - 1, 4));
  const norm = Math.hypot(...vector) || 1;
  productEmbedding.push({
    product_id: id,
    event_ts: iso(now - 10 * DAY),
    embedding: JSON.stringify(vector.map((x) => round(x / norm, 4))),
    keywords: JSON.stringify([pick(words), pick(words)].filter((w, k, a) => a.indexOf(w) === k)),
  });
}

// History for training sets: monthly snapshots of customer_stats through 2024 for customers
// 1001–1020, at fixed dates (so the training set in the walk-through is the same everywhere).
const history = [];
for (let i = 0; i < 20; i++) {
  const id = 1001 + i;
  let loyalty = round(random() * 2, 1);
  let purchases = Math.floor(random() * 4);
  for (let month = 0; month < 12; month++) {
    purchases = Math.max(0, purchases + Math.floor(random() * 5) - 2);
    loyalty = round(Math.min(5, Math.max(0, loyalty + (random() - 0.4) * 0.8)), 1);
    const basket = round(20 + random() * 80);
    history.push({
      customer_id: id,
      event_ts: new Date(
        Date.UTC(2024, month, 1 + Math.floor(random() * 27), 8 + Math.floor(random() * 10)),
      ).toISOString(),
      purchase_value_30d: round(purchases * basket),
      purchases_30d: purchases,
      avg_basket_value: purchases ? basket : 0,
      loyalty_score: loyalty,
      segment: purchases === 0 ? 'new' : loyalty >= 3.5 ? 'vip' : 'regular',
      last_purchase_at: null,
    });
  }
}

mkdirSync(join(out, 'history'), { recursive: true });
writeFileSync(join(out, 'history', 'customer_stats.csv'), csv(history));
for (const [name, rows] of Object.entries({
  customer_stats: customerStats,
  customer_profile: customerProfile,
  product_stats: productStats,
  product_embedding: productEmbedding,
})) {
  writeFileSync(join(out, `${name}.csv`), csv(rows));
}
console.log(`tessera: sample data for ${CUSTOMERS} customers and ${PRODUCTS} products written to ${out}`);
