import { defineConfig } from "vite";

// The API is served by Antechamber itself; in `vite` dev mode it is proxied to it.
export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022", chunkSizeWarningLimit: 700 },
  server: { proxy: { "/api": "http://127.0.0.1:8000" } },
});
