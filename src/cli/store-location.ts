import path from 'node:path';
import { loadConfigFile } from '../config/index.js';

export interface StoreOptions {
  data?: string;
  config?: string;
}

/** Where the store is: `--data DIR` (store `audit.db` in it), else `-c FILE`'s data_dir and store path, else ./tollgate-data. */
export function storeLocation(options: StoreOptions): { dataDir: string; storePath: string } {
  if (options.data !== undefined) {
    const dataDir = path.resolve(options.data);
    return { dataDir, storePath: path.join(dataDir, 'audit.db') };
  }
  if (options.config !== undefined) {
    const plan = loadConfigFile(options.config);
    return { dataDir: plan.dataDir, storePath: plan.audit.storePath };
  }
  const dataDir = path.resolve('tollgate-data');
  return { dataDir, storePath: path.join(dataDir, 'audit.db') };
}
