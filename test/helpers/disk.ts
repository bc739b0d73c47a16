import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A small tmpfs the test can fill up (root only). */
export interface SmallDisk {
  readonly dir: string;
  /** Fills the file system; with `leaveBytes`, that many bytes (rounded to 4 KiB pages) stay free. */
  fill(leaveBytes?: number): void;
  /** Frees what fill() took. */
  free(): void;
  /** Unmounts and removes the folder. */
  close(): void;
}

/** Mounts a tmpfs of `sizeKb` on a fresh folder; null when mounting is not possible here (not root). */
export function smallDisk(sizeKb: number): SmallDisk | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-disk-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  if (r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill(leaveBytes = 0) {
      spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      if (leaveBytes > 0) {
        const size = fs.statSync(filler).size;
        fs.truncateSync(filler, Math.max(0, size - Math.ceil(leaveBytes / 4096) * 4096));
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    close() {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
