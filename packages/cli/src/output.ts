/** Where the CLI writes: injectable so tests can run commands in-process. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
}

const display = (value: unknown): string => {
  if (value === null || value === undefined || value === '') return '-';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
};

/** A plain left-aligned table; cells longer than `maxWidth` are cut with an ellipsis. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>, maxWidth = 48): string {
  if (rows.length === 0) return '(none)\n';
  const cut = (text: string) => (text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text);
  const cells = rows.map((row) => columns.map((column) => cut(display(row[column]))));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((line) => line[index]!.length)));
  const line = (values: string[]) => values.map((value, index) => value.padEnd(widths[index]!)).join('  ').trimEnd();
  return `${[line(columns.map((column) => column.toUpperCase())), ...cells.map(line)].join('\n')}\n`;
}

/** `key: value` lines, for one object. */
export function keyValues(entries: ReadonlyArray<[string, unknown]>): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return `${entries.map(([key, value]) => `${`${key}:`.padEnd(width + 1)} ${display(value)}`).join('\n')}\n`;
}

/**
 * A one-line progress bar on stderr, redrawn in place. Only on a TTY and never with --json: pipes and
 * scripts get clean output.
 */
export class Progress {
  private done = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly stream: Io['stderr'],
    private total: number,
    private readonly label: string,
    enabled: boolean,
  ) {
    this.enabled = enabled && stream.isTTY === true;
    this.draw();
  }

  setTotal(total: number): void {
    this.total = total;
    this.draw();
  }

  advance(by = 1): void {
    this.done += by;
    this.draw();
  }

  finish(): void {
    if (this.enabled) this.stream.write('\r\x1b[2K');
  }

  private draw(): void {
    if (!this.enabled) return;
    const width = 30;
    const ratio = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const filled = Math.round(ratio * width);
    this.stream.write(`\r\x1b[2K${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total}`);
  }
}
