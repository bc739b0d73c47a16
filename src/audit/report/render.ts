import type { Report } from './types.js';
import { reportView } from './view.js';
import type { Block, ReportView } from './view-blocks.js';

/**
 * The three output formats of `tollgate report`. Markdown and HTML draw the same view
 * (view.ts); every string in it goes through `plain` (control characters and invisible
 * direction marks shown as \xHH / \u{HHHH}) and then the format's own escaping, so a user agent,
 * path or message from the store can neither break a table nor become markup.
 */
export type ReportFormat = 'md' | 'json' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['md', 'json', 'html'];

/** C0, DEL, C1, line/paragraph separators and bidi controls: shown, never acted on. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escaping them is the point
const INVISIBLE = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function plain(v: string): string {
  return v.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * Markdown: the ASCII punctuation that can start markup or end a table cell is backslash-escaped
 * (CommonMark), then control characters are shown as \xHH (a backslash before a letter is
 * literal in Markdown, so `\x0d` reads the same in a terminal and in a rendered page).
 */
export function mdText(v: string): string {
  return plain(v.replace(/[\\`*[\]<>|&]/g, (c) => `\\${c}`));
}

export function htmlText(v: string): string {
  return plain(v).replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

function mdBlock(b: Block): string {
  if (b.kind === 'text') return mdText(b.text);
  if (b.kind === 'heading') return `### ${mdText(b.text)}`;
  const row = (cells: string[]) => `| ${cells.map((c) => (c === '' ? ' ' : mdText(c))).join(' | ')} |`;
  const rule = `|${b.right.map((r) => (r ? ' --: ' : ' --- ')).join('|')}|`;
  return [row(b.head), rule, ...b.rows.map(row)].join('\n');
}

export function renderMarkdown(view: ReportView): string {
  const out = [`# ${mdText(view.title)}`, view.summary.map(mdText).join('  \n')];
  for (const s of view.sections) {
    out.push(`## ${mdText(s.title)}`);
    for (const b of s.blocks) out.push(mdBlock(b));
  }
  return `${out.join('\n\n')}\n`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:80em;padding:0 1em;color:#1d232a}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #d5dae0;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-top:1.4em}.summary{color:#5a6570}
table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d5dae0;padding:.25em .6em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f1f3f5}td.n,th.n{text-align:right}tr.mark td{background:#fdecea;font-weight:600}`;

function htmlBlock(b: Block): string {
  if (b.kind === 'text') return `<p>${htmlText(b.text)}</p>`;
  if (b.kind === 'heading') return `<h3>${htmlText(b.text)}</h3>`;
  const cls = (i: number) => (b.right[i] === true ? ' class="n"' : '');
  const head = `<tr>${b.head.map((h, i) => `<th${cls(i)}>${htmlText(h)}</th>`).join('')}</tr>`;
  const rows = b.rows.map(
    (r, j) =>
      `<tr${b.marked[j] === true ? ' class="mark"' : ''}>${r.map((c, i) => `<td${cls(i)}>${htmlText(c)}</td>`).join('')}</tr>`,
  );
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** One self-contained page: inline style, no script, no external resource (and a CSP that forbids both). */
export function renderHtml(view: ReportView): string {
  const out = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${htmlText(`${view.title}, ${view.summary[0] ?? ''}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${htmlText(view.title)}</h1>`,
    `<p class="summary">${view.summary.map(htmlText).join('<br>')}</p>`,
  ];
  for (const s of view.sections) {
    out.push(`<section>\n<h2>${htmlText(s.title)}</h2>`);
    for (const b of s.blocks) out.push(htmlBlock(b));
    out.push('</section>');
  }
  out.push('</body>', '</html>');
  return `${out.join('\n')}\n`;
}

export function renderReport(report: Report, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  const view = reportView(report);
  return format === 'html' ? renderHtml(view) : renderMarkdown(view);
}
