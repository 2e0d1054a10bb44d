import { defineConfig } from 'vitest/config';

// For `npx vite` during development: where a running monitor_api listens.
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const apiTarget = env.MONITOR_API_URL ?? 'http://127.0.0.1:8000';

// Built into monitor_api/static, which FastAPI serves at "/". Relative asset
// paths keep the bundle working under any mount point; routing is hash-based.
export default defineConfig({
  base: './',
  build: {
    outDir: '../static',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': apiTarget,
      '/ws': { target: apiTarget, ws: true },
    },
  },
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
});
