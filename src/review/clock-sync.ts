import { execFile } from 'node:child_process';

/** What the operating system says about the clock; `synced` null when nothing could tell. */
export interface ClockSync {
  synced: boolean | null;
  /** The tool that answered. */
  source: string | null;
  detail: string;
}

function run(cmd: string, args: string[], input?: string): Promise<string | null> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 3000, encoding: 'utf8' }, (err, stdout) =>
      resolve(err === null ? stdout : null),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * The kernel's own flag, read with adjtimex(2) through python3's ctypes (Node has no binding):
 * STA_UNSYNC (0x40) is set until a time daemon (ntpd, chronyd, systemd-timesyncd) disciplines
 * the clock. Prints "<status> <maxerror µs>".
 */
const ADJTIMEX_PY = `
import ctypes, ctypes.util
class T(ctypes.Structure):
    _fields_ = [('modes', ctypes.c_uint), ('offset', ctypes.c_long), ('freq', ctypes.c_long),
                ('maxerror', ctypes.c_long), ('esterror', ctypes.c_long), ('status', ctypes.c_int),
                ('pad', ctypes.c_byte * 200)]
t = T()
ctypes.CDLL(ctypes.util.find_library('c')).adjtimex(ctypes.byref(t))
print(t.status, t.maxerror)
`;

const STA_UNSYNC = 0x40;

/** Asks, in order: timedatectl (systemd), chronyc, then the kernel through adjtimex(2). */
export async function clockSync(): Promise<ClockSync> {
  const td = await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']);
  if (td !== null && /^(yes|no)\s*$/.test(td)) {
    const synced = td.trim() === 'yes';
    return { synced, source: 'timedatectl', detail: `timedatectl: NTPSynchronized=${td.trim()}` };
  }
  const chrony = await run('chronyc', ['-n', 'tracking']);
  const leap = chrony === null ? null : /Leap status\s*:\s*(.+)/.exec(chrony);
  if (leap) {
    const status = leap[1]!.trim();
    return {
      synced: status === 'Normal',
      source: 'chronyc',
      detail: `chronyc tracking: leap status ${status}`,
    };
  }
  const kernel = await run('python3', ['-c', ADJTIMEX_PY]);
  const m = kernel === null ? null : /^(-?\d+) (-?\d+)/.exec(kernel.trim());
  if (m) {
    const status = Number(m[1]);
    const maxErrorMs = Number(m[2]) / 1000;
    const synced = (status & STA_UNSYNC) === 0;
    return {
      synced,
      source: 'adjtimex',
      detail: synced
        ? `the kernel reports the clock synchronised (adjtimex: maximum error ${maxErrorMs} ms)`
        : `the kernel reports the clock unsynchronised (adjtimex: STA_UNSYNC set, maximum error ${maxErrorMs} ms): no time daemon disciplines it`,
    };
  }
  return {
    synced: null,
    source: null,
    detail: 'the OS did not say: no timedatectl, chronyc or python3 (adjtimex) answered',
  };
}
