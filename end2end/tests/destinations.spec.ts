// Destinations created and switched at Whats91 (the simulator) from the page.
import { expect, type Page, test } from "./fixtures";
import { logIn } from "./session";
import { addUser, simulatorToken, simulatorURL, unique } from "./whats91";

// What the simulator knows of the webhook whose endpoint ends with `slug`.
async function atWhats91(page: Page, slug: string) {
  const response = await page.request.get(`${simulatorURL}/_simulate/webhooks`, {
    headers: { authorization: `Bearer ${simulatorToken}` },
  });
  expect(response.status()).toBe(200);
  const { webhooks } = (await response.json()) as {
    webhooks: { endpointUrl: string; status: string; delivered: number }[];
  };
  return webhooks.find((w) => w.endpointUrl.endsWith(`/webhooks/whats91/${slug}`));
}

test("an admin creates a destination through Whats91, sees deliveries, and switches it off and on", async ({
  page,
}) => {
  const slug = unique("created-").toLowerCase();
  await logIn(page, "/destinations");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");

  const create = page.locator("details", { hasText: "Create through Whats91" });
  await create.getByLabel("Name").fill(`Created ${slug}`);
  await create.getByLabel("Slug").fill(slug);
  // The events come from Whats91's live catalog.
  await create.getByRole("checkbox", { name: "message.inbound.text" }).check();
  await create.getByRole("checkbox", { name: "message.status.delivered" }).check();
  await create.getByLabel("Verification token (optional)").fill("created-crm-token");
  await create.getByRole("button", { name: "Create webhook" }).click();

  await expect(create.getByRole("status")).toContainText(`Destination ${slug} created (ACTIVE)`);
  const card = page.getByRole("article", { name: `Destination ${slug}` });
  await expect(card).toContainText("ACTIVE");
  await expect(card).toContainText(`/webhooks/whats91/${slug}`);
  // The secret was captured on the server and never reaches the browser.
  expect(await page.content()).not.toMatch(/whsec_[A-Za-z0-9]/);
  expect((await atWhats91(page, slug))?.status).toBe("ACTIVE");

  // The simulator delivers to it; the page counts what arrives, live.
  const deliveries = card.locator("dt", { hasText: "Deliveries, 24 h" }).locator("+ dd");
  await expect(deliveries).not.toHaveText("0", { timeout: 15_000 });

  try {
    // Whats91 refuses once: nothing changes here, and the page says why.
    const refusal = await page.request.post(`${simulatorURL}/_simulate/fail`, {
      headers: { authorization: `Bearer ${simulatorToken}` },
      data: { code: "FEATURE_NOT_AVAILABLE", on: "update", times: 1 },
    });
    expect(refusal.status()).toBe(200);
    await card.getByRole("button", { name: "Switch off" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Not switched" })).toContainText(
      "Webhooks v2",
    );
    await expect(card).toContainText("ACTIVE");
    await expect(card.getByRole("button", { name: "Switch off" })).toBeVisible();
    expect((await atWhats91(page, slug))?.status).toBe("ACTIVE");

    await card.getByRole("button", { name: "Switch off" }).click();
    await expect(card).toContainText("INACTIVE");
    expect((await atWhats91(page, slug))?.status).toBe("INACTIVE");

    await card.getByRole("button", { name: "Switch on" }).click();
    await expect(card.getByRole("button", { name: "Switch off" })).toBeVisible();
    expect((await atWhats91(page, slug))?.status).toBe("ACTIVE");
  } finally {
    // Leaves the simulator quiet for the other tests.
    await page.request.post("/api/set_destination_status", {
      headers: { origin: new URL(page.url()).origin },
      form: { slug, active: "false" },
    });
  }
  expect((await atWhats91(page, slug))?.status).toBe("INACTIVE");
});

test("a viewer sees destinations without controls, and a direct call is refused", async ({ page }) => {
  addUser("e2e-viewer", "viewer", "viewer-password-1");
  await logIn(page, "/destinations", "e2e-viewer", "viewer-password-1");
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("article").first()).toBeVisible();
  await expect(page.getByRole("button", { name: /Switch (on|off)/ })).toHaveCount(0);
  await expect(page.getByRole("region", { name: "Add a destination" })).toHaveCount(0);

  const slug = (await page.getByRole("article").first().getAttribute("aria-label"))!.replace(
    "Destination ",
    "",
  );
  const refused = await page.request.post("/api/set_destination_status", {
    headers: { origin: new URL(page.url()).origin },
    form: { slug, active: "false" },
  });
  expect(refused.status()).toBe(403);
  const created = await page.request.post("/api/create_destination", {
    headers: { origin: new URL(page.url()).origin },
    form: {
      name: "x",
      slug: "viewer-made",
      "events[0]": "message.inbound.text",
      header_key: "X-A",
      token: "t",
      start_inactive: "false",
    },
  });
  expect(created.status()).toBe(403);
});
