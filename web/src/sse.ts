// Server-sent events over fetch (unlike EventSource, it tells the status of the answer).
import { API, ApiError } from "./api";

export interface SseMessage {
  event: string;
  data: string;
}

/** Calls `onMessage` per event until the stream ends or `signal` aborts; throws ApiError
 * when the server refuses the stream. Resolves when the server closes it. */
export async function stream(
  path: string,
  signal: AbortSignal,
  onMessage: (message: SseMessage) => void,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(API + path, {
      credentials: "include",
      headers: { Accept: "text/event-stream" },
      signal,
    });
  } catch (error) {
    if (signal.aborted) return;
    throw new ApiError(0, String(error));
  }
  if (!response.ok || !response.body) {
    let detail = `The server answered ${response.status}.`;
    try {
      detail = ((await response.json()) as { detail?: string }).detail ?? detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, detail);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onMessage({ event, data: data.join("\n") });
      }
    }
  } catch (error) {
    if (signal.aborted) return;
    throw new ApiError(0, String(error));
  }
}
