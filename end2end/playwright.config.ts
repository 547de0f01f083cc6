import { defineConfig, devices } from "@playwright/test";
import { simulatorToken, simulatorURL } from "./tests/whats91";

// `make e2e` picks a free port and a fresh temporary database and passes
// them here; the same values reach every worker through the environment.
const port = process.env.E2E_PORT;
const simulatorPort = process.env.E2E_SIMULATOR_PORT;
const database = process.env.E2E_DATABASE;
if (!port || !simulatorPort || !database) {
  throw new Error(
    "run the browser tests with `make e2e`, which sets E2E_PORT, E2E_SIMULATOR_PORT and E2E_DATABASE",
  );
}
const baseURL = `http://127.0.0.1:${port}`;

const server = process.env.E2E_SERVER ?? "../target/debug/whats91-ops";
const siteRoot = process.env.E2E_SITE_ROOT ?? "../target/site-debug";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          // Debian's Chromium; Playwright never downloads a browser here.
          executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: [
    {
      command: `${server} simulate --addr 127.0.0.1:${simulatorPort} --rate 4`,
      env: { WHATS91_OPS_SIMULATE_TOKEN: simulatorToken },
      // Any answer will do: without a token the API answers 401.
      url: `${simulatorURL}/api/v2/webhooks/events`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
    {
      command: `${server} serve --addr 127.0.0.1:${port} --database ${database} --site-root ${siteRoot}`,
      env: {
        WHATS91_OPS_ADMIN_PASSWORD: "end2end-admin-password",
        WHATS91_OPS_WHATS91_API_URL: `${simulatorURL}/api/v2`,
        WHATS91_OPS_WHATS91_API_TOKEN: simulatorToken,
      },
      url: `${baseURL}/healthz`,
      // A server already on the port would be tested instead of this build.
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
