import type OpenAI from "openai";
import type { Conversation } from "openai/resources/conversations/conversations";
import type { ConversationItem } from "openai/resources/conversations/items";
import { type FormEvent, useEffect, useState } from "react";

import { consoleURL, formatTime, type ListPage } from "./api";
import { ErrorNote, Json } from "./Json";
import { useLoaded } from "./loading";

function ConversationDetail({ client, id }: { client: OpenAI; id: string }) {
  const { value, error } = useLoaded(
    () => Promise.all([client.conversations.retrieve(id), client.conversations.items.list(id, { order: "asc", limit: 100 })]),
    [client, id],
  );

  if (error) return <ErrorNote error={error} />;
  if (!value) return <p aria-busy="true">Loading {id}</p>;
  const [conversation, page] = value;
  const items: ConversationItem[] = page.data;
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
  const { value: page, error } = useLoaded(
    () => client.get<ListPage<Conversation>>(consoleURL("/conversations"), { query: { limit: 50 } }),
    [client],
  );

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
