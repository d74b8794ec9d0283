import type { Tool } from "openai/resources/responses/responses";

/** What the chat's tool toggles say. */
export interface ToolChoices {
  fileSearch: boolean;
  vectorStoreIds: string[];
  webSearch: boolean;
  mcpUrl: string;
  functionsJson: string;
}

export const NO_TOOLS: ToolChoices = {
  fileSearch: false,
  vectorStoreIds: [],
  webSearch: false,
  mcpUrl: "",
  functionsJson: "",
};

function functionTools(json: string): Tool[] {
  if (!json.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`Function tools: not JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((tool, index) => {
    if (typeof tool !== "object" || tool === null || typeof (tool as { name?: unknown }).name !== "string") {
      throw new Error(`Function tools: item ${index} needs a "name"`);
    }
    return { type: "function", parameters: null, strict: null, ...tool } as Tool;
  });
}

/** The request's ``tools``; throws an Error naming what is wrong. */
export function toolsFor(choices: ToolChoices): Tool[] {
  const tools: Tool[] = [];
  if (choices.fileSearch) {
    if (!choices.vectorStoreIds.length) throw new Error("File search: pick at least one vector store");
    tools.push({ type: "file_search", vector_store_ids: choices.vectorStoreIds });
  }
  if (choices.webSearch) tools.push({ type: "web_search" });
  if (choices.mcpUrl.trim()) {
    tools.push({ type: "mcp", server_label: "console", server_url: choices.mcpUrl.trim(), require_approval: "never" });
  }
  return [...tools, ...functionTools(choices.functionsJson)];
}
