import { expect, test } from "./fixtures";
import { logIn } from "./session";
import { addDestination, deliver, secret, token } from "./whats91";

test.beforeEach(async ({ page }) => {
  await logIn(page);
});

test("a signed delivery is accepted and listed on the events page", async ({ page, request }) => {
  addDestination("e2e-events");
  const response = await deliver(request, "e2e-events", "template_rejected");
  expect(response.status()).toBe(200);
  const { seq } = await response.json();

  await page.goto("/events");
  const row = page.getByRole("row").filter({ hasText: "template.status_update" });
  await expect(row.first()).toContainText("e2e-events");
  await expect(row.first().getByRole("cell").first()).toHaveText(String(seq));

  await page.goto("/");
  const stored = page.locator("dt", { hasText: "Events stored" }).locator("+ dd");
  await expect(stored).not.toHaveText("0");
});

test("a delivery with a wrong signature is refused and counted on the destination", async ({
  page,
  request,
}) => {
  addDestination("e2e-rejects");
  const response = await deliver(request, "e2e-rejects", "status_sent", true);
  expect(response.status()).toBe(401);

  // Rejected attempts are logged without holding up the answer: reload
  // until the log has caught up.
  const card = page.getByRole("article", { name: "Destination e2e-rejects" });
  const rejected = card.locator("dt", { hasText: "Rejected attempts, 24 h" }).locator("+ dd");
  await expect(async () => {
    await page.goto("/destinations");
    await expect(rejected).toHaveText("1", { timeout: 500 });
  }).toPass({ timeout: 5_000 });
  await expect(card).toContainText("/webhooks/whats91/e2e-rejects");
  await expect(card).toContainText("ACTIVE");
  await expect(card).not.toContainText(secret);
  await expect(card).not.toContainText(token);
});

test("deliveries reach the conversation, delivery and template pages", async ({ page, request }) => {
  addDestination("e2e-projections");
  for (const name of ["inbound_text", "status_sent", "status_read", "template_rejected"]) {
    const response = await deliver(request, "e2e-projections", name);
    expect(response.status()).toBe(200);
  }

  // Projections follow the log a moment after the acknowledgement.
  await expect(async () => {
    await page.goto("/conversations?q=order");
    await expect(page.getByRole("list", { name: "Conversations" })).toContainText("919888888888", {
      timeout: 500,
    });
  }).toPass({ timeout: 5_000 });
  await expect(page.locator("mark", { hasText: "order" })).toBeVisible();

  await page.goto("/deliveries?recipient=919888888888");
  const row = page.getByRole("row").filter({ hasText: "wamid.OUT0001" });
  await expect(row).toContainText("read");
  await expect(page.getByLabel("Recipient")).toHaveValue("919888888888");

  await page.goto("/templates");
  const alerts = page.getByRole("region", { name: "Open alerts" });
  await expect(alerts).toContainText("festival_offer_v1");
  await expect(alerts).toContainText("INVALID_FORMAT");
});
