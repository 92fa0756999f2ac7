import { formatCount } from '../format.js';

export interface Series {
  readonly label: string;
  readonly className: string;
  /** One value per bucket, oldest first. */
  readonly values: readonly number[];
}

/**
 * A stacked bar chart in SVG: no charting library, no script beyond this, and readable by a screen reader
 * through its title, description and the table the dashboard shows beside it.
 */
export function StackedBars({
  title,
  labels,
  series,
}: {
  title: string;
  labels: readonly string[];
  series: readonly Series[];
}) {
  const width = 720;
  const height = 220;
  const left = 40;
  const right = 24;
  const bottom = 24;
  const totals = labels.map((_, index) => series.reduce((sum, line) => sum + (line.values[index] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - left - right) / Math.max(1, labels.length);
  const scale = (value: number) => (value / max) * (height - bottom - 8);
  const ticks = [0, Math.ceil(max / 2), max];
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">{title}</title>
        <desc id="chart-desc">
          {series
            .map((line) => `${line.label}: ${formatCount(line.values.reduce((a, b) => a + b, 0))}`)
            .join(', ')}
        </desc>
        {ticks.map((tick) => (
          <g key={tick}>
            <line
              x1={left}
              x2={width}
              y1={height - bottom - scale(tick)}
              y2={height - bottom - scale(tick)}
              class="grid"
            />
            <text x={left - 6} y={height - bottom - scale(tick) + 4} class="axis" text-anchor="end">
              {tick}
            </text>
          </g>
        ))}
        {labels.map((label, index) => {
          let y = height - bottom;
          return (
            <g key={label}>
              {series.map((line) => {
                const value = line.values[index] ?? 0;
                const barHeight = scale(value);
                y -= barHeight;
                return value > 0 ? (
                  <rect
                    key={line.label}
                    x={left + index * step + 2}
                    y={y}
                    width={Math.max(1, step - 4)}
                    height={barHeight}
                    class={line.className}
                  >
                    <title>{`${label}: ${value} ${line.label}`}</title>
                  </rect>
                ) : null;
              })}
              {index % Math.max(1, Math.round(labels.length / 6)) === 0 && (
                <text x={left + index * step + step / 2} y={height - 6} class="axis" text-anchor="middle">
                  {label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        {series.map((line) => (
          <span key={line.label} class="legend">
            <span class={`swatch ${line.className}`} aria-hidden="true" />
            {line.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
