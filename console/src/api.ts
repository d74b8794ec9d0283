import OpenAI from "openai";

const KEY_STORAGE = "orrery.apiKey";

/** The API key the console sends, kept for this browser tab only. */
export function savedKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function saveKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** A client of the orrery that served this page. With no key, a placeholder: an open server takes any. */
export function clientFor(key: string): OpenAI {
  return new OpenAI({
    apiKey: key || "none",
    baseURL: `${window.location.origin}/v1`,
    dangerouslyAllowBrowser: true,
    maxRetries: 0,
  });
}

export function errorText(error: unknown): string {
  if (error instanceof OpenAI.APIError) {
    const hint = error.status === 401 ? " (set an API key at the top right)" : "";
    return `${error.status ?? ""} ${error.message}${hint}`.trim();
  }
  return error instanceof Error ? error.message : String(error);
}

export interface ListPage<T> {
  data: T[];
  has_more: boolean;
}

export function formatTime(seconds: number | null | undefined): string {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

/** The address of the console's own JSON (what ``/v1`` has no route for). */
export function consoleURL(path: string): string {
  return `${window.location.origin}/console/api${path}`;
}
