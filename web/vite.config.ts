import { defineConfig } from 'vite';

/**
 * The dashboard: preact + TSX through vite's own Oxc transform (no Babel preset), built into
 * dist/web/ next to the compiled server, which serves it at `/` of the admin address. Relative
 * asset URLs (`base: './'`) so it also works behind a path prefix. Nothing is loaded from
 * anywhere else: no fonts, no CDN.
 */
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: true,
  },
});
