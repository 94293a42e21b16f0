// The Antechamber HTTP API, same origin, with the CSRF double submit it expects.
export const API = "/api/v1.0";

export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: string,
  ) {
    super(detail);
  }
}

function csrfToken(): string | null {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : null;
}

function reason(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    const parts = Object.entries(record).map(([key, value]) =>
      `${key}: ${Array.isArray(value) ? value.join(" ") : String(value)}`,
    );
    if (parts.length) return parts.join("; ");
  }
  if (status === 503) return "A service Antechamber needs is unavailable; try again shortly.";
  return `The server answered ${status}.`;
}

export async function call<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const init: RequestInit = { method, credentials: "include", headers: { ...headers } };
  const all = init.headers as Record<string, string>;
  if (body !== undefined) {
    all["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET") {
    const token = csrfToken();
    if (token) all["X-CSRFToken"] = token;
  }
  let response: Response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, "Antechamber can't be reached; check your connection.");
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) throw new ApiError(response.status, reason(response.status, parsed));
  return parsed as T;
}

// Shapes used by the client (see the OpenAPI schema at /api/v1.0/docs).
export type Source = "camera" | "microphone" | "screen_share" | "screen_share_audio";
export const SOURCES: Source[] = ["camera", "microphone", "screen_share", "screen_share_audio"];
export type AccessLevel = "public" | "trusted" | "restricted";
export interface LiveKitAccess {
  url: string;
  room: string;
  token: string;
}
export interface Room {
  id: string | null;
  name: string;
  slug: string;
  access_level: AccessLevel;
  configuration: { can_publish_sources: Source[]; everyone_can_mute: boolean };
  is_administrable: boolean;
  livekit: LiveKitAccess | null;
}
export interface User {
  id: string;
  email: string;
  full_name: string;
  short_name: string;
}
export interface Config {
  login_methods: string[];
  authenticated_users_can_edit_display_name: boolean;
  lobby: { poll_interval_s: number; waiting_timeout_s: number; events: boolean };
  resource: { default_access_level: AccessLevel };
}
export interface Entry {
  status: "waiting" | "accepted" | "denied";
  username: string;
  id: string;
  color: string;
  livekit: LiveKitAccess | null;
}
export interface Waiting {
  id: string;
  username: string;
  color: string;
  status: string;
  requested_at: string;
}
export interface AuditRecord {
  id: string;
  actor_identity: string;
  action: string;
  target_identity: string;
  detail: Record<string, unknown>;
  outcome: string;
  created_at: string;
}
export interface Page<T> {
  count: number;
  results: T[];
}

export const roomPath = (room: Room) => `/rooms/${encodeURIComponent(room.id ?? room.slug)}`;

export async function me(): Promise<User | null> {
  try {
    return await call<User>("GET", "/users/me/");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/** What a host tells a participant it is about to remove (LiveKit data, reliable). */
export const MODERATION_TOPIC = "antechamber.moderation";
