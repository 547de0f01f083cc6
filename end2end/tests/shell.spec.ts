import { expect, test } from "./fixtures";
import { logIn } from "./session";

test.beforeEach(async ({ page }) => {
  await logIn(page);
});

const pages = [
  { link: "Overview", path: "/", heading: "Overview" },
  { link: "Events", path: "/events", heading: "Events" },
  { link: "Conversations", path: "/conversations", heading: "Conversations" },
  { link: "Deliveries", path: "/deliveries", heading: "Deliveries" },
  { link: "Templates", path: "/templates", heading: "Templates" },
  { link: "Destinations", path: "/destinations", heading: "Destinations" },
  { link: "Audit", path: "/audit", heading: "Audit" },
];

test("the overview page loads with the product name and its heading", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("link", { name: "whats91-ops" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Overview" })).toBeVisible();
  await expect(page).toHaveTitle("Overview · whats91-ops");
});

test("every navigation link reaches its page", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  const nav = page.getByRole("navigation", { name: "Primary" });
  for (const { link, path, heading } of pages) {
    await nav.getByRole("link", { name: link, exact: true }).click();
    await expect(page).toHaveURL(path);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await expect(page.locator(".loading")).toHaveCount(0);
    await expect(page.getByRole("alert"), `${path} shows no error`).toHaveCount(0);
    await expect(nav.getByRole("link", { name: link, exact: true })).toHaveAttribute(
      "aria-current",
      "page",
    );
  }
});

test("hydration is live: the menu button opens the navigation without a page load", async ({
  page,
}) => {
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto("/events");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");

  // A page load would reset this marker; a hydrated click keeps it.
  await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
  const menu = page.getByRole("button", { name: "Menu" });
  const nav = page.getByRole("navigation", { name: "Primary" });
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(nav).toBeHidden();

  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  await expect(nav).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe(
    "same page",
  );
});

test("an unknown address shows a not-found page with status 404", async ({ page }) => {
  const response = await page.goto("/no-such-page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1, name: "Page not found" })).toBeVisible();
});
