// Talking to the server under test as Whats91 and as the command line do.
import { execFileSync } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { APIRequestContext } from "@playwright/test";

export const server = process.env.E2E_SERVER ?? "../target/debug/whats91-ops";
export const database = process.env.E2E_DATABASE as string;
export const secret = "whsec_end2end_created_once_only";
export const token = "end2end-crm-token";

// The stand-in Whats91 (`whats91-ops simulate`) the server's API client
// talks to, and the API token both are given.
export const simulatorURL = `http://127.0.0.1:${process.env.E2E_SIMULATOR_PORT}`;
export const simulatorToken = "end2end-whats91-api-token";

// Runs the real command line on the database the server under test uses.
export function cli(args: string[], input?: string): string {
  return execFileSync(server, [...args, "--database", database], {
    input,
    encoding: "utf8",
  });
}

// Runs `cli`; a refusal because the thing already exists is fine (a retried
// test file runs its setup again on the same database).
function ensure(args: string[], input?: string) {
  try {
    cli(args, input);
  } catch (error) {
    if (!String((error as { stderr?: string }).stderr).includes("already exists")) {
      throw error;
    }
  }
}

// Registers a destination by hand.
export function addDestination(slug: string) {
  ensure(["destination", "add", "--slug", slug, "--secret", secret, "--token", token, "--name", `E2E ${slug}`]);
}

// Creates an account with the given role and password.
export function addUser(name: string, role: "viewer" | "operator" | "admin", password: string) {
  ensure(["user", "add", name, "--role", role], `${password}\n`);
}

// Signed exactly as Whats91's Node sample signs: HMAC-SHA256 of the raw
// body, keyed with the secret string as given, lowercase hex.
export function sign(body: string) {
  return createHmac("sha256", secret).update(body).digest("hex");
}

// Posts a raw body to a destination as Whats91 delivers it (or, with
// `tamper`, with a signature over different bytes).
export function post(request: APIRequestContext, slug: string, body: string, tamper = false) {
  return request.post(`/webhooks/whats91/${slug}`, {
    headers: {
      "content-type": "application/json",
      "x-whats91-signature": sign(tamper ? body + " " : body),
      "x-crm-webhook-token": token,
    },
    data: body,
  });
}

// Posts one of the sample payloads.
export function deliver(request: APIRequestContext, slug: string, fixture: string, tamper = false) {
  return post(request, slug, readFileSync(`../tests/fixtures/payloads/${fixture}.json`, "utf8"), tamper);
}

// Posts an envelope built here: `data` is the event's data.
export async function deliverEvent(
  request: APIRequestContext,
  slug: string,
  event: string,
  data: Record<string, unknown>,
) {
  const body = JSON.stringify({ event, webhookUid: "wh_e2e", senderId: "916200000001", data });
  const response = await post(request, slug, body);
  if (response.status() !== 200) {
    throw new Error(`delivery refused with ${response.status()}: ${await response.text()}`);
  }
  return (await response.json()) as { seq: number };
}

// A value no other test uses.
export function unique(prefix: string) {
  return `${prefix}${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

// A phone number no other test uses.
export function uniquePhone() {
  return `91${Math.floor(7_000_000_000 + Math.random() * 2_999_999_999)}`;
}
