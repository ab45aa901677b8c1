// shadow.js: how often the shadow policy set agrees with the active one.
//
// A shadow set's returns.evaluate runs beside the active one on every new
// case of a decided type and goes on the case's timeline as shadow.decision,
// never enforced (docs/api.md, "Shadow"). The agreement is read from the
// timelines of the newest such cases opened since the shadow started: the
// same outcome and reason_code is an agreement.

import { get } from './api.js';

export const DECIDED_TYPES = ['return', 'exchange', 'refund_only', 'repair', 'price_protection'];

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function isEvaluate(d) {
  return d && d.module === 'returns' && d.function === 'evaluate';
}

// {sampled, compared, agreed, disagreements:[{case_id, active, shadow}], errors}
export async function shadowAgreement(shadow, sample = 40) {
  const page = await get('/v1/cases', { limit: 200 });
  const cases = page.cases
    .filter((c) => DECIDED_TYPES.includes(c.type) && c.created_at >= shadow.loaded_at)
    .slice(0, sample);
  const rows = await mapLimit(cases, 4, async (c) => {
    // the decisions are a case's first entries: one page is enough
    const tl = await get('/v1/cases/' + encodeURIComponent(c.case_id) + '/timeline', { limit: 100 });
    const active = tl.events.find((e) => e.type === 'decision' && isEvaluate(e.data));
    const sh = tl.events.find((e) => (e.type === 'shadow.decision' || e.type === 'shadow.error') &&
      e.data.policy_version === shadow.version);
    return { case_id: c.case_id, active: active && active.data.output, shadow: sh, };
  });
  const result = { sampled: cases.length, compared: 0, agreed: 0, disagreements: [], errors: 0 };
  for (const r of rows) {
    if (!r.active || !r.shadow) continue;
    if (r.shadow.type === 'shadow.error') {
      result.errors++;
      result.compared++;
      result.disagreements.push({ case_id: r.case_id, active: r.active, shadow: { error: r.shadow.data.error } });
      continue;
    }
    const s = r.shadow.data.output || {};
    result.compared++;
    if (s.outcome === r.active.outcome && s.reason_code === r.active.reason_code) result.agreed++;
    else result.disagreements.push({ case_id: r.case_id, active: r.active, shadow: s });
  }
  return result;
}
