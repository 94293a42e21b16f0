// Pre-join: camera and microphone preview and choice, and the display name.
import {
  createLocalAudioTrack,
  createLocalVideoTrack,
  Room as LkRoom,
  type LocalAudioTrack,
  type LocalVideoTrack,
} from "livekit-client";
import type { Config, Room, User } from "./api";
import { field, h } from "./dom";

export interface Choice {
  name: string;
  video: LocalVideoTrack | null;
  audio: LocalAudioTrack | null;
}

let preview: { video: LocalVideoTrack | null; audio: LocalAudioTrack | null } = {
  video: null,
  audio: null,
};

/** Stops preview tracks that were not handed over to a meeting. */
export function closePreview(): void {
  preview.video?.stop();
  preview.audio?.stop();
  preview = { video: null, audio: null };
}

const NAME_KEY = "antechamber.name";

export function prejoin(
  config: Config,
  user: User | null,
  room: Room,
  onJoin: (choice: Choice) => Promise<void>,
): HTMLElement[] {
  const video = h("video", { muted: true, playsInline: true, autoplay: true, "aria-label": "Your camera preview" });
  const placeholder = h("p", { class: "placeholder" }, "Camera off");
  const stage = h("div", { class: "preview" }, video, placeholder);
  const status = h("p", { class: "hint", role: "status" });
  const cameras = h("select", {});
  const microphones = h("select", {});
  const camToggle = h("button", { type: "button", "aria-pressed": "true", class: "toggle" }, "Camera on");
  const micToggle = h("button", { type: "button", "aria-pressed": "true", class: "toggle" }, "Microphone on");
  const fixedName = user && !config.authenticated_users_can_edit_display_name;
  const name = h("input", {
    type: "text",
    required: true,
    maxLength: 100,
    autocomplete: "nickname",
    value: user?.full_name || localStorage.getItem(NAME_KEY) || "",
    readOnly: !!fixedName,
  });
  const error = h("p", { class: "error", role: "alert" });
  const join = h("button", { type: "submit", class: "primary" }, "Join meeting");
  let camOn = true;
  let micOn = true;
  // Devices being opened: Join waits for them, so a quick click still brings them along.
  let pending: Promise<unknown> = Promise.resolve();
  const track = (work: Promise<void>) => {
    pending = Promise.all([pending, work]);
  };

  async function startVideo(deviceId?: string): Promise<void> {
    preview.video?.stop();
    preview.video = null;
    if (!camOn) return render();
    try {
      preview.video = await createLocalVideoTrack({ deviceId, resolution: { width: 640, height: 360, frameRate: 24 } });
      preview.video.attach(video);
    } catch (failure) {
      status.textContent = `Camera unavailable: ${(failure as Error).message}`;
      camOn = false;
    }
    render();
  }

  async function startAudio(deviceId?: string): Promise<void> {
    preview.audio?.stop();
    preview.audio = null;
    if (!micOn) return render();
    try {
      preview.audio = await createLocalAudioTrack({ deviceId });
    } catch (failure) {
      status.textContent = `Microphone unavailable: ${(failure as Error).message}`;
      micOn = false;
    }
    render();
  }

  function render(): void {
    camToggle.setAttribute("aria-pressed", String(camOn));
    camToggle.textContent = camOn ? "Camera on" : "Camera off";
    micToggle.setAttribute("aria-pressed", String(micOn));
    micToggle.textContent = micOn ? "Microphone on" : "Microphone off";
    placeholder.hidden = !!preview.video;
    video.hidden = !preview.video;
  }

  async function listDevices(): Promise<void> {
    for (const [kind, select] of [
      ["videoinput", cameras],
      ["audioinput", microphones],
    ] as const) {
      const devices = await LkRoom.getLocalDevices(kind, false);
      select.replaceChildren(
        ...devices.map((device, index) =>
          h("option", { value: device.deviceId }, device.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${index + 1}`),
        ),
      );
    }
  }

  camToggle.addEventListener("click", () => {
    camOn = !camOn;
    track(startVideo(cameras.value || undefined));
  });
  micToggle.addEventListener("click", () => {
    micOn = !micOn;
    track(startAudio(microphones.value || undefined));
  });
  cameras.addEventListener("change", () => track(startVideo(cameras.value)));
  microphones.addEventListener("change", () => track(startAudio(microphones.value)));

  const form = h(
    "form",
    {
      class: "card prejoin-form",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const chosen = name.value.trim();
        if (!chosen) {
          error.textContent = "Enter the name others will see.";
          name.focus();
          return;
        }
        localStorage.setItem(NAME_KEY, chosen);
        join.disabled = true;
        error.textContent = "";
        await pending;
        const handed = { name: chosen, video: preview.video, audio: preview.audio };
        try {
          preview = { video: null, audio: null }; // handed over to the meeting
          await onJoin(handed);
        } catch (failure) {
          preview = { video: handed.video, audio: handed.audio };
          error.textContent = (failure as Error).message;
          join.disabled = false;
        }
      },
    },
    field("Your name", name, fixedName ? "Your account's name is shown." : undefined),
    h("div", { class: "row" }, camToggle, micToggle),
    field("Camera", cameras),
    field("Microphone", microphones),
    join,
    error,
  );

  render();
  const opening = Promise.all([startVideo(), startAudio()]);
  track(opening.then(() => undefined));
  void (async () => {
    await opening;
    try {
      await listDevices();
    } catch {
      /* no device list: the defaults are used */
    }
  })();

  const level =
    room.access_level === "public"
      ? "Anyone with the link can join."
      : "You may have to wait until a host lets you in.";
  return [
    h("h1", {}, room.name),
    h("p", { class: "lead" }, `Check your camera and microphone. ${level}`),
    h("div", { class: "prejoin" }, h("div", {}, stage, status), form),
  ];
}
