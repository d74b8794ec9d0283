import type OpenAI from "openai";
import type { Conversation } from "openai/resources/conversations/conversations";
import type { ConversationItem } from "openai/resources/conversations/items";
import { type FormEvent, useEffect, useState } from "react";

import { consoleURL, errorText, formatTime, type ListPage } from "./api";
import { ErrorNote, Json } from "./Json";

function ConversationDetail({ client, id }: { client: OpenAI; id: string }) {
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [items, setItems] = useState<ConversationItem[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    setConversation(null);
    setError("");
    Promise.all([client.conversations.retrieve(id), client.conversations.items.list(id, { order: "asc", limit: 100 })])
      .then(([found, page]) => {
        setConversation(found);
        setItems(page.data);
      })
      .catch((caught: unknown) => setError(errorText(caught)));
  }, [client, id]);

  if (error) return <ErrorNote error={error} />;
  if (!conversation) return <p aria-busy="true">Loading {id}</p>;
  return (
    <article data-testid="conversation-detail">
      <header>
        <strong>{conversation.id}</strong> <span className="muted">· {formatTime(conversation.created_at)}</span>
      </header>
      <h6>Metadata</h6>
      <Json value={conversation.metadata} />
      <h6>Items ({items.length})</h6>
      <div data-testid="conversation-items">{items.map((item, index) => <Json key={index} value={item} />)}</div>
    </article>
  );
}

function ConversationList({ client }: { client: OpenAI }) {
  const [page, setPage] = useState<ListPage<Conversation> | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    client.get<ListPage<Conversation>>(consoleURL("/conversations"), { query: { limit: 50 } })
      .then(setPage)
      .catch((caught: unknown) => setError(errorText(caught)));
  }, [client]);

  return (
    <>
      <ErrorNote error={error} />
      <table data-testid="conversation-list">
        <thead><tr><th>id</th><th>created</th><th>metadata</th></tr></thead>
        <tbody>
          {page?.data.map((conversation) => (
            <tr key={conversation.id}>
              <td><a href={`#/conversations/${conversation.id}`}>{conversation.id}</a></td>
              <td>{formatTime(conversation.created_at)}</td>
              <td>{Object.entries(conversation.metadata ?? {}).map(([name, value]) => `${name}=${value}`).join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page?.has_more && <p className="muted">The 50 newest are shown.</p>}
    </>
  );
}

export function Conversations({ client, id }: { client: OpenAI; id: string }) {
  const [wanted, setWanted] = useState(id);
  useEffect(() => setWanted(id), [id]);

  function open(event: FormEvent) {
    event.preventDefault();
    window.location.hash = `#/conversations/${wanted.trim()}`;
  }

  return (
    <section>
      <form onSubmit={open}>
        <fieldset role="group">
          <input aria-label="Conversation id" placeholder="conv_…" value={wanted}
            onChange={(event) => setWanted(event.target.value)} />
          <button type="submit" disabled={!wanted.trim()}>Open</button>
        </fieldset>
      </form>
      {id ? <ConversationDetail client={client} id={id} /> : <ConversationList client={client} />}
      {id && <a href="#/conversations">All conversations</a>}
    </section>
  );
}
