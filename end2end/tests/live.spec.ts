// The everyday journeys of the dashboard, live, against a real server fed
// over HTTP with deliveries signed as Whats91 signs them.
import { expect, test } from "./fixtures";
import { logIn, waitForLive } from "./session";
import { addDestination, addUser, cli, deliverEvent, unique, uniquePhone } from "./whats91";

const slug = "e2e-live";

test.beforeAll(() => {
  addDestination(slug);
  addUser("e2e-operator", "operator", "operator-password-1");
});

const statusOf = (messageId: string, recipient: string, status: string, at: string) => ({
  messageId,
  recipient,
  status,
  timestamp: at,
});

test("watch: deliveries appear live, and none is missing after the browser was offline", async ({
  page,
  context,
  request,
}) => {
  await logIn(page, "/events");
  await waitForLive(page);

  const first = await deliverEvent(request, slug, "message.inbound.text", {
    from: uniquePhone(),
    messageId: unique("wamid.watch"),
    text: "watching live",
    timestamp: new Date().toISOString(),
  });
  await expect(page.locator(`tr[data-seq="${first.seq}"]`)).toBeVisible({ timeout: 1_000 });

  await context.setOffline(true);
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-state", "reconnecting");
  const missed = [];
  for (let i = 0; i < 3; i++) {
    missed.push(
      await deliverEvent(request, slug, "message.inbound.text", {
        from: uniquePhone(),
        messageId: unique("wamid.offline"),
        text: `sent while offline ${i}`,
        timestamp: new Date().toISOString(),
      }),
    );
  }
  await context.setOffline(false);
  for (const { seq } of missed) {
    await expect(page.locator(`tr[data-seq="${seq}"]`)).toBeVisible({ timeout: 10_000 });
  }
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-state", "live");
});

test("watch: a paused list stays still until resumed", async ({ page, request }) => {
  await logIn(page, "/events");
  await waitForLive(page);
  await page.getByRole("button", { name: "Pause live updates" }).click();

  const { seq } = await deliverEvent(request, slug, "message.inbound.text", {
    from: uniquePhone(),
    messageId: unique("wamid.paused"),
    text: "held back while paused",
    timestamp: new Date().toISOString(),
  });
  await expect(page.getByText("Paused: new events are waiting.")).toBeVisible();
  await expect(page.locator(`tr[data-seq="${seq}"]`)).toHaveCount(0);

  await page.getByRole("button", { name: "Resume live updates" }).click();
  await expect(page.locator(`tr[data-seq="${seq}"]`)).toBeVisible();

  // One event, opened: its raw JSON and where it went.
  await page.locator(`tr[data-seq="${seq}"]`).getByRole("link").click();
  await expect(page.locator(".raw-json")).toContainText('"text": "held back while paused"');
  await expect(page.getByText("X-Whats91-Signature: verified")).toBeVisible();
  await expect(page.getByRole("link", { name: /^Conversation with / })).toBeVisible();
});

test("search: a conversation is found by a word of its text and by phone prefix", async ({
  page,
  request,
}) => {
  const phone = uniquePhone();
  const word = unique("parcel");
  await deliverEvent(request, slug, "message.inbound.text", {
    from: phone,
    messageId: unique("wamid.search"),
    text: `Where is my ${word} today?`,
    timestamp: new Date().toISOString(),
  });
  await logIn(page, "/conversations");
  await waitForLive(page);

  const search = page.getByLabel("Search");
  const results = page.getByRole("list", { name: "Conversations" });
  // Results follow the typing, with no button pressed.
  await search.pressSequentially(word, { delay: 20 });
  await expect(results).toContainText(phone);
  await expect(results.locator("mark")).toContainText(word);
  await expect(page).toHaveURL(new RegExp(`q=${word}`));

  await search.fill("");
  await search.pressSequentially(phone.slice(0, 8), { delay: 20 });
  await expect(results).toContainText(phone);

  await results.getByRole("link", { name: phone }).click();
  await expect(page.locator(".thread")).toContainText(`Where is my ${word} today?`);
});

test("filter: one recipient's timelines, expanded, survive a reload", async ({ page, request }) => {
  const mine = uniquePhone();
  const other = uniquePhone();
  const message = unique("wamid.mine");
  const minute = "2026-06-05T10:3";
  for (const [status, at] of [["sent", "0"], ["delivered", "1"], ["read", "2"]]) {
    await deliverEvent(request, slug, `message.status.${status}`, statusOf(message, mine, status, `${minute}${at}:00Z`));
  }
  const theirs = unique("wamid.theirs");
  await deliverEvent(request, slug, "message.status.sent", statusOf(theirs, other, "sent", `${minute}0:00Z`));

  await logIn(page, "/deliveries");
  await waitForLive(page);
  await page.getByLabel("Recipient").fill(mine);
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`recipient=${mine}`));

  const rows = page.locator("tr.expandable");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(message);
  await expect(rows.first()).toContainText("read");
  await expect(page.getByText(theirs)).toHaveCount(0);

  await page.getByRole("button", { name: `Timeline of ${message}` }).click();
  const steps = page.locator(".timeline-step");
  await expect(steps).toHaveText([/sent/, /delivered/, /read/]);

  await page.reload();
  await expect(page.getByLabel("Recipient")).toHaveValue(mine);
  await expect(page.locator("tr.expandable")).toHaveCount(1);
  await expect(page.locator("tr.expandable").first()).toContainText(message);
});

test("filter: an open timeline stays open and follows its statuses while others arrive", async ({
  page,
  request,
}) => {
  const recipient = uniquePhone();
  const watched = unique("wamid.watched");
  const minute = "2026-06-05T11:1";
  const send = (messageId: string, status: string, at: string) =>
    deliverEvent(request, slug, `message.status.${status}`, statusOf(messageId, recipient, status, `${minute}${at}:00Z`));
  await send(watched, "sent", "0");

  await logIn(page, `/deliveries?recipient=${recipient}`);
  await waitForLive(page);
  const toggle = page.getByRole("button", { name: `Timeline of ${watched}` });
  await toggle.click();
  const steps = page.locator(".timeline-step");
  await expect(steps).toHaveText([/sent/]);

  // Another message to the same recipient, then the watched one moves on.
  const another = unique("wamid.another");
  await send(another, "sent", "1");
  await send(watched, "delivered", "2");
  await send(watched, "read", "3");
  await expect(steps).toHaveText([/sent/, /delivered/, /read/]);
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  // The list held still under the reader: the other message is not in yet.
  await expect(page.locator("tr.expandable")).toHaveCount(1);

  // Closing the timeline lets the list catch up.
  await toggle.click();
  const rows = page.locator("tr.expandable");
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: watched })).toContainText("read");

  // A row left open under one filter does not hold the list of another.
  await toggle.click();
  const elsewhere = uniquePhone();
  await page.getByLabel("Recipient").fill(elsewhere);
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(new RegExp(`recipient=${elsewhere}`));
  const theirs = unique("wamid.elsewhere");
  await deliverEvent(request, slug, "message.status.sent", statusOf(theirs, elsewhere, "sent", `${minute}4:00Z`));
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(theirs);
});

test("alert: a rejected template pops up everywhere; an acknowledgement clears it in every tab", async ({
  context,
  request,
}) => {
  // Two tabs of one browser, sharing the session.
  const first = await context.newPage();
  await logIn(first, "/conversations", "e2e-operator", "operator-password-1");
  const second = await context.newPage();
  await second.goto("/");
  await waitForLive(first);
  await waitForLive(second);
  const count = second.locator(".alert-count");
  const before = Number(await count.getAttribute("data-count"));

  const template = unique("spring_sale_");
  await deliverEvent(request, slug, "template.status_update", {
    templateName: template,
    category: "MARKETING",
    language: "en",
    status: "REJECTED",
    reason: "INCORRECT_CATEGORY",
  });

  const toast = first.getByRole("alert").filter({ hasText: template });
  await expect(toast).toContainText("INCORRECT_CATEGORY");
  await expect(count).toHaveAttribute("data-count", String(before + 1));

  await toast.getByRole("button", { name: "Acknowledge" }).click();
  await expect(toast).toHaveCount(0);
  await expect(count).toHaveAttribute("data-count", String(before));
});

test("API: a token lists one recipient's deliveries as JSON", async ({ request }) => {
  const phone = uniquePhone();
  const message = unique("wamid.api");
  await deliverEvent(request, slug, "message.status.delivered", statusOf(message, phone, "delivered", "2026-06-05T10:31:00Z"));
  const apiToken = cli(["token", "create", unique("e2e-script-"), "--role", "viewer"]).trim();

  await expect(async () => {
    const response = await request.get(`/api/v1/deliveries?recipient=${phone}`, {
      headers: { authorization: `Bearer ${apiToken}` },
    });
    expect(response.status()).toBe(200);
    const body = await response.json();
    expect(body.items.map((t: { message_id: string }) => t.message_id)).toEqual([message]);
    expect(body.items[0].status).toBe("delivered");
  }).toPass({ timeout: 5_000 });
});
