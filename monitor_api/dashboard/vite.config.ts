import { defineConfig } from 'vitest/config';

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
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
  },
});
