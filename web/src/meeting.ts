// The meeting: video grid, active speaker, mic/camera/screen toggles, raise hand, leave,
// and (for hosts) the panel in host.ts.
import {
  ConnectionState,
  DisconnectReason,
  Participant,
  Room as LkRoom,
  RoomEvent,
  Track,
  type LocalTrackPublication,
  type RemoteTrack,
  type TrackPublication,
} from "livekit-client";
import { ApiError, MODERATION_TOPIC, call, roomPath, type Config, type Entry, type LiveKitAccess, type Room } from "./api";
import { announce, clear, h } from "./dom";
import { hostPanel, type Panel } from "./host";
import type { Choice } from "./prejoin";
import { stream } from "./sse";

export type Ending =
  | "denied"
  | "removed"
  | "banned"
  | "ended"
  | "livekit"
  | "left"
  | "disconnected"
  | "notfound"
  | "expired"
  | "duplicate";

export interface MeetingOptions {
  config: Config;
  room: Room;
  access: LiveKitAccess;
  choice: Choice;
  onEnd: (kind: Ending, detail?: string) => void;
  onLobby: () => void;
}


const CONNECT_TIMEOUT_MS = 15_000;
const PROBES = 6;
const PROBE_INTERVAL_MS = 500;

export async function joinMeeting(root: HTMLElement, options: MeetingOptions): Promise<void> {
  const { room, access, choice } = options;
  const lk = new LkRoom({ adaptiveStream: true, dynacast: true });
  const connecting = h("p", { role: "status" }, "Connecting…");
  clear(root, h("h1", {}, room.name), connecting);
  try {
    await lk.connect(access.url, access.token, { peerConnectionTimeout: CONNECT_TIMEOUT_MS });
  } catch {
    choice.video?.stop();
    choice.audio?.stop();
    options.onEnd("livekit");
    return;
  }
  new Meeting(root, lk, options).start();
}

class Meeting {
  private grid = h("div", { class: "grid", role: "list", "aria-label": "Video of the participants" });
  private audio = h("div", { hidden: true });
  private notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  private tiles = new Map<string, HTMLElement>();
  private hint: "removed" | "banned" | null = null;
  private selfMuting = false;
  private handRaised = false;
  private controls: Record<string, HTMLButtonElement> = {};
  private panel: Panel | null = null;
  private firstFrame = false;

  constructor(
    private root: HTMLElement,
    private lk: LkRoom,
    private options: MeetingOptions,
  ) {}

  start(): void {
    const { room } = this.options;
    const panelBox = h("aside", { class: "panel", id: "meeting-panel", hidden: true, "aria-label": "People and settings" });
    this.panel = hostPanel(panelBox, this.lk, room, this.options.access, (text) => this.say(text));
    this.panel.onChange = () => this.renderControls();
    const header = h(
      "header",
      { class: "meeting-header" },
      h("h1", {}, room.name),
      h("span", { class: "code" }, `Code: ${room.slug}`),
    );
    const bar = this.controlBar(panelBox);
    clear(this.root, h("section", { class: "meeting" }, header, this.notice, h("div", { class: "stage" }, this.grid, panelBox), bar, this.audio));
    this.wire();
    void this.publish();
    this.render();
    this.root.querySelector<HTMLElement>("h1")?.focus();
  }

  private say(text: string): void {
    this.notice.textContent = text;
    announce(text);
  }

  private button(key: string, label: string, onclick: () => void, extra: Record<string, unknown> = {}): HTMLButtonElement {
    const button = h("button", { type: "button", class: "control", onclick, ...extra }, label);
    this.controls[key] = button;
    return button;
  }

  private controlBar(panelBox: HTMLElement): HTMLElement {
    const local = this.lk.localParticipant;
    const isHost = this.options.room.is_administrable;
    return h(
      "nav",
      { class: "controls", "aria-label": "Meeting controls" },
      this.button("mic", "Mute", () => void this.toggle(Track.Source.Microphone, !local.isMicrophoneEnabled), { "aria-pressed": "false" }),
      this.button("camera", "Stop camera", () => void this.toggle(Track.Source.Camera, !local.isCameraEnabled), { "aria-pressed": "false" }),
      this.button("screen", "Share screen", () => void this.toggle(Track.Source.ScreenShare, !local.isScreenShareEnabled), { "aria-pressed": "false" }),
      this.button("hand", "Raise hand", () => void this.toggleHand(), { "aria-pressed": "false" }),
      this.button(
        "panel",
        isHost ? "Host panel" : "People",
        () => {
          panelBox.hidden = !panelBox.hidden;
          this.controls.panel.setAttribute("aria-expanded", String(!panelBox.hidden));
          if (!panelBox.hidden) panelBox.querySelector<HTMLElement>("button, [tabindex]")?.focus();
        },
        { "aria-expanded": "false", "aria-controls": "meeting-panel" },
      ),
      this.button("leave", "Leave", () => void this.lk.disconnect(), { class: "control danger" }),
    );
  }

  private async publish(): Promise<void> {
    const { choice } = this.options;
    const local = this.lk.localParticipant;
    for (const track of [choice.video, choice.audio]) {
      if (!track) continue;
      try {
        // Back from the lobby: the last meeting stopped them; the same devices again.
        if (track.mediaStreamTrack.readyState === "ended") await track.restartTrack();
        await local.publishTrack(track);
      } catch (failure) {
        track.stop();
        this.say(`Could not share your ${track.kind === "video" ? "camera" : "microphone"}: ${(failure as Error).message}`);
      }
    }
    this.render();
  }

  private async toggle(source: Track.Source, on: boolean): Promise<void> {
    const local = this.lk.localParticipant;
    this.selfMuting = true;
    try {
      if (source === Track.Source.Microphone) await local.setMicrophoneEnabled(on);
      else if (source === Track.Source.Camera) await local.setCameraEnabled(on);
      else await local.setScreenShareEnabled(on, { audio: true });
    } catch (failure) {
      this.say(`${on ? "Could not turn on" : "Could not turn off"}: ${(failure as Error).message}`);
    } finally {
      this.selfMuting = false;
    }
    this.render();
  }

  private async toggleHand(): Promise<void> {
    const raised = !this.handRaised;
    try {
      await call("POST", `${roomPath(this.options.room)}/toggle-hand/`, { raised }, {
        Authorization: `Bearer ${this.options.access.token}`,
      });
      this.handRaised = raised;
      this.say(raised ? "Your hand is raised." : "Your hand is lowered.");
    } catch (failure) {
      this.say(`Could not change your hand: ${(failure as Error).message}`);
    }
    this.render();
  }

  private wire(): void {
    const lk = this.lk;
    // LiveKit refreshes the token of a connected participant; toggle-hand needs a live one.
    // ("tokenRefreshed" is the engine's event name; EngineEvent isn't exported.)
    lk.engine.on("tokenRefreshed" as never, ((token: string) => {
      this.options.access = { ...this.options.access, token };
    }) as never);
    const rerender = () => this.render();
    lk.on(RoomEvent.ParticipantConnected, (p) => {
      this.say(`${p.name || p.identity} joined.`);
      rerender();
    })
      .on(RoomEvent.ParticipantDisconnected, (p) => {
        this.say(`${p.name || p.identity} left.`);
        rerender();
      })
      .on(RoomEvent.TrackSubscribed, (track: RemoteTrack) => {
        if (track.kind === Track.Kind.Audio) this.audio.append(track.attach());
        rerender();
      })
      .on(RoomEvent.TrackUnsubscribed, (track: RemoteTrack) => {
        track.detach().forEach((el) => el.remove());
        rerender();
      })
      .on(RoomEvent.TrackPublished, rerender)
      .on(RoomEvent.TrackUnpublished, rerender)
      .on(RoomEvent.LocalTrackPublished, rerender)
      .on(RoomEvent.LocalTrackUnpublished, rerender)
      .on(RoomEvent.TrackMuted, (publication: TrackPublication, participant: Participant) => {
        if (participant === lk.localParticipant && !this.selfMuting) {
          const what = publication.source === Track.Source.Microphone ? "microphone" : publication.source === Track.Source.Camera ? "camera" : "screen share";
          this.say(`A host muted your ${what}.`);
        }
        rerender();
      })
      .on(RoomEvent.TrackUnmuted, rerender)
      .on(RoomEvent.ActiveSpeakersChanged, rerender)
      .on(RoomEvent.ParticipantNameChanged, rerender)
      .on(RoomEvent.ParticipantAttributesChanged, rerender)
      .on(RoomEvent.ParticipantPermissionsChanged, (_previous, participant: Participant) => {
        if (participant === lk.localParticipant) this.say("A host changed what you may share.");
        rerender();
      })
      .on(RoomEvent.RoomMetadataChanged, rerender)
      .on(RoomEvent.Reconnecting, () => this.say("Connection lost; reconnecting…"))
      .on(RoomEvent.Reconnected, () => this.say("Reconnected."))
      .on(RoomEvent.DataReceived, (payload: Uint8Array, _participant, _kind, topic?: string) => {
        try {
          const message = JSON.parse(new TextDecoder().decode(payload)) as { type?: string; action?: string };
          if (topic === MODERATION_TOPIC && (message.action === "removed" || message.action === "banned")) {
            this.hint = message.action;
          }
          if (message.type === "participantWaiting") this.panel?.someoneWaiting();
        } catch {
          /* not ours */
        }
      })
      .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => void this.ended(reason));
  }

  private async ended(reason?: DisconnectReason): Promise<void> {
    this.panel?.close();
    this.lk.localParticipant.trackPublications.forEach((pub) => (pub as LocalTrackPublication).track?.stop());
    const end = this.options.onEnd;
    switch (reason) {
      case DisconnectReason.CLIENT_INITIATED:
        return end("left");
      case DisconnectReason.ROOM_DELETED:
        return end("ended");
      case DisconnectReason.DUPLICATE_IDENTITY:
        return end("duplicate");
      case DisconnectReason.PARTICIPANT_REMOVED:
        return this.removed();
      default:
        return end("disconnected");
    }
  }

  /** Removed, banned, or sent back to the lobby: the lobby's own stream tells which.
   * Sent back, the place may still read `accepted` for a moment (the server removes the
   * participant, then requeues it): asked again a few times before calling it a removal. */
  private async removed(): Promise<void> {
    if (this.hint === "banned") return this.options.onEnd("banned");
    for (let attempt = 0; attempt < PROBES; attempt += 1) {
      const controller = new AbortController();
      let first: Entry | null = null;
      try {
        await stream(`${roomPath(this.options.room)}/lobby-events/`, controller.signal, (message) => {
          if (message.event !== "message") return;
          first = JSON.parse(message.data) as Entry;
          controller.abort();
        });
      } catch (error) {
        if (error instanceof ApiError && error.status === 403) return this.options.onEnd("banned", error.detail);
        if (error instanceof ApiError && error.status === 404) break; // no place: removed
      }
      const status = first === null ? null : (first as Entry).status;
      if (status === "waiting") return this.options.onLobby();
      if (status !== "accepted") break;
      await new Promise((resolve) => window.setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    this.options.onEnd(this.hint ?? "removed");
  }

  private render(): void {
    if (this.lk.state === ConnectionState.Disconnected) return;
    const participants: Participant[] = [this.lk.localParticipant, ...this.lk.remoteParticipants.values()];
    const speaking = new Set(this.lk.activeSpeakers.map((p) => p.identity));
    const seen = new Set<string>();
    for (const participant of participants) {
      const screen = participant.getTrackPublication(Track.Source.ScreenShare);
      const keys: [string, TrackPublication | undefined][] = [[participant.identity, participant.getTrackPublication(Track.Source.Camera)]];
      if (screen?.track) keys.push([`${participant.identity}:screen`, screen]);
      for (const [key, publication] of keys) {
        seen.add(key);
        this.tile(key, participant, publication, key.endsWith(":screen"), speaking.has(participant.identity));
      }
    }
    for (const [key, tile] of this.tiles) {
      if (!seen.has(key)) {
        tile.remove();
        this.tiles.delete(key);
      }
    }
    this.grid.dataset.count = String(this.tiles.size);
    this.renderControls();
    this.panel?.render();
  }

  private tile(key: string, participant: Participant, publication: TrackPublication | undefined, screen: boolean, speaking: boolean): void {
    let tile = this.tiles.get(key);
    const isLocal = participant === this.lk.localParticipant;
    const name = participant.name || participant.identity;
    if (!tile) {
      const video = h("video", { muted: true, playsInline: true, autoplay: true });
      tile = h(
        "div",
        { class: "tile", role: "listitem", "data-identity": participant.identity, "data-source": screen ? "screen" : "camera" },
        video,
        h("div", { class: "avatar", "aria-hidden": "true" }),
        h("div", { class: "label" }),
      );
      this.tiles.set(key, tile);
      this.grid.append(tile);
    }
    const video = tile.querySelector("video") as HTMLVideoElement;
    const track = publication?.track && !publication.isMuted ? publication.track : null;
    const attached = (video as HTMLVideoElement & { _track?: Track })._track;
    if (track !== attached) {
      attached?.detach(video);
      track?.attach(video);
      if (track && !isLocal && !screen) this.onRemoteFrame(video);
      (video as HTMLVideoElement & { _track?: Track | null })._track = track ?? undefined;
    }
    video.hidden = !track;
    const avatar = tile.querySelector(".avatar") as HTMLElement;
    avatar.hidden = !!track;
    avatar.textContent = name.slice(0, 1).toUpperCase();
    avatar.style.background = participant.attributes.color || "#445";
    const micOff = !participant.isMicrophoneEnabled;
    const hand = !!participant.attributes.handRaisedAt;
    const label = tile.querySelector(".label") as HTMLElement;
    const who = `${name}${isLocal ? " (you)" : ""}${screen ? ": screen" : ""}`;
    label.replaceChildren(
      h("span", { class: "name" }, who),
      !screen && micOff ? h("span", { class: "badge", "data-badge": "mic-off" }, "Mic off") : "",
      !screen && hand ? h("span", { class: "badge hand", "data-badge": "hand" }, "✋ Hand raised") : "",
      !screen && speaking ? h("span", { class: "badge", "data-badge": "speaking" }, "Speaking") : "",
    );
    tile.classList.toggle("speaking", speaking && !screen);
    tile.setAttribute("aria-label", `${who}${micOff && !screen ? ", microphone off" : ""}${hand && !screen ? ", hand raised" : ""}`);
  }

  private onRemoteFrame(video: HTMLVideoElement): void {
    if (this.firstFrame) return;
    const mark = () => {
      if (this.firstFrame) return;
      this.firstFrame = true;
      performance.mark("antechamber-first-remote-frame");
    };
    const withCallback = video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };
    if (withCallback.requestVideoFrameCallback) withCallback.requestVideoFrameCallback(mark);
    else mark();
  }

  private renderControls(): void {
    const local = this.lk.localParticipant;
    const allowed = local.permissions?.canPublish ?? true;
    const sources = local.permissions?.canPublishSources ?? [];
    const may = (source: number) => allowed && (sources.length === 0 || sources.includes(source));
    // `on`: the device is live; a refused source can still be turned off, never on.
    const set = (key: string, on: boolean, pressed: boolean, label: string, permitted: boolean, refused: string) => {
      const button = this.controls[key];
      button.textContent = permitted || on ? label : refused;
      button.setAttribute("aria-pressed", String(pressed));
      button.disabled = !permitted && !on;
    };
    // Numbers from LiveKit's protocol: CAMERA 1, MICROPHONE 2, SCREEN_SHARE 3.
    const micOn = local.isMicrophoneEnabled;
    set("mic", micOn, !micOn, micOn ? "Mute microphone" : "Unmute microphone", may(2), "Microphone not allowed");
    const camOn = local.isCameraEnabled;
    set("camera", camOn, !camOn, camOn ? "Stop camera" : "Start camera", may(1), "Camera not allowed");
    const sharing = local.isScreenShareEnabled;
    set("screen", sharing, sharing, sharing ? "Stop sharing" : "Share screen", may(3), "Screen share not allowed");
    this.handRaised = !!local.attributes.handRaisedAt;
    set("hand", true, this.handRaised, this.handRaised ? "Lower hand" : "Raise hand", true, "");
    const waiting = this.panel?.waitingCount() ?? 0;
    const base = this.options.room.is_administrable ? "Host panel" : "People";
    this.controls.panel.textContent = waiting ? `${base} (${waiting} waiting)` : base;
  }
}
