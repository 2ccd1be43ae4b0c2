import { defineConfig } from 'vite';

// Two pages, one build: the fan app (index.html) and the operator console
// (admin.html). Output names carry a content hash, so the server caches
// assets for a year; WEB_OUT_DIR lets the freshness check build elsewhere.
export default defineConfig({
  base: '/',
  build: {
    outDir: process.env.WEB_OUT_DIR || 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      input: { index: 'index.html', admin: 'admin.html' },
    },
  },
});
