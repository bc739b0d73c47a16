import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Polled<T> {
  data: T | null;
  error: Error | null;
  loading: boolean;
  /** Fetch again now (after a change made from the page). */
  refresh(): void;
}

/**
 * Calls `load` now and every `everyMs` after the previous answer (never two at once), while the
 * tab is visible; restarts when `deps` change. The last good data stays on screen during an error.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: readonly unknown[]): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const kick = useRef<() => void>(() => {});
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let running = false;
    setLoading(true);
    setData(null);
    setError(null);
    const tick = async () => {
      if (!live || running) return;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      running = true;
      try {
        const d = await loadRef.current();
        if (!live) return;
        setData(d);
        setError(null);
      } catch (err) {
        if (!live) return;
        setError(err instanceof Error ? err : new Error(String(err)));
      } finally {
        running = false;
        if (live) {
          setLoading(false);
          if (!document.hidden) timer = setTimeout(tick, everyMs);
        }
      }
    };
    const onVisible = () => {
      if (!document.hidden && timer === null && !running) void tick();
    };
    kick.current = () => void tick();
    document.addEventListener('visibilitychange', onVisible);
    void tick();
    return () => {
      live = false;
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [everyMs, ...deps]);

  const refresh = useCallback(() => kick.current(), []);
  return { data, error, loading, refresh };
}

/** The current time, ticking every `everyMs` (for "12 s ago"). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}
