// Tables and lists read out of docs/, so that a test can hold the code to what a page states and
// the page cannot drift from the code unnoticed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.js';

/** The text of docs/<page>. */
export function docPage(page: string): string {
  return readFileSync(join(REPO_ROOT, 'docs', page), 'utf8');
}

function cellsOf(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
}

/**
 * The body rows of the first Markdown table in docs/<page> whose header row is exactly `header`
 * (cells trimmed), each row as its trimmed cells. Throws when there is no such table, so a renamed
 * column fails the test that reads it instead of passing on an empty table.
 */
export function docTable(page: string, header: readonly string[]): string[][] {
  const lines = docPage(page).split('\n');
  const start = lines.findIndex((line) => line.trim().startsWith('|') && cellsOf(line).join('|') === header.join('|'));
  if (start < 0) throw new Error(`docs/${page} has no table with the header | ${header.join(' | ')} |`);
  const rows: string[][] = [];
  // start + 1 is the | --- | separator row.
  for (const line of lines.slice(start + 2)) {
    if (!line.trim().startsWith('|')) break;
    rows.push(cellsOf(line));
  }
  return rows;
}

/** The `UPPER_CASE` names in backticks within `text`, in order. */
export function backtickedNames(text: string): string[] {
  return [...text.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!);
}
