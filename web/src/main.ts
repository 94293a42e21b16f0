import "./style.css";
// Antechamber's web client: home, pre-join, lobby, meeting, and the pages that end a visit.
import {
  ApiError,
  call,
  me,
  roomPath,
  type Config,
  type Entry,
  type LiveKitAccess,
  type Room,
  type User,
} from "./api";
import { announce, clear, field, focusHeading, h } from "./dom";
import { waitInLobby } from "./lobby";
import { joinMeeting, type Ending } from "./meeting";
import { closePreview, prejoin, type Choice } from "./prejoin";

const main = document.getElementById("main") as HTMLElement;

interface Session {
  config: Config;
  user: User | null;
}

let session: Session | null = null;

async function loadSession(): Promise<Session> {
  if (!session) {
    const [config, user] = await Promise.all([call<Config>("GET", "/config/"), me()]);
    session = { config, user };
  }
  return session;
}

export function navigate(path: string): void {
  history.pushState(null, "", path);
  void route();
}

window.addEventListener("popstate", () => void route());

function show(title: string, ...children: (Node | null | false)[]): void {
  document.title = `${title} · Antechamber`;
  clear(main, ...children);
  focusHeading(main);
}

async function route(): Promise<void> {
  closePreview();
  const slug = decodeURIComponent(location.pathname.replace(/^\/+|\/+$/g, ""));
  try {
    const current = await loadSession();
    if (!slug) home(current);
    else await roomPage(current, slug);
  } catch (error) {
    show(
      "Unavailable",
      h("h1", {}, "Antechamber is unavailable"),
      h("p", {}, error instanceof Error ? error.message : String(error)),
      h("button", { type: "button", onclick: () => location.reload() }, "Try again"),
    );
  }
}

// ---------------------------------------------------------------- home
function home(current: Session): void {
  const { config, user } = current;
  const sections: HTMLElement[] = [];
  if (user) {
    sections.push(
      h(
        "section",
        { class: "card", "aria-labelledby": "account-title" },
        h("h2", { id: "account-title" }, "Your account"),
        h("p", {}, `Signed in as ${user.full_name || user.email || "your account"}.`),
        h("a", { class: "button secondary", href: "/api/v1.0/logout/" }, "Log out"),
      ),
      createForm(config),
    );
  } else {
    sections.push(loginSection(config));
  }
  sections.push(joinForm());
  show(
    "Home",
    h("h1", {}, "Antechamber"),
    h("p", { class: "lead" }, "Video meetings with a waiting room, on your own server."),
    ...sections,
  );
}

function loginSection(config: Config): HTMLElement {
  const box = h(
    "section",
    { class: "card", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, "Log in to create meetings"),
  );
  if (config.login_methods.includes("oidc")) {
    const back = encodeURIComponent(location.href);
    box.append(
      h("a", { class: "button", href: `/api/v1.0/authenticate/?returnTo=${back}` }, "Log in"),
    );
  }
  if (config.login_methods.includes("dev")) {
    const email = h("input", { type: "email", required: true, autocomplete: "email" });
    const error = h("p", { class: "error", role: "alert" });
    box.append(
      h(
        "form",
        {
          onsubmit: async (event: Event) => {
            event.preventDefault();
            try {
              await call("POST", "/dev-login/", { email: email.value });
              session = null;
              navigate(location.pathname);
            } catch (failure) {
              error.textContent = (failure as Error).message;
            }
          },
        },
        field("Email (development login)", email),
        h("button", { type: "submit" }, "Log in for development"),
        error,
      ),
    );
  }
  if (!config.login_methods.length) {
    box.append(h("p", {}, "No login is configured; you can still join meetings by link."));
  }
  return box;
}

function createForm(config: Config): HTMLElement {
  const name = h("input", { type: "text", required: true, maxLength: 100 });
  const access = h(
    "select",
    {},
    ...(
      [
        ["public", "Public: anyone with the link joins"],
        ["trusted", "Trusted: logged-in people join, others wait"],
        ["restricted", "Restricted: only invited people join, others wait"],
      ] as const
    ).map(([value, label]) =>
      h("option", { value, selected: value === config.resource.default_access_level }, label),
    ),
  );
  const error = h("p", { class: "error", role: "alert" });
  return h(
    "section",
    { class: "card", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title" }, "Create a meeting"),
    h(
      "form",
      {
        onsubmit: async (event: Event) => {
          event.preventDefault();
          try {
            const room = await call<Room>("POST", "/rooms/", {
              name: name.value,
              access_level: access.value,
            });
            announce(`Meeting ${room.name} created.`);
            navigate(`/${room.slug}`);
          } catch (failure) {
            error.textContent = (failure as Error).message;
          }
        },
      },
      field("Meeting name", name),
      field("Who can enter", access),
      h("button", { type: "submit" }, "Create meeting"),
      error,
    ),
  );
}

function joinForm(): HTMLElement {
  const code = h("input", { type: "text", required: true, autocomplete: "off" });
  return h(
    "section",
    { class: "card", "aria-labelledby": "join-title" },
    h("h2", { id: "join-title" }, "Join a meeting"),
    h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          const value = code.value.trim();
          let slug = value;
          try {
            slug = new URL(value).pathname;
          } catch {
            /* a code, not a link */
          }
          slug = slug.replace(/^\/+|\/+$/g, "").split("/").pop() ?? "";
          if (slug) navigate(`/${encodeURIComponent(slug)}`);
        },
      },
      field("Meeting link or code", code),
      h("button", { type: "submit" }, "Join"),
    ),
  );
}

// ---------------------------------------------------------------- room flow
async function roomPage(current: Session, slug: string): Promise<void> {
  let room: Room;
  try {
    room = await call<Room>("GET", `/rooms/${encodeURIComponent(slug)}/`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return end("notfound");
    if (error instanceof ApiError && error.status === 403) return end("banned", error.detail);
    throw error;
  }
  show(room.name, ...prejoin(current.config, current.user, room, (choice) => enter(current, room, choice)));
}

async function enter(current: Session, room: Room, choice: Choice): Promise<void> {
  performance.mark("antechamber-join");
  let access: LiveKitAccess | null;
  try {
    access = await requestAccess(room, choice.name);
  } catch (error) {
    if (error instanceof Denied) return end("denied", undefined, room);
    if (error instanceof ApiError && error.status === 403) return end("banned", error.detail);
    throw error; // shown by the pre-join page
  }
  if (access === null) {
    show(
      "Waiting",
      ...waitInLobby(current.config, room, choice.name, {
        admitted: (granted) => void meet(current, room, choice, granted),
        ended: (kind, detail) => end(kind, detail, room),
      }),
    );
    return;
  }
  await meet(current, room, choice, access);
}

/** A token at once, or null when the caller has to wait in the lobby. */
async function requestAccess(room: Room, name: string): Promise<LiveKitAccess | null> {
  if (room.id === null) {
    const fresh = await call<Room>("GET", `/rooms/${encodeURIComponent(room.slug)}/?username=${encodeURIComponent(name)}`);
    return fresh.livekit;
  }
  const entry = await call<Entry>("POST", `${roomPath(room)}/request-entry/`, { username: name });
  if (entry.status === "denied") throw new Denied();
  return entry.status === "accepted" ? entry.livekit : null;
}

class Denied extends Error {}

async function meet(current: Session, room: Room, choice: Choice, access: LiveKitAccess): Promise<void> {
  document.title = `${room.name} · Antechamber`;
  clear(main);
  await joinMeeting(main, {
    config: current.config,
    room,
    access,
    choice,
    onEnd: (kind: Ending, detail?: string) => end(kind, detail, room),
    onLobby: () => {
      show(
        "Waiting",
        ...waitInLobby(current.config, room, choice.name, {
          admitted: (granted) => void meet(current, room, choice, granted),
          ended: (kind, detail) => end(kind, detail, room),
          sentBack: true,
        }),
      );
    },
  });
}

const ENDINGS: Record<Ending, [string, string]> = {
  denied: ["Entry declined", "A host declined your request to join this meeting."],
  removed: ["Removed from the meeting", "A host removed you from this meeting."],
  banned: ["You can't join this meeting", "A host removed you and barred you from coming back for now."],
  ended: ["The meeting has ended", "A host ended this meeting for everyone."],
  livekit: [
    "The media server can't be reached",
    "Antechamber answered, but its LiveKit media server did not. Try again in a moment, or tell the person who runs this service.",
  ],
  left: ["You left the meeting", "You can rejoin while the meeting goes on."],
  disconnected: ["Connection lost", "The connection to the meeting was lost."],
  notfound: ["No such meeting", "Check the link or the code you were given."],
  expired: ["No longer waiting", "The meeting ended, or your request to join expired."],
  duplicate: ["Joined elsewhere", "You joined this meeting from another tab or device."],
};

function end(kind: Ending, detail?: string, room?: Room): void {
  const [title, text] = ENDINGS[kind];
  const rejoin = room && ["left", "disconnected", "livekit", "expired", "removed"].includes(kind);
  show(
    title,
    h(
      "section",
      { class: `card ending ending-${kind}`, "data-ending": kind },
      h("h1", {}, title),
      h("p", {}, text),
      detail && detail !== text ? h("p", { class: "detail" }, detail) : null,
      h(
        "div",
        { class: "row" },
        rejoin && room ? h("button", { type: "button", onclick: () => navigate(`/${room.slug}`) }, "Rejoin") : null,
        h("button", { type: "button", class: rejoin ? "secondary" : "", onclick: () => navigate("/") }, "Back to home"),
      ),
    ),
  );
}

void route();
