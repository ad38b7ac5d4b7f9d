import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a chart: its name, its colour, and dashed for a reference line (a total, a limit). */
export interface Line {
  label: string;
  color: string;
  dashed?: boolean;
}

interface ChartProps {
  /** Names the chart for assistive technology (the panel's title). */
  label: string;
  lines: Line[];
  /** uPlot's aligned data: times in seconds, then one column per line (null: no value). */
  data: uPlot.AlignedData;
  /** Formats a value for the axis and the legend. */
  format: (value: number) => string;
  /** Counts: ticks only on whole numbers. */
  integer?: boolean;
  height?: number;
  /** Called with the index of the sample under the pointer, null when it leaves. */
  onHover?: (index: number | null) => void;
}

/**
 * A time series chart drawn by uPlot, as wide as its container (followed with a ResizeObserver) and in the
 * colours of the light or dark scheme. The plot is made again only when the lines or the scheme change; new
 * data is handed to the same plot.
 */
export function Chart({ label, lines, data, format, integer, height = 160, onHover }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const dark = usePrefersDark();
  const hover = useRef(onHover);
  hover.current = onHover;
  const formatRef = useRef(format);
  formatRef.current = format;
  const shape = JSON.stringify([lines, integer, height, dark]);

  useEffect(() => {
    const element = box.current!;
    const axis = dark ? '#a9afb8' : '#5b6270';
    const grid = dark ? 'rgba(255,255,255,0.09)' : 'rgba(0,0,0,0.08)';
    const value = (_: uPlot, v: number | null) => (v == null ? '–' : formatRef.current(v));
    const made = new uPlot(
      {
        width: Math.max(element.clientWidth, 100),
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        series: [
          {},
          ...lines.map((line) => ({
            label: line.label,
            stroke: line.color,
            width: line.dashed ? 1.5 : 2,
            dash: line.dashed ? [6, 4] : undefined,
            fill: line.dashed ? undefined : `${line.color}14`,
            points: { show: false },
            value,
          })),
        ],
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, max > 0 ? niceCeiling(max * 1.1, integer) : 1] },
        },
        axes: [
          {
            stroke: axis,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid, width: 1 },
            space: 80,
            size: 34,
            // whole seconds, then round minutes: never a tick between two seconds
            incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600],
            values: (_u, splits) => splits.map(clockTime),
          },
          {
            stroke: axis,
            grid: { stroke: grid, width: 1 },
            ticks: { show: false },
            size: 56,
            incrs: integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000] : undefined,
            values: (_u, splits) => splits.map((v) => formatRef.current(v)),
          },
        ],
        hooks: {
          setCursor: [(u) => hover.current?.(u.cursor.idx ?? null)],
        },
      },
      data,
      element,
    );
    plot.current = made;
    const resize = new ResizeObserver(() => {
      const width = element.clientWidth;
      if (width > 0 && width !== made.width) made.setSize({ width, height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      made.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data, shape]);

  return <div class="chart" ref={box} role="img" aria-label={label} data-points={data[0].length} />;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit', second: '2-digit' });

/** A time axis label: the time of day to the second (uPlot's times are in seconds). */
function clockTime(seconds: number): string {
  return clock.format(seconds * 1000);
}

/** A round upper bound for the value axis: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten. */
function niceCeiling(value: number, integer?: boolean): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const nice = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]
    .map((step) => step * power)
    .find((bound) => bound >= value)!;
  return integer ? Math.max(1, Math.ceil(nice)) : nice;
}

/** Whether the system asks for dark colours, followed live. */
export function usePrefersDark(): boolean {
  const query = '(prefers-color-scheme: dark)';
  const [dark, setDark] = useState(() => matchMedia(query).matches);
  useEffect(() => {
    const media = matchMedia(query);
    const change = () => setDark(media.matches);
    media.addEventListener('change', change);
    return () => media.removeEventListener('change', change);
  }, []);
  return dark;
}
