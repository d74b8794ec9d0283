import type OpenAI from "openai";
import type { VectorStore } from "openai/resources/vector-stores/vector-stores";

import { ErrorNote } from "./Json";
import type { ToolChoices } from "./tools";
import { useLoaded } from "./loading";

export function ToolsPanel({ client, choices, onChange }: {
  client: OpenAI;
  choices: ToolChoices;
  onChange: (choices: ToolChoices) => void;
}) {
  const { value: page, error } = useLoaded(
    choices.fileSearch ? () => client.vectorStores.list({ limit: 100 }) : null,
    [client, choices.fileSearch],
  );
  const stores: VectorStore[] = page?.data ?? [];
  const set = (change: Partial<ToolChoices>) => onChange({ ...choices, ...change });

  return (
    <details>
      <summary>Tools</summary>
      <fieldset>
        <label>
          <input type="checkbox" role="switch" checked={choices.fileSearch}
            onChange={(event) => set({ fileSearch: event.target.checked })} />
          file_search
        </label>
        {choices.fileSearch && stores.length === 0 && (
          <p className="muted">No vector store yet: make one under <a href="#/files">Files & vector stores</a>.</p>
        )}
        {choices.fileSearch && stores.length > 0 && (
          <select multiple aria-label="Vector stores" value={choices.vectorStoreIds}
            onChange={(event) => set({ vectorStoreIds: [...event.target.selectedOptions].map((o) => o.value) })}>
            {stores.map((store) => <option key={store.id} value={store.id}>{store.name || store.id}</option>)}
          </select>
        )}
        <ErrorNote error={error} />
        <label>
          <input type="checkbox" role="switch" checked={choices.webSearch}
            onChange={(event) => set({ webSearch: event.target.checked })} />
          web_search
        </label>
        <label>
          MCP server URL
          <input type="url" placeholder="https://…/mcp" value={choices.mcpUrl}
            onChange={(event) => set({ mcpUrl: event.target.value })} />
        </label>
        <label>
          Function tools (JSON: one object or a list)
          <textarea rows={3} placeholder='[{"name": "get_weather", "parameters": {"type": "object", "properties": {}}}]'
            value={choices.functionsJson} onChange={(event) => set({ functionsJson: event.target.value })} />
        </label>
      </fieldset>
    </details>
  );
}
