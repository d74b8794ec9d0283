import type OpenAI from "openai";
import type {
  ResponseCreateParamsStreaming,
  ResponseOutputItem,
} from "openai/resources/responses/responses";
import { type FormEvent, useEffect, useState } from "react";

import { errorText } from "./api";
import { ErrorNote, Json } from "./Json";
import { NO_TOOLS, type ToolChoices, toolsFor } from "./tools";
import { ToolsPanel } from "./ToolsPanel";

type Mode = "chain" | "conversation" | "single";

interface Turn {
  role: "user" | "assistant";
  text: string;
  responseId?: string;
  items?: ResponseOutputItem[];
  error?: string;
}

interface Seen {
  type: string;
  sequence: number;
}

export function Chat({ client }: { client: OpenAI }) {
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState("");
  const [mode, setMode] = useState<Mode>("chain");
  const [tools, setTools] = useState<ToolChoices>(NO_TOOLS);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [events, setEvents] = useState<Seen[]>([]);
  const [previous, setPrevious] = useState("");
  const [conversation, setConversation] = useState("");
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    client.models.list()
      .then((page) => {
        const ids = page.data.map((entry) => entry.id);
        setModels(ids);
        setError("");
        setModel((chosen) => chosen || ids[0] || "");
      })
      .catch((caught: unknown) => setError(errorText(caught)));
  }, [client]);

  const updateLast = (change: (turn: Turn) => Turn) =>
    setTurns((all) => [...all.slice(0, -1), change(all[all.length - 1])]);

  async function send(event: FormEvent) {
    event.preventDefault();
    setError("");
    const params: ResponseCreateParamsStreaming = { model, input: message, stream: true, store: true };
    try {
      const chosen = toolsFor(tools);
      if (chosen.length) params.tools = chosen;
    } catch (caught) {
      setError(errorText(caught));
      return;
    }
    setBusy(true);
    setEvents([]);
    setTurns((all) => [...all, { role: "user", text: message }, { role: "assistant", text: "" }]);
    setMessage("");
    try {
      if (mode === "chain" && previous) params.previous_response_id = previous;
      if (mode === "conversation") {
        const id = conversation || (await client.conversations.create()).id;
        setConversation(id);
        params.conversation = id;
      }
      const stream = await client.responses.create(params);
      for await (const streamed of stream) {
        setEvents((seen) => [...seen, { type: streamed.type, sequence: streamed.sequence_number }]);
        if (streamed.type === "response.created") {
          updateLast((turn) => ({ ...turn, responseId: streamed.response.id }));
        } else if (streamed.type === "response.output_text.delta") {
          updateLast((turn) => ({ ...turn, text: turn.text + streamed.delta }));
        } else if (streamed.type === "response.output_item.done" && streamed.item.type !== "message") {
          updateLast((turn) => ({ ...turn, items: [...(turn.items ?? []), streamed.item] }));
        } else if (streamed.type === "response.completed" || streamed.type === "response.incomplete") {
          setPrevious(streamed.response.id);
        } else if (streamed.type === "response.failed") {
          const failure = streamed.response.error;
          updateLast((turn) => ({ ...turn, error: failure ? `${failure.code}: ${failure.message}` : "failed" }));
        } else if (streamed.type === "error") {
          updateLast((turn) => ({ ...turn, error: streamed.message }));
        }
      }
    } catch (caught) {
      updateLast((turn) => ({ ...turn, error: errorText(caught) }));
    } finally {
      setBusy(false);
    }
  }

  function restart() {
    setTurns([]);
    setEvents([]);
    setPrevious("");
    setConversation("");
  }

  return (
    <div className="columns">
      <section>
        <div className="grid">
          <label>
            Model (listed, or any provider/name)
            <input aria-label="Model" list="models" value={model} onChange={(event) => setModel(event.target.value)} />
            <datalist id="models">
              {models.map((id) => <option key={id} value={id} />)}
            </datalist>
          </label>
          <label>
            Mode
            <select aria-label="Mode" value={mode} onChange={(event) => { setMode(event.target.value as Mode); restart(); }}>
              <option value="chain">previous_response_id chain</option>
              <option value="conversation">conversation</option>
              <option value="single">single turns</option>
            </select>
          </label>
        </div>
        <ToolsPanel client={client} choices={tools} onChange={setTools} />
        <p className="muted" data-testid="chat-state">
          {mode === "chain" && (previous ? `next turn continues ${previous}` : "new chain")}
          {mode === "conversation" && (conversation ? `conversation ${conversation}` : "a new conversation on send")}
          {mode === "single" && "each message stands alone"}
          {" · "}<a href="#/chat" onClick={restart}>start over</a>
        </p>
        <div data-testid="transcript">
          {turns.map((turn, index) => (
            <article key={index} className={`turn ${turn.role}`} data-testid={`turn-${turn.role}`}>
              <p>{turn.text}</p>
              {turn.items?.map((item, itemIndex) => <Json key={itemIndex} value={item} />)}
              <ErrorNote error={turn.error ?? ""} />
              {turn.responseId && (
                <a className="muted" href={`#/responses/${turn.responseId}`}>{turn.responseId}</a>
              )}
            </article>
          ))}
        </div>
        <form onSubmit={send}>
          <fieldset role="group">
            <input aria-label="Message" placeholder="Message" value={message}
              onChange={(event) => setMessage(event.target.value)} />
            <button type="submit" disabled={busy || !model || !message} aria-busy={busy}>Send</button>
          </fieldset>
        </form>
        <ErrorNote error={error} />
      </section>
      <aside>
        <h6>Events</h6>
        <ol className="events" data-testid="events">
          {events.map((seen, index) => (
            <li key={index}><span className="muted">{seen.sequence}</span> {seen.type}</li>
          ))}
        </ol>
      </aside>
    </div>
  );
}
