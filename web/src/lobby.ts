// The lobby's waiting screen: told of the decision by lobby-events at once, polling
// request-entry as a fallback when the stream can't be held open.
import { ApiError, call, roomPath, type Config, type Entry, type LiveKitAccess, type Room } from "./api";
import { announce, h } from "./dom";
import type { Ending } from "./meeting";
import { stream } from "./sse";

interface Outcome {
  admitted: (access: LiveKitAccess) => void;
  ended: (kind: Ending, detail?: string) => void;
  sentBack?: boolean;
}

const MAX_STREAM_FAILURES = 3;

export function waitInLobby(config: Config, room: Room, name: string, outcome: Outcome): HTMLElement[] {
  const controller = new AbortController();
  const status = h("p", { role: "status", class: "lobby-status" }, "Waiting for a host…");
  let done = false;
  // Sent back from the meeting, the old admission can show for a moment before the new
  // place: an admission counts only after the place was seen waiting.
  let seenWaiting = !outcome.sentBack;

  function finish(entry: Entry): boolean {
    if (done) return true;
    if (entry.status === "waiting") seenWaiting = true;
    if (entry.status === "accepted" && entry.livekit && seenWaiting) {
      done = true;
      controller.abort();
      announce("You were let in.");
      outcome.admitted(entry.livekit);
      return true;
    }
    if (entry.status === "denied") {
      done = true;
      controller.abort();
      outcome.ended("denied");
      return true;
    }
    return false;
  }

  function fail(kind: Ending, detail?: string): void {
    if (done) return;
    done = true;
    controller.abort();
    outcome.ended(kind, detail);
  }

  const sleep = (seconds: number) => new Promise((resolve) => window.setTimeout(resolve, seconds * 1000));

  async function poll(): Promise<void> {
    const entry = await call<Entry>("POST", `${roomPath(room)}/request-entry/`, { username: name });
    finish(entry);
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!done) {
      if (failures < MAX_STREAM_FAILURES) {
        try {
          await stream(`${roomPath(room)}/lobby-events/`, controller.signal, (message) => {
            failures = 0;
            // `event: reconnect` (a server stopping) just ends the stream: opened again below.
            if (message.event === "message") finish(JSON.parse(message.data) as Entry);
          });
          if (done || controller.signal.aborted) return;
          await sleep(0.5);
          continue; // the server closed the stream (a restart): open it again
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) return fail("expired");
          if (error instanceof ApiError && error.status === 403) return fail("banned", error.detail);
          failures += 1;
          status.textContent = "Still waiting (reconnecting)…";
        }
      }
      // Fallback: poll request-entry, which also keeps the place.
      try {
        await poll();
        status.textContent = "Waiting for a host…";
      } catch (error) {
        if (error instanceof ApiError && error.status === 403) return fail("banned", error.detail);
        status.textContent = `Still waiting; ${(error as Error).message}`;
      }
      await sleep(config.lobby.poll_interval_s);
    }
  }

  void run();
  const cancel = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: () => {
        done = true;
        controller.abort();
        history.pushState(null, "", "/");
        window.dispatchEvent(new PopStateEvent("popstate"));
      },
    },
    "Stop waiting",
  );
  return [
    h(
      "section",
      { class: "card lobby", "aria-labelledby": "lobby-title" },
      h("h1", { id: "lobby-title" }, outcome.sentBack ? "You are back in the waiting room" : "Waiting to be let in"),
      h("p", {}, `${room.name}: a host has been told you are here, as ${name}. Keep this page open.`),
      h("div", { class: "spinner", "aria-hidden": "true" }),
      status,
      cancel,
    ),
  ];
}
