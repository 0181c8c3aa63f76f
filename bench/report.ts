// BENCHMARKS.md is shared by several benchmarks: each owns one `## ...` section and replaces only that one.
// Writes go to a temporary file that is then renamed over the old one, so an interrupted run never leaves
// a half-written file.

import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const TITLE = `# Benchmarks

Measured numbers of glocal. Each section is (re)written by the command in its header; other sections are kept.
`;

/** Replace (or append) the section that starts with the line `header` (a `## ` line) up to the next `## ` line. */
export function replaceSection(doc: string, header: string, body: string): string {
  const section = `${header}\n\n${body.trim()}\n`;
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.trimEnd() === header);
  if (start < 0) return `${doc.trimEnd()}\n\n${section}`;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (/^## /.test(lines[i])) {
      end = i;
      break;
    }
  }
  const before = lines.slice(0, start).join('\n').trimEnd();
  const after = lines.slice(end).join('\n').trim();
  return `${before ? `${before}\n\n` : ''}${section}${after ? `\n${after}\n` : ''}`;
}

export function writeSection(path: string, header: string, body: string): void {
  const old = existsSync(path) ? readFileSync(path, 'utf8') : TITLE;
  const next = replaceSection(old, header, body);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, next);
  renameSync(tmp, path);
}

/** A GitHub-flavoured markdown table. */
export function mdTable(head: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = head.map((_, i) => ((align?.[i] ?? 'r') === 'l' ? '---' : '---:'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** A plain-text table for the console (columns padded; first column left-aligned). */
export function textTable(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const pad = (s: string, i: number) => {
    const n = w[i] - [...s].length;
    return i === 0 ? s + ' '.repeat(n) : ' '.repeat(n) + s;
  };
  const line = (r: string[]) => r.map(pad).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}
