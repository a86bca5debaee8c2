/**
 * Nearest-name suggestions for typos in keys, enum values and references: an edit distance and
 * the rule for when a known name is close enough to suggest. Pure functions.
 */

/**
 * Levenshtein distance with adjacent transpositions counted as one edit (optimal string
 * alignment), so `prot` is one edit from `port`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [Array.from({ length: b.length + 1 }, (_, j) => j)];
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

const normalizeKey = (key: string): string => key.toLowerCase().replace(/[-_\s]/g, '');

/**
 * The known key closest to `key`, when it is close enough to be a likely typo: the same key
 * written in another case or with dashes/underscores, the only known key that begins with it
 * (for keys of four or more letters), or within an edit distance of a third of its length (at
 * least 1; none for keys shorter than three).
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const normalized = normalizeKey(key);
  const exact = known.find((k) => normalizeKey(k) === normalized);
  if (exact !== undefined) return exact;
  if (normalized.length >= 4) {
    const extended = known.filter((k) => normalizeKey(k).startsWith(normalized));
    if (extended.length === 1) return extended[0];
  }
  // One- and two-letter keys are too short for a guess to mean anything.
  const limit = key.length < 3 ? 0 : Math.max(1, Math.floor(key.length / 3));
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(normalized, normalizeKey(candidate));
    if (distance <= limit && (best === undefined || distance < best.distance))
      best = { key: candidate, distance };
  }
  return best?.key;
}
