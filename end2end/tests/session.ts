import { expect, type Page } from "@playwright/test";

export const adminPassword = "end2end-admin-password";

// Logs in through the login page, as a person would.
export async function logIn(page: Page, next = "/", user = "admin", password = adminPassword) {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
}

// Waits until the page is interactive and its live stream is open.
export async function waitForLive(page: Page) {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-state", "live");
}
