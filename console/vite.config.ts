import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes into the Python package, which serves it at /console/.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "../src/orrery/console/static",
    emptyOutDir: true,
    // The openai SDK brings every resource of the API: most of the 630 kB (160 kB gzipped).
    chunkSizeWarningLimit: 700,
  },
});
