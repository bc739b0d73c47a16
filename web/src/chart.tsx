import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtTime } from './format.js';

export interface ChartSeries {
  label: string;
  color: string;
  /** Dashed (a second line of the same kind). */
  dash?: boolean;
}

/**
 * One uPlot time chart that follows its container's width. The y axis is wide enough for
 * five-digit labels (uPlot's default cuts them). `summary` is the text equivalent for screen
 * readers and for a glance.
 */
export function Chart({
  title,
  series,
  data,
  format,
  summary,
  yMin,
  spanGaps = false,
}: {
  title: string;
  series: ChartSeries[];
  /** [x (epoch s), ...one array per series]. */
  data: (number | null)[][];
  format: (v: number) => string;
  summary: string;
  yMin?: number;
  /** Join points across steps without data (ratios and latencies: no requests, no value). */
  spanGaps?: boolean;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 170,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, min, max) => [Math.min(yMin ?? 0, min), max <= 0 ? 1 : max * 1.1] },
      },
      axes: [
        {
          stroke: '#5b6472',
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d8dce2' },
          space: 64,
          // local time of day: seconds for short ranges, minutes past three hours
          values: (u, splits) => {
            const span = (u.scales.x!.max ?? 0) - (u.scales.x!.min ?? 0);
            return splits.map((t) => (span > 3 * 3600 ? fmtTime(t * 1000).slice(0, 5) : fmtTime(t * 1000)));
          },
        },
        {
          size: 64,
          stroke: '#5b6472',
          grid: { stroke: '#eef0f3' },
          ticks: { stroke: '#d8dce2' },
          values: (_u, vals) => vals.map((v) => format(v)),
        },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          ...(s.dash === true ? { dash: [5, 3] } : {}),
          spanGaps,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : format(v)),
        })),
      ],
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = u;
    // resize in the next frame, not inside the observer (which would report a resize loop)
    let frame = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = Math.max(200, el.clientWidth);
        if (Math.abs(w - u.width) > 2) u.setSize({ width: w, height: 170 });
      });
    });
    ro.observe(el);
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [key]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span> <span class="chart-summary">{summary}</span>
      </figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  );
}
