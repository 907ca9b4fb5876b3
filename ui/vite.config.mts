import { defineConfig } from 'vite';

// Built by scripts/setup.sh (`vite build ui`) into dist/ui, which the server serves at /ui.
export default defineConfig({
  base: '/ui/',
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    sourcemap: true,
    // Everything the page needs is in the bundle: the machines it runs on have no internet.
    assetsInlineLimit: 0,
  },
});
