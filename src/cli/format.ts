/** Output formats of `query`: a padded table, CSV (RFC 4180 quoting), JSON lines. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function csv(headers: string[], rows: string[][]): string {
  return `${[headers, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n')}\r\n`;
}

/** Control characters shown as \xHH in human output (a table must not carry terminal escapes). */
export function printable(v: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
  return v.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
