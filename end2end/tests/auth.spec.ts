import { expect, test } from "./fixtures";
import { adminPassword, logIn } from "./session";

test("a dashboard address sends a visitor without a session to the login page", async ({ page }) => {
  await page.goto("/deliveries?recipient=919888888888");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.getByRole("heading", { name: "whats91-ops" })).toBeVisible();
});

test("log in, see the dashboard, log out, and be sent back to the login page", async ({ page }) => {
  await logIn(page, "/deliveries?recipient=919888888888");
  await expect(page).toHaveURL("/deliveries?recipient=919888888888");
  await expect(page.getByRole("heading", { level: 1, name: "Deliveries" })).toBeVisible();
  await expect(page.getByText("admin · admin")).toBeVisible();

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/events");
  await expect(page).toHaveURL(/\/login\?next=\/events/);
});

test("a wrong password gets one plain message and no session", async ({ page }) => {
  await page.goto("/login");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(adminPassword + "x");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Invalid username or password.");
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
});
