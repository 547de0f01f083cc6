// The test and expect every spec uses: Playwright's own, with one more
// check. Leptos warns in the browser console when a page reads server data
// outside a <Suspense/> or <Transition/>, where hydration does not wait for
// it; the page may then render differently in the browser than on the
// server. Any such warning fails the test that caused it.
import { test as base, expect, type BrowserContext } from "@playwright/test";

export { expect };
export type { Page } from "@playwright/test";

const hydrationTrouble = /hydrat|outside a <Suspense\/> or <Transition\/>/i;

// Collects hydration warnings from every page of `context`; the returned
// function fails if there were any.
function watchHydration(context: BrowserContext): () => void {
  const warnings: string[] = [];
  context.on("console", (message) => {
    if (hydrationTrouble.test(message.text())) {
      warnings.push(`${message.location().url}: ${message.text()}`);
    }
  });
  return () => expect(warnings, "hydration warnings in the browser console").toEqual([]);
}

export const test = base.extend({
  context: async ({ context }, use) => {
    const check = watchHydration(context);
    await use(context);
    check();
  },
});
