/**
 * Using the generated types: log in (or use an API key), submit a seller's CSV file, follow the
 * batch's progress live, then read its BUY lines. Runs in a browser or Node.js 20+ (fetch and
 * streams are built in); the test suite checks it with `tsc --noEmit` against src/schema.d.ts.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema";

export type Batch = components["schemas"]["BatchView"];
export type Analysis = components["schemas"]["AnalysisView"];
export type Problem = components["schemas"]["Problem"];
export type Accepted = components["schemas"]["BatchAccepted"];

/** One message of `GET /api/v1/batches/{id}/events` (`event: status` or `event: progress`). */
export type BatchProgress = Pick<
  Batch,
  "status" | "items_total" | "items_processed" | "items_failed" | "eta_seconds"
> & { batch_id: string };

const TERMINAL: ReadonlySet<Batch["status"]> = new Set(["COMPLETED", "FAILED", "CANCELLED"]);

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
}

/** A problem+json answer as an exception: `detail` names the field, row or limit. */
function fail(problem: unknown, response: Response): never {
  if (problem !== null && typeof problem === "object" && "status" in problem) {
    throw new ApiError(problem as Problem);
  }
  throw new ApiError({ type: "about:blank", title: response.statusText, status: response.status });
}

/** A client whose every request carries the seller's credentials. */
export function connect(baseUrl: string, credentials: { token: string } | { apiKey: string }) {
  const headers: Record<string, string> =
    "token" in credentials
      ? { Authorization: `Bearer ${credentials.token}` }
      : { "X-API-Key": credentials.apiKey };
  return { api: createClient<paths>({ baseUrl, headers }), baseUrl, headers };
}

export type Connection = ReturnType<typeof connect>;

/** OAuth2 password flow: the form is sent url-encoded, as the operation documents. */
export async function logIn(baseUrl: string, email: string, password: string): Promise<string> {
  const anonymous: Client<paths> = createClient<paths>({ baseUrl });
  const { data, error, response } = await anonymous.POST("/api/v1/auth/token", {
    body: { username: email, password },
    headers: { "Content-Type": "application/x-www-form-urlencoded" }, // serialised as a form
  });
  if (data === undefined) fail(error, response);
  return data.access_token;
}

/** Upload the file as it is (a `text/csv` body); the gateway finds the columns by their headers. */
export async function submitCsv(conn: Connection, file: Blob, name: string): Promise<Accepted> {
  const { data, error, response } = await conn.api.POST("/api/v1/batches", {
    params: { query: { name } },
    body: await file.text(),
    headers: { "Content-Type": "text/csv" },
    bodySerializer: (csv) => csv, // sent as it is, not as JSON
  });
  if (data === undefined) fail(error, response);
  return data;
}

/** Server-Sent Events: each `data:` of a text/event-stream, as it arrives. */
async function* sseData(stream: NonNullable<Response["body"]>): AsyncGenerator<string> {
  let buffered = "";
  // A reader loop, not `for await`: Safari's streams are not async iterable.
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffered += read.value.replaceAll("\r\n", "\n");
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const data = buffered
          .slice(0, end)
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        buffered = buffered.slice(end + 2);
        if (data !== "") yield data; // else a comment (keep-alive) or the retry advice
      }
    }
  } finally {
    await reader.cancel();
  }
}

/**
 * Follow the batch live with a streaming fetch (it sends the Authorization header, which
 * EventSource cannot) until its terminal event.
 */
export async function followProgress(
  conn: Connection,
  batchId: string,
  onProgress: (progress: BatchProgress) => void,
): Promise<BatchProgress> {
  const { data, error, response } = await conn.api.GET("/api/v1/batches/{batch_id}/events", {
    params: { path: { batch_id: batchId } },
    headers: { Accept: "text/event-stream" },
    parseAs: "stream",
  });
  if (data === undefined || data === null) fail(error, response);
  for await (const message of sseData(data)) {
    const progress = JSON.parse(message) as BatchProgress;
    onProgress(progress);
    if (TERMINAL.has(progress.status)) return progress;
  }
  throw new Error(`the stream of batch ${batchId} ended before the batch did`);
}

/**
 * The same in a browser with EventSource, which cannot send credentials: a single-use ticket
 * (never the access token) goes in the URL. EventSource reconnects by itself with Last-Event-ID.
 */
export async function followInBrowser(
  conn: Connection,
  batchId: string,
  onProgress: (progress: BatchProgress) => void,
): Promise<BatchProgress> {
  const { data, error, response } = await conn.api.POST("/api/v1/stream-tickets", {
    body: { batch_id: batchId },
  });
  if (data === undefined) fail(error, response);
  const query = new URLSearchParams({ ticket: data.ticket });
  const source = new EventSource(`${conn.baseUrl}/api/v1/batches/${batchId}/events?${query}`);
  return new Promise((resolve, reject) => {
    const handle = (event: MessageEvent<string>) => {
      const progress = JSON.parse(event.data) as BatchProgress;
      onProgress(progress);
      if (TERMINAL.has(progress.status)) {
        source.close();
        resolve(progress);
      }
    };
    source.addEventListener("status", handle);
    source.addEventListener("progress", handle);
    // A reconnection needs a new ticket (each is single use): give up here instead.
    source.onerror = () => {
      source.close();
      reject(new Error(`the progress stream of batch ${batchId} failed`));
    };
  });
}

/** The batch's BUY lines, best ROI first, every page. */
export async function buyList(conn: Connection, batchId: string): Promise<Analysis[]> {
  const found: Analysis[] = [];
  for (let page = 1; ; page++) {
    const { data, error, response } = await conn.api.GET("/api/v1/analyses", {
      params: {
        query: { batch_id: batchId, recommendation: "BUY", sort: "-roi", page, size: 500 },
      },
    });
    if (data === undefined) fail(error, response);
    found.push(...data.items);
    if (found.length >= data.total || data.items.length === 0) return found;
  }
}

/** The whole flow: what a seller's script or web page does with a file they picked. */
export async function run(baseUrl: string, email: string, password: string, file: Blob) {
  const conn = connect(baseUrl, { token: await logIn(baseUrl, email, password) });
  const accepted = await submitCsv(conn, file, "library sale");
  const done = await followProgress(conn, accepted.id, (p) => {
    const eta = p.eta_seconds == null ? "" : `, ~${Math.round(p.eta_seconds)} s left`;
    console.log(`${p.items_processed}/${p.items_total} done, ${p.items_failed} failed${eta}`);
  });
  if (done.status !== "COMPLETED") throw new Error(`batch ${accepted.id} ended ${done.status}`);
  for (const line of await buyList(conn, accepted.id)) {
    const why = line.reasons
      .map((r) => `${r.rule} ${r.passed === false ? "failed" : "ok"}`)
      .join(", ");
    console.log(`${line.identifier} ${line.title ?? ""}: ROI ${line.roi_percent ?? "?"}% (${why})`);
  }
}
