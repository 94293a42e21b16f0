// The side panel: everyone sees the people in the meeting; hosts (owners and
// administrators) also get the waiting list, moderation, room settings and the audit trail.
import { Participant, RemoteParticipant, Room as LkRoom, Track } from "livekit-client";
import {
  SOURCES,
  call,
  roomPath,
  type AuditRecord,
  type LiveKitAccess,
  type Page,
  type Room,
  type Source,
  type Waiting,
  MODERATION_TOPIC,
} from "./api";
import { clear, field, h, id } from "./dom";
import { stream } from "./sse";

export interface Panel {
  onChange: () => void;
  render(): void;
  close(): void;
  someoneWaiting(): void;
  waitingCount(): number;
}

const SOURCE_LABELS: Record<Source, string> = {
  camera: "Camera",
  microphone: "Microphone",
  screen_share: "Screen",
  screen_share_audio: "Screen audio",
};
const BAN_SECONDS = 3600;
const TRACK_SOURCES: Record<number, Source> = { 1: "camera", 2: "microphone", 3: "screen_share", 4: "screen_share_audio" };

export function hostPanel(
  box: HTMLElement,
  lk: LkRoom,
  room: Room,
  _access: LiveKitAccess,
  say: (text: string) => void,
): Panel {
  const isHost = room.is_administrable;
  const path = roomPath(room);
  const controller = new AbortController();
  const waiting = new Map<string, Waiting>();
  const tabs: [string, string][] = isHost
    ? [
        ["waiting", "Waiting"],
        ["people", "People"],
        ["settings", "Settings"],
        ["audit", "Activity"],
      ]
    : [["people", "People"]];
  const sections: Record<string, HTMLElement> = {};
  const tabButtons: Record<string, HTMLButtonElement> = {};
  const tabList = h("div", { role: "tablist", "aria-label": "Panel sections", class: "tabs" });
  let current = tabs[0][0];

  function select(name: string, focus = false): void {
    current = name;
    for (const [key] of tabs) {
      tabButtons[key].setAttribute("aria-selected", String(key === name));
      tabButtons[key].tabIndex = key === name ? 0 : -1;
      sections[key].hidden = key !== name;
    }
    if (focus) tabButtons[name].focus();
    if (name === "audit") void loadAudit();
    render();
  }

  for (const [key, label] of tabs) {
    const tabId = id("tab");
    const panelId = id("tabpanel");
    tabButtons[key] = h(
      "button",
      { type: "button", role: "tab", id: tabId, "aria-controls": panelId, onclick: () => select(key) },
      label,
    );
    sections[key] = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "tabpanel" });
    tabList.append(tabButtons[key]);
  }
  tabList.addEventListener("keydown", (event: KeyboardEvent) => {
    const keys = tabs.map(([key]) => key);
    const index = keys.indexOf(current);
    if (event.key === "ArrowRight") select(keys[(index + 1) % keys.length], true);
    else if (event.key === "ArrowLeft") select(keys[(index - 1 + keys.length) % keys.length], true);
    else return;
    event.preventDefault();
  });
  clear(box, h("h2", { class: "visually-hidden" }, isHost ? "Host panel" : "People"), tabList, ...Object.values(sections));

  async function act(label: string, method: string, url: string, body?: unknown): Promise<boolean> {
    try {
      await call(method, url, body);
      say(label);
      return true;
    } catch (failure) {
      say(`Failed: ${(failure as Error).message}`);
      return false;
    }
  }

  // ------------------------------------------------------------ waiting list
  const waitingList = h("ul", { class: "list", "aria-label": "People waiting" });
  const allButtons = h(
    "div",
    { class: "row" },
    h("button", { type: "button", onclick: () => void act("Everyone waiting was let in.", "POST", `${path}/enter-all/`, { allow_entry: true }) }, "Admit all"),
    h("button", { type: "button", class: "secondary", onclick: () => void act("Everyone waiting was declined.", "POST", `${path}/enter-all/`, { allow_entry: false }) }, "Deny all"),
  );
  if (isHost) sections.waiting.append(h("h3", {}, "Waiting room"), allButtons, waitingList);

  function renderWaiting(): void {
    const people = [...waiting.values()].filter((w) => w.status === "waiting");
    people.forEach((w) => known.set(w.id, w.username));
    allButtons.hidden = people.length === 0;
    waitingList.replaceChildren(
      ...(people.length
        ? people.map((w) =>
            h(
              "li",
              { class: "item", "data-waiting": w.id },
              h("span", { class: "dot", style: `background:${w.color}`, "aria-hidden": "true" }),
              h("span", { class: "name" }, w.username),
              h("button", { type: "button", onclick: () => void decide(w, true) }, ...hidden("Admit", ` ${w.username}`)),
              h("button", { type: "button", class: "secondary", onclick: () => void decide(w, false) }, ...hidden("Deny", ` ${w.username}`)),
            ),
          )
        : [h("li", { class: "empty" }, "Nobody is waiting.")]),
    );
    if (isHost) tabButtons.waiting.textContent = people.length ? `Waiting (${people.length})` : "Waiting";
  }

  async function decide(w: Waiting, allow: boolean): Promise<void> {
    if (await act(allow ? `${w.username} was let in.` : `${w.username} was declined.`, "POST", `${path}/enter/`, { participant_id: w.id, allow_entry: allow })) {
      waiting.delete(w.id);
      renderWaiting();
    }
  }

  function knock(w: Waiting): void {
    say(`${w.username} is waiting to join.`);
    chime();
  }

  async function followWaiting(): Promise<void> {
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        await stream(`${path}/waiting-participants-events/`, controller.signal, (message) => {
          failures = 0;
          if (message.event === "participants") {
            const list = (JSON.parse(message.data) as { participants: Waiting[] }).participants;
            waiting.clear();
            list.forEach((w) => waiting.set(w.id, w));
          } else if (message.event === "participant") {
            const w = JSON.parse(message.data) as Waiting;
            const isNew = w.status === "waiting" && !waiting.has(w.id);
            if (w.status === "waiting") waiting.set(w.id, w);
            else waiting.delete(w.id);
            if (isNew) knock(w);
          }
          renderWaiting();
          panel.onChange();
        });
      } catch {
        failures += 1;
        // Fallback while the stream can't be held: the list by polling.
        try {
          const list = await call<{ participants: Waiting[] }>("GET", `${path}/waiting-participants/`);
          waiting.clear();
          list.participants.forEach((w) => waiting.set(w.id, w));
          renderWaiting();
          panel.onChange();
        } catch {
          /* try the stream again */
        }
      }
      if (controller.signal.aborted) return;
      await new Promise((resolve) => window.setTimeout(resolve, Math.min(1000 * 2 ** failures, 10_000)));
    }
  }

  // ------------------------------------------------------------ participants
  const peopleList = h("ul", { class: "list", "aria-label": "People in the meeting" });
  sections.people.append(peopleList);
  const openDetails = new Set<string>();
  // Names of everyone seen (in the room or waiting), for the activity of those who left.
  const known = new Map<string, string>();

  function trackOf(p: Participant, source: Track.Source) {
    const publication = p.getTrackPublication(source);
    return publication && !publication.isMuted ? publication : null;
  }

  function personRow(p: Participant): HTMLElement {
    const remote = p instanceof RemoteParticipant;
    const name = p.name || p.identity;
    const role = p.attributes.room_role;
    const facts = [role || (p.attributes.is_authenticated === "true" ? "signed in" : "guest"), p.attributes.handRaisedAt ? "hand raised" : ""].filter(Boolean).join(", ");
    const row = h(
      "li",
      { class: "item person", "data-identity": p.identity },
      h("span", { class: "dot", style: `background:${p.attributes.color || "#888"}`, "aria-hidden": "true" }),
      h("span", { class: "name" }, `${name}${remote ? "" : " (you)"}`, h("span", { class: "facts" }, ` ${facts}`)),
    );
    if (!remote) return row;
    const canMute = isHost || room.configuration.everyone_can_mute;
    const actions = h("div", { class: "actions" });
    if (canMute) {
      for (const [source, what] of [
        [Track.Source.Microphone, "microphone"],
        [Track.Source.Camera, "camera"],
        [Track.Source.ScreenShare, "screen share"],
      ] as const) {
        const publication = trackOf(p, source);
        if (!publication) continue;
        actions.append(
          h(
            "button",
            {
              type: "button",
              onclick: () => void act(`${name}'s ${what} was muted.`, "POST", `${path}/mute-participant/`, { participant_identity: p.identity, track_sid: publication.trackSid }),
            },
            ...hidden(`Mute ${what}`, ` (${name})`),
          ),
        );
      }
    }
    if (isHost) actions.append(moderation(p, name));
    row.append(actions);
    return row;
  }

  function moderation(p: Participant, name: string): HTMLElement {
    const details = h("details", { class: "more", open: openDetails.has(p.identity) });
    details.addEventListener("toggle", () => {
      if (details.open) openDetails.add(p.identity);
      else openDetails.delete(p.identity);
    });
    const allowed = new Set((p.permissions?.canPublishSources ?? []).map((n) => TRACK_SOURCES[n]));
    const all = p.permissions?.canPublish && allowed.size === 0;
    const boxes = SOURCES.map((source) => {
      const box = h("input", { type: "checkbox", checked: !!p.permissions?.canPublish && (all || allowed.has(source)) });
      box.dataset.source = source;
      return h("label", { class: "check" }, box, ` ${SOURCE_LABELS[source]}`);
    });
    const sourcesForm = h(
      "fieldset",
      {},
      h("legend", {}, `What ${name} may share`),
      ...boxes,
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            const chosen = boxes.map((label) => label.querySelector("input") as HTMLInputElement).filter((b) => b.checked).map((b) => b.dataset.source);
            void act(`${name} may now share: ${chosen.join(", ") || "nothing"}.`, "POST", `${path}/update-participant/`, {
              participant_identity: p.identity,
              permission: { can_publish: chosen.length > 0, can_publish_sources: chosen },
            });
          },
        },
        "Apply",
      ),
    );
    const role = p.attributes.room_role;
    const roleButton =
      p.attributes.is_authenticated === "true" && role !== "owner"
        ? h(
            "button",
            {
              type: "button",
              onclick: () => {
                const next = role === "administrator" ? "member" : "administrator";
                void act(`${name} is now ${next === "administrator" ? "an administrator" : "a member"}.`, "POST", `${path}/update-participant-role/`, { participant_identity: p.identity, role: next });
              },
            },
            role === "administrator" ? "Make member" : "Make administrator",
          )
        : null;
    const ban = h("input", { type: "checkbox" });
    const removeBox = h(
      "div",
      { class: "confirm" },
      h("label", { class: "check" }, ban, " Also ban for an hour"),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async () => {
            const banned = ban.checked;
            try {
              // Tell them why before they are disconnected (best effort).
              await lk.localParticipant.publishData(new TextEncoder().encode(JSON.stringify({ action: banned ? "banned" : "removed" })), {
                reliable: true,
                destinationIdentities: [p.identity],
                topic: MODERATION_TOPIC,
              });
            } catch {
              /* they will learn it from the server */
            }
            await act(`${name} was removed${banned ? " and banned" : ""}.`, "POST", `${path}/remove-participant/`, {
              participant_identity: p.identity,
              ...(banned ? { ban_seconds: BAN_SECONDS } : {}),
            });
          },
        },
        ...hidden("Remove", ` ${name}`),
      ),
    );
    const lobby =
      room.access_level !== "public"
        ? h(
            "button",
            {
              type: "button",
              onclick: () => void act(`${name} was sent back to the waiting room.`, "POST", `${path}/send-to-lobby/`, { participant_identity: p.identity }),
            },
            ...hidden("Send to waiting room", ` (${name})`),
          )
        : null;
    details.append(h("summary", { "aria-label": `More actions for ${name}` }, "More"), sourcesForm, h("div", { class: "row" }, roleButton, lobby), removeBox);
    return details;
  }

  let shown = "";
  function signature(p: Participant): string {
    const tracks = [...p.trackPublications.values()].map((t) => `${t.trackSid}:${t.source}:${t.isMuted}`);
    return JSON.stringify([p.identity, p.name, p.attributes, p.permissions?.canPublish, p.permissions?.canPublishSources, tracks]);
  }

  function renderPeople(): void {
    const people: Participant[] = [lk.localParticipant, ...lk.remoteParticipants.values()];
    const now = JSON.stringify([room.access_level, room.configuration.everyone_can_mute, people.map(signature)]);
    // Rebuilt only when something shown changed; the focused control keeps its place.
    if (now === shown) return;
    shown = now;
    const focusable = "button, input, select, summary";
    const active = document.activeElement;
    let refocus: [string, number] | null = null;
    const row = active && peopleList.contains(active) ? active.closest<HTMLElement>("li[data-identity]") : null;
    if (row && active) refocus = [row.dataset.identity ?? "", [...row.querySelectorAll(focusable)].indexOf(active)];
    const present = new Set(people.map((p) => p.identity));
    people.forEach((p) => known.set(p.identity, p.name || p.identity));
    [...openDetails].filter((identity) => !present.has(identity)).forEach((identity) => openDetails.delete(identity));
    peopleList.replaceChildren(...people.map(personRow));
    tabButtons.people.textContent = `People (${people.length})`;
    if (refocus) {
      const again = [...peopleList.querySelectorAll<HTMLElement>("li[data-identity]")].find((li) => li.dataset.identity === refocus[0]);
      const controls = again ? [...again.querySelectorAll<HTMLElement>(focusable)] : [];
      (controls[refocus[1]] ?? controls[0])?.focus();
    }
  }

  // ------------------------------------------------------------ settings
  if (isHost) {
    const access = h(
      "select",
      {},
      ...(
        [
          ["public", "Public: anyone with the link"],
          ["trusted", "Trusted: logged-in people; others wait"],
          ["restricted", "Restricted: invited people; others wait"],
        ] as const
      ).map(([level, label]) => h("option", { value: level, selected: room.access_level === level }, label)),
    );
    const sourceBoxes = SOURCES.map((source) => {
      const box = h("input", { type: "checkbox", checked: room.configuration.can_publish_sources.includes(source) });
      box.dataset.source = source;
      return h("label", { class: "check" }, box, ` ${SOURCE_LABELS[source]}`);
    });
    const everyone = h("input", { type: "checkbox", checked: room.configuration.everyone_can_mute });
    const confirmEnd = h(
      "button",
      { type: "button", class: "danger", hidden: true, onclick: () => void act("The meeting was ended for everyone.", "POST", `${path}/end-meeting/`, {}) },
      "Yes, end it for everyone",
    );
    sections.settings.append(
      h(
        "form",
        {
          onsubmit: async (event: Event) => {
            event.preventDefault();
            const sources = sourceBoxes.map((l) => l.querySelector("input") as HTMLInputElement).filter((b) => b.checked).map((b) => b.dataset.source as Source);
            try {
              const saved = await call<Room>("PATCH", `${path}/`, {
                access_level: access.value,
                configuration: { can_publish_sources: sources, everyone_can_mute: everyone.checked },
              });
              room.access_level = saved.access_level;
              room.configuration = saved.configuration;
              say("Room settings saved.");
            } catch (failure) {
              say(`Failed: ${(failure as Error).message}`);
            }
          },
        },
        h("h3", {}, "Room settings"),
        field("Who can enter", access),
        h("fieldset", {}, h("legend", {}, "What participants may share"), ...sourceBoxes),
        h("label", { class: "check" }, everyone, " Everyone can mute others"),
        h("button", { type: "submit" }, "Save settings"),
      ),
      h(
        "div",
        { class: "end-box" },
        h("h3", {}, "End the meeting"),
        h("button", { type: "button", class: "danger", onclick: () => { confirmEnd.hidden = false; confirmEnd.focus(); } }, "End meeting for everyone"),
        confirmEnd,
      ),
    );
  }

  // ------------------------------------------------------------ audit trail
  const auditList = h("ol", { class: "list audit", "aria-label": "Activity" });
  if (isHost) {
    sections.audit.append(h("div", { class: "row" }, h("h3", {}, "Activity"), h("button", { type: "button", class: "secondary", onclick: () => void loadAudit() }, "Refresh")), auditList);
  }
  const names = (identity: string) => {
    if (!identity) return "";
    if (identity === lk.localParticipant.identity) return lk.localParticipant.name || identity;
    return lk.remoteParticipants.get(identity)?.name || known.get(identity) || identity.slice(0, 12);
  };
  const what = (r: AuditRecord) => {
    const d = r.detail;
    const parts = [r.action.replace(/_/g, " ")];
    if (typeof d.allow_entry === "boolean") parts.push(d.allow_entry ? "(admit)" : "(deny)");
    if (typeof d.ban_seconds === "number") parts.push(`and ban for ${Math.round(d.ban_seconds / 60)} min`);
    return parts.join(" ");
  };
  async function loadAudit(): Promise<void> {
    try {
      const page = await call<Page<AuditRecord>>("GET", `${path}/audit/?page_size=50`);
      auditList.replaceChildren(
        ...(page.results.length
          ? page.results.map((r) =>
              h(
                "li",
                { class: "item" },
                h("time", { datetime: r.created_at }, new Date(r.created_at).toLocaleTimeString()),
                ` ${names(r.actor_identity) || "someone"}: ${what(r)}${r.target_identity ? ` → ${names(r.target_identity)}` : ""} (${r.outcome})`,
              ),
            )
          : [h("li", { class: "empty" }, "Nothing yet.")]),
      );
    } catch (failure) {
      auditList.replaceChildren(h("li", { class: "error" }, (failure as Error).message));
    }
  }

  function render(): void {
    renderPeople();
    if (isHost) renderWaiting();
  }

  const panel: Panel = {
    onChange: () => {},
    render,
    close: () => controller.abort(),
    someoneWaiting: () => {
      /* the waiting-participants stream brings the name; nothing else to do */
    },
    waitingCount: () => [...waiting.values()].filter((w) => w.status === "waiting").length,
  };
  select(current);
  if (isHost) void followWaiting();
  return panel;
}

/** Visible text, then words only screen readers hear (the name stays what is seen, first). */
function hidden(visible: string, more: string): (string | HTMLElement)[] {
  return [visible, h("span", { class: "visually-hidden" }, more)];
}

let audio: AudioContext | null = null;
/** A short two-note chime: someone knocks. */
function chime(): void {
  try {
    audio ??= new AudioContext();
    const now = audio.currentTime;
    for (const [offset, frequency] of [
      [0, 660],
      [0.18, 880],
    ]) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.16);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + offset);
      oscillator.stop(now + offset + 0.18);
    }
  } catch {
    /* no audio output: the notice is enough */
  }
}

