/** Left-aligned columns, two spaces apart, each as wide as its widest cell: one string per row. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
}

/** `total (load+api+worker+redis+store)`, the CPU µs per event of each part. */
export function describeCpu({ load, api, worker, redis, store, total }: Record<string, number>): string {
  return `${total} (${load}+${api}+${worker}+${redis}+${store})`;
}
