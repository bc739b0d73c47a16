import { useEffect, useState } from 'preact/hooks';

/** Short confirmations and failures of actions taken from the page, read out by screen readers. */
export interface Note {
  id: number;
  kind: 'ok' | 'error';
  text: string;
  link?: { href: string; label: string };
}

let seq = 0;
let notes: Note[] = [];
const listeners = new Set<(n: Note[]) => void>();

function publish(): void {
  for (const l of listeners) l(notes);
}

export function notify(kind: Note['kind'], text: string, link?: Note['link']): void {
  const n: Note = { id: ++seq, kind, text, ...(link === undefined ? {} : { link }) };
  notes = [...notes.slice(-3), n];
  publish();
  setTimeout(() => dismiss(n.id), kind === 'ok' ? 8000 : 15000);
}

export function dismiss(id: number): void {
  notes = notes.filter((n) => n.id !== id);
  publish();
}

export function useNotes(): Note[] {
  const [list, setList] = useState(notes);
  useEffect(() => {
    listeners.add(setList);
    return () => {
      listeners.delete(setList);
    };
  }, []);
  return list;
}
